//! Small libmemcached 1.1.4 calls: the behaviour getters for distribution and hashes, the
//! enum-name functions and `memcached_analyze_free` (behaviour measured against Debian's
//! libmemcached.so.11).

use std::ffi::{c_char, c_int, CStr};

use super::config::behavior;
use super::memcached_behavior_get;
use super::stats::memcached_analysis_st;
use super::types::memcached_st;
use crate::ffi::common::guard;

/// MEMCACHED_DISTRIBUTION_CONSISTENT_MAX: what 1.1.4 returns for a NULL handle.
const DISTRIBUTION_MAX: c_int = 7;
/// MEMCACHED_HASH_MAX: what 1.1.4 returns for a NULL handle.
const HASH_MAX: c_int = 12;

/// `memcached_behavior_t`'s names, by value.
const BEHAVIORS: [&CStr; 38] = [
    c"MEMCACHED_BEHAVIOR_NO_BLOCK",
    c"MEMCACHED_BEHAVIOR_TCP_NODELAY",
    c"MEMCACHED_BEHAVIOR_HASH",
    c"MEMCACHED_BEHAVIOR_KETAMA",
    c"MEMCACHED_BEHAVIOR_SOCKET_SEND_SIZE",
    c"MEMCACHED_BEHAVIOR_SOCKET_RECV_SIZE",
    c"MEMCACHED_BEHAVIOR_CACHE_LOOKUPS",
    c"MEMCACHED_BEHAVIOR_SUPPORT_CAS",
    c"MEMCACHED_BEHAVIOR_POLL_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_DISTRIBUTION",
    c"MEMCACHED_BEHAVIOR_BUFFER_REQUESTS",
    c"MEMCACHED_BEHAVIOR_USER_DATA",
    c"MEMCACHED_BEHAVIOR_SORT_HOSTS",
    c"MEMCACHED_BEHAVIOR_VERIFY_KEY",
    c"MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_RETRY_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED",
    c"MEMCACHED_BEHAVIOR_KETAMA_HASH",
    c"MEMCACHED_BEHAVIOR_BINARY_PROTOCOL",
    c"MEMCACHED_BEHAVIOR_SND_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_RCV_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT",
    c"MEMCACHED_BEHAVIOR_IO_MSG_WATERMARK",
    c"MEMCACHED_BEHAVIOR_IO_BYTES_WATERMARK",
    c"MEMCACHED_BEHAVIOR_IO_KEY_PREFETCH",
    c"MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY",
    c"MEMCACHED_BEHAVIOR_NOREPLY",
    c"MEMCACHED_BEHAVIOR_USE_UDP",
    c"MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS",
    c"MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS",
    c"MEMCACHED_BEHAVIOR_RANDOMIZE_REPLICA_READ",
    c"MEMCACHED_BEHAVIOR_CORK",
    c"MEMCACHED_BEHAVIOR_TCP_KEEPALIVE",
    c"MEMCACHED_BEHAVIOR_TCP_KEEPIDLE",
    c"MEMCACHED_BEHAVIOR_LOAD_FROM_FILE",
    c"MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS",
    c"MEMCACHED_BEHAVIOR_DEAD_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT",
];

/// `memcached_server_distribution_t`'s names, by value.
const DISTRIBUTIONS: [&CStr; 7] = [
    c"MEMCACHED_DISTRIBUTION_MODULA",
    c"MEMCACHED_DISTRIBUTION_CONSISTENT",
    c"MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA",
    c"MEMCACHED_DISTRIBUTION_RANDOM",
    c"MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY",
    c"MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED",
    c"MEMCACHED_DISTRIBUTION_VIRTUAL_BUCKET",
];

/// The name of a behaviour ("INVALID memcached_behavior_t" past the last, as 1.1.4).
#[no_mangle]
pub extern "C" fn libmemcached_string_behavior(flag: c_int) -> *const c_char {
    usize::try_from(flag)
        .ok()
        .and_then(|i| BEHAVIORS.get(i))
        .map_or(c"INVALID memcached_behavior_t".as_ptr(), |s| s.as_ptr())
}

/// The name of a distribution ("INVALID memcached_server_distribution_t" past the last).
#[no_mangle]
pub extern "C" fn libmemcached_string_distribution(flag: c_int) -> *const c_char {
    usize::try_from(flag)
        .ok()
        .and_then(|i| DISTRIBUTIONS.get(i))
        .map_or(c"INVALID memcached_server_distribution_t".as_ptr(), |s| {
            s.as_ptr()
        })
}

/// As `memcached_behavior_get(DISTRIBUTION)`; CONSISTENT_MAX for a NULL handle (measured).
#[no_mangle]
pub extern "C" fn memcached_behavior_get_distribution(memc: *mut memcached_st) -> c_int {
    if memc.is_null() {
        return DISTRIBUTION_MAX;
    }
    memcached_behavior_get(memc, behavior::DISTRIBUTION as c_int) as c_int
}

/// The key hash (HASH_MAX for a NULL handle).
#[no_mangle]
pub extern "C" fn memcached_behavior_get_key_hash(memc: *mut memcached_st) -> c_int {
    if memc.is_null() {
        return HASH_MAX;
    }
    memcached_behavior_get(memc, behavior::HASH as c_int) as c_int
}

/// As 1.1.4 measures: the *key* hash, not the continuum's (`memcached_behavior_get(
/// KETAMA_HASH)` gives that one); HASH_MAX for a NULL handle.
#[no_mangle]
pub extern "C" fn memcached_behavior_get_distribution_hash(memc: *mut memcached_st) -> c_int {
    memcached_behavior_get_key_hash(memc)
}

/// Frees `memcached_analyze`'s result (calloc'd there); NULL is fine.
#[no_mangle]
pub extern "C" fn memcached_analyze_free(ptr: *mut memcached_analysis_st) {
    guard((), || {
        // SAFETY: NULL or the calloc'd result of memcached_analyze (the C API's contract).
        unsafe { libc::free(ptr.cast()) }
    })
}
