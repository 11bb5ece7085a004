//! A connection's receive buffer: bytes received but not parsed yet, and the rule that
//! keeps values handed to the caller in place until the next call.

use crate::protocol::{self, Frame, ResponseHeader};

/// The first receive buffer of a connection; it grows (up to the configured maximum) when a
/// frame or a burst of frames needs more.
pub(super) const INITIAL_RECV_BUFFER: usize = 32 * 1024;

/// Where an empty buffer starts receiving: at an address that is a multiple of this. Measured
/// (benches/bigvalue.sh, AMD EPYC under KVM): the kernel copies a socket's bytes into an address
/// 8 to 31 bytes past the sender's page offset about 4x slower than into an aligned one (the
/// copy's loads alias its own stores, 4 KiB apart). A socket's pages start a memcached answer
/// at a page boundary, and glibc's mmap'd blocks (every buffer of 128 KiB or more) start 16
/// bytes past one: receiving at `buf[0]` made 1,000,000-byte gets spend 80% of their time in
/// that copy. Bytes already received keep their offset modulo this when they move, so that
/// the rest of a frame lands the same way.
pub(super) const LANDING_ALIGN: usize = 64;

/// Received bytes `buf[start..end]` not yet parsed. `buf` is fully initialised, so its length
/// is the allocation in use. An empty buffer receives from the first aligned address in it
/// (`LANDING_ALIGN`), so `start` may be up to `LANDING_ALIGN - 1` with nothing before it.
///
/// Values handed to the caller point into `buf` and must stay where they are, unchanged, until
/// the caller's next call into the engine (OMcache's contract), whatever happens to the
/// connection meanwhile. So a pinned buffer is never compacted, grown, reused or freed: when it
/// must make room, or when the connection is reset, it is *retired* (kept alive, untouched)
/// and a spare (or fresh) buffer takes its place. `unpin` at the start of the next call turns
/// retired buffers into spares, kept (up to the retire budget's worth) so that a steady
/// stream of big values reuses the same memory instead of allocating, zero-filling and
/// page-faulting a fresh buffer per value.
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
    /// Recycled buffers, ready to replace a retired one (or to serve a frame larger than
    /// `buf` without growing it).
    pub(super) spares: Vec<Vec<u8>>,
    pub(super) spare_bytes: usize,
    /// The retire budget of the last `make_room`: spares are kept up to this many bytes.
    pub(super) keep_bytes: usize,
    /// A frame larger than the initial buffer was received since the last `trim_idle`.
    pub(super) big_use: bool,
}

/// The index in `buf` (below `LANDING_ALIGN`) whose address is congruent to `addr` modulo
/// `LANDING_ALIGN`.
fn congruent_index(buf: &[u8], addr: usize) -> usize {
    addr.wrapping_sub(buf.as_ptr() as usize) % LANDING_ALIGN
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
    #[inline]
    pub(super) fn unpin(&mut self) {
        // Nothing to release (a sink that copies values never pins): once per active server
        // per call, a face's fetch making one call per value.
        if !self.pinned && self.retired.is_empty() {
            return;
        }
        self.pinned = false;
        if self.start == self.end {
            self.land_empty();
        }
        while let Some(old) = self.retired.pop() {
            self.keep_spare(old);
        }
        self.retired_bytes = 0;
    }

    /// Starts an empty, unpinned buffer over at its first aligned address.
    fn land_empty(&mut self) {
        let at = congruent_index(&self.buf, 0).min(self.buf.len());
        self.start = at;
        self.end = at;
    }

    /// Keeps `old` for reuse while the spares stay within the last retire budget (the larger
    /// buffers win: they serve any frame a smaller one would).
    fn keep_spare(&mut self, old: Vec<u8>) {
        if old.is_empty() {
            return;
        }
        self.spare_bytes += old.len();
        self.spares.push(old);
        while self.spare_bytes > self.keep_bytes.max(INITIAL_RECV_BUFFER) {
            let smallest = (0..self.spares.len())
                .min_by_key(|&i| self.spares[i].len())
                .unwrap_or(0);
            let dropped = self.spares.swap_remove(smallest);
            self.spare_bytes -= dropped.len();
        }
    }

    /// The smallest spare of at least `len` bytes, if any.
    fn take_spare(&mut self, len: usize) -> Option<Vec<u8>> {
        let best = (0..self.spares.len())
            .filter(|&i| self.spares[i].len() >= len)
            .min_by_key(|&i| self.spares[i].len())?;
        let spare = self.spares.swap_remove(best);
        self.spare_bytes -= spare.len();
        Some(spare)
    }

    /// The largest spare (or an empty buffer).
    fn take_largest_spare(&mut self) -> Vec<u8> {
        let Some(largest) = (0..self.spares.len()).max_by_key(|&i| self.spares[i].len()) else {
            return Vec::new();
        };
        let spare = self.spares.swap_remove(largest);
        self.spare_bytes -= spare.len();
        spare
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
    // Inlined: on every request's path, where the call cost as much as the body.
    #[inline(always)]
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
            // Nothing is pending: no bytes to carry over.
            let spare = self.take_largest_spare();
            let old = std::mem::replace(&mut self.buf, spare);
            self.retired_bytes += old.len();
            self.retired.push(old);
            self.pinned = false;
        }
        self.land_empty();
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

    /// The address, modulo `LANDING_ALIGN`, where the pending bytes belong: where they are, or
    /// (none pending) an aligned one.
    fn landing_addr(&self) -> usize {
        if self.start == self.end {
            0
        } else {
            (self.buf.as_ptr() as usize).wrapping_add(self.start)
        }
    }

    /// Puts `fresh` in place of the current buffer and returns the current one; unparsed bytes
    /// move to `fresh`, at the same offset modulo `LANDING_ALIGN`. `fresh` grows (zero-filled)
    /// if it cannot hold them, or `need` bytes, with room left to receive.
    fn replace(&mut self, mut fresh: Vec<u8>, need: usize) -> Vec<u8> {
        let pending = self.end - self.start;
        let addr = self.landing_addr();
        let room = pending.max(need) + 1;
        if fresh.len() < room + LANDING_ALIGN {
            fresh.resize(room + LANDING_ALIGN, 0);
        }
        let at = congruent_index(&fresh, addr);
        fresh[at..at + pending].copy_from_slice(&self.buf[self.start..self.end]);
        self.start = at;
        self.end = at + pending;
        std::mem::replace(&mut self.buf, fresh)
    }

    /// Makes room so that the frame at `start`, which needs `need` bytes in total, can be
    /// completed, and so that at least some bytes can be received. `retire_budget` bounds the
    /// memory kept alive for pinned values within one call. Returns false when no room can be
    /// made (`need` beyond `max`, or pinned with the budget spent: the caller must first
    /// consume the values it was given).
    ///
    /// Nothing here allocates while spares can serve: a frame larger than the buffer takes a
    /// spare of its size if there is one, the buffer grows only when there is none.
    pub(super) fn make_room(&mut self, need: usize, max: usize, retire_budget: usize) -> bool {
        self.keep_bytes = retire_budget;
        self.big_use |= need > INITIAL_RECV_BUFFER;
        if self.start == self.end && !self.pinned {
            self.land_empty();
        }
        let fits = self.buf.len() - self.start >= need && self.end < self.buf.len();
        if fits {
            return true;
        }
        if need > max {
            return false;
        }
        // Slack to start at any offset modulo LANDING_ALIGN.
        let wanted = need
            .max(self.buf.len() * 2)
            .max(INITIAL_RECV_BUFFER)
            .min(max)
            + LANDING_ALIGN;
        let required = need.max(INITIAL_RECV_BUFFER.min(max)) + LANDING_ALIGN;
        if self.pinned {
            // The bytes handed out must not move: continue in another buffer.
            if self.retired_bytes + self.buf.len() > retire_budget {
                return false;
            }
            // As large as the buffer it replaces: the two serve the same frames next time.
            let fresh = self
                .take_spare(required)
                .unwrap_or_else(|| vec![0; required.max(self.buf.len())]);
            let old = self.replace(fresh, need);
            self.retired_bytes += old.len();
            self.retired.push(old);
            self.pinned = false;
            return true;
        }
        if self.start >= LANDING_ALIGN {
            // Compaction keeps the offset modulo LANDING_ALIGN (see there).
            let to = self.start % LANDING_ALIGN;
            self.buf.copy_within(self.start..self.end, to);
            self.end -= self.start - to;
            self.start = to;
            if self.buf.len() - self.start >= need && self.end < self.buf.len() {
                return true;
            }
        }
        if need + LANDING_ALIGN > self.buf.len() {
            // A frame larger than the buffer: a spare that holds it, else growth.
            if let Some(spare) = self.take_spare(required) {
                let old = self.replace(spare, need);
                self.keep_spare(old);
                return true;
            }
        }
        if wanted <= self.buf.len() {
            return false;
        }
        // A new buffer rather than a reallocation: only the pending bytes are copied, and the
        // old one may serve again as a spare.
        let old = self.replace(vec![0; wanted], need);
        self.keep_spare(old);
        true
    }

    /// Bytes of receive memory held: the buffer, retired buffers and spares.
    pub(super) fn memory(&self) -> usize {
        self.buf.len() + self.retired_bytes + self.spare_bytes
    }

    /// Whether more memory than a fresh buffer's is held (a grown buffer, spares).
    #[inline]
    pub(super) fn holds_extra(&self) -> bool {
        self.spare_bytes > 0 || self.buf.len() > INITIAL_RECV_BUFFER + LANDING_ALIGN
    }

    /// Called from time to time while the connection is quiet: the memory kept for big
    /// frames goes back to the allocator if no big frame came since the last call (spares,
    /// and a grown buffer with nothing in it). Returns whether extra memory is still held.
    pub(super) fn trim_idle(&mut self) -> bool {
        if std::mem::take(&mut self.big_use) {
            return self.holds_extra();
        }
        self.spares = Vec::new();
        self.spare_bytes = 0;
        let idle =
            self.start == self.end && !self.pinned && self.retired.is_empty() && self.discard == 0;
        if idle && self.buf.len() > INITIAL_RECV_BUFFER + LANDING_ALIGN {
            // The next receive allocates a buffer of the initial size.
            self.buf = Vec::new();
            self.start = 0;
            self.end = 0;
        }
        self.holds_extra()
    }

    /// The writable tail, after `make_room`.
    pub(super) fn tail(&mut self) -> &mut [u8] {
        &mut self.buf[self.end..]
    }

    pub(super) fn filled(&mut self, n: usize) {
        self.end += n;
    }
}
