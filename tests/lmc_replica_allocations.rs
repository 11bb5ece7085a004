//! The libmemcached face allocates nothing per call on its hot path, with NUMBER_OF_REPLICAS
//! 0 (replication costs nothing unused) and 1 (the copies and the failover read allocate
//! nothing while every server answers): sets, gets, mgets with their fetches and deletes
//! through the C functions,
//! counted by a global allocator wrapper in this test binary only (values handed to the
//! caller come from libc malloc, not counted).

mod common;

use std::ffi::{c_char, CString};

use omcache::ffi::libmemcached::*;

#[path = "support/counting.rs"]
mod counting;

use counting::allocations_during;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const BINARY_PROTOCOL: i32 = 18;
const NUMBER_OF_REPLICAS: i32 = 29;

fn calls(memc: *mut types::memcached_st, keys: &[Vec<u8>]) {
    for key in keys {
        let k = key.as_ptr().cast::<c_char>();
        let v = b"value";
        assert_eq!(
            memcached_set(memc, k, key.len(), v.as_ptr().cast(), v.len(), 0, 0),
            0
        );
        let (mut len, mut flags, mut rc) = (0usize, 0u32, 0);
        let got = memcached_get(memc, k, key.len(), &mut len, &mut flags, &mut rc);
        assert_eq!((rc, len), (0, 5));
        // SAFETY: malloc'd by memcached_get, handed to the caller.
        unsafe { libc::free(got.cast()) };
    }
    // An mget of ten keys (over replicas: the handle's lists) and its fetch.
    for chunk in keys.chunks(10) {
        let ptrs: [*const c_char; 10] = std::array::from_fn(|i| chunk[i].as_ptr().cast());
        let lens: [usize; 10] = std::array::from_fn(|i| chunk[i].len());
        assert_eq!(memcached_mget(memc, ptrs.as_ptr(), lens.as_ptr(), 10), 0);
        let mut hits = 0;
        let mut rc = 0;
        loop {
            let r = memcached_fetch_result(memc, std::ptr::null_mut(), &mut rc);
            if r.is_null() {
                break;
            }
            hits += 1;
            memcached_result_free(r);
        }
        assert_eq!(hits, 10);
    }
    for key in keys {
        let k = key.as_ptr().cast::<c_char>();
        assert_eq!(memcached_delete(memc, k, key.len(), 0), 0);
    }
}

#[test]
fn face_calls_allocate_nothing_with_and_without_replicas() {
    let (servers, _) = common::cluster(3);
    let keys: Vec<Vec<u8>> = (0..50).map(|i| format!("rep-{i}").into_bytes()).collect();
    for replicas in [0u64, 1] {
        let memc = memcached_create(std::ptr::null_mut());
        for s in &servers {
            let host = CString::new("127.0.0.1").unwrap();
            assert_eq!(memcached_server_add(memc, host.as_ptr(), s.port), 0);
        }
        assert_eq!(memcached_behavior_set(memc, BINARY_PROTOCOL, 1), 0);
        assert_eq!(
            memcached_behavior_set(memc, NUMBER_OF_REPLICAS, replicas),
            0
        );
        for _ in 0..3 {
            calls(memc, &keys);
        }
        let n = allocations_during(|| {
            for _ in 0..3 {
                calls(memc, &keys);
            }
        });
        assert_eq!(
            n, 0,
            "{n} heap allocations in 3 x 200 calls, replicas={replicas}"
        );
        memcached_free(memc);
    }
}
