//! Replication as libmemcached 1.1.4 does it (MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS), for
//! every face that offers it (the libmemcached face, omcache.pylibmc). The faces decide when
//! it applies (binary protocol, replicas set, more than one server), record errors their own
//! way and draw RANDOMIZE_REPLICA_READ's start; the rules are here:
//!
//! - A set (not a cas) is also sent, quiet, to the servers after the key's in server-list
//!   order, `(s + 1) % count`, ... for the replica count (at most every other server once),
//!   only when the request to the key's own server could be sent; a delete likewise, whatever
//!   became of the first one. The copies go in the same batch as the request and their
//!   answers are not the caller's. A set to a server not connected yet goes alone first (1.1.4
//!   connects before it writes and sends no copies when that fails), its copies after it.
//! - A get goes to the key's server; only when that server cannot be connected to or written
//!   to (refused, timed out, out of service) to the next one, and so on for the replica
//!   count. A miss or an error answer is not retried elsewhere; no server reached: a miss.
//! - An mget first connects the keys' unconnected servers (a NOOP each, in one batch) so that
//!   a refused server's keys go to a replica, as 1.1.4 connects within the mget; then each
//!   key's get goes to the first of its servers that can be reached. 1.1.4 writes each get on
//!   its own: to a server that closed its connection (kill -9) the first write still goes out
//!   (its answer never comes) and the next ones fail, so that server's other keys go on to the
//!   next servers in the same mget. Ours writes them together: when the answers are waited
//!   for, the keys after the first on a server whose get found the connection closed go on
//!   in a follow-up round; when they are fetched later (the libmemcached face), the
//!   connected servers are checked for a closed peer (a poll, no wait) before the gets are
//!   queued, and such a server gets only its first key's get (lost, as 1.1.4's is).
//!
//! Nothing here runs when the faces see no replicas; nothing is allocated per call (the
//! lists live in a [`ReplicaScratch`] the face keeps).

use std::time::Duration;

use crate::protocol::{opcode, quiet_variant, RequestParts};
use crate::sys;

use super::{Client, Discard, Failure, Request, RequestSet, Requests, Response, ResponseSink};
use super::{Route, Status, Wait};

/// A failure that left the request unsent (the server could not be connected to or written
/// to, or is out of service): a get then tries the next replica.
fn unsent(f: Failure) -> bool {
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

/// Whether a request of opcode `op` (before any quiet variant) with `cas` is copied to the
/// replicas, and if so whether only when it was sent itself (a set: true) or in any case (a
/// delete: false).
pub fn replica_copied(op: u8, cas: u64) -> Option<bool> {
    match op {
        opcode::SET if cas == 0 => Some(true),
        opcode::DELETE => Some(false),
        _ => None,
    }
}

/// A sink the get failover can start afresh for each server it tries.
pub trait ReplicaAnswer: ResponseSink {
    /// The answer (or synthesized failure) of the request, if any came.
    fn status(&self) -> Option<Status>;
    /// Forgets an answer.
    fn clear(&mut self);
}

/// A sink that keeps each request's answer by batch index.
pub trait ReplicaAnswers: ResponseSink {
    fn status(&self, i: usize) -> Status;
}

/// The last server a replicated get could not reach (its failure, its index).
pub type Unreached = Option<(Failure, usize)>;

/// The lists the replicated multi calls work with, kept by the face between calls (no heap
/// once they have grown to the largest call).
#[derive(Default)]
pub struct ReplicaScratch {
    /// Each key's server (None: no server).
    hashed: Vec<Option<usize>>,
    /// Where each key's own request went (None: not sent / not yet).
    sent_to: Vec<Option<usize>>,
    /// The copies of a batch: (key, replica number from 1).
    plan: Vec<(usize, usize)>,
    /// An mget's keys already sent (a batch's sets deferred until connected).
    sent: Vec<bool>,
    /// The keys' servers without a connection, and those of them that cannot be reached.
    unconnected: Vec<usize>,
    down: Vec<usize>,
    /// An mget's keys whose get to their own connected server found the connection closed.
    reset: Vec<bool>,
    /// A fetched mget's connected servers, their poll entries, those found closed, and the
    /// key that still goes to each of those (its write is lost, as 1.1.4's first one is).
    connected: Vec<usize>,
    polls: Vec<sys::PollFd>,
    first_write: Vec<usize>,
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

/// The server of a key's get in `round`, with RANDOMIZE_REPLICA_READ's `start` (1.1.4's
/// order: from the start to the last replica, then the ones before it), and whether that
/// is the key's own server by its own routing.
fn round_server(
    first: usize,
    round: u64,
    start: u64,
    replicas: u64,
    servers: usize,
) -> (usize, bool) {
    let offset = if round + start <= replicas {
        round + start
    } else {
        round
    };
    (
        ((first as u64 + offset) % servers as u64) as usize,
        offset == 0,
    )
}

/// An mget's gets (`inner`, one per key) in rounds: round 0 to each key's server, round r to
/// its r-th server for the keys not sent yet; a key already sent, without a server, or whose
/// server is down has an unsendable placeholder there.
struct Rounds<'r, 's> {
    inner: &'r mut dyn RequestSet,
    keys: usize,
    rounds: usize,
    replicas: u64,
    start: u64,
    servers: usize,
    hashed: &'s [Option<usize>],
    sent: &'s mut [bool],
    down: &'s [usize],
    /// Keys whose round 0 goes to their server although it is down (its peer closed).
    first_write: &'s [usize],
    /// The down servers whose peer closed (the others were refused).
    closed: &'s [usize],
    /// The last server not reached.
    unreached: Unreached,
}

impl Rounds<'_, '_> {
    fn target(&self, round: usize, i: usize) -> Option<(usize, bool)> {
        let first = self.hashed[i]?;
        Some(round_server(
            first,
            round as u64,
            self.start,
            self.replicas,
            self.servers,
        ))
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
            Some((server, _))
                if self.down.contains(&server)
                    && !(round == 0 && self.first_write.contains(&i)) =>
            {
                Request::to_server(usize::MAX, own.parts)
            }
            Some((_, true)) if round == 0 && !self.sent[i] => own,
            Some((server, _)) if !self.sent[i] => Request::to_server(server, own.parts),
            _ => Request::to_server(usize::MAX, own.parts),
        }
    }

    fn assigned(&mut self, j: usize, server: Option<usize>, opaque: u32) {
        let (round, i) = (j / self.keys, j % self.keys);
        if round == 0 {
            self.inner.assigned(i, server, opaque);
        }
        if self.sent[i] {
            return;
        }
        match (server, self.target(round, i)) {
            (Some(_), _) => self.sent[i] = true,
            (None, Some((tried, _))) => {
                // A closed peer: 1.1.4's write to it fails (the connection was reset).
                let failure = if self.closed.contains(&tried) {
                    Failure::ConnectionReset
                } else {
                    Failure::ConnectRefused
                };
                self.unreached = Some((failure, tried));
            }
            (None, None) => {}
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
            // A reset connection, or one the server had closed that could not be made again
            // (the look before a request replaces a closed connection, and a dead server then
            // refuses): its keys are read from the replicas.
            let lost = match resp.status {
                Status::Failed(f) => f == Failure::ConnectionReset || unsent(f),
                _ => false,
            };
            if j < self.keys && lost {
                self.reset[j] = true;
            }
        }
        self.sink.response(resp, batch_index.map(|j| j % self.keys))
    }
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

impl Client {
    /// How many copies a replicated request gets with `replicas` replicas: at most every
    /// other server once (0 with fewer than two servers).
    pub fn replica_copies(&self, replicas: u32) -> usize {
        (replicas as usize).min(self.server_count().saturating_sub(1))
    }

    /// The server a request goes to as the handle hashes it.
    fn hashed_server(&self, request: &Request<'_>) -> Option<usize> {
        match request.route {
            Route::Server(i) => Some(i),
            Route::Key => self.server_index_for_key(request.parts.key),
            Route::ByKey(k) => self.server_index_for_key(k),
        }
    }

    /// A set or delete (opcode `op` before any quiet variant; `only_if_sent` as
    /// [`replica_copied`] says) with its `copies` to the servers after its own; `sink` sees
    /// only its own answer.
    #[inline(never)]
    pub fn command_with_copies<S: ReplicaAnswer>(
        &mut self,
        copies: usize,
        op: u8,
        only_if_sent: bool,
        request: Request<'_>,
        sink: &mut S,
        wait: Wait,
    ) -> Status {
        let hashed = self.hashed_server(&request);
        let mut reqs = WithCopies {
            request,
            copy_op: quiet_variant(op),
            hashed,
            servers: self.server_count(),
            copies,
            only_if_sent,
            sent_to: None,
            skip: 0,
        };
        // A set to a server not connected yet: 1.1.4 connects before it writes and sends no
        // copies when that fails, so the set goes alone and its copies after it.
        if only_if_sent && hashed.is_some_and(|s| self.server_fd(s).is_none()) {
            let mut one = [request];
            let status = self.command(&mut Requests(&mut one), sink, wait);
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
            self.command(&mut reqs, &mut Discard, wait);
            return status;
        }
        let status = self.command(
            &mut reqs,
            &mut OwnOnly {
                sink: &mut *sink,
                own: 1,
            },
            wait,
        );
        // A copy that could not be queued is not the caller's failure.
        match (status, sink.status(), reqs.sent_to) {
            (Status::Failed(_), None, Some(Some(_))) if wait == Wait::NoWait => Status::Buffered,
            (Status::Failed(_), Some(_), Some(Some(_))) => Status::Ok,
            _ => status,
        }
    }

    /// A get from the key's server, or from its replicas in turn while a server cannot be
    /// reached (`replicas` of them, starting at `start`: RANDOMIZE_REPLICA_READ). NotFound
    /// (the sink cleared) when none could be, the last one unreached in `unreached`.
    #[inline(never)]
    pub fn get_from_replicas<S: ReplicaAnswer>(
        &mut self,
        replicas: u64,
        start: u64,
        request: Request<'_>,
        sink: &mut S,
        wait: Wait,
        unreached: &mut Unreached,
    ) -> Status {
        let servers = self.server_count();
        let Some(first) = self.hashed_server(&request) else {
            let mut reqs = [request];
            return self.command(&mut Requests(&mut reqs), sink, wait);
        };
        for round in 0..=replicas {
            let (server, _) = round_server(first, round, start, replicas, servers);
            // Every earlier round's server was unreached: a repeat ends the reads (1.1.4).
            if (0..round).any(|r| round_server(first, r, start, replicas, servers).0 == server) {
                break;
            }
            let route = if server == first {
                request.route
            } else {
                Route::Server(server)
            };
            let mut reqs = [Request { route, ..request }];
            sink.clear();
            let status = self.command(&mut Requests(&mut reqs), sink, wait);
            match sink.status().unwrap_or(status).failure() {
                Some(f) if unsent(f) => *unreached = Some((f, server)),
                _ => return status,
            }
        }
        sink.clear();
        Status::NotFound
    }

    /// Runs the sets or deletes of `inner` (opcode `op`, `only_if_sent` as
    /// [`replica_copied`] says) with `copies` copies each; `sink` gets each request's own
    /// answer (by index).
    #[allow(clippy::too_many_arguments)]
    pub fn batch_with_copies<S: ReplicaAnswers>(
        &mut self,
        copies: usize,
        op: u8,
        only_if_sent: bool,
        inner: &mut dyn RequestSet,
        sink: &mut S,
        wait: Wait,
        scratch: &mut ReplicaScratch,
    ) -> Status {
        let n = inner.len();
        let servers = self.server_count();
        let ReplicaScratch {
            hashed,
            sent_to,
            plan,
            sent: later,
            ..
        } = scratch;
        hashed.clear();
        hashed.extend((0..n).map(|i| self.hashed_server(&inner.request(i))));
        sent_to.clear();
        sent_to.resize(n, None);
        // Sets to servers not connected yet go without their copies (1.1.4 connects before it
        // writes); their copies follow once the set could be sent.
        later.clear();
        later.extend(
            hashed
                .iter()
                .map(|h| only_if_sent && h.is_some_and(|s| self.server_fd(s).is_none())),
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
        let status = self.command(
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
                self.command(&mut reqs, &mut Discard, wait);
            }
        }
        status
    }

    /// An mget over replicas: a NOOP to each key's server without a connection (within
    /// `wait`), then the gets, each to the first of its key's servers that can be reached
    /// (`replicas` of them, starting at `start`: RANDOMIZE_REPLICA_READ). `sink` gets the
    /// answers by key index (misses and failures included). With `fetch_later` the gets are
    /// queued for a fetch (`command_then_fetch`); otherwise they are waited for within
    /// `wait`. Returns the engine's status and the last server not reached.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub fn mget_from_replicas(
        &mut self,
        replicas: u64,
        start: u64,
        gets: &mut dyn RequestSet,
        sink: &mut dyn ResponseSink,
        wait: Wait,
        fetch_later: bool,
        scratch: &mut ReplicaScratch,
    ) -> (Status, Unreached) {
        let keys = gets.len();
        let servers = self.server_count();
        let rounds = (replicas + 1).min(servers as u64) as usize;
        let ReplicaScratch {
            hashed,
            sent,
            unconnected,
            down,
            reset,
            connected,
            polls,
            first_write,
            ..
        } = scratch;
        hashed.clear();
        hashed.extend((0..keys).map(|i| self.hashed_server(&gets.request(i))));
        unconnected.clear();
        connected.clear();
        for &s in hashed.iter().flatten() {
            if self.server_fd(s).is_none() {
                unconnected.push(s);
            } else if fetch_later {
                connected.push(s);
            }
        }
        unconnected.sort_unstable();
        unconnected.dedup();
        down.clear();
        if !unconnected.is_empty() {
            let mut noops = Noops {
                servers: unconnected,
            };
            self.command(&mut noops, &mut Down(down), wait);
            for d in down.iter_mut() {
                *d = unconnected[*d];
            }
        }
        first_write.clear();
        if !connected.is_empty() {
            connected.sort_unstable();
            connected.dedup();
            self.closed_peers(connected, polls);
            // `connected` now holds the servers whose peer has closed: 1.1.4's first get to
            // such a server is written (and lost), the others fail to write and go on.
            for &s in connected.iter() {
                let first = (0..keys).find(|&i| {
                    hashed[i].is_some_and(|h| round_server(h, 0, start, replicas, servers).0 == s)
                });
                first_write.extend(first);
                down.push(s);
            }
        }
        sent.clear();
        sent.resize(keys, false);
        reset.clear();
        reset.resize(keys, false);
        let mut unreached = None;
        let mut follow_up = false;
        loop {
            let mut reqs = Rounds {
                inner: &mut *gets,
                keys,
                rounds,
                replicas,
                start,
                servers,
                hashed,
                sent: &mut *sent,
                down,
                first_write,
                closed: connected,
                unreached,
            };
            let mut by_key = ByKey {
                sink: &mut *sink,
                keys,
                reset: &mut *reset,
            };
            if fetch_later {
                let status = self.command_then_fetch(&mut reqs, &mut by_key);
                return (status, reqs.unreached);
            }
            let status = self.command(&mut reqs, &mut by_key, wait);
            unreached = reqs.unreached;
            // The keys after the first on a server found closed go on to the next servers.
            if follow_up || !reset.contains(&true) {
                return (status, unreached);
            }
            down.clear();
            for i in 0..keys {
                sent[i] = true;
                if reset[i] {
                    match hashed[i] {
                        Some(s) if down.contains(&s) => sent[i] = false,
                        Some(s) => down.push(s),
                        None => {}
                    }
                }
            }
            if !sent.contains(&false) {
                return (status, unreached);
            }
            reset.fill(false);
            follow_up = true;
        }
    }

    /// Keeps in `servers` (connected ones) those whose peer has closed the connection (a
    /// poll that does not wait).
    fn closed_peers(&self, servers: &mut Vec<usize>, polls: &mut Vec<sys::PollFd>) {
        polls.clear();
        polls.extend(servers.iter().map(|&s| sys::PollFd {
            fd: self.server_fd(s).unwrap_or(-1),
            events: libc::POLLRDHUP,
            revents: 0,
        }));
        let closed = libc::POLLRDHUP | sys::POLLHUP | sys::POLLERR;
        if !matches!(sys::poll(polls, Some(Duration::ZERO)), Ok(n) if n > 0) {
            servers.clear();
            return;
        }
        let mut k = 0;
        servers.retain(|_| {
            k += 1;
            polls[k - 1].revents & closed != 0
        });
    }
}
