//! `omcache_dist_t`: the three exported distribution objects and the conversion of any
//! distribution object into the engine's `Distribution`.

use std::ffi::{c_char, CString};
use std::sync::Arc;

use super::{
    omc_ketama_key_hash_func, omc_ketama_point_hash_func, omcache_dist_t, OMCACHE_VERSION,
};
use crate::ffi::common::{c_bytes, c_str, guard};
use crate::hash;
use crate::ketama::{CustomDistribution, Distribution};

/// A point name as OMcache builds it: "<host>-<i>", or "<host>:<port>-<i>" unless the port is
/// the string "11211".
///
/// # Safety
/// Both pointers must be NULL or NUL-terminated strings.
unsafe fn point_name(hostname: *const c_char, portname: *const c_char, point: u32) -> Vec<u8> {
    // SAFETY: guaranteed by the caller.
    let host = unsafe { c_str(hostname) }.map_or(&[][..], |c| c.to_bytes());
    // SAFETY: guaranteed by the caller.
    let port = unsafe { c_str(portname) }.map_or(&[][..], |c| c.to_bytes());
    let mut name = Vec::with_capacity(host.len() + port.len() + 12);
    name.extend_from_slice(host);
    if port != b"11211" {
        name.push(b':');
        name.extend_from_slice(port);
    }
    name.push(b'-');
    name.extend_from_slice(point.to_string().as_bytes());
    name
}

unsafe extern "C" fn ketama_point_hash(
    hostname: *const c_char,
    portname: *const c_char,
    point: u32,
    hashes: *mut u32,
) -> u32 {
    guard(0, || {
        if hashes.is_null() {
            return 0;
        }
        // SAFETY: the caller passes NUL-terminated names and room for one hash.
        unsafe {
            let name = point_name(hostname, portname, point);
            hashes.write(hash::one_at_a_time(&name));
        }
        1
    })
}

unsafe extern "C" fn md5_point_hash(
    hostname: *const c_char,
    portname: *const c_char,
    point: u32,
    hashes: *mut u32,
) -> u32 {
    guard(0, || {
        if hashes.is_null() {
            return 0;
        }
        // SAFETY: the caller passes NUL-terminated names and room for four hashes.
        unsafe {
            let digest = hash::md5_digest(&point_name(hostname, portname, point));
            for (k, chunk) in digest.chunks_exact(4).enumerate() {
                hashes
                    .add(k)
                    .write(u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
            }
        }
        4
    })
}

unsafe extern "C" fn one_at_a_time_key_hash(key: *const u8, key_len: usize) -> u32 {
    guard(0, || {
        // SAFETY: the caller passes a key valid for key_len bytes (or NULL with length 0).
        let key = unsafe { c_bytes(key, key_len) };
        hash::one_at_a_time(key)
    })
}

unsafe extern "C" fn md5_key_hash(key: *const u8, key_len: usize) -> u32 {
    guard(0, || {
        // SAFETY: the caller passes a key valid for key_len bytes (or NULL with length 0).
        let key = unsafe { c_bytes(key, key_len) };
        hash::md5_le32(key)
    })
}

/// libmemcached ≥ 1.0.10 with MEMCACHED_BEHAVIOR_KETAMA (the default).
#[no_mangle]
pub static omcache_dist_libmemcached_ketama: omcache_dist_t = omcache_dist_t {
    omcache_version: OMCACHE_VERSION,
    points_per_server: 100,
    entries_per_point: 1,
    point_hash_func: Some(ketama_point_hash),
    key_hash_func: Some(one_at_a_time_key_hash),
};

/// libmemcached's MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED with all weights 1.
#[no_mangle]
pub static omcache_dist_libmemcached_ketama_weighted: omcache_dist_t = omcache_dist_t {
    omcache_version: OMCACHE_VERSION,
    points_per_server: 40,
    entries_per_point: 4,
    point_hash_func: Some(md5_point_hash),
    key_hash_func: Some(md5_key_hash),
};

/// libmemcached < 1.0.10's ketama: MD5 points, one-at-a-time keys.
#[no_mangle]
pub static omcache_dist_libmemcached_ketama_pre1010: omcache_dist_t = omcache_dist_t {
    omcache_version: OMCACHE_VERSION,
    points_per_server: 40,
    entries_per_point: 4,
    point_hash_func: Some(md5_point_hash),
    key_hash_func: Some(one_at_a_time_key_hash),
};

/// The largest continuum a caller's own distribution object may ask for.
const MAX_CUSTOM_POINTS: u64 = 1 << 24;

/// The engine's distribution for a C object: the built-in objects (recognised by address) get
/// libmemcached 1.1.4's exact rules; others are honoured literally. None for an unusable one.
pub(super) fn to_distribution(method: Option<&omcache_dist_t>) -> Option<Distribution> {
    let Some(method) = method else {
        return Some(Distribution::LibmemcachedKetama);
    };
    if std::ptr::eq(method, &omcache_dist_libmemcached_ketama) {
        return Some(Distribution::LibmemcachedKetama);
    }
    if std::ptr::eq(method, &omcache_dist_libmemcached_ketama_weighted) {
        return Some(Distribution::LibmemcachedKetamaWeighted);
    }
    if std::ptr::eq(method, &omcache_dist_libmemcached_ketama_pre1010) {
        return Some(Distribution::LibmemcachedKetamaPre1010);
    }
    let point_fn: omc_ketama_point_hash_func = method.point_hash_func?;
    let key_fn: omc_ketama_key_hash_func = method.key_hash_func?;
    let (points, entries) = (method.points_per_server, method.entries_per_point);
    if points == 0 || entries == 0 || points as u64 * entries as u64 > MAX_CUSTOM_POINTS {
        return None;
    }
    let point_hash = Arc::new(
        move |host: &str, port: &str, point: u32, out: &mut [u32]| -> u32 {
            // OMcache 0.3 gave callers' functions IPv6 hosts without their brackets.
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            let (Ok(host), Ok(port)) = (CString::new(host), CString::new(port)) else {
                return 0;
            };
            // SAFETY: the caller's function gets NUL-terminated names and `out.len()`
            // (= entries_per_point) writable slots, as the omcache_dist_t contract says.
            let n = unsafe { point_fn(host.as_ptr(), port.as_ptr(), point, out.as_mut_ptr()) };
            n.min(out.len() as u32)
        },
    );
    let key_hash = Arc::new(move |key: &[u8]| -> u32 {
        // SAFETY: `key` is valid for its length during the call.
        unsafe { key_fn(key.as_ptr(), key.len()) }
    });
    Some(Distribution::Custom(CustomDistribution {
        points_per_server: points,
        entries_per_point: entries,
        point_hash,
        key_hash,
    }))
}
