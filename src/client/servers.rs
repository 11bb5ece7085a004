//! The server list (in the caller's order, each with its weight), its continuum, and routing a
//! request to a live server.

use std::collections::HashMap;
use std::time::Instant;

use crate::address::{parse_server_list, AddressError, ServerAddr};
use crate::connection::{Connection, Origin};
use crate::ketama::{Continuum, Distribution, ServerName};
use crate::protocol::Protocol;

use super::deliver::fail_member;
use super::{log_level, Client, Discard, Failure, Request, Route, Status};

/// One configured server: where it is, and its weight on the ring (used by the weighted
/// distributions; 1 by default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    pub addr: ServerAddr,
    pub weight: u32,
}

impl Server {
    pub fn new(addr: ServerAddr) -> Server {
        Server { addr, weight: 1 }
    }

    pub fn weighted(addr: ServerAddr, weight: u32) -> Server {
        Server { addr, weight }
    }
}

/// The most servers that left the list with a failure state a client remembers.
const MAX_DEPARTED: usize = 1024;

impl Client {
    /// Replaces the server list with a comma-separated list of server strings, in that order,
    /// all of weight 1. Servers still listed keep their connections and state; the continuum
    /// is rebuilt. Empty entries are skipped; an entry that can never connect (see
    /// [`ServerAddr::defect`]) is a server dead from the start: it keeps its place (and so
    /// every other server keeps its keys), its keys go to the next live server, it is retried
    /// on the normal schedule, and it is logged once at WARNING. So this never fails; the
    /// `Result` is kept for callers written when a bad entry rejected the list.
    pub fn set_servers(&mut self, list: &str) -> Result<(), AddressError> {
        self.replace_servers(parse_server_list(list).into_iter().map(Server::new));
        Ok(())
    }

    /// Replaces the server list, in the order given. A server still listed (same address)
    /// keeps its connection and state. A new server whose address has a defect is dead from
    /// the start (see [`set_servers`](Self::set_servers)).
    pub fn replace_servers(&mut self, servers: impl IntoIterator<Item = Server>) {
        let mut old: Vec<Option<Connection>> = std::mem::take(&mut self.conns)
            .into_iter()
            .map(Some)
            .collect();
        // Where each old server stands (listed twice: each place in order), so that a list
        // of 10,000 servers is matched in one pass instead of a scan per entry.
        let mut old_places: HashMap<ServerAddr, Vec<usize>> = HashMap::with_capacity(old.len());
        for (i, c) in old.iter().enumerate().rev() {
            if let Some(c) = c {
                old_places.entry(c.addr().clone()).or_default().push(i);
            }
        }
        let servers = servers.into_iter();
        let mut conns = Vec::with_capacity(servers.size_hint().0);
        self.weights.clear();
        for Server { addr, weight } in servers {
            let reused = old_places
                .get_mut(&addr)
                .and_then(Vec::pop)
                .and_then(|i| old[i].take());
            let conn = match reused {
                Some(c) => c,
                None => self.returning_or_new_connection(addr),
            };
            conns.push(conn);
            self.weights.push(weight);
        }
        // Requests queued or in flight on dropped servers will never be answered: the
        // caller's fail with the closed connection (reported at the next `io` that continues
        // their batch, like any failure found without the request array at hand), never
        // vanish as if answered.
        for mut gone in old.into_iter().flatten() {
            while let Some(f) = gone.pop_inflight() {
                if f.origin == Origin::User {
                    let status = Status::Failed(Failure::ConnectionReset);
                    let (batch, reports) = (&mut self.batch, &mut self.reports);
                    let id = (f.opaque, f.opcode);
                    fail_member(batch, reports, id, status, None, &mut Discard);
                }
            }
            self.remember_departed(gone);
        }
        self.conns = conns;
        self.touched_flag.clear();
        self.touched_flag.resize(self.conns.len(), false);
        self.active.mark_stale();
        self.rebuild_continuum();
    }

    /// Closes every connection; the next request opens them again. What the client knows of
    /// each server stays: out of service until its retry time, ejected with its keys moved,
    /// due for a flush before it takes them back, the copies written elsewhere meanwhile
    /// (forgetting that would put a server back from a freeze in service at once, its values
    /// older than those written elsewhere while it was out). Requests in flight fail with
    /// ConnectionReset, reported at the next `io` that continues their batch. A probe under
    /// way is dropped: its server stays out of service and is probed again at the next call.
    pub fn close_connections(&mut self) {
        let now = Instant::now();
        for conn in &mut self.conns {
            let was_probing = conn.is_probing();
            conn.reset();
            if was_probing {
                let ejected = conn.is_ejected();
                conn.mark_dead(now, ejected);
            }
            while let Some(f) = conn.pop_inflight() {
                if f.origin == Origin::User {
                    let status = Status::Failed(Failure::ConnectionReset);
                    let (batch, reports) = (&mut self.batch, &mut self.reports);
                    let id = (f.opaque, f.opcode);
                    fail_member(batch, reports, id, status, None, &mut Discard);
                }
            }
        }
        self.active.mark_stale();
    }

    /// Appends servers to the list (libmemcached's server_add / server_push); those already
    /// listed keep their places, connections and state.
    pub fn push_servers(&mut self, servers: impl IntoIterator<Item = Server>) {
        for Server { addr, weight } in servers {
            let conn = self.returning_or_new_connection(addr);
            self.conns.push(conn);
            self.weights.push(weight);
        }
        self.touched_flag.resize(self.conns.len(), false);
        self.active.mark_stale();
        self.rebuild_continuum();
    }

    /// A server leaving the list: closed, and kept if it has a failure state to take up again
    /// should it come back (at most `MAX_DEPARTED`, the oldest forgotten first).
    fn remember_departed(&mut self, mut gone: Connection) {
        if !gone.has_failure_state() {
            return;
        }
        let was_probing = gone.is_probing();
        gone.reset();
        if was_probing {
            // The probe under way is dropped with the socket: out of service, probed again
            // as soon as it is back in the list.
            let ejected = gone.is_ejected();
            gone.mark_dead(Instant::now(), ejected);
        }
        self.departed.retain(|c| c.addr() != gone.addr());
        if self.departed.len() >= MAX_DEPARTED {
            self.departed.remove(0);
        }
        self.departed.push(gone);
    }

    /// The connection of a server entering the list: the one it left with if it departed
    /// with a failure state (out of service, due for a flush), else a new one.
    fn returning_or_new_connection(&mut self, addr: ServerAddr) -> Connection {
        let id = match self.server_id_index.get(&addr) {
            Some(&id) => id,
            None => {
                let id = self.server_ids.len();
                self.server_ids.push(addr.clone());
                self.server_id_index.insert(addr.clone(), id);
                id
            }
        };
        let mut conn = self.departed_or_new_connection(addr);
        conn.set_server_id(id);
        conn
    }

    fn departed_or_new_connection(&mut self, addr: ServerAddr) -> Connection {
        match self.departed.iter().position(|c| *c.addr() == addr) {
            Some(i) => {
                let mut conn = self.departed.remove(i);
                if conn.protocol() != self.protocol {
                    conn.set_protocol(self.protocol);
                }
                conn.set_text_cas(self.text_cas);
                conn
            }
            None => self.new_connection(addr),
        }
    }

    /// A connection for a server new to the list. One whose address can never connect is out
    /// of service with its keys moved from the start, as if it had just failed: the failover
    /// policy's retry schedule applies (the probe fails again at once, quietly).
    fn new_connection(&mut self, addr: ServerAddr) -> Connection {
        let Some(defect) = addr.defect.clone() else {
            let mut conn = Connection::new(addr, self.protocol);
            conn.set_text_cas(self.text_cas);
            return conn;
        };
        let retry = self
            .settings
            .failover
            .ejected_retry_timeout
            .unwrap_or(self.settings.reconnect_timeout);
        let mut conn = Connection::new(addr, self.protocol);
        conn.set_text_cas(self.text_cas);
        conn.mark_dead(Instant::now() + retry, true);
        self.log(
            log_level::WARNING,
            format_args!(
                "[{}] can never connect ({}); kept in the list as a dead server, its keys go to the next live server",
                conn.addr(),
                defect.reason()
            ),
        );
        conn
    }

    /// The configured servers, in order.
    pub fn servers(&self) -> impl Iterator<Item = Server> + '_ {
        self.conns
            .iter()
            .zip(&self.weights)
            .map(|(c, &weight)| Server::weighted(c.addr().clone(), weight))
    }

    /// The protocol every connection speaks (binary by default).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Switches every connection to `protocol`. What was queued or in flight is abandoned
    /// (like `reset_buffers`); the next request connects afresh, also to a server that was
    /// out of service (not ejected).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        if protocol == self.protocol {
            return;
        }
        self.protocol = protocol;
        self.active.mark_stale();
        for c in &mut self.conns {
            c.set_protocol(protocol);
            // A fresh start: a server out of service (not ejected) is tried again at once,
            // as libmemcached 1.1.4 does when BINARY_PROTOCOL changes (a server disabled by
            // SASL over text comes back when binary is turned on).
            if !c.is_ejected() {
                c.revive();
            }
        }
        self.batch.clear();
        self.reports.clear();
    }

    /// Whether gets over the text protocol ask for the CAS unique (`gets`, the default) or
    /// not (`get`, as libmemcached without SUPPORT_CAS: the answers then carry CAS 0). Binary
    /// and meta answers carry it either way.
    pub fn set_text_cas(&mut self, on: bool) {
        self.text_cas = on;
        for c in &mut self.conns {
            c.set_text_cas(on);
        }
    }

    pub fn set_distribution(&mut self, dist: Distribution) {
        self.dist = dist;
        self.rebuild_continuum();
    }

    fn rebuild_continuum(&mut self) {
        let names: Vec<ServerName<'_>> = self
            .conns
            .iter()
            .map(|c| ServerName::new(&c.addr().host, c.addr().port))
            .collect();
        self.continuum = Continuum::build_with_weights(&names, &self.weights, &self.dist);
    }

    pub fn server_count(&self) -> usize {
        self.conns.len()
    }

    /// Bytes of receive buffers the connections hold (a diagnostic: memory kept for big
    /// values is released once they stop, see `trim.rs`).
    pub fn receive_memory(&self) -> usize {
        self.conns.iter().map(|c| c.receive_memory()).sum()
    }

    pub fn server_addr(&self, index: usize) -> Option<&ServerAddr> {
        self.conns.get(index).map(|c| c.addr())
    }

    /// The socket of the server's connection, while it has one.
    pub fn server_fd(&self, index: usize) -> Option<std::os::fd::RawFd> {
        self.conns.get(index).and_then(|c| c.fd())
    }

    /// Whether the server's TLS session resumed an earlier one (a reconnect without a full
    /// handshake); None without an established TLS session.
    pub fn tls_resumed(&self, index: usize) -> Option<bool> {
        self.conns.get(index).and_then(|c| c.tls_resumed())
    }

    /// Why TLS to the server last failed; None if it has not failed, or a handshake has
    /// succeeded since (or TLS was set since).
    pub fn tls_failure(&self, index: usize) -> Option<super::TlsFailure> {
        self.conns.get(index).and_then(|c| c.last_tls_failure())
    }

    pub fn server_weight(&self, index: usize) -> Option<u32> {
        self.weights.get(index).copied()
    }

    /// The server a key goes to now (skipping ejected servers); None when there are no
    /// servers, or all are ejected.
    pub fn server_index_for_key(&self, key: &[u8]) -> Option<usize> {
        let conns = &self.conns;
        self.continuum
            .server_for_key_live(key, |i| conns[i].takes_keys())
    }

    /// `route`, and for a keyed request the server its key belongs to when every server is
    /// in service (its home: another one when the key moved off an ejected server).
    pub(super) fn route_noting_home(&self, req: &Request<'_>) -> (Option<usize>, Option<usize>) {
        let key = match req.route {
            Route::Server(_) => return (self.route(req), None),
            Route::Key => req.parts.key,
            Route::ByKey(k) => k,
        };
        let conns = &self.conns;
        let mut home = None;
        let server = self.continuum.server_for_key_live(key, |i| {
            home.get_or_insert(i);
            conns[i].takes_keys()
        });
        (server, home)
    }

    /// The server a request goes to: its explicit index if that server is usable, else the
    /// live server of its key.
    pub(super) fn route(&self, req: &Request<'_>) -> Option<usize> {
        match req.route {
            Route::Server(i) => self.conns.get(i).filter(|c| c.is_usable()).map(|_| i),
            Route::Key => self.server_index_for_key(req.parts.key),
            Route::ByKey(k) => self.server_index_for_key(k),
        }
    }
}
