//! Server selection: `Continuum::build` (OMcache's distribution methods, including a custom
//! one) and `Continuum::build_libmemcached` (every layout, weights, ejected servers, every key
//! hash) over small arbitrary server lists, then key lookups with arbitrary liveness masks.
//!
//! Checked for every key:
//! - `server_for_key` is None only without servers (or, on a ring, when no server has a
//!   point), Some(0) for one server, and always an index that has points on the ring;
//! - `server_for_key_live` is None only when no live server owns a point (for the built-in
//!   methods: only when every server is dead), and otherwise a live server that has points;
//!   with every server live it equals `server_for_key`;
//! - `lookup_live` agrees with `server_for_key_live`, reports only dead servers as skipped,
//!   skips at most one lap of points;
//! - modula never fails over; the point count is what the method promises.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use omcache::hash::HashAlgorithm;
use omcache::ketama::{
    weighted_points_per_server, Continuum, CustomDistribution, Distribution, KeyHash,
    LibmemcachedConfig, LibmemcachedLayout, ServerName,
};
use omcache_fuzz::Bytes;

const MAX_SERVERS: usize = 12;

fn algorithm(b: u8) -> HashAlgorithm {
    match b % 11 {
        0 => HashAlgorithm::Default,
        1 => HashAlgorithm::Md5,
        2 => HashAlgorithm::Crc,
        3 => HashAlgorithm::Fnv1_64,
        4 => HashAlgorithm::Fnv1a_64,
        5 => HashAlgorithm::Fnv1_32,
        6 => HashAlgorithm::Fnv1a_32,
        7 => HashAlgorithm::Hsieh,
        8 => HashAlgorithm::Murmur,
        9 => HashAlgorithm::Jenkins,
        _ => HashAlgorithm::Murmur3,
    }
}

/// A small deterministic mixer for the custom distribution's hash functions.
fn mix(seed: u32, bytes: &[u8]) -> u32 {
    let mut h = seed ^ 0x9e37_79b9;
    for &b in bytes {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h ^ (h >> 15)
}

/// How the continuum was built, and so which servers own points.
enum Kind {
    /// One of OMcache's built-in methods, or libmemcached's continuum: `has_points[i]`.
    Ring {
        has_points: Vec<bool>,
        exact: bool,
    },
    Modula,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let n = input.u8() as usize % (MAX_SERVERS + 1);
    let mode = input.u8();

    let mut owned: Vec<(String, u16)> = Vec::with_capacity(n);
    for _ in 0..n {
        let host = String::from_utf8_lossy(input.slice(24)).into_owned();
        let port = match input.u8() % 4 {
            0 => 11211,
            1 => 0,
            _ => input.u16(),
        };
        owned.push((host, port));
    }
    let servers: Vec<ServerName<'_>> = owned
        .iter()
        .map(|(h, p)| ServerName { host: h, port: *p })
        .collect();

    let (continuum, kind, hash) = match mode % 5 {
        m @ 0..=2 => {
            let dist = [
                Distribution::LibmemcachedKetama,
                Distribution::LibmemcachedKetamaWeighted,
                Distribution::LibmemcachedKetamaPre1010,
            ][m as usize]
                .clone();
            let c = Continuum::build(&servers, &dist);
            let points = match m {
                0 => 100 * n,
                _ => n * weighted_points_per_server(1, n as u64, n as u32) as usize,
            };
            assert_eq!(c.point_count(), points);
            let hash = if m == 1 {
                KeyHash::Algorithm(HashAlgorithm::Md5)
            } else {
                KeyHash::Algorithm(HashAlgorithm::Default)
            };
            let kind = Kind::Ring {
                has_points: vec![true; n],
                exact: true,
            };
            (c, kind, hash)
        }
        3 => {
            let points_per_server = u32::from(input.u8() % 17);
            let entries_per_point = u32::from(input.u8() % 9);
            let seed = input.u32();
            let fill = input.u8();
            let custom = CustomDistribution {
                points_per_server,
                entries_per_point,
                point_hash: Arc::new(move |host: &str, port: &str, p: u32, out: &mut [u32]| {
                    for (j, slot) in out.iter_mut().enumerate() {
                        *slot = mix(
                            seed ^ p ^ (j as u32) << 16,
                            format!("{host}:{port}").as_bytes(),
                        );
                    }
                    // Sometimes claims more entries than there are slots.
                    u32::from(fill) % (out.len() as u32 + 3)
                }),
                key_hash: Arc::new(move |key: &[u8]| mix(seed, key)),
            };
            let c = Continuum::build(&servers, &Distribution::Custom(custom));
            let hash = KeyHash::Custom(Arc::new(move |key: &[u8]| mix(seed, key)));
            let per = (u32::from(fill) % (entries_per_point + 3)).min(entries_per_point);
            assert_eq!(c.point_count(), n * (points_per_server * per) as usize);
            let has_points = vec![points_per_server * per > 0; n];
            (
                c,
                Kind::Ring {
                    has_points,
                    exact: true,
                },
                hash,
            )
        }
        _ => {
            let layout = match input.u8() % 3 {
                0 => LibmemcachedLayout::Modula,
                1 => LibmemcachedLayout::Ketama,
                _ => LibmemcachedLayout::KetamaSpy,
            };
            let weighted = input.u8() & 1 == 1;
            let hash = KeyHash::Algorithm(algorithm(input.u8()));
            let weights: Vec<u32> = (0..input.u8() as usize % (MAX_SERVERS + 2))
                .map(|_| match input.u8() % 4 {
                    0 => 0,
                    1 => 1,
                    2 => u32::from(input.u8()),
                    _ => input.u32(),
                })
                .collect();
            let include_mask = input.u16();
            let included = |i: usize| include_mask >> (i % 16) & 1 == 1;
            let config = LibmemcachedConfig {
                layout,
                weighted,
                hash: hash.clone(),
                buckets: Vec::new(),
            };
            let c = Continuum::build_libmemcached(&servers, &weights, included, &config);
            assert_eq!(c.server_count(), n);
            let kind = if layout == LibmemcachedLayout::Modula {
                assert_eq!(c.point_count(), 0);
                Kind::Modula
            } else {
                let weight_of = |i: usize| weights.get(i).copied().unwrap_or(1).max(1);
                let inc: Vec<usize> = (0..n).filter(|&i| included(i)).collect();
                let total: u64 = inc.iter().map(|&i| u64::from(weight_of(i))).sum();
                let mut has_points = vec![false; n];
                let mut points = 0usize;
                for &i in &inc {
                    let count = if weighted {
                        weighted_points_per_server(weight_of(i), total, inc.len() as u32) / 4 * 4
                    } else {
                        100
                    };
                    has_points[i] = count > 0;
                    points += count as usize;
                }
                assert_eq!(c.point_count(), points);
                Kind::Ring {
                    has_points,
                    exact: true,
                }
            };
            (c, kind, hash)
        }
    };
    assert_eq!(continuum.server_count(), n);

    // Lookups: a liveness mask, then keys until the input runs out (at most 32).
    let live_mask = input.u16();
    let live = |i: usize| live_mask >> (i % 16) & 1 == 1;
    for _ in 0..32 {
        if input.is_empty() {
            break;
        }
        let key = input.slice(300);
        let h = continuum.key_hash(key);
        assert_eq!(h, hash.hash(key));

        let any = continuum.server_for_key(key);
        let any_live = continuum.server_for_key_live(key, live);
        let mut skipped = 0usize;
        let walked = continuum.lookup_live(if n == 1 { 0 } else { h }, live, |i| {
            assert!(!live(i), "skipped live server {i}");
            skipped += 1;
        });
        assert_eq!(walked, any_live);
        assert!(skipped <= continuum.point_count().max(1));
        if let Some(i) = any {
            assert!(i < n);
        }
        if let Some(i) = any_live {
            assert!(
                i < n && live(i),
                "dead server {i} chosen (mask {live_mask:#x})"
            );
        }
        if (0..n).all(live) {
            assert_eq!(any_live, any);
        }
        match (&kind, n) {
            (_, 0) => {
                assert_eq!(any, None);
                assert_eq!(any_live, None);
            }
            (_, 1) => {
                assert_eq!(any, Some(0));
                assert_eq!(any_live, live(0).then_some(0));
            }
            (Kind::Modula, _) => {
                assert_eq!(any, Some(h as usize % n));
                assert_eq!(any_live, any.filter(|&i| live(i)));
            }
            (Kind::Ring { has_points, exact }, _) => {
                let pointed = has_points.iter().any(|&p| p);
                assert_eq!(any.is_some(), pointed);
                if let Some(i) = any {
                    assert!(has_points[i], "server {i} has no points but got a key");
                }
                if let Some(i) = any_live {
                    assert!(has_points[i]);
                }
                if *exact {
                    let candidate = (0..n).any(|i| has_points[i] && live(i));
                    assert_eq!(
                        any_live.is_some(),
                        candidate,
                        "live lookup {any_live:?}, mask {live_mask:#x}, points {has_points:?}"
                    );
                }
            }
        }
    }
});
