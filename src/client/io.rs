//! The I/O loop: one `poll()` over every server with pending work, with deadlines kept to the
//! precision of the system's timers (never rounded to the kernel's receive-timeout ticks).

use std::time::{Duration, Instant};

use crate::connection::{ConnectStart, Received, State, MIN_KERNEL_RECV_WAIT};
use crate::sys;

use super::failover::connect_failure;
use super::{log_level, Client, Discard, Failure, IoOutcome, RequestSet, ResponseSink, Wait};

/// How often a pending name resolution is checked while the caller waits.
const RESOLVER_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// When an I/O loop is done.
#[derive(Clone, Copy)]
enum Until {
    /// Every request of the current batch is answered.
    Answered,
    /// Nothing remains to send and no answer is awaited.
    Idle,
    /// Nothing remains to send (answers may still be awaited).
    Sent,
}

impl Client {
    /// Runs I/O. With `reqs` (the current batch's requests) it waits until every one of them
    /// is answered, storing their responses through `sink`; without, until nothing remains to
    /// send and no answer is awaited.
    pub fn io(
        &mut self,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
        wait: impl Into<Wait>,
    ) -> IoOutcome {
        let wait = self.begin_io(wait.into());
        match reqs {
            Some(r) => self.hand_over_reports(r, sink),
            None => self.hand_over_failures_keyless(sink),
        }
        // Answers left in the buffers by a paused sink: no poll would report them.
        for k in 0..self.active.len() {
            let server = self.active.get(k);
            if sink.paused() {
                return IoOutcome::Paused;
            }
            if self.conns[server].has_buffered_input() {
                self.process_input(server, reqs, sink);
            }
        }
        if sink.paused() || sink.satisfied() {
            return IoOutcome::Paused;
        }
        let outcome = self.io_loop(reqs, sink, wait);
        if reqs.is_none() {
            self.hand_over_failures_keyless(sink);
        } else {
            self.hand_over_unclaimed(sink);
        }
        outcome
    }

    /// Before queued requests are written out (`io`, `send_queued`: a flush of buffered
    /// writes, the one before the connections close): each connection holding requests none of whose
    /// bytes has left is looked at, and one the server closed meanwhile (a restart) is
    /// replaced with the queue kept, instead of taking it into the closed connection (found
    /// by an outside tester: sets queued before and after a restart were lost by the flush).
    /// One `recv(MSG_PEEK)` per such connection and call.
    fn look_before_writing_queues(&mut self) {
        let mut k = 0;
        while k < self.active.len() {
            let server = self.active.get(k);
            k += 1;
            if self.conns[server].has_unsent() {
                self.close_if_gone_while_idle(server);
            }
        }
    }

    /// Writes out everything queued, without waiting for the answers: they are taken in by
    /// later calls (and delivered to their sinks as answers of no current batch). What
    /// libmemcached's `memcached_flush_buffers` does; waiting for the answers as well would
    /// cost a round trip per flush, which buffering exists to avoid. Answers that arrive
    /// meanwhile are taken in, so that a server blocked on its own writes to us goes on
    /// reading.
    /// Returns how the I/O ended and, when a server failed meanwhile, the last failure (the
    /// requests it took with it belong to no batch: no sink hears of them).
    pub fn send_queued(
        &mut self,
        sink: &mut dyn ResponseSink,
        wait: impl Into<Wait>,
    ) -> (IoOutcome, Option<Failure>) {
        let wait = self.begin_io(wait.into());
        let seen = self.failures_seen;
        let outcome = self.io_until(None, sink, wait, Until::Sent);
        let failed = (self.failures_seen != seen)
            .then_some(self.last_failure)
            .flatten();
        (outcome, failed)
    }

    /// What a call that runs I/O on its own does first: its relative wait made a deadline, a
    /// fork and the active set checked, values handed out before released, queued
    /// connections looked at before they are written.
    fn begin_io(&mut self, wait: Wait) -> Wait {
        let wait = match wait {
            w @ Wait::Within(_) => w.resolve(Instant::now()),
            w => w,
        };
        self.check_fork();
        self.refresh_active_if_stale();
        self.unpin_all();
        self.look_before_writing_queues();
        wait
    }

    /// The I/O loop of `io`, without unpinning: values already handed out in this call stay
    /// valid.
    pub(super) fn io_loop(
        &mut self,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
        wait: Wait,
    ) -> IoOutcome {
        let until = if reqs.is_some() {
            Until::Answered
        } else {
            Until::Idle
        };
        self.io_until(reqs, sink, wait, until)
    }

    fn io_until(
        &mut self,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
        wait: Wait,
        until: Until,
    ) -> IoOutcome {
        let mut rescanned = false;
        loop {
            let now = Instant::now();
            self.prepare(now, reqs, sink);
            // Answers already received but not processed (taken in while a sink was paused,
            // perhaps by an earlier batch): no poll would report them.
            let mut k = 0;
            while k < self.active.len() {
                let server = self.active.get(k);
                k += 1;
                if self.conns[server].may_have_event() {
                    self.process_input(server, reqs, sink);
                    if sink.paused() {
                        return IoOutcome::Paused;
                    }
                }
            }
            // Decrypted bytes a TLS session holds beyond what the last receive took: no poll
            // of the socket reports them.
            let mut k = 0;
            while k < self.active.len() {
                let server = self.active.get(k);
                k += 1;
                while self.conns[server].tls_has_plaintext() {
                    if self.read_server(server, None, reqs, sink) == Received::NoRoom {
                        return IoOutcome::Again;
                    }
                    if sink.paused() {
                        return IoOutcome::Paused;
                    }
                }
            }
            if self.finished(until) {
                return IoOutcome::Done;
            }
            if sink.satisfied() {
                return IoOutcome::Paused;
            }
            self.build_pollfds();
            let resolving = self
                .active
                .iter()
                .any(|i| matches!(self.conns[i].state(), State::Resolving { .. }));
            if self.pollfds.is_empty() && !resolving {
                if !rescanned && self.batch.remaining() > 0 {
                    // Before giving up on the batch: every server looked at once, in case
                    // one with work was missing from the active set (it never should be).
                    rescanned = true;
                    let before = self.active.len();
                    self.active.mark_stale();
                    self.refresh_active();
                    if self.active.len() > before {
                        continue;
                    }
                }
                // Nothing can make progress (every remaining request failed or was dropped).
                return IoOutcome::Done;
            }
            let poll_wait = self.poll_timeout(now, wait);

            // Fast path: one server, nothing to send, only an answer to wait for, and a wait
            // long enough for the kernel's receive timeout: block in recv() itself. One system
            // call instead of poll() + recv().
            let single_reader = self.pollfds.len() == 1
                && self.pollfds[0].events == sys::POLLIN
                && !resolving
                && poll_wait.map_or(true, |w| w >= MIN_KERNEL_RECV_WAIT);
            if single_reader {
                let server = self.poll_conns[0];
                let block = poll_wait.unwrap_or(self.settings.dead_timeout);
                if self.read_server(server, Some(block), reqs, sink) == Received::NoRoom {
                    return IoOutcome::Again;
                }
                if sink.paused() {
                    return IoOutcome::Paused;
                }
            } else {
                if let Err(e) = sys::poll(&mut self.pollfds, poll_wait) {
                    self.log(log_level::ERR, format_args!("poll failed: {e}"));
                    return IoOutcome::Again;
                }
                let now = Instant::now();
                let mut no_room = false;
                for p in 0..self.pollfds.len() {
                    let revents = self.pollfds[p].revents;
                    let server = self.poll_conns[p];
                    if revents == 0 {
                        continue;
                    }
                    if sink.paused() {
                        self.take_in(server, revents);
                        continue;
                    }
                    no_room |= self.service(server, revents, now, reqs, sink);
                }
                if sink.paused() {
                    return IoOutcome::Paused;
                }
                if no_room {
                    return IoOutcome::Again;
                }
            }
            // A poll rounds its wait up to whole milliseconds, so it may wake after the
            // caller's deadline: a dead timeout that only ran out after that deadline is left
            // for a later call (which first reads what came meanwhile). A frozen server's
            // request timed out in a new connection, and the server was out of service for
            // the retry timeout as well, where 1.1.4's next call finds it back (found by an
            // outside tester after a memcached_quit).
            let now = Instant::now();
            let checked_at = match wait {
                Wait::Until(deadline) => now.min(deadline),
                _ => now,
            };
            self.check_timeouts(checked_at, reqs, sink);
            if self.finished(until) {
                return IoOutcome::Done;
            }
            if wait.expired(now) {
                if wait != Wait::NoWait && self.settings.failover.reconnect_after_timeout {
                    // The caller gives up what is still due (see `reconnect_after_timeout`).
                    for k in 0..self.active.len() {
                        let server = self.active.get(k);
                        self.conns[server].note_timed_out(now);
                    }
                }
                return IoOutcome::Again;
            }
        }
    }

    fn finished(&self, until: Until) -> bool {
        match until {
            Until::Answered => self.batch.remaining() == 0,
            Until::Idle => self.active.iter().all(|i| {
                let c = &self.conns[i];
                !c.has_unsent() && !c.awaits_response()
            }),
            // (A server still connecting has its requests unsent.)
            Until::Sent => self.active.iter().all(|i| !self.conns[i].has_unsent()),
        }
    }

    /// Before each pass: close runs of quiet requests with a NOOP, start connects for servers
    /// with work, fail servers whose retry time has not come, start dead-timeout timers.
    pub(super) fn prepare(
        &mut self,
        now: Instant,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) {
        self.start_due_probes(now);
        let mut k = 0;
        while k < self.active.len() {
            let server = self.active.get(k);
            k += 1;
            if self.conns[server].ends_quiet() {
                let id = self.next_id();
                self.conns[server].queue_noop(id, crate::connection::Origin::TrailingNoop);
            }
            let conn = &mut self.conns[server];
            let has_work = conn.has_work();
            match conn.state() {
                State::Resolving { deadline } => {
                    let timeout = self.settings.connect_timeout;
                    match conn.poll_resolver(now, timeout) {
                        None if now >= deadline => self.server_failed(
                            server,
                            "name resolution timed out",
                            Failure::NameNotResolved,
                            reqs,
                            sink,
                        ),
                        None => {}
                        Some(Ok(ConnectStart::Connected)) => {
                            // A TLS start that failed has failed the server already.
                            let usable = self.connected(server, reqs, sink);
                            if usable {
                                self.kick(server, reqs, sink, now);
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            let msg = format!("cannot connect: {e}");
                            self.server_failed(server, &msg, connect_failure(&e), reqs, sink);
                        }
                    }
                }
                State::Idle if has_work => self.kick(server, reqs, sink, now),
                State::Dead { .. } if has_work => self.server_failed(
                    server,
                    "server is disabled",
                    Failure::ServerDead,
                    reqs,
                    sink,
                ),
                State::Connected => {
                    conn.start_dead_timer(now);
                    // Written now rather than after a poll for writability: a socket with
                    // room (the usual case) takes it at once, one poll fewer per batch.
                    if conn.has_sendable() {
                        if let Err(e) = conn.flush(Some(now)) {
                            let msg = format!("write failed: {e}");
                            let failure = self.io_failure(server);
                            self.server_failed(server, &msg, failure, reqs, sink);
                        }
                    }
                }
                _ => {}
            }
        }
        // Requests moved off a failed server may have landed on an idle one already passed
        // above; a failed connect here can move them again (each time to a live server, so
        // this ends within one pass per server).
        for _ in 0..self.active.len() {
            let Some(server) = self.active.iter().find(|&i| {
                let c = &self.conns[i];
                c.state() == State::Idle && c.has_work()
            }) else {
                break;
            };
            self.kick(server, reqs, sink, now);
        }
    }

    pub(super) fn build_pollfds(&mut self) {
        self.pollfds.clear();
        self.poll_conns.clear();
        for i in self.active.iter() {
            let c = &self.conns[i];
            let Some(fd) = c.fd() else { continue };
            let events = c.poll_events();
            if events != 0 {
                self.pollfds.push(sys::PollFd {
                    fd,
                    events,
                    revents: 0,
                });
                self.poll_conns.push(i);
            }
        }
    }

    /// How long the next poll may wait: the caller's remaining time, capped so that connect
    /// deadlines, dead timeouts and resolvers are looked at when they fall due. None: no
    /// limit.
    pub(super) fn poll_timeout(&self, now: Instant, wait: Wait) -> Option<Duration> {
        let dead_timeout = self.settings.dead_timeout;
        let mut due = wait.deadline();
        let mut cap = |t: Instant| due = Some(due.map_or(t, |d| d.min(t)));
        for c in self.active.iter().map(|i| &self.conns[i]) {
            match c.state() {
                State::Connecting { deadline } => cap(deadline),
                // A resolver thread has no descriptor to poll: look again soon.
                State::Resolving { .. } => cap(now + RESOLVER_POLL_INTERVAL),
                State::Connected => {
                    if let Some(d) = c.dead_deadline(dead_timeout) {
                        cap(d)
                    }
                    if let Some(d) = c.auth_deadline() {
                        cap(d)
                    }
                    if let Some(d) = c.tls_deadline() {
                        cap(d)
                    }
                }
                _ => {}
            }
        }
        if wait == Wait::NoWait {
            return Some(Duration::ZERO);
        }
        due.map(|d| d.saturating_duration_since(now))
    }

    /// Handles poll events for one server. Returns true when its receive buffer is pinned and
    /// the memory for this call's values is spent.
    fn service(
        &mut self,
        server: usize,
        revents: i16,
        now: Instant,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) -> bool {
        if let State::Connecting { .. } = self.conns[server].state() {
            match self.conns[server].finish_connect(now) {
                Ok(true) => {
                    if !self.connected(server, reqs, sink) {
                        return false;
                    }
                }
                Ok(false) => {
                    self.log_replaced_unused(server);
                    return false;
                }
                Err(e) => {
                    let msg = format!("connect failed: {e}");
                    self.server_failed(server, &msg, connect_failure(&e), reqs, sink);
                    return false;
                }
            }
        }
        if revents & (sys::POLLOUT | sys::POLLERR | sys::POLLHUP) != 0
            && self.conns[server].has_sendable()
        {
            if let Err(e) = self.conns[server].flush(Some(now)) {
                let msg = format!("write failed: {e}");
                let failure = self.io_failure(server);
                self.server_failed(server, &msg, failure, reqs, sink);
                return false;
            }
        }
        if revents & (sys::POLLIN | sys::POLLERR | sys::POLLHUP) != 0 {
            return self.read_server(server, None, reqs, sink) == Received::NoRoom;
        }
        false
    }

    /// The sink has paused (it takes one answer per call) while the poll reported more
    /// servers ready: their bytes are taken into the receive buffers now, unprocessed, so
    /// that the caller's next calls find them there instead of polling once per server.
    /// A failed receive is left for the next poll to report again (a reset or closed
    /// connection stays readable), when a sink can be told.
    fn take_in(&mut self, server: usize, revents: i16) {
        let conn = &mut self.conns[server];
        if revents & sys::POLLIN == 0 || conn.state() != State::Connected {
            return;
        }
        let max = self.settings.recv_buffer_max;
        let budget = self.settings.retire_budget();
        let _ = conn.receive(max, budget, None);
    }

    /// One receive (blocking up to about `block_for` if given) and the processing of what it
    /// brought; a failed receive fails the server.
    pub(super) fn read_server(
        &mut self,
        server: usize,
        block_for: Option<Duration>,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) -> Received {
        let max = self.settings.recv_buffer_max;
        let budget = self.settings.retire_budget();
        let received = self.conns[server].receive(max, budget, block_for);
        if let Some(resumed) = self.conns[server].take_tls_established() {
            if self.log_enabled(log_level::INFO) {
                let addr = self.conns[server].addr().to_string();
                let how = if resumed { "resumed" } else { "full handshake" };
                self.log(
                    log_level::INFO,
                    format_args!("[{addr}] TLS established ({how})"),
                );
            }
        }
        match received {
            Ok(Received::Bytes(n)) => {
                self.process_input(server, reqs, sink);
                Received::Bytes(n)
            }
            Ok(other) => other,
            Err(e) => {
                let msg = format!("read failed: {e}");
                let failure = self.io_failure(server);
                self.server_failed(server, &msg, failure, reqs, sink);
                Received::WouldBlock
            }
        }
    }

    /// The descriptors an external event loop should poll, and how long it may wait before
    /// calling `io` again, in milliseconds. Starts connects and queues trailing NOOPs like an
    /// I/O pass would; failures found meanwhile are reported at the next `io`.
    pub fn poll_fds(&mut self) -> (&mut [sys::PollFd], i32) {
        self.check_fork();
        self.refresh_active();
        let now = Instant::now();
        self.prepare(now, None, &mut Discard);
        self.build_pollfds();
        // Decrypted bytes a TLS session holds raise no poll event: come back at once.
        let tls_pending = self
            .active
            .iter()
            .any(|i| self.conns[i].tls_has_plaintext());
        let timeout = match self.poll_timeout(now, Wait::Forever) {
            _ if tls_pending => 0,
            // Round up: waking before a deadline only costs another call.
            Some(d) => (d.as_micros().div_ceil(1000)).min(i32::MAX as u128) as i32,
            // Nothing due: look again within a dead timeout (a probe may fall due meanwhile).
            None => self.settings.dead_timeout.as_millis().min(i32::MAX as u128) as i32,
        };
        (&mut self.pollfds, timeout)
    }

    /// Values handed out by an earlier call are no longer valid: let buffers move again.
    // Inlined: on every request's path, where the call cost as much as the body.
    #[inline(always)]
    pub(super) fn unpin_all(&mut self) {
        // A pinned connection is not quiet: it is in the active set.
        for k in 0..self.active.len() {
            let server = self.active.get(k);
            self.conns[server].unpin();
        }
        self.count_call_and_sweep();
    }

    /// Drops every queued and partially received byte and forgets the current batch.
    pub fn reset_buffers(&mut self) {
        self.check_fork();
        for c in &mut self.conns {
            c.abandon_all();
        }
        self.batch.clear();
        self.reports.clear();
    }
}
