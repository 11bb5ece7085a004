//! The ketama continuum: which server a key goes to.
//!
//! We follow libmemcached 1.1.4 (`update_continuum` / `dispatch_host`) rather than OMcache 0.3
//! where the two differ, because deployed clusters were sharded by libmemcached:
//! - point names keep IPv6 brackets and are hashed with the signed-char one-at-a-time;
//! - the weighted point count is computed in float32 (the "float trap": 156 instead of 160
//!   points per server for 25, 47, 50, … equal servers);
//! - a live-server walk that reaches the end of the ring wraps to point 0 (OMcache 0.3 skipped
//!   point 0 there, a bug we do not copy).
//!
//! A key lookup reads one 32-byte slot on large rings (a bucket index with its points
//! inline), otherwise a bucket index and a few points; it never allocates.

use std::fmt;
use std::sync::Arc;

use crate::hash::{self, HashAlgorithm};

/// How a server is named in point strings: host exactly as given in the server list
/// (IPv6 keeps its brackets, e.g. `"[::1]"`), port as a number (0 for unix sockets, whose host is
/// the path).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerName<'a> {
    pub host: &'a str,
    pub port: u16,
}

impl<'a> ServerName<'a> {
    pub fn new(host: &'a str, port: u16) -> Self {
        ServerName { host, port }
    }
}

/// A custom point hash: `(host, port as decimal text, point number, out)` fills up to
/// `out.len()` (= entries_per_point) values and returns how many it filled.
pub type PointHashFn = Arc<dyn Fn(&str, &str, u32, &mut [u32]) -> u32 + Send + Sync>;

/// A custom key hash.
pub type KeyHashFn = Arc<dyn Fn(&[u8]) -> u32 + Send + Sync>;

/// A caller-supplied distribution (OMcache's `omcache_dist_t` with foreign hash functions),
/// honoured literally: `points_per_server` × up to `entries_per_point` points per server.
#[derive(Clone)]
pub struct CustomDistribution {
    pub points_per_server: u32,
    pub entries_per_point: u32,
    pub point_hash: PointHashFn,
    pub key_hash: KeyHashFn,
}

impl fmt::Debug for CustomDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomDistribution")
            .field("points_per_server", &self.points_per_server)
            .field("entries_per_point", &self.entries_per_point)
            .finish_non_exhaustive()
    }
}

/// The distribution methods of OMcache's C API.
#[derive(Clone, Debug, Default)]
pub enum Distribution {
    /// libmemcached `MEMCACHED_BEHAVIOR_KETAMA=1`: 100 one-at-a-time points per server,
    /// one-at-a-time keys.
    #[default]
    LibmemcachedKetama,
    /// libmemcached `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED=1` with all weights 1: 160 (or 156,
    /// float trap) MD5 points per server, MD5 keys.
    LibmemcachedKetamaWeighted,
    /// libmemcached < 1.0.10's ketama; in 1.1.4 `DISTRIBUTION=CONSISTENT_WEIGHTED` with the
    /// default hash: MD5 points as above, one-at-a-time keys.
    LibmemcachedKetamaPre1010,
    /// A caller's own hash functions.
    Custom(CustomDistribution),
    /// Any libmemcached 1.1.4 distribution with any key hash (the libmemcached face):
    /// modula, random, virtual buckets and the consistent variants, weighted or not.
    Libmemcached(LibmemcachedConfig),
}

/// A key hash: one of libhashkit's algorithms or a caller's function.
#[derive(Clone)]
pub enum KeyHash {
    Algorithm(HashAlgorithm),
    Custom(KeyHashFn),
}

impl KeyHash {
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u32 {
        match self {
            // Debian's libhashkit answers 1 for the algorithm it was built without (HSIEH);
            // libmemcached refuses to select it, so this only matters for completeness.
            KeyHash::Algorithm(alg) => alg.hash(key).unwrap_or(1),
            KeyHash::Custom(f) => f(key),
        }
    }
}

impl Default for KeyHash {
    fn default() -> Self {
        KeyHash::Algorithm(HashAlgorithm::Default)
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyHash::Algorithm(alg) => write!(f, "{alg:?}"),
            KeyHash::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// How libmemcached 1.1.4 picks a server (`memcached_server_distribution_t`, with the four
/// consistent variants folded into the two point-name layouts they use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LibmemcachedLayout {
    /// MODULA (libmemcached's default): `hash % server_count`, no continuum.
    #[default]
    Modula,
    /// CONSISTENT, CONSISTENT_KETAMA and CONSISTENT_WEIGHTED: points named `"<host>-<i>"`, or
    /// `"<host>:<port>-<i>"` when the port is not 11211.
    Ketama,
    /// CONSISTENT_KETAMA_SPY: points named `"/<host>:<port>-<i>"` (spymemcached's names).
    KetamaSpy,
    /// RANDOM: `random() % server_count`, the key is not hashed.
    Random,
    /// VIRTUAL_BUCKET: `buckets[hash & (len - 1)]` of the table given with
    /// [`LibmemcachedConfig::buckets`] (`memcached_bucket_set`'s host map), or
    /// `hash & (server_count - 1)` without a table.
    VirtualBucket,
}

impl LibmemcachedLayout {
    /// The layout of a `memcached_server_distribution_t` value (MODULA 0 … VIRTUAL_BUCKET 6).
    /// Whether the continuum is weighted is separate state in libmemcached
    /// (`ketama.weighted_`, see [`LibmemcachedConfig::weighted`]); of these values only
    /// CONSISTENT_WEIGHTED (5) switches it on and CONSISTENT / CONSISTENT_KETAMA (1, 2) off.
    pub fn from_c(value: u32) -> Option<LibmemcachedLayout> {
        Some(match value {
            0 => LibmemcachedLayout::Modula,
            1 | 2 | 5 => LibmemcachedLayout::Ketama,
            3 => LibmemcachedLayout::Random,
            4 => LibmemcachedLayout::KetamaSpy,
            6 => LibmemcachedLayout::VirtualBucket,
            _ => return None,
        })
    }

    /// Whether keys are looked up on a continuum (libmemcached's "consistent" distributions).
    pub fn is_consistent(self) -> bool {
        matches!(
            self,
            LibmemcachedLayout::Ketama | LibmemcachedLayout::KetamaSpy
        )
    }
}

/// Everything libmemcached 1.1.4's server selection depends on besides the server list and
/// the weights.
///
/// ```
/// use omcache::hash::HashAlgorithm;
/// use omcache::ketama::{Continuum, Distribution, LibmemcachedConfig, LibmemcachedLayout, ServerName};
/// // MEMCACHED_BEHAVIOR_DISTRIBUTION = CONSISTENT_WEIGHTED, MEMCACHED_BEHAVIOR_HASH = FNV1A_32
/// let dist = Distribution::Libmemcached(
///     LibmemcachedConfig::new(LibmemcachedLayout::Ketama, HashAlgorithm::Fnv1a_32).weighted(true),
/// );
/// let servers = [ServerName::new("10.0.0.1", 11211), ServerName::new("10.0.0.2", 11211)];
/// let c = Continuum::build_with_weights(&servers, &[1, 3], &dist);
/// assert!(c.server_for_key(b"foo").unwrap() < 2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LibmemcachedConfig {
    pub layout: LibmemcachedLayout,
    /// libmemcached's `ketama.weighted_` (consistent layouts only): MD5 points, 4 per digest,
    /// their number from the weights (160 per server when all are equal, float32 arithmetic).
    /// Unweighted: 100 points per server hashed with `hash`, weights ignored.
    pub weighted: bool,
    /// The handle's base hash: the key hash, and the point hash of unweighted continua.
    /// (libmemcached's "distribution hash" has no effect on selection in 1.1.4.)
    pub hash: KeyHash,
    /// The point hash of an unweighted continuum when it is not `hash`: libmemcached builds
    /// its continuum when the servers or the distribution change, with the hash of that
    /// moment, so a HASH behavior set afterwards changes the key hash only. None: `hash`.
    pub point_hash: Option<KeyHash>,
    /// VIRTUAL_BUCKET's table: `buckets[b]` is the server index of bucket b (the `host_map`
    /// of `memcached_bucket_set`; its length should be a power of two, as libmemcached
    /// masks with `len - 1`). Empty: no table. Unused by the other layouts.
    pub buckets: Vec<u32>,
}

impl LibmemcachedConfig {
    /// `layout` with key hash `hash`, unweighted, no bucket table.
    pub fn new(layout: LibmemcachedLayout, hash: HashAlgorithm) -> Self {
        LibmemcachedConfig {
            layout,
            weighted: false,
            hash: KeyHash::Algorithm(hash),
            point_hash: None,
            buckets: Vec::new(),
        }
    }

    /// Sets the point hash of an unweighted continuum (see `point_hash`).
    pub fn with_point_hash(mut self, hash: HashAlgorithm) -> Self {
        self.point_hash = Some(KeyHash::Algorithm(hash));
        self
    }

    /// Sets `weighted` (libmemcached's `ketama.weighted_`).
    pub fn weighted(mut self, weighted: bool) -> Self {
        self.weighted = weighted;
        self
    }

    /// Sets the virtual bucket table (server index per bucket).
    pub fn with_buckets(mut self, buckets: &[u32]) -> Self {
        self.buckets = buckets.to_vec();
        self
    }
}

/// memcached's default port: point names omit it.
const DEFAULT_PORT: u16 = 11211;
/// libmemcached's MEMCACHED_POINTS_PER_SERVER (unweighted).
const POINTS_PER_SERVER: u32 = 100;
/// libmemcached's MEMCACHED_POINTS_PER_SERVER_KETAMA (weighted, before the float arithmetic).
const POINTS_PER_SERVER_KETAMA: u32 = 160;
/// Points per MD5 digest in the weighted continuum.
const POINTS_PER_HASH: u32 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Selection {
    #[default]
    Consistent,
    Modula,
    Random,
    VirtualBucket,
}

/// A server list turned into a lookup structure. Cheap to query, rebuilt on every change.
#[derive(Clone, Default)]
pub struct Continuum {
    /// The points, ascending by (value, owner). A point's value and its server share a
    /// cache line: at 10,000 servers (1,000,000 points, 8 MB) a lookup misses the cache on
    /// the index and on one line of points, not once more for a separate owner array.
    points: Vec<Point>,
    /// A bucket index over `points`: for the bucket `b = hash >> index_shift`, the points
    /// whose value falls in it are `points[index[b]..index[b + 1]]`, so a lookup scans a
    /// handful of points (about four; at most 2^18 buckets, 1 MiB of index for a
    /// 1,000,000-point ring) instead of binary-searching the whole ring, whose 20 steps miss
    /// the cache at most of them. Empty for small rings.
    index: Vec<u32>,
    index_shift: u32,
    /// For large rings, each bucket's answer in one 32-byte slot, so that the usual lookup
    /// touches one cache line instead of the index and then the points (at 10,000 servers
    /// both are far larger than the L2 cache, and each was a miss): see [`Slot`]. Empty
    /// for rings below 2^17 points, or with 65,535 servers or more.
    slots: Vec<Slot>,
    server_count: usize,
    key_hash: KeyHash,
    selection: Selection,
    /// VirtualBucket's table (server index per bucket); empty without one.
    buckets: Vec<u32>,
}

impl fmt::Debug for Continuum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Continuum")
            .field("server_count", &self.server_count)
            .field("points", &self.points.len())
            .field("key_hash", &self.key_hash)
            .field("selection", &self.selection)
            .field("buckets", &self.buckets.len())
            .finish()
    }
}

/// libmemcached's weighted point count for one server, bit-exact: the arithmetic is float32
/// (`pct * 160 / 4 * live`), which rounds 40.0 down to 39.999996 for some server counts and
/// so gives 156 instead of 160 points. The `+ 1e-10` in the C source is done in double and
/// rounded back to float, so it never changes a float value above ~0.002; it is omitted.
pub fn weighted_points_per_server(weight: u32, total_weight: u64, live_servers: u32) -> u32 {
    let pct = weight as f32 / total_weight as f32;
    let scaled = pct * POINTS_PER_SERVER_KETAMA as f32 / 4.0 * live_servers as f32;
    // `as` saturates (NaN -> 0), like the range the C cast is defined for.
    (scaled.floor() * 4.0) as u32
}

/// Writes `n` in decimal at the start of `out` (which has room for 10 digits) and returns
/// the number of digits.
fn write_decimal(mut n: u32, out: &mut [u8]) -> usize {
    let len = n.checked_ilog10().unwrap_or(0) as usize + 1;
    for d in out[..len].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    len
}

/// The unweighted builder's digit loop names points 0 to 99.
const _: () = assert!(POINTS_PER_SERVER == 100);

/// Builds point names into one reusable buffer (continuum building is the only place that
/// allocates, and it does so once per build, not per point).
struct NameBuf {
    buf: Vec<u8>,
    /// Length of the server's part (`host:port-`) after `start`; `point` appends to it.
    prefix_len: usize,
}

impl NameBuf {
    fn new() -> Self {
        NameBuf {
            buf: Vec::with_capacity(64),
            prefix_len: 0,
        }
    }

    fn push_decimal(&mut self, n: u32) {
        let mut digits = [0u8; 10];
        let len = write_decimal(n, &mut digits);
        self.buf.extend_from_slice(&digits[..len]);
    }

    /// Writes a server's part of its point names once, so the points of a server only
    /// append their number (a 10,000-server ring has a million names).
    /// libmemcached's ketama point name is `host-i`, or `host:port-i` unless the port is
    /// 11211; the spymemcached-style one `/host:port-i`, port always present.
    fn start(&mut self, server: &ServerName<'_>, spy: bool) {
        self.buf.clear();
        if spy {
            self.buf.push(b'/');
        }
        self.buf.extend_from_slice(server.host.as_bytes());
        if spy || server.port != DEFAULT_PORT {
            self.buf.push(b':');
            self.push_decimal(u32::from(server.port));
        }
        self.buf.push(b'-');
        self.prefix_len = self.buf.len();
    }

    /// The server's part of the names, as `start` wrote it.
    fn prefix(&self) -> &[u8] {
        &self.buf[..self.prefix_len]
    }

    /// The name of point `i` of the server given to `start`.
    fn point(&mut self, i: u32) -> &[u8] {
        self.buf.truncate(self.prefix_len);
        self.push_decimal(i);
        &self.buf
    }

    #[cfg(test)]
    fn ketama(&mut self, server: &ServerName<'_>, i: u32) -> &[u8] {
        self.start(server, false);
        self.point(i)
    }

    #[cfg(test)]
    fn spy(&mut self, server: &ServerName<'_>, i: u32) -> &[u8] {
        self.start(server, true);
        self.point(i)
    }
}

/// Counting sort of `from` into `to` by bucket `(value >> shift) - first`, for the
/// `bounds.len() - 1` buckets that `bounds` covers: on return bucket b is
/// `to[bounds[b]..bounds[b + 1]]`. Within a bucket the points keep their order.
fn sort_into_buckets(
    from: &[Point],
    to: &mut [Point],
    bounds: &mut [u32],
    shift: u32,
    first: usize,
) {
    bounds.fill(0);
    for p in from {
        bounds[(p.value >> shift) as usize - first + 1] += 1;
    }
    for b in 1..bounds.len() {
        bounds[b] += bounds[b - 1];
    }
    // Each bucket's next place: its start, kept in the slot of the bucket before it.
    for p in from {
        let place = &mut bounds[(p.value >> shift) as usize - first];
        to[*place as usize] = *p;
        *place += 1;
    }
    // The bumps moved every start to its bucket's end, one slot early: shift back.
    bounds.copy_within(0..bounds.len() - 1, 1);
    bounds[0] = 0;
}

/// One point of the ring. Ordered by value, then server index (the derived order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Point {
    value: u32,
    owner: u32,
}

/// One bucket of the index with its points inline: up to 7 of them, then the bucket's
/// successor (the first point of the following buckets, wrapping to point 0), in ring
/// order, the rest of the slot filled with copies of the successor. An entry is
/// `low << 16 | owner` with `low` the value's bits below the bucket's (at most 16 bits:
/// slots exist only with 2^16 buckets or more) and the successor's `low` all ones, so the
/// first entry `>= (hash's low bits) << 16` is the answer's server. A bucket of 8 or more
/// points (about 5 % of them at 4 points per bucket) has `OVERFLOW` in every entry, and
/// the lookup uses the index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(align(32))]
struct Slot([u32; 8]);

/// A slot whose bucket did not fit. Never a real entry: owners stay below 0xffff.
const OVERFLOW: u32 = u32::MAX;

impl Point {
    /// The derived order as one integer.
    #[inline]
    fn key(self) -> u64 {
        (u64::from(self.value) << 32) | u64::from(self.owner)
    }
}

/// Sorts one bucket of the index: an insertion sort for the handful of points hashes put
/// in a bucket (a general sort's setup cost more than the sorting), a general sort for the
/// crowded buckets a caller's own point hash may make.
fn sort_bucket(bucket: &mut [Point]) {
    if bucket.len() > 16 {
        bucket.sort_unstable();
        return;
    }
    for i in 1..bucket.len() {
        let p = bucket[i];
        let mut j = i;
        while j > 0 && bucket[j - 1].key() > p.key() {
            bucket[j] = bucket[j - 1];
            j -= 1;
        }
        bucket[j] = p;
    }
}

impl Continuum {
    /// Builds the lookup structure for `dist`, every server with weight 1. The server list is
    /// taken in the order given; indexes returned by lookups are indexes into it.
    pub fn build(servers: &[ServerName<'_>], dist: &Distribution) -> Continuum {
        Self::build_with_weights(servers, &[], dist)
    }

    /// Same, with server weights: `weights[i]` is server i's weight (missing or 0 counts as
    /// 1, as libmemcached stores it). Only weighted continua use them
    /// (`LibmemcachedKetamaWeighted`, `LibmemcachedKetamaPre1010`, and
    /// `Libmemcached` with `weighted`); modula, random, buckets and unweighted continua
    /// ignore them, as libmemcached does.
    pub fn build_with_weights(
        servers: &[ServerName<'_>],
        weights: &[u32],
        dist: &Distribution,
    ) -> Continuum {
        let (weighted, hash) = match dist {
            Distribution::LibmemcachedKetama => (false, HashAlgorithm::Default),
            Distribution::LibmemcachedKetamaWeighted => (true, HashAlgorithm::Md5),
            Distribution::LibmemcachedKetamaPre1010 => (true, HashAlgorithm::Default),
            Distribution::Custom(custom) => return Self::build_custom(servers, custom),
            Distribution::Libmemcached(config) => {
                return Self::build_libmemcached(servers, weights, |_| true, config)
            }
        };
        let config = LibmemcachedConfig::new(LibmemcachedLayout::Ketama, hash).weighted(weighted);
        Self::build_libmemcached(servers, weights, |_| true, &config)
    }

    /// Builds exactly what libmemcached 1.1.4's `update_continuum` builds.
    ///
    /// `weights[i]` is server i's weight (missing or 0 counts as 1, as libmemcached stores
    /// it). `include(i)` says whether server i is in the continuum (libmemcached leaves out
    /// auto-ejected servers, and their weights do not count); indexes stay those of `servers`.
    /// The result covers all of `servers` for `server_count()` and the one-server shortcut,
    /// as libmemcached's `memcached_server_count` does. Modula, random and virtual buckets
    /// ignore `include` (libmemcached's auto-eject does not change their routing). With no
    /// server included the ring is empty and consistent lookups answer None (libmemcached
    /// would keep its previous continuum; a caller that wants that keeps its old `Continuum`).
    pub fn build_libmemcached(
        servers: &[ServerName<'_>],
        weights: &[u32],
        mut include: impl FnMut(usize) -> bool,
        config: &LibmemcachedConfig,
    ) -> Continuum {
        let mut continuum = Continuum {
            server_count: servers.len(),
            key_hash: config.hash.clone(),
            ..Continuum::default()
        };
        match config.layout {
            LibmemcachedLayout::Ketama | LibmemcachedLayout::KetamaSpy => {}
            LibmemcachedLayout::Modula => {
                continuum.selection = Selection::Modula;
                return continuum;
            }
            LibmemcachedLayout::Random => {
                continuum.selection = Selection::Random;
                return continuum;
            }
            LibmemcachedLayout::VirtualBucket => {
                continuum.selection = Selection::VirtualBucket;
                continuum.buckets.clone_from(&config.buckets);
                return continuum;
            }
        }

        let weight_of = |i: usize| weights.get(i).copied().unwrap_or(1).max(1);
        let included: Vec<usize> = (0..servers.len()).filter(|&i| include(i)).collect();
        let live = included.len() as u32;
        let total_weight: u64 = included.iter().map(|&i| u64::from(weight_of(i))).sum();

        let points_of = |i: usize| {
            if config.weighted {
                weighted_points_per_server(weight_of(i), total_weight, live)
            } else {
                POINTS_PER_SERVER
            }
        };
        let total: usize = included.iter().map(|&i| points_of(i) as usize).sum();
        let mut points: Vec<Point> = Vec::with_capacity(total);
        let mut name = NameBuf::new();
        let spy = config.layout == LibmemcachedLayout::KetamaSpy;
        let point_hash = config.point_hash.as_ref().unwrap_or(&config.hash);
        for &i in &included {
            let server = &servers[i];
            let owner = i as u32;
            name.start(server, spy);
            if config.weighted {
                // Weighted points are MD5 whatever the base hash is (classic libketama):
                // each digest of the name "<prefix><n>" gives four points, its four
                // little-endian words.
                let digests = points_of(i) / POINTS_PER_HASH;
                let mut push = |words: &[u32]| {
                    points.extend(words.iter().map(|&value| Point { value, owner }));
                };
                if name.prefix_len + 10 <= hash::MD5_ONE_BLOCK_MAX {
                    // Eight names side by side (the last group padded with repeats, whose
                    // digests are dropped).
                    const LANES: usize = 8;
                    let mut bufs = [[0u8; 64]; LANES];
                    for buf in &mut bufs {
                        buf[..name.prefix_len].copy_from_slice(name.prefix());
                    }
                    for first in (0..digests).step_by(LANES) {
                        let mut lens = [0usize; LANES];
                        for (lane, (buf, len)) in bufs.iter_mut().zip(&mut lens).enumerate() {
                            let p = (first + lane as u32).min(digests - 1);
                            let digits = write_decimal(p, &mut buf[name.prefix_len..]);
                            *len = name.prefix_len + digits;
                        }
                        let out =
                            hash::md5_lanes::<LANES>(std::array::from_fn(|l| &bufs[l][..lens[l]]));
                        let used = (digests - first).min(LANES as u32) as usize;
                        for words in &out[..used] {
                            push(words);
                        }
                    }
                } else {
                    for p in 0..digests {
                        let d = hash::md5_digest(name.point(p));
                        let w = |k: usize| u32::from_le_bytes([d[k], d[k + 1], d[k + 2], d[k + 3]]);
                        push(&[w(0), w(4), w(8), w(12)]);
                    }
                }
            } else if matches!(point_hash, KeyHash::Algorithm(HashAlgorithm::Default)) {
                // The default hash continues from the server's part of the names, hashed
                // once, and from each tens digit once, instead of rehashing the name for
                // each of the 100 points ("<prefix>0" … "<prefix>99").
                let prefix_state = hash::one_at_a_time_update(0, name.prefix());
                let digit =
                    |state: u32, d: u32| hash::one_at_a_time_update(state, &[b'0' + d as u8]);
                let mut push = |state: u32| {
                    let value = hash::one_at_a_time_finish(state);
                    points.push(Point { value, owner });
                };
                for units in 0..10 {
                    push(digit(prefix_state, units));
                }
                for tens in 1..POINTS_PER_SERVER / 10 {
                    let tens_state = digit(prefix_state, tens);
                    for units in 0..10 {
                        push(digit(tens_state, units));
                    }
                }
            } else {
                for p in 0..POINTS_PER_SERVER {
                    let value = point_hash.hash(name.point(p));
                    points.push(Point { value, owner });
                }
            }
        }
        continuum.set_points(points);
        continuum
    }

    /// A caller's distribution, literally: for each server and point number, the point hash
    /// fills up to `entries_per_point` values; its return value says how many are used.
    fn build_custom(servers: &[ServerName<'_>], dist: &CustomDistribution) -> Continuum {
        let per_server = (dist.points_per_server as usize)
            .saturating_mul(dist.entries_per_point as usize)
            .min(1 << 20);
        let mut points: Vec<Point> =
            Vec::with_capacity(per_server.saturating_mul(servers.len()).min(1 << 24));
        let mut entries = vec![0u32; dist.entries_per_point as usize];
        let mut port_text = String::new();
        for (i, server) in servers.iter().enumerate() {
            port_text.clear();
            port_text.push_str(&server.port.to_string());
            for p in 0..dist.points_per_server {
                let n = (dist.point_hash)(server.host, &port_text, p, &mut entries);
                let n = (n as usize).min(entries.len());
                let owner = i as u32;
                points.extend(entries[..n].iter().map(|&value| Point { value, owner }));
            }
        }
        let mut continuum = Continuum {
            server_count: servers.len(),
            key_hash: KeyHash::Custom(dist.key_hash.clone()),
            ..Continuum::default()
        };
        continuum.set_points(points);
        continuum
    }

    /// Sorts by (value, server index) and builds the bucket index. libmemcached's qsort
    /// compares values only, and glibc 2.36's qsort is a stable merge sort, so equal values
    /// stay in insertion order: lower server index first (every builder pushes points in
    /// ascending server order). Sorting by the pair gives the same owner sequence, and
    /// equal pairs are indistinguishable.
    ///
    /// The index is the sort's first step: the points are counted per bucket (the top bits
    /// of the value, which hashes spread evenly), the running counts are the index, one pass
    /// moves every point into its bucket, and each bucket (about four points) is sorted on
    /// its own. Two linear passes instead of a radix sort's three plus the index's own.
    fn set_points(&mut self, mut points: Vec<Point>) {
        self.index = Vec::new();
        self.slots = Vec::new();
        let n = points.len();
        // None below 32 points, where a binary search is a few compares.
        if n < 32 {
            points.sort_unstable();
            self.points = points;
            return;
        }
        const MAX_BITS: u32 = 18;
        const GROUP_BITS: u32 = 8;
        let bits = ((n / 4).ilog2() + 1).min(MAX_BITS);
        self.index_shift = 32 - bits;
        let shift = self.index_shift;
        let buckets = 1usize << bits;
        let mut index = vec![0u32; buckets + 1];
        let mut sorted = vec![Point::default(); n];
        if bits <= GROUP_BITS {
            sort_into_buckets(&points, &mut sorted, &mut index, shift, 0);
        } else {
            // Two passes: by the top GROUP_BITS bits first (256 write streams, which the cache
            // holds), then each group into its buckets, whose places and counters then lie
            // within a few kilobytes. One pass straight into 2^18 buckets missed the cache on
            // nearly every point at 10,000 servers (half the build's time).
            let mut groups = [0u32; (1 << GROUP_BITS) + 1];
            sort_into_buckets(&points, &mut sorted, &mut groups, 32 - GROUP_BITS, 0);
            let per_group = 1usize << (bits - GROUP_BITS);
            for (g, bound) in groups.windows(2).enumerate() {
                let (start, end) = (bound[0], bound[1]);
                let (lo, hi) = (start as usize, end as usize);
                let first = g * per_group;
                sort_into_buckets(
                    &sorted[lo..hi],
                    &mut points[lo..hi],
                    &mut index[first..=first + per_group],
                    shift,
                    first,
                );
                // Places within the group are relative to it.
                for i in &mut index[first..=first + per_group] {
                    *i += start;
                }
            }
            std::mem::swap(&mut points, &mut sorted);
        }
        for b in index.windows(2) {
            sort_bucket(&mut sorted[b[0] as usize..b[1] as usize]);
        }
        self.points = sorted;
        self.index = index;
        self.build_slots(bits);
    }

    /// Fills `slots` from the sorted points and the index (see [`Slot`]).
    fn build_slots(&mut self, bits: u32) {
        self.slots = Vec::new();
        if bits < 16 || self.server_count >= 0xffff {
            return;
        }
        let low_mask = (1u32 << self.index_shift) - 1;
        let entry = |p: &Point| ((p.value & low_mask) << 16) | p.owner;
        let mut slots = Vec::with_capacity(self.index.len() - 1);
        for b in self.index.windows(2) {
            let (lo, hi) = (b[0] as usize, b[1] as usize);
            let bucket = &self.points[lo..hi];
            let mut entries = [OVERFLOW; 8];
            if bucket.len() < entries.len() {
                let successor = self.points.get(hi).unwrap_or(&self.points[0]);
                entries = [0xffff_0000 | successor.owner; 8];
                for (e, p) in entries.iter_mut().zip(bucket) {
                    *e = entry(p);
                }
            }
            slots.push(Slot(entries));
        }
        self.slots = slots;
    }

    /// The server of the first point `>= hash` from its slot; None without slots or when
    /// the bucket overflowed.
    #[inline]
    fn slot_owner(&self, hash: u32) -> Option<usize> {
        let slot = self.slots.get((hash >> self.index_shift) as usize)?;
        let key = (hash & ((1u32 << self.index_shift) - 1)) << 16;
        // The successor entry is >= every key, so this always finds one.
        let e = *slot.0.iter().find(|&&e| e >= key)?;
        (e != OVERFLOW).then_some((e & 0xffff) as usize)
    }

    /// Number of servers the continuum was built for (dead or alive).
    pub fn server_count(&self) -> usize {
        self.server_count
    }

    /// Number of points on the ring (0 for modula).
    pub fn point_count(&self) -> usize {
        self.points.len()
    }

    /// The point values, in ring order.
    #[cfg(test)]
    fn values(&self) -> Vec<u32> {
        self.points.iter().map(|p| p.value).collect()
    }

    /// The key hash of this distribution.
    #[inline]
    pub fn key_hash(&self, key: &[u8]) -> u32 {
        self.key_hash.hash(key)
    }

    /// Index of the first point whose value is >= `hash`, wrapping to 0 past the last one.
    /// None on an empty ring.
    #[inline]
    fn point_for_hash(&self, hash: u32) -> Option<usize> {
        let points = &self.points;
        if points.is_empty() {
            return None;
        }
        let i = if self.index.is_empty() {
            points.partition_point(|p| p.value < hash)
        } else {
            // Every point before index[b] is below the bucket, every point from index[b + 1]
            // above it: the answer lies in between (or is index[b + 1] itself).
            let b = (hash >> self.index_shift) as usize;
            let (lo, hi) = (self.index[b] as usize, self.index[b + 1] as usize);
            let bucket = &points[lo..hi];
            lo + if bucket.len() <= 8 {
                // A few points on one or two cache lines: a scan whose loads do not wait
                // for each other's results, unlike a binary search's.
                bucket.iter().take_while(|p| p.value < hash).count()
            } else {
                bucket.partition_point(|p| p.value < hash)
            }
        };
        Some(if i == points.len() { 0 } else { i })
    }

    /// Server for a key, ignoring liveness: libmemcached's `memcached_generate_hash`
    /// (without namespace hashing). None when there are no servers, when the ring is empty,
    /// or when a virtual bucket names a server index that does not exist.
    ///
    /// One server: libmemcached does not hash the key (hash 0), which routes to server 0 in
    /// every layout except a virtual bucket table, whose bucket 0 is used.
    pub fn server_for_key(&self, key: &[u8]) -> Option<usize> {
        match self.server_count {
            0 => None,
            1 if self.selection != Selection::VirtualBucket => Some(0),
            1 => self.server_for_hash(0),
            _ => self.server_for_hash(self.dispatch_hash(key)),
        }
    }

    /// The hash that selects a server: the key hash, except for random (not hashed).
    #[inline]
    fn dispatch_hash(&self, key: &[u8]) -> u32 {
        match self.selection {
            Selection::Random => 0,
            _ => self.key_hash(key),
        }
    }

    /// Server for a hash, ignoring liveness (libmemcached's `dispatch_host`).
    fn server_for_hash(&self, hash: u32) -> Option<usize> {
        let n = self.server_count;
        if n == 0 {
            return None;
        }
        match self.selection {
            Selection::Modula => Some(hash as usize % n),
            Selection::Consistent => self.slot_owner(hash).or_else(|| {
                self.point_for_hash(hash)
                    .map(|p| self.points[p].owner as usize)
            }),
            Selection::Random => Some(random_u32() as usize % n),
            Selection::VirtualBucket => {
                let idx = if self.buckets.is_empty() {
                    // libmemcached masks with the server count even when it is not a power
                    // of two (3 servers: indexes 0 and 2 only).
                    hash & (n as u32).wrapping_sub(1)
                } else {
                    let mask = (self.buckets.len() as u32).wrapping_sub(1);
                    // A table whose length is not a power of two is masked all the same;
                    // the index stays inside it.
                    self.buckets[(hash & mask) as usize % self.buckets.len()]
                };
                Some(idx as usize).filter(|&i| i < n)
            }
        }
    }

    /// Same, but walks clockwise past points whose server `is_live(idx)` says is dead
    /// (wrapping to point 0); None if every server is dead. One server: Some(0) if live.
    /// Modula, random and virtual buckets do not fail over: see [`Continuum::lookup_live`].
    pub fn server_for_key_live(
        &self,
        key: &[u8],
        is_live: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        match self.server_count {
            0 => None,
            1 => self.lookup_live(0, is_live, |_| {}),
            _ => self.lookup_live(self.dispatch_hash(key), is_live, |_| {}),
        }
    }

    /// The live walk starting from a hash (for the engine's retry logic). `on_skip(idx)` is
    /// called once for every point passed over because its server is dead, so the same server
    /// may be reported several times and the number of calls is the number of skipped points
    /// (what OMcache logs). The walk visits every point at most once, so with all servers dead
    /// it ends after one lap with None.
    ///
    /// On an unweighted continuum the walk gives exactly what libmemcached's auto-eject
    /// gives (it rebuilds the ring without the ejected servers, and every server's 100 points
    /// do not depend on the others). On a weighted one libmemcached's rebuild also
    /// redistributes the dead servers' share of the 160 × live points; a caller that wants
    /// that bit for bit rebuilds with [`Continuum::build_libmemcached`]'s `include` instead.
    ///
    /// Modula, random and virtual buckets do not fail over (libmemcached's routing ignores
    /// ejection there, spec §4.5: the operation fails on the dead server): the chosen server
    /// if it is live, else None after one `on_skip`. One server: Some(0) if live, whatever
    /// the ring holds (a virtual bucket table is consulted with hash 0).
    pub fn lookup_live(
        &self,
        hash: u32,
        mut is_live: impl FnMut(usize) -> bool,
        mut on_skip: impl FnMut(usize),
    ) -> Option<usize> {
        if self.server_count == 1 || self.selection != Selection::Consistent {
            let idx = match (self.server_count, self.selection) {
                (0, _) => return None,
                (1, Selection::VirtualBucket) => self.server_for_hash(0)?,
                (1, _) => 0,
                _ => self.server_for_hash(hash)?,
            };
            if is_live(idx) {
                return Some(idx);
            }
            on_skip(idx);
            return None;
        }
        // Nearly always the first point's server takes keys: answer without setting up
        // the walk (and, from its slot, without touching the index or the points).
        let first = match self.slot_owner(hash) {
            Some(owner) => owner,
            None => self.points[self.point_for_hash(hash)?].owner as usize,
        };
        if is_live(first) {
            return Some(first);
        }
        on_skip(first);
        // Then clockwise: the points after it, then from point 0 up to it.
        let start = self.point_for_hash(hash)?;
        let (wrapped, from_start) = self.points.split_at(start);
        for point in from_start[1..].iter().chain(wrapped) {
            let idx = point.owner as usize;
            if is_live(idx) {
                return Some(idx);
            }
            on_skip(idx);
        }
        None
    }
}

/// A uniformly distributed u32 for the RANDOM distribution (libmemcached uses `random()`;
/// its sequence is not reproducible across processes either). std's per-thread random
/// SipHash keys advance on every `RandomState::new()`, so each call hashes a fresh key.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    let v = h.finish();
    (v ^ (v >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket sort gives the (value, server) order of a comparison sort, duplicates
    /// across servers included, for points in any order.
    #[test]
    fn bucket_sort_matches_the_comparison_sort() {
        let mut seed = 12345u32;
        let mut points: Vec<Point> = Vec::new();
        for owner in (0..300u32).rev() {
            for _ in 0..100 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                // Few distinct values in the low range, so equal values meet across servers.
                let value = if seed % 5 == 0 { seed % 97 } else { seed };
                points.push(Point { value, owner });
            }
        }
        let mut expected = points.clone();
        expected.sort_unstable();
        let mut c = Continuum::default();
        c.set_points(points);
        assert_eq!(c.points, expected);
    }

    /// The bucket index answers exactly what a binary search over the whole ring answers:
    /// rings of 0 to 70,000 points (with duplicates, clusters and the extremes), probed at
    /// every point value, its neighbours, the bucket edges and pseudo-random hashes.
    #[test]
    fn bucket_index_agrees_with_a_plain_search() {
        let mut seed = 0x9e37_79b9u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for n in [0usize, 1, 31, 32, 33, 100, 400, 1000, 4096, 70_000, 140_000] {
            let mut points: Vec<Point> = (0..n)
                .map(|i| Point {
                    value: next(),
                    owner: i as u32 % 7,
                })
                .collect();
            if n > 40 {
                points[0].value = 0;
                points[1].value = u32::MAX;
                points[2].value = points[3].value; // a duplicate value
                for p in points.iter_mut().take(40).skip(10) {
                    p.value = 0x8000_0000 + (p.value & 0xff); // a dense cluster in one bucket
                }
            }
            let mut c = Continuum {
                server_count: 7,
                selection: Selection::Consistent,
                ..Continuum::default()
            };
            c.set_points(points);
            assert_eq!(c.index.is_empty(), n < 32, "n = {n}");
            let values = c.values();
            let plain = |h: u32| {
                let i = values.partition_point(|&v| v < h);
                (!c.points.is_empty()).then_some(if i == c.points.len() { 0 } else { i })
            };
            let mut probes: Vec<u32> = vec![0, 1, u32::MAX, u32::MAX - 1, 0x8000_0000];
            for &v in &values {
                probes.extend([v, v.wrapping_sub(1), v.wrapping_add(1)]);
            }
            if !c.index.is_empty() {
                for b in 0..(c.index.len() as u64 - 1) {
                    let edge = (b << c.index_shift) as u32;
                    probes.extend([edge, edge.wrapping_sub(1)]);
                }
            }
            probes.extend((0..20_000).map(|_| next()));
            // Rings of 2^17 points and more have slots (some overflowing: the cluster).
            assert_eq!(c.slots.is_empty(), n < 1 << 17, "n = {n}");
            let overflows = c.slots.iter().filter(|s| s.0[0] == OVERFLOW).count();
            assert!(c.slots.is_empty() || overflows > 0);
            for h in probes {
                assert_eq!(c.point_for_hash(h), plain(h), "n = {n}, hash = {h:#x}");
                let owner = plain(h).map(|i| c.points[i].owner as usize);
                assert_eq!(c.server_for_hash(h), owner, "n = {n}, hash = {h:#x}");
                assert_eq!(c.lookup_live(h, |_| true, |_| {}), owner);
                // The first server dead: the walk goes on to the next point's server.
                if let (Some(first), Some(i)) = (owner, plain(h)) {
                    let next = (i + 1..c.points.len())
                        .chain(0..i)
                        .map(|j| c.points[j].owner as usize)
                        .find(|&s| s != first);
                    assert_eq!(c.lookup_live(h, |s| s != first, |_| {}), next);
                }
            }
        }
        // Too many servers for a slot's 16-bit owner: no slots, the index answers.
        let mut c = Continuum {
            server_count: 0xffff,
            ..Continuum::default()
        };
        let points = (0..140_000u32).map(|i| Point {
            value: i.wrapping_mul(0x9e37_79b9),
            owner: i % 0xffff,
        });
        c.set_points(points.collect());
        assert!(c.slots.is_empty() && !c.index.is_empty());
        for h in [0, 5, 0x8000_0000, u32::MAX] {
            let i = c.point_for_hash(h).unwrap();
            assert_eq!(c.server_for_hash(h), Some(c.points[i].owner as usize));
        }
    }

    fn names<'a>(list: &'a [(String, u16)]) -> Vec<ServerName<'a>> {
        list.iter()
            .map(|(h, p)| ServerName { host: h, port: *p })
            .collect()
    }

    /// "host:port" -> (host, port); IPv6 keeps its brackets.
    fn parse(entry: &str) -> (String, u16) {
        let (h, p) = entry.rsplit_once(':').unwrap();
        (h.to_string(), p.parse().unwrap())
    }

    /// OMcache's `omcache-ketama-vectors.tsv` (1,500 vectors made by OMcache 0.3 itself).
    /// OMcache sorted its server list by host, then port string.
    #[test]
    fn omcache_golden_vectors() {
        let data = include_str!("../compat-tests/vectors/omcache-ketama-vectors.tsv");
        let header = data.lines().next().unwrap();
        let list = header.strip_prefix("# servers: ").unwrap();
        let mut servers: Vec<(String, u16)> = list.split(',').map(parse).collect();
        servers.sort_by(|a, b| (&a.0, a.1.to_string()).cmp(&(&b.0, b.1.to_string())));
        let names = names(&servers);
        let build = |d: Distribution| Continuum::build(&names, &d);
        let ketama = build(Distribution::LibmemcachedKetama);
        let weighted = build(Distribution::LibmemcachedKetamaWeighted);
        let pre1010 = build(Distribution::LibmemcachedKetamaPre1010);
        assert_eq!(weighted.point_count(), 5 * 160);
        let mut checked = 0;
        for line in data.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split('\t').collect();
            let c = match f[0] {
                "libmemcached_ketama" => &ketama,
                "libmemcached_ketama_weighted" => &weighted,
                "libmemcached_ketama_pre1010" => &pre1010,
                other => panic!("unknown method {other}"),
            };
            let idx = c.server_for_key(f[1].as_bytes()).unwrap();
            let got = format!("{}:{}", servers[idx].0, servers[idx].1);
            assert_eq!(got, f[2], "{} {}", f[0], f[1]);
            checked += 1;
        }
        assert_eq!(checked, 1500);
    }

    /// compat-tests/keymap_keys.h's key generator, so that golden vectors made by the C
    /// programs can be replayed here (a mismatch here would fail the replay test).
    fn keymap_key(i: u32) -> Vec<u8> {
        let mut st = i.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut next = move || {
            st = st.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            st >> 8
        };
        match i % 5 {
            0 => format!("key:{i}").into_bytes(),
            1 => {
                let len = 1 + next() % 250;
                (0..len).map(|_| (0x21 + next() % 94) as u8).collect()
            }
            2 => {
                let len = 1 + next() % 40;
                (0..len).map(|_| (1 + next() % 255) as u8).collect()
            }
            3 => format!("cl\u{e9}:{i}:\u{fc}n\u{ef}c\u{f8}d\u{e9}").into_bytes(),
            _ => {
                let len = 200 + next() % 51;
                (0..len).map(|_| next() as u8).collect()
            }
        }
    }

    /// A libmemcached server list entry as memcached_servers_parse stores it.
    fn parse_lmc(entry: &str) -> (String, u16) {
        if entry.starts_with('/') {
            return (entry.to_string(), 0);
        }
        let (host, port) = match entry.strip_prefix('[') {
            Some(_) => {
                let end = entry.find(']').unwrap() + 1;
                (&entry[..end], entry[end..].strip_prefix(':'))
            }
            None => match entry.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (entry, None),
            },
        };
        (host.to_string(), port.map_or(11211, |p| p.parse().unwrap()))
    }

    /// Golden vectors from the real libmemcached 1.1.4 (compat-tests/gen-lmc-vectors.sh):
    /// float-trap server counts, IPv6, unix sockets, other ports, keys with bytes >= 0x80.
    /// Also shows that OMcache 0.3's fixed 160 points would not match at trapped counts.
    #[test]
    fn libmemcached_keymap_vectors() {
        let data = include_str!("../compat-tests/vectors/lmc-keymap.txt");
        let mut lines = data.lines().filter(|l| !l.starts_with('#'));
        let mut configs = 0;
        while let (Some(head), Some(indexes)) = (lines.next(), lines.next()) {
            let (mode, list) = head.split_once('\t').unwrap();
            let servers: Vec<(String, u16)> = list.split(',').map(parse_lmc).collect();
            let names = names(&servers);
            let dist = match mode {
                "ketama" => Distribution::LibmemcachedKetama,
                "weighted" => Distribution::LibmemcachedKetamaWeighted,
                "pre1010" => Distribution::LibmemcachedKetamaPre1010,
                other => panic!("unknown mode {other}"),
            };
            let c = Continuum::build(&names, &dist);
            // OMcache 0.3's weighted methods: always 40 x 4 MD5 points.
            let old = Distribution::Custom(CustomDistribution {
                points_per_server: 40,
                entries_per_point: 4,
                point_hash: Arc::new(|host: &str, port: &str, p: u32, out: &mut [u32]| {
                    let name = if port == "11211" {
                        format!("{host}-{p}")
                    } else {
                        format!("{host}:{port}-{p}")
                    };
                    let d = hash::md5_digest(name.as_bytes());
                    for (o, w) in out.iter_mut().zip(d.chunks_exact(4)) {
                        *o = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                    }
                    4
                }),
                key_hash: match mode {
                    "weighted" => Arc::new(hash::md5_le32),
                    _ => Arc::new(hash::one_at_a_time),
                },
            });
            let old = Continuum::build(&names, &old);
            let (mut keys, mut old_diffs) = (0u32, 0);
            for (i, want) in indexes.split(' ').enumerate() {
                let key = keymap_key(i as u32);
                let want: usize = want.parse().unwrap();
                assert_eq!(c.server_for_key(&key), Some(want), "{mode} {list} key {i}");
                if mode != "ketama" && old.server_for_key(&key) != Some(want) {
                    old_diffs += 1;
                }
                keys += 1;
            }
            assert_eq!(keys, 2000);
            let trapped = mode != "ketama" && [25, 47, 50].contains(&servers.len());
            assert_eq!(old_diffs > 0, trapped, "{mode} {} servers", servers.len());
            configs += 1;
        }
        assert_eq!(configs, 10);
    }

    const FIXTURE_SERVERS: [(&str, u32); 8] = [
        ("10.0.1.1", 600),
        ("10.0.1.2", 300),
        ("10.0.1.3", 200),
        ("10.0.1.4", 350),
        ("10.0.1.5", 1000),
        ("10.0.1.6", 800),
        ("10.0.1.7", 950),
        ("10.0.1.8", 100),
    ];

    /// libmemcached's own ketama fixture (upstream test/fixtures/ketama.hpp, reproduced with
    /// the real 1.1.4): unequal weights, MD5 keys; lines 1-99 KETAMA, 100-198 KETAMA_SPY.
    /// Columns: key, server, key hash, value of the (KETAMA) point the key lands on.
    #[test]
    fn libmemcached_weighted_fixture() {
        let keys = include_str!("../compat-tests/vectors/ketama_fixture_keys.txt");
        let expected = include_str!("../compat-tests/vectors/ketama_fixture_expected.txt");
        let names: Vec<ServerName<'_>> = FIXTURE_SERVERS
            .iter()
            .map(|&(h, _)| ServerName {
                host: h,
                port: 11211,
            })
            .collect();
        let weights: Vec<u32> = FIXTURE_SERVERS.iter().map(|&(_, w)| w).collect();
        let build = |layout| {
            let config = LibmemcachedConfig::new(layout, HashAlgorithm::Md5).weighted(true);
            Continuum::build_libmemcached(&names, &weights, |_| true, &config)
        };
        let ketama = build(LibmemcachedLayout::Ketama);
        let spy = build(LibmemcachedLayout::KetamaSpy);
        let mut n = 0;
        // The expected file's first column repeats the key (no key contains a tab).
        for (i, (key, exp)) in keys.lines().zip(expected.lines()).enumerate() {
            let cols: Vec<&str> = exp.split('\t').collect();
            assert_eq!(cols[0], key, "line {i}");
            let (server, key_hash, point) = (cols[1], cols[2], cols[3]);
            let c = if i < 99 { &ketama } else { &spy };
            assert_eq!(c.key_hash(key.as_bytes()).to_string(), key_hash, "line {i}");
            // The point column belongs to the KETAMA ring; upstream's SPY half repeats it.
            if i < 99 {
                let p = c.point_for_hash(c.key_hash(key.as_bytes())).unwrap();
                assert_eq!(c.points[p].value.to_string(), point, "line {i}");
            }
            let idx = c.server_for_key(key.as_bytes()).unwrap();
            assert_eq!(FIXTURE_SERVERS[idx].0, server, "line {i} key {key:?}");
            n += 1;
        }
        assert_eq!(n, 198);
    }

    #[test]
    fn float_trap_server_counts() {
        let trapped = [
            25, 47, 50, 55, 61, 71, 94, 100, 107, 109, 110, 115, 122, 142, 159, 163, 188, 193, 200,
        ];
        for n in 1..=200u32 {
            let want = if trapped.contains(&n) { 156 } else { 160 };
            assert_eq!(
                weighted_points_per_server(1, u64::from(n), n),
                want,
                "{n} servers"
            );
        }
        // And the continuum uses it: 25 equal servers -> 3,900 points (measured in 1.1.4).
        let list: Vec<(String, u16)> = (0..25).map(|i| (format!("10.0.0.{i}"), 11211)).collect();
        let c = Continuum::build(&names(&list), &Distribution::LibmemcachedKetamaWeighted);
        assert_eq!(c.point_count(), 3900);
        let c = Continuum::build(&names(&list), &Distribution::LibmemcachedKetamaPre1010);
        assert_eq!(c.point_count(), 3900);
        let c = Continuum::build(&names(&list), &Distribution::LibmemcachedKetama);
        assert_eq!(c.point_count(), 2500);
    }

    #[test]
    fn point_names() {
        let mut b = NameBuf::new();
        let s = |h, p| ServerName { host: h, port: p };
        assert_eq!(b.ketama(&s("10.1.2.3", 11211), 0), b"10.1.2.3-0");
        assert_eq!(b.ketama(&s("10.1.2.3", 11211), 39), b"10.1.2.3-39");
        assert_eq!(
            b.ketama(&s("cache-a.example", 4000), 99),
            b"cache-a.example:4000-99"
        );
        assert_eq!(b.ketama(&s("[::1]", 11212), 3), b"[::1]:11212-3");
        assert_eq!(b.ketama(&s("/tmp/mc.sock", 0), 7), b"/tmp/mc.sock:0-7");
        assert_eq!(b.spy(&s("10.0.1.1", 11211), 0), b"/10.0.1.1:11211-0");
        assert_eq!(b.ketama(&s("h", 65535), u32::MAX), b"h:65535-4294967295");
    }

    /// A distribution whose points are given literally: server i gets the values in
    /// `table[i]`; keys hash to their decimal value.
    fn literal(table: &'static [&'static [u32]]) -> (Vec<(String, u16)>, Distribution) {
        let servers = (0..table.len()).map(|i| (format!("s{i}"), 11211)).collect();
        let dist = Distribution::Custom(CustomDistribution {
            points_per_server: 1,
            entries_per_point: 8,
            point_hash: Arc::new(move |host: &str, port: &str, p: u32, out: &mut [u32]| {
                assert_eq!(port, "11211");
                assert_eq!(p, 0);
                let vals = table[host[1..].parse::<usize>().unwrap()];
                out[..vals.len()].copy_from_slice(vals);
                vals.len() as u32
            }),
            key_hash: Arc::new(|k: &[u8]| std::str::from_utf8(k).unwrap().parse().unwrap()),
        });
        (servers, dist)
    }

    #[test]
    fn lookup_lower_bound_and_wrap() {
        let (servers, dist) = literal(&[&[100, 300], &[200, 400]]);
        let c = Continuum::build(&names(&servers), &dist);
        assert_eq!(c.point_count(), 4);
        let at = |k: &str| c.server_for_key(k.as_bytes()).unwrap();
        assert_eq!(at("0"), 0);
        assert_eq!(at("100"), 0); // equal -> that point (>=, not >)
        assert_eq!(at("101"), 1);
        assert_eq!(at("200"), 1);
        assert_eq!(at("300"), 0);
        assert_eq!(at("400"), 1);
        assert_eq!(at("401"), 0); // past the last point: wrap to point 0
        assert_eq!(at("4294967295"), 0);
    }

    #[test]
    fn live_walk_wraps_to_point_zero() {
        // Ring: 100->s0, 200->s1, 300->s2. A key past 300 whose first candidate (point 0, s0)
        // is dead must go to s1 (point 1). Starting at point 2 (s2 dead) it wraps to point 0,
        // which OMcache 0.3 skipped; we must land on s0.
        let (servers, dist) = literal(&[&[100], &[200], &[300]]);
        let c = Continuum::build(&names(&servers), &dist);
        let mut skipped = Vec::new();
        let got = c.lookup_live(250, |i| i != 2, |i| skipped.push(i));
        assert_eq!(got, Some(0));
        assert_eq!(skipped, vec![2]);
        assert_eq!(c.server_for_key_live(b"350", |i| i != 0), Some(1));
        assert_eq!(c.server_for_key_live(b"150", |i| i == 0), Some(0));
        assert_eq!(c.server_for_key_live(b"150", |i| i == 1), Some(1));
        // All dead: one lap, every point reported, then None.
        let mut skipped = Vec::new();
        assert_eq!(c.lookup_live(150, |_| false, |i| skipped.push(i)), None);
        assert_eq!(skipped, vec![1, 2, 0]);
        assert_eq!(c.server_for_key_live(b"1", |_| false), None);
        // Liveness-ignoring lookup is unaffected.
        assert_eq!(c.server_for_key(b"250"), Some(2));
    }

    #[test]
    fn skip_reports_every_point() {
        let (servers, dist) = literal(&[&[10, 20, 30], &[40]]);
        let c = Continuum::build(&names(&servers), &dist);
        let mut n = 0;
        assert_eq!(c.lookup_live(5, |i| i == 1, |_| n += 1), Some(1));
        assert_eq!(n, 3);
    }

    #[test]
    fn ties_go_to_the_lower_server_index() {
        // All points collide: glibc's stable qsort keeps insertion order, so server 0 wins.
        let (servers, dist) = literal(&[&[7], &[7], &[7]]);
        let c = Continuum::build(&names(&servers), &dist);
        assert_eq!(c.server_for_key(b"7"), Some(0));
        assert_eq!(c.server_for_key(b"8"), Some(0));
        assert_eq!(c.server_for_key_live(b"7", |i| i != 0), Some(1));
    }

    #[test]
    fn custom_return_value_caps_entries() {
        let dist = Distribution::Custom(CustomDistribution {
            points_per_server: 3,
            entries_per_point: 4,
            // Claims more than fits: capped at entries_per_point. Point 1 gives none.
            point_hash: Arc::new(|_: &str, _: &str, p: u32, out: &mut [u32]| {
                out.fill(p);
                [99, 0, 2][p as usize]
            }),
            key_hash: Arc::new(|_: &[u8]| 0),
        });
        let servers = vec![("a".to_string(), 1), ("b".to_string(), 2)];
        let c = Continuum::build(&names(&servers), &dist);
        assert_eq!(c.point_count(), 2 * (4 + 2));
        assert_eq!(c.server_count(), 2);
    }

    #[test]
    fn custom_without_points() {
        let dist = Distribution::Custom(CustomDistribution {
            points_per_server: 0,
            entries_per_point: 1,
            point_hash: Arc::new(|_: &str, _: &str, _: u32, _: &mut [u32]| 1),
            key_hash: Arc::new(|_: &[u8]| 0),
        });
        let two = vec![("a".to_string(), 1), ("b".to_string(), 2)];
        let c = Continuum::build(&names(&two), &dist);
        assert_eq!(c.server_for_key(b"k"), None);
        assert_eq!(c.server_for_key_live(b"k", |_| true), None);
        // One server never consults the ring.
        let c = Continuum::build(&names(&two[..1]), &dist);
        assert_eq!(c.server_for_key(b"k"), Some(0));
        assert_eq!(c.server_for_key_live(b"k", |_| true), Some(0));
        assert_eq!(c.server_for_key_live(b"k", |_| false), None);
    }

    #[test]
    fn empty_and_single() {
        let c = Continuum::default();
        assert_eq!(c.server_count(), 0);
        assert_eq!(c.server_for_key(b"x"), None);
        assert_eq!(c.server_for_key_live(b"x", |_| true), None);
        assert_eq!(c.lookup_live(0, |_| true, |_| {}), None);
        let built = Continuum::build(&[], &Distribution::default());
        assert_eq!(built.server_for_key(b"x"), None);
        let one = [ServerName {
            host: "127.0.0.1",
            port: 11211,
        }];
        for d in [
            Distribution::LibmemcachedKetama,
            Distribution::LibmemcachedKetamaWeighted,
            Distribution::LibmemcachedKetamaPre1010,
        ] {
            let c = Continuum::build(&one, &d);
            assert_eq!(c.server_for_key(b"anything"), Some(0));
            let mut skipped = 0;
            assert_eq!(c.lookup_live(12345, |_| false, |_| skipped += 1), None);
            assert_eq!(skipped, 1);
            assert_eq!(c.lookup_live(12345, |_| true, |_| {}), Some(0));
        }
        assert!(format!("{:?}", Continuum::default()).contains("server_count: 0"));
    }

    #[test]
    fn key_hashes_per_distribution() {
        let two = vec![("a".to_string(), 11211), ("b".to_string(), 11211)];
        let k = b"hello";
        let c = Continuum::build(&names(&two), &Distribution::LibmemcachedKetama);
        assert_eq!(c.key_hash(k), 3_372_029_979);
        let c = Continuum::build(&names(&two), &Distribution::LibmemcachedKetamaWeighted);
        assert_eq!(c.key_hash(k), 708_854_109);
        let c = Continuum::build(&names(&two), &Distribution::LibmemcachedKetamaPre1010);
        assert_eq!(c.key_hash(k), 3_372_029_979);
    }

    #[test]
    fn modula() {
        let three = vec![
            ("a".to_string(), 11211),
            ("b".to_string(), 11211),
            ("c".to_string(), 11211),
        ];
        let config = LibmemcachedConfig::new(LibmemcachedLayout::Modula, HashAlgorithm::Default)
            .weighted(false);
        let c = Continuum::build_libmemcached(&names(&three), &[], |_| true, &config);
        assert_eq!(c.point_count(), 0);
        let k = b"hello";
        let want = (hash::one_at_a_time(k) % 3) as usize;
        assert_eq!(c.server_for_key(k), Some(want));
        assert_eq!(c.server_for_key_live(k, |_| true), Some(want));
        // No fail-over in modula.
        assert_eq!(c.server_for_key_live(k, |i| i != want), None);
    }

    #[test]
    fn excluded_servers_keep_their_indexes() {
        // libmemcached's auto-eject rebuild: the ring holds only included servers, weights and
        // the live count are over those, and indexes still refer to the full list.
        let list: Vec<(String, u16)> = (0..4).map(|i| (format!("h{i}.example"), 11211)).collect();
        let config =
            LibmemcachedConfig::new(LibmemcachedLayout::Ketama, HashAlgorithm::Md5).weighted(true);
        let c = Continuum::build_libmemcached(&names(&list), &[], |i| i != 2, &config);
        assert_eq!(c.server_count(), 4);
        assert_eq!(c.point_count(), 3 * 160);
        for i in 0..2000u32 {
            let idx = c.server_for_key(&i.to_be_bytes()).unwrap();
            assert_ne!(idx, 2);
            assert!(idx < 4);
        }
    }

    fn lmc(layout: LibmemcachedLayout, hash: HashAlgorithm) -> Distribution {
        Distribution::Libmemcached(LibmemcachedConfig::new(layout, hash))
    }

    #[test]
    fn layout_from_c() {
        use LibmemcachedLayout::*;
        let want = [
            Modula,
            Ketama,
            Ketama,
            Random,
            KetamaSpy,
            Ketama,
            VirtualBucket,
        ];
        for (v, w) in want.iter().enumerate() {
            assert_eq!(LibmemcachedLayout::from_c(v as u32), Some(*w));
        }
        assert_eq!(LibmemcachedLayout::from_c(7), None);
        assert!(Ketama.is_consistent() && KetamaSpy.is_consistent());
        assert!(!Modula.is_consistent() && !Random.is_consistent());
        assert!(!VirtualBucket.is_consistent());
    }

    #[test]
    fn libmemcached_variant_matches_the_omcache_methods() {
        // The three OMcache methods are points of the general configuration.
        let list: Vec<(String, u16)> = (0..7).map(|i| (format!("h{i}"), 11211 + i)).collect();
        let names = names(&list);
        let pairs = [
            (
                Distribution::LibmemcachedKetama,
                false,
                HashAlgorithm::Default,
            ),
            (
                Distribution::LibmemcachedKetamaWeighted,
                true,
                HashAlgorithm::Md5,
            ),
            (
                Distribution::LibmemcachedKetamaPre1010,
                true,
                HashAlgorithm::Default,
            ),
        ];
        for (old, weighted, hash) in pairs {
            let new = Distribution::Libmemcached(
                LibmemcachedConfig::new(LibmemcachedLayout::Ketama, hash).weighted(weighted),
            );
            let (a, b) = (
                Continuum::build(&names, &old),
                Continuum::build(&names, &new),
            );
            assert_eq!(a.points, b.points);
            for i in 0..500u32 {
                let k = keymap_key(i);
                assert_eq!(a.server_for_key(&k), b.server_for_key(&k));
            }
        }
    }

    #[test]
    fn weights_reach_the_continuum() {
        // The upstream fixture through the public entry point.
        let names: Vec<ServerName<'_>> = FIXTURE_SERVERS
            .iter()
            .map(|&(h, _)| ServerName::new(h, 11211))
            .collect();
        let weights: Vec<u32> = FIXTURE_SERVERS.iter().map(|&(_, w)| w).collect();
        let dist = Distribution::Libmemcached(
            LibmemcachedConfig::new(LibmemcachedLayout::Ketama, HashAlgorithm::Md5).weighted(true),
        );
        let c = Continuum::build_with_weights(&names, &weights, &dist);
        let keys = include_str!("../compat-tests/vectors/ketama_fixture_keys.txt");
        let expected = include_str!("../compat-tests/vectors/ketama_fixture_expected.txt");
        for (key, exp) in keys.lines().zip(expected.lines()).take(99) {
            let idx = c.server_for_key(key.as_bytes()).unwrap();
            assert_eq!(FIXTURE_SERVERS[idx].0, exp.split('\t').nth(1).unwrap());
        }
        // Unweighted continua and modula ignore weights; weight 0 counts as 1.
        for layout in [LibmemcachedLayout::Ketama, LibmemcachedLayout::Modula] {
            let d = lmc(layout, HashAlgorithm::Crc);
            let a = Continuum::build_with_weights(&names, &weights, &d);
            let b = Continuum::build(&names, &d);
            assert_eq!(a.points, b.points);
        }
        let d = Distribution::LibmemcachedKetamaWeighted;
        let a = Continuum::build_with_weights(&names, &[0; 8], &d);
        let b = Continuum::build(&names, &d);
        assert_eq!(a.points, b.points);
    }

    #[test]
    fn key_hash_is_independent_of_the_distribution() {
        let three = vec![
            ("a".to_string(), 11211),
            ("b".to_string(), 11211),
            ("c".to_string(), 11211),
        ];
        let names = names(&three);
        let algs = [
            HashAlgorithm::Default,
            HashAlgorithm::Md5,
            HashAlgorithm::Crc,
            HashAlgorithm::Fnv1_64,
            HashAlgorithm::Fnv1a_64,
            HashAlgorithm::Fnv1_32,
            HashAlgorithm::Fnv1a_32,
            HashAlgorithm::Murmur,
            HashAlgorithm::Jenkins,
            HashAlgorithm::Murmur3,
        ];
        for alg in algs {
            let h = alg.hash(b"hello").unwrap();
            let c = Continuum::build(&names, &lmc(LibmemcachedLayout::Modula, alg));
            assert_eq!(c.key_hash(b"hello"), h);
            assert_eq!(c.server_for_key(b"hello"), Some(h as usize % 3));
            // Unweighted points are hashed with the same algorithm.
            let c = Continuum::build(&names, &lmc(LibmemcachedLayout::Ketama, alg));
            assert!(c.values().contains(&alg.hash(b"b-7").unwrap()));
            let c = Continuum::build(&names, &lmc(LibmemcachedLayout::KetamaSpy, alg));
            assert!(c.values().contains(&alg.hash(b"/b:11211-7").unwrap()));
        }
    }

    #[test]
    fn virtual_buckets() {
        let three = vec![
            ("a".to_string(), 11211),
            ("b".to_string(), 11211),
            ("c".to_string(), 11211),
        ];
        let names = names(&three);
        // Values measured with the real 1.1.4 (3 servers, default hash).
        let keys: [(&[u8], u32); 3] =
            [(b"k0", 3230140454), (b"k1", 857173315), (b"k3", 3477808556)];
        let none = Continuum::build(
            &names,
            &lmc(LibmemcachedLayout::VirtualBucket, HashAlgorithm::Default),
        );
        let table =
            LibmemcachedConfig::new(LibmemcachedLayout::VirtualBucket, HashAlgorithm::Default)
                .with_buckets(&[2, 1, 0, 1]);
        let with = Continuum::build(&names, &Distribution::Libmemcached(table));
        for ((key, hash), (no_table, with_table)) in keys.iter().zip([(2, 0), (2, 1), (0, 2)]) {
            assert_eq!(none.key_hash(key), *hash);
            // Without a table: hash & (3 - 1), so never server 1.
            assert_eq!(none.server_for_key(key), Some(no_table));
            assert_eq!(with.server_for_key(key), Some(with_table));
        }
        // No fail-over: the bucket's server or nothing.
        assert_eq!(with.server_for_key_live(b"k1", |i| i != 0), Some(1));
        assert_eq!(with.server_for_key_live(b"k1", |i| i != 1), None);
        let mut skipped = vec![];
        assert_eq!(with.lookup_live(3, |_| false, |i| skipped.push(i)), None);
        assert_eq!(skipped, vec![1]);
        // A bucket naming a server that does not exist answers None.
        let bad =
            LibmemcachedConfig::new(LibmemcachedLayout::VirtualBucket, HashAlgorithm::Default)
                .with_buckets(&[7]);
        let c = Continuum::build(&names, &Distribution::Libmemcached(bad.clone()));
        assert_eq!(c.server_for_key(b"k0"), None);
        // One server: hash 0, bucket 0 (libmemcached does not hash the key).
        let c = Continuum::build(&names[..1], &Distribution::Libmemcached(bad));
        assert_eq!(c.server_for_key(b"k0"), None);
        let one =
            LibmemcachedConfig::new(LibmemcachedLayout::VirtualBucket, HashAlgorithm::Default)
                .with_buckets(&[0, 5]);
        let c = Continuum::build(&names[..1], &Distribution::Libmemcached(one));
        assert_eq!(c.server_for_key(b"k1"), Some(0)); // hash would pick bucket 1
        assert_eq!(c.server_for_key_live(b"k1", |_| true), Some(0));
        assert_eq!(c.server_for_key_live(b"k1", |_| false), None);
    }

    #[test]
    fn random_spreads_and_does_not_fail_over() {
        let list: Vec<(String, u16)> = (0..4).map(|i| (format!("r{i}"), 11211)).collect();
        let names = names(&list);
        let c = Continuum::build(
            &names,
            &lmc(LibmemcachedLayout::Random, HashAlgorithm::Default),
        );
        assert_eq!(c.point_count(), 0);
        let mut seen = [0u32; 4];
        for _ in 0..4000 {
            seen[c.server_for_key(b"same key").unwrap()] += 1;
        }
        // Uniform: each of 4 servers ~1000 times; 700 is > 9 sigma away.
        assert!(seen.iter().all(|&n| n > 700), "{seen:?}");
        // Dead pick: None, never another server.
        let mut none = 0;
        for _ in 0..400 {
            match c.server_for_key_live(b"k", |i| i != 0) {
                None => none += 1,
                Some(i) => assert_ne!(i, 0),
            }
        }
        assert!(none > 40 && none < 200, "{none}");
        // One server: always 0.
        let c = Continuum::build(
            &names[..1],
            &lmc(LibmemcachedLayout::Random, HashAlgorithm::Md5),
        );
        assert_eq!(c.server_for_key(b"x"), Some(0));
    }

    #[test]
    fn one_server_is_not_hashed() {
        // Even an algorithm that cannot hash (HSIEH) or a ring with no points gives server 0.
        let one = [ServerName::new("10.0.0.1", 11211)];
        for layout in [
            LibmemcachedLayout::Modula,
            LibmemcachedLayout::Ketama,
            LibmemcachedLayout::KetamaSpy,
            LibmemcachedLayout::Random,
            LibmemcachedLayout::VirtualBucket,
        ] {
            let c = Continuum::build(&one, &lmc(layout, HashAlgorithm::Hsieh));
            assert_eq!(c.server_for_key(b"anything"), Some(0), "{layout:?}");
            assert_eq!(c.server_for_key_live(b"anything", |_| true), Some(0));
            assert_eq!(c.server_for_key_live(b"anything", |_| false), None);
        }
    }

    #[test]
    fn excluded_unweighted_servers_equal_the_live_walk() {
        // libmemcached's auto-eject rebuild without server 2 == our walk past its points,
        // for unweighted rings (each server's points do not depend on the others).
        let list: Vec<(String, u16)> = (0..5)
            .map(|i| (format!("e{i}.example"), 4000 + i))
            .collect();
        let names = names(&list);
        for layout in [LibmemcachedLayout::Ketama, LibmemcachedLayout::KetamaSpy] {
            let config = LibmemcachedConfig::new(layout, HashAlgorithm::Fnv1a_32);
            let full = Continuum::build(&names, &Distribution::Libmemcached(config.clone()));
            let ejected = Continuum::build_libmemcached(&names, &[], |i| i != 2, &config);
            for i in 0..2000 {
                let k = keymap_key(i);
                assert_eq!(
                    full.server_for_key_live(&k, |s| s != 2),
                    ejected.server_for_key(&k)
                );
            }
        }
    }
}
