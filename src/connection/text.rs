//! The classic text protocol on a connection: requests (in the binary protocol's terms, as the
//! engine gives them) translated into text commands, and answers matched in order.
//!
//! Text answers carry no opaque, so they are matched strictly in send order: an answer that
//! does not fit the request at the head of the queue (a VALUE for a key not asked, a STORED
//! for a get, an unexpected line) is corruption and the connection is reset — never a shifted
//! answer. Consecutive quiet gets share one `gets k1 k2 …` line (a `gats` line for get-and-
//! touch, at most 2,048 bytes long); each key is a request in flight, and the line's `END` is
//! an engine marker after them. Keys without a VALUE before `END` are misses. Quiet storage
//! commands are sent `noreply` and complete when a later answer arrives.

use super::{key_tag, Answer, Connection, Corruption, Event, InFlight, Origin, QueueError};
use crate::protocol::binary::status as wire;
use crate::protocol::text::{self, GetKind, Parsed, Reply, StoreCmd};
use crate::protocol::{opcode, RequestParts};

/// Engine-internal opcode of the marker that the `END` of a get line answers (not a binary
/// protocol opcode).
pub(super) const OP_TEXT_END: u8 = 0xf0;

/// The get line being built: its kind and its length so far.
#[derive(Clone, Copy, Debug)]
pub(super) struct GetRun {
    kind: GetKind,
    line_len: usize,
}

fn get_kind(op: u8, extras: &[u8], cas: bool) -> Option<GetKind> {
    use opcode::*;
    match op {
        GET | GETQ | GETK | GETKQ if cas => Some(GetKind::Gets),
        GET | GETQ | GETK | GETKQ => Some(GetKind::Get),
        GAT | GATQ | GATK | GATKQ if cas => Some(GetKind::Gats(be32(extras))),
        GAT | GATQ | GATK | GATKQ => Some(GetKind::Gat(be32(extras))),
        _ => None,
    }
}

fn is_get(op: u8) -> bool {
    get_kind(op, &[0; 4], true).is_some()
}

/// A get-like request (its miss is silent in a text get line).
pub(super) fn is_get_op(op: u8) -> bool {
    is_get(op)
}

fn is_storage(op: u8) -> bool {
    use opcode::*;
    matches!(
        op,
        SET | SETQ | ADD | ADDQ | REPLACE | REPLACEQ | APPEND | APPENDQ | PREPEND | PREPENDQ
    )
}

fn be32(b: &[u8]) -> u32 {
    b.get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be64(b: &[u8]) -> u64 {
    b.get(..8).map_or(0, |b| {
        u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    })
}

impl Connection {
    /// Encodes one request as a text command (see the module doc).
    pub(super) fn queue_text(
        &mut self,
        parts: &RequestParts<'_>,
        mut entry: InFlight,
    ) -> Result<(), QueueError> {
        use opcode::*;
        let op = parts.opcode;
        let key = parts.key;
        let quiet = entry.quiet;
        if let Some(kind) = get_kind(op, parts.extras, self.text_cas) {
            if !text::valid_key(key) {
                return Err(QueueError::Invalid);
            }
            let fits = match self.text_run {
                Some(run) => run.kind == kind && text::key_fits(kind, run.line_len, key.len()),
                None => false,
            };
            if !fits {
                self.close_get_line();
                let start = self.out.len();
                text::begin_get(&mut self.out, kind);
                self.text_run = Some(GetRun {
                    kind,
                    line_len: self.out.len() - start,
                });
            }
            // The key was checked above: append it without checking it again.
            self.out.push(b' ');
            self.out.extend_from_slice(key);
            if let Some(run) = self.text_run.as_mut() {
                run.line_len += 1 + key.len();
            }
            entry.key_tag = key_tag(key);
            self.inflight.push(entry);
            // A quiet get leaves its line open (the engine closes it before waiting); a
            // single get's miss shows only at the line's END: end the line now.
            self.tail_quiet = quiet;
            if !quiet {
                self.close_get_line();
            }
            return Ok(());
        }
        self.close_get_line();
        let out = &mut self.out;
        let result = match op {
            SET | SETQ | ADD | ADDQ | REPLACE | REPLACEQ | APPEND | APPENDQ | PREPEND
            | PREPENDQ => {
                let (flags, exptime) = (
                    be32(parts.extras),
                    be32(parts.extras.get(4..).unwrap_or(&[])),
                );
                let cmd = match op {
                    // Text's only conditional store is `cas`, a set that checks the unique.
                    // A set or replace with a CAS means that; an add, append or prepend with
                    // one has no text form (as `cas` it would store the fragment alone).
                    SET | SETQ | REPLACE | REPLACEQ if parts.cas != 0 => StoreCmd::Cas(parts.cas),
                    _ if parts.cas != 0 => return Err(QueueError::Invalid),
                    SET | SETQ => StoreCmd::Set,
                    ADD | ADDQ => StoreCmd::Add,
                    REPLACE | REPLACEQ => StoreCmd::Replace,
                    APPEND | APPENDQ => StoreCmd::Append,
                    _ => StoreCmd::Prepend,
                };
                text::encode_store(out, cmd, key, flags, exptime, parts.value, quiet)
            }
            DELETE | DELETEQ => text::encode_delete(out, key, quiet),
            // The text protocol cannot create a missing counter: a miss is NOT_FOUND.
            INCREMENT | INCREMENTQ => text::encode_incr(out, key, be64(parts.extras), quiet),
            DECREMENT | DECREMENTQ => text::encode_decr(out, key, be64(parts.extras), quiet),
            TOUCH => text::encode_touch(out, key, be32(parts.extras), false),
            FLUSH | FLUSHQ => {
                let delay = (parts.extras.len() >= 4).then(|| be32(parts.extras));
                text::encode_flush_all(out, delay, quiet);
                Ok(())
            }
            NOOP | VERSION => {
                // No NOOP in text: `version` is answered by every server and proxy.
                text::encode_version(out);
                Ok(())
            }
            VERBOSITY => {
                text::encode_verbosity(out, be32(parts.extras), quiet);
                Ok(())
            }
            STAT => text::encode_stats(out, (!key.is_empty()).then_some(key)),
            QUIT | QUITQ => {
                text::encode_quit(out);
                Ok(())
            }
            _ => return Err(QueueError::Invalid),
        };
        result.map_err(|_| QueueError::Invalid)?;
        self.inflight.push(entry);
        self.tail_quiet = quiet;
        Ok(())
    }

    /// Ends the get line being built, if any: its END answers a marker in flight.
    pub(super) fn close_get_line(&mut self) -> bool {
        if self.text_run.take().is_none() {
            return false;
        }
        text::end_line(&mut self.out);
        self.inflight.push(InFlight {
            opaque: 0,
            opcode: OP_TEXT_END,
            quiet: false,
            origin: Origin::TrailingNoop,
            keyed: false,
            key_tag: 0,
        });
        true
    }

    /// The bytes needed to complete the answer at the head of the receive buffer.
    pub(super) fn text_need(&self) -> usize {
        match text::parse_reply(self.recv.pending()) {
            Ok(Parsed::Need(n)) => n,
            _ => 0,
        }
    }

    /// What the next bytes of the receive buffer are (text protocol).
    pub(super) fn next_text_event(&mut self, recv_max: usize) -> Event<'_> {
        if let Some(e) = self.take_skipped() {
            return e;
        }
        if self.recv.discarding() {
            self.recv.skip_discarded();
            if self.recv.discarding() {
                return Event::NeedMore;
            }
        }
        let pending = self.recv.pending();
        // A multi-get's answers are mostly whole VALUEs for the get at the head of the queue:
        // those are handed out straight from their header, the rest take the general path.
        // A VALUE answers the get of its key in the line, wherever it is: the gets before it
        // are misses only once the line's END has come (a server or proxy that answers out
        // of order loses no hit; found by an outside tester, libmemcached 1.1.4 takes them).
        if let Some(h) = text::complete_value(pending) {
            let at = match self.inflight.front() {
                Some(f) if is_get(f.opcode) => {
                    let tag = key_tag(h.key);
                    if f.key_tag == tag {
                        Some(0)
                    } else {
                        self.find_get_entry(tag).ok()
                    }
                }
                _ => None,
            };
            if let Some(at) = at {
                let (key_len, flags, cas) = (h.key.len(), h.flags, h.cas.unwrap_or(0));
                let (data_at, data_len, len) = (h.line_len, h.data_len, h.frame_len());
                return self.value_answer(at, key_len, flags, cas, data_at, data_len, len);
            }
        }
        let (reply, len) = match text::parse_reply(pending) {
            Err(e) => return Event::Corrupt(Corruption::Text(e)),
            Ok(Parsed::Reply { reply, len }) => (reply, len),
            Ok(Parsed::Need(need)) => {
                if need <= recv_max {
                    return Event::NeedMore;
                }
                // A VALUE too large for the receive limit: skip it, its request is answered
                // "too large".
                let header = match text::value_header(pending) {
                    Ok(Some(header)) => header,
                    // A line longer than the receive limit: no answer is.
                    Ok(None) => {
                        return Event::Corrupt(Corruption::Text(text::ParseError::LineTooLong))
                    }
                    Err(e) => return Event::Corrupt(Corruption::Text(e)),
                };
                let tag = key_tag(header.key);
                let frame_len = header.frame_len();
                let at = match self.find_get_entry(tag) {
                    Err(c) => return Event::Corrupt(c),
                    Ok(at) => at,
                };
                let have = pending.len();
                self.recv.start_discard(have, (frame_len - have) as u64);
                let entry = self.inflight.take(at);
                return Event::Oversized {
                    opcode: entry.map_or(opcode::GETK, |e| e.opcode),
                    cas: 0,
                    len: frame_len as u64,
                    entry,
                };
            }
        };
        // Quiet (noreply) commands before the answer never get one: done.
        if let Some(front) = self.inflight.front() {
            if front.quiet && !is_get(front.opcode) {
                return self.skip_then_next(1);
            }
        }
        let Some(head) = self.inflight.front() else {
            return Event::Corrupt(Corruption::Unexpected);
        };
        let mut head_op = head.opcode;
        // The entry the answer is for: the head, or a VALUE's get further along its line.
        let mut at = 0;
        if let Reply::Value { key, .. } = reply {
            match self.find_get_entry(key_tag(key)) {
                Err(c) => return Event::Corrupt(c),
                Ok(pos) => at = pos,
            }
            head_op = self.inflight.get(at).map_or(head_op, |f| f.opcode);
        }
        if matches!(reply, Reply::End) && is_get(head_op) {
            // Keys before the line's END without a VALUE: misses.
            let pos = self
                .inflight
                .iter()
                .position(|f| !is_get(f.opcode))
                .unwrap_or(usize::MAX);
            if pos == usize::MAX || self.inflight.get(pos).map(|f| f.opcode) != Some(OP_TEXT_END) {
                return Event::Corrupt(Corruption::Unexpected);
            }
            return self.skip_then_next(pos);
        }
        let Some((status, last)) = answer_fits(head_op, &reply) else {
            return Event::Corrupt(Corruption::Unexpected);
        };
        let Some(entry) = self.inflight.take(at) else {
            return Event::Corrupt(Corruption::Unexpected);
        };
        if !last {
            // Only answers of the head come in parts.
            self.inflight.push_front(entry);
        }
        self.failures = 0;
        if entry.origin == Origin::Probe {
            self.probing = false;
            self.ejected = self.revival.probe_answered(status == wire::NO_ERROR);
        }
        // The answer's parts as offsets into the reply (its borrow ends here), then as slices
        // of the consumed bytes: one parse per answer.
        let base = pending.as_ptr() as usize;
        let spans = Spans::of(&answer_of(entry.opcode, status, &reply), base);
        let buf = self.recv.take(len);
        Event::Answer {
            answer: spans.answer(buf),
            entry,
            last,
        }
    }

    /// The answer of the get at `at` in the queue: the whole VALUE of `len` bytes at the head
    /// of the receive buffer, its key right after `VALUE `, its data at `data_at`.
    #[allow(clippy::too_many_arguments)]
    fn value_answer(
        &mut self,
        at: usize,
        key_len: usize,
        flags: u32,
        cas: u64,
        data_at: usize,
        data_len: usize,
        len: usize,
    ) -> Event<'_> {
        let Some(entry) = self.inflight.take(at) else {
            return Event::Corrupt(Corruption::Unexpected);
        };
        self.failures = 0;
        if entry.origin == Origin::Probe {
            self.probing = false;
            self.ejected = self.revival.probe_answered(true);
        }
        const KEY_AT: usize = b"VALUE ".len();
        let buf = self.recv.take(len);
        Event::Answer {
            answer: Answer {
                opcode: entry.opcode,
                status: wire::NO_ERROR,
                key: &buf[KEY_AT..KEY_AT + key_len],
                value: &buf[data_at..data_at + data_len],
                flags,
                cas,
                ..Answer::default()
            },
            entry,
            last: true,
        }
    }

    /// Where the get request that a VALUE with key fingerprint `tag` answers is: the first
    /// get in flight with that key before its line's END marker.
    fn find_get_entry(&self, tag: u64) -> Result<usize, Corruption> {
        for (i, f) in self.inflight.iter().enumerate() {
            if !is_get(f.opcode) {
                break;
            }
            if f.key_tag == tag {
                return Ok(i);
            }
        }
        Err(Corruption::KeyMismatch)
    }
}

/// An answer's parts as offsets from the start of its reply (no borrow), so that the bytes can
/// be consumed and the answer rebuilt from them without parsing them again.
pub(super) struct Spans {
    answer: Answer<'static>,
    key: (usize, usize),
    value: (usize, usize),
    message: (usize, usize),
}

impl Spans {
    pub(super) fn of(a: &Answer<'_>, base: usize) -> Spans {
        let span = |s: &[u8]| ((s.as_ptr() as usize).wrapping_sub(base), s.len());
        Spans {
            answer: Answer {
                key: &[],
                value: &[],
                message: &[],
                ..*a
            },
            key: span(a.key),
            value: span(a.value),
            message: span(a.message),
        }
    }

    pub(super) fn answer(self, buf: &[u8]) -> Answer<'_> {
        let part = |(at, len): (usize, usize)| {
            if len == 0 {
                &[][..]
            } else {
                &buf[at..at + len]
            }
        };
        Answer {
            key: part(self.key),
            value: part(self.value),
            message: part(self.message),
            ..self.answer
        }
    }
}

/// Whether a reply answers a request with opcode `op`, and with what binary status; `last`
/// is false for the rows of a multi-line answer (STAT rows).
fn answer_fits(op: u8, reply: &Reply<'_>) -> Option<(u16, bool)> {
    use opcode::*;
    let storage = is_storage(op);
    Some(match *reply {
        Reply::Value { .. } if is_get(op) => (wire::NO_ERROR, true),
        Reply::End if op == OP_TEXT_END => (wire::NO_ERROR, true),
        Reply::End if op == STAT => (wire::NO_ERROR, true),
        // `stats reset` is answered RESET, no rows.
        Reply::Reset if op == STAT => (wire::NO_ERROR, true),
        Reply::Stat { .. } if op == STAT => (wire::NO_ERROR, false),
        Reply::Stored if storage => (wire::NO_ERROR, true),
        Reply::NotStored if storage => (wire::ITEM_NOT_STORED, true),
        Reply::Exists if storage => (wire::KEY_EXISTS, true),
        Reply::NotFound if storage || matches!(op, DELETE | INCREMENT | DECREMENT | TOUCH) => {
            (wire::KEY_NOT_FOUND, true)
        }
        Reply::Deleted if op == DELETE => (wire::NO_ERROR, true),
        Reply::Touched if op == TOUCH => (wire::NO_ERROR, true),
        Reply::Number(_) if matches!(op, INCREMENT | DECREMENT) => (wire::NO_ERROR, true),
        // `stats detail on|off` is answered OK.
        Reply::Ok if matches!(op, FLUSH | VERBOSITY | STAT) => (wire::NO_ERROR, true),
        Reply::Version(_) if matches!(op, VERSION | NOOP) => (wire::NO_ERROR, true),
        // The server does not know the command (an old server, a proxy).
        Reply::Error | Reply::ErrorMessage(_) if !is_get(op) && !storage => {
            (wire::UNKNOWN_COMMAND, true)
        }
        Reply::ClientError(m) if matches!(op, INCREMENT | DECREMENT) && is_non_numeric(m) => {
            (wire::DELTA_BAD_VALUE, true)
        }
        // A CLIENT_ERROR to a storage command leaves its data block unread (the server then
        // answers it with ERROR): out of step. To a get: cannot say which key.
        Reply::ClientError(_) if !storage && !is_get(op) => (wire::INVALID_ARGUMENTS, true),
        Reply::ServerError(m) if !is_get(op) => (server_error_status(m), true),
        _ => return None,
    })
}

fn is_non_numeric(message: &[u8]) -> bool {
    message
        .windows(b"non-numeric".len())
        .any(|w| w == b"non-numeric")
}

/// memcached's SERVER_ERROR texts in binary-status terms (libmemcached maps the same ones).
pub(super) fn server_error_status(message: &[u8]) -> u16 {
    if message.starts_with(b"object too large") {
        wire::VALUE_TOO_LARGE
    } else if message.starts_with(b"out of memory") {
        wire::OUT_OF_MEMORY
    } else {
        wire::INTERNAL_ERROR
    }
}

fn answer_of<'a>(op: u8, status: u16, reply: &Reply<'a>) -> Answer<'a> {
    let mut a = Answer {
        opcode: op,
        status,
        ..Answer::default()
    };
    match *reply {
        Reply::Value {
            key,
            flags,
            cas,
            data,
        } => {
            a.key = key;
            a.value = data;
            a.flags = flags;
            a.cas = cas.unwrap_or(0);
        }
        Reply::Number(n) => a.counter = Some(n),
        Reply::Version(v) => a.value = v,
        Reply::Stat { name, value } => {
            a.key = name;
            a.value = value;
        }
        Reply::ErrorMessage(m) | Reply::ClientError(m) | Reply::ServerError(m) => a.message = m,
        _ => {}
    }
    a
}
