//! Binary-protocol framing and matching on a connection: answers matched by opaque.

use super::{key_tag, Answer, Connection, Corruption, Event, Origin};
use crate::protocol::{self, HEADER_LEN};

impl Connection {
    /// What the next bytes of the receive buffer are. A returned frame has been consumed: its
    /// slices stay valid (and unchanged) until the next receive, or until the next call if
    /// `pin` is called.
    pub(super) fn next_binary_event(&mut self, recv_max: usize) -> Event<'_> {
        if self.skip > 0 {
            self.skip -= 1;
            if let Some(f) = self.inflight.pop_front() {
                return Event::Unanswered(f);
            }
            self.skip = 0;
        }
        if self.recv.discarding() {
            self.recv.skip_discarded();
            if self.recv.discarding() {
                return Event::NeedMore;
            }
        }
        let pending = self.recv.pending();
        if pending.len() < HEADER_LEN {
            return Event::NeedMore;
        }
        let header = match protocol::parse_header(pending) {
            Ok(h) => h,
            Err(e) => return Event::Corrupt(Corruption::Frame(e)),
        };
        if pending.len() < header.frame_len() && header.frame_len() <= recv_max {
            return Event::NeedMore;
        }
        // A frame's length is the server's word: one that overstates it swallows the start of
        // the next frame into its value. Where the next frame's first byte has arrived, it
        // must be an answer's magic, or this frame is not handed out.
        if let Some(&next) = pending.get(header.frame_len()) {
            if next != protocol::RESPONSE_MAGIC {
                return Event::Corrupt(Corruption::Frame(protocol::ParseError::BadMagic(next)));
            }
        }
        let position = self.inflight.position(header.opaque);
        if let Some(pos) = position.filter(|&p| p > 0) {
            // Requests before the answered one: report them first, one per call, without
            // searching again.
            self.skip = pos - 1;
            if let Some(f) = self.inflight.pop_front() {
                return Event::Unanswered(f);
            }
        }
        let len = header.frame_len();
        if self.recv.pending().len() < len {
            // Too large for the receive buffer: skip its bytes; its request gets an answer
            // of its own ("too large"), the connection and other requests are unaffected.
            let have = self.recv.pending().len();
            self.recv.start_discard(have, (len - have) as u64);
            let entry = position.and_then(|_| self.inflight.pop_front());
            return Event::Oversized {
                opcode: header.opcode,
                cas: header.cas,
                len: len as u64,
                entry,
            };
        }
        let entry = position.and_then(|_| self.inflight.pop_front());
        let frame = self.recv.take_frame(header);
        let Some(entry) = entry else {
            return Event::Late(Answer::from_frame(&frame));
        };
        let ok_status = header.status == protocol::status::NO_ERROR;
        // memcached answers with its request's opcode. Another one (a STAT row, a SET frame
        // carrying the right key) is not this request's answer, whatever its key says; nor
        // is a successful increment without its 8-byte counter.
        // Nor a successful get whose item comes without its 4-byte flags (a value would be
        // decoded with flags 0).
        let counter = protocol::is_counter(entry.opcode);
        let malformed = ok_status
            && ((counter && frame.value.len() != 8)
                || (protocol::returns_item(entry.opcode) && frame.extras.len() != 4));
        if header.opcode != entry.opcode || malformed {
            self.inflight.push_front(entry);
            return Event::Corrupt(Corruption::WrongAnswer);
        }
        if entry.key_tag != 0 {
            let carries_key = !frame.key.is_empty();
            if (carries_key && key_tag(frame.key) != entry.key_tag) || (!carries_key && ok_status) {
                // Consumed, but the connection is reset for it anyway, and the request, back
                // at the head of the queue, fails with the others.
                self.inflight.push_front(entry);
                return Event::Corrupt(Corruption::KeyMismatch);
            }
        }
        // STAT answers one row per statistic, then an empty-key row that ends it.
        let last = !(entry.opcode == protocol::opcode::STAT && ok_status && header.key_len > 0);
        if !last {
            self.inflight.push_front(entry);
        }
        self.failures = 0;
        if entry.origin == Origin::Probe {
            self.probing = false;
            self.ejected = self.revival.probe_answered(ok_status);
        }
        Event::Answer {
            answer: Answer::from_frame(&frame),
            entry,
            last,
        }
    }
}
