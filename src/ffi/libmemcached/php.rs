//! The libmemcached 1.1.4 calls PHP's memcached extension imports beyond the common ones:
//! the distribution setters, `memcached_last_error_errno` and `memcached_bucket_set`
//! (behaviour measured against Debian's libmemcached.so.11).

use std::ffi::c_int;

use super::config::behavior;
use super::memc;
use super::memcached_behavior_set;
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;

/// `memcached_server_distribution_t`'s MEMCACHED_DISTRIBUTION_VIRTUAL_BUCKET.
const VIRTUAL_BUCKET: u64 = 6;

/// As `memcached_behavior_set(DISTRIBUTION, type)`: INVALID_ARGUMENTS outside 0..=6,
/// CONSISTENT turns weighting off, CONSISTENT_WEIGHTED on (measured the same on the real one).
#[no_mangle]
pub extern "C" fn memcached_behavior_set_distribution(
    memc: *mut memcached_st,
    kind: c_int,
) -> memcached_return_t {
    if kind < 0 {
        return memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
            lmc.record(rc::INVALID_ARGUMENTS, memc, None)
        });
    }
    memcached_behavior_set(memc, behavior::DISTRIBUTION as c_int, kind as u64)
}

/// As `memcached_behavior_set(KETAMA_HASH, hash)`: the continuum's hash.
#[no_mangle]
pub extern "C" fn memcached_behavior_set_distribution_hash(
    memc: *mut memcached_st,
    hash: c_int,
) -> memcached_return_t {
    memcached_behavior_set(memc, behavior::KETAMA_HASH as c_int, hash as i64 as u64)
}

/// The system error (errno) behind the last failure on the handle: ECONNREFUSED after a
/// refused connect, ETIMEDOUT after a connect timeout, ECONNRESET after a reset; 0 after a
/// success or a failure without one (a server marked temporarily disabled, a miss). 0 for a
/// NULL handle (the real library dereferences it).
#[no_mangle]
pub extern "C" fn memcached_last_error_errno(memc: *const memcached_st) -> c_int {
    memc::with_memc(memc.cast_mut(), 0, |lmc| lmc.last_errno)
}

/// `memcached_bucket_set(memc, host_map, forward_map, buckets, replicas)`: distribution
/// VIRTUAL_BUCKET with `host_map[0..buckets]` as the server index of each bucket (the key's
/// hash masked with `buckets - 1`). `forward_map` and `replicas` are accepted and unused, as in
/// 1.1.4 (a NULL forward map is fine there). INVALID_ARGUMENTS for a NULL handle or host map
/// or no buckets (measured).
/// A bucket naming a server that does not exist fails that key's call (the real library
/// crashes there).
#[no_mangle]
pub extern "C" fn memcached_bucket_set(
    memc: *mut memcached_st,
    host_map: *const u32,
    _forward_map: *const u32,
    buckets: u32,
    _replicas: u32,
) -> memcached_return_t {
    memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        if host_map.is_null() || buckets == 0 {
            return lmc.record(rc::INVALID_ARGUMENTS, memc, None);
        }
        // SAFETY: the C API's contract: host_map holds `buckets` entries (checked non-NULL).
        let table = unsafe { std::slice::from_raw_parts(host_map, buckets as usize) }.to_vec();
        if lmc
            .model
            .behavior_set(behavior::DISTRIBUTION, VIRTUAL_BUCKET)
            .is_err()
        {
            return lmc.record(rc::INVALID_ARGUMENTS, memc, None);
        }
        lmc.model.buckets = table;
        lmc.apply_settings();
        lmc.record(rc::SUCCESS, memc, None)
    })
}
