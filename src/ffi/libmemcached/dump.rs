//! `memcached_dump`: every key of every server, over `lru_crawler metadump all` where the server
//! has it (libmemcached's `stats cachedump` walk lists only the COLD part of the LRU since
//! memcached 1.5, so usually few or no keys) and that walk otherwise; a server that fails is
//! reported through the return code after the others have been listed. Works whatever
//! protocol the handle speaks (libmemcached returns NOT_SUPPORTED over binary).

use std::ffi::{c_char, c_int, c_void};
use std::ops::ControlFlow;

use super::memc::with_memc;
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;
use crate::client::{DumpError, DumpOptions, Status};
use crate::ffi::common::guard;

/// `memcached_dump_fn`: called with each key (not NUL-terminated) and the caller's context.
pub type memcached_dump_fn = Option<
    unsafe extern "C" fn(
        ptr: *const memcached_st,
        key: *const c_char,
        key_length: usize,
        context: *mut c_void,
    ) -> memcached_return_t,
>;

/// The libmemcached code for a server that could not be listed.
fn dump_error_rc(e: &DumpError) -> c_int {
    match e {
        DumpError::Refused(text) if text.starts_with("CLIENT_ERROR") => rc::CLIENT_ERROR,
        DumpError::Refused(text) if text.starts_with("SERVER_ERROR") => rc::SERVER_ERROR,
        DumpError::Refused(_) => rc::ERROR,
        other => rc::from_status(Status::Failed(other.failure()), &[]),
    }
}

/// Lists every key, calling each of the `number_of_callbacks` functions for it; a callback
/// that does not return SUCCESS ends the dump with its code. The keys are collected first and
/// the callbacks run with the handle unlocked (they may call functions on it).
#[no_mangle]
pub extern "C" fn memcached_dump(
    memc: *mut memcached_st,
    callbacks: *const memcached_dump_fn,
    context: *mut c_void,
    number_of_callbacks: u32,
) -> memcached_return_t {
    if callbacks.is_null() || number_of_callbacks == 0 {
        return with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
            lmc.record(rc::INVALID_ARGUMENTS, memc, None)
        });
    }
    // Collected under the lock: the keys, and the first server failure.
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let outcome = with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        if lmc.client.server_count() == 0 {
            return lmc.record(rc::NO_SERVERS, memc, None);
        }
        // 1.1.4 lists nothing under USE_UDP (measured, both protocols).
        if lmc.model.use_udp {
            return lmc.record(rc::NOT_SUPPORTED, memc, None);
        }
        if let Some(code) = super::sasl::refuse_dump(lmc, memc) {
            return code;
        }
        // A listing may take a while (it streams every key), but a server that stops
        // answering must not hold the call for long: twice the handle's I/O timeout.
        let poll = lmc
            .model
            .poll_wait()
            .max(std::time::Duration::from_millis(500));
        let opts = DumpOptions {
            timeout: poll * 2,
            ..DumpOptions::default()
        };
        let report = lmc.client.dump(&opts, |_, k| {
            keys.push(k.key.to_vec());
            ControlFlow::Continue(())
        });
        let failure = report
            .failures()
            .next()
            .map(|(server, e)| (server, dump_error_rc(e)));
        match failure {
            Some((server, code)) => lmc.record(code, memc, Some(server)),
            None => lmc.record(rc::SUCCESS, memc, None),
        }
    });
    if outcome == rc::INVALID_ARGUMENTS || outcome == rc::NO_SERVERS {
        return outcome;
    }
    guard(rc::FAILURE_CALLBACK, || {
        // SAFETY: the C API's contract: `callbacks` holds `number_of_callbacks` entries.
        let fns = unsafe { std::slice::from_raw_parts(callbacks, number_of_callbacks as usize) };
        for key in &keys {
            for f in fns.iter().flatten() {
                // SAFETY: the caller's callback, called with its own context and a key valid
                // for the call.
                let r = unsafe { f(memc, key.as_ptr().cast(), key.len(), context) };
                if r != rc::SUCCESS {
                    return r;
                }
            }
        }
        outcome
    })
}
