//! Keys on the wire: the namespace (`MEMCACHED_CALLBACK_PREFIX_KEY`, `--NAMESPACE`) prepended
//! to every key, and the key a request is routed by (a `*_by_key` group key; the key without
//! its namespace unless `HASH_WITH_PREFIX_KEY`), as libmemcached 1.1.4 does.

use std::borrow::Cow;
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

impl ResponseSink for Counted {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if batch_index.is_some() {
            self.delta_value = resp.delta_value;
        }
        self.one.response(resp, batch_index)
    }
}

impl Lmc {
    /// The key as it goes on the wire (namespace + key).
    pub(super) fn wire_key<'k>(&self, key: &'k [u8]) -> Cow<'k, [u8]> {
        match &self.model.namespace {
            Some(ns) if !ns.is_empty() => {
                let mut k = Vec::with_capacity(ns.len() + key.len());
                k.extend_from_slice(ns);
                k.extend_from_slice(key);
                Cow::Owned(k)
            }
            _ => Cow::Borrowed(key),
        }
    }

    /// The key the server is chosen by: the group key (or the key), with the namespace in
    /// front only under HASH_WITH_PREFIX_KEY. libmemcached hashes to 0 when namespace + key
    /// is over 250 bytes; the empty key stands for that.
    pub(super) fn routing_key<'k>(&self, group: Option<&'k [u8]>, key: &'k [u8]) -> Cow<'k, [u8]> {
        let k = group.unwrap_or(key);
        if self.model.hash_with_namespace {
            let w = self.wire_key(k);
            if w.len() > MAX_KEY {
                return Cow::Borrowed(&[]);
            }
            return w;
        }
        Cow::Borrowed(k)
    }

    /// The server index `memcached_generate_hash` reports for a key.
    pub(super) fn server_for(&self, group: Option<&[u8]>, key: &[u8]) -> Option<usize> {
        let route = self.routing_key(group, key);
        self.client.server_index_for_key(&route)
    }

    /// What the real library gets back for a namespace + key over 250 bytes: it sends the
    /// key and the server refuses it (text: CLIENT_ERROR; binary: an error status it does not
    /// know). Nothing is sent here.
    fn too_long_code(&self) -> c_int {
        if self.model.binary_protocol {
            UNKNOWN_READ_FAILURE
        } else {
            rc::CLIENT_ERROR
        }
    }

    /// Runs one keyed request routed by `group` (a `*_by_key` group key) or by the key, with
    /// the namespace applied; returns its outcome as a libmemcached code (recorded as the last
    /// error) and the answer.
    pub(super) fn run_routed(
        &mut self,
        memc: *const memcached_st,
        op: u8,
        group: Option<&[u8]>,
        key: &[u8],
        extras: &[u8],
        value: &[u8],
        cas: u64,
        keep_value: bool,
    ) -> (c_int, Counted) {
        self.query_id += 1;
        let mut sink = Counted {
            one: One::new(keep_value),
            delta_value: 0,
        };
        if !valid_key(key) {
            return (self.record(rc::BAD_KEY_PROVIDED, memc, None), sink);
        }
        if self.client.server_count() == 0 {
            return (self.record(rc::NO_SERVERS, memc, None), sink);
        }
        let wire = self.wire_key(key);
        if wire.len() > MAX_KEY {
            let code = self.too_long_code();
            return (self.record(code, memc, None), sink);
        }
        let by = self.routing_key(group, key);
        if self.model.use_udp {
            let server = self.client.server_index_for_key(&by);
            let parts = RequestParts {
                opcode: op,
                key: &wire,
                extras,
                value,
                cas,
                ..Default::default()
            };
            return self.run_udp(memc, server, &parts, sink);
        }
        let route = if group.is_none() && by[..] == wire[..] {
            Route::Key
        } else if !valid_key(&by) {
            // A group key the engine takes for no key (NULL, empty, over 250 bytes): its server.
            self.client
                .server_index_for_key(&by)
                .map_or(Route::ByKey(&by), Route::Server)
        } else {
            Route::ByKey(&by)
        };
        // The engine routes the request itself; the server is looked up here only for an
        // error that names it. Before the call only under auto-eject, where the call may move
        // the key away from the server that failed; otherwise the key stays where it was and
        // the lookup waits for a failure (saving a second hash and search per call).
        let early_server = match route {
            Route::Server(i) => Some(Some(i)),
            _ if self.model.auto_eject_hosts => Some(self.client.server_index_for_key(&by)),
            _ => None,
        };
        let noreply = !self.model.reply && !keep_value;
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
                key: &wire,
                extras,
                value,
                cas,
                ..Default::default()
            },
        }];
        let wait = if quiet { Wait::NoWait } else { self.wait() };
        let status = self
            .client
            .command(&mut Requests(&mut reqs), &mut sink, wait);
        let (code, failure) = match (status, sink.one.status) {
            (Status::Buffered, None) if buffered => (rc::BUFFERED, None),
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
            early_server.unwrap_or_else(|| self.client.server_index_for_key(&by))
        } else {
            None
        };
        (self.record_failure(code, failure, memc, server), sink)
    }
}
