//! SASL: `memcached_set_sasl_auth_data`, `memcached_destroy_sasl_auth_data`,
//! `memcached_get_sasl_callbacks`, `memcached_set_sasl_callbacks`, as libmemcached 1.1.4 has
//! them (measured by tests-c/lmc-sasl.sh). The engine authenticates every connection with SASL
//! PLAIN (`Settings::sasl`); the mechanism is PLAIN only, which is what Debian's memcached
//! offers with `mech_list: plain` (libmemcached with Cyrus SASL would pick SCRAM otherwise).
//!
//! Like the real library, setting credentials turns the binary protocol on and fills
//! `memcached_st.sasl.callbacks` (@632) with a Cyrus-style callback array that answers the
//! user name and password; `memcached_set_sasl_callbacks` stores a caller's array there (it
//! is returned by the getter, not used to authenticate: only credentials given to
//! `memcached_set_sasl_auth_data` are).
//!
//! As measured on 1.1.4 and kept: a refused handshake gives AUTH_FAILURE, then
//! SERVER_TEMPORARILY_DISABLED; SASL over ASCII gives INVALID_ARGUMENTS, then the server is
//! disabled until the protocol changes; a server without SASL gives UNKNOWN_READ_FAILURE; a
//! request the server refuses for want of credentials gives AUTH_FAILURE (a miss for a get)
//! without recording an error; `memcached_dump` with credentials is NOT_SUPPORTED.
//! Deliberate difference: after a refused handshake 1.1.4 never tries the server again
//! (SERVER_TEMPORARILY_DISABLED until new credentials are set, whatever RETRY_TIMEOUT says);
//! ours tries it again after RETRY_TIMEOUT (AUTH_FAILURE again if it still refuses), and at
//! once when new credentials are set.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};

use super::memc::{self, Lmc};
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;
use crate::client::SaslCredentials;
use crate::ffi::common::guard;

/// Cyrus SASL's callback ids (sasl.h) and results.
const SASL_CB_LIST_END: c_ulong = 0;
const SASL_CB_USER: c_ulong = 0x4001;
const SASL_CB_AUTHNAME: c_ulong = 0x4002;
const SASL_CB_PASS: c_ulong = 0x4004;
const SASL_OK: c_int = 0;
const SASL_BADPARAM: c_int = -7;

/// `sasl_callback_t`: { unsigned long id; int (*proc)(void); void *context; }.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SaslCallback {
    id: c_ulong,
    proc_: *const c_void,
    context: *mut c_void,
}

/// The credentials as the callback array hands them out: the name NUL-terminated, the
/// password as a `sasl_secret_t` ({ unsigned long len; unsigned char data[]; }, NUL-terminated
/// as Cyrus's own are).
pub(super) struct SaslData {
    callbacks: [SaslCallback; 4],
    username: Vec<u8>,
    secret: Vec<c_ulong>,
    pub credentials: SaslCredentials,
}

impl SaslData {
    fn new(credentials: SaslCredentials) -> Box<SaslData> {
        let mut username = credentials.username.clone();
        username.push(0);
        let pass = &credentials.password;
        // One word for the length, then the bytes and a NUL, in whole words (aligned).
        let word = std::mem::size_of::<c_ulong>();
        let mut bytes = pass.clone();
        bytes.push(0);
        bytes.resize(bytes.len().div_ceil(word) * word, 0);
        let secret: Vec<c_ulong> = std::iter::once(pass.len() as c_ulong)
            .chain(bytes.chunks_exact(word).map(|chunk| {
                let mut a = [0u8; std::mem::size_of::<c_ulong>()];
                a.copy_from_slice(chunk);
                c_ulong::from_ne_bytes(a)
            }))
            .collect();
        bytes.fill(0);
        let end = SaslCallback {
            id: SASL_CB_LIST_END,
            proc_: std::ptr::null(),
            context: std::ptr::null_mut(),
        };
        let mut data = Box::new(SaslData {
            callbacks: [end; 4],
            username,
            secret,
            credentials,
        });
        let ctx = (&mut *data as *mut SaslData).cast::<c_void>();
        let simple = get_simple as *const c_void;
        data.callbacks = [
            SaslCallback {
                id: SASL_CB_USER,
                proc_: simple,
                context: ctx,
            },
            SaslCallback {
                id: SASL_CB_AUTHNAME,
                proc_: simple,
                context: ctx,
            },
            SaslCallback {
                id: SASL_CB_PASS,
                proc_: get_secret as *const c_void,
                context: ctx,
            },
            end,
        ];
        data
    }
}

impl Drop for SaslData {
    fn drop(&mut self) {
        self.secret.fill(0);
        std::hint::black_box(&self.secret);
    }
}

/// SASL_CB_USER / SASL_CB_AUTHNAME: the user name.
extern "C" fn get_simple(
    context: *mut c_void,
    id: c_int,
    result: *mut *const c_char,
    len: *mut c_uint,
) -> c_int {
    guard(SASL_BADPARAM, || {
        let id = id as c_ulong;
        if context.is_null() || result.is_null() || (id != SASL_CB_USER && id != SASL_CB_AUTHNAME) {
            return SASL_BADPARAM;
        }
        // SAFETY: `context` is the SaslData this array belongs to (set by SaslData::new; the
        // array lives inside it); `result` and `len` (if not NULL) are the caller's out
        // parameters.
        unsafe {
            let data = &*context.cast::<SaslData>();
            *result = data.username.as_ptr().cast();
            if !len.is_null() {
                *len = (data.username.len() - 1) as c_uint;
            }
        }
        SASL_OK
    })
}

/// SASL_CB_PASS: the password as a `sasl_secret_t`.
extern "C" fn get_secret(
    _conn: *mut c_void,
    context: *mut c_void,
    id: c_int,
    psecret: *mut *mut c_void,
) -> c_int {
    guard(SASL_BADPARAM, || {
        if context.is_null() || psecret.is_null() || id as c_ulong != SASL_CB_PASS {
            return SASL_BADPARAM;
        }
        // SAFETY: as in get_simple; the secret's words stay alive with the SaslData.
        unsafe {
            let data = &*context.cast::<SaslData>();
            *psecret = data.secret.as_ptr().cast_mut().cast();
        }
        SASL_OK
    })
}

/// Puts credentials on a handle: the engine authenticates every new connection with them, the
/// binary protocol is on, and `sasl.callbacks` points at their callback array.
pub(super) fn install(lmc: &mut Lmc, memc: *mut memcached_st, credentials: SaslCredentials) {
    lmc.model.binary_protocol = true;
    lmc.apply_settings();
    lmc.client.set_sasl(Some(credentials.clone()));
    let data = SaslData::new(credentials);
    let array = data.callbacks.as_ptr().cast_mut().cast::<c_void>();
    lmc.sasl = Some(data);
    // SAFETY: `memc` is the valid handle `lmc` belongs to (the callers checked it).
    unsafe {
        (*memc).sasl = [array, 1 as *mut c_void];
    }
}

/// The credentials a handle carries, for `memcached_clone`.
pub(super) fn credentials(lmc: &Lmc) -> Option<SaslCredentials> {
    lmc.sasl.as_ref().map(|d| d.credentials.clone())
}

/// `memcached_dump` lists keys over the text protocol, where memcached cannot authenticate:
/// with credentials set it is refused as 1.1.4 refuses it (which has SASL switch the protocol
/// to binary, where it has no dump): NOT_SUPPORTED, with its words (memcdump prints them).
pub(super) fn refuse_dump(lmc: &mut Lmc, memc: *mut memcached_st) -> Option<memcached_return_t> {
    lmc.client.settings().sasl.as_ref()?;
    lmc.record(rc::NOT_SUPPORTED, memc, None);
    lmc.last_message = format!(
        "({memc:p}) {}, Binary protocol is not supported for memcached_dump() -> omcache-rs\0",
        rc::text(rc::NOT_SUPPORTED)
    )
    .into_bytes();
    Some(rc::NOT_SUPPORTED)
}

/// Sets the user name and password every connection authenticates with (SASL PLAIN), and
/// turns the binary protocol on, as libmemcached does. NULL arguments: INVALID_ARGUMENTS,
/// nothing changed.
#[no_mangle]
pub extern "C" fn memcached_set_sasl_auth_data(
    memc: *mut memcached_st,
    username: *const c_char,
    password: *const c_char,
) -> memcached_return_t {
    memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        if username.is_null() || password.is_null() {
            return lmc.record(rc::INVALID_ARGUMENTS, memc, None);
        }
        // SAFETY: the C API's contract: NUL-terminated strings (checked non-NULL above).
        let (user, pass) = unsafe { (CStr::from_ptr(username), CStr::from_ptr(password)) };
        install(
            lmc,
            memc,
            SaslCredentials::new(user.to_bytes(), pass.to_bytes()),
        );
        lmc.record(rc::SUCCESS, memc, None)
    })
}

/// Forgets the credentials (new connections no longer authenticate); SUCCESS also when there
/// were none. The protocol stays binary.
#[no_mangle]
pub extern "C" fn memcached_destroy_sasl_auth_data(ptr: *mut memcached_st) -> memcached_return_t {
    memc::with_memc(ptr, rc::INVALID_ARGUMENTS, |lmc| {
        if lmc.sasl.take().is_some() || lmc.client.settings().sasl.is_some() {
            lmc.client.set_sasl(None);
        }
        // SAFETY: `ptr` is the valid handle (with_memc checked it).
        unsafe {
            (*ptr).sasl = [std::ptr::null_mut(); 2];
        }
        lmc.record(rc::SUCCESS, ptr, None)
    })
}

/// The handle's SASL callback array: the one made by `memcached_set_sasl_auth_data` or given
/// to `memcached_set_sasl_callbacks`; NULL without one (or for a NULL handle).
#[no_mangle]
pub extern "C" fn memcached_get_sasl_callbacks(ptr: *mut memcached_st) -> *mut c_void {
    memc::with_memc(ptr, std::ptr::null_mut(), |_| {
        // SAFETY: `ptr` is the valid handle (with_memc checked it).
        unsafe { (*ptr).sasl[0] }
    })
}

/// Stores a caller's SASL callback array (returned by `memcached_get_sasl_callbacks`; the
/// engine authenticates only with credentials given to `memcached_set_sasl_auth_data`).
/// Credentials set before are dropped, as the real library replaces them.
#[no_mangle]
pub extern "C" fn memcached_set_sasl_callbacks(ptr: *mut memcached_st, callbacks: *const c_void) {
    memc::with_memc(ptr, (), |lmc| {
        if lmc.sasl.take().is_some() {
            lmc.client.set_sasl(None);
        }
        // SAFETY: `ptr` is the valid handle (with_memc checked it); the array stays the
        // caller's (is_allocated 0).
        unsafe {
            (*ptr).sasl = [callbacks.cast_mut(), std::ptr::null_mut()];
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_answer_the_credentials() {
        let data = SaslData::new(SaslCredentials::new("alice", "pw-of-9"));
        let ctx = data.callbacks[0].context;
        let mut out: *const c_char = std::ptr::null();
        let mut len: c_uint = 0;
        assert_eq!(
            get_simple(ctx, SASL_CB_AUTHNAME as c_int, &mut out, &mut len),
            SASL_OK
        );
        // SAFETY: a NUL-terminated name inside `data`, alive here.
        assert_eq!(unsafe { CStr::from_ptr(out) }.to_bytes(), b"alice");
        assert_eq!(len, 5);
        let mut secret: *mut c_void = std::ptr::null_mut();
        assert_eq!(
            get_secret(
                std::ptr::null_mut(),
                ctx,
                SASL_CB_PASS as c_int,
                &mut secret
            ),
            SASL_OK
        );
        // SAFETY: a sasl_secret_t inside `data`: the length word, then the bytes.
        let (n, bytes) = unsafe {
            let n = *secret.cast::<c_ulong>();
            let p = secret.cast::<u8>().add(std::mem::size_of::<c_ulong>());
            (n, std::slice::from_raw_parts(p, n as usize + 1))
        };
        assert_eq!((n, bytes), (7, &b"pw-of-9\0"[..]));
        assert_eq!(data.callbacks[3].id, SASL_CB_LIST_END);
        assert_eq!(
            get_simple(ctx, SASL_CB_PASS as c_int, &mut out, &mut len),
            SASL_BADPARAM
        );
    }
}
