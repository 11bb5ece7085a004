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
//!   a refused server's keys go to a replica, as 1.1.4 connects within the mget. On a handle
//!   connected before a server was killed, 1.1.4's mget writes the dead server's first get
//!   (lost) and fails to write the others, which go on to the replicas (its last error then
//!   ERRNO): ours queues its gets together, so it checks the connected servers for a closed
//!   peer first (a poll that does not wait) and sends such a server its first key's get
//!   only, with the same outcome.
//! - A get that fails over leaves the dead server out of service until its retry time (the
//!   engine's failover); 1.1.4 resets it, so its next request tries a connect again
//!   (CONNECTION_FAILURE where ours answers SERVER_TEMPORARILY_DISABLED), and its last error
//!   after a replica read is SERVER_TEMPORARILY_DISABLED when another command had put the
//!   server out of service (ours: always CONNECTION_FAILURE).
//!
//! The rules are the engine's (src/client/replicas.rs, shared with omcache.pylibmc); this
//! face decides when they apply, draws RANDOMIZE_REPLICA_READ's start with libc `random()`
//! and records the last error as 1.1.4 does. Nothing here runs while `number_of_replicas`
//! is 0 (one test of it per call), and nothing is allocated per call while every server
//! answers (the mget's lists live in the handle).

use crate::client::{replica_copied, ReplicaAnswer, ReplicaScratch, Unreached};
use crate::client::{Failure, Request, RequestSet, Requests, ResponseSink, Status, Wait};
use crate::protocol::opcode;

use super::api::One;
use super::keys::Counted;
use super::memc::Lmc;

extern "C" {
    /// libc's random(), which 1.1.4 draws the first replica to read from with (the libc crate
    /// does not declare it).
    fn random() -> std::ffi::c_long;
}

impl ReplicaAnswer for One {
    fn status(&self) -> Option<Status> {
        self.status
    }

    fn clear(&mut self) {
        *self = One::new(self.keep_value);
    }
}

impl ReplicaAnswer for Counted {
    fn status(&self) -> Option<Status> {
        self.one.status
    }

    fn clear(&mut self) {
        *self = Counted::new(self.one.keep_value);
    }
}

/// RANDOMIZE_REPLICA_READ's start among the key's server and its `replicas`, as 1.1.4 draws
/// it (`random() % (replicas + 1)`); 0 without it.
fn read_start(model: &super::config::Model, replicas: u64) -> u64 {
    if model.randomize_replica_read {
        // SAFETY: libc random() has no preconditions.
        let r = unsafe { random() } as u64;
        r % (replicas + 1)
    } else {
        0
    }
}

impl Lmc {
    /// Whether requests of this handle are replicated (binary protocol, replicas set, more
    /// than one server).
    pub(super) fn replicating(&self) -> bool {
        self.model.number_of_replicas > 0
            && self.model.binary_protocol
            && self.client.server_count() > 1
    }

    /// Runs one keyed request (`base_op`: its opcode before any quiet variant) with
    /// replication: a set's or delete's copies in the same batch, a get's failover.
    /// `replica_failure` gets the last server a get could not reach.
    #[inline(never)]
    pub(super) fn command_replicated<S: ReplicaAnswer>(
        &mut self,
        request: Request<'_>,
        base_op: u8,
        keep_value: bool,
        sink: &mut S,
        wait: Wait,
        replica_failure: &mut Unreached,
    ) -> Status {
        if !self.replicating() {
            let mut reqs = [request];
            return self.client.command(&mut Requests(&mut reqs), sink, wait);
        }
        if let Some(only_if_sent) = replica_copied(base_op, request.parts.cas) {
            let copies = self.client.replica_copies(self.model.number_of_replicas);
            return self.client.command_with_copies(
                copies,
                base_op,
                only_if_sent,
                request,
                sink,
                wait,
            );
        }
        if base_op == opcode::GETK && keep_value {
            return self.get_failover(request, sink, wait, replica_failure);
        }
        let mut reqs = [request];
        self.client.command(&mut Requests(&mut reqs), sink, wait)
    }

    /// A get from the key's server, or from its replicas in turn while a server cannot be
    /// reached (1.1.4's order, RANDOMIZE_REPLICA_READ's random start). NotFound when none
    /// could be, with the last one unreached in `replica_failure`.
    pub(super) fn get_failover<S: ReplicaAnswer>(
        &mut self,
        request: Request<'_>,
        sink: &mut S,
        wait: Wait,
        replica_failure: &mut Unreached,
    ) -> Status {
        let replicas = u64::from(self.model.number_of_replicas);
        let start = read_start(&self.model, replicas);
        self.client
            .get_from_replicas(replicas, start, request, sink, wait, replica_failure)
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
        // A write to a server whose peer closed (an mget on a handle connected before the
        // kill): 1.1.4's last error is the failed write's ERRNO.
        let missed = match failure {
            Failure::ConnectionReset => super::rc::ERRNO,
            f => super::rc::from_status(Status::Failed(f), &[]),
        };
        self.record_failure(missed, Some(failure), memc, Some(server));
        code
    }
}

/// An mget over replicas (fetch.rs queues its gets with it): the engine's, its gets queued
/// for the fetch, the NOOPs to unconnected servers waited for within the poll timeout.
/// Returns the last server not reached.
#[inline(never)]
pub(super) fn replicated_mget(
    client: &mut crate::client::Client,
    model: &super::config::Model,
    scratch: &mut ReplicaScratch,
    gets: &mut dyn RequestSet,
    sink: &mut dyn ResponseSink,
) -> Unreached {
    let wait = Wait::after(model.poll_wait());
    let replicas = u64::from(model.number_of_replicas);
    let start = read_start(model, replicas);
    client
        .mget_from_replicas(replicas, start, gets, sink, wait, true, scratch)
        .1
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
