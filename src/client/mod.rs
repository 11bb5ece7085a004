//! The engine: settings, servers and their continuum, request dispatch, one `poll()` loop over
//! every server with pending work, response matching and delivery, logging.
//!
//! Requests come from a [`RequestSet`] (the caller's array, which stays alive for the whole
//! batch as OMcache's API requires) and responses go to a [`ResponseSink`], so the engine neither
//! copies keys nor allocates per request: each request is encoded straight into its server's
//! send buffer, and each response is handed out as slices of its server's receive buffer.

mod batch;
mod safe;
mod status;

use std::fmt;
use std::time::{Duration, Instant};

use crate::address::{parse_server_list, AddressError, ServerAddr};
use crate::connection::{
    ConnectStart, Connection, InFlight, InFlightQueue, Origin, Received, State,
};
use crate::ketama::{Continuum, Distribution, ServerName};
use crate::protocol::{self, opcode, Frame, Parsed, RequestParts, HEADER_LEN, MAX_KEY_LEN};
use crate::sys;

use batch::Batch;
pub use safe::{Item, Request as OwnedRequest, Response as OwnedResponse};
pub use status::Status;

/// The error type of the safe Rust API.
pub type Error = Status;

/// syslog priorities used for log messages.
pub mod log_level {
    pub const ERR: i32 = 3;
    pub const WARNING: i32 = 4;
    pub const NOTICE: i32 = 5;
    pub const INFO: i32 = 6;
    pub const DEBUG: i32 = 7;
}

/// A response body beyond this is not a memcached item (its largest item size is 1 GiB):
/// the stream is corrupt, and the connection is reset rather than skipped.
const MAX_SANE_BODY: u64 = (1 << 30) + (1 << 20);

/// How often a pending name resolution is checked while the caller waits.
const RESOLVER_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// A request as the engine sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    /// Explicit server, or -1 to choose by key.
    pub server_index: i32,
    pub parts: RequestParts<'a>,
}

/// The requests of a batch. Implemented over the C caller's `omcache_req_t` array by the FFI
/// and over owned requests by the safe API.
pub trait RequestSet {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn request(&self, i: usize) -> Request<'_>;
    /// Records where request `i` went and the opaque it was given.
    fn assigned(&mut self, i: usize, server_index: i32, opaque: u32);
}

/// A slice of engine requests as a request set.
pub struct Requests<'r, 'a>(pub &'r mut [Request<'a>]);

impl RequestSet for Requests<'_, '_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn request(&self, i: usize) -> Request<'_> {
        self.0[i]
    }

    fn assigned(&mut self, i: usize, server_index: i32, opaque: u32) {
        self.0[i].server_index = server_index;
        self.0[i].parts.opaque = opaque;
    }
}

/// One response, borrowed from a receive buffer (or synthesized by the engine).
#[derive(Clone, Copy, Debug)]
pub struct Response<'a> {
    pub status: Status,
    pub opcode: u8,
    pub key: &'a [u8],
    pub data: &'a [u8],
    pub flags: u32,
    pub cas: u64,
    /// New value of an increment/decrement.
    pub delta_value: u64,
}

impl<'a> Response<'a> {
    fn synthetic(status: Status, key: &'a [u8]) -> Response<'a> {
        Response {
            status,
            opcode: 0,
            key,
            data: &[],
            flags: 0,
            cas: 0,
            delta_value: 0,
        }
    }

    fn from_frame(f: &Frame<'a>) -> Response<'a> {
        let op = f.header.opcode;
        let status = Status::from_wire(f.header.status);
        let has_flags = matches!(
            op,
            opcode::GET
                | opcode::GETQ
                | opcode::GETK
                | opcode::GETKQ
                | opcode::GAT
                | opcode::GATQ
                | opcode::GATK
                | opcode::GATKQ
        );
        let is_delta = matches!(
            op,
            opcode::INCREMENT | opcode::DECREMENT | opcode::INCREMENTQ | opcode::DECREMENTQ
        );
        Response {
            status,
            opcode: op,
            key: f.key,
            data: f.value,
            flags: if has_flags && status == Status::Ok {
                f.flags()
            } else {
                0
            },
            cas: f.header.cas,
            delta_value: if is_delta && status == Status::Ok {
                f.counter().unwrap_or(0)
            } else {
                0
            },
        }
    }
}

/// Where responses go.
pub trait ResponseSink {
    /// Called for every response: batch members (`batch_index` = Some(i) when the caller
    /// passed the batch's requests), late answers, trailing NOOPs, synthesized failures.
    /// Returns true when the sink keeps pointers into `resp` after returning, which pins the
    /// receive buffer until the next call into the engine.
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool;
}

/// A sink that drops everything.
pub struct Discard;
impl ResponseSink for Discard {
    fn response(&mut self, _: &Response<'_>, _: Option<usize>) -> bool {
        false
    }
}

pub type LogFn = Box<dyn FnMut(i32, &str) + Send>;

/// Tunables, with OMcache's defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub reconnect_timeout: Duration,
    pub dead_timeout: Duration,
    pub send_buffer_max: usize,
    pub recv_buffer_max: usize,
    pub buffering: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            connect_timeout: Duration::from_millis(10_000),
            reconnect_timeout: Duration::from_millis(10_000),
            dead_timeout: Duration::from_millis(10_000),
            send_buffer_max: 10 * 1024 * 1024,
            recv_buffer_max: 1024 * (1024 + 32),
            buffering: false,
        }
    }
}

/// Result of one `io` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoOutcome {
    Done,
    Again,
}

pub struct Client {
    settings: Settings,
    conns: Vec<Connection>,
    dist: Distribution,
    continuum: Continuum,
    /// The last request id (opaque) issued. Starts at the current Unix time like OMcache's.
    last_id: u32,
    batch: Batch,
    log_fn: Option<LogFn>,
    log_threshold: i32,
    log_line: String,
    created: Instant,
    pollfds: Vec<sys::PollFd>,
    /// Index of the connection behind each entry of `pollfds`.
    poll_conns: Vec<usize>,
    /// Connections that received a request in the current dispatch.
    touched: Vec<usize>,
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field(
                "servers",
                &self
                    .conns
                    .iter()
                    .map(|c| c.addr.to_string())
                    .collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish()
    }
}

impl Client {
    pub fn new() -> Client {
        let now_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        Client {
            settings: Settings::default(),
            conns: Vec::new(),
            dist: Distribution::default(),
            continuum: Continuum::default(),
            last_id: now_secs,
            batch: Batch::default(),
            log_fn: None,
            log_threshold: 0,
            log_line: String::new(),
            created: Instant::now(),
            pollfds: Vec::new(),
            poll_conns: Vec::new(),
            touched: Vec::new(),
        }
    }

    // ----- settings -------------------------------------------------------------------------

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// The last request id issued (OMcache keeps it at offset 8 of its handle).
    pub fn last_request_id(&self) -> u32 {
        self.last_id
    }

    pub fn set_last_request_id(&mut self, id: u32) {
        self.last_id = id;
    }

    /// `level` is a syslog priority; 0 means everything but debug.
    pub fn set_log(&mut self, level: i32, f: Option<LogFn>) {
        self.log_threshold = if level == 0 { log_level::INFO } else { level };
        self.log_fn = f;
    }

    fn log_enabled(&self, level: i32) -> bool {
        self.log_fn.is_some() && level <= self.log_threshold
    }

    fn log(&mut self, level: i32, args: fmt::Arguments<'_>) {
        if !self.log_enabled(level) {
            return;
        }
        use fmt::Write;
        self.log_line.clear();
        let t = self.created.elapsed();
        let _ = write!(
            self.log_line,
            "[{}.{:03}] omcache: ",
            t.as_secs(),
            t.subsec_millis()
        );
        let _ = self.log_line.write_fmt(args);
        if let Some(f) = self.log_fn.as_mut() {
            f(level, &self.log_line);
        }
    }

    /// Replaces the server list. Servers still listed keep their connections and state; the
    /// continuum is rebuilt. A malformed list changes nothing.
    pub fn set_servers(&mut self, list: &str) -> Result<(), AddressError> {
        let parsed = match parse_server_list(list) {
            Ok(p) => p,
            Err(e) => {
                self.log(log_level::ERR, format_args!("set_servers: {e}"));
                return Err(e);
            }
        };
        let mut old: Vec<Option<Connection>> = std::mem::take(&mut self.conns)
            .into_iter()
            .map(Some)
            .collect();
        let mut conns = Vec::with_capacity(parsed.len());
        for addr in parsed {
            let reused = old
                .iter_mut()
                .find(|c| c.as_ref().is_some_and(|c| c.addr == addr))
                .and_then(Option::take);
            conns.push(reused.unwrap_or_else(|| Connection::new(addr)));
        }
        // Requests in flight on dropped servers will never be answered.
        for mut gone in old.into_iter().flatten() {
            while let Some(f) = gone.inflight.pop_front() {
                self.batch.complete(f.opaque);
            }
        }
        self.conns = conns;
        self.rebuild_continuum();
        Ok(())
    }

    pub fn set_distribution(&mut self, dist: Distribution) {
        self.dist = dist;
        self.rebuild_continuum();
    }

    fn rebuild_continuum(&mut self) {
        let names: Vec<ServerName<'_>> = self
            .conns
            .iter()
            .map(|c| ServerName {
                host: &c.addr.host,
                port: c.addr.port,
            })
            .collect();
        self.continuum = Continuum::build(&names, &self.dist);
    }

    pub fn server_count(&self) -> usize {
        self.conns.len()
    }

    pub fn server_addr(&self, index: usize) -> Option<&ServerAddr> {
        self.conns.get(index).map(|c| &c.addr)
    }

    /// The live server a key goes to now; None when there are no (live) servers.
    pub fn server_index_for_key(&self, key: &[u8]) -> Option<usize> {
        let conns = &self.conns;
        self.continuum
            .server_for_key_live(key, |i| is_usable(&conns[i]))
    }

    fn route(&self, req: &Request<'_>) -> Option<usize> {
        if req.server_index >= 0 {
            let i = req.server_index as usize;
            return self.conns.get(i).filter(|c| is_usable(c)).map(|_| i);
        }
        let conns = &self.conns;
        self.continuum
            .server_for_key_live(req.parts.key, |i| is_usable(&conns[i]))
    }

    // ----- dispatch -------------------------------------------------------------------------

    /// Queues `reqs` as a new batch (ids in array order), sends them unless buffering, and with
    /// a non-zero timeout runs I/O until every request is answered or time runs out.
    /// Returns OK when all are answered, BUFFERED (timeout 0), AGAIN (time ran out), or the
    /// error of a request that could not be sent (NO_SERVERS, BUFFER_FULL, INVALID) when
    /// nothing else went wrong.
    pub fn command(
        &mut self,
        reqs: &mut dyn RequestSet,
        sink: &mut dyn ResponseSink,
        timeout_ms: i32,
    ) -> Status {
        let n = reqs.len();
        if self.conns.is_empty() {
            return Status::NoServers;
        }
        if n == 0 {
            return Status::Ok;
        }
        self.unpin_all();
        if self
            .conns
            .iter()
            .any(|c| c.probing || matches!(c.state, State::Dead { .. }))
        {
            self.advance_probes(Instant::now());
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

        let mut failure = Status::Ok;
        self.touched.clear();
        for i in 0..n {
            let opaque = first.wrapping_add(i as u32);
            let req = reqs.request(i);
            let explicit_server = req.server_index;
            match self.enqueue(&req, opaque) {
                Ok(server) => {
                    reqs.assigned(i, server as i32, opaque);
                    let conn = &mut self.conns[server];
                    if !conn.touched {
                        conn.touched = true;
                        self.touched.push(server);
                    }
                }
                Err(status) => {
                    self.batch.complete(opaque);
                    sink.response(&Response::synthetic(status, req.parts.key), Some(i));
                    reqs.assigned(i, explicit_server, opaque);
                    failure = status;
                }
            }
        }
        for &server in &self.touched {
            let conn = &mut self.conns[server];
            conn.touched = false;
            if timeout_ms != 0 && conn.tail_quiet {
                // We will wait for the answers: close the run of quiet requests now, so that
                // the NOOP leaves in the same write as the requests.
                self.last_id = self.last_id.wrapping_add(1);
                conn.queue_noop(self.last_id, Origin::TrailingNoop);
            }
        }
        if n == 1 && timeout_ms != 0 && !self.settings.buffering && failure == Status::Ok {
            if let Some(status) = self.finish_single(self.touched[0], &*reqs, sink, timeout_ms) {
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
        if timeout_ms == 0 {
            return if failure == Status::Ok {
                Status::Buffered
            } else {
                failure
            };
        }
        match self.io_loop(Some(&*reqs), sink, timeout_ms) {
            IoOutcome::Done if failure != Status::Ok => failure,
            IoOutcome::Done => Status::Ok,
            IoOutcome::Again => Status::Again,
        }
    }

    /// Encodes one request into its server's send buffer.
    fn enqueue(&mut self, req: &Request<'_>, opaque: u32) -> Result<usize, Status> {
        if protocol::check_request(&req.parts).is_err()
            || (req.server_index < 0 && !valid_key(req.parts.key))
        {
            return Err(Status::Invalid);
        }
        let server = self.route(req).ok_or(Status::NoServers)?;
        let send_max = self.settings.send_buffer_max;
        let conn = &mut self.conns[server];
        let parts = RequestParts {
            opaque,
            ..req.parts
        };
        if conn.unsent_len() + parts.wire_len() > send_max {
            self.log(
                log_level::WARNING,
                format_args!("send buffer of server {server} full, request dropped"),
            );
            return Err(Status::BufferFull);
        }
        if conn.inflight.is_empty() && !conn.has_unsent() {
            // An idle connection's dead-timeout timer restarts with this request (without
            // reading the clock here: the I/O loop starts it).
            conn.last_progress = None;
        }
        // Cannot fail: checked above.
        let _ = protocol::encode_request(&mut conn.out, &parts);
        let quiet = protocol::is_quiet(parts.opcode);
        conn.inflight.push(InFlight {
            opaque,
            quiet,
            origin: Origin::User,
            keyed: req.server_index < 0,
        });
        conn.tail_quiet = quiet;
        Ok(server)
    }

    /// Connects a server if needed and writes what it has queued, without blocking.
    fn kick(
        &mut self,
        server: usize,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
        now: Instant,
    ) {
        let conn = &mut self.conns[server];
        if needs_connect(conn.state) {
            let timeout = self.settings.connect_timeout;
            match conn.start_connect(now, timeout) {
                Ok(ConnectStart::Connected) => self.log_connected(server),
                Ok(_) => {}
                Err(e) => {
                    let msg = format!("connect failed: {e}");
                    self.server_failed(server, &msg, true, reqs, sink);
                    return;
                }
            }
        }
        let conn = &mut self.conns[server];
        if conn.state == State::Connected {
            if let Err(e) = conn.flush(now) {
                let msg = format!("write failed: {e}");
                self.server_failed(server, &msg, false, reqs, sink);
            }
        }
    }

    fn log_connected(&mut self, server: usize) {
        if self.log_enabled(log_level::INFO) {
            let addr = self.conns[server].addr.to_string();
            self.log(log_level::INFO, format_args!("[{addr}] connected"));
        }
    }

    /// Starts a background reconnect ("probe") to every dead server whose reconnect_timeout
    /// has passed: connect, then a NOOP whose answer brings the server back. Until then its
    /// keys stay with the servers that took them over.
    fn start_due_probes(&mut self, now: Instant) {
        for server in 0..self.conns.len() {
            let conn = &mut self.conns[server];
            let State::Dead { retry_at } = conn.state else {
                continue;
            };
            if now < retry_at {
                continue;
            }
            let timeout = self.settings.connect_timeout;
            let retry = self.settings.reconnect_timeout;
            conn.state = State::Idle;
            match conn.start_connect(now, timeout) {
                Ok(_) => {
                    conn.probing = true;
                    self.last_id = self.last_id.wrapping_add(1);
                    conn.queue_noop(self.last_id, Origin::Probe);
                    if conn.state == State::Connected {
                        let _ = conn.flush(now);
                    }
                    let addr = conn.addr.to_string();
                    self.log(
                        log_level::INFO,
                        format_args!("[{addr}] retrying dead server"),
                    );
                }
                Err(e) => {
                    conn.state = State::Dead {
                        retry_at: now + retry,
                    };
                    let addr = conn.addr.to_string();
                    self.log(
                        log_level::INFO,
                        format_args!("[{addr}] still down ({e}); next retry in {retry:?}"),
                    );
                }
            }
        }
    }

    /// One non-blocking pass over servers being probed, so that a probe progresses even when
    /// every request goes elsewhere (or nowhere: all servers dead).
    fn advance_probes(&mut self, now: Instant) {
        self.start_due_probes(now);
        if !self.conns.iter().any(|c| c.probing) {
            return;
        }
        self.prepare(now, None, &mut Discard);
        self.build_pollfds();
        let mut i = 0;
        while i < self.pollfds.len() {
            if self.conns[self.poll_conns[i]].probing {
                i += 1;
            } else {
                self.pollfds.swap_remove(i);
                self.poll_conns.swap_remove(i);
            }
        }
        if self.pollfds.is_empty() || !matches!(sys::poll(&mut self.pollfds, 0), Ok(n) if n > 0) {
            self.check_timeouts(now, None, &mut Discard);
            return;
        }
        for p in 0..self.pollfds.len() {
            let (revents, server) = (self.pollfds[p].revents, self.poll_conns[p]);
            if revents != 0 {
                self.service(server, revents, now, None, &mut Discard);
            }
        }
        self.check_timeouts(Instant::now(), None, &mut Discard);
    }

    /// Resets a server's connection and completes every request queued or in flight on it with
    /// SERVER_FAILURE. `dead` keeps the server out of use for reconnect_timeout.
    fn server_failed(
        &mut self,
        server: usize,
        reason: &str,
        dead: bool,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) {
        let now = Instant::now();
        let retry = self.settings.reconnect_timeout;
        let addr = self.conns[server].addr.to_string();
        let conn = &mut self.conns[server];
        // Without an established connection no byte of the queued requests has left.
        let nothing_sent = conn.state != State::Connected;
        conn.reset();
        conn.failures = conn.failures.saturating_add(1);
        // A probe that fails, or a second failure without an answer in between, makes the
        // server dead too: a closed connection gets one immediate reconnect, not a loop.
        let dead = dead || conn.probing || conn.failures >= 2;
        conn.probing = false;
        if dead {
            conn.state = State::Dead {
                retry_at: now + retry,
            };
            conn.forget_addresses();
        }
        let (mut failed, mut moved) = (0usize, 0usize);
        while let Some(f) = self.conns[server].inflight.pop_front() {
            if f.origin != Origin::User {
                continue;
            }
            let Some(i) = self.batch.index_of(f.opaque) else {
                continue;
            };
            let mut status = Status::ServerFailure;
            if let (true, true, true, Some(r)) = (dead, nothing_sent, f.keyed, reqs) {
                // Never sent, and the key's server is gone: it goes to the key's next server,
                // exactly as a request made now would.
                // (The request set already records the dead server as its target.)
                let request = Request {
                    server_index: -1,
                    ..r.request(i)
                };
                match self.enqueue(&request, f.opaque) {
                    Ok(_) => {
                        moved += 1;
                        continue;
                    }
                    Err(e) => status = e,
                }
            }
            self.batch.complete(f.opaque);
            failed += 1;
            let key = reqs.map(|r| r.request(i).parts.key).unwrap_or(&[]);
            sink.response(&Response::synthetic(status, key), reqs.map(|_| i));
        }
        let level = if dead {
            log_level::NOTICE
        } else {
            log_level::INFO
        };
        let what = if dead {
            "server disabled"
        } else {
            "reconnecting"
        };
        self.log(
            level,
            format_args!("[{addr}] {reason}; {what}, {failed} request(s) failed, {moved} moved to other servers"),
        );
        if !dead {
            // One immediate reconnect; if it is refused or times out the server is dead.
            self.kick(server, reqs, sink, now);
        }
    }

    /// Values handed out by an earlier call are no longer valid: let buffers move again.
    fn unpin_all(&mut self) {
        for c in &mut self.conns {
            c.recv.pinned = false;
        }
    }

    /// Drops every queued and partially received byte and forgets the current batch.
    pub fn reset_buffers(&mut self) {
        for c in &mut self.conns {
            let connected = c.state == State::Connected;
            let had_bytes = c.recv.start != c.recv.end || c.has_unsent() || !c.inflight.is_empty();
            c.out.clear();
            c.out_pos = 0;
            c.recv.clear();
            c.inflight.clear();
            c.tail_quiet = false;
            // Answers to requests already sent would arrive unexpected; start afresh.
            if connected && had_bytes {
                c.reset();
            }
        }
        self.batch.clear();
    }

    // ----- I/O ------------------------------------------------------------------------------

    /// Runs I/O. With `reqs` (the current batch's requests) it waits until every one of them
    /// is answered, storing their responses through `sink`; without, until nothing remains to
    /// send and no answer is awaited. Timeout: 0 = one non-blocking pass, < 0 = no limit,
    /// > 0 = at most that many milliseconds.
    pub fn io(
        &mut self,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
        timeout_ms: i32,
    ) -> IoOutcome {
        self.unpin_all();
        self.io_loop(reqs, sink, timeout_ms)
    }

    /// The I/O loop of `io`, without unpinning: values already handed out in this call stay
    /// valid.
    fn io_loop(
        &mut self,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
        timeout_ms: i32,
    ) -> IoOutcome {
        let start = Instant::now();
        let deadline = (timeout_ms > 0).then(|| start + Duration::from_millis(timeout_ms as u64));
        let wait_batch = reqs.is_some();
        loop {
            let now = Instant::now();
            self.prepare(now, reqs, sink);
            if self.finished(wait_batch) {
                return IoOutcome::Done;
            }
            self.build_pollfds();
            let resolving = self
                .conns
                .iter()
                .any(|c| matches!(c.state, State::Resolving { .. }));
            if self.pollfds.is_empty() && !resolving {
                // Nothing can make progress (every remaining request failed or was dropped).
                return IoOutcome::Done;
            }
            let remaining_ms = match deadline {
                Some(d) => d
                    .saturating_duration_since(now)
                    .as_millis()
                    .min(i32::MAX as u128) as i32,
                None if timeout_ms == 0 => 0,
                None => -1,
            };
            let mut wait_ms = self.poll_timeout(now, remaining_ms);

            // Fast path: one server, nothing to send, only an answer to wait for: block in
            // recv() itself. One system call instead of poll() + recv().
            if self.pollfds.len() == 1
                && self.pollfds[0].events == sys::POLLIN
                && wait_ms != 0
                && !resolving
            {
                let server = self.poll_conns[0];
                if wait_ms < 0 {
                    wait_ms = self
                        .settings
                        .dead_timeout
                        .as_millis()
                        .clamp(1, u32::MAX as u128) as i32;
                }
                let no_room = self.read_server(server, wait_ms as u32, reqs, sink);
                if no_room {
                    return IoOutcome::Again;
                }
            } else {
                if let Err(e) = sys::poll(&mut self.pollfds, wait_ms) {
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
                    no_room |= self.service(server, revents, now, reqs, sink);
                }
                if no_room {
                    return IoOutcome::Again;
                }
            }
            self.check_timeouts(Instant::now(), reqs, sink);
            if self.finished(wait_batch) {
                return IoOutcome::Done;
            }
            if timeout_ms == 0 {
                return IoOutcome::Again;
            }
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return IoOutcome::Again;
                }
            }
        }
    }

    fn finished(&self, wait_batch: bool) -> bool {
        if wait_batch {
            self.batch.remaining() == 0
        } else {
            self.conns
                .iter()
                .all(|c| !c.has_unsent() && !c.awaits_response())
        }
    }

    /// Before each pass: close runs of quiet requests with a NOOP, start connects for servers
    /// with work, fail servers whose retry time has not come.
    fn prepare(
        &mut self,
        now: Instant,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) {
        self.start_due_probes(now);
        for server in 0..self.conns.len() {
            let conn = &mut self.conns[server];
            if conn.tail_quiet {
                self.last_id = self.last_id.wrapping_add(1);
                conn.queue_noop(self.last_id, Origin::TrailingNoop);
            }
            let conn = &mut self.conns[server];
            let has_work = conn.has_unsent() || !conn.inflight.is_empty();
            match conn.state {
                State::Resolving { deadline } => {
                    let timeout = self.settings.connect_timeout;
                    match conn.poll_resolver(now, timeout) {
                        None if now >= deadline => self.server_failed(
                            server,
                            "name resolution timed out",
                            true,
                            reqs,
                            sink,
                        ),
                        None => {}
                        Some(Ok(ConnectStart::Connected)) => {
                            self.log_connected(server);
                            self.kick(server, reqs, sink, now);
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            let msg = format!("cannot connect: {e}");
                            self.server_failed(server, &msg, true, reqs, sink);
                        }
                    }
                }
                state if has_work && needs_connect(state) => self.kick(server, reqs, sink, now),
                State::Dead { .. } if has_work => {
                    self.server_failed(server, "server is disabled", true, reqs, sink)
                }
                _ => {}
            }
        }
    }

    fn build_pollfds(&mut self) {
        self.pollfds.clear();
        self.poll_conns.clear();
        for (i, c) in self.conns.iter().enumerate() {
            let Some(fd) = c.fd() else { continue };
            let events = match c.state {
                State::Connecting { .. } => sys::POLLOUT,
                State::Connected => {
                    let mut ev = 0;
                    if c.has_unsent() {
                        ev |= sys::POLLOUT;
                    }
                    if c.awaits_response() || c.recv.discard > 0 {
                        ev |= sys::POLLIN;
                    }
                    ev
                }
                _ => 0,
            };
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
    /// deadlines and the dead timeout are checked when they fall due.
    fn poll_timeout(&self, now: Instant, remaining_ms: i32) -> i32 {
        let mut cap = self.settings.dead_timeout;
        for c in &self.conns {
            match c.state {
                State::Connecting { deadline } => {
                    cap = cap.min(deadline.saturating_duration_since(now));
                }
                // A resolver thread has no descriptor to poll: look again soon.
                State::Resolving { .. } => cap = cap.min(RESOLVER_POLL_INTERVAL),
                _ => {}
            }
        }
        let cap_ms = cap.as_millis().clamp(1, i32::MAX as u128) as i32;
        if remaining_ms < 0 {
            cap_ms
        } else {
            remaining_ms.min(cap_ms)
        }
    }

    /// Handles poll events for one server. Returns true when its receive buffer is pinned and
    /// full (the caller must consume values before more can be read).
    fn service(
        &mut self,
        server: usize,
        revents: i16,
        now: Instant,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) -> bool {
        if let State::Connecting { .. } = self.conns[server].state {
            match self.conns[server].finish_connect() {
                Ok(()) => {
                    let addr = self.conns[server].addr.to_string();
                    self.log(log_level::INFO, format_args!("[{addr}] connected"));
                }
                Err(e) => {
                    let msg = format!("connect failed: {e}");
                    self.server_failed(server, &msg, true, reqs, sink);
                    return false;
                }
            }
        }
        if revents & (sys::POLLOUT | sys::POLLERR | sys::POLLHUP) != 0
            && self.conns[server].has_unsent()
        {
            if let Err(e) = self.conns[server].flush(now) {
                let msg = format!("write failed: {e}");
                self.server_failed(server, &msg, false, reqs, sink);
                return false;
            }
        }
        if revents & (sys::POLLIN | sys::POLLERR | sys::POLLHUP) != 0 {
            return self.read_server(server, 0, reqs, sink);
        }
        false
    }

    /// Receives once (blocking up to `wait_ms` if > 0) and processes every complete frame.
    /// Returns true when the buffer is pinned and full.
    fn read_server(
        &mut self,
        server: usize,
        wait_ms: u32,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) -> bool {
        match self.receive_and_process(server, wait_ms, reqs, sink) {
            Received::NoRoom => true,
            Received::Bytes(_) => {
                self.conns[server].last_progress = Some(Instant::now());
                false
            }
            _ => false,
        }
    }

    /// One receive and the processing of what it brought; a failed receive fails the server.
    fn receive_and_process(
        &mut self,
        server: usize,
        wait_ms: u32,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) -> Received {
        let need = self.frame_need(server);
        let max = self.settings.recv_buffer_max;
        match self.conns[server].receive(need, max, wait_ms) {
            Ok(Received::Bytes(n)) => {
                self.process_input(server, reqs, sink);
                Received::Bytes(n)
            }
            Ok(other) => other,
            Err(e) => {
                let msg = format!("read failed: {e}");
                self.server_failed(server, &msg, false, reqs, sink);
                Received::WouldBlock
            }
        }
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
        timeout_ms: i32,
    ) -> Option<Status> {
        let others_idle = self.conns.iter().enumerate().all(|(i, c)| {
            i == server
                || (!c.probing
                    && matches!(c.state, State::Idle | State::Connected)
                    && c.inflight.is_empty()
                    && !c.has_unsent())
        });
        let conn = &mut self.conns[server];
        if !others_idle
            || conn.state != State::Connected
            || conn.inflight.len() != 1
            || conn.tail_quiet
            || conn.recv.discard > 0
        {
            return None;
        }
        let fd = conn.fd()?;
        match sys::send(fd, &conn.out[conn.out_pos..], true) {
            Ok(n) if n == conn.unsent_len() => {
                conn.out.clear();
                conn.out_pos = 0;
            }
            Ok(n) => {
                conn.out_pos += n;
                return None;
            }
            Err(_) => return None,
        }
        let dead_ms = self
            .settings
            .dead_timeout
            .as_millis()
            .clamp(1, u32::MAX as u128) as u32;
        let (wait_ms, start) = if timeout_ms > 0 {
            ((timeout_ms as u32).min(dead_ms), Some(Instant::now()))
        } else {
            (dead_ms, None)
        };
        match self.receive_and_process(server, wait_ms, Some(reqs), sink) {
            _ if self.batch.remaining() == 0 => return Some(Status::Ok),
            Received::TimedOut if wait_ms == dead_ms => {
                // Silent for dead_timeout with a request outstanding: the server is dead.
                self.server_failed(
                    server,
                    "no answer within dead timeout",
                    true,
                    Some(reqs),
                    sink,
                );
                return Some(Status::Ok);
            }
            Received::NoRoom => return Some(Status::Again),
            _ => {}
        }
        // Not finished by one receive (partial frame, signal, caller's timeout): the general
        // loop continues with what is left of the caller's time.
        let now = Instant::now();
        self.conns[server].last_progress = Some(now);
        let left = match start {
            Some(s) => {
                let spent = now.saturating_duration_since(s).as_millis() as i64;
                let left = timeout_ms as i64 - spent;
                if left <= 0 {
                    return Some(Status::Again);
                }
                left as i32
            }
            None => -1,
        };
        Some(match self.io_loop(Some(reqs), sink, left) {
            IoOutcome::Done => Status::Ok,
            IoOutcome::Again => Status::Again,
        })
    }

    /// Total bytes needed to complete the frame at the head of a server's receive buffer.
    fn frame_need(&self, server: usize) -> usize {
        let pending = self.conns[server].recv.pending();
        if pending.len() < HEADER_LEN {
            return HEADER_LEN;
        }
        match protocol::parse_header(pending) {
            Ok(h) => h.frame_len(),
            Err(_) => HEADER_LEN,
        }
    }

    /// Parses and delivers every complete frame in a server's receive buffer.
    fn process_input(
        &mut self,
        server: usize,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) {
        let recv_max = self.settings.recv_buffer_max;
        loop {
            let conn = &mut self.conns[server];
            conn.recv.skip_discarded();
            if conn.recv.discard > 0 {
                return;
            }
            let Connection {
                recv,
                inflight,
                failures,
                probing,
                ..
            } = conn;
            let parsed = protocol::parse_response(recv.pending());
            match parsed {
                Err(e) => {
                    let msg = format!("protocol error: {e:?}");
                    self.server_failed(server, &msg, false, reqs, sink);
                    return;
                }
                Ok(Parsed::Need(need)) => {
                    if need <= recv_max || recv.pending().len() < HEADER_LEN {
                        return;
                    }
                    // Too large for the receive buffer: answer its request with BUFFER_FULL and
                    // skip its bytes; the connection and other requests are unaffected.
                    let Ok(header) = protocol::parse_header(recv.pending()) else {
                        return;
                    };
                    if header.body_len as u64 > MAX_SANE_BODY {
                        let msg = format!("impossible body length {}", header.body_len);
                        self.server_failed(server, &msg, false, reqs, sink);
                        return;
                    }
                    let have = recv.pending().len();
                    recv.discard = (need - have) as u64;
                    recv.consume(have);
                    let resp = Response::synthetic(Status::BufferFull, &[]);
                    let resp = Response {
                        opcode: header.opcode,
                        cas: header.cas,
                        ..resp
                    };
                    deliver(
                        &mut self.batch,
                        inflight,
                        header.opaque,
                        &resp,
                        false,
                        reqs,
                        sink,
                    );
                    continue;
                }
                Ok(Parsed::Frame(frame)) => {
                    let len = frame.header.frame_len();
                    *failures = 0;
                    let resp = Response::from_frame(&frame);
                    let stat_row = frame.header.opcode == opcode::STAT
                        && resp.status == Status::Ok
                        && !frame.key.is_empty();
                    let delivered = deliver(
                        &mut self.batch,
                        inflight,
                        frame.header.opaque,
                        &resp,
                        stat_row,
                        reqs,
                        sink,
                    );
                    recv.consume(len);
                    match delivered {
                        Delivered::Pinned(true) => recv.pinned = true,
                        Delivered::Pinned(false) => {}
                        Delivered::ProbeAnswered => {
                            *probing = false;
                            let addr = self.conns[server].addr.to_string();
                            self.log(
                                log_level::NOTICE,
                                format_args!("[{addr}] answered again; server re-enabled"),
                            );
                        }
                    }
                }
            }
        }
    }

    /// Connect deadlines and the dead timeout.
    fn check_timeouts(
        &mut self,
        now: Instant,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) {
        let dead_timeout = self.settings.dead_timeout;
        for server in 0..self.conns.len() {
            let c = &mut self.conns[server];
            let busy = c.has_unsent() || c.awaits_response();
            if c.state == State::Connected && busy && c.last_progress.is_none() {
                // Work arrived on an idle connection: its timer starts now.
                c.last_progress = Some(now);
            }
            match c.state {
                State::Connecting { deadline } if now >= deadline => {
                    self.server_failed(server, "connect timed out", true, reqs, sink);
                }
                State::Connected
                    if busy
                        && c.last_progress
                            .is_some_and(|t| now.saturating_duration_since(t) >= dead_timeout) =>
                {
                    // No progress for dead_timeout: the server is dead at once (the project's
                    // decision; OMcache 0.3 needed a second timeout).
                    self.server_failed(server, "no answer within dead timeout", true, reqs, sink);
                }
                _ => {}
            }
        }
    }

    /// The descriptors an external event loop should poll, and how long it may wait before
    /// calling `io` again. Starts connects and queues trailing NOOPs like an I/O pass would.
    pub fn poll_fds(&mut self) -> (&mut [sys::PollFd], i32) {
        let now = Instant::now();
        self.prepare(now, None, &mut Discard);
        self.build_pollfds();
        let timeout = self.poll_timeout(now, -1);
        (&mut self.pollfds, timeout)
    }

    /// Requests of the current batch still unanswered.
    pub fn batch_remaining(&self) -> usize {
        self.batch.remaining()
    }

    pub fn log_stale_batch(&mut self) {
        self.log(
            log_level::ERR,
            format_args!("io called with requests that are not the current batch"),
        );
    }

    /// True if `reqs` is the current batch: its first and last opaque match (OMcache's check).
    pub fn is_current_batch(&self, first_opaque: u32, last_opaque: u32, len: usize) -> bool {
        self.batch.matches(first_opaque, last_opaque, len)
    }
}

/// Whether a server has no connection and may try to get one now.
fn needs_connect(state: State) -> bool {
    // A dead server is reconnected by a background probe, never by a caller's request.
    state == State::Idle
}

/// Whether a server may be given requests: not dead, and not waiting for a probe's answer.
fn is_usable(c: &Connection) -> bool {
    !c.probing && !matches!(c.state, State::Dead { .. })
}

/// Matches a response to the requests in flight on its connection and hands it to the sink.
/// Quiet requests sent before the answered one are complete without an answer (a miss, or a
/// success). A response whose opaque is not in flight is a late answer: sink only. Returns
/// whether the sink kept pointers into the response.
fn deliver(
    batch: &mut Batch,
    inflight: &mut InFlightQueue,
    opaque: u32,
    resp: &Response<'_>,
    keep_in_flight: bool,
    reqs: Option<&dyn RequestSet>,
    sink: &mut dyn ResponseSink,
) -> Delivered {
    let Some(pos) = inflight.position(opaque) else {
        return Delivered::Pinned(sink.response(resp, None));
    };
    for _ in 0..pos {
        let Some(front) = inflight.pop_front() else {
            break;
        };
        if front.origin != Origin::User {
            continue;
        }
        if let Some(i) = batch.complete(front.opaque) {
            if !front.quiet {
                // memcached answers every non-quiet request in order; a skipped one was lost.
                let key = reqs.map(|r| r.request(i).parts.key).unwrap_or(&[]);
                sink.response(
                    &Response::synthetic(Status::ServerFailure, key),
                    reqs.map(|_| i),
                );
            }
        }
    }
    let entry = if keep_in_flight {
        inflight.front().copied()
    } else {
        inflight.pop_front()
    };
    let Some(entry) = entry else {
        return Delivered::Pinned(false);
    };
    if entry.origin == Origin::Probe {
        // Internal: the answer that brings a dead server back. Not the caller's business.
        return Delivered::ProbeAnswered;
    }
    let index = if entry.origin == Origin::User {
        if keep_in_flight {
            batch.index_of(opaque)
        } else {
            batch.complete(opaque)
        }
    } else {
        None
    };
    Delivered::Pinned(sink.response(resp, index.filter(|_| reqs.is_some())))
}

/// What `deliver` did with a response.
enum Delivered {
    /// Handed to the sink; true if the sink kept pointers into the receive buffer.
    Pinned(bool),
    /// It answered a probe of a dead server.
    ProbeAnswered,
}

/// Checks a key for the key-routed convenience commands.
pub fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN
}
