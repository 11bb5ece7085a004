//! The requests in flight on a connection, in send order, and the key fingerprints that
//! check key-returning answers.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use crate::protocol;

/// Why a request is in flight: the caller's, or one the engine added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    User,
    /// A NOOP that closes a run of quiet requests so their completion becomes visible.
    TrailingNoop,
    /// The NOOP of a background reconnect to a dead server: its answer brings it back.
    Probe,
    /// The SASL authentication that opens a connection, ahead of everything else on it.
    Auth,
    /// A quiet delete of a copy written here while the key's own server was out of service,
    /// sent once that server has taken its keys back (see `CopiesElsewhere`); its answer,
    /// if any, is nobody's.
    Cleanup,
}

/// A request queued or sent on this connection whose outcome is not known yet.
#[derive(Clone, Copy, Debug)]
pub struct InFlight {
    pub opaque: u32,
    /// The request's binary opcode (text and meta answers are mapped with it).
    pub opcode: u8,
    pub quiet: bool,
    pub origin: Origin,
    /// Routed by key (not to an explicit server index): may move to the key's next server
    /// if it never left.
    pub keyed: bool,
    /// For requests whose answer carries the key (GETK, GATK and their quiet forms): a
    /// fingerprint of the key asked for, so that an answer with another key is caught.
    /// 0: nothing to check.
    pub key_tag: u64,
}

/// The fingerprints' modulus: the Mersenne prime 2^61 - 1.
const TAG_PRIME: u64 = (1 << 61) - 1;

/// The secret point the fingerprints are evaluated at, drawn at random once per process
/// (from the random keys std gives its hash maps).
static TAG_POINT: OnceLock<u64> = OnceLock::new();

fn tag_point() -> u64 {
    *TAG_POINT.get_or_init(|| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x6b65_795f_7461_6773);
        (h.finish() % TAG_PRIME).max(2)
    })
}

/// `a * b` modulo 2^61 - 1, for `a` and `b` below 2^62.
#[inline(always)]
fn mul_mod_prime(a: u64, b: u64) -> u64 {
    let x = u128::from(a) * u128::from(b);
    // 2^61 = 1 (mod p): fold the high bits onto the low ones, twice.
    let s = (x as u64 & TAG_PRIME) + (x >> 61) as u64;
    let s = (s & TAG_PRIME) + (s >> 61);
    if s >= TAG_PRIME {
        s - TAG_PRIME
    } else {
        s
    }
}

/// The fingerprint of a key that `InFlight::key_tag` keeps (never 0). It catches an answer
/// carrying another key (a desynchronised stream, a lying server) without storing keys per
/// request, and over text it is what a VALUE line is matched to its get by.
///
/// A polynomial evaluated modulo 2^61 - 1 at a random point secret to the process, whose
/// coefficients are the key's length, then its bytes in pieces of seven: two different keys
/// of at most 250 bytes share a fingerprint with probability at most 38 / 2^61, whoever chose
/// them. Keyed, because whoever chooses key names must not be able to make two keys share
/// one: with the unkeyed mix used before, a key computed in milliseconds to collide with a
/// missing key took that key's place in a text multi-get, and its value was handed out as
/// the missing key's.
// Inlined: on every request's path, where the call cost as much as the body.
#[inline(always)]
pub fn key_tag(key: &[u8]) -> u64 {
    const LOW56: u64 = (1 << 56) - 1;
    let r = tag_point();
    let n = key.len();
    // Horner's rule, the length first: keys of different lengths differ in the leading
    // coefficient or in the degree, so zero bytes in front or behind cannot make two keys
    // one. Every coefficient is below 2^56, every sum below 2^62.
    let mut h = (n as u64 + 1) & TAG_PRIME;
    let mut rest = key;
    // Seven bytes at a time, each read as eight while eight are left.
    while let Some(word) = rest.first_chunk::<8>() {
        h = mul_mod_prime(h, r) + (u64::from_le_bytes(*word) & LOW56);
        rest = &rest[7..];
    }
    // The last 0 to 7 bytes, one more coefficient.
    let tail = match key.last_chunk::<8>() {
        // 1 to 7 bytes left: shifts of 8 to 56 bits.
        Some(last) => u64::from_le_bytes(*last) >> (8 * (8 - rest.len())),
        None => rest
            .iter()
            .enumerate()
            .fold(0u64, |t, (j, &b)| t | u64::from(b) << (8 * j)),
    };
    mul_mod_prime(h, r) + tail + 1
}

/// Whether an opcode's answer carries the request's key (and so must be checked).
pub fn returns_key(op: u8) -> bool {
    use protocol::opcode::*;
    matches!(op, GETK | GETKQ | GATK | GATKQ)
}

/// The requests queued or sent on a connection, in send order (= answer order), with a count
/// of those that will be answered (non-quiet), so that "is an answer awaited" is O(1) even
/// with a million quiet requests queued.
#[derive(Debug, Default)]
pub(super) struct InFlightQueue {
    entries: VecDeque<InFlight>,
    awaiting: usize,
}

impl InFlightQueue {
    pub(super) fn push(&mut self, f: InFlight) {
        self.awaiting += usize::from(!f.quiet);
        self.entries.push_back(f);
    }

    // Inlined: on every request's path, where the call cost as much as the body.
    #[inline(always)]
    pub(super) fn pop_front(&mut self) -> Option<InFlight> {
        let f = self.entries.pop_front()?;
        self.awaiting -= usize::from(!f.quiet);
        Some(f)
    }

    /// Takes the entry at `i` out of the queue (a text VALUE answering a get of its line that
    /// is not the first still unanswered).
    pub(super) fn take(&mut self, i: usize) -> Option<InFlight> {
        let f = if i == 0 {
            self.entries.pop_front()?
        } else {
            self.entries.remove(i)?
        };
        self.awaiting -= usize::from(!f.quiet);
        Some(f)
    }

    pub(super) fn push_front(&mut self, f: InFlight) {
        self.awaiting += usize::from(!f.quiet);
        self.entries.push_front(f);
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &InFlight> {
        self.entries.iter()
    }

    pub(super) fn get(&self, i: usize) -> Option<&InFlight> {
        self.entries.get(i)
    }

    pub(super) fn front(&self) -> Option<&InFlight> {
        self.entries.front()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.awaiting = 0;
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn awaits_response(&self) -> bool {
        self.awaiting > 0
    }

    /// Where a response's opaque is in the queue; None for a late (or bogus) answer.
    pub(super) fn position(&self, opaque: u32) -> Option<usize> {
        let front = self.entries.front()?;
        if front.opaque == opaque {
            // The usual case: answers come in order.
            return Some(0);
        }
        let back = self.entries.back()?;
        // Ids increase along the queue unless they wrapped around inside it (rare): an id
        // outside the queue's range is answered without a scan.
        if front.opaque <= back.opaque && !(front.opaque..=back.opaque).contains(&opaque) {
            return None;
        }
        self.entries.iter().position(|f| f.opaque == opaque)
    }
}
