//! A batch of requests into the connections' send buffers, and the single-request fast path.

use std::time::{Duration, Instant};

use crate::connection::{self, ConnectStart, InFlight, Origin, QueueError, Received, State};
use crate::protocol::{self, RequestParts};
use crate::sys;

use super::failover::connect_failure;
use super::{
    log_level, valid_key, Client, Discard, IoOutcome, Request, RequestSet, ResponseSink, Status,
};
use super::{Failure, Response, Route, Wait};

impl Client {
    /// Queues `reqs` as a new batch (ids in array order), sends them unless buffering, and
    /// unless `wait` is `NoWait` runs I/O until every request is answered or time runs out.
    /// Returns OK when all are answered, BUFFERED (no wait), AGAIN (time ran out), or the
    /// error of a request that could not be sent (NO_SERVERS, BUFFER_FULL, INVALID) when
    /// nothing else went wrong.
    pub fn command(
        &mut self,
        reqs: &mut dyn RequestSet,
        sink: &mut dyn ResponseSink,
        wait: impl Into<Wait>,
    ) -> Status {
        let wait = wait.into();
        self.dispatch(reqs, sink, wait, wait != Wait::NoWait)
    }

    /// `command` without waiting, for a caller that collects the answers with later `io`
    /// calls (a face's fetch): runs of quiet requests are closed now, so that their NOOP (in
    /// text, the get line's end) leaves in the same write as the requests instead of in a
    /// second one at the first `io`.
    pub fn command_then_fetch(
        &mut self,
        reqs: &mut dyn RequestSet,
        sink: &mut dyn ResponseSink,
    ) -> Status {
        self.dispatch(reqs, sink, Wait::NoWait, true)
    }

    fn dispatch(
        &mut self,
        reqs: &mut dyn RequestSet,
        sink: &mut dyn ResponseSink,
        wait: Wait,
        close_quiet: bool,
    ) -> Status {
        self.check_fork();
        // A relative wait becomes a deadline here, with the clock read that a single
        // request's own blocking receive can then do without.
        let (wait, within) = match wait {
            Wait::Within(d) => (wait.resolve(Instant::now()), Some(d)),
            w => (w, None),
        };
        // Every call looks at connections left idle, those that only queue too (noreply,
        // buffered writes, a face's fetch): a request queued on a connection the server
        // closed meanwhile would be lost (quiet) or fail its batch. One coarse clock read.
        self.idle_clock_ms = crate::sys::coarse_millis();
        let n = reqs.len();
        if self.conns.is_empty() {
            return Status::Failed(Failure::NoServers);
        }
        if n == 0 {
            return Status::Ok;
        }
        // Unpinned first: a server whose values the last call handed out is quiet once they
        // are released, and leaves the active set now rather than at the next call.
        self.refresh_active_if_stale();
        self.unpin_all();
        self.refresh_active();
        let (mut care, mut pending) = (false, false);
        for i in self.active.iter() {
            let c = &self.conns[i];
            care |= c.needs_failover_care();
            pending |= c.awaits_response();
        }
        if pending && !self.settings.buffering {
            // Requests of an earlier call still unanswered: a server whose dead timeout ran
            // out meanwhile is out of service before this call's requests are routed, so
            // that they go where the failover policy sends them (or fail as the server's
            // being out of service) instead of failing with a timeout they never waited for.
            // Not while buffering: each call only queues (answers of earlier ones are always
            // due), and the I/O that follows checks the timeouts before it waits.
            self.check_timeouts(Instant::now(), None, &mut Discard);
            care = self
                .active
                .iter()
                .any(|i| self.conns[i].needs_failover_care());
        }
        if care {
            self.advance_probes(Instant::now());
        }
        // A new batch: outcomes of the previous one not yet handed over are moot (also those
        // the two passes above decided: they must not be taken for this batch's), except the
        // losses of earlier calls' writes, told to this call's sink as answers of no request.
        if !self.reports.is_empty() {
            self.hand_over_unclaimed(sink);
            self.reports.clear();
        }
        let room = (self.conns.len() + n).saturating_mul(2) as u32;
        if u32::MAX - self.last_id <= room {
            self.log(
                log_level::INFO,
                format_args!("performing request id wraparound"),
            );
            self.last_id = 42;
        }
        let first = self.last_id.wrapping_add(1);
        self.last_id = self.last_id.wrapping_add(n as u32);
        self.batch.start(first, n);
        if pending {
            // Answers of earlier calls left unread are taken in first (handed to the sink as
            // answers of no request of this batch: OMcache's callback still sees them), so
            // that a connection the server closed behind them (a restart after a flush of
            // buffered writes) is replaced before this call's requests go on it.
            // One look per connection and clock tick (`idle_look_due`): a stream of calls
            // each queueing behind the same earlier answers (buffered sets behind a flush's
            // NOOP) would otherwise pay a system call per call and server. A connection whose
            // earlier call timed out is always looked at before it is replaced.
            let now_ms = self.idle_clock_ms;
            let mut k = 0;
            while k < self.active.len() {
                let server = self.active.get(k);
                k += 1;
                if self.conns[server].awaits_response() {
                    if !self.conns[server].stuck_behind_timeout()
                        && !self.conns[server].idle_look_due(now_ms, true)
                    {
                        continue;
                    }
                    self.take_in_earlier_answers(server, &*reqs, sink);
                    if !self.conns[server].awaits_response() {
                        self.close_if_gone_while_idle(server);
                    } else if self.conns[server].stuck_behind_timeout() {
                        // Answers a call that ran out of time gave up: this call's requests
                        // would wait behind them (a proxy answers in order).
                        if self.log_enabled(log_level::INFO) {
                            let addr = self.conns[server].addr().to_string();
                            self.log(
                                log_level::INFO,
                                format_args!("[{addr}] answers a timed-out call gave up still due: connecting again"),
                            );
                        }
                        self.conns[server].reconnect_after_timeout();
                    }
                }
            }
        }

        let mut failure = Status::Ok;
        self.touched.clear();
        self.unsolicited_checked = n > 1 && self.check_idle_connections(reqs, n);
        for i in 0..n {
            let opaque = first.wrapping_add(i as u32);
            let req = reqs.request(i);
            match self.enqueue(&req, opaque, Some((&*reqs, &mut *sink))) {
                Ok(server) => {
                    reqs.assigned(i, Some(server), opaque);
                    if !self.touched_flag[server] {
                        self.touched_flag[server] = true;
                        self.touched.push(server);
                    }
                }
                Err(status) => {
                    self.batch.complete(opaque);
                    sink.response(&Response::synthetic(status, req.parts.key), Some(i));
                    reqs.assigned(i, None, opaque);
                    failure = status;
                }
            }
        }
        self.unsolicited_checked = false;
        for t in 0..self.touched.len() {
            let server = self.touched[t];
            self.touched_flag[server] = false;
            if close_quiet && self.conns[server].ends_quiet() {
                // The answers will be waited for: close the run of quiet requests now, so
                // that the NOOP leaves in the same write as the requests.
                let id = self.next_id();
                self.conns[server].queue_noop(id, Origin::TrailingNoop);
            }
        }
        if n == 1 && wait != Wait::NoWait && !self.settings.buffering && failure == Status::Ok {
            if let Some(status) = self.finish_single(self.touched[0], &*reqs, sink, wait, within) {
                return status;
            }
        }
        if !self.settings.buffering {
            let now = Instant::now();
            for t in 0..self.touched.len() {
                let server = self.touched[t];
                self.kick(server, Some(&*reqs), sink, now);
            }
        }
        if wait == Wait::NoWait {
            return if failure == Status::Ok {
                Status::Buffered
            } else {
                failure
            };
        }
        match self.io_loop(Some(&*reqs), sink, wait) {
            IoOutcome::Done if failure != Status::Ok => failure,
            IoOutcome::Done => Status::Ok,
            // Not finished: the caller continues with `io`.
            IoOutcome::Again | IoOutcome::Paused => Status::Again,
        }
    }

    /// Encodes one request into its server's send buffer. `earlier`: the call's requests and
    /// sink, which answers of earlier calls taken in before the request is queued go to (None
    /// while a failed server's requests are moved: those answers wait for the next look).
    pub(super) fn enqueue(
        &mut self,
        req: &Request<'_>,
        opaque: u32,
        earlier: Option<(&dyn RequestSet, &mut dyn ResponseSink)>,
    ) -> Result<usize, Status> {
        let bad_key = match req.route {
            Route::Key => !valid_key(req.parts.key),
            Route::ByKey(k) => !valid_key(k) || !valid_key(req.parts.key),
            Route::Server(_) => false,
        };
        if bad_key || protocol::check_request(&req.parts).is_err() {
            return Err(Status::Failed(Failure::InvalidRequest));
        }
        let (server, home) = self.route_noting_home(req);
        let Some(server) = server else {
            return Err(Status::Failed(self.unroutable(home)));
        };
        self.activate(server);
        if self.idle_clock_ms != 0 {
            let now = self.idle_clock_ms;
            // Left idle a while: the server (its `idle_timeout`) or something between may
            // have closed it since. Looked at before this request is queued on it.
            // A write that is never answered, or any request behind writes queued but not
            // written yet (buffered), whose loss in a closed connection nobody would see.
            let op = req.parts.opcode;
            let unanswered_write = (protocol::is_quiet(op) && protocol::changes_value(op))
                || self.conns[server].has_unsent();
            if self.conns[server].idle_look_due(now, unanswered_write) {
                // Answers already there (the failures of quiet writes made without waiting, a
                // flush's answers) are taken in first, handed to the caller's sink (OMcache's
                // callback sees them): behind them the server may have closed the connection,
                // which would otherwise be found only when this request is lost in it.
                if let Some((reqs, sink)) = earlier {
                    self.take_in_earlier_answers(server, reqs, sink);
                }
                self.close_if_gone_while_idle(server);
            }
        }
        if self.settings.tls.is_some() && self.conns[server].fd().is_none() {
            // Before a connect (not per request): unusable settings fail at once.
            self.check_tls_config()?;
        }
        if let State::Dead { retry_at } = self.conns[server].state() {
            // Out of service, its keys not moved (the failover policy does not eject): fail at
            // once until the retry time, then this request tries it for real.
            if Instant::now() < retry_at {
                return Err(Status::Failed(Failure::ServerTemporarilyDisabled));
            }
            self.conns[server].revive();
        }
        if let Some(creds) = &self.settings.sasl {
            // memcached authenticates only over the binary protocol: sending unauthenticated
            // instead would bypass the credentials the caller asked for. Like libmemcached
            // 1.1.4 (whose tools run into it without --binary), the server is then out of
            // service until its retry time (or a protocol change); its keys do not move.
            if self.protocol != protocol::Protocol::Binary || !creds.is_valid() {
                let retry = self.settings.reconnect_timeout;
                let conn = &mut self.conns[server];
                if !conn.has_work() {
                    conn.reset();
                    conn.mark_dead(Instant::now() + retry, conn.is_ejected());
                }
                return Err(Status::Failed(Failure::SaslConfig));
            }
        }
        let send_max = self.settings.send_buffer_max;
        let parts = RequestParts {
            opaque,
            ..req.parts
        };
        let entry = InFlight {
            opaque,
            opcode: parts.opcode,
            quiet: protocol::is_quiet(parts.opcode),
            origin: Origin::User,
            keyed: req.route.is_keyed(),
            key_tag: if connection::returns_key(parts.opcode) {
                connection::key_tag(parts.key)
            } else {
                0
            },
        };
        if !self.unsolicited_checked && self.answer_may_lack_id(entry.opcode, entry.quiet) {
            self.close_if_unsolicited(server);
        }
        match self.conns[server].queue(&parts, entry, send_max) {
            Ok(()) => {
                // A write moved off its ejected server: that server is flushed before it
                // takes its keys back, and this copy deleted once it has (`Connection::
                // start_probe`, `Client::delete_copies_elsewhere`).
                if let Some(home) = home.filter(|&h| h != server) {
                    if protocol::changes_value(parts.opcode) {
                        let id = self.conns[server].server_id();
                        self.conns[home].note_written_elsewhere(id, parts.key);
                    }
                }
                Ok(server)
            }
            Err(QueueError::Invalid) => Err(Status::Failed(Failure::InvalidRequest)),
            Err(QueueError::Full) => {
                self.log(
                    log_level::WARNING,
                    format_args!("send buffer of server {server} full, request dropped"),
                );
                Err(Status::Failed(Failure::SendBufferFull))
            }
        }
    }

    /// Answers of earlier calls nobody waited for (writes flushed without waiting, a
    /// timed-out request's late answer) that have arrived: taken in now, after the new batch
    /// started (they answer none of its requests; the sink still sees them), so that the
    /// connection is seen for what it is: idle, or closed by the server behind them. One
    /// non-blocking look; nothing when no answer is due.
    fn take_in_earlier_answers(
        &mut self,
        server: usize,
        reqs: &dyn RequestSet,
        sink: &mut dyn ResponseSink,
    ) {
        let c = &self.conns[server];
        if c.state() != State::Connected {
            return;
        }
        // Behind quiet requests only, bytes (not an end of stream, which is left for the look
        // that closes the connection: a read would fail the server).
        let due = if c.awaits_response() {
            c.news_waiting()
        } else {
            c.quiet_answers_waiting()
        };
        if due {
            self.read_server(server, None, Some(reqs), sink);
        }
    }

    /// Logs that a connection the server closed before it was used was replaced.
    pub(super) fn log_replaced_unused(&mut self, server: usize) {
        if self.log_enabled(log_level::INFO) {
            let addr = self.conns[server].addr().to_string();
            self.log(
                log_level::INFO,
                format_args!("[{addr}] closed by the server before it was used (restarted?): connecting again, the queued requests kept"),
            );
        }
    }

    /// Closes a connection the server closed while it was idle; the next request connects
    /// afresh.
    pub(super) fn close_if_gone_while_idle(&mut self, server: usize) {
        if self.conns[server].close_if_gone_while_idle() {
            let addr = self.conns[server].addr().to_string();
            self.log(
                log_level::INFO,
                format_args!(
                    "[{addr}] closed by the server while idle: the request goes on a new connection"
                ),
            );
        }
    }

    /// Why a request found no server. Its key's server out of service while others take
    /// keys: a distribution that does not move keys (modula, random) left it there, and it is
    /// that server's failure, as libmemcached 1.1.4 reports it (SERVER_MARKED_DEAD), not a
    /// lack of servers.
    #[cold]
    fn unroutable(&self, home: Option<usize>) -> Failure {
        if home.is_some() && self.conns.iter().any(|c| c.takes_keys()) {
            Failure::ServerDead
        } else {
            Failure::NoServers
        }
    }

    /// Whether a request's answer can be taken from bytes a server sent before it was asked:
    /// every text answer (matched in order), and over meta the answers that carry no id —
    /// the `MN` ending quiet gets, and the text commands' (version, stats, flush_all,
    /// verbosity). Other meta answers and every binary one carry their request's id (and,
    /// for keyed requests, its key).
    #[inline]
    fn answer_may_lack_id(&self, opcode: u8, quiet: bool) -> bool {
        match self.protocol {
            protocol::Protocol::Text => true,
            protocol::Protocol::Binary => false,
            protocol::Protocol::Meta => {
                quiet
                    || opcode == protocol::opcode::NOOP
                    || connection::meta_answered_in_text(opcode)
            }
        }
    }

    /// Text and meta protocols: closes the connection of `server` if the server sent bytes
    /// while no answer was due (see `Connection::close_if_unsolicited`), so that they cannot
    /// be taken for the answer of the request about to be queued.
    fn close_if_unsolicited(&mut self, server: usize) {
        if self.conns[server].close_if_unsolicited() && self.log_enabled(log_level::WARNING) {
            let addr = self.conns[server].addr().to_string();
            self.log(
                log_level::WARNING,
                format_args!("[{addr}] bytes (or the end of its TLS session) from the server while no answer was due: connection closed, the request goes on a new one"),
            );
        }
    }

    /// Before a batch of `n` requests: looks at every idle plaintext text (or, for a
    /// multi-get, meta) connection for bytes nobody asked for with one `poll` instead of one
    /// `recv(MSG_PEEK)` per server as its first request is queued (a 100-key get over 4
    /// servers: 1 system call instead of 4). Only a connection poll reports readable is
    /// peeked, then closed if bytes (not an end of stream) wait. Returns whether the look was
    /// done; not over TLS, not when a server list much longer than the batch would make the
    /// scan cost more than the peeks it saves, and not when one connection at most is to be
    /// looked at.
    fn check_idle_connections(&mut self, reqs: &dyn RequestSet, n: usize) -> bool {
        // TLS connections are looked at through their sessions, one by one (unix sockets
        // stay plain beside them). A meta batch needs the look when it is a multi-get (quiet
        // gets closed by `mn`).
        if self.protocol == protocol::Protocol::Binary
            || self.settings.tls.is_some()
            || self.conns.len() > 2 * n
        {
            return false;
        }
        let first = reqs.request(0).parts.opcode;
        if !self.answer_may_lack_id(first, protocol::is_quiet(first)) {
            return false;
        }
        self.pollfds.clear();
        self.poll_conns.clear();
        for (server, conn) in self.conns.iter().enumerate() {
            if let Some(fd) = conn.unsolicited_check_fd() {
                self.pollfds.push(sys::PollFd {
                    fd,
                    events: sys::POLLIN,
                    revents: 0,
                });
                self.poll_conns.push(server);
            }
        }
        if self.pollfds.len() < 2 {
            return false;
        }
        match sys::poll(&mut self.pollfds, Some(Duration::ZERO)) {
            Ok(0) => return true,
            Ok(_) => {}
            // Each connection is then looked at as its first request is queued.
            Err(_) => return false,
        }
        for p in 0..self.pollfds.len() {
            if self.pollfds[p].revents != 0 {
                self.close_if_unsolicited(self.poll_conns[p]);
            }
        }
        true
    }

    /// Connects a server if needed and writes what it has queued, without blocking.
    pub(super) fn kick(
        &mut self,
        server: usize,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
        now: Instant,
    ) {
        let conn = &mut self.conns[server];
        if conn.state() == State::Idle {
            let timeout = self.settings.connect_timeout;
            match conn.start_connect(now, timeout) {
                Ok(ConnectStart::Connected) => {
                    if !self.connected(server, reqs, sink) {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let msg = format!("connect failed: {e}");
                    self.server_failed(server, &msg, connect_failure(&e), reqs, sink);
                    return;
                }
            }
        }
        let conn = &mut self.conns[server];
        if matches!(conn.state(), State::Connecting { .. }) && conn.connect_finished() {
            // A call that does not wait finishes a connect an earlier call started, so that
            // its requests (and those before it) are written now: left for the next call
            // that waits, they went on a connection the server may have closed meanwhile.
            match conn.finish_connect(now) {
                Ok(true) => {
                    if !self.connected(server, reqs, sink) {
                        return;
                    }
                }
                Ok(false) => {
                    self.log_replaced_unused(server);
                    return;
                }
                Err(e) => {
                    let msg = format!("connect failed: {e}");
                    self.server_failed(server, &msg, connect_failure(&e), reqs, sink);
                    return;
                }
            }
        }
        let conn = &mut self.conns[server];
        if conn.state() == State::Connected {
            if let Err(e) = conn.flush(Some(now)) {
                let msg = format!("write failed: {e}");
                let failure = self.io_failure(server);
                self.server_failed(server, &msg, failure, reqs, sink);
            }
        }
    }

    /// The TLS settings can be used (their files read and parsed): else requests fail at
    /// once, nothing sent, and the reason is logged.
    fn check_tls_config(&mut self) -> Result<(), Status> {
        match self.tls.config(self.settings.tls.as_ref()) {
            Ok(_) => Ok(()),
            Err(why) => {
                self.log(log_level::ERR, format_args!("{why}"));
                Err(Status::Failed(Failure::Tls(super::TlsFailure::Config)))
            }
        }
    }

    /// The failure behind an I/O error on a server's connection: TLS's reason if TLS gave
    /// one, else a reset connection.
    pub(super) fn io_failure(&mut self, server: usize) -> Failure {
        self.conns[server]
            .take_tls_failure()
            .map_or(Failure::ConnectionReset, Failure::Tls)
    }

    /// A connection has just been established: with TLS, its handshake starts (due within
    /// the connect timeout); with SASL credentials, the authentication goes ahead of
    /// everything queued on it, due within the connect timeout too. False when TLS cannot
    /// start (the server has been failed with the reason).
    pub(super) fn connected(
        &mut self,
        server: usize,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) -> bool {
        if self.log_enabled(log_level::INFO) {
            let addr = self.conns[server].addr().to_string();
            self.log(log_level::INFO, format_args!("[{addr}] connected"));
        }
        let addr = self.conns[server].addr().to_string();
        match self.tls.config_for(self.settings.tls.as_ref(), &addr) {
            Ok(None) => {}
            Ok(Some(config)) => {
                let deadline = Instant::now() + self.settings.connect_timeout;
                let name = self
                    .settings
                    .tls
                    .as_ref()
                    .and_then(|t| t.server_name.clone());
                if let Err(why) = self.conns[server].start_tls(config, name.as_deref(), deadline) {
                    let failure = Failure::Tls(super::TlsFailure::Config);
                    self.server_failed(server, &why, failure, reqs, sink);
                    return false;
                }
            }
            Err(why) => {
                let failure = Failure::Tls(super::TlsFailure::Config);
                self.server_failed(server, &why, failure, reqs, sink);
                return false;
            }
        }
        if let Some(creds) = &self.settings.sasl {
            let deadline = Instant::now() + self.settings.connect_timeout;
            let message = creds.plain_message();
            self.conns[server].queue_auth_first(super::sasl::MECHANISM, &message, deadline);
        }
        true
    }

    /// The common case of one request to one idle, connected server while nothing else is
    /// going on: one send() and a blocking recv() on that socket, without the poll loop.
    /// Returns None when the general path must take over (nothing has been lost: the
    /// request is queued as usual).
    fn finish_single(
        &mut self,
        server: usize,
        reqs: &dyn RequestSet,
        sink: &mut dyn ResponseSink,
        wait: Wait,
        within: Option<Duration>,
    ) -> Option<Status> {
        // Only the active servers can be anything but idle. A server out of service with
        // nothing queued needs nothing from this call (its probe, if due, was started above
        // by `advance_probes`): one dead server must not send every request the long way.
        let others_idle = self.active.iter().all(|i| {
            let c = &self.conns[i];
            i == server
                || (!c.is_probing()
                    && matches!(
                        c.state(),
                        State::Idle | State::Connected | State::Dead { .. }
                    )
                    && !c.has_work())
        });
        let conn = &mut self.conns[server];
        if !others_idle
            || conn.state() != State::Connected
            // The request, and in text its get line's END marker.
            || conn.inflight_len() > 2
            || conn.ends_quiet()
            || conn.is_discarding()
        {
            return None;
        }
        // No clock read unless the answer is late: the dead-timeout timer is started after
        // the wait, from before it (`backdate_dead_timer`).
        match conn.flush(None) {
            Ok(true) => {}
            _ => return None,
        }
        let dead_timeout = self.settings.dead_timeout;
        let block = match (wait, within) {
            (Wait::Forever, _) => dead_timeout,
            // Resolved moments ago, in `dispatch`: all of it is left.
            (_, Some(d)) => d.min(dead_timeout),
            _ => wait
                .remaining(Instant::now())
                .map_or(dead_timeout, |r| r.min(dead_timeout)),
        };
        let max = self.settings.recv_buffer_max;
        let budget = self.settings.retire_budget();
        match self.conns[server].receive(max, budget, Some(block)) {
            Ok(Received::Bytes(_)) => {
                self.process_input(server, Some(reqs), sink);
                if self.batch.remaining() == 0 {
                    return Some(Status::Ok);
                }
            }
            Ok(Received::NoRoom) => return Some(Status::Again),
            Ok(Received::WouldBlock) => self.conns[server].backdate_dead_timer(Instant::now()),
            Err(e) => {
                let msg = format!("read failed: {e}");
                let failure = self.io_failure(server);
                self.server_failed(server, &msg, failure, Some(reqs), sink);
                if self.batch.remaining() == 0 {
                    return Some(Status::Ok);
                }
            }
        }
        // Not finished by one receive (partial frame, signal, a wait the kernel cannot time
        // precisely): the general loop continues with what is left of the caller's time.
        Some(match self.io_loop(Some(reqs), sink, wait) {
            IoOutcome::Done => Status::Ok,
            IoOutcome::Again | IoOutcome::Paused => Status::Again,
        })
    }
}
