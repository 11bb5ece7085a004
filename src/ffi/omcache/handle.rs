//! `omcache_t`: creation, destruction, settings, server list, callbacks.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::io::Write;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::{callbacks, dist, message, omcache_dist_t, omcache_t, with_handle, Inner, INVALID, OK};
use crate::client::{Client, Server};
use crate::ffi::common::{c_str, guard, new_handle_lock};

/// A new handle with no servers and OMcache's defaults.
#[no_mangle]
pub extern "C" fn omcache_init() -> *mut omcache_t {
    guard(std::ptr::null_mut(), || {
        let client = Client::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let handle = omcache_t {
            created_unix_ms: now,
            req_id: AtomicU32::new(client.last_request_id()),
            inner: new_handle_lock(Inner {
                client,
                response_cb: None,
                log: None,
                deferred: Default::default(),
                gat_extras: Vec::new(),
                tls: Default::default(),
            }),
        };
        Box::into_raw(Box::new(handle))
    })
}

/// Closes every connection and frees the handle.
#[no_mangle]
pub extern "C" fn omcache_free(mc: *mut omcache_t) -> c_int {
    guard(INVALID, || {
        if mc.is_null() {
            return INVALID;
        }
        // SAFETY: a non-NULL handle came from omcache_init (Box::into_raw) and the caller
        // gives it up with this call.
        drop(unsafe { Box::from_raw(mc) });
        OK
    })
}

/// A static message for any return code ("Unknown" for numbers that are not one).
#[no_mangle]
pub extern "C" fn omcache_strerror(rc: c_int) -> *const c_char {
    guard(c"Unknown".as_ptr(), || message(rc).as_ptr().cast())
}

fn set(mc: *mut omcache_t, f: impl FnOnce(&mut Inner)) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        f(inner);
        OK
    })
}

fn msec(ms: u32) -> Duration {
    Duration::from_millis(ms as u64)
}

#[no_mangle]
pub extern "C" fn omcache_set_connect_timeout(mc: *mut omcache_t, msec_: u32) -> c_int {
    set(mc, |i| {
        i.client.settings_mut().connect_timeout = msec(msec_)
    })
}

#[no_mangle]
pub extern "C" fn omcache_set_reconnect_timeout(mc: *mut omcache_t, msec_: u32) -> c_int {
    set(mc, |i| {
        i.client.settings_mut().reconnect_timeout = msec(msec_)
    })
}

#[no_mangle]
pub extern "C" fn omcache_set_dead_timeout(mc: *mut omcache_t, msec_: u32) -> c_int {
    set(mc, |i| i.client.settings_mut().dead_timeout = msec(msec_))
}

#[no_mangle]
pub extern "C" fn omcache_set_send_buffer_max_size(mc: *mut omcache_t, size: usize) -> c_int {
    set(mc, |i| i.client.settings_mut().send_buffer_max = size)
}

#[no_mangle]
pub extern "C" fn omcache_set_recv_buffer_max_size(mc: *mut omcache_t, size: usize) -> c_int {
    set(mc, |i| i.client.settings_mut().recv_buffer_max = size)
}

#[no_mangle]
pub extern "C" fn omcache_set_buffering(mc: *mut omcache_t, enabled: u32) -> c_int {
    set(mc, |i| i.client.settings_mut().buffering = enabled != 0)
}

/// Replaces the server list. OMCACHE_INVALID only for a NULL handle or string; any other
/// string is a list (see `Client::set_servers`): empty entries are skipped, an entry that can
/// never connect is a dead server in its place (logged once at WARNING). Bytes that are not
/// UTF-8 cost only their entry (replaced by U+FFFD, which no host name or port contains).
#[no_mangle]
pub extern "C" fn omcache_set_servers(mc: *mut omcache_t, servers: *const c_char) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        if servers.is_null() {
            return INVALID;
        }
        // SAFETY: a non-NULL `servers` is a NUL-terminated string (the C API's contract).
        let text = unsafe { CStr::from_ptr(servers) };
        let text = String::from_utf8_lossy(text.to_bytes());
        // OMcache orders its list (its ring, so its key mapping, depends on the order).
        let mut list = crate::address::parse_server_list(&text);
        crate::address::sort_like_omcache(&mut list);
        inner
            .client
            .replace_servers(list.into_iter().map(Server::new));
        OK
    })
}

/// Selects the key distribution; NULL selects the default. The built-in objects get
/// libmemcached 1.1.4's exact rules; any other object is honoured literally.
#[no_mangle]
pub extern "C" fn omcache_set_distribution_method(
    mc: *mut omcache_t,
    method: *const omcache_dist_t,
) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        // SAFETY: a non-NULL method points to a distribution object that outlives the
        // handle (the C API's contract).
        let method = unsafe { method.as_ref() };
        match dist::to_distribution(method) {
            Some(d) => {
                inner.client.set_distribution(d);
                OK
            }
            None => INVALID,
        }
    })
}

#[no_mangle]
pub extern "C" fn omcache_set_log_callback(
    mc: *mut omcache_t,
    level: c_int,
    func: Option<unsafe extern "C" fn(context: *mut c_void, level: c_int, msg: *const c_char)>,
    context: *mut c_void,
) -> c_int {
    set(mc, |inner| {
        // The engine only queues messages; they reach `func` after the call, with the
        // handle unlocked (see callbacks.rs).
        inner.log = func.map(|func| callbacks::LogTarget::new(func, context));
        let log = inner.log.clone().map(|target| {
            Box::new(move |level: i32, msg: &str| target.push(level, msg)) as crate::client::LogFn
        });
        inner.client.set_log(level, log);
    })
}

/// Ready-made log callback: `"<prefix><LEVEL> <msg>\n"` on standard error.
#[no_mangle]
pub extern "C" fn omcache_log_stderr(context: *mut c_void, level: c_int, msg: *const c_char) {
    guard((), || {
        let word = match level {
            0..=3 => "ERROR",
            4 => "WARNING",
            5 => "NOTICE",
            6 => "INFO",
            7 => "DEBUG",
            _ => "?",
        };
        // SAFETY: a non-NULL context is a NUL-terminated prefix and a non-NULL msg a
        // NUL-terminated message (the callback's contract).
        let prefix = unsafe { c_str(context.cast::<c_char>()) };
        // SAFETY: as above.
        let msg = unsafe { c_str(msg) };
        let mut line = Vec::with_capacity(128);
        line.extend_from_slice(prefix.map(CStr::to_bytes).unwrap_or_default());
        line.extend_from_slice(word.as_bytes());
        line.push(b' ');
        line.extend_from_slice(msg.map(CStr::to_bytes).unwrap_or_default());
        line.push(b'\n');
        let _ = std::io::stderr().write_all(&line);
    })
}

#[no_mangle]
pub extern "C" fn omcache_set_response_callback(
    mc: *mut omcache_t,
    resp_cb: Option<
        unsafe extern "C" fn(
            mc: *mut omcache_t,
            result: *mut super::omcache_value_t,
            context: *mut c_void,
        ),
    >,
    resp_cb_context: *mut c_void,
) -> c_int {
    set(mc, |inner| {
        inner.response_cb = resp_cb.map(|cb| (cb, resp_cb_context))
    })
}
