//! The `*_by_key` delete, touch and exist functions (the storage ones are made with the plain
//! ones in api.rs): the request carries the key
//! (with the namespace) and goes to the server of the group key (NULL or empty: the empty
//! key, as libmemcached 1.1.4 hashes it).

use std::ffi::c_char;

use super::api::key_arg;
use super::counters::group_arg;
use super::memc;
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;
use crate::protocol::{extras, opcode};

/// delete, touch and exist by group key.
fn keyed_by_key(
    memc: *mut memcached_st,
    op: u8,
    group: *const c_char,
    group_length: usize,
    key: *const c_char,
    key_length: usize,
    ex: &[u8],
) -> memcached_return_t {
    memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        // SAFETY: the C API's contract: group key and key valid for their lengths.
        let (group, key) = unsafe { (group_arg(group, group_length), key_arg(key, key_length)) };
        let mut answer = super::keys::Counted::new(false);
        lmc.run_routed_into(memc, op, Some(group), key, ex, &[], 0, &mut answer)
    })
}

#[no_mangle]
pub extern "C" fn memcached_delete_by_key(
    ptr: *mut memcached_st,
    group_key: *const c_char,
    group_key_length: usize,
    key: *const c_char,
    key_length: usize,
    expiration: libc::time_t,
) -> memcached_return_t {
    if expiration != 0 {
        return memc::with_memc(ptr, rc::INVALID_ARGUMENTS, |lmc| {
            lmc.record_detail(rc::INVALID_ARGUMENTS, ptr, super::api::DELETE_EXPIRATION)
        });
    }
    let (g, gl, k, kl) = (group_key, group_key_length, key, key_length);
    keyed_by_key(ptr, opcode::DELETE, g, gl, k, kl, &[])
}

#[no_mangle]
pub extern "C" fn memcached_touch_by_key(
    ptr: *mut memcached_st,
    group_key: *const c_char,
    group_key_length: usize,
    key: *const c_char,
    key_length: usize,
    expiration: libc::time_t,
) -> memcached_return_t {
    let ex = extras::expiration(expiration as u32);
    let (g, gl, k, kl) = (group_key, group_key_length, key, key_length);
    keyed_by_key(ptr, opcode::TOUCH, g, gl, k, kl, &ex)
}

#[no_mangle]
pub extern "C" fn memcached_exist_by_key(
    ptr: *mut memcached_st,
    group_key: *const c_char,
    group_key_length: usize,
    key: *const c_char,
    key_length: usize,
) -> memcached_return_t {
    let (g, gl, k, kl) = (group_key, group_key_length, key, key_length);
    keyed_by_key(ptr, opcode::GETK, g, gl, k, kl, &[])
}
