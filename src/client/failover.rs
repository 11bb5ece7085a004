//! Failover policy: when a server is dead, what happens to its requests, when it is retried.
//!
//! A closed or reset connection gets one immediate reconnect. A refused or timed-out connect,
//! no progress for `dead_timeout`, a failed probe, or a second failure without an answer in
//! between makes the server dead: its requests complete with `ServerFailure` (those that
//! never left move to their key's next server), its ring points are skipped, and after
//! `reconnect_timeout` a background probe (connect + NOOP) brings it back when answered.

use std::time::Instant;

use crate::connection::{Origin, State};
use crate::sys;

use super::deliver::{fail_member, Report};
use super::{log_level, Client, Discard, Failure, RequestSet, ResponseSink, Status};

/// What a failed connect means: nobody listening, a connect that did not finish, or a name
/// that does not resolve (the resolver's errors come as `NotFound`).
pub(super) fn connect_failure(e: &std::io::Error) -> Failure {
    match e.kind() {
        std::io::ErrorKind::NotFound => Failure::NameNotResolved,
        std::io::ErrorKind::TimedOut => Failure::ConnectTimeout,
        _ => Failure::ConnectRefused,
    }
}

impl Client {
    /// Starts a background reconnect ("probe") to every dead server whose reconnect_timeout
    /// has passed: connect, then a NOOP whose answer brings the server back. Until then its
    /// keys stay with the servers that took them over.
    pub(super) fn start_due_probes(&mut self, now: Instant) {
        // A dead server is never quiet: it is in the active set.
        for k in 0..self.active.len() {
            let server = self.active.get(k);
            let State::Dead { retry_at } = self.conns[server].state() else {
                continue;
            };
            // A server out of service but not ejected is retried by the first request for
            // it after its retry time.
            if now < retry_at || !self.conns[server].is_ejected() {
                continue;
            }
            let timeout = self.settings.connect_timeout;
            let retry = self.settings.reconnect_timeout;
            let id = self.next_id();
            let conn = &mut self.conns[server];
            conn.revive();
            match conn.start_connect(now, timeout) {
                Ok(_) => {
                    let connected = conn.state() == State::Connected;
                    if connected && !self.connected(server, None, &mut Discard) {
                        continue;
                    }
                    let conn = &mut self.conns[server];
                    conn.start_probe(id);
                    if connected {
                        let _ = conn.flush(Some(now));
                    }
                    let addr = conn.addr().to_string();
                    self.log(
                        log_level::INFO,
                        format_args!("[{addr}] retrying dead server"),
                    );
                }
                Err(e) => {
                    conn.mark_dead(now + retry, true);
                    let addr = conn.addr().to_string();
                    // An entry that can never connect was logged once, at WARNING, when it
                    // was listed; its retries are quiet.
                    let level = match conn.addr().defect {
                        Some(_) => log_level::DEBUG,
                        None => log_level::INFO,
                    };
                    self.log(
                        level,
                        format_args!("[{addr}] still down ({e}); next retry in {retry:?}"),
                    );
                }
            }
        }
    }

    /// One non-blocking pass over servers being probed, so that a probe progresses even when
    /// every request goes elsewhere (or nowhere: all servers dead).
    pub(super) fn advance_probes(&mut self, now: Instant) {
        self.start_due_probes(now);
        if !self.active.iter().any(|i| self.conns[i].is_probing()) {
            return;
        }
        self.build_pollfds();
        let mut i = 0;
        while i < self.pollfds.len() {
            if self.conns[self.poll_conns[i]].is_probing() {
                i += 1;
            } else {
                self.pollfds.swap_remove(i);
                self.poll_conns.swap_remove(i);
            }
        }
        if !self.pollfds.is_empty()
            && matches!(sys::poll(&mut self.pollfds, Some(std::time::Duration::ZERO)), Ok(n) if n > 0)
        {
            for p in 0..self.pollfds.len() {
                let (revents, server) = (self.pollfds[p].revents, self.poll_conns[p]);
                if revents != 0 {
                    self.service_probe(server, revents, now);
                }
            }
        }
        self.check_probe_timeouts(Instant::now());
    }

    /// Poll events of a probing connection (it carries no caller's request).
    fn service_probe(&mut self, server: usize, revents: i16, now: Instant) {
        if let State::Connecting { .. } = self.conns[server].state() {
            match self.conns[server].finish_connect(now) {
                Ok(true) => {}
                Ok(false) => {
                    self.log_replaced_unused(server);
                    return;
                }
                Err(e) => {
                    let msg = format!("connect failed: {e}");
                    self.server_failed(server, &msg, connect_failure(&e), None, &mut Discard);
                    return;
                }
            }
            if !self.connected(server, None, &mut Discard) {
                return;
            }
        }
        if revents & (sys::POLLOUT | sys::POLLERR | sys::POLLHUP) != 0
            && self.conns[server].has_sendable()
        {
            if let Err(e) = self.conns[server].flush(Some(now)) {
                let msg = format!("write failed: {e}");
                let failure = self.io_failure(server);
                self.server_failed(server, &msg, failure, None, &mut Discard);
                return;
            }
        }
        if revents & (sys::POLLIN | sys::POLLERR | sys::POLLHUP) != 0 {
            self.read_server(server, None, None, &mut Discard);
        }
    }

    /// Connect deadlines and dead timeouts of probing connections.
    fn check_probe_timeouts(&mut self, now: Instant) {
        let dead_timeout = self.settings.dead_timeout;
        for k in 0..self.active.len() {
            let server = self.active.get(k);
            let c = &self.conns[server];
            if !c.is_probing() {
                continue;
            }
            let expired = match c.state() {
                State::Connecting { deadline } | State::Resolving { deadline } => now >= deadline,
                State::Connected => {
                    c.dead_deadline(dead_timeout).is_some_and(|d| now >= d)
                        || c.auth_deadline().is_some_and(|d| now >= d)
                        || c.tls_deadline().is_some_and(|d| now >= d)
                }
                _ => false,
            };
            if expired {
                let failure = match c.state() {
                    State::Resolving { .. } => Failure::NameNotResolved,
                    State::Connecting { .. } => Failure::ConnectTimeout,
                    _ if c.tls_handshaking() => Failure::Tls(super::TlsFailure::HandshakeTimeout),
                    _ => Failure::Timeout,
                };
                self.server_failed(server, "probe not answered", failure, None, &mut Discard);
            }
        }
    }

    /// Connect deadlines and the dead timeout.
    pub(super) fn check_timeouts(
        &mut self,
        now: Instant,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) {
        let dead_timeout = self.settings.dead_timeout;
        let mut k = 0;
        while k < self.active.len() {
            let server = self.active.get(k);
            k += 1;
            let c = &mut self.conns[server];
            c.start_dead_timer(now);
            match c.state() {
                State::Connecting { deadline } if now >= deadline => {
                    let failure = Failure::ConnectTimeout;
                    self.server_failed(server, "connect timed out", failure, reqs, sink);
                }
                State::Connected if c.tls_deadline().is_some_and(|d| now >= d) => {
                    // Bounded by the connect timeout, like the connect. Nothing was sent in
                    // the clear (nor at all of the caller's).
                    let why = "TLS handshake not finished within the connect timeout \
                               (does the server speak TLS?)";
                    let failure = Failure::Tls(super::TlsFailure::HandshakeTimeout);
                    self.server_failed(server, why, failure, reqs, sink);
                }
                State::Connected if c.auth_deadline().is_some_and(|d| now >= d) => {
                    // The handshake is bounded by the connect timeout, like the connect.
                    let why = "SASL authentication not answered within the connect timeout";
                    self.server_failed(server, why, Failure::Timeout, reqs, sink);
                }
                State::Connected
                    if c.dead_deadline(dead_timeout).is_some_and(|d| now >= d)
                        && c.news_waiting() =>
                {
                    // The time ran out while nobody was reading (between two calls, or
                    // while a poll returned): the answers that came meanwhile are progress,
                    // not a dead server. A server that answered a timed-out get, or the
                    // writes flushed before a pause, late, was put out of service instead.
                    // Without the caller's requests (a call's first look, before its batch
                    // starts) they are left for the call's own pass: taken in here, they
                    // would miss the sink (OMcache's callback sees every answer).
                    let Some(reqs) = reqs else { continue };
                    self.read_server(server, None, Some(reqs), sink);
                }
                State::Connected if c.dead_deadline(dead_timeout).is_some_and(|d| now >= d) => {
                    // No progress for dead_timeout since the oldest unanswered request: the
                    // server is dead at once (the project's decision; OMcache 0.3 needed a
                    // second timeout).
                    let (why, failure) = ("no answer within dead timeout", Failure::Timeout);
                    self.server_failed(server, why, failure, reqs, sink);
                }
                _ => {}
            }
        }
    }

    /// Resets a server's connection and completes every request queued or in flight on it
    /// with `failure`. The failover policy decides whether the server is now out of service
    /// and whether its keys move (requests that never left an ejected server move with them).
    pub(super) fn server_failed(
        &mut self,
        server: usize,
        reason: &str,
        failure: Failure,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) {
        let now = Instant::now();
        let policy = self.settings.failover;
        self.failures_seen += 1;
        self.last_failure = Some(failure);
        let conn = &mut self.conns[server];
        let addr = conn.addr().to_string();
        // Without an established connection no byte of the queued requests has left, nor
        // while they are held back behind an unanswered SASL authentication.
        let nothing_sent = conn.state() != State::Connected
            || conn.auth_deadline().is_some()
            || conn.tls_handshaking();
        let was_probing = conn.is_probing();
        let was_ejected = conn.is_ejected();
        conn.reset();
        if let Failure::Tls(why) = failure {
            conn.set_last_tls_failure(Some(why));
        }
        let failures = conn.note_failure();
        // A close or reset gets `immediate_reconnects` reconnects at once; any other failure,
        // a failed probe, or more closes without an answer in between put the server out of
        // service.
        let soft = matches!(failure, Failure::ConnectionReset | Failure::ProtocolError);
        let dead = !soft || was_probing || failures > policy.immediate_reconnects;
        let ejected = dead && (was_ejected || policy.eject_after.is_some_and(|n| failures >= n));
        if dead {
            let retry = match (ejected, policy.ejected_retry_timeout) {
                (true, Some(t)) => t,
                _ => self.settings.reconnect_timeout,
            };
            conn.mark_dead(now + retry, ejected);
        }
        // TLS failures likewise: the same TLS settings go to every server (a certificate the
        // settings reject, a server that does not speak TLS), so the reason stays visible.
        let auth_refused = matches!(
            failure,
            Failure::AuthFailed | Failure::AuthUnsupported | Failure::Tls(_)
        );
        let (mut failed, mut moved) = (0usize, 0usize);
        while let Some(f) = self.conns[server].pop_inflight() {
            if f.origin != Origin::User {
                continue;
            }
            let Some(i) = self.batch.index_of(f.opaque) else {
                // A request of an earlier call: a lost write is told all the same.
                let (batch, reports) = (&mut self.batch, &mut self.reports);
                let id = (f.opaque, f.opcode);
                failed += usize::from(fail_member(
                    batch,
                    reports,
                    id,
                    Status::Failed(failure),
                    reqs,
                    sink,
                ));
                continue;
            };
            let mut status = Status::Failed(failure);
            // A refused authentication fails its requests with that clear status: the same
            // credentials go to every server, so moving them would only hide it.
            if ejected && nothing_sent && f.keyed && !auth_refused {
                // Never sent, and the key's server is gone: it goes to the key's next server,
                // exactly as a request made now would. Without the caller's requests at hand,
                // that happens at the next `io` that continues the batch.
                let Some(r) = reqs else {
                    self.reports.push(Report::Reroute {
                        opaque: f.opaque,
                        status,
                    });
                    moved += 1;
                    continue;
                };
                // Its route is by key (`keyed`): the key's next live server. A request set
                // that keeps no keys (the libmemcached face's pending fetch) gives a key-less
                // stand-in: that request cannot be made again and fails with the server's
                // failure, not as a bad key.
                let req = r.request(i);
                if !req.parts.key.is_empty() {
                    match self.enqueue(&req, f.opaque, None) {
                        Ok(_) => {
                            moved += 1;
                            continue;
                        }
                        Err(e) => status = e,
                    }
                }
            }
            failed += 1;
            fail_member(
                &mut self.batch,
                &mut self.reports,
                (f.opaque, f.opcode),
                status,
                reqs,
                sink,
            );
        }
        let level = if dead {
            log_level::NOTICE
        } else {
            log_level::INFO
        };
        let what = match (dead, ejected) {
            (true, true) => "server disabled, its keys moved",
            (true, false) => "server temporarily disabled",
            _ => "reconnecting",
        };
        self.log(
            level,
            format_args!(
                "[{addr}] {reason}; {what}, {failed} request(s) failed, {moved} moved to other servers"
            ),
        );
        if !dead && policy.reconnect_at_once {
            // One immediate reconnect; if it is refused or times out the server is dead.
            self.kick(server, reqs, sink, now);
        }
    }
}
