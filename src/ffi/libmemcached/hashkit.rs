//! `memcached_get_hashkit` / `memcached_set_hashkit`: the handle's embedded `hashkit_st`
//! (offset 8 of `memcached_st`, kept in step with the HASH and KETAMA_HASH settings after
//! every call, see `memc::with_memc`), and replacing it.

use super::memc;
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;
use crate::ffi::libhashkit::{hashkit_st, slot_algorithm, HASHKIT_HASH_CUSTOM};

/// The handle's hashkit (NULL for a NULL or uninitialised handle). libhashkit.so.2's
/// functions work on it; changing it through this pointer does not change the server
/// choice (use `memcached_set_hashkit` or the HASH behavior).
#[no_mangle]
pub extern "C" fn memcached_get_hashkit(ptr: *const memcached_st) -> *const hashkit_st {
    memc::with_memc(ptr.cast_mut(), std::ptr::null(), |_| {
        // SAFETY: `ptr` is a valid handle (with_memc checked it); only the field's address is
        // taken.
        unsafe { std::ptr::addr_of!((*ptr).hashkit) }
    })
}

/// Takes `hashk`'s two functions as the handle's: its base function becomes the key hash
/// (also a caller's function: keys are then hashed by calling it, and
/// `memcached_behavior_get(HASH)` answers CUSTOM), its distribution function what
/// `memcached_behavior_get(KETAMA_HASH)` answers. A NULL kit restores the defaults
/// (one-at-a-time), as libmemcached's clone of NULL does.
#[no_mangle]
pub extern "C" fn memcached_set_hashkit(
    ptr: *mut memcached_st,
    hashk: *mut hashkit_st,
) -> memcached_return_t {
    memc::with_memc(ptr, rc::INVALID_ARGUMENTS, |lmc| {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        let (base, distribution) = match unsafe { hashk.as_ref() } {
            Some(kit) => (
                slot_algorithm(&kit.base_hash),
                slot_algorithm(&kit.distribution_hash),
            ),
            None => ((0, None), (0, None)),
        };
        let m = &mut lmc.model;
        m.hash = base.0;
        m.custom_hash = base.1.filter(|_| base.0 == HASHKIT_HASH_CUSTOM);
        m.distribution_hash = distribution.0;
        m.custom_distribution_hash = distribution
            .1
            .filter(|_| distribution.0 == HASHKIT_HASH_CUSTOM);
        lmc.apply_settings();
        lmc.record(rc::SUCCESS, ptr, None)
    })
}
