//! TLS on the handle's connections (symbol version OMCACHE_0.3, an extension of OMcache
//! 0.3's API): turning it on and off, the CA, client certificate, server name and session
//! resumption, and why a server last failed TLS.
//!
//! The handle keeps the TLS settings even while TLS is off, so a program can configure first
//! and switch on once. Every setter checks what it is given before it takes effect (the
//! files are read and parsed as a connection would): OMCACHE_INVALID with the reason logged
//! at LOG_ERR, and the previous settings stay, rather than failing every request later.

use std::ffi::{c_char, c_int, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use super::{omcache_t, with_handle, Inner, INVALID, OK};
use crate::client::{TlsFailure, TlsSettings};

/// Makes `candidate` the handle's TLS settings, after reading its files if `files_changed`
/// (an unusable file: OMCACHE_INVALID, logged); while TLS is on, the connections are closed
/// and reopened with them (`Client::set_tls`).
fn apply(inner: &mut Inner, candidate: TlsSettings, files_changed: bool) -> c_int {
    if files_changed {
        if let Err(why) = candidate.client_config() {
            inner.client.log_error(format_args!("{why}"));
            return INVALID;
        }
    }
    let enabled = inner.client.settings().tls.is_some();
    if enabled && inner.client.settings().tls.as_ref() != Some(&candidate) {
        inner.client.set_tls(Some(candidate.clone()));
    }
    inner.tls = candidate;
    OK
}

/// A NUL-terminated C string argument as a path (any bytes but NUL, as the file system
/// takes them); None for NULL.
///
/// # Safety
/// A non-NULL `p` points to a NUL-terminated string.
unsafe fn c_path(p: *const c_char) -> Option<PathBuf> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated (the caller's contract).
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    Some(PathBuf::from(OsStr::from_bytes(bytes)))
}

/// `enabled` non-zero: every connection to a TCP server opened from now on runs a TLS
/// handshake (within the connect timeout) before anything is sent, and the server's
/// certificate is verified; 0: plaintext. A change closes every connection (what was queued
/// is dropped, as by `omcache_reset_buffers`) so that none goes on in the old mode; setting
/// the mode it already has changes nothing. OMCACHE_INVALID (logged) when the settings
/// cannot be used, e.g. the system's CA bundle is missing and no CA file was set.
#[no_mangle]
pub extern "C" fn omcache_set_tls(mc: *mut omcache_t, enabled: c_int) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        let on = inner.client.settings().tls.is_some();
        match (enabled != 0, on) {
            (true, true) | (false, false) => OK,
            (false, true) => {
                inner.client.set_tls(None);
                OK
            }
            (true, false) => {
                if let Err(why) = inner.tls.client_config() {
                    inner.client.log_error(format_args!("{why}"));
                    return INVALID;
                }
                inner.client.set_tls(Some(inner.tls.clone()));
                OK
            }
        }
    })
}

/// The PEM file of the certificate authorities servers' certificates must chain to; NULL:
/// the system's (`$SSL_CERT_FILE`, else /etc/ssl/certs/ca-certificates.crt), the default.
/// OMCACHE_INVALID (logged) if the file cannot be read or holds no usable certificate.
#[no_mangle]
pub extern "C" fn omcache_set_tls_ca_file(mc: *mut omcache_t, path: *const c_char) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        let mut candidate = inner.tls.clone();
        // SAFETY: a non-NULL path is a NUL-terminated string (the C API's contract).
        candidate.ca_file = unsafe { c_path(path) };
        apply(inner, candidate, true)
    })
}

/// The certificate (PEM chain, leaf first) and private key (PEM) presented to servers that
/// ask for one (memcached's `ssl_verify_mode` 2 or 3); both NULL: none, the default.
/// OMCACHE_INVALID if only one is NULL, or (logged) if a file cannot be read or the key does
/// not fit. The files are checked with the CA settings in force, so set the CA file first
/// on a machine without a system CA bundle.
#[no_mangle]
pub extern "C" fn omcache_set_tls_client_cert(
    mc: *mut omcache_t,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        let mut candidate = inner.tls.clone();
        // SAFETY: non-NULL arguments are NUL-terminated strings (the C API's contract).
        let files = unsafe { (c_path(cert_file), c_path(key_file)) };
        candidate = match files {
            (None, None) => TlsSettings {
                client_cert: None,
                ..candidate
            },
            (Some(cert), Some(key)) => candidate.with_client_cert(cert, key),
            _ => return INVALID,
        };
        apply(inner, candidate, true)
    })
}

/// The name every server's certificate must be valid for (and the SNI sent, when a host
/// name), instead of the host name or IP address of its entry in the server list; NULL:
/// each entry's own, the default. OMCACHE_INVALID if `name` is neither a valid DNS name
/// nor an IP address.
#[no_mangle]
pub extern "C" fn omcache_set_tls_server_name(mc: *mut omcache_t, name: *const c_char) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        let mut candidate = inner.tls.clone();
        candidate.server_name = if name.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated (the C API's contract).
            let name = unsafe { CStr::from_ptr(name) };
            let Ok(name) = name.to_str() else {
                return INVALID;
            };
            if rustls::pki_types::ServerName::try_from(name).is_err() {
                inner
                    .client
                    .log_error(format_args!("TLS: {name:?} is not a valid server name"));
                return INVALID;
            }
            Some(name.to_string())
        };
        apply(inner, candidate, false)
    })
}

/// `enabled` non-zero (the default): a reconnect resumes the server's earlier TLS session,
/// an abbreviated handshake, when the server allows (memcached: `-o ssl_session_cache`);
/// 0: every connection makes a full handshake.
#[no_mangle]
pub extern "C" fn omcache_set_tls_session_resumption(mc: *mut omcache_t, enabled: c_int) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        let candidate = TlsSettings {
            resume_sessions: enabled != 0,
            ..inner.tls.clone()
        };
        apply(inner, candidate, false)
    })
}

/// Why TLS to server `server_index` last failed, as a static message ("TLS: server
/// certificate signed by an unknown authority", "... not valid for the server's name",
/// "... expired or not yet valid", "TLS: the server does not speak TLS", "TLS: the server
/// refused the handshake", "TLS: handshake not finished within connect timeout", ...); NULL
/// when it has not failed since TLS was last switched on or configured, when a handshake
/// has succeeded since, for an index out of range and for a NULL handle. Requests to such a
/// server fail with OMCACHE_SERVER_FAILURE (nothing of theirs is sent), and the log callback
/// gets the failure with the TLS library's own words.
#[no_mangle]
pub extern "C" fn omcache_tls_error(mc: *mut omcache_t, server_index: c_int) -> *const c_char {
    with_handle(mc, std::ptr::null(), |inner, _| {
        let Ok(index) = usize::try_from(server_index) else {
            return std::ptr::null();
        };
        inner
            .client
            .tls_failure(index)
            .map_or(std::ptr::null(), message)
    })
}

/// Every failure, for the table of static C strings.
const FAILURES: [TlsFailure; 11] = [
    TlsFailure::UnknownCa,
    TlsFailure::NameMismatch,
    TlsFailure::Expired,
    TlsFailure::BadCertificate,
    TlsFailure::NotTls,
    TlsFailure::ClosedInHandshake,
    TlsFailure::Refused,
    TlsFailure::HandshakeTimeout,
    TlsFailure::Config,
    TlsFailure::Other,
    TlsFailure::Unsupported,
];

/// The engine's message for a failure as a NUL-terminated string that lives as long as the
/// program (built once, so the C side may keep the pointer).
fn message(failure: TlsFailure) -> *const c_char {
    static TABLE: OnceLock<Vec<(TlsFailure, CString)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        FAILURES
            .iter()
            .map(|&f| (f, CString::new(f.message()).unwrap_or_default()))
            .collect()
    });
    table
        .iter()
        .find(|(f, _)| *f == failure)
        .map_or(c"TLS error".as_ptr(), |(_, m)| m.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::omcache::{omcache_free, omcache_init};

    #[test]
    fn every_failure_has_its_message() {
        for f in FAILURES {
            // SAFETY: `message` returns a NUL-terminated static string.
            let m = unsafe { CStr::from_ptr(message(f)) };
            assert_eq!(m.to_str().unwrap(), f.message());
        }
    }

    #[test]
    fn setters_check_their_arguments() {
        let null = std::ptr::null_mut::<omcache_t>();
        assert_eq!(omcache_set_tls(null, 1), INVALID);
        assert_eq!(omcache_set_tls_ca_file(null, std::ptr::null()), INVALID);
        assert!(omcache_tls_error(null, 0).is_null());
        let mc = omcache_init();
        assert_eq!(
            omcache_set_tls_ca_file(mc, c"/nonexistent/ca.pem".as_ptr()),
            INVALID
        );
        assert_eq!(
            omcache_set_tls_client_cert(mc, c"/nonexistent/c.pem".as_ptr(), std::ptr::null()),
            INVALID
        );
        assert_eq!(
            omcache_set_tls_server_name(mc, c"not a name!".as_ptr()),
            INVALID
        );
        assert_eq!(
            omcache_set_tls_server_name(mc, c"cache.example".as_ptr()),
            OK
        );
        assert_eq!(omcache_set_tls_server_name(mc, c"127.0.0.1".as_ptr()), OK);
        assert_eq!(omcache_set_tls_server_name(mc, std::ptr::null()), OK);
        assert_eq!(omcache_set_tls_session_resumption(mc, 0), OK);
        assert_eq!(omcache_set_tls(mc, 0), OK);
        assert!(omcache_tls_error(mc, 0).is_null());
        assert!(omcache_tls_error(mc, -1).is_null());
        omcache_free(mc);
    }
}
