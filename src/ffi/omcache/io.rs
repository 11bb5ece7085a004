//! `omcache_req_t` batches and the I/O engine: command, io, poll_fds, reset_buffers.

use std::ffi::c_int;

use super::status;
use super::{
    omcache_req_t, omcache_t, omcache_value_t, with_handle, CRequests, CSink, Inner, INVALID, OK,
};
use crate::client::{Failure, IoOutcome, Status};
use crate::ffi::common::{read_count, take_count, write_count, write_out};

/// Queues `*req_count` requests as a new batch and runs I/O like `omcache_io`.
/// OMCACHE_INVALID before anything was queued (NULL handle, malformed requests) leaves
/// `*req_count` and `*value_count` at 0.
#[no_mangle]
pub extern "C" fn omcache_command(
    mc: *mut omcache_t,
    reqs: *mut omcache_req_t,
    req_count: *mut usize,
    values: *mut omcache_value_t,
    value_count: *mut usize,
    timeout_msec: i32,
) -> c_int {
    // SAFETY: count pointers are valid when non-NULL (the C API's contract).
    let capacity = unsafe { take_count(value_count) };
    let mut ran = false;
    let rc = with_handle(mc, INVALID, |inner, _| {
        if req_count.is_null() {
            // Unlike omcache_io's (which may just flush), a command's count is required: a
            // NULL one would silently send nothing (`*value_count` is 0 already).
            return INVALID;
        }
        ran = true;
        // SAFETY: the C API's contract: count pointers valid when non-NULL, `reqs` holds
        // `*req_count` requests and `values` `capacity` slots.
        unsafe {
            command(
                inner,
                reqs,
                req_count,
                values,
                capacity,
                value_count,
                timeout_msec,
            )
        }
    });
    if !ran {
        // SAFETY: as above.
        unsafe { write_count(req_count, 0) };
    }
    rc
}

/// Runs `*req_count` requests as a new batch; `*value_count` ends as the number of values
/// stored (0 on every early return). Malformed requests: OMCACHE_INVALID, nothing queued,
/// `*req_count` = 0.
///
/// # Safety
/// As `omcache_command`'s contract, with `values` valid for `capacity` writes.
pub(super) unsafe fn command(
    inner: &mut Inner,
    reqs: *mut omcache_req_t,
    req_count: *mut usize,
    values: *mut omcache_value_t,
    capacity: usize,
    value_count: *mut usize,
    timeout_msec: i32,
) -> c_int {
    // SAFETY: forwarded contract.
    let n = unsafe { read_count(req_count) };
    // SAFETY: forwarded contract.
    unsafe { write_count(value_count, 0) };
    // SAFETY: forwarded contract.
    let Some(mut set) = (unsafe { CRequests::new(reqs, n) }) else {
        // SAFETY: forwarded contract.
        unsafe { write_count(req_count, 0) };
        return INVALID;
    };
    // SAFETY: forwarded contract.
    let mut sink = unsafe { CSink::new(&mut inner.deferred, values, capacity) };
    let status = inner.client.command(&mut set, &mut sink, timeout_msec);
    // SAFETY: forwarded contract.
    unsafe {
        write_count(value_count, sink.stored);
        if matches!(
            status,
            Status::Ok
                | Status::Failed(
                    Failure::NoServers | Failure::SendBufferFull | Failure::InvalidRequest
                )
        ) && inner.client.batch_remaining() == 0
        {
            write_count(req_count, 0);
        }
    }
    status::code(status)
}

/// One request; returns its own status (or BUFFERED / AGAIN / BUFFER_FULL / NO_SERVERS).
#[no_mangle]
pub extern "C" fn omcache_command_status(
    mc: *mut omcache_t,
    req: *mut omcache_req_t,
    timeout_msec: i32,
) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        if req.is_null() {
            return INVALID;
        }
        // SAFETY: `req` is one valid request (checked non-NULL; contents checked by CRequests).
        unsafe { command_status(inner, req, timeout_msec) }
    })
}

/// # Safety
/// `req` must point to one valid request.
pub(super) unsafe fn command_status(
    inner: &mut Inner,
    req: *mut omcache_req_t,
    timeout_msec: i32,
) -> c_int {
    // SAFETY: forwarded contract.
    let explicit_server = unsafe { (*req).server_index >= 0 };
    let mut count = 1usize;
    let mut value = std::mem::MaybeUninit::<omcache_value_t>::uninit();
    let mut stored = 0usize;
    // SAFETY: one request, one value slot on our stack.
    let rc = unsafe {
        command(
            inner,
            req,
            &mut count,
            value.as_mut_ptr(),
            1,
            &mut stored,
            timeout_msec,
        )
    };
    let rc = if stored == 1 {
        // SAFETY: the sink wrote the slot (stored == 1).
        unsafe { value.assume_init().status }
    } else if rc == status::OK && timeout_msec == 0 {
        status::BUFFERED
    } else {
        rc
    };
    if explicit_server && rc == status::SERVER_FAILURE {
        status::NO_SERVERS
    } else {
        rc
    }
}

/// Runs I/O: continues the batch `reqs` (the array the last command filled in) or, with no
/// requests, flushes buffers and reads outstanding answers.
#[no_mangle]
pub extern "C" fn omcache_io(
    mc: *mut omcache_t,
    reqs: *mut omcache_req_t,
    req_count: *mut usize,
    values: *mut omcache_value_t,
    value_count: *mut usize,
    timeout_msec: i32,
) -> c_int {
    // SAFETY: count pointers are valid when non-NULL (the C API's contract). `*value_count`
    // is 0 on every early return; `*req_count` is left alone on OMCACHE_INVALID (a foreign
    // array is not touched, as in OMcache).
    let capacity = unsafe { take_count(value_count) };
    with_handle(mc, INVALID, |inner, _| {
        // SAFETY: the C API's contract, as for omcache_command.
        unsafe {
            let n = if reqs.is_null() {
                0
            } else {
                read_count(req_count)
            };
            let mut sink = CSink::new(&mut inner.deferred, values, capacity);
            let outcome = if n == 0 {
                inner.client.io(None, &mut sink, timeout_msec)
            } else {
                let Some(set) = CRequests::new(reqs, n) else {
                    return INVALID;
                };
                let (first, last) = (set.get(0).header.opaque, set.get(n - 1).header.opaque);
                if !inner.client.is_current_batch(first, last, n) {
                    inner.client.log_stale_batch();
                    return INVALID;
                }
                inner.client.io(Some(&set), &mut sink, timeout_msec)
            };
            write_count(value_count, sink.stored);
            match outcome {
                IoOutcome::Done => {
                    write_count(req_count, 0);
                    OK
                }
                IoOutcome::Again | IoOutcome::Paused => status::AGAIN,
            }
        }
    })
}

/// The descriptors to poll and the longest wait before calling omcache_io() again. The array
/// belongs to the handle and stays valid until the next call on it.
#[no_mangle]
pub extern "C" fn omcache_poll_fds(
    mc: *mut omcache_t,
    nfds: *mut c_int,
    poll_timeout: *mut c_int,
) -> *mut libc::pollfd {
    // SAFETY: a non-NULL nfds is valid for writes (the C API's contract); a NULL return
    // (NULL handle) comes with no descriptors.
    unsafe { write_out(nfds, 0) };
    with_handle(mc, std::ptr::null_mut(), |inner, _| {
        let (fds, timeout) = inner.client.poll_fds();
        // SAFETY: non-NULL output pointers are valid for writes (the C API's contract).
        unsafe {
            write_out(nfds, fds.len() as c_int);
            write_out(poll_timeout, timeout);
        }
        fds.as_mut_ptr()
    })
}

/// Drops every queued and partially received byte.
#[no_mangle]
pub extern "C" fn omcache_reset_buffers(mc: *mut omcache_t) -> c_int {
    with_handle(mc, INVALID, |inner, _| {
        inner.client.reset_buffers();
        OK
    })
}
