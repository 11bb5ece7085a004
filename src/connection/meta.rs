//! The meta protocol (memcached >= 1.6) on a connection: requests (in the binary protocol's
//! terms, as the engine gives them) translated into mg/ms/md/ma/mn, answers matched by their
//! opaque (`O<n>`).
//!
//! Only gets are sent quiet (`q` hides a miss's EN): memcached sends NS/NF/EX and error lines
//! even for quiet ms/md, and an error line carries no opaque, so it could not be attributed in
//! a quiet pipeline. An error line is attributed to the request at the head of the queue when
//! that one is not quiet; otherwise the connection is reset. Keys a text line cannot carry go
//! base64-encoded (`b`). Requests with a key sent as text ask for it back (`k`), and an answer
//! with another key resets the connection, as over binary (a base64 key is not asked back: an
//! item memcached created by vivify returns its key raw, which can break the reply line). The
//! engine takes the answer's key from the request. Server
//! commands without a meta form (version, stats, flush_all, verbosity) go as text commands,
//! which a meta connection answers in text, in order.

use super::text::{self as text_match, Spans, OP_TEXT_END};
use super::{key_tag, Answer, Connection, Corruption, Event, InFlight, Origin, QueueError};
use crate::protocol::binary::status as wire;
use crate::protocol::meta::{
    self, ArithFlags, ArithMode, Code, DeleteFlags, GetFlags, MetaReply, SetFlags, SetMode,
};
use crate::protocol::text;
use crate::protocol::{opcode, RequestParts};

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
    /// Encodes one request as a meta (or, for server commands, text) command.
    pub(super) fn queue_meta(
        &mut self,
        parts: &RequestParts<'_>,
        mut entry: InFlight,
    ) -> Result<(), QueueError> {
        use opcode::*;
        let op = parts.opcode;
        let key = parts.key;
        let base64 = !text::valid_key(key);
        // Keys sent as text come back in every answer (`k`) and are checked against it.
        let return_key = !base64;
        entry.key_tag = if return_key && !key.is_empty() {
            key_tag(key)
        } else {
            0
        };
        let opaque = Some(entry.opaque);
        let out = &mut self.out;
        let result = match op {
            GET | GETQ | GETK | GETKQ | GAT | GATQ | GATK | GATKQ => {
                let touch = matches!(op, GAT | GATQ | GATK | GATKQ).then(|| be32(parts.extras));
                let flags = GetFlags {
                    value: true,
                    client_flags: true,
                    cas: true,
                    key: return_key,
                    touch,
                    quiet: entry.quiet,
                    opaque,
                    base64,
                    ..GetFlags::default()
                };
                meta::encode_get(out, key, &flags)
            }
            TOUCH => {
                let flags = GetFlags {
                    touch: Some(be32(parts.extras)),
                    key: return_key,
                    opaque,
                    base64,
                    ..GetFlags::default()
                };
                meta::encode_get(out, key, &flags)
            }
            SET | SETQ | ADD | ADDQ | REPLACE | REPLACEQ | APPEND | APPENDQ | PREPEND
            | PREPENDQ => {
                let mode = match op {
                    SET | SETQ => SetMode::Set,
                    ADD | ADDQ => SetMode::Add,
                    REPLACE | REPLACEQ => SetMode::Replace,
                    APPEND | APPENDQ => SetMode::Append,
                    _ => SetMode::Prepend,
                };
                let flags = SetFlags {
                    mode,
                    client_flags: be32(parts.extras),
                    ttl: be32(parts.extras.get(4..).unwrap_or(&[])),
                    compare_cas: (parts.cas != 0).then_some(parts.cas),
                    return_cas: true,
                    return_key,
                    opaque,
                    base64,
                    ..SetFlags::default()
                };
                entry.quiet = false;
                meta::encode_set(out, key, parts.value, &flags)
            }
            DELETE | DELETEQ => {
                let flags = DeleteFlags {
                    compare_cas: (parts.cas != 0).then_some(parts.cas),
                    return_key,
                    opaque,
                    base64,
                    ..DeleteFlags::default()
                };
                entry.quiet = false;
                meta::encode_delete(out, key, &flags)
            }
            INCREMENT | INCREMENTQ | DECREMENT | DECREMENTQ => {
                let exptime = be32(parts.extras.get(16..).unwrap_or(&[]));
                // The binary protocol's 0xffffffff: do not create a missing counter.
                let create = exptime != u32::MAX;
                let flags = ArithFlags {
                    mode: if matches!(op, INCREMENT | INCREMENTQ) {
                        ArithMode::Incr
                    } else {
                        ArithMode::Decr
                    },
                    delta: be64(parts.extras),
                    initial: create.then(|| be64(parts.extras.get(8..).unwrap_or(&[]))),
                    vivify_ttl: create.then_some(exptime),
                    return_value: true,
                    return_cas: true,
                    return_key,
                    opaque,
                    base64,
                    ..ArithFlags::default()
                };
                entry.quiet = false;
                meta::encode_arith(out, key, &flags)
            }
            NOOP => {
                entry.key_tag = 0;
                meta::encode_noop(out);
                Ok(())
            }
            // Server commands have no meta form: text, answered in text, in order.
            VERSION | STAT | FLUSH | FLUSHQ | VERBOSITY | QUIT | QUITQ => {
                entry.quiet = false;
                entry.key_tag = 0;
                return self.queue_text(
                    &RequestParts {
                        opcode: match op {
                            FLUSHQ => FLUSH,
                            QUITQ => QUIT,
                            other => other,
                        },
                        ..*parts
                    },
                    entry,
                );
            }
            _ => return Err(QueueError::Invalid),
        };
        result.map_err(|_| QueueError::Invalid)?;
        self.inflight.push(entry);
        self.tail_quiet = entry.quiet;
        Ok(())
    }

    /// The bytes needed to complete the answer at the head of the receive buffer.
    pub(super) fn meta_need(&self) -> usize {
        match meta::parse_reply(self.recv.pending()) {
            Ok(meta::Parsed::Need(n)) => n,
            Err(meta::ParseError::Unexpected) => self.text_need(),
            _ => 0,
        }
    }

    /// What the next bytes of the receive buffer are (meta protocol).
    pub(super) fn next_meta_event(&mut self, recv_max: usize) -> Event<'_> {
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
        let (reply, len) = match meta::parse_reply(pending) {
            // A text command's answer (version, stats, ...), matched in order; a text answer
            // where a meta one is due (`VALUE` to an `mg`, `STORED` to an `ms`) answers nothing.
            Err(meta::ParseError::Unexpected) => {
                let due = self.inflight.iter().find(|f| !f.quiet).map(|f| f.opcode);
                if due.is_some_and(answered_in_text) {
                    return self.next_text_event(recv_max);
                }
                return Event::Corrupt(Corruption::Unexpected);
            }
            Err(e) => return Event::Corrupt(Corruption::Meta(e)),
            Ok(meta::Parsed::Reply { reply, len }) => (reply, len),
            Ok(meta::Parsed::Need(need)) => {
                if need <= recv_max {
                    return Event::NeedMore;
                }
                // A value too large for the receive limit: skip it; its request is answered
                // "too large".
                let head = match meta::parse_head(pending) {
                    Ok(meta::ParsedHead::Head(head)) => head,
                    // A line longer than the receive limit: no answer is.
                    Ok(meta::ParsedHead::Need(_)) => {
                        return Event::Corrupt(Corruption::Meta(meta::ParseError::LineTooLong))
                    }
                    Err(e) => return Event::Corrupt(Corruption::Meta(e)),
                };
                let meta::Reply::Meta(m) = head.reply else {
                    return Event::Corrupt(Corruption::Unexpected);
                };
                let Some(opaque) = m.flags.opaque else {
                    return Event::Corrupt(Corruption::Unexpected);
                };
                let cas = m.flags.cas.unwrap_or(0);
                let (total, have) = (head.total_len(), pending.len());
                let position = self.inflight.position(opaque);
                if let Some(pos) = position.filter(|&p| p > 0) {
                    return self.skip_then_next(pos);
                }
                self.recv.start_discard(have, (total - have) as u64);
                let entry = position.and_then(|_| self.inflight.pop_front());
                return Event::Oversized {
                    opcode: entry.map_or(opcode::GETK, |e| e.opcode),
                    cas,
                    len: total as u64,
                    entry,
                };
            }
        };
        let meta = match reply {
            meta::Reply::Meta(m) => m,
            // Error lines carry no opaque: they belong to the head, if it is not quiet.
            meta::Reply::Error => return self.meta_error_line(ErrorLine::Error, len),
            meta::Reply::ClientError(m) => {
                let non_numeric = m.windows(11).any(|w| w == b"non-numeric");
                return self.meta_error_line(ErrorLine::Client { non_numeric }, len);
            }
            meta::Reply::ServerError(m) => {
                let status = text_match::server_error_status(m);
                return self.meta_error_line(ErrorLine::Server(status), len);
            }
        };
        match meta.code {
            Code::Mn => {
                // Quiet gets before it without an answer: misses.
                let pos = self.inflight.iter().position(|f| !f.quiet);
                match pos {
                    Some(0) => {}
                    Some(p) => return self.skip_then_next(p),
                    None => return Event::Corrupt(Corruption::Unexpected),
                }
                let Some(entry) = self.inflight.pop_front() else {
                    return Event::Corrupt(Corruption::Unexpected);
                };
                if entry.opcode != opcode::NOOP {
                    self.inflight.push_front(entry);
                    return Event::Corrupt(Corruption::Unexpected);
                }
                self.recv.take(len);
                self.answered(entry, true);
                Event::Answer {
                    answer: Answer {
                        opcode: opcode::NOOP,
                        ..Answer::default()
                    },
                    entry,
                    last: true,
                }
            }
            Code::Me => Event::Corrupt(Corruption::Unexpected),
            _ => {
                let Some(opaque) = meta.flags.opaque else {
                    return Event::Corrupt(Corruption::Unexpected);
                };
                let Some(pos) = self.inflight.position(opaque) else {
                    let buf = self.recv.take(len);
                    let Ok(meta::Parsed::Reply {
                        reply: meta::Reply::Meta(m),
                        ..
                    }) = meta::parse_reply(buf)
                    else {
                        return Event::Corrupt(Corruption::Unexpected);
                    };
                    return Event::Late(answer_of(opcode::GETK, &m));
                };
                if pos > 0 {
                    return self.skip_then_next(pos);
                }
                let Some(entry) = self.inflight.pop_front() else {
                    return Event::Corrupt(Corruption::Unexpected);
                };
                if !fits(entry.opcode, meta.code) {
                    self.inflight.push_front(entry);
                    return Event::Corrupt(Corruption::Unexpected);
                }
                if entry.key_tag != 0 && !carries_key(&meta.flags, entry.key_tag) {
                    self.inflight.push_front(entry);
                    return Event::Corrupt(Corruption::KeyMismatch);
                }
                // A counter's success (we always ask `v`) is `VA` with a decimal number.
                if crate::protocol::is_counter(entry.opcode)
                    && matches!(meta.code, Code::Va | Code::Hd)
                    && parse_counter(&meta).is_none()
                {
                    self.inflight.push_front(entry);
                    return Event::Corrupt(Corruption::WrongAnswer);
                }
                // Field by field (the answer still borrows the receive buffer): the server
                // is alive, and a probe has succeeded.
                self.failures = 0;
                if entry.origin == Origin::Probe {
                    self.probing = false;
                    self.ejected = self.revival.probe_answered(true);
                }
                // One parse per answer: its parts as offsets, then slices of the taken bytes.
                let spans = Spans::of(&answer_of(entry.opcode, &meta), pending.as_ptr() as usize);
                let buf = self.recv.take(len);
                Event::Answer {
                    answer: spans.answer(buf),
                    entry,
                    last: true,
                }
            }
        }
    }

    /// An answer arrived for `entry` (`ok`: a success): the server is alive, and a probe has
    /// been answered.
    fn answered(&mut self, entry: InFlight, ok: bool) {
        self.failures = 0;
        if entry.origin == Origin::Probe {
            self.probing = false;
            self.ejected = self.revival.probe_answered(ok);
        }
    }

    /// ERROR, CLIENT_ERROR or SERVER_ERROR on a meta connection.
    fn meta_error_line(&mut self, line: ErrorLine, len: usize) -> Event<'_> {
        let Some(head) = self.inflight.front().copied() else {
            return Event::Corrupt(Corruption::Unexpected);
        };
        let storage = matches!(
            head.opcode,
            opcode::SET
                | opcode::SETQ
                | opcode::ADD
                | opcode::ADDQ
                | opcode::REPLACE
                | opcode::REPLACEQ
                | opcode::APPEND
                | opcode::APPENDQ
                | opcode::PREPEND
                | opcode::PREPENDQ
        );
        let status = match line {
            _ if head.quiet || head.opcode == OP_TEXT_END => {
                return Event::Corrupt(Corruption::Unexpected)
            }
            // A bad ms line leaves its data block to be read as a command: out of step.
            ErrorLine::Client { .. } if storage => return Event::Corrupt(Corruption::Unexpected),
            ErrorLine::Client { non_numeric: true } => wire::DELTA_BAD_VALUE,
            ErrorLine::Client { .. } => wire::INVALID_ARGUMENTS,
            ErrorLine::Server(status) => status,
            // A server without meta commands (before 1.6).
            ErrorLine::Error => wire::UNKNOWN_COMMAND,
        };
        let Some(entry) = self.inflight.pop_front() else {
            return Event::Corrupt(Corruption::Unexpected);
        };
        self.answered(entry, false);
        let buf = self.recv.take(len);
        let message = match meta::parse_reply(buf) {
            Ok(meta::Parsed::Reply {
                reply: meta::Reply::ClientError(m) | meta::Reply::ServerError(m),
                ..
            }) => m,
            _ => &b"ERROR"[..],
        };
        Event::Answer {
            answer: Answer {
                opcode: entry.opcode,
                status,
                message,
                ..Answer::default()
            },
            entry,
            last: true,
        }
    }
}

/// An error line, with what decides its status.
#[derive(Clone, Copy)]
enum ErrorLine {
    Error,
    Client { non_numeric: bool },
    Server(u16),
}

/// Requests a meta connection sends as text commands (answered in text, in order, without
/// an id).
pub(crate) fn answered_in_text(op: u8) -> bool {
    use opcode::*;
    matches!(
        op,
        VERSION | STAT | FLUSH | FLUSHQ | VERBOSITY | QUIT | QUITQ
    )
}

/// Whether an answer's `k` flag names the key whose fingerprint is `tag` (a key memcached
/// stored base64-encoded comes back so, with `b`, even to a request that sent it as text).
fn carries_key(flags: &meta::ReturnFlags<'_>, tag: u64) -> bool {
    match flags.key {
        None => false,
        Some(k) if flags.key_is_base64 => {
            let mut raw = [0u8; meta::MAX_KEY_LEN];
            meta::decode_base64_key(k, &mut raw).is_some_and(|n| key_tag(&raw[..n]) == tag)
        }
        Some(k) => key_tag(k) == tag,
    }
}

/// A counter answer's number: `VA` with a decimal that fits 64 bits; None otherwise.
fn parse_counter(m: &MetaReply<'_>) -> Option<u64> {
    if m.code != Code::Va {
        return None;
    }
    std::str::from_utf8(m.data).ok()?.trim().parse::<u64>().ok()
}

/// Whether a meta answer code answers a request with opcode `op`.
fn fits(op: u8, code: Code) -> bool {
    use opcode::*;
    match code {
        Code::Va => matches!(
            op,
            GET | GETQ
                | GETK
                | GETKQ
                | GAT
                | GATQ
                | GATK
                | GATKQ
                | INCREMENT
                | INCREMENTQ
                | DECREMENT
                | DECREMENTQ
        ),
        Code::En => matches!(
            op,
            GET | GETQ | GETK | GETKQ | GAT | GATQ | GATK | GATKQ | TOUCH
        ),
        Code::Hd => !matches!(op, GET | GETQ | GETK | GETKQ | GAT | GATQ | GATK | GATKQ),
        Code::Ns => matches!(
            op,
            SET | SETQ | ADD | ADDQ | REPLACE | REPLACEQ | APPEND | APPENDQ | PREPEND | PREPENDQ
        ),
        Code::Ex | Code::Nf => !matches!(op, GET | GETQ | GETK | GETKQ | GAT | GATQ | GATK | GATKQ),
        Code::Mn | Code::Me => false,
    }
}

/// A meta answer in the binary protocol's terms.
fn answer_of<'a>(op: u8, m: &MetaReply<'a>) -> Answer<'a> {
    let status = match m.code {
        Code::Va | Code::Hd | Code::Mn => wire::NO_ERROR,
        Code::En | Code::Nf => wire::KEY_NOT_FOUND,
        Code::Ns => wire::ITEM_NOT_STORED,
        Code::Ex => wire::KEY_EXISTS,
        Code::Me => wire::NO_ERROR,
    };
    let delta = crate::protocol::is_counter(op);
    let counter = if delta { parse_counter(m) } else { None };
    Answer {
        opcode: op,
        status,
        key: &[],
        value: if delta { &[] } else { m.data },
        flags: m.flags.client_flags.unwrap_or(0),
        cas: m.flags.cas.unwrap_or(0),
        counter,
        message: &[],
    }
}
