//! The 15 functions of libmemcachedutil.so.2. Each one catches panics (answering a defined
//! code), checks its pointers and converts its arguments; the work is in `pool` and `util`.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use super::{Memc, Rc, INVALID_ARGUMENTS};
use crate::pool::{Pool, POP_WAIT};
use crate::util;

/// Runs `body`, answering `on_panic` if it panics (a panic must not unwind into C).
fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// `*out = value` when the caller gave somewhere to write it.
fn put(out: *mut Rc, value: Rc) {
    // SAFETY: NULL or a writable memcached_return_t (the C API's contract).
    if let Some(out) = unsafe { out.as_mut() } {
        *out = value;
    }
}

/// A C string argument that may be NULL.
fn c_str<'a>(s: *const c_char) -> Option<&'a CStr> {
    // SAFETY: NULL or a NUL-terminated string alive for the call (the C API's contract).
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) })
}

/// The pool behind a `memcached_pool_st *`.
fn pool<'a>(p: *mut c_void) -> Option<&'a Pool> {
    // SAFETY: NULL or a pointer made by into_raw below, alive until memcached_pool_destroy.
    unsafe { p.cast::<Pool>().as_ref() }
}

fn into_raw(pool: Pool) -> *mut c_void {
    Box::into_raw(Box::new(pool)).cast()
}

#[no_mangle]
pub extern "C" fn memcached_pool_create(
    master: *mut c_void,
    initial: u32,
    max: u32,
) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(master) = Memc::from_ptr(master) else {
            return std::ptr::null_mut();
        };
        Pool::new(master, initial, max, false).map_or(std::ptr::null_mut(), into_raw)
    })
}

/// A pool over `memcached(config, len)`, sized by its `--POOL-MIN` / `--POOL-MAX` (1 and 1
/// without them); the pool owns that handle.
#[no_mangle]
pub extern "C" fn memcached_pool(config: *const c_char, len: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(master) = Memc::from_config(config, len) else {
            return std::ptr::null_mut();
        };
        let (initial, max) = master.configured_pool_sizes();
        match Pool::new(master, initial, max, true) {
            Ok(p) => into_raw(p),
            Err(master) => {
                master.free();
                std::ptr::null_mut()
            }
        }
    })
}

/// Frees the pool and its idle handles; the master back to the caller when the caller made
/// it, NULL otherwise.
#[no_mangle]
pub extern "C" fn memcached_pool_destroy(p: *mut c_void) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        if p.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: made by into_raw, destroyed once (the C API's contract).
        let pool = unsafe { Box::from_raw(p.cast::<Pool>()) };
        pool.destroy().map_or(std::ptr::null_mut(), Memc::into_ptr)
    })
}

fn fetch(p: *mut c_void, wait: Option<Duration>, rc: *mut Rc) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(pool) = pool(p) else {
            return std::ptr::null_mut();
        };
        match pool.fetch(wait) {
            Ok(m) => {
                put(rc, super::SUCCESS);
                m.into_ptr()
            }
            Err(code) => {
                put(rc, code);
                std::ptr::null_mut()
            }
        }
    })
}

/// A handle; when all are out, `block` waits 5 s (then TIMEOUT), otherwise NOTFOUND.
#[no_mangle]
pub extern "C" fn memcached_pool_pop(p: *mut c_void, block: bool, rc: *mut Rc) -> *mut c_void {
    fetch(p, block.then_some(POP_WAIT), rc)
}

/// A handle; when all are out, waits `relative_time` (NULL or zero: NOTFOUND at once).
#[no_mangle]
pub extern "C" fn memcached_pool_fetch(
    p: *mut c_void,
    relative_time: *const libc::timespec,
    rc: *mut Rc,
) -> *mut c_void {
    // SAFETY: NULL or a readable timespec (the C API's contract).
    let wait = unsafe { relative_time.as_ref() }.map(|t| {
        let secs = u64::try_from(t.tv_sec).unwrap_or(0);
        let nanos = u32::try_from(t.tv_nsec).unwrap_or(0).min(999_999_999);
        Duration::new(secs, nanos)
    });
    fetch(p, wait, rc)
}

#[no_mangle]
pub extern "C" fn memcached_pool_release(p: *mut c_void, memc: *mut c_void) -> Rc {
    guard(INVALID_ARGUMENTS, || {
        let (Some(pool), Some(memc)) = (pool(p), Memc::from_ptr(memc)) else {
            return INVALID_ARGUMENTS;
        };
        pool.release(memc)
    })
}

#[no_mangle]
pub extern "C" fn memcached_pool_push(p: *mut c_void, memc: *mut c_void) -> Rc {
    memcached_pool_release(p, memc)
}

#[no_mangle]
pub extern "C" fn memcached_pool_behavior_set(p: *mut c_void, flag: c_int, data: u64) -> Rc {
    guard(INVALID_ARGUMENTS, || {
        pool(p).map_or(INVALID_ARGUMENTS, |pool| pool.behavior_set(flag, data))
    })
}

/// The master's setting in `*value` (INVALID_ARGUMENTS for a NULL pool or value).
#[no_mangle]
pub extern "C" fn memcached_pool_behavior_get(p: *mut c_void, flag: c_int, value: *mut u64) -> Rc {
    guard(INVALID_ARGUMENTS, || {
        let Some(pool) = pool(p) else {
            return INVALID_ARGUMENTS;
        };
        // SAFETY: NULL or a writable uint64_t (the C API's contract).
        let Some(value) = (unsafe { value.as_mut() }) else {
            return INVALID_ARGUMENTS;
        };
        *value = pool.behavior_get(flag);
        super::SUCCESS
    })
}

fn ping(host: *const c_char, port: u16, auth: util::Auth<'_>, ret: *mut Rc) -> bool {
    guard(false, || {
        let rc = util::ping(c_str(host), port, auth);
        put(ret, rc);
        super::success(rc)
    })
}

#[no_mangle]
pub extern "C" fn libmemcached_util_ping(host: *const c_char, port: u16, ret: *mut Rc) -> bool {
    ping(host, port, None, ret)
}

/// As `libmemcached_util_ping` with SASL credentials (none for a NULL user name).
#[no_mangle]
pub extern "C" fn libmemcached_util_ping2(
    host: *const c_char,
    port: u16,
    username: *const c_char,
    password: *const c_char,
    ret: *mut Rc,
) -> bool {
    let auth = c_str(username).map(|u| (u, c_str(password)));
    ping(host, port, auth, ret)
}

fn getpid(host: *const c_char, port: u16, auth: util::Auth<'_>, ret: *mut Rc) -> libc::pid_t {
    guard(-1, || {
        let (pid, rc) = util::getpid(c_str(host), port, auth);
        put(ret, rc);
        pid
    })
}

#[no_mangle]
pub extern "C" fn libmemcached_util_getpid(
    host: *const c_char,
    port: u16,
    ret: *mut Rc,
) -> libc::pid_t {
    getpid(host, port, None, ret)
}

/// As `libmemcached_util_getpid` with SASL credentials (none for a NULL user name). -1 when
/// the credentials are refused (libmemcachedutil 1.1.4 answers 0 there).
#[no_mangle]
pub extern "C" fn libmemcached_util_getpid2(
    host: *const c_char,
    port: u16,
    username: *const c_char,
    password: *const c_char,
    ret: *mut Rc,
) -> libc::pid_t {
    let auth = c_str(username).map(|u| (u, c_str(password)));
    getpid(host, port, auth, ret)
}

#[no_mangle]
pub extern "C" fn libmemcached_util_flush(host: *const c_char, port: u16, ret: *mut Rc) -> bool {
    guard(false, || {
        let rc = util::flush(c_str(host), port);
        put(ret, rc);
        super::success(rc)
    })
}

/// Whether every server of `memc` runs at least major.minor.micro (false for a NULL handle).
#[no_mangle]
pub extern "C" fn libmemcached_util_version_check(
    memc: *mut c_void,
    major: u8,
    minor: u8,
    micro: u8,
) -> bool {
    guard(false, || {
        Memc::from_ptr(memc).is_some_and(|m| util::version_check(&m, [major, minor, micro]))
    })
}
