//! The libmemcached 1.1.4 calls PHP's memcached extension imports beyond the common ones:
//! the distribution setters, `memcached_last_error_errno`, `memcached_bucket_set` and
//! `memcached_set_encoding_key`
//! (behaviour measured against Debian's libmemcached.so.11).

use std::ffi::{c_char, c_int};

use super::api::One;
use super::config::behavior;
use super::encoding::EncodingKey;
use super::memc::{self, Lmc};
use super::memcached_behavior_set;
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;
use crate::ffi::common::c_bytes;
use crate::protocol::opcode;

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

/// `memcached_set_encoding_key(memc, key, length)`: values stored from now on are encrypted
/// (AES-256-CBC, see encoding.rs) and values got over the text protocol decrypted, as
/// libmemcached 1.1.4. Its AES key is the first 32 bytes at `key`; the real library reads 32
/// bytes whatever `length` says, so a key shorter than 32 bytes is refused here with
/// INVALID_ARGUMENTS (no key set, the previous one kept) instead of reading past its end. A
/// NULL key is INVALID_ARGUMENTS too.
#[no_mangle]
pub extern "C" fn memcached_set_encoding_key(
    memc: *mut memcached_st,
    key: *const c_char,
    length: usize,
) -> memcached_return_t {
    memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        if key.is_null() {
            return lmc.record(rc::INVALID_ARGUMENTS, memc, None);
        }
        // SAFETY: the C API's contract: key valid for length bytes (checked non-NULL).
        let bytes = unsafe { c_bytes(key.cast(), length) };
        match EncodingKey::new(bytes) {
            Some(k) => {
                lmc.encoding_key = Some(k);
                lmc.record(rc::SUCCESS, memc, None)
            }
            None => lmc.record(rc::INVALID_ARGUMENTS, memc, None),
        }
    })
}

impl Lmc {
    /// The value a store sends: encrypted while an encoding key is set (None: as given);
    /// append and prepend are NOT_SUPPORTED then (recorded).
    pub(super) fn encrypt_for_store(
        &mut self,
        memc: *const memcached_st,
        op: u8,
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, memcached_return_t> {
        let Some(k) = &self.encoding_key else {
            return Ok(None);
        };
        if matches!(op, opcode::APPEND | opcode::PREPEND) {
            let code = self.record(rc::NOT_SUPPORTED, memc, None);
            // 1.1.4's text, its source location replaced by ours as elsewhere.
            self.last_message = format!(
                "({memc:p}) ACTION NOT SUPPORTED, Operation not allowed while encyrption is \
                 enabled -> omcache-rs\0"
            )
            .into_bytes();
            return Err(code);
        }
        Ok(Some(k.encrypt(value)))
    }

    /// A single get's value decrypted in place (text protocol only, empty values left alone,
    /// as 1.1.4); a value that does not decrypt is dropped: FAILURE when it is not whole
    /// blocks, NOTFOUND when its padding is wrong (measured).
    pub(super) fn decrypt_got(
        &mut self,
        memc: *const memcached_st,
        code: memcached_return_t,
        one: &mut One,
    ) -> memcached_return_t {
        if code != rc::SUCCESS || self.model.binary_protocol {
            return code;
        }
        let (Some(k), Some((p, len))) = (&self.encoding_key, one.value) else {
            return code;
        };
        // SAFETY: the sink's own malloc'd buffer of len (+1) bytes, not handed out yet.
        let plain = k.decrypt(unsafe { c_bytes(p.cast(), len) });
        // SAFETY: as above; replaced below, never used again.
        unsafe { libc::free(p.cast()) };
        one.value = None;
        let Some(plain) = plain else {
            // Measured on 1.1.4: a value that is not whole AES blocks fails the get with
            // FAILURE, one with bad padding reads as a miss.
            let code = if len % 16 != 0 {
                rc::FAILURE
            } else {
                rc::NOTFOUND
            };
            return self.record(code, memc, None);
        };
        if !plain.is_empty() {
            // SAFETY: plain malloc of len + 1 bytes, checked for NULL; the copy stays inside.
            let q = unsafe { libc::malloc(plain.len() + 1) }.cast::<c_char>();
            if q.is_null() {
                return self.record(super::callbacks::MEMORY_ALLOCATION_FAILURE, memc, None);
            }
            // SAFETY: `q` holds plain.len() + 1 bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(plain.as_ptr().cast(), q, plain.len());
                *q.add(plain.len()) = 0;
            }
            one.value = Some((q, plain.len()));
        }
        code
    }
}
