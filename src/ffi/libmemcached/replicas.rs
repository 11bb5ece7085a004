//! Replication (MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS, RANDOMIZE_REPLICA_READ), as
//! libmemcached 1.1.4 does it, over the binary protocol only (text ignores the setting).
//! Measured against Debian's 1.1.4 by tests-c/lmc-replicas.sh.
//!
//! - `set` and `set_by_key` (not add, replace, append, prepend, cas, the counters or touch)
//!   are also sent, quiet, to the servers after the key's in server-list order,
//!   `(s + 1) % count`, ... for `number_of_replicas` servers (at most every other server
//!   once), only when the request to the key's own server could be sent. `delete` and
//!   `delete_by_key` are sent quiet to the same servers whatever became of the first one. The
//!   replicas' failures are ignored; the caller's result is the key's own server's.
//! - A get (`memcached_get`, `get_by_key`, `mget*`) goes to the key's server; only when that
//!   server cannot be connected to or written to (refused, timed out, out of service) is it
//!   sent to the next one, and so on for `number_of_replicas` servers. A miss or an error
//!   answer is not retried elsewhere, nor is a connection that breaks after the request went
//!   out (the first get after a kill on a connected handle fails, as in 1.1.4). The value
//!   found on a replica comes back with SUCCESS while the last error is the unreached
//!   server's CONNECTION_FAILURE; when no server could be reached the get is a miss. An mget
//!   over replicas returns SUCCESS whatever the servers did, as 1.1.4's does.
//! - RANDOMIZE_REPLICA_READ starts the reads at a random one of the key's server and its
//!   replicas, with 1.1.4's order after it; like 1.1.4, setting it seeds libc `random()`
//!   with the time and the choice is `random() % (replicas + 1)`.
//!
//! Where ours differs:
//! - The copies go in the same batch as the request (one write per server) and are waited
//!   for with it; 1.1.4 leaves a set's copies in the replicas' output buffers until something
//!   else flushes them (memcached_flush_buffers, the next request on that connection,
//!   memcached_free). 1.1.4 also leaves unread the error answers of quiet copies (a delete of
//!   a key a replica lacks), which the next reads on that connection take for theirs; and
//!   with 2 replicas it loses copies to one of them after a flush_buffers. Ours does neither.
//! - A set to a server not yet connected goes alone first (1.1.4 connects before it writes):
//!   its copies follow only when it could be sent. A set to a connected server that then
//!   fails still sends its copies, as 1.1.4's written-then-unanswered set does.
//! - An mget connects the keys' unconnected servers first (a NOOP each, in one batch) so that
//!   a refused server's keys go to a replica, as 1.1.4 connects within the mget.
//! - A get that fails over leaves the dead server out of service until its retry time (the
//!   engine's failover); 1.1.4 resets it, so its next request tries a connect again
//!   (CONNECTION_FAILURE where ours answers SERVER_TEMPORARILY_DISABLED), and its last error
//!   after a replica read is SERVER_TEMPORARILY_DISABLED when another command had put the
//!   server out of service (ours: always CONNECTION_FAILURE).
//!
//! Nothing here runs while `number_of_replicas` is 0 (one test of it per call), and nothing
//! is allocated per call while every server answers (the mget's lists live in the handle).

use crate::client::Route;
use crate::client::{Discard, Failure, Request, RequestSet, Requests, Response, ResponseSink};
use crate::client::{Status, Wait};
use crate::protocol::{opcode, quiet_variant};

use super::api::One;
use super::keys::Counted;
use super::memc::Lmc;

extern "C" {
    /// libc's random(), which 1.1.4 draws the first replica to read from with (the libc crate
    /// does not declare it).
    fn random() -> std::ffi::c_long;
}

/// A sink the get failover can start afresh for each server it tries.
pub(super) trait Answer: ResponseSink {
    /// The answer (or synthesized failure) of the request, if any came.
    fn status(&self) -> Option<Status>;
    /// Forgets an answer (a failure: nothing was kept).
    fn clear(&mut self);
}

impl Answer for One {
    fn status(&self) -> Option<Status> {
        self.status
    }

    fn clear(&mut self) {
        *self = One::new(self.keep_value);
    }
}

impl Answer for Counted {
    fn status(&self) -> Option<Status> {
        self.one.status
    }

    fn clear(&mut self) {
        *self = Counted::new(self.one.keep_value);
    }
}

/// The key's request (batch index 0) and its copies for the replicas (1..): the replicas are
/// counted from the server the request went to, so they are chosen once it is queued.
struct Replicated<'a> {
    request: Request<'a>,
    /// The copies' (quiet) opcode.
    copy_op: u8,
    /// The key's server as the handle hashes it, for copies of a request not sent.
    hashed: Option<usize>,
    servers: usize,
    copies: usize,
    /// Copies only when the request itself was queued (set), or in any case (delete).
    only_if_sent: bool,
    /// Where the request went (None: it could not be sent), once queued.
    sent_to: Option<Option<usize>>,
    /// 1: the copies only (the request went in a batch of its own).
    skip: usize,
}

impl RequestSet for Replicated<'_> {
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
        // A copy not to send: a server index that does not exist (refused unsent).
        let server = base.map_or(usize::MAX, |s| (s + i) % self.servers);
        Request::to_server(
            server,
            crate::protocol::RequestParts {
                opcode: self.copy_op,
                ..self.request.parts
            },
        )
    }

    fn assigned(&mut self, i: usize, server: Option<usize>, _opaque: u32) {
        if i + self.skip == 0 {
            self.sent_to = Some(server);
        }
    }
}

/// Hands the sink only the key's own request's answer (batch index 0).
struct FirstOnly<'s, S: ResponseSink>(&'s mut S);

impl<S: ResponseSink> ResponseSink for FirstOnly<'_, S> {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        match batch_index {
            Some(0) | None => self.0.response(resp, batch_index),
            Some(_) => false,
        }
    }
}

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

impl Lmc {
    /// Whether requests of this handle are replicated (binary protocol, replicas set, more
    /// than one server).
    pub(super) fn replicating(&self) -> bool {
        self.model.number_of_replicas > 0
            && self.model.binary_protocol
            && self.client.server_count() > 1
    }

    /// Runs one keyed request (`base_op`: its opcode before any quiet variant; `by`: its
    /// routing key) with replication: a set's or delete's copies in the same batch, a get's
    /// failover. `replica_failure` gets the last server a get could not reach.
    #[inline(never)]
    pub(super) fn command_replicated<S: Answer>(
        &mut self,
        request: Request<'_>,
        base_op: u8,
        by: &[u8],
        keep_value: bool,
        sink: &mut S,
        wait: Wait,
        replica_failure: &mut Option<(Failure, usize)>,
    ) -> Status {
        if !self.replicating() {
            let mut reqs = [request];
            return self.client.command(&mut Requests(&mut reqs), sink, wait);
        }
        let copies_of = match base_op {
            opcode::SET if request.parts.cas == 0 => Some(true),
            opcode::DELETE => Some(false),
            _ => None,
        };
        if let Some(only_if_sent) = copies_of {
            let servers = self.client.server_count();
            let copies = (self.model.number_of_replicas as usize).min(servers - 1);
            let hashed = match request.route {
                Route::Server(i) => Some(i),
                _ => self.client.server_index_for_key(by),
            };
            let mut reqs = Replicated {
                request,
                copy_op: quiet_variant(base_op),
                hashed,
                servers,
                copies,
                only_if_sent,
                sent_to: None,
                skip: 0,
            };
            // A set to a server not connected yet: 1.1.4 connects before it writes and sends
            // no copies when that fails, so the set goes alone and its copies after it.
            if only_if_sent && hashed.is_some_and(|s| self.client.server_fd(s).is_none()) {
                let mut one = [request];
                let status = self.client.command(&mut Requests(&mut one), sink, wait);
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
                self.client.command(&mut reqs, &mut Discard, wait);
                return status;
            }
            let status = self
                .client
                .command(&mut reqs, &mut FirstOnly(&mut *sink), wait);
            // A copy that could not be queued is not the caller's failure.
            return match (status, sink.status(), reqs.sent_to) {
                (Status::Failed(_), None, Some(Some(_))) if wait == Wait::NoWait => {
                    Status::Buffered
                }
                (Status::Failed(_), Some(_), Some(Some(_))) => Status::Ok,
                _ => status,
            };
        }
        if base_op == opcode::GETK && keep_value {
            return self.get_failover(request, by, sink, wait, replica_failure);
        }
        let mut reqs = [request];
        self.client.command(&mut Requests(&mut reqs), sink, wait)
    }

    /// A get from the key's server, or from its replicas in turn while a server cannot be
    /// reached (1.1.4's order, RANDOMIZE_REPLICA_READ's random start). NotFound when none
    /// could be, with the last one unreached in `replica_failure`.
    pub(super) fn get_failover<S: Answer>(
        &mut self,
        request: Request<'_>,
        by: &[u8],
        sink: &mut S,
        wait: Wait,
        replica_failure: &mut Option<(Failure, usize)>,
    ) -> Status {
        let servers = self.client.server_count();
        let hashed = match request.route {
            Route::Server(i) => Some(i),
            _ => self.client.server_index_for_key(by),
        };
        let Some(first) = hashed else {
            let mut reqs = [request];
            return self.client.command(&mut Requests(&mut reqs), sink, wait);
        };
        let replicas = u64::from(self.model.number_of_replicas);
        let start = if self.model.randomize_replica_read {
            // SAFETY: libc random() has no preconditions.
            let r = unsafe { random() } as u64;
            r % (replicas + 1)
        } else {
            0
        };
        // The servers that could not be reached (a repeat ends the reads, as in 1.1.4); only
        // allocated once one has failed.
        let mut unreached: Vec<usize> = Vec::new();
        for round in 0..=replicas {
            let offset = if round + start <= replicas {
                round + start
            } else {
                round
            };
            let server = ((first as u64 + offset) % servers as u64) as usize;
            if unreached.contains(&server) {
                break;
            }
            let route = if server == first {
                request.route
            } else {
                Route::Server(server)
            };
            let mut reqs = [Request { route, ..request }];
            sink.clear();
            let status = self.client.command(&mut Requests(&mut reqs), sink, wait);
            match sink.status().unwrap_or(status).failure() {
                Some(f) if unsent(f) => {
                    *replica_failure = Some((f, server));
                    unreached.push(server);
                }
                _ => return status,
            }
        }
        sink.clear();
        Status::NotFound
    }
    /// After a get that read from a replica (or found no server to read from): the call's
    /// code stays, and, as in 1.1.4, the last error is the unreached server's
    /// CONNECTION_FAILURE (also when the engine already had it out of service).
    pub(super) fn record_unreached(
        &mut self,
        code: std::ffi::c_int,
        (failure, server): (Failure, usize),
        memc: *const super::types::memcached_st,
    ) -> std::ffi::c_int {
        if code != super::rc::SUCCESS && code != super::rc::NOTFOUND {
            return code;
        }
        let failure = match failure {
            Failure::ServerDead | Failure::ServerTemporarilyDisabled | Failure::NoServers => {
                Failure::ConnectRefused
            }
            f => f,
        };
        let missed = super::rc::from_status(Status::Failed(failure), &[]);
        self.record_failure(missed, Some(failure), memc, Some(server));
        code
    }
}

/// An mget's gets (`inner`, one per key, as sent without replicas) and, in later rounds, the
/// gets of the keys whose server could not be reached sent to their next replica; a key
/// already sent, or without a server, has an unsendable placeholder there.
struct ReplicaRounds<'r, 'a> {
    inner: &'r mut dyn RequestSet,
    keys: usize,
    rounds: u64,
    replicas: u64,
    start: u64,
    servers: usize,
    /// Each key's server (None: no server), then whether its get was queued.
    hashed: &'a [Option<usize>],
    sent: &'a mut [bool],
    /// The servers the NOOPs found unreachable (a retry time of 0 lets them be tried again).
    down: &'a [usize],
    /// The last server not reached.
    unreached: Option<(Failure, usize)>,
}

impl ReplicaRounds<'_, '_> {
    /// The server of key `i`'s get in `round`, and whether that is the key's own routing.
    fn target(&self, round: u64, i: usize) -> Option<(usize, bool)> {
        let first = self.hashed[i]?;
        let offset = if round + self.start <= self.replicas {
            round + self.start
        } else {
            round
        };
        let server = ((first as u64 + offset) % self.servers as u64) as usize;
        Some((server, offset == 0))
    }
}

impl RequestSet for ReplicaRounds<'_, '_> {
    fn len(&self) -> usize {
        self.keys * self.rounds as usize
    }

    fn request(&self, j: usize) -> Request<'_> {
        let (round, i) = ((j / self.keys) as u64, j % self.keys);
        let own = self.inner.request(i);
        match self.target(round, i) {
            Some((server, _)) if self.down.contains(&server) => {
                Request::to_server(usize::MAX, own.parts)
            }
            Some((_, true)) if round == 0 => own,
            Some((server, _)) if !self.sent[i] => Request::to_server(server, own.parts),
            _ => Request::to_server(usize::MAX, own.parts),
        }
    }

    fn assigned(&mut self, j: usize, server: Option<usize>, opaque: u32) {
        let (round, i) = ((j / self.keys) as u64, j % self.keys);
        if round == 0 {
            self.inner.assigned(i, server, opaque);
        }
        if self.sent[i] {
            return;
        }
        match (server, self.target(round, i)) {
            (Some(_), _) => self.sent[i] = true,
            (None, Some((tried, _))) => {
                self.unreached = Some((Failure::ConnectRefused, tried));
            }
            (None, None) => {}
        }
    }
}

/// An mget over replicas (fetch.rs queues `gets` with it): first a NOOP to each server of a
/// key that has no connection yet (libmemcached 1.1.4 connects within the mget, so a server
/// that refuses is known before the gets are queued), then the gets, each to its key's
/// server or, when that cannot be reached, to the next replica (RANDOMIZE_REPLICA_READ as for
/// a get). Returns the engine's status and the last server not reached.
/// The lists an mget over replicas works with, kept in the handle between calls (no heap
/// once they have grown to the largest mget).
#[derive(Default)]
pub(super) struct Scratch {
    /// Each key's server (None: no server), and whether its get was queued.
    hashed: Vec<Option<usize>>,
    sent: Vec<bool>,
    /// The keys' servers without a connection, their NOOPs, and the unreachable ones.
    unconnected: Vec<usize>,
    noops: Vec<Request<'static>>,
    down: Vec<usize>,
}

#[inline(never)]
pub(super) fn replicated_mget(
    client: &mut crate::client::Client,
    model: &super::config::Model,
    scratch: &mut Scratch,
    gets: &mut dyn RequestSet,
    sink: &mut dyn ResponseSink,
) -> Option<(Failure, usize)> {
    let keys = gets.len();
    let servers = client.server_count();
    let Scratch {
        hashed,
        sent,
        unconnected,
        noops,
        down,
    } = scratch;
    hashed.clear();
    hashed.extend((0..keys).map(|i| match gets.request(i).route {
        Route::Server(s) => Some(s),
        Route::Key => client.server_index_for_key(gets.request(i).parts.key),
        Route::ByKey(k) => client.server_index_for_key(k),
    }));
    unconnected.clear();
    unconnected.extend(
        hashed
            .iter()
            .flatten()
            .copied()
            .filter(|&s| client.server_fd(s).is_none()),
    );
    unconnected.sort_unstable();
    unconnected.dedup();
    down.clear();
    if !unconnected.is_empty() {
        noops.clear();
        noops.extend(unconnected.iter().map(|&s| {
            let parts = crate::protocol::RequestParts {
                opcode: opcode::NOOP,
                ..Default::default()
            };
            Request::to_server(s, parts)
        }));
        let wait = Wait::after(std::time::Duration::from_millis(
            u64::try_from(model.poll_timeout).unwrap_or(5000),
        ));
        let mut failed = Down(down);
        client.command(&mut Requests(noops), &mut failed, wait);
        for d in down.iter_mut() {
            *d = unconnected[*d];
        }
    }
    let replicas = u64::from(model.number_of_replicas);
    let start = if model.randomize_replica_read {
        // SAFETY: libc random() has no preconditions.
        let r = unsafe { random() } as u64;
        r % (replicas + 1)
    } else {
        0
    };
    sent.clear();
    sent.resize(keys, false);
    let mut rounds = ReplicaRounds {
        inner: gets,
        keys,
        rounds: (replicas + 1).min(servers as u64),
        replicas,
        start,
        servers,
        hashed,
        sent,
        down,
        unreached: None,
    };
    client.command_then_fetch(&mut rounds, sink);
    rounds.unreached
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

extern "C" {
    fn srandom(seed: std::ffi::c_uint);
    fn time(t: *mut libc::time_t) -> libc::time_t;
}

/// What 1.1.4 does when RANDOMIZE_REPLICA_READ is set: seeds libc random() with the time.
pub(super) fn seed_random() {
    // SAFETY: time(NULL) and srandom have no preconditions.
    unsafe { srandom(time(std::ptr::null_mut()) as std::ffi::c_uint) };
}
