//! Keys on the wire: the namespace (`MEMCACHED_CALLBACK_PREFIX_KEY`, `--NAMESPACE`) prepended
//! to every key, and the key a request is routed by (a `*_by_key` group key; the key without
//! its namespace unless `HASH_WITH_PREFIX_KEY`), as libmemcached 1.1.4 does.

use std::ffi::c_int;

use super::api::One;
use super::memc::Lmc;
use super::rc;
use super::types::memcached_st;
use crate::client::{valid_key, Request, Requests, Response, ResponseSink, Route, Status, Wait};
use crate::protocol::{opcode, RequestParts};

/// The longest key the servers take (MEMCACHED_MAX_KEY - 1).
const MAX_KEY: usize = 250;

/// MEMCACHED_UNKNOWN_READ_FAILURE.
const UNKNOWN_READ_FAILURE: c_int = 7;

/// The answer of one keyed request: `One`, and the new value of an increment/decrement.
pub(super) struct Counted {
    pub one: One,
    pub delta_value: u64,
}

impl Counted {
    pub(super) fn new(keep_value: bool) -> Counted {
        Counted {
            one: One::new(keep_value),
            delta_value: 0,
        }
    }
}

impl ResponseSink for Counted {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if batch_index.is_some() {
            self.delta_value = resp.delta_value;
        }
        self.one.response(resp, batch_index)
    }
}

/// A key as it goes on the wire (namespace + key) or as a request is routed by, without the
/// heap: a namespaced key longer than `MAX_KEY` is refused (or routed as the empty key), so
/// one on the stack always fits.
// On the stack on purpose: boxing the large variant would allocate per call.
#[allow(clippy::large_enum_variant)]
pub(super) enum WireKey<'k> {
    /// The caller's own bytes (no namespace, or routing that leaves it out).
    Plain(&'k [u8]),
    /// Namespace + key, in `buf[..len]`.
    Prefixed { buf: [u8; MAX_KEY], len: usize },
    /// Namespace + key over `MAX_KEY` bytes.
    TooLong,
}

impl WireKey<'_> {
    /// The bytes; None for a key over `MAX_KEY`.
    pub(super) fn get(&self) -> Option<&[u8]> {
        match self {
            WireKey::Plain(k) => Some(k),
            WireKey::Prefixed { buf, len } => Some(&buf[..*len]),
            WireKey::TooLong => None,
        }
    }
}

/// Whether two keys are the same bytes, without comparing a key with itself.
pub(super) fn same_key(a: &[u8], b: &[u8]) -> bool {
    (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
}

impl Lmc {
    /// The key as it goes on the wire (namespace + key).
    pub(super) fn wire_key<'k>(&self, key: &'k [u8]) -> WireKey<'k> {
        match &self.model.namespace {
            Some(ns) if !ns.is_empty() => {
                let len = ns.len() + key.len();
                if len > MAX_KEY {
                    return WireKey::TooLong;
                }
                let mut buf = [0u8; MAX_KEY];
                buf[..ns.len()].copy_from_slice(ns);
                buf[ns.len()..len].copy_from_slice(key);
                WireKey::Prefixed { buf, len }
            }
            _ if key.len() > MAX_KEY => WireKey::TooLong,
            _ => WireKey::Plain(key),
        }
    }

    /// The key the server is chosen by: the group key (or the key), with the namespace in
    /// front only under HASH_WITH_PREFIX_KEY. libmemcached hashes to 0 when namespace + key
    /// is over 250 bytes; the empty key stands for that.
    pub(super) fn routing_key<'k>(&self, group: Option<&'k [u8]>, key: &'k [u8]) -> WireKey<'k> {
        let k = group.unwrap_or(key);
        if self.model.hash_with_namespace {
            return match self.wire_key(k) {
                WireKey::TooLong => WireKey::Plain(&[]),
                w => w,
            };
        }
        WireKey::Plain(k)
    }

    /// The server index `memcached_generate_hash` reports for a key.
    pub(super) fn server_for(&self, group: Option<&[u8]>, key: &[u8]) -> Option<usize> {
        let route = self.routing_key(group, key);
        self.client
            .server_index_for_key(route.get().unwrap_or_default())
    }

    /// What the real library gets back for a namespace + key over 250 bytes: it sends the
    /// key and the server refuses it (text: CLIENT_ERROR; binary: an error status it does not
    /// know). Nothing is sent here.
    pub(super) fn too_long_code(&self) -> c_int {
        if self.model.binary_protocol {
            UNKNOWN_READ_FAILURE
        } else {
            rc::CLIENT_ERROR
        }
    }

    /// Runs one keyed request routed by `group` (a `*_by_key` group key) or by the key, with
    /// the namespace applied; returns its outcome as a libmemcached code (recorded as the last
    /// error), the answer in the caller's `sink` (a fresh `Counted::new`, kept in the caller's
    /// frame instead of being copied out on return).
    pub(super) fn run_routed_into(
        &mut self,
        memc: *const memcached_st,
        op: u8,
        group: Option<&[u8]>,
        key: &[u8],
        extras: &[u8],
        value: &[u8],
        cas: u64,
        sink: &mut Counted,
    ) -> c_int {
        self.query_id += 1;
        let keep_value = sink.one.keep_value;
        if !valid_key(key) {
            return self.record(rc::BAD_KEY_PROVIDED, memc, None);
        }
        if self.client.server_count() == 0 {
            return self.record(rc::NO_SERVERS, memc, None);
        }
        let wire = self.wire_key(key);
        let Some(wire) = wire.get() else {
            let code = self.too_long_code();
            return self.record(code, memc, None);
        };
        let by = self.routing_key(group, key);
        let by = by.get().unwrap_or_default();
        if self.model.use_udp {
            let server = self.client.server_index_for_key(by);
            let parts = RequestParts {
                opcode: op,
                key: wire,
                extras,
                value,
                cas,
                ..Default::default()
            };
            let fresh = Counted::new(keep_value);
            let (code, answer) = self.run_udp(memc, server, &parts, std::mem::replace(sink, fresh));
            *sink = answer;
            return code;
        }
        self.keep_pending_fetch();
        let route = if group.is_none() && same_key(by, wire) {
            Route::Key
        } else if !valid_key(by) {
            // A group key the engine takes for no key (NULL, empty, over 250 bytes): its server.
            self.client
                .server_index_for_key(by)
                .map_or(Route::ByKey(by), Route::Server)
        } else {
            Route::ByKey(by)
        };
        // The engine routes the request itself; the server is looked up here only for an
        // error that names it. Before the call only under auto-eject, where the call may move
        // the key away from the server that failed; otherwise the key stays where it was and
        // the lookup waits for a failure (saving a second hash and search per call).
        let early_server = match route {
            Route::Server(i) => Some(Some(i)),
            _ if self.model.auto_eject_hosts => Some(self.client.server_index_for_key(by)),
            _ => None,
        };
        let base_op = op;
        // exist (a GETK whose value is not kept) and touch wait for their answer whatever
        // NOREPLY says, as 1.1.4's do: the answer is all they report (sent quietly, a miss
        // would come back as SUCCESS).
        let noreply =
            !self.model.reply && !keep_value && !matches!(op, opcode::GETK | opcode::TOUCH);
        // libmemcached 1.1.4 buffers only set (not cas) and delete; add, replace, append,
        // prepend, cas, the counters, touch and exist still send and wait for their answer.
        let bufferable = (op == opcode::SET && cas == 0) || op == opcode::DELETE;
        let buffered = self.model.buffer_requests && !keep_value && bufferable;
        let quiet = noreply || buffered;
        let op = if quiet {
            crate::protocol::quiet_variant(op)
        } else {
            op
        };
        let mut reqs = [Request {
            route,
            parts: RequestParts {
                opcode: op,
                key: wire,
                extras,
                value,
                cas,
                ..Default::default()
            },
        }];
        let wait = if quiet { Wait::NoWait } else { self.wait() };
        // The engine queues at most send_buffer_max (10 MiB) per server; 1.1.4 sends a value of
        // any size (memcached takes up to `-I 1024m`). The value is in the caller's memory
        // already: this one request may be queued whatever its size.
        let need = value.len().saturating_add(wire.len()).saturating_add(64);
        let limit = self.client.raise_send_limit(need);
        // The server a get could not reach before it read from a replica (replicas.rs).
        let mut unreached = None;
        let status = if self.model.number_of_replicas == 0 {
            let status = self.client.command(&mut Requests(&mut reqs), sink, wait);
            let full = Some(Status::Failed(crate::client::Failure::SendBufferFull));
            if buffered && sink.one.status == full {
                // The server's queue is at the engine's limit (10 MiB): written out first
                // (not waited for), as libmemcached writes its buffer out when it fills;
                // then this request is queued.
                let flushed = self.client.write_buffers(self.wait());
                if flushed == Status::Ok {
                    sink.one.status = None;
                    self.client.command(&mut Requests(&mut reqs), sink, wait)
                } else {
                    status
                }
            } else {
                status
            }
        } else {
            let keep = keep_value;
            self.command_replicated(reqs[0], base_op, keep, sink, wait, &mut unreached)
        };
        self.client.restore_send_limit(limit);
        // 1.1.4 has written a noreply request when it returns, connecting first if need be.
        // Ours is on its way unless its server was still connecting (or its socket full):
        // then it is written out now, or it would wait for the next call on this handle and
        // be lost if none came.
        // A buffered write connects first too (1.1.4's set to a server that refuses the
        // connect fails with CONNECTION FAILURE at once; ours was queued and lost, the flush
        // after it saying SUCCESS): a connection still on its way is finished now, and what
        // waits for it written out with it.
        let unwritten = if buffered {
            self.client.connecting_with_unsent()
        } else {
            noreply && self.client.has_unsent()
        };
        let status = if quiet && status == Status::Buffered && unwritten {
            match self.client.write_buffers(self.wait()) {
                Status::Ok => status,
                failed => failed,
            }
        } else {
            status
        };
        // 1.1.4 over text returns SUCCESS for a set both buffered and sent noreply (a
        // delete stays BUFFERED; over binary both are); measured on Debian's library.
        // It is still written out before the connections close (`Lmc::settle`).
        let text_noreply_set = noreply && !self.model.binary_protocol && base_op == opcode::SET;
        if buffered && text_noreply_set && status == Status::Buffered {
            self.buffered = true;
        }
        let (code, failure) = match (status, sink.one.status) {
            (Status::Buffered, None) if buffered && !text_noreply_set => (rc::BUFFERED, None),
            (Status::Buffered, None) => (rc::SUCCESS, None),
            (_, Some(answer)) => (
                rc::from_status(answer, &sink.one.message[..sink.one.message_len]),
                answer.failure(),
            ),
            (Status::Ok, None) => (rc::SUCCESS, None),
            (other, None) => (rc::from_status(other, &[]), other.failure()),
        };
        let text_get = !self.model.binary_protocol && keep_value;
        self.quiet_errno(text_get);
        let server = if rc::names_server(code, failure) {
            early_server.unwrap_or_else(|| self.client.server_index_for_key(by))
        } else {
            None
        };
        let code = self.record_failure(code, failure, memc, server);
        match unreached {
            Some(missed) => self.record_unreached(code, missed, memc),
            None => code,
        }
    }
}
