//! `memcached_increment` / `memcached_decrement`, their `_with_initial` and `*_by_key` forms.
//! As libmemcached 1.1.4: the new value goes to `*value`, UINT64_MAX on any failure after the
//! key was accepted and under NOREPLY; `_with_initial` creates a missing key over binary only (text:
//! INVALID_ARGUMENTS, nothing sent); a non-numeric value is CLIENT_ERROR over text and
//! UNKNOWN_READ_FAILURE over binary.

use std::ffi::{c_char, c_int};

use super::api::key_arg;
use super::keys::Counted;
use super::memc;
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;
use crate::client::valid_key;
use crate::protocol::{extras, opcode};

/// MEMCACHED_EXPIRATION_NOT_ADD: do not create a missing key.
const NOT_ADD: u32 = 0xffff_ffff;

/// MEMCACHED_UNKNOWN_READ_FAILURE (the binary "non-numeric value" answer).
const UNKNOWN_READ_FAILURE: c_int = 7;

/// The group key of a `*_by_key` call (NULL: the empty key).
///
/// # Safety
/// A non-NULL `group` must be valid for `len` bytes.
pub(super) unsafe fn group_arg<'a>(group: *const c_char, len: usize) -> &'a [u8] {
    if group.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(group.cast(), len) }
}

fn delta(
    memc: *mut memcached_st,
    op: u8,
    group: Option<(*const c_char, usize)>,
    key: *const c_char,
    key_length: usize,
    offset: u64,
    initial: Option<(u64, libc::time_t)>,
    value: *mut u64,
) -> memcached_return_t {
    let (code, out) = memc::with_memc_op(memc, (rc::INVALID_ARGUMENTS, None), |lmc| {
        // SAFETY: the C API's contract: key and group key valid for their lengths.
        let (key, group) = unsafe {
            (
                key_arg(key, key_length),
                group.map(|(g, l)| group_arg(g, l)),
            )
        };
        if !valid_key(key) {
            lmc.query_id += 1;
            return (lmc.record(rc::BAD_KEY_PROVIDED, memc, None), None);
        }
        let expiration = match initial {
            Some((_, exp)) if !lmc.model.binary_protocol => {
                let _ = exp;
                lmc.query_id += 1;
                return (
                    lmc.record(rc::INVALID_ARGUMENTS, memc, None),
                    Some(u64::MAX),
                );
            }
            Some((_, exp)) => exp as u32,
            None => NOT_ADD,
        };
        let init = initial.map_or(0, |(i, _)| i);
        let ex = extras::delta(offset, init, expiration);
        let mut sink = Counted::new(false);
        let code = lmc.run_routed_into(memc, op, group, key, &ex, &[], 0, &mut sink);
        let code = if code == rc::CLIENT_ERROR
            && lmc.model.binary_protocol
            && sink.one.status == Some(crate::client::Status::DeltaBadValue)
        {
            lmc.record(UNKNOWN_READ_FAILURE, memc, None)
        } else {
            code
        };
        // Under NOREPLY the request is sent quiet and no value comes back: 1.1.4 reports
        // UINT64_MAX with its SUCCESS.
        let v = if code == rc::SUCCESS && lmc.model.reply {
            sink.delta_value
        } else {
            u64::MAX
        };
        (code, Some(v))
    });
    if let Some(v) = out {
        // SAFETY: a non-NULL output is writable (the C API's contract).
        if let Some(out) = unsafe { value.as_mut() } {
            *out = v;
        }
    }
    code
}

/// The four counter functions of one direction (increment or decrement): plain (a 32-bit
/// offset, as libmemcached 1.1.4 declares it), by group key, with an initial value, and both.
macro_rules! counter_functions {
    ($op:expr, $plain:ident, $by_key:ident, $with_initial:ident, $with_initial_by_key:ident) => {
        #[no_mangle]
        pub extern "C" fn $plain(
            ptr: *mut memcached_st,
            key: *const c_char,
            key_length: usize,
            offset: u32,
            value: *mut u64,
        ) -> memcached_return_t {
            delta(ptr, $op, None, key, key_length, offset.into(), None, value)
        }

        #[no_mangle]
        pub extern "C" fn $by_key(
            ptr: *mut memcached_st,
            group_key: *const c_char,
            group_key_length: usize,
            key: *const c_char,
            key_length: usize,
            offset: u64,
            value: *mut u64,
        ) -> memcached_return_t {
            let group = Some((group_key, group_key_length));
            delta(ptr, $op, group, key, key_length, offset, None, value)
        }

        #[no_mangle]
        pub extern "C" fn $with_initial(
            ptr: *mut memcached_st,
            key: *const c_char,
            key_length: usize,
            offset: u64,
            initial: u64,
            expiration: libc::time_t,
            value: *mut u64,
        ) -> memcached_return_t {
            let init = Some((initial, expiration));
            delta(ptr, $op, None, key, key_length, offset, init, value)
        }

        #[no_mangle]
        pub extern "C" fn $with_initial_by_key(
            ptr: *mut memcached_st,
            group_key: *const c_char,
            group_key_length: usize,
            key: *const c_char,
            key_length: usize,
            offset: u64,
            initial: u64,
            expiration: libc::time_t,
            value: *mut u64,
        ) -> memcached_return_t {
            let group = Some((group_key, group_key_length));
            let init = Some((initial, expiration));
            delta(ptr, $op, group, key, key_length, offset, init, value)
        }
    };
}

counter_functions!(
    opcode::INCREMENT,
    memcached_increment,
    memcached_increment_by_key,
    memcached_increment_with_initial,
    memcached_increment_with_initial_by_key
);
counter_functions!(
    opcode::DECREMENT,
    memcached_decrement,
    memcached_decrement_by_key,
    memcached_decrement_with_initial,
    memcached_decrement_with_initial_by_key
);
