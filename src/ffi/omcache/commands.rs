//! The convenience commands (OMcache's commands.c): each builds one request, or one per key,
//! and runs it through the engine. With timeout 0 the quiet opcodes are used, as in OMcache.

use std::ffi::{c_char, c_int};
use std::mem::MaybeUninit;

use super::io;
use super::{
    omcache_req_header_s, omcache_req_t, omcache_t, omcache_value_t, with_handle, CSink, Inner,
    INVALID,
};
use crate::client::{valid_key, Request, Requests, Route, Status};
use crate::ffi::common::{c_bytes, c_str, take_count, write_count, write_out};
use crate::protocol::{extras, opcode, quiet_variant, RequestParts};

use super::status::{self, NO_SERVERS};

/// Runs one request with a one-slot values array; returns the engine's status and the stored
/// value, if any (its pointers stay valid until the next call on the handle).
fn run_one(inner: &mut Inner, req: Request<'_>, timeout: i32) -> (Status, Option<omcache_value_t>) {
    let mut reqs = [req];
    let mut slot = MaybeUninit::<omcache_value_t>::uninit();
    // SAFETY: one writable slot on our stack.
    let mut sink = unsafe { CSink::new(&mut inner.deferred, slot.as_mut_ptr(), 1) };
    let status = inner
        .client
        .command(&mut Requests(&mut reqs), &mut sink, timeout);
    // SAFETY: the sink initialised the slot when it stored a value.
    let value = (sink.stored == 1).then(|| unsafe { slot.assume_init() });
    (status, value)
}

/// A single request's own outcome: its response's status when one came, else the engine's.
fn run_status(inner: &mut Inner, req: Request<'_>, timeout: i32) -> c_int {
    let explicit = !req.route.is_keyed();
    let (status, value) = run_one(inner, req, timeout);
    let rc = value.map_or(status::code(status), |v| v.status);
    if explicit && rc == status::SERVER_FAILURE {
        NO_SERVERS
    } else {
        rc
    }
}

fn keyed<'a>(op: u8, key: &'a [u8], timeout: i32) -> Request<'a> {
    let op = if timeout == 0 { quiet_variant(op) } else { op };
    Request::keyed(RequestParts {
        opcode: op,
        key,
        ..Default::default()
    })
}

/// A request to one server (callers check `server_index >= 0` first).
fn indexed(op: u8, server_index: c_int) -> Request<'static> {
    Request {
        route: Route::from_index(server_index),
        parts: RequestParts {
            opcode: op,
            ..Default::default()
        },
    }
}

/// Checks and borrows a key argument.
///
/// # Safety
/// A non-NULL key must be valid for key_len bytes.
unsafe fn key_arg<'a>(key: *const u8, key_len: usize) -> Option<&'a [u8]> {
    if key.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller.
    let key = unsafe { c_bytes(key, key_len) };
    valid_key(key).then_some(key)
}

/// # Safety
/// A non-NULL value must be valid for value_len bytes.
unsafe fn value_arg<'a>(value: *const u8, value_len: usize) -> Option<&'a [u8]> {
    // No value memcached takes is 4 GiB (and no buffer is over isize::MAX bytes).
    if (value.is_null() && value_len > 0) || value_len > u32::MAX as usize {
        return None;
    }
    // SAFETY: guaranteed by the caller.
    Some(unsafe { c_bytes(value, value_len) })
}

fn storage_extras(flags: u32, expiration: libc::time_t) -> [u8; 8] {
    extras::storage(flags, expiration as u32)
}

#[no_mangle]
pub extern "C" fn omcache_noop(
    mc: *mut omcache_t,
    server_index: c_int,
    timeout_msec: i32,
) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        if server_index < 0 {
            return NO_SERVERS;
        }
        run_status(inner, indexed(opcode::NOOP, server_index), timeout_msec)
    })
}

#[no_mangle]
pub extern "C" fn omcache_flush_all(
    mc: *mut omcache_t,
    expiration: libc::time_t,
    server_index: c_int,
    timeout_msec: i32,
) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        if server_index < 0 {
            return NO_SERVERS;
        }
        let extras = extras::expiration(expiration as u32);
        let mut req = indexed(opcode::FLUSH, server_index);
        req.parts.extras = &extras;
        run_status(inner, req, timeout_msec)
    })
}

/// General statistics (command NULL) or a stat group; each statistic is one value, and the
/// list ends with an empty-key value. `*value_count` is 0 on every early return.
#[no_mangle]
pub extern "C" fn omcache_stat(
    mc: *mut omcache_t,
    command: *const c_char,
    values: *mut omcache_value_t,
    value_count: *mut usize,
    server_index: c_int,
    timeout_msec: i32,
) -> c_int {
    // SAFETY: a non-NULL value_count is valid for reads and writes (the C API's contract).
    let capacity = unsafe { take_count(value_count) };
    with_handle(mc, INVALID, |inner, _| {
        // SAFETY: a non-NULL command is a NUL-terminated string (the C API's contract).
        let group = unsafe { c_str(command) }.map_or(&[][..], |c| c.to_bytes());
        if server_index < 0 {
            return NO_SERVERS;
        }
        let mut reqs = [Request {
            route: Route::from_index(server_index),
            parts: RequestParts {
                opcode: opcode::STAT,
                key: group,
                ..Default::default()
            },
        }];
        // SAFETY: `values` holds `capacity` slots (the C API's contract).
        let mut sink = unsafe { CSink::new(&mut inner.deferred, values, capacity) };
        let status = inner
            .client
            .command(&mut Requests(&mut reqs), &mut sink, timeout_msec);
        // SAFETY: a non-NULL value_count is writable.
        unsafe { write_count(value_count, sink.stored) };
        status::code(status)
    })
}

fn store(
    mc: *mut omcache_t,
    op: u8,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    extras: &[u8],
    cas: u64,
    timeout_msec: i32,
) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        // SAFETY: non-NULL pointers are valid for their lengths (the C API's contract).
        let (Some(key), Some(value)) = (unsafe { key_arg(key, key_len) }, unsafe {
            value_arg(value, value_len)
        }) else {
            return INVALID;
        };
        let mut req = keyed(op, key, timeout_msec);
        req.parts.value = value;
        req.parts.extras = extras;
        req.parts.cas = cas;
        run_status(inner, req, timeout_msec)
    })
}

#[no_mangle]
pub extern "C" fn omcache_set(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    expiration: libc::time_t,
    flags: u32,
    cas: u64,
    timeout_msec: i32,
) -> c_int {
    let extras = storage_extras(flags, expiration);
    store(
        mc,
        opcode::SET,
        key,
        key_len,
        value,
        value_len,
        &extras,
        cas,
        timeout_msec,
    )
}

#[no_mangle]
pub extern "C" fn omcache_add(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    expiration: libc::time_t,
    flags: u32,
    timeout_msec: i32,
) -> c_int {
    let extras = storage_extras(flags, expiration);
    store(
        mc,
        opcode::ADD,
        key,
        key_len,
        value,
        value_len,
        &extras,
        0,
        timeout_msec,
    )
}

#[no_mangle]
pub extern "C" fn omcache_replace(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    expiration: libc::time_t,
    flags: u32,
    timeout_msec: i32,
) -> c_int {
    let extras = storage_extras(flags, expiration);
    store(
        mc,
        opcode::REPLACE,
        key,
        key_len,
        value,
        value_len,
        &extras,
        0,
        timeout_msec,
    )
}

#[no_mangle]
pub extern "C" fn omcache_append(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    cas: u64,
    timeout_msec: i32,
) -> c_int {
    store(
        mc,
        opcode::APPEND,
        key,
        key_len,
        value,
        value_len,
        &[],
        cas,
        timeout_msec,
    )
}

#[no_mangle]
pub extern "C" fn omcache_prepend(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    cas: u64,
    timeout_msec: i32,
) -> c_int {
    store(
        mc,
        opcode::PREPEND,
        key,
        key_len,
        value,
        value_len,
        &[],
        cas,
        timeout_msec,
    )
}

fn delta(
    mc: *mut omcache_t,
    op: u8,
    key: *const u8,
    key_len: usize,
    delta: u64,
    initial: u64,
    expiration: libc::time_t,
    value: *mut u64,
    timeout_msec: i32,
) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        // SAFETY: a non-NULL key is valid for key_len bytes.
        let Some(key) = (unsafe { key_arg(key, key_len) }) else {
            return INVALID;
        };
        let extras = extras::delta(delta, initial, expiration as u32);
        let mut req = keyed(op, key, timeout_msec);
        req.parts.extras = &extras;
        let (status, v) = run_one(inner, req, timeout_msec);
        let rc = v.map_or(status::code(status), |v| v.status);
        let counter = v.filter(|_| rc == status::OK).map_or(0, |v| v.delta_value);
        // SAFETY: a non-NULL value is writable (the C API's contract).
        unsafe { write_out(value, counter) };
        rc
    })
}

#[no_mangle]
pub extern "C" fn omcache_increment(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    delta_: u64,
    initial: u64,
    expiration: libc::time_t,
    value: *mut u64,
    timeout_msec: i32,
) -> c_int {
    delta(
        mc,
        opcode::INCREMENT,
        key,
        key_len,
        delta_,
        initial,
        expiration,
        value,
        timeout_msec,
    )
}

#[no_mangle]
pub extern "C" fn omcache_decrement(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    delta_: u64,
    initial: u64,
    expiration: libc::time_t,
    value: *mut u64,
    timeout_msec: i32,
) -> c_int {
    delta(
        mc,
        opcode::DECREMENT,
        key,
        key_len,
        delta_,
        initial,
        expiration,
        value,
        timeout_msec,
    )
}

#[no_mangle]
pub extern "C" fn omcache_delete(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    timeout_msec: i32,
) -> c_int {
    store(
        mc,
        opcode::DELETE,
        key,
        key_len,
        std::ptr::null(),
        0,
        &[],
        0,
        timeout_msec,
    )
}

#[no_mangle]
pub extern "C" fn omcache_touch(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    expiration: libc::time_t,
    timeout_msec: i32,
) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        // SAFETY: a non-NULL key is valid for key_len bytes.
        let Some(key) = (unsafe { key_arg(key, key_len) }) else {
            return INVALID;
        };
        let extras = extras::expiration(expiration as u32);
        // Touch has no quiet variant.
        let mut req = keyed(opcode::TOUCH, key, -1);
        req.parts.extras = &extras;
        run_status(inner, req, timeout_msec)
    })
}

/// Shared by get and gat: writes every non-NULL output (zeros when nothing arrived).
#[allow(clippy::too_many_arguments)]
fn fetch(
    mc: *mut omcache_t,
    op: u8,
    key: *const u8,
    key_len: usize,
    extras: &[u8],
    value: *mut *const u8,
    value_len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
    timeout_msec: i32,
) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        // SAFETY: a non-NULL key is valid for key_len bytes.
        let Some(key) = (unsafe { key_arg(key, key_len) }) else {
            return INVALID;
        };
        let mut req = keyed(op, key, timeout_msec);
        req.parts.extras = extras;
        let (status, v) = run_one(inner, req, timeout_msec);
        let rc = match v {
            Some(v) => v.status,
            None if status == Status::Ok => status::NOT_FOUND,
            None => status::code(status),
        };
        let hit = v.filter(|_| rc == status::OK);
        // SAFETY: non-NULL outputs are writable (the C API's contract).
        unsafe {
            write_out(value, hit.map_or(std::ptr::null(), |v| v.data));
            write_out(value_len, hit.map_or(0, |v| v.data_len));
            write_out(flags, hit.map_or(0, |v| v.flags));
            write_out(cas, hit.map_or(0, |v| v.cas));
        }
        rc
    })
}

#[no_mangle]
pub extern "C" fn omcache_get(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    value: *mut *const u8,
    value_len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
    timeout_msec: i32,
) -> c_int {
    fetch(
        mc,
        opcode::GETK,
        key,
        key_len,
        &[],
        value,
        value_len,
        flags,
        cas,
        timeout_msec,
    )
}

#[no_mangle]
pub extern "C" fn omcache_gat(
    mc: *mut omcache_t,
    key: *const u8,
    key_len: usize,
    value: *mut *const u8,
    value_len: *mut usize,
    expiration: libc::time_t,
    flags: *mut u32,
    cas: *mut u64,
    timeout_msec: i32,
) -> c_int {
    let extras = extras::expiration(expiration as u32);
    fetch(
        mc,
        opcode::GATK,
        key,
        key_len,
        &extras,
        value,
        value_len,
        flags,
        cas,
        timeout_msec,
    )
}

/// Shared by get_multi and gat_multi: fills `reqs` with one quiet key-returning get per key
/// and runs them as one batch. OMCACHE_INVALID before anything was queued (NULL handle or
/// arrays, too few request slots, a bad key) leaves `*req_count` and `*value_count` at 0, so
/// that a caller looping over either reads no uninitialised entry and does not call
/// omcache_io for requests that were never sent.
#[allow(clippy::too_many_arguments)]
fn multi(
    mc: *mut omcache_t,
    op: u8,
    keys: *const *const u8,
    key_lens: *const usize,
    expirations: *const libc::time_t,
    key_count: usize,
    reqs: *mut omcache_req_t,
    req_count: *mut usize,
    values: *mut omcache_value_t,
    value_count: *mut usize,
    timeout_msec: i32,
) -> c_int {
    // SAFETY: a non-NULL value_count is valid for reads and writes (the C API's contract).
    let value_capacity = unsafe { take_count(value_count) };
    let mut queued = false;
    let rc = with_handle(mc, INVALID, |inner, _| {
        // SAFETY: every pointer is valid for the counts given (the C API's contract); NULLs
        // and short arrays are rejected before use.
        unsafe {
            let Some(&capacity) = req_count.as_ref() else {
                return INVALID;
            };
            if capacity < key_count
                || (key_count > 0 && (keys.is_null() || key_lens.is_null() || reqs.is_null()))
                || (op == opcode::GATKQ && key_count > 0 && expirations.is_null())
            {
                return INVALID;
            }
            for i in 0..key_count {
                if key_arg(*keys.add(i), *key_lens.add(i)).is_none() {
                    return INVALID;
                }
            }
            if op == opcode::GATKQ {
                inner.gat_extras.clear();
                inner
                    .gat_extras
                    .extend((0..key_count).map(|i| extras::expiration(*expirations.add(i) as u32)));
            }
            let extlen: u8 = if op == opcode::GATKQ { 4 } else { 0 };
            for i in 0..key_count {
                let key_len = *key_lens.add(i);
                reqs.add(i).write(omcache_req_t {
                    server_index: -1,
                    header: omcache_req_header_s {
                        opcode: op,
                        keylen: (key_len as u16).to_be(),
                        extlen,
                        bodylen: (key_len as u32 + extlen as u32).to_be(),
                        ..Default::default()
                    },
                    extra: if extlen > 0 {
                        inner.gat_extras[i].as_ptr().cast()
                    } else {
                        std::ptr::null()
                    },
                    key: *keys.add(i),
                    data: std::ptr::null(),
                });
            }
            *req_count = key_count;
            queued = true;
            io::command(
                inner,
                reqs,
                req_count,
                values,
                value_capacity,
                value_count,
                timeout_msec,
            )
        }
    });
    if !queued {
        // SAFETY: a non-NULL req_count is writable (the C API's contract).
        unsafe { write_count(req_count, 0) };
    }
    rc
}

#[no_mangle]
pub extern "C" fn omcache_get_multi(
    mc: *mut omcache_t,
    keys: *mut *const u8,
    key_lens: *mut usize,
    key_count: usize,
    reqs: *mut omcache_req_t,
    req_count: *mut usize,
    values: *mut omcache_value_t,
    value_count: *mut usize,
    timeout_msec: i32,
) -> c_int {
    multi(
        mc,
        opcode::GETKQ,
        keys,
        key_lens,
        std::ptr::null(),
        key_count,
        reqs,
        req_count,
        values,
        value_count,
        timeout_msec,
    )
}

#[no_mangle]
pub extern "C" fn omcache_gat_multi(
    mc: *mut omcache_t,
    keys: *mut *const u8,
    key_lens: *mut usize,
    expirations: *mut libc::time_t,
    key_count: usize,
    reqs: *mut omcache_req_t,
    req_count: *mut usize,
    values: *mut omcache_value_t,
    value_count: *mut usize,
    timeout_msec: i32,
) -> c_int {
    multi(
        mc,
        opcode::GATKQ,
        keys,
        key_lens,
        expirations,
        key_count,
        reqs,
        req_count,
        values,
        value_count,
        timeout_msec,
    )
}
