//! The requests in flight on a connection, in send order, and the key fingerprints that
//! check key-returning answers.

use std::collections::VecDeque;

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

/// The fingerprint of a key that `InFlight::key_tag` keeps (64 bits over the length and the
/// bytes, eight at a time; never 0). A desynchronised stream or a lying server answering with
/// another key is caught with certainty short of a 64-bit collision, without storing keys per
/// request. Not a defence against a server crafting collisions (it could send any value for
/// the right key anyway).
// Inlined: on every request's path, where the call cost as much as the body.
#[inline(always)]
pub fn key_tag(key: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = (key.len() as u64).wrapping_mul(K);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = 0u64;
    for (i, &b) in words.remainder().iter().enumerate() {
        tail |= u64::from(b) << (8 * i);
    }
    h = (h ^ tail).wrapping_mul(K);
    (h ^ (h >> 32)) | 1
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
