//! The state behind one `omcache._pylibmc.client`: the engine, libmemcached's settings model
//! (the same `Model` the libmemcached face keeps, so every behavior has the real library's
//! side effects and keys land where Debian's pylibmc puts them), and receive buffers reused
//! from call to call. Nothing here touches Python: these run with the GIL released.

use std::time::Duration;

use omcache::client::{
    replica_copied, Client, Failure, ReplicaAnswer, ReplicaAnswers, ReplicaScratch, Request,
    RequestSet, Response, ResponseSink, Route, Status, Wait,
};
use omcache::ffi::libmemcached::config::{distribution, Model, ModelServer};
use omcache::ffi::libmemcached::server_list::ConnectionType;
use omcache::hash::HashAlgorithm;
use omcache::ketama::{Distribution, LibmemcachedConfig, LibmemcachedLayout};
use omcache::protocol::{extras, opcode, Protocol, RequestParts};

use super::replicas;

/// The longest key memcached takes.
pub const MAX_KEY_LEN: usize = 250;

/// The outcome of one keyed request.
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    pub status: Status,
    pub flags: u32,
    pub cas: u64,
    pub delta: u64,
    /// The server text of a text-protocol error line was kept in `Inner::message`.
    pub server: Option<usize>,
}

/// One value of a multi-get: which key it answers and where its bytes are in
/// `Inner::values` (read through a `MultiGet`).
///
/// Copied, not left pinned in the engine's receive buffers: a multi-get's values can exceed
/// the memory the engine keeps alive for pinned values within one call (`retire_budget`,
/// 8 MiB a connection), and past it the engine stops receiving until they are consumed —
/// 120,000 values of 100 bytes came back as 61,268 when they were pinned.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    pub index: usize,
    start: usize,
    end: usize,
    pub flags: u32,
}

pub struct Inner {
    pub engine: Client,
    pub model: Model,
    pub pickle_protocol: i32,
    /// The wire key of a single request (namespace + key).
    wire: Vec<u8>,
    /// The value of the last single get.
    pub value: Vec<u8>,
    /// The server's own words for the last failed single request (text error lines).
    pub message: Vec<u8>,
    /// Wire keys of a multi request, back to back, and where each ends.
    pub keys: Vec<u8>,
    pub key_ends: Vec<usize>,
    /// Values of a multi-get that were copied, back to back, and the hits (see `MultiGet`).
    values: Vec<u8>,
    hits: Vec<Hit>,
    /// The answer to each request of a multi store / delete / counter batch.
    pub statuses: Vec<Status>,
    /// SASL PLAIN credentials (`username=`/`password=`, binary protocol only).
    pub sasl: Option<omcache::client::SaslCredentials>,
    /// TLS to every TCP server (`tls=`/`tls_*=` keywords); None: plaintext.
    pub tls: Option<omcache::client::TlsSettings>,
    /// Lists of the multi calls over replicas (`num_replicas`), kept between calls.
    replicas: ReplicaScratch,
}

/// Collects the answer of a single request; the value is copied into a reused buffer.
struct One<'b> {
    status: Option<Status>,
    flags: u32,
    cas: u64,
    delta: u64,
    value: &'b mut Vec<u8>,
    message: &'b mut Vec<u8>,
}

impl ResponseSink for One<'_> {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if batch_index.is_none() {
            return false;
        }
        self.status = Some(resp.status);
        self.flags = resp.flags;
        self.cas = resp.cas;
        self.delta = resp.delta_value;
        if resp.status == Status::Ok {
            self.value.clear();
            self.value.extend_from_slice(resp.data);
        } else {
            self.message.clear();
            self.message.extend_from_slice(resp.message);
        }
        false
    }
}

impl ReplicaAnswer for One<'_> {
    fn status(&self) -> Option<Status> {
        self.status
    }

    fn clear(&mut self) {
        self.status = None;
    }
}

/// Collects the hits of a multi-get (values copied back to back) and the first failure.
struct Hits<'b> {
    values: &'b mut Vec<u8>,
    hits: &'b mut Vec<Hit>,
    failure: Option<Status>,
    /// Requests that failed (neither a value nor a miss).
    failed: usize,
    /// The arena index of the chunk's first key (see `chunk_end`).
    base: usize,
}

impl ResponseSink for Hits<'_> {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        let Some(index) = batch_index else {
            return false;
        };
        match resp.status {
            Status::Ok => {
                let start = self.values.len();
                self.values.extend_from_slice(resp.data);
                self.hits.push(Hit {
                    index: self.base + index,
                    start,
                    end: self.values.len(),
                    flags: resp.flags,
                });
            }
            Status::NotFound => {}
            other => {
                self.failure.get_or_insert(other);
                self.failed += 1;
            }
        }
        false
    }
}

/// Records each request's status by index.
struct Statuses<'b>(&'b mut [Status]);

impl ResponseSink for Statuses<'_> {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if let Some(slot) = batch_index.and_then(|i| self.0.get_mut(i)) {
            *slot = resp.status;
        }
        false
    }
}

impl ReplicaAnswers for Statuses<'_> {
    fn status(&self, i: usize) -> Status {
        self.0[i]
    }
}

/// A batch of keyed requests over the wire keys in `Inner::keys`, each with the same opcode
/// and extras, and its own value (none for gets, deletes and counters).
struct KeyBatch<'a> {
    keys: &'a [u8],
    ends: &'a [usize],
    /// The chunk of the arena this batch is: keys `base..base + len` (see `chunk_end`).
    base: usize,
    len: usize,
    /// Bytes of namespace in front of each wire key: the key is routed without them unless
    /// `_hash_with_prefix_key` says otherwise (as libmemcached does).
    unhashed_prefix: usize,
    opcode: u8,
    extras: &'a [u8],
    /// Extras of each request (stores: each value has its flags); empty: `extras` for all.
    extras_each: &'a [[u8; 8]],
    values: &'a [&'a [u8]],
}

impl<'a> KeyBatch<'a> {
    /// The chunk `range` of the arena's keys (`keys`, `ends`): requests of `opcode`, without
    /// extras or values until the caller sets them.
    fn chunk(
        keys: &'a [u8],
        ends: &'a [usize],
        range: std::ops::Range<usize>,
        unhashed_prefix: usize,
        opcode: u8,
    ) -> KeyBatch<'a> {
        KeyBatch {
            keys,
            ends,
            base: range.start,
            len: range.len(),
            unhashed_prefix,
            opcode,
            extras: &[],
            extras_each: &[],
            values: &[],
        }
    }

    /// Arena key `j` (an absolute index).
    fn key(&self, j: usize) -> &[u8] {
        let start = if j == 0 { 0 } else { self.ends[j - 1] };
        &self.keys[start..self.ends[j]]
    }
}

/// The engine queues at most `Settings::send_buffer_max` (10 MiB) per server in one call; a
/// batch larger than that (a set_multi of 120,000 values failed at about 75,000 with WRITE
/// FAILURE) runs in chunks of about this many bytes, one after the other.
const CHUNK_BYTES: usize = 4 << 20;

/// The end of the chunk of arena requests that starts at `start`, and its encoded size:
/// requests are added until their encoded size reaches CHUNK_BYTES (at least one).
fn chunk_end(ends: &[usize], start: usize, extras: usize, values: &[&[u8]]) -> (usize, usize) {
    let mut bytes = 0;
    let mut j = start;
    while j < ends.len() && bytes < CHUNK_BYTES {
        let key = ends[j] - if j == 0 { 0 } else { ends[j - 1] };
        bytes += 24 + extras + key + values.get(j).map_or(0, |v| v.len());
        j += 1;
    }
    (j, bytes)
}

impl RequestSet for KeyBatch<'_> {
    fn len(&self) -> usize {
        self.len
    }

    fn request(&self, i: usize) -> Request<'_> {
        let j = self.base + i;
        let key = self.key(j);
        let route = if self.unhashed_prefix > 0 {
            Route::ByKey(&key[self.unhashed_prefix.min(key.len())..])
        } else {
            Route::Key
        };
        Request {
            route,
            parts: RequestParts {
                opcode: self.opcode,
                key,
                extras: self.extras_each.get(j).map_or(self.extras, |e| &e[..]),
                value: self.values.get(j).copied().unwrap_or(&[]),
                ..Default::default()
            },
        }
    }

    fn assigned(&mut self, _i: usize, _server: Option<usize>, _opaque: u32) {}
}

/// Requests to each server in turn (flush_all).
struct EachServer<'a> {
    count: usize,
    opcode: u8,
    extras: &'a [u8],
}

impl RequestSet for EachServer<'_> {
    fn len(&self) -> usize {
        self.count
    }

    fn request(&self, i: usize) -> Request<'_> {
        Request::to_server(
            i,
            RequestParts {
                opcode: self.opcode,
                extras: self.extras,
                ..Default::default()
            },
        )
    }

    fn assigned(&mut self, _i: usize, _server: Option<usize>, _opaque: u32) {}
}

fn is_consistent(d: u32) -> bool {
    matches!(
        d,
        distribution::CONSISTENT
            | distribution::CONSISTENT_KETAMA
            | distribution::CONSISTENT_KETAMA_SPY
            | distribution::CONSISTENT_WEIGHTED
    )
}

/// The outcome of `Inner::get_multi`: the first failure, and the values found (read while it
/// holds the client state; cleared when it is dropped).
pub struct MultiGet<'a> {
    inner: &'a mut Inner,
    pub failure: Option<Status>,
}

impl MultiGet<'_> {
    pub fn inner(&self) -> &Inner {
        self.inner
    }

    pub fn hits(&self) -> &[Hit] {
        &self.inner.hits
    }

    /// The bytes of a hit.
    pub fn data(&self, hit: &Hit) -> &[u8] {
        &self.inner.values[hit.start..hit.end]
    }
}

impl Drop for MultiGet<'_> {
    fn drop(&mut self) {
        self.inner.hits.clear();
    }
}

/// libmemcached's "not found: do not create" expiration for increment/decrement.
const NO_CREATE: u32 = 0xffff_ffff;

impl Inner {
    pub fn new(binary: bool) -> Inner {
        let mut inner = Inner {
            engine: Client::new(),
            model: Model::default(),
            pickle_protocol: -1,
            wire: Vec::new(),
            value: Vec::new(),
            message: Vec::new(),
            keys: Vec::new(),
            key_ends: Vec::new(),
            values: Vec::new(),
            hits: Vec::new(),
            statuses: Vec::new(),
            sasl: None,
            tls: None,
            replicas: ReplicaScratch::default(),
        };
        inner.model.binary_protocol = binary;
        inner.apply_settings();
        inner
    }

    /// A fresh client configured as this one (no connections shared).
    pub fn clone_config(&self) -> Inner {
        let mut c = Inner::new(self.model.binary_protocol);
        c.model = self.model.clone();
        c.pickle_protocol = self.pickle_protocol;
        c.sasl = self.sasl.clone();
        c.tls = self.tls.clone();
        // memcached_clone pushes the servers into the copy: its continuum is built afresh.
        c.model.run_distribution();
        c.apply_settings();
        c.apply_servers();
        c
    }

    pub fn binary(&self) -> bool {
        self.model.binary_protocol
    }

    /// `memcached_server_add_with_weight` and friends: a server with a weight above 1 makes
    /// a consistent distribution weighted, and `_sort_hosts` keeps the list sorted.
    pub fn add_server(&mut self, host: &str, port: u16, weight: u32, kind: ConnectionType) {
        if weight > 1 && is_consistent(self.model.distribution) {
            self.model.weighted = true;
        }
        self.model.servers.push(ModelServer {
            hostname: host.as_bytes().to_vec(),
            port,
            weight,
            kind,
        });
        self.model.run_distribution();
    }

    /// The engine's settings as the model says (as the libmemcached face applies them, except
    /// that buffer_requests is kept as a setting only, and _noreply acts in `single`).
    pub fn apply_settings(&mut self) {
        let m = &self.model;
        self.engine.set_protocol(if m.binary_protocol {
            Protocol::Binary
        } else {
            Protocol::Text
        });
        // As libmemcached: `get` over text unless the cas behavior is on.
        self.engine.set_text_cas(m.support_cas);
        let layout =
            LibmemcachedLayout::from_c(m.distribution).unwrap_or(LibmemcachedLayout::Modula);
        let hash = HashAlgorithm::from_c(m.hash).unwrap_or_default();
        let weighted = m.weighted || m.distribution == distribution::CONSISTENT_WEIGHTED;
        let mut config = LibmemcachedConfig::new(layout, hash).weighted(weighted);
        if m.points_hash != m.hash {
            if let Some(points) = HashAlgorithm::from_c(m.points_hash) {
                config = config.with_point_hash(points);
            }
        }
        self.engine
            .set_distribution(Distribution::Libmemcached(config));
        let s = self.engine.settings_mut();
        s.sasl = self.sasl.clone();
        s.tls = self.tls.clone();
        m.apply_timeouts(s);
        // pylibmc (libmemcached) reads a value of any size: memcached's largest item
        // (`-I 1024m`) must come through, not OMcache's 1 MiB default limit.
        s.recv_buffer_max = omcache::protocol::binary::MAX_SANE_BODY as usize;
    }

    /// The engine's server list as the model's.
    pub fn apply_servers(&mut self) {
        let servers = self.model.engine_servers();
        self.engine.replace_servers(servers);
    }

    /// Closes every connection (they reopen at the next request); what is known of the
    /// servers (out of service, due for a flush) stays.
    pub fn disconnect_all(&mut self) {
        self.engine.close_connections();
    }

    /// The wait of one engine call: `_poll_timeout` from the start of that call (resolved by
    /// the engine, one clock read). A replicated request's calls (a set then its copies, a
    /// get tried on the next server, an mget's connects then its gets) each get it anew, as
    /// each of libmemcached's waits does.
    fn wait(&self) -> Wait {
        let ms = u64::try_from(self.model.poll_timeout).unwrap_or(5000);
        Wait::Within(Duration::from_millis(ms.max(1)))
    }

    fn namespace_len(&self) -> usize {
        self.model.namespace.as_ref().map_or(0, Vec::len)
    }

    /// How many namespace bytes in front of a wire key are left out of its routing.
    fn unhashed_prefix(&self) -> usize {
        if self.model.hash_with_namespace {
            0
        } else {
            self.namespace_len()
        }
    }

    /// The server a key goes to (pylibmc's `hash()`: `memcached_generate_hash`).
    pub fn server_for_key(&self, key: &[u8]) -> Option<usize> {
        if self.model.hash_with_namespace && self.namespace_len() > 0 {
            let mut k = self.model.namespace.clone().unwrap_or_default();
            k.extend_from_slice(key);
            return self.engine.server_index_for_key(&k);
        }
        self.engine.server_index_for_key(key)
    }

    /// One keyed request, waited for.
    pub fn single(&mut self, op: u8, key: &[u8], extras: &[u8], value: &[u8], cas: u64) -> Answer {
        let mut answer = Answer {
            status: Status::Ok,
            flags: 0,
            cas: 0,
            delta: 0,
            server: None,
        };
        self.message.clear();
        if self.engine.server_count() == 0 {
            answer.status = Status::Failed(Failure::NoServers);
            return answer;
        }
        // The wire key: the key itself, or copied behind the namespace.
        let wire: &[u8] = match &self.model.namespace {
            None => key,
            Some(ns) => {
                self.wire.clear();
                self.wire.extend_from_slice(ns);
                self.wire.extend_from_slice(key);
                &self.wire
            }
        };
        if wire.len() > MAX_KEY_LEN {
            answer.status = Status::Failed(Failure::InvalidRequest);
            return answer;
        }
        let skip = self.unhashed_prefix();
        let route = if skip > 0 {
            Route::ByKey(key)
        } else {
            Route::Key
        };
        let copies = replicas::copies(&self.model, &self.engine);
        // `_noreply`: stores and deletes go quietly (text `noreply`, binary quiet opcodes) and
        // are written out before the call returns, not waited for, as pylibmc's are (found by
        // an outside tester: each waited for its answer, a stalled server took the whole poll
        // timeout per set and two of them put it out of service). Replicated writes still
        // wait: whether a copy is made depends on the first write's answer.
        let noreply = !self.model.reply
            && copies == 0
            && matches!(
                op,
                opcode::SET
                    | opcode::ADD
                    | opcode::REPLACE
                    | opcode::APPEND
                    | opcode::PREPEND
                    | opcode::DELETE
            );
        let call_wait = self.wait();
        let wait = if noreply { Wait::NoWait } else { call_wait };
        let wire_op = if noreply {
            omcache::protocol::quiet_variant(op)
        } else {
            op
        };
        let mut reqs = [Request {
            route,
            parts: RequestParts {
                opcode: wire_op,
                key: wire,
                extras,
                value,
                cas,
                ..Default::default()
            },
        }];
        let mut sink = One {
            status: None,
            flags: 0,
            cas: 0,
            delta: 0,
            value: &mut self.value,
            message: &mut self.message,
        };
        // The engine queues at most send_buffer_max (10 MiB) per server; pylibmc sends a value
        // of any size (memcached takes up to `-I 1024m`): this one request may be queued
        // whatever its size.
        let need = value.len().saturating_add(wire.len()).saturating_add(64);
        let limit = self.engine.raise_send_limit(need);
        let status = if copies == 0 {
            self.engine
                .command(&mut omcache::client::Requests(&mut reqs), &mut sink, wait)
        } else if let Some(only_if_sent) = replica_copied(op, cas) {
            let engine = &mut self.engine;
            engine.command_with_copies(copies, op, only_if_sent, reqs[0], &mut sink, wait)
        } else if op == opcode::GETK {
            let (replicas, request) = (copies as u64, reqs[0]);
            let mut unreached = None;
            let engine = &mut self.engine;
            engine.get_from_replicas(replicas, 0, request, &mut sink, wait, &mut unreached)
        } else {
            self.engine
                .command(&mut omcache::client::Requests(&mut reqs), &mut sink, wait)
        };
        self.engine.restore_send_limit(limit);
        let status = match status {
            // Queued: written out now (a connection still being made is finished first),
            // or it would wait for the next call on this client.
            Status::Buffered if noreply && self.engine.has_unsent() => {
                match self.engine.write_buffers(call_wait) {
                    Status::Ok => Status::Buffered,
                    failed => failed,
                }
            }
            other => other,
        };
        answer.status = match (sink.status, status) {
            (Some(s), _) => s,
            (None, Status::Buffered) if noreply => Status::Ok,
            (None, Status::Ok) => Status::NotFound,
            (None, other) => other,
        };
        answer.flags = sink.flags;
        answer.cas = sink.cas;
        answer.delta = sink.delta;
        if answer.status != Status::Ok {
            answer.server = self.server_for_key(key);
        }
        answer
    }

    pub fn get(&mut self, key: &[u8]) -> Answer {
        self.single(opcode::GETK, key, &[], &[], 0)
    }

    pub fn store(
        &mut self,
        op: u8,
        key: &[u8],
        value: &[u8],
        time: u32,
        flags: u32,
        cas: u64,
    ) -> Answer {
        let ex = extras::storage(flags, time);
        // Binary append/prepend carry no extras (the server refuses them).
        let ex: &[u8] = if matches!(op, opcode::APPEND | opcode::PREPEND) {
            &[]
        } else {
            &ex
        };
        self.single(op, key, ex, value, cas)
    }

    pub fn delta(&mut self, op: u8, key: &[u8], delta: u64) -> Answer {
        let ex = extras::delta(delta, 0, NO_CREATE);
        self.single(op, key, &ex, &[], 0)
    }

    pub fn touch(&mut self, key: &[u8], time: u32) -> Answer {
        let ex = extras::expiration(time);
        self.single(opcode::TOUCH, key, &ex, &[], 0)
    }

    /// Starts a multi request: clears the key arena.
    pub fn begin_keys(&mut self) {
        self.keys.clear();
        self.key_ends.clear();
    }

    /// Adds a wire key (namespace + prefix + key) to the arena; false if it is too long.
    #[inline]
    pub fn push_key(&mut self, prefix: &[u8], key: &[u8]) -> bool {
        // Most calls have neither namespace nor prefix: one copy, not three.
        if prefix.is_empty() && self.model.namespace.is_none() {
            if key.len() > MAX_KEY_LEN {
                return false;
            }
            self.keys.extend_from_slice(key);
            self.key_ends.push(self.keys.len());
            return true;
        }
        self.push_prefixed_key(prefix, key)
    }

    fn push_prefixed_key(&mut self, prefix: &[u8], key: &[u8]) -> bool {
        let ns = self.model.namespace.as_deref().unwrap_or(&[]);
        if ns.len() + prefix.len() + key.len() > MAX_KEY_LEN {
            return false;
        }
        if !ns.is_empty() {
            self.keys.extend_from_slice(ns);
        }
        if !prefix.is_empty() {
            self.keys.extend_from_slice(prefix);
        }
        self.keys.extend_from_slice(key);
        self.key_ends.push(self.keys.len());
        true
    }

    /// Gets every key of the arena with one pipelined batch per server, the engine call run
    /// by `detach` (which releases the GIL around it); the values found are read through the
    /// `MultiGet` returned, which holds the client until it is dropped.
    pub fn get_multi(
        &mut self,
        detach: impl FnOnce(&mut (dyn FnMut() -> Option<Status> + Send)) -> Option<Status>,
    ) -> MultiGet<'_> {
        let failure = detach(&mut || self.fetch_hits());
        MultiGet {
            inner: self,
            failure,
        }
    }

    /// The engine call of `get_multi`: hits land in `hits` (and `values`). Returns the first
    /// failure when every request failed: as pylibmc's get_multi over text, a server that
    /// answered (hits or misses) makes the call a success with what it found. A call that ran
    /// out of time is a success with what came, `{}` if nothing, as pylibmc's is over either
    /// protocol (measured on Debian's: a frozen server, `{}` after the poll timeout, where
    /// ours raised; found by an outside tester); a server out of service still raises.
    fn fetch_hits(&mut self) -> Option<Status> {
        self.hits.clear();
        self.values.clear();
        if self.key_ends.is_empty() {
            return None;
        }
        if self.engine.server_count() == 0 {
            return Some(Status::Failed(Failure::NoServers));
        }
        let unhashed_prefix = self.unhashed_prefix();
        let copies = replicas::copies(&self.model, &self.engine);
        let mut failure = None;
        let mut failed = 0;
        let mut base = 0;
        while base < self.key_ends.len() {
            let (end, _) = chunk_end(&self.key_ends, base, 0, &[]);
            let wait = self.wait();
            let mut batch = KeyBatch::chunk(
                &self.keys,
                &self.key_ends,
                base..end,
                unhashed_prefix,
                opcode::GETKQ,
            );
            let mut sink = Hits {
                values: &mut self.values,
                hits: &mut self.hits,
                failure: None,
                failed: 0,
                base,
            };
            if copies > 0 {
                // As 1.1.4's mget over replicas: no failure, the values found.
                self.engine.mget_from_replicas(
                    copies as u64,
                    0,
                    &mut batch,
                    &mut sink,
                    wait,
                    false,
                    &mut self.replicas,
                );
            } else {
                let status = self.engine.command(&mut batch, &mut sink, wait);
                let chunk_failure = match (sink.failure, status) {
                    (Some(f), _) => {
                        failed += sink.failed;
                        Some(f)
                    }
                    (None, Status::Ok) => None,
                    // The call failed as a whole: none of the chunk's keys was answered.
                    (None, other) => {
                        failed += end - base;
                        Some(other)
                    }
                };
                failure = failure.or(chunk_failure);
            }
            base = end;
        }
        let timed_out = matches!(
            failure,
            Some(Status::Again | Status::Failed(Failure::Timeout))
        );
        failure.filter(|_| failed >= self.key_ends.len() && !timed_out)
    }

    /// Runs one request per arena key (stores with `values`, deletes, counters); each
    /// request's answer lands in `statuses`.
    pub fn run_keys(&mut self, op: u8, extras: &[u8], values: &[&[u8]]) {
        self.run_batch(op, extras, &[], values);
    }

    /// Stores each arena key with its own extras and value.
    pub fn run_multi_store(&mut self, op: u8, extras_each: &[[u8; 8]], values: &[&[u8]]) {
        self.run_batch(op, &[], extras_each, values);
    }

    fn run_batch(&mut self, op: u8, extras: &[u8], extras_each: &[[u8; 8]], values: &[&[u8]]) {
        let n = self.key_ends.len();
        self.statuses.clear();
        self.statuses
            .resize(n, Status::Failed(Failure::ConnectionReset));
        if n == 0 {
            return;
        }
        if self.engine.server_count() == 0 {
            self.statuses.fill(Status::Failed(Failure::NoServers));
            return;
        }
        let unhashed_prefix = self.unhashed_prefix();
        let copies = replicas::copies(&self.model, &self.engine);
        let extras_len = extras_each.first().map_or(extras.len(), |e| e.len());
        let mut base = 0;
        while base < n {
            let (end, bytes) = chunk_end(&self.key_ends, base, extras_len, values);
            // A chunk may hold one value larger than the engine's per-server queue (10 MiB):
            // pylibmc sends a value of any size, so this chunk may be queued whatever its size.
            let limit = self.engine.raise_send_limit(bytes);
            let wait = self.wait();
            let mut batch = KeyBatch {
                extras,
                extras_each,
                values,
                ..KeyBatch::chunk(&self.keys, &self.key_ends, base..end, unhashed_prefix, op)
            };
            let statuses = &mut self.statuses[base..end];
            let mut sink = Statuses(statuses);
            let status = match replica_copied(op, 0) {
                Some(only_if_sent) if copies > 0 => self.engine.batch_with_copies(
                    copies,
                    op,
                    only_if_sent,
                    &mut batch,
                    &mut sink,
                    wait,
                    &mut self.replicas,
                ),
                _ => self.engine.command(&mut batch, &mut sink, wait),
            };
            self.engine.restore_send_limit(limit);
            // Requests that never got an answer failed as the call did: a failure, or the
            // wait running out (Again: TIMEOUT, as `set` reports it), not the placeholder's
            // "connection closed" (found by outside tester U: set_multi to a silent server).
            if status.failure().is_some() || status == Status::Again {
                for s in &mut self.statuses[base..end] {
                    if *s == Status::Failed(Failure::ConnectionReset) {
                        *s = status;
                    }
                }
            }
            base = end;
        }
    }

    /// The routing key of arena key `i` (for error messages).
    pub fn arena_server(&self, i: usize) -> Option<usize> {
        let start = if i == 0 { 0 } else { self.key_ends[i - 1] };
        let key = &self.keys[start..self.key_ends[i]];
        self.engine
            .server_index_for_key(&key[self.unhashed_prefix().min(key.len())..])
    }

    /// flush_all on every server; the first failure and its server.
    pub fn flush_all(&mut self, time: u32) -> Option<(Status, usize)> {
        let n = self.engine.server_count();
        self.statuses.clear();
        self.statuses
            .resize(n, Status::Failed(Failure::ConnectionReset));
        let ex = extras::expiration(time);
        let wait = self.wait();
        let status = self.engine.command(
            &mut EachServer {
                count: n,
                opcode: opcode::FLUSH,
                extras: &ex,
            },
            &mut Statuses(&mut self.statuses),
            wait,
        );
        if let Some(i) = self.statuses.iter().position(|s| *s != Status::Ok) {
            let s = self.statuses[i];
            let s = if s == Status::Failed(Failure::ConnectionReset) && status != Status::Ok {
                status
            } else {
                s
            };
            return Some((s, i));
        }
        None
    }

    /// The statistics of each server: (index, name/value pairs) or the failure.
    #[allow(clippy::type_complexity)]
    pub fn stats(&mut self, group: Option<&str>) -> Vec<Result<Vec<(String, String)>, Status>> {
        (0..self.engine.server_count())
            .map(|i| self.engine.stats(i, group))
            .collect()
    }

    /// "host:port" of a server, as pylibmc names it in get_stats and errors.
    pub fn server_name(&self, i: usize) -> String {
        match self.engine.server_addr(i) {
            Some(a) => format!("{}:{}", a.hostname(), a.port),
            None => String::new(),
        }
    }
}
