//! TLS to servers (memcached `-Z`): the settings, the one rustls client configuration a client
//! shares between its connections (so a reconnect resumes the session instead of a full
//! handshake), and why a handshake failed, in words a log reader can act on.
//!
//! With [`Settings::tls`](super::Settings::tls) set, every TCP connection the engine opens
//! runs a TLS handshake right after the connect, within the connect timeout, before anything
//! else (SASL included) is sent; every byte then goes through the TLS session. A failure is
//! [`Failure::Tls`](super::Failure::Tls), never a fallback to plaintext. Unix-socket servers
//! are local and are spoken to without TLS (memcached's `-Z` applies to TCP only).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// Where the system's trusted roots are (Debian's ca-certificates), unless `SSL_CERT_FILE`
/// names another bundle.
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// TLS to every TCP server of a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM file of the certificate authorities the servers' certificates must chain to.
    /// None: the system's roots (`SSL_CERT_FILE`, else [`SYSTEM_CA_FILE`]).
    pub ca_file: Option<PathBuf>,
    /// The name every server's certificate must be valid for, instead of the host name or
    /// IP address of its server entry (for servers listed by address whose certificates
    /// name a host). Also sent as SNI when it is a host name.
    pub server_name: Option<String>,
    /// A client certificate for servers that require one (memcached's `ssl_verify_mode`
    /// 2 or 3): PEM chain (leaf first) and its PEM private key.
    pub client_cert: Option<ClientCertificate>,
    /// Reconnects resume the server's earlier session (an abbreviated handshake) when it
    /// allows (memcached: `-o ssl_session_cache`). On by default.
    pub resume_sessions: bool,
}

impl Default for TlsSettings {
    fn default() -> TlsSettings {
        TlsSettings {
            ca_file: None,
            server_name: None,
            client_cert: None,
            resume_sessions: true,
        }
    }
}

/// A client certificate chain and its private key, as PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl TlsSettings {
    /// Verification against the system's roots, the name of each server entry.
    pub fn new() -> TlsSettings {
        TlsSettings::default()
    }

    /// Trusts the authorities in this PEM file instead of the system's.
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> TlsSettings {
        self.ca_file = Some(path.into());
        self
    }

    /// Presents this certificate (PEM chain) and key (PEM) to servers that ask for one.
    pub fn with_client_cert(
        mut self,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> TlsSettings {
        self.client_cert = Some(ClientCertificate {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
        });
        self
    }

    /// Verifies every server's certificate for this name.
    pub fn with_server_name(mut self, name: impl Into<String>) -> TlsSettings {
        self.server_name = Some(name.into());
        self
    }

    /// The rustls configuration these settings describe: certificate files are read here.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        let roots = load_roots(self.ca_file.as_deref())?;
        // ring: builds with a C compiler alone (aws-lc-rs, rustls' default, needs cmake).
        let provider = Arc::new(rustls::crypto::CryptoProvider {
            cipher_suites: preferred_cipher_suites(),
            ..rustls::crypto::ring::default_provider()
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_root_certificates(roots);
        let config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some(cc) => {
                let chain = read_certs(&cc.cert_file)?;
                let key = PrivateKeyDer::from_pem_file(&cc.key_file)
                    .map_err(|e| format!("TLS client key {}: {e}", cc.key_file.display()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("TLS client certificate: {e}"))?
            }
        };
        // The default in-memory session store (tickets, 256 servers) stays: every connection
        // of the client shares this configuration, so a reconnect resumes.
        Ok(Arc::new(config))
    }
}

/// ring's suites with the AES-128-GCM ones first (TLS 1.3 and 1.2 alike; ring lists AES-256
/// first). memcached (OpenSSL) takes the client's order: 10 AES rounds instead of 14 make
/// every record cheaper for both sides, and a memcached session is many small records. The
/// set is unchanged: all AEAD with forward secrecy; AES-128-GCM is TLS 1.3's mandatory suite.
fn preferred_cipher_suites() -> Vec<rustls::SupportedCipherSuite> {
    use rustls::CipherSuite as S;
    let mut suites = rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec();
    suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            S::TLS13_AES_128_GCM_SHA256
                | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    suites
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("TLS certificates {}: {e}", path.display()))?
        .collect();
    let certs = certs.map_err(|e| format!("TLS certificates {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "TLS certificates {}: no certificate",
            path.display()
        ));
    }
    Ok(certs)
}

fn load_roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let system;
    let path = match ca_file {
        Some(p) => p,
        None => {
            system = std::env::var_os("SSL_CERT_FILE")
                .map_or_else(|| PathBuf::from(SYSTEM_CA_FILE), PathBuf::from);
            system.as_path()
        }
    };
    let mut roots = RootCertStore::empty();
    // A bundle may hold a certificate webpki cannot use as an anchor; the rest still count.
    let (added, _ignored) = roots.add_parsable_certificates(read_certs(path)?);
    if added == 0 {
        return Err(format!(
            "TLS: no usable CA certificate in {}",
            path.display()
        ));
    }
    Ok(roots)
}

/// Why TLS to a server failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsFailure {
    /// The server's certificate does not chain to a trusted authority.
    UnknownCa,
    /// The server's certificate is not valid for the name (or address) it was reached by.
    NameMismatch,
    /// The server's certificate has expired (or is not valid yet).
    Expired,
    /// Another defect of the server's certificate (bad signature, revoked, unusable).
    BadCertificate,
    /// What came back is not TLS, or the server closed the connection at once: it does not
    /// speak TLS on this port.
    NotTls,
    /// The server closed the connection during the handshake, after sending part of it
    /// (without an alert: the server stopped, or something between cut the connection).
    ClosedInHandshake,
    /// The server ended the handshake with an alert (it requires a client certificate, or
    /// refused ours, or shares no protocol version or cipher with us).
    Refused,
    /// The handshake did not finish within the connect timeout.
    HandshakeTimeout,
    /// The settings cannot be used (an unreadable or empty CA, certificate or key file).
    Config,
    /// Any other TLS error (a corrupt record after the handshake, a failed decryption).
    Other,
    /// The operation has no TLS path and is refused rather than sent in the clear (the key
    /// dump, which opens sockets of its own).
    Unsupported,
}

impl TlsFailure {
    pub fn message(self) -> &'static str {
        match self {
            TlsFailure::UnknownCa => "TLS: server certificate signed by an unknown authority",
            TlsFailure::NameMismatch => "TLS: server certificate not valid for the server's name",
            TlsFailure::Expired => "TLS: server certificate expired or not yet valid",
            TlsFailure::BadCertificate => "TLS: server certificate invalid",
            TlsFailure::NotTls => "TLS: the server does not speak TLS",
            TlsFailure::ClosedInHandshake => {
                "TLS: the server closed the connection during the handshake"
            }
            TlsFailure::Refused => "TLS: the server refused the handshake",
            TlsFailure::HandshakeTimeout => "TLS: handshake not finished within connect timeout",
            TlsFailure::Config => "TLS: settings cannot be used",
            TlsFailure::Other => "TLS error",
            TlsFailure::Unsupported => "TLS: not available for this operation (not sent in clear)",
        }
    }

    /// Classifies a rustls error.
    pub(crate) fn of(e: &rustls::Error) -> TlsFailure {
        use rustls::{CertificateError as C, Error as E};
        match e {
            E::InvalidCertificate(c) => match c {
                C::UnknownIssuer => TlsFailure::UnknownCa,
                C::NotValidForName | C::NotValidForNameContext { .. } => TlsFailure::NameMismatch,
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => TlsFailure::Expired,
                _ => TlsFailure::BadCertificate,
            },
            E::InvalidMessage(_) | E::InappropriateMessage { .. } => TlsFailure::NotTls,
            E::AlertReceived(_) => TlsFailure::Refused,
            _ => TlsFailure::Other,
        }
    }
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A client's TLS configuration, built from its settings when first needed and rebuilt when
/// they change.
///
/// Each server gets its own copy with its own session store, kept for the client's life:
/// rustls files sessions under the server's name, so servers on one host (one IP address,
/// several ports) would otherwise overwrite each other's tickets and never resume.
#[derive(Default)]
pub(super) struct TlsCache {
    built: Option<(TlsSettings, Result<Arc<ClientConfig>, String>)>,
    per_server: std::collections::HashMap<String, Arc<ClientConfig>>,
}

/// Sessions remembered per server configuration (one name each: a few tickets suffice).
const SESSIONS_PER_SERVER: usize = 4;

impl fmt::Debug for TlsCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsCache")
            .field("built", &self.built.as_ref().map(|b| b.1.is_ok()))
            .finish()
    }
}

impl TlsCache {
    /// The configuration for `settings` (None: no TLS), or why it cannot be built.
    pub(super) fn config(
        &mut self,
        settings: Option<&TlsSettings>,
    ) -> Result<Option<Arc<ClientConfig>>, String> {
        let Some(settings) = settings else {
            return Ok(None);
        };
        match &self.built {
            Some((s, built)) if s == settings => built.clone().map(Some),
            _ => {
                let built = settings.client_config();
                self.built = Some((settings.clone(), built.clone()));
                self.per_server.clear();
                built.map(Some)
            }
        }
    }

    /// The configuration for one server (`server`: its address as listed), with the
    /// server's own session store.
    pub(super) fn config_for(
        &mut self,
        settings: Option<&TlsSettings>,
        server: &str,
    ) -> Result<Option<Arc<ClientConfig>>, String> {
        let Some(base) = self.config(settings)? else {
            return Ok(None);
        };
        if let Some(c) = self.per_server.get(server) {
            return Ok(Some(c.clone()));
        }
        let mut own = (*base).clone();
        own.resumption = if settings.is_some_and(|s| s.resume_sessions) {
            rustls::client::Resumption::in_memory_sessions(SESSIONS_PER_SERVER)
        } else {
            rustls::client::Resumption::disabled()
        };
        let own = Arc::new(own);
        self.per_server.insert(server.to_string(), own.clone());
        Ok(Some(own))
    }
}

impl super::Client {
    /// Sets (or with None removes) TLS, like assigning [`Settings::tls`](super::Settings::tls),
    /// and closes every connection so that none goes on in the old mode: what was queued or
    /// in flight is abandoned (like `reset_buffers`), the next request connects afresh, and
    /// servers put out of service are tried again at once (ejected ones by their probe).
    pub fn set_tls(&mut self, tls: Option<TlsSettings>) {
        self.settings.tls = tls;
        let now = std::time::Instant::now();
        let protocol = self.protocol;
        self.active.mark_stale();
        for c in &mut self.conns {
            // The same protocol: everything is dropped and the socket closed.
            c.set_protocol(protocol);
            c.set_last_tls_failure(None);
            if matches!(c.state(), crate::connection::State::Dead { .. }) {
                if c.is_ejected() {
                    c.mark_dead(now, true);
                } else {
                    c.revive();
                }
            }
        }
        self.batch.clear();
        self.reports.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_errors_get_their_reason() {
        use rustls::{AlertDescription, CertificateError as C, Error as E};
        let cases = [
            (
                E::InvalidCertificate(C::UnknownIssuer),
                TlsFailure::UnknownCa,
            ),
            (
                E::InvalidCertificate(C::NotValidForName),
                TlsFailure::NameMismatch,
            ),
            (E::InvalidCertificate(C::Expired), TlsFailure::Expired),
            (E::InvalidCertificate(C::NotValidYet), TlsFailure::Expired),
            (
                E::InvalidCertificate(C::BadSignature),
                TlsFailure::BadCertificate,
            ),
            (
                E::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
                TlsFailure::NotTls,
            ),
            (
                E::AlertReceived(AlertDescription::CertificateRequired),
                TlsFailure::Refused,
            ),
            (E::DecryptError, TlsFailure::Other),
        ];
        for (e, want) in cases {
            assert_eq!(TlsFailure::of(&e), want, "{e:?}");
        }
    }

    #[test]
    fn one_configuration_per_server_rebuilt_when_settings_change() {
        let mut cache = TlsCache::default();
        assert!(cache.config_for(None, "a:1").unwrap().is_none());
        let missing = TlsSettings::new().with_ca_file("/nonexistent/ca.pem");
        let err = cache.config_for(Some(&missing), "a:1").unwrap_err();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        if !Path::new(SYSTEM_CA_FILE).exists() {
            return;
        }
        let system = TlsSettings::new().with_ca_file(SYSTEM_CA_FILE);
        let a = cache.config_for(Some(&system), "a:1").unwrap().unwrap();
        let a_again = cache.config_for(Some(&system), "a:1").unwrap().unwrap();
        let b = cache.config_for(Some(&system), "a:2").unwrap().unwrap();
        assert!(Arc::ptr_eq(&a, &a_again));
        assert!(!Arc::ptr_eq(&a, &b));
        let named = system.clone().with_server_name("localhost");
        let a_named = cache.config_for(Some(&named), "a:1").unwrap().unwrap();
        assert!(!Arc::ptr_eq(&a, &a_named));
    }
}
