//! pylibmc's `num_replicas` (libmemcached's NUMBER_OF_REPLICAS) as Debian's python3-pylibmc
//! gets it from libmemcached 1.1.4, with the rules of the libmemcached face
//! (src/ffi/libmemcached/replicas.rs), on the binary protocol only (text ignores it):
//!
//! - `set` (not a cas), and each set of `set_multi` (pylibmc's is a loop of memcached_set),
//!   is also sent quiet (SETQ) to the `num_replicas` servers after the key's, in server-list
//!   order (at most every other server once), when the set itself could be sent; `delete`
//!   and each delete of `delete_multi` (a loop of memcached_delete in pylibmc) likewise
//!   (DELETEQ), whatever became of the first. Copies go in the same batch as the requests;
//!   their answers are not the caller's. add, replace, append, prepend, cas, incr, decr and
//!   touch are not copied.
//! - `get`/`gets` go to the key's server; only when it cannot be reached (refused, out of
//!   service) to the next one, and so on; a miss is not retried. No server reached: a miss.
//! - `get_multi` (one memcached_mget in pylibmc) first connects the keys' unconnected servers
//!   (a NOOP each) and sends each key's get to the first of its servers that can be reached;
//!   as 1.1.4's mget over replicas, it never fails: the values found come back.
//!
//! Where ours differs from Debian's (as the libmemcached face does): 1.1.4 leaves a set's
//! copies in the replicas' output buffers until something else flushes them (the next
//! request on that connection, `disconnect_all`, the client's end), and leaves unread the
//! answers of quiet deletes a replica refused (a key it lacks), which the next reads on that
//! connection take for theirs (a `get` of a present key then returns None). Ours sends the
//! copies at once and reads every answer.

use omcache::client::{Client, Discard, Failure, Request, RequestSet, Requests, Response};
use omcache::client::{ResponseSink, Route, Status, Wait};
use omcache::ffi::libmemcached::config::Model;
use omcache::protocol::{opcode, quiet_variant, RequestParts};

/// How many copies each replicated request gets: 0 when replication is off (text protocol,
/// no replicas, a single server).
pub fn copies(model: &Model, engine: &Client) -> usize {
    let servers = engine.server_count();
    if model.number_of_replicas == 0 || !model.binary_protocol || servers < 2 {
        return 0;
    }
    (model.number_of_replicas as usize).min(servers - 1)
}

/// Whether a request of opcode `op` (before any quiet variant) with `cas` is copied, and if
/// so whether only when it was sent itself (a set) or in any case (a delete).
pub fn copied(op: u8, cas: u64) -> Option<bool> {
    match op {
        opcode::SET if cas == 0 => Some(true),
        opcode::DELETE => Some(false),
        _ => None,
    }
}

/// A failure that left the request unsent (the server could not be connected to or written
/// to, or is out of service): a get then tries the next server.
pub fn unsent(f: Failure) -> bool {
    matches!(
        f,
        Failure::ConnectRefused
            | Failure::ConnectTimeout
            | Failure::NameNotResolved
            | Failure::ServerDead
            | Failure::ServerTemporarilyDisabled
            | Failure::NoServers
            | Failure::Tls(_)
    )
}

/// The server a request goes to as the handle hashes it.
fn hashed(engine: &Client, request: &Request<'_>) -> Option<usize> {
    match request.route {
        Route::Server(i) => Some(i),
        Route::Key => engine.server_index_for_key(request.parts.key),
        Route::ByKey(k) => engine.server_index_for_key(k),
    }
}

/// A sink that the get failover can start afresh for each server it tries.
pub trait Answer: ResponseSink {
    /// The answer (or synthesized failure) of the request, if any came.
    fn status(&self) -> Option<Status>;
    /// Forgets the answer.
    fn clear(&mut self);
}

/// Hands the sink only the answers of batch indices below `own` (the caller's requests, not
/// their copies).
struct OwnOnly<'s, S: ?Sized> {
    sink: &'s mut S,
    own: usize,
}

impl<S: ResponseSink + ?Sized> ResponseSink for OwnOnly<'_, S> {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        match batch_index {
            Some(i) if i >= self.own => false,
            _ => self.sink.response(resp, batch_index),
        }
    }
}

/// A copy's request: `parts` with the quiet opcode, to server `base + r` (in server-list
/// order), or to no server (refused unsent) without a base.
fn copy<'a>(
    parts: RequestParts<'a>,
    copy_op: u8,
    base: Option<usize>,
    r: usize,
    servers: usize,
) -> Request<'a> {
    let server = base.map_or(usize::MAX, |s| (s + r) % servers);
    Request::to_server(
        server,
        RequestParts {
            opcode: copy_op,
            ..parts
        },
    )
}

/// One request (batch index 0) and its `copies` (1..).
struct WithCopies<'a> {
    request: Request<'a>,
    copy_op: u8,
    hashed: Option<usize>,
    servers: usize,
    copies: usize,
    only_if_sent: bool,
    /// Where the request went (None: not sent), once queued.
    sent_to: Option<Option<usize>>,
    /// 1: the copies only (the request went in a batch of its own).
    skip: usize,
}

impl RequestSet for WithCopies<'_> {
    fn len(&self) -> usize {
        1 + self.copies - self.skip
    }

    fn request(&self, i: usize) -> Request<'_> {
        let i = i + self.skip;
        if i == 0 {
            return self.request;
        }
        let base = match self.sent_to {
            Some(Some(s)) => Some(s),
            Some(None) if self.only_if_sent => None,
            _ => self.hashed,
        };
        copy(self.request.parts, self.copy_op, base, i, self.servers)
    }

    fn assigned(&mut self, i: usize, server: Option<usize>, _opaque: u32) {
        if i + self.skip == 0 {
            self.sent_to = Some(server);
        }
    }
}

/// A set or delete (`only_if_sent`: see `copied`) with its `copies` to the servers after its
/// own; `sink` sees only its own answer.
pub fn command_with_copies<S: Answer>(
    engine: &mut Client,
    copies: usize,
    request: Request<'_>,
    only_if_sent: bool,
    sink: &mut S,
    wait: Wait,
) -> Status {
    let hashed = hashed(engine, &request);
    let mut reqs = WithCopies {
        request,
        copy_op: quiet_variant(request.parts.opcode),
        hashed,
        servers: engine.server_count(),
        copies,
        only_if_sent,
        sent_to: None,
        skip: 0,
    };
    // A set to a server not connected yet: 1.1.4 connects before it writes and sends no
    // copies when that fails, so the set goes alone and its copies after it.
    if only_if_sent && hashed.is_some_and(|s| engine.server_fd(s).is_none()) {
        let mut one = [request];
        let status = engine.command(&mut Requests(&mut one), sink, wait);
        if sink
            .status()
            .unwrap_or(status)
            .failure()
            .is_some_and(unsent)
        {
            return status;
        }
        reqs.sent_to = Some(hashed);
        reqs.skip = 1;
        engine.command(&mut reqs, &mut Discard, wait);
        return status;
    }
    let status = engine.command(
        &mut reqs,
        &mut OwnOnly {
            sink: &mut *sink,
            own: 1,
        },
        wait,
    );
    match (status, sink.status()) {
        // A copy that could not be queued is not the caller's failure.
        (Status::Failed(_), Some(_)) => Status::Ok,
        _ => status,
    }
}

/// A get from the key's server, or from the next ones in turn while a server cannot be
/// reached; NotFound (the sink cleared) when none could be.
pub fn get_failover<S: Answer>(
    engine: &mut Client,
    replicas: usize,
    request: Request<'_>,
    sink: &mut S,
    wait: Wait,
) -> Status {
    let servers = engine.server_count();
    let Some(first) = hashed(engine, &request) else {
        let mut reqs = [request];
        return engine.command(&mut Requests(&mut reqs), sink, wait);
    };
    // The servers that could not be reached; allocated only once one has failed.
    let mut unreached: Vec<usize> = Vec::new();
    for round in 0..=replicas {
        let server = (first + round) % servers;
        if unreached.contains(&server) {
            break;
        }
        let route = if round == 0 {
            request.route
        } else {
            Route::Server(server)
        };
        let mut reqs = [Request { route, ..request }];
        sink.clear();
        let status = engine.command(&mut Requests(&mut reqs), sink, wait);
        match sink.status().unwrap_or(status).failure() {
            Some(f) if unsent(f) => unreached.push(server),
            _ => return status,
        }
    }
    sink.clear();
    Status::NotFound
}

/// Lists a replicated multi call works with, kept between calls (no heap once they have
/// grown to the largest call).
#[derive(Default)]
pub struct Scratch {
    /// Each key's server (None: no server).
    hashed: Vec<Option<usize>>,
    /// Where each key's own request went (None: not sent / not yet).
    sent_to: Vec<Option<usize>>,
    /// The copies of a batch: (key, replica number from 1).
    plan: Vec<(usize, usize)>,
    /// An mget's keys already sent.
    sent: Vec<bool>,
    /// The keys' servers without a connection, and those of them that cannot be reached.
    unconnected: Vec<usize>,
    down: Vec<usize>,
    /// An mget's keys whose get to their own connected server found the connection closed.
    reset: Vec<bool>,
}

/// A batch of sets or deletes (`inner`, indices 0..n) followed by the copies of `plan`.
struct BatchCopies<'r, 's> {
    inner: &'r mut dyn RequestSet,
    n: usize,
    copy_op: u8,
    servers: usize,
    only_if_sent: bool,
    /// false: `inner` is not sent (the copies only, after it went in a batch of its own).
    with_inner: bool,
    hashed: &'s [Option<usize>],
    sent_to: &'s mut [Option<usize>],
    plan: &'s [(usize, usize)],
}

impl RequestSet for BatchCopies<'_, '_> {
    fn len(&self) -> usize {
        if self.with_inner {
            self.n + self.plan.len()
        } else {
            self.plan.len()
        }
    }

    fn request(&self, j: usize) -> Request<'_> {
        if self.with_inner && j < self.n {
            return self.inner.request(j);
        }
        let (k, r) = self.plan[if self.with_inner { j - self.n } else { j }];
        let base = match self.sent_to[k] {
            Some(s) => Some(s),
            None if self.only_if_sent => None,
            None => self.hashed[k],
        };
        copy(
            self.inner.request(k).parts,
            self.copy_op,
            base,
            r,
            self.servers,
        )
    }

    fn assigned(&mut self, j: usize, server: Option<usize>, opaque: u32) {
        if self.with_inner && j < self.n {
            self.sent_to[j] = server;
            self.inner.assigned(j, server, opaque);
        }
    }
}

/// Runs the sets or deletes of `inner` (opcode `op`, `only_if_sent` as `copied` says) with
/// `copies` copies each; `sink` gets each request's own answer (by index).
#[allow(clippy::too_many_arguments)]
pub fn batch_with_copies<S: Answers>(
    engine: &mut Client,
    copies: usize,
    op: u8,
    only_if_sent: bool,
    inner: &mut dyn RequestSet,
    sink: &mut S,
    wait: Wait,
    scratch: &mut Scratch,
) -> Status {
    let n = inner.len();
    let servers = engine.server_count();
    let Scratch {
        hashed,
        sent_to,
        plan,
        sent: later,
        ..
    } = scratch;
    hashed.clear();
    hashed.extend((0..n).map(|i| self::hashed(engine, &inner.request(i))));
    sent_to.clear();
    sent_to.resize(n, None);
    // Sets to servers not connected yet go without their copies (1.1.4 connects before it
    // writes); their copies follow once the set could be sent.
    later.clear();
    later.extend(
        hashed
            .iter()
            .map(|h| only_if_sent && h.is_some_and(|s| engine.server_fd(s).is_none())),
    );
    plan.clear();
    for k in (0..n).filter(|&k| !later[k]) {
        plan.extend((1..=copies).map(|r| (k, r)));
    }
    let deferred = later.contains(&true);
    let copy_op = quiet_variant(op);
    let mut reqs = BatchCopies {
        inner: &mut *inner,
        n,
        copy_op,
        servers,
        only_if_sent,
        with_inner: true,
        hashed,
        sent_to,
        plan,
    };
    let status = engine.command(
        &mut reqs,
        &mut OwnOnly {
            sink: &mut *sink,
            own: n,
        },
        wait,
    );
    if deferred {
        plan.clear();
        for k in (0..n).filter(|&k| later[k]) {
            let sent = sent_to[k].is_some() && !sink.status(k).failure().is_some_and(unsent);
            if sent {
                plan.extend((1..=copies).map(|r| (k, r)));
            }
        }
        if !plan.is_empty() {
            let mut reqs = BatchCopies {
                inner,
                n,
                copy_op,
                servers,
                only_if_sent,
                with_inner: false,
                hashed,
                sent_to,
                plan,
            };
            engine.command(&mut reqs, &mut Discard, wait);
        }
    }
    status
}

/// A sink that keeps each request's answer by batch index.
pub trait Answers: ResponseSink {
    fn status(&self, i: usize) -> Status;
}

/// An mget's gets (`inner`, one per key) in rounds: round 0 to each key's server, round r to
/// the r-th server after it for the keys not sent yet; a key already sent, without a server,
/// or whose server is down has an unsendable placeholder there.
struct Rounds<'r, 's> {
    inner: &'r mut dyn RequestSet,
    keys: usize,
    rounds: usize,
    servers: usize,
    hashed: &'s [Option<usize>],
    sent: &'s mut [bool],
    down: &'s [usize],
}

impl Rounds<'_, '_> {
    fn target(&self, round: usize, i: usize) -> Option<usize> {
        self.hashed[i].map(|first| (first + round) % self.servers)
    }
}

impl RequestSet for Rounds<'_, '_> {
    fn len(&self) -> usize {
        self.keys * self.rounds
    }

    fn request(&self, j: usize) -> Request<'_> {
        let (round, i) = (j / self.keys, j % self.keys);
        let own = self.inner.request(i);
        match self.target(round, i) {
            Some(server) if self.down.contains(&server) => {
                Request::to_server(usize::MAX, own.parts)
            }
            Some(_) if round == 0 && !self.sent[i] => own,
            Some(server) if !self.sent[i] => Request::to_server(server, own.parts),
            _ => Request::to_server(usize::MAX, own.parts),
        }
    }

    fn assigned(&mut self, j: usize, server: Option<usize>, opaque: u32) {
        let (round, i) = (j / self.keys, j % self.keys);
        if round == 0 {
            self.inner.assigned(i, server, opaque);
        }
        if server.is_some() {
            self.sent[i] = true;
        }
    }
}

/// Hands the sink the answers of the rounds as the keys' (batch index modulo `keys`), and
/// notes the keys whose first get found its connection closed.
struct ByKey<'s> {
    sink: &'s mut dyn ResponseSink,
    keys: usize,
    reset: &'s mut [bool],
}

impl ResponseSink for ByKey<'_> {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if let Some(j) = batch_index {
            if j < self.keys && resp.status == Status::Failed(Failure::ConnectionReset) {
                self.reset[j] = true;
            }
        }
        self.sink.response(resp, batch_index.map(|j| j % self.keys))
    }
}

/// An mget over replicas: a NOOP to each key's server without a connection (1.1.4 connects
/// within the mget, so a server that refuses is known before the gets are queued), then the
/// gets, each to the first of its key's servers that can be reached. `sink` gets the
/// answers by key index (misses and failures included: the caller keeps the hits).
pub fn mget(
    engine: &mut Client,
    copies: usize,
    gets: &mut dyn RequestSet,
    sink: &mut dyn ResponseSink,
    wait: Wait,
    scratch: &mut Scratch,
) -> Status {
    let keys = gets.len();
    let servers = engine.server_count();
    let Scratch {
        hashed,
        sent,
        unconnected,
        down,
        reset,
        ..
    } = scratch;
    hashed.clear();
    hashed.extend((0..keys).map(|i| self::hashed(engine, &gets.request(i))));
    unconnected.clear();
    unconnected.extend(
        hashed
            .iter()
            .flatten()
            .copied()
            .filter(|&s| engine.server_fd(s).is_none()),
    );
    unconnected.sort_unstable();
    unconnected.dedup();
    down.clear();
    if !unconnected.is_empty() {
        let mut noops = Noops {
            servers: unconnected,
        };
        engine.command(&mut noops, &mut Down(down), wait);
        for d in down.iter_mut() {
            *d = unconnected[*d];
        }
    }
    sent.clear();
    sent.resize(keys, false);
    reset.clear();
    reset.resize(keys, false);
    let mut rounds = Rounds {
        inner: &mut *gets,
        keys,
        rounds: copies + 1,
        servers,
        hashed,
        sent,
        down,
    };
    let status = engine.command(&mut rounds, &mut ByKey { sink, keys, reset }, wait);
    // 1.1.4 writes each get of an mget over replicas on its own: to a server that has closed
    // its connection (kill -9) the first write still goes out (its answer never comes) and
    // the next ones fail, so that server's other keys go on to the next servers in the same
    // mget. Ours wrote them together: the keys after the first on such a server go on now.
    if !reset.contains(&true) {
        return status;
    }
    down.clear();
    for i in 0..keys {
        let server = hashed[i];
        sent[i] = true;
        if reset[i] {
            match server {
                Some(s) if down.contains(&s) => sent[i] = false,
                Some(s) => down.push(s),
                None => {}
            }
        }
    }
    if !sent.contains(&false) {
        return status;
    }
    let mut rounds = Rounds {
        inner: gets,
        keys,
        rounds: copies + 1,
        servers,
        hashed,
        sent,
        down,
    };
    reset.fill(false);
    engine.command(&mut rounds, &mut ByKey { sink, keys, reset }, wait)
}

/// A NOOP to each of `servers`.
struct Noops<'s> {
    servers: &'s [usize],
}

impl RequestSet for Noops<'_> {
    fn len(&self) -> usize {
        self.servers.len()
    }

    fn request(&self, i: usize) -> Request<'_> {
        Request::to_server(
            self.servers[i],
            RequestParts {
                opcode: opcode::NOOP,
                ..Default::default()
            },
        )
    }

    fn assigned(&mut self, _i: usize, _server: Option<usize>, _opaque: u32) {}
}

/// The batch indices of NOOPs that failed (their server could not be reached).
struct Down<'v>(&'v mut Vec<usize>);

impl ResponseSink for Down<'_> {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if let (Some(i), Some(f)) = (batch_index, resp.status.failure()) {
            if unsent(f) {
                self.0.push(i);
            }
        }
        false
    }
}
