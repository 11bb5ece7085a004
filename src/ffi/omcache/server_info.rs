//! `omcache_server_info_t` and key -> server lookups. No I/O.

use std::ffi::{c_int, CString};

use super::{omcache_server_info_t, omcache_t, with_handle, INVALID, OK, OMCACHE_VERSION};
use crate::ffi::common::{c_bytes, guard, with_locked};

/// The index of the live server `key` goes to; -1 when there is no (live) server or the
/// arguments are invalid.
#[no_mangle]
pub extern "C" fn omcache_server_index_for_key(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
) -> c_int {
    if key.is_null() && key_len > 0 {
        return -1;
    }
    // Not `with_handle`: a lookup sends nothing, uses no request id and logs nothing, so
    // it only takes the lock (this is called once per key by callers that route
    // themselves; the request-id sync and the callback bookkeeping were a third of it).
    guard(-1, || {
        // SAFETY: a non-NULL handle was returned by omcache_init and not yet freed (the C
        // API's contract); only a shared reference is taken, the engine is read under the lock.
        let Some(handle) = (unsafe { mc.as_ref() }) else {
            return -1;
        };
        // SAFETY: a non-NULL key is valid for key_len bytes (the C API's contract).
        let key = unsafe { c_bytes(key, key_len) };
        with_locked(&handle.inner, -1, |inner| {
            let index = inner.client.server_index_for_key(key);
            (index.map_or(-1, |i| i as c_int), None::<fn()>)
        })
    })
}

/// A copy of a server's name and port as given; NULL when the index is out of range. Free it with
/// omcache_server_info_free.
#[no_mangle]
pub extern "C" fn omcache_server_info(
    mc: *mut omcache_t,
    server_index: c_int,
) -> *mut omcache_server_info_t {
    with_handle(mc, std::ptr::null_mut(), |inner, _| {
        let Ok(index) = usize::try_from(server_index) else {
            return std::ptr::null_mut();
        };
        let Some(addr) = inner.client.server_addr(index) else {
            return std::ptr::null_mut();
        };
        // As given (OMcache 0.3): the host without brackets; the port number, or for an
        // entry that can never connect `atoi` of its port text (99999, or 0 for "asdf").
        let Ok(hostname) = CString::new(addr.given_host()) else {
            return std::ptr::null_mut();
        };
        Box::into_raw(Box::new(omcache_server_info_t {
            omcache_version: OMCACHE_VERSION,
            server_index,
            hostname: hostname.into_raw(),
            port: addr.given_port() as c_int,
        }))
    })
}

#[no_mangle]
pub extern "C" fn omcache_server_info_free(
    mc: *mut omcache_t,
    info: *mut omcache_server_info_t,
) -> c_int {
    let _ = mc;
    guard(INVALID, || {
        if info.is_null() {
            return INVALID;
        }
        // SAFETY: a non-NULL info came from omcache_server_info (Box::into_raw), with a
        // hostname from CString::into_raw (or NULL), and the caller gives it up here.
        unsafe {
            let info = Box::from_raw(info);
            if !info.hostname.is_null() {
                drop(CString::from_raw(info.hostname));
            }
        }
        OK
    })
}
