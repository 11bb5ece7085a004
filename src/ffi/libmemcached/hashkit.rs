//! `memcached_get_hashkit` / `memcached_set_hashkit`: the handle's embedded `hashkit_st`
//! (offset 8 of `memcached_st`), and replacing it. As in libmemcached the embedded kit is the
//! handle's hash: `memc::with_memc` adopts a change made to it directly (through
//! `memcached_get_hashkit`'s pointer) before each call, and writes the HASH / KETAMA_HASH
//! settings back into it after each call.

use super::memc::{self, Lmc};
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;
use crate::ffi::libhashkit::{hashkit_st, slot_algorithm, HashFunction, HASHKIT_HASH_CUSTOM};

/// The handle's hashkit (NULL for a NULL or uninitialised handle). libhashkit.so.2's
/// functions work on it; a change made through it is the handle's key hash from the next
/// call on.
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
        lmc.set_hashes(base, distribution);
        lmc.record(rc::SUCCESS, ptr, None)
    })
}

impl Lmc {
    /// The key hash and distribution hash as (algorithm, the function when CUSTOM).
    fn set_hashes(
        &mut self,
        base: (u32, Option<HashFunction>),
        distribution: (u32, Option<HashFunction>),
    ) {
        let custom = |(a, f): (u32, Option<HashFunction>)| f.filter(|_| a == HASHKIT_HASH_CUSTOM);
        let m = &mut self.model;
        m.hash = base.0;
        m.custom_hash = custom(base);
        m.distribution_hash = distribution.0;
        m.custom_distribution_hash = custom(distribution);
        self.apply_settings();
    }

    /// Takes the embedded kit's functions when they are not the settings' (changed directly).
    pub(super) fn adopt_hashkit(&mut self, kit: &hashkit_st) {
        let base = slot_algorithm(&kit.base_hash);
        let distribution = slot_algorithm(&kit.distribution_hash);
        let m = &self.model;
        if base != (m.hash, m.custom_hash)
            || distribution != (m.distribution_hash, m.custom_distribution_hash)
        {
            self.set_hashes(base, distribution);
        }
    }
}
