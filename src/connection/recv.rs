//! A connection's receive buffer: bytes received but not parsed yet, and the rule that
//! keeps values handed to the caller in place until the next call.

use crate::protocol::{self, Frame, ResponseHeader};

/// The first receive buffer of a connection; it grows (up to the configured maximum) when a
/// frame or a burst of frames needs more.
pub(super) const INITIAL_RECV_BUFFER: usize = 32 * 1024;

/// Received bytes `buf[start..end]` not yet parsed. `buf` is fully initialised, so its length
/// is the allocation in use.
///
/// Values handed to the caller point into `buf` and must stay where they are, unchanged, until
/// the caller's next call into the engine (OMcache's contract), whatever happens to the
/// connection meanwhile. So a pinned buffer is never compacted, grown, reused or freed: when it
/// must make room, or when the connection is reset, it is *retired* (kept alive, untouched)
/// and a fresh buffer takes its place. `unpin` at the start of the next call recycles retired
/// buffers (one is kept as a spare, so steady-state use allocates nothing).
#[derive(Debug, Default)]
pub(super) struct RecvBuffer {
    pub(super) buf: Vec<u8>,
    pub(super) start: usize,
    pub(super) end: usize,
    /// Values handed to the caller point into `buf`.
    pub(super) pinned: bool,
    /// Bytes of an oversized frame still to be skipped.
    pub(super) discard: u64,
    /// Buffers holding values handed out earlier in this call.
    pub(super) retired: Vec<Vec<u8>>,
    pub(super) retired_bytes: usize,
    /// A recycled buffer, ready to replace a retired one.
    pub(super) spare: Vec<u8>,
}

impl RecvBuffer {
    pub(super) fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(super) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Values handed out point into the buffer: keep its bytes where they are until `unpin`.
    pub(super) fn pin(&mut self) {
        self.pinned = true;
    }

    /// The caller's values from the previous call are no longer valid: buffers may move again
    /// and retired ones are recycled.
    pub(super) fn unpin(&mut self) {
        self.pinned = false;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        for old in self.retired.drain(..) {
            if old.len() > self.spare.len() {
                self.spare = old;
            }
        }
        self.retired_bytes = 0;
    }

    /// Marks `n` bytes parsed. Their memory is untouched until the next `make_room` (which
    /// starts over at offset 0 only when nothing is pending and nothing is pinned).
    pub(super) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
    }

    /// Consumes `len` bytes at the head and returns them.
    pub(super) fn take(&mut self, len: usize) -> &[u8] {
        let start = self.start;
        self.start += len;
        &self.buf[start..self.start]
    }

    /// Consumes the complete frame at the head, whose header was parsed, and returns it.
    pub(super) fn take_frame(&mut self, header: ResponseHeader) -> Frame<'_> {
        let start = self.start;
        self.start += header.frame_len();
        protocol::frame_from(header, &self.buf[start..self.start])
    }

    /// Forgets every received byte (the connection is being reset). A pinned buffer is
    /// retired, not reused: values handed out of it stay valid.
    pub(super) fn clear(&mut self) {
        self.start = self.end;
        if self.pinned {
            let spare = std::mem::take(&mut self.spare);
            self.retire(spare);
        }
        self.start = 0;
        self.end = 0;
        self.discard = 0;
    }

    pub(super) fn discarding(&self) -> bool {
        self.discard > 0
    }

    /// Starts skipping an oversized frame of which `have` bytes are buffered and `more` are
    /// still to come.
    pub(super) fn start_discard(&mut self, have: usize, more: u64) {
        self.consume(have);
        self.discard = more;
    }

    /// Skips bytes of an oversized frame that are already buffered.
    pub(super) fn skip_discarded(&mut self) {
        if self.discard > 0 {
            let n = (self.discard.min((self.end - self.start) as u64)) as usize;
            self.discard -= n as u64;
            self.consume(n);
        }
    }

    /// Puts `replacement` (or the spare) in place of the current buffer, keeping the current
    /// one alive and untouched until `unpin`; unparsed bytes move to the new buffer.
    pub(super) fn retire(&mut self, mut fresh: Vec<u8>) {
        let pending = self.end - self.start;
        if fresh.len() < pending {
            fresh.resize(pending, 0);
        }
        fresh[..pending].copy_from_slice(&self.buf[self.start..self.end]);
        let old = std::mem::replace(&mut self.buf, fresh);
        self.retired_bytes += old.len();
        self.retired.push(old);
        self.start = 0;
        self.end = pending;
        self.pinned = false;
    }

    /// Makes room so that the frame at `start`, which needs `need` bytes in total, can be
    /// completed, and so that at least some bytes can be received. `retire_budget` bounds the
    /// memory kept alive for pinned values within one call. Returns false when no room can be
    /// made (`need` beyond `max`, or pinned with the budget spent: the caller must first
    /// consume the values it was given).
    pub(super) fn make_room(&mut self, need: usize, max: usize, retire_budget: usize) -> bool {
        if self.start == self.end && !self.pinned {
            self.start = 0;
            self.end = 0;
        }
        let fits = self.buf.len() - self.start >= need && self.end < self.buf.len();
        if fits {
            return true;
        }
        let wanted = need
            .max(self.buf.len() * 2)
            .max(INITIAL_RECV_BUFFER)
            .min(max);
        if self.pinned {
            // The bytes handed out must not move: continue in another buffer.
            let required = need.max(INITIAL_RECV_BUFFER).min(max);
            if required < need || self.retired_bytes + self.buf.len() > retire_budget {
                return false;
            }
            let fresh = if self.spare.len() >= required {
                std::mem::take(&mut self.spare)
            } else {
                vec![0; wanted]
            };
            self.retire(fresh);
            return true;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() >= need && self.end < self.buf.len() {
                return true;
            }
        }
        if wanted <= self.buf.len() || wanted < need {
            return false;
        }
        self.buf.resize(wanted, 0);
        true
    }

    /// The writable tail, after `make_room`.
    pub(super) fn tail(&mut self) -> &mut [u8] {
        &mut self.buf[self.end..]
    }

    pub(super) fn filled(&mut self, n: usize) {
        self.end += n;
    }
}
