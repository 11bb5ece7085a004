//! Key-hash algorithms, bit-exact with libmemcached 1.1.4's libhashkit (as shipped by Debian 12).
//!
//! Every function here is pure and allocation-free. Several of libhashkit's functions walk the
//! key as C `char`, which is signed on x86, so a byte >= 0x80 enters the hash sign-extended
//! (0x80 -> 0xffffff80). Deployed clusters were sharded with that behaviour, so we reproduce it
//! wherever libhashkit has it (one-at-a-time and the four FNV variants) and nowhere else.
//!
//! The reference values in the tests were measured with the real library
//! (`shared/spec/libmemcached/hashes.txt`, `signed.txt`).

use md5::{Digest, Md5};

/// A byte as libhashkit's `(uint32_t) *(const char *)p` sees it on a signed-char platform.
#[inline]
fn signed_byte(b: u8) -> u32 {
    b as i8 as i32 as u32
}

/// Bob Jenkins' one-at-a-time hash: libmemcached's DEFAULT hash and the point hash of its
/// unweighted ketama. Bytes are sign-extended (libhashkit reads them through `const char *`).
pub fn one_at_a_time(key: &[u8]) -> u32 {
    one_at_a_time_finish(one_at_a_time_update(0, key))
}

/// One-at-a-time is a stream: the state after a common prefix can be kept and continued
/// (a ketama ring hashes "host:port-0" … "host:port-99" for every server).
#[inline]
pub fn one_at_a_time_update(mut h: u32, bytes: &[u8]) -> u32 {
    #[inline(always)]
    fn mix(mut h: u32, b: u8) -> u32 {
        h = h.wrapping_add(signed_byte(b));
        h = h.wrapping_add(h << 10);
        h ^ (h >> 6)
    }
    // Four bytes per iteration: the hash is one chain of dependent steps, so the loop's own
    // bookkeeping is what unrolling saves (a third of the instructions of a short key).
    let mut quads = bytes.chunks_exact(4);
    for q in &mut quads {
        h = mix(mix(mix(mix(h, q[0]), q[1]), q[2]), q[3]);
    }
    for &b in quads.remainder() {
        h = mix(h, b);
    }
    h
}

/// The final mix of one-at-a-time, after `one_at_a_time_update`.
#[inline]
pub fn one_at_a_time_finish(mut h: u32) -> u32 {
    h = h.wrapping_add(h << 3);
    h ^= h >> 11;
    h.wrapping_add(h << 15)
}

/// The standard 16-byte MD5 digest (used for weighted ketama points: 4 points per digest).
pub fn md5_digest(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// The longest message `md5_lanes` takes: one 64-byte block less the 0x80 byte and the 8-byte
/// length.
pub const MD5_ONE_BLOCK_MAX: usize = 55;

/// MD5's per-step constants (RFC 1321's T table, `floor(|sin(i + 1)| * 2^32)`).
#[rustfmt::skip]
const MD5_T: [u32; 64] = [
    0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee,
    0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
    0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be,
    0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
    0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa,
    0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
    0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed,
    0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
    0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c,
    0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
    0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05,
    0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
    0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039,
    0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
    0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1,
    0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
];

/// The MD5 digests of N messages of at most [`MD5_ONE_BLOCK_MAX`] bytes each, as the
/// digests' four little-endian words (`out[lane][k]` = bytes `4k..4k + 4` of that digest,
/// which is how weighted ketama reads its four points).
///
/// A continuum of 10,000 weighted servers hashes 400,000 short point names. MD5 is one long
/// chain of dependent steps, so one digest at a time leaves the CPU mostly waiting; lanes
/// side by side are independent (the compiler maps four of them onto one SIMD register,
/// and runs two registers' chains interleaved for N = 8) and cost little more than one.
/// Bit-exact with `md5_digest` (tested against it).
pub fn md5_lanes<const N: usize>(messages: [&[u8]; N]) -> [[u32; 4]; N] {
    // Each message padded into its own block: bytes, 0x80, zeros, bit length (LE u64).
    let mut words = [[0u32; N]; 16];
    for (lane, msg) in messages.iter().enumerate() {
        assert!(
            msg.len() <= MD5_ONE_BLOCK_MAX,
            "md5_lanes: message over one block"
        );
        let mut block = [0u8; 64];
        block[..msg.len()].copy_from_slice(msg);
        block[msg.len()] = 0x80;
        block[56..].copy_from_slice(&(msg.len() as u64 * 8).to_le_bytes());
        for (w, bytes) in words.iter_mut().zip(block.chunks_exact(4)) {
            w[lane] = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
    }
    md5_lanes_blocks(&words)
}

const MD5_INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The word index each step of a round reads.
const fn md5_g1(i: usize) -> usize {
    i
}
const fn md5_g2(i: usize) -> usize {
    (5 * i + 1) % 16
}
const fn md5_g3(i: usize) -> usize {
    (3 * i + 5) % 16
}
const fn md5_g4(i: usize) -> usize {
    (7 * i) % 16
}

/// One round's 16 steps, unrolled so every shift count and word index is a constant.
macro_rules! md5_round {
    ($step:ident, $f:expr, $base:expr, [$s0:literal, $s1:literal, $s2:literal, $s3:literal], $g:expr) => {
        $step!($f, $base, $g(0), $s0);
        $step!($f, $base + 1, $g(1), $s1);
        $step!($f, $base + 2, $g(2), $s2);
        $step!($f, $base + 3, $g(3), $s3);
        $step!($f, $base + 4, $g(4), $s0);
        $step!($f, $base + 5, $g(5), $s1);
        $step!($f, $base + 6, $g(6), $s2);
        $step!($f, $base + 7, $g(7), $s3);
        $step!($f, $base + 8, $g(8), $s0);
        $step!($f, $base + 9, $g(9), $s1);
        $step!($f, $base + 10, $g(10), $s2);
        $step!($f, $base + 11, $g(11), $s3);
        $step!($f, $base + 12, $g(12), $s0);
        $step!($f, $base + 13, $g(13), $s1);
        $step!($f, $base + 14, $g(14), $s2);
        $step!($f, $base + 15, $g(15), $s3);
    };
}

/// The compression of one block per lane, from MD5's initial state; `words[g][lane]` is
/// word g of lane's block.
///
/// Written as a loop over the lanes around a whole single-lane MD5: the body is too long to
/// be unrolled, so the compiler's loop vectorizer turns the iterations into one pass
/// with a lane per SIMD element (SSE2 on every x86_64; `words` and `state` are laid out
/// lane-minor so its loads and stores are contiguous).
fn md5_lanes_blocks<const N: usize>(words: &[[u32; N]; 16]) -> [[u32; 4]; N] {
    let mut state = [[0u32; N]; 4];
    for lane in 0..N {
        let [a, b, c, d] = md5_compress_one(|g| words[g][lane]);
        state[0][lane] = a;
        state[1][lane] = b;
        state[2][lane] = c;
        state[3][lane] = d;
    }
    std::array::from_fn(|lane| state.map(|word| word[lane]))
}

/// One MD5 block from the initial state; `word(g)` is the block's word g.
#[inline(always)]
fn md5_compress_one(word: impl Fn(usize) -> u32) -> [u32; 4] {
    let [mut a, mut b, mut c, mut d] = MD5_INIT;
    // One step: a = b + rotl(a + f(b, c, d) + T[i] + M[g], s), then the registers rotate.
    macro_rules! step {
        ($f:expr, $i:expr, $g:expr, $s:literal) => {{
            let t = a
                .wrapping_add($f(b, c, d))
                .wrapping_add(MD5_T[$i])
                .wrapping_add(word($g))
                .rotate_left($s)
                .wrapping_add(b);
            (a, b, c, d) = (d, t, b, c);
        }};
    }
    let ff = |b: u32, c: u32, d: u32| (b & c) | (!b & d);
    let gg = |b: u32, c: u32, d: u32| (d & b) | (!d & c);
    let hh = |b: u32, c: u32, d: u32| b ^ c ^ d;
    let ii = |b: u32, c: u32, d: u32| c ^ (b | !d);
    md5_round!(step, ff, 0, [7, 12, 17, 22], md5_g1);
    md5_round!(step, gg, 16, [5, 9, 14, 20], md5_g2);
    md5_round!(step, hh, 32, [4, 11, 16, 23], md5_g3);
    md5_round!(step, ii, 48, [6, 10, 15, 21], md5_g4);
    [
        a.wrapping_add(MD5_INIT[0]),
        b.wrapping_add(MD5_INIT[1]),
        c.wrapping_add(MD5_INIT[2]),
        d.wrapping_add(MD5_INIT[3]),
    ]
}

/// libhashkit's MD5 key hash: the first four digest bytes as a little-endian u32.
pub fn md5_le32(key: &[u8]) -> u32 {
    let d = md5_digest(key);
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

/// The reflected CRC-32 (IEEE 802.3) table, built at compile time so the hash stays a pure
/// table walk without any lazy initialisation.
const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// libhashkit's CRC hash: bits 16..30 of the standard CRC-32, i.e. `((~crc) >> 16) & 0x7fff`
/// over the running (un-inverted) register. It can be 0: libhashkit has no "or 1" here.
/// The table index masks each byte, so there is no signedness issue.
pub fn crc32_libmemcached(key: &[u8]) -> u32 {
    let mut crc: u32 = u32::MAX;
    for &b in key {
        crc = (crc >> 8) ^ CRC32_TABLE[((crc ^ u32::from(b)) & 0xff) as usize];
    }
    ((!crc) >> 16) & 0x7fff
}

const FNV_32_OFFSET: u32 = 2_166_136_261;
const FNV_32_PRIME: u32 = 16_777_619;
const FNV_64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1, 32-bit (multiply, then xor the sign-extended byte).
pub fn fnv1_32(key: &[u8]) -> u32 {
    key.iter().fold(FNV_32_OFFSET, |h, &b| {
        h.wrapping_mul(FNV_32_PRIME) ^ signed_byte(b)
    })
}

/// FNV-1a, 32-bit (xor the sign-extended byte, then multiply).
pub fn fnv1a_32(key: &[u8]) -> u32 {
    key.iter().fold(FNV_32_OFFSET, |h, &b| {
        (h ^ signed_byte(b)).wrapping_mul(FNV_32_PRIME)
    })
}

/// A byte sign-extended to 64 bits, as libhashkit's `(uint64_t) key[x]` does.
/// (Only the low 32 bits of the 64-bit FNVs are returned, and those never depend on the high
/// half of the operands; doing it exactly anyway keeps the code obviously faithful.)
#[inline]
fn signed_byte64(b: u8) -> u64 {
    b as i8 as i64 as u64
}

/// FNV-1, 64-bit, truncated to the low 32 bits (libhashkit's FNV1_64).
pub fn fnv1_64(key: &[u8]) -> u32 {
    let h = key.iter().fold(FNV_64_OFFSET, |h, &b| {
        h.wrapping_mul(FNV_64_PRIME) ^ signed_byte64(b)
    });
    h as u32
}

/// FNV-1a, 64-bit, truncated to the low 32 bits (libhashkit's FNV1A_64).
pub fn fnv1a_64(key: &[u8]) -> u32 {
    let h = key.iter().fold(FNV_64_OFFSET, |h, &b| {
        (h ^ signed_byte64(b)).wrapping_mul(FNV_64_PRIME)
    });
    h as u32
}

/// Reads a little-endian u32 from exactly four bytes (libhashkit reads native words; x86 is LE,
/// and fixing the byte order keeps our results identical on every platform).
#[inline]
fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// libhashkit's MURMUR: MurmurHash2 (32-bit) with seed `0xdeadbeef * len`; bytes unsigned.
/// Lengths beyond u32 wrap exactly as the C `(uint32_t)length` cast does.
pub fn murmur(key: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = key.len() as u32;
    let seed = 0xdead_beef_u32.wrapping_mul(len);
    let mut h = seed ^ len;

    let mut blocks = key.chunks_exact(4);
    for block in &mut blocks {
        let mut k = le32(block);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        if tail.len() >= 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// libhashkit's MURMUR3: MurmurHash3_x86_32 with seed `0xdeadbeef * len`; bytes unsigned.
pub fn murmur3(key: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let len = key.len() as u32;
    let mut h = 0xdead_beef_u32.wrapping_mul(len);

    let mut blocks = key.chunks_exact(4);
    for block in &mut blocks {
        let k = le32(block)
            .wrapping_mul(C1)
            .rotate_left(15)
            .wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k: u32 = 0;
        for (i, &b) in tail.iter().enumerate() {
            k |= u32::from(b) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }

    h ^= len;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// libhashkit's JENKINS: Bob Jenkins' lookup3 `hashlittle` with initval 13. libhashkit reads
/// aligned 32-bit words and masks the tail; on little-endian that equals reading the bytes
/// (unsigned) as zero-padded little-endian words, which is what we do.
pub fn jenkins(key: &[u8]) -> u32 {
    const INITVAL: u32 = 13;

    #[inline]
    fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(4);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(6);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(8);
        *b = b.wrapping_add(*a);
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(16);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(19);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(4);
        *b = b.wrapping_add(*a);
    }

    #[inline]
    fn finish(a: &mut u32, b: &mut u32, c: &mut u32) {
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(14));
        *a ^= *c;
        *a = a.wrapping_sub(c.rotate_left(11));
        *b ^= *a;
        *b = b.wrapping_sub(a.rotate_left(25));
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(16));
        *a ^= *c;
        *a = a.wrapping_sub(c.rotate_left(4));
        *b ^= *a;
        *b = b.wrapping_sub(a.rotate_left(14));
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(24));
    }

    /// Up to four bytes as a zero-padded little-endian word.
    #[inline]
    fn word(bytes: &[u8]) -> u32 {
        bytes
            .iter()
            .enumerate()
            .fold(0u32, |w, (i, &b)| w | (u32::from(b) << (8 * i)))
    }

    let init = 0xdead_beef_u32
        .wrapping_add(key.len() as u32)
        .wrapping_add(INITVAL);
    let (mut a, mut b, mut c) = (init, init, init);

    // All but the last block (1..=12 bytes) go through mix(); the last one through finish().
    let mut rest = key;
    while rest.len() > 12 {
        a = a.wrapping_add(le32(&rest[0..4]));
        b = b.wrapping_add(le32(&rest[4..8]));
        c = c.wrapping_add(le32(&rest[8..12]));
        mix(&mut a, &mut b, &mut c);
        rest = &rest[12..];
    }
    if rest.is_empty() {
        // lookup3 returns c untouched for a zero-length (remaining) input.
        return c;
    }
    let n = rest.len();
    a = a.wrapping_add(word(&rest[..n.min(4)]));
    if n > 4 {
        b = b.wrapping_add(word(&rest[4..n.min(8)]));
    }
    if n > 8 {
        c = c.wrapping_add(word(&rest[8..n]));
    }
    finish(&mut a, &mut b, &mut c);
    c
}

/// libmemcached's `memcached_hash_t` algorithms (discriminants equal the C enum values).
/// The variant names mirror the C names (`FNV1A_64` -> `Fnv1a_64`), hence the lint exception.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u32)]
pub enum HashAlgorithm {
    /// One-at-a-time.
    #[default]
    Default = 0,
    Md5 = 1,
    Crc = 2,
    Fnv1_64 = 3,
    Fnv1a_64 = 4,
    Fnv1_32 = 5,
    Fnv1a_32 = 6,
    /// Not compiled into Debian's libhashkit; selecting it fails there.
    Hsieh = 7,
    Murmur = 8,
    Jenkins = 9,
    Murmur3 = 10,
}

impl HashAlgorithm {
    /// Hashes `key`; None for an algorithm that Debian's libhashkit does not have (Hsieh).
    pub fn hash(self, key: &[u8]) -> Option<u32> {
        Some(match self {
            HashAlgorithm::Default => one_at_a_time(key),
            HashAlgorithm::Md5 => md5_le32(key),
            HashAlgorithm::Crc => crc32_libmemcached(key),
            HashAlgorithm::Fnv1_64 => fnv1_64(key),
            HashAlgorithm::Fnv1a_64 => fnv1a_64(key),
            HashAlgorithm::Fnv1_32 => fnv1_32(key),
            HashAlgorithm::Fnv1a_32 => fnv1a_32(key),
            HashAlgorithm::Hsieh => return None,
            HashAlgorithm::Murmur => murmur(key),
            HashAlgorithm::Jenkins => jenkins(key),
            HashAlgorithm::Murmur3 => murmur3(key),
        })
    }

    /// Whether the algorithm is available (libhashkit_has_algorithm in Debian's build).
    pub fn is_available(self) -> bool {
        self != HashAlgorithm::Hsieh
    }

    /// The algorithm for a `memcached_hash_t` number; None for CUSTOM (11) and out-of-range
    /// values, which a caller handles itself.
    pub fn from_c(value: u32) -> Option<HashAlgorithm> {
        Some(match value {
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
            10 => HashAlgorithm::Murmur3,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED_INPUT: &[u8] = &[0xe9, 0x61, 0x80];

    // hashes.txt: every algorithm over "hello", measured with libhashkit 1.1.4.
    #[test]
    fn hello_reference_values() {
        let k = b"hello";
        assert_eq!(one_at_a_time(k), 3_372_029_979);
        assert_eq!(md5_le32(k), 708_854_109);
        assert_eq!(crc32_libmemcached(k), 13_840);
        assert_eq!(fnv1_64(k), 3_183_334_599);
        assert_eq!(fnv1a_64(k), 2_158_673_163);
        assert_eq!(fnv1_32(k), 3_069_866_343);
        assert_eq!(fnv1a_32(k), 1_335_831_723);
        assert_eq!(murmur(k), 1_377_504_255);
        assert_eq!(jenkins(k), 772_589_811);
        assert_eq!(murmur3(k), 1_067_880_409);
    }

    // signed.txt: bytes >= 0x80 (signed-char quirk where libhashkit has it).
    #[test]
    fn signed_reference_values() {
        assert_eq!(one_at_a_time(&[0xff, 0x80, 0x61]), 2_522_159_071);
        let k = SIGNED_INPUT;
        assert_eq!(one_at_a_time(k), 3_509_582_986);
        assert_eq!(md5_le32(k), 3_037_469_102);
        assert_eq!(crc32_libmemcached(k), 18_476);
        assert_eq!(fnv1_64(k), 1_808_974_457);
        assert_eq!(fnv1a_64(k), 3_041_382_413);
        assert_eq!(fnv1_32(k), 1_266_490_777);
        assert_eq!(fnv1a_32(k), 2_458_011_821);
        assert_eq!(murmur(k), 514_122_583);
        assert_eq!(jenkins(k), 550_216_879);
        assert_eq!(murmur3(k), 1_934_109_930);
    }

    #[test]
    fn unsigned_fnv_would_differ() {
        // README §4.1: the unsigned variant of FNV1A_32(e9 61 80) is 2558772909; make sure the
        // quirk is what distinguishes us from it.
        let unsigned = SIGNED_INPUT.iter().fold(FNV_32_OFFSET, |h, &b| {
            (h ^ u32::from(b)).wrapping_mul(FNV_32_PRIME)
        });
        assert_eq!(unsigned, 2_558_772_909);
        assert_ne!(fnv1a_32(SIGNED_INPUT), unsigned);
    }

    #[test]
    fn enum_dispatch_matches_functions() {
        let k = b"hello";
        let expect = [
            (HashAlgorithm::Default, Some(3_372_029_979)),
            (HashAlgorithm::Md5, Some(708_854_109)),
            (HashAlgorithm::Crc, Some(13_840)),
            (HashAlgorithm::Fnv1_64, Some(3_183_334_599)),
            (HashAlgorithm::Fnv1a_64, Some(2_158_673_163)),
            (HashAlgorithm::Fnv1_32, Some(3_069_866_343)),
            (HashAlgorithm::Fnv1a_32, Some(1_335_831_723)),
            (HashAlgorithm::Hsieh, None),
            (HashAlgorithm::Murmur, Some(1_377_504_255)),
            (HashAlgorithm::Jenkins, Some(772_589_811)),
            (HashAlgorithm::Murmur3, Some(1_067_880_409)),
        ];
        for (alg, want) in expect {
            assert_eq!(alg.hash(k), want, "{alg:?}");
            assert_eq!(HashAlgorithm::from_c(alg as u32), Some(alg));
            assert_eq!(alg.is_available(), want.is_some());
        }
        assert_eq!(HashAlgorithm::from_c(11), None);
        assert_eq!(HashAlgorithm::default(), HashAlgorithm::Default);
    }

    #[test]
    fn empty_key() {
        assert_eq!(one_at_a_time(b""), 0);
        assert_eq!(fnv1_32(b""), FNV_32_OFFSET);
        assert_eq!(fnv1a_32(b""), FNV_32_OFFSET);
        assert_eq!(fnv1_64(b""), FNV_64_OFFSET as u32);
        assert_eq!(crc32_libmemcached(b""), 0);
        // lookup3 of nothing is its initial state: 0xdeadbeef + 0 + 13.
        assert_eq!(jenkins(b""), 0xdead_beef_u32 + 13);
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e.
        assert_eq!(md5_le32(b""), 0xd98c_1dd4);
    }

    #[test]
    fn md5_self_test_vector() {
        // omcache-behavior.md §5.3 self-test vector.
        let d = md5_digest(b"TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION");
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "b98321f15389f7d04a1e9a8d41403b3b");
    }

    #[test]
    fn crc_is_standard_crc32() {
        // The standard CRC-32 of "123456789" is 0xcbf43926; libhashkit returns bits 16..30.
        assert_eq!(
            crc32_libmemcached(b"123456789"),
            (0xcbf4_3926 >> 16) & 0x7fff
        );
    }

    /// Every algorithm over 261 lengths (0..=260) of a byte pattern that covers every tail
    /// length, multi-block keys and bytes >= 0x80. The expected folds and first values were
    /// computed with Debian's real libhashkit 1.1.4 (`libhashkit_digest`), folding each hash as
    /// `acc = acc.rotate_left(5) ^ h`.
    #[test]
    fn length_sweep_matches_libhashkit() {
        let buf: Vec<u8> = (0..300u32).map(|i| (i * 37 + 11) as u8).collect();
        let cases: [(HashAlgorithm, u32, [u32; 8]); 10] = [
            (
                HashAlgorithm::Default,
                1_797_353_486,
                [
                    0, 3377599137, 2427589874, 3836108001, 1385188278, 3847449592, 4176249419,
                    3280025422,
                ],
            ),
            (
                HashAlgorithm::Md5,
                3_363_603_779,
                [
                    3649838548, 3657418771, 3982763682, 3306581383, 1072476047, 2843807147,
                    950813484, 1292963763,
                ],
            ),
            (
                HashAlgorithm::Crc,
                1_645_282_383,
                [0, 17872, 1268, 14163, 9522, 7886, 13633, 28527],
            ),
            (
                HashAlgorithm::Fnv1_64,
                4_021_482_361,
                [
                    2216829733, 2248259540, 3035323660, 1810832177, 1732981817, 2067153732,
                    2731258696, 1608408241,
                ],
            ),
            (
                HashAlgorithm::Fnv1a_64,
                4_141_552_384,
                [
                    2216829733, 2248263466, 3037024558, 2550756353, 1477504257, 1530700410,
                    4160244186, 2769983657,
                ],
            ),
            (
                HashAlgorithm::Fnv1_32,
                2_748_376_247,
                [
                    2166136261, 84696340, 108430924, 2023057905, 3291858457, 106505924, 1034418504,
                    2828178353,
                ],
            ),
            (
                HashAlgorithm::Fnv1a_32,
                3_146_594_819,
                [
                    2166136261, 235694922, 2542612750, 3997479489, 1361351393, 3245170010,
                    517340858, 3357545897,
                ],
            ),
            (
                HashAlgorithm::Murmur,
                1_909_503_881,
                [
                    0, 3105735872, 3636884067, 513041420, 4005580336, 333923648, 2250903706,
                    3557784333,
                ],
            ),
            (
                HashAlgorithm::Jenkins,
                1_076_715_005,
                [
                    3735928572, 1346054349, 2035594942, 2701946838, 3102792001, 1636029523,
                    2625560680, 1550396296,
                ],
            ),
            (
                HashAlgorithm::Murmur3,
                4_105_582_099,
                [
                    0, 514670990, 3305837260, 2389515091, 565745578, 265105304, 1153006370,
                    1010392356,
                ],
            ),
        ];
        for (alg, fold, first) in cases {
            let got: Vec<u32> = (0..8).map(|n| alg.hash(&buf[..n]).unwrap()).collect();
            assert_eq!(got, first, "{alg:?} first lengths");
            let acc = (0..=260).fold(0u32, |acc, n| {
                acc.rotate_left(5) ^ alg.hash(&buf[..n]).unwrap()
            });
            assert_eq!(acc, fold, "{alg:?} sweep");
        }
    }

    /// The many-lane MD5 against the md5 crate: every length it takes, bytes of every value,
    /// lanes of different lengths side by side.
    #[test]
    fn md5_lanes_matches_md5() {
        fn check(msgs: &[&[u8]], got: &[[u32; 4]], len: usize) {
            for (lane, msg) in msgs.iter().enumerate() {
                let d = md5_digest(msg);
                let want: Vec<u32> = d
                    .chunks_exact(4)
                    .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                    .collect();
                assert_eq!(got[lane].to_vec(), want, "len {len} lane {lane}");
            }
        }
        let data: Vec<u8> = (0..=255u8).cycle().skip(7).take(400).collect();
        for len in 0..=MD5_ONE_BLOCK_MAX {
            let msgs: [&[u8]; 4] = [
                &data[..len],
                &data[100..100 + MD5_ONE_BLOCK_MAX - len],
                &data[200..200 + len / 2],
                &data[300..300 + len],
            ];
            let eight: [&[u8]; 8] =
                std::array::from_fn(|l| &data[l * 40..l * 40 + (len + 7 * l) % 56]);
            check(&msgs, &md5_lanes(msgs), len);
            check(&eight, &md5_lanes(eight), len);
        }
    }
}
