//! The engine: settings, servers and their continuum, request dispatch, one `poll()` loop over
//! every server with pending work, response matching and delivery, failover, logging.
//!
//! Requests come from a [`RequestSet`] (the caller's array, which stays alive for the whole
//! batch as OMcache's API requires) and responses go to a [`ResponseSink`], so the engine neither
//! copies keys nor allocates per request: each request is encoded straight into its server's
//! send buffer, and each response is handed out as slices of its server's receive buffer.
//!
//! Modules, one concern each: `settings` (tunables, waits), `servers` (the list, continuum,
//! routing), `dispatch` (a batch into the connections), `io` (the poll loop), `deliver`
//! (connection events into sinks), `failover` (dead servers, probes, timeouts), `status`,
//! `batch`, `safe` (the Rust API).

mod active;
mod batch;
mod deliver;
mod dispatch;
mod dump;
mod failover;
mod io;
mod replicas;
mod safe;
mod sasl;
mod servers;
mod settings;
mod status;
mod tls;
mod trim;

use std::fmt;
use std::time::Instant;

use crate::connection::Connection;
use crate::ketama::{Continuum, Distribution};
use crate::protocol::{Answer, Protocol, RequestParts, MAX_KEY_LEN};
use crate::sys;

use batch::Batch;
use deliver::Report;
pub use dump::{
    DumpError, DumpMethod, DumpOptions, DumpReport, DumpedKey, DumpedKeys, OwnedDumpedKey,
    ServerDump,
};
pub use replicas::{replica_copied, ReplicaAnswer, ReplicaAnswers, ReplicaScratch, Unreached};
pub use safe::{Item, Request as OwnedRequest, Response as OwnedResponse};
pub use sasl::SaslCredentials;
pub use servers::Server;
pub use settings::FailoverPolicy;
pub use settings::{Settings, Wait};
pub use status::{Failure, Status};
pub use tls::{ClientCertificate, TlsFailure, TlsSettings, SYSTEM_CA_FILE};

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

/// Where a request goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Route<'a> {
    /// To the live server of its own (wire) key.
    #[default]
    Key,
    /// To the live server of another key: libmemcached's `*_by_key` group key, or the key
    /// without its namespace prefix when the namespace is not hashed.
    ByKey(&'a [u8]),
    /// To this server (by index in the server list), whatever its key.
    Server(usize),
}

impl Route<'_> {
    /// OMcache's convention: a negative index routes by key.
    pub fn from_index(index: i32) -> Route<'static> {
        usize::try_from(index).map_or(Route::Key, Route::Server)
    }

    /// Routed by a key (so it may move to the key's next server).
    pub fn is_keyed(&self) -> bool {
        !matches!(self, Route::Server(_))
    }
}

/// A request as the engine sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    pub route: Route<'a>,
    pub parts: RequestParts<'a>,
}

impl<'a> Request<'a> {
    /// Routed by its own key.
    pub fn keyed(parts: RequestParts<'a>) -> Request<'a> {
        Request {
            route: Route::Key,
            parts,
        }
    }

    /// To one server.
    pub fn to_server(server: usize, parts: RequestParts<'a>) -> Request<'a> {
        Request {
            route: Route::Server(server),
            parts,
        }
    }

    /// The key that chooses its server, if routed by key.
    pub fn routing_key(&self) -> Option<&'a [u8]> {
        match self.route {
            Route::Key => Some(self.parts.key),
            Route::ByKey(k) => Some(k),
            Route::Server(_) => None,
        }
    }
}

/// The requests of a batch. Implemented over the C caller's `omcache_req_t` array by the FFI
/// and over owned requests by the safe API.
pub trait RequestSet {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn request(&self, i: usize) -> Request<'_>;
    /// Records the opaque request `i` was given and the server it went to (None: it could not
    /// be sent).
    fn assigned(&mut self, i: usize, server: Option<usize>, opaque: u32);
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

    fn assigned(&mut self, i: usize, _server: Option<usize>, opaque: u32) {
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
    /// The server's own words for a text or meta error line (empty otherwise).
    pub message: &'a [u8],
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
            message: &[],
        }
    }

    fn from_answer(a: &Answer<'a>) -> Response<'a> {
        Response {
            status: Status::from_wire(a.status),
            opcode: a.opcode,
            key: a.key,
            data: a.value,
            flags: a.flags,
            cas: a.cas,
            delta_value: a.counter.unwrap_or(0),
            message: a.message,
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

    /// Checked after each response: true stops delivery for now (the rest stays buffered and
    /// is delivered by the next `io`), for callers that take one response at a time
    /// (libmemcached's lazy `memcached_fetch`).
    fn paused(&self) -> bool {
        false
    }

    /// Checked before the engine would wait for more input: true ends the call once the
    /// answers already received are delivered, for a caller that has taken something to hand
    /// out and would rather return than block (the libmemcached face's fetch, which takes
    /// every buffered answer in one call and hands them out one at a time).
    fn satisfied(&self) -> bool {
        false
    }
}

/// A sink that drops everything.
pub struct Discard;
impl ResponseSink for Discard {
    fn response(&mut self, _: &Response<'_>, _: Option<usize>) -> bool {
        false
    }
}

pub type LogFn = Box<dyn FnMut(i32, &str) + Send>;

/// Result of one `io` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoOutcome {
    Done,
    /// Time ran out (or handed-out values must be consumed first).
    Again,
    /// The sink paused delivery; call `io` again to continue.
    Paused,
}

/// Log messages through the caller's callback, with the time since the client was created.
struct Logger {
    f: Option<LogFn>,
    threshold: i32,
    line: String,
    created: Instant,
}

impl Logger {
    fn enabled(&self, level: i32) -> bool {
        self.f.is_some() && level <= self.threshold
    }

    fn log(&mut self, level: i32, args: fmt::Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        use fmt::Write;
        self.line.clear();
        let t = self.created.elapsed();
        let _ = write!(
            self.line,
            "[{}.{:03}] omcache: ",
            t.as_secs(),
            t.subsec_millis()
        );
        let _ = self.line.write_fmt(args);
        if let Some(f) = self.f.as_mut() {
            f(level, &self.line);
        }
    }
}

pub struct Client {
    settings: Settings,
    conns: Vec<Connection>,
    /// Servers that left the list with a failure state (out of service, due for a flush),
    /// closed, most recent last: one that comes back into the list takes it up again
    /// (`Client::replace_servers`), so that emptying and refilling a list (libmemcached's
    /// `memcached_servers_reset` then `server_push`) cannot put a stale server back in
    /// service unflushed.
    departed: Vec<Connection>,
    /// Every server address this client has had in its list; a server's id is its place
    /// here (`Connection::server_id`).
    server_ids: Vec<crate::address::ServerAddr>,
    /// `server_ids` inverted: a list of 10,000 servers finds each one's id without a scan.
    server_id_index: std::collections::HashMap<crate::address::ServerAddr, usize>,
    /// The protocol every connection speaks.
    protocol: Protocol,
    /// Whether text gets ask for CAS uniques (see `set_text_cas`).
    text_cas: bool,
    /// Server failures so far, and the last one's reason: a call whose requests belong to
    /// no batch (`send_queued`) learns from them that a server failed during it.
    failures_seen: u64,
    last_failure: Option<Failure>,
    /// The weight of each server, beside `conns`.
    weights: Vec<u32>,
    dist: Distribution,
    continuum: Continuum,
    /// The last request id (opaque) issued. Starts at the current Unix time like OMcache's.
    last_id: u32,
    batch: Batch,
    /// Outcomes of batch members decided while the caller's request set was not at hand
    /// (an `io` without requests, `poll_fds`, a probe pass); handed over at the next `io`
    /// that continues the batch.
    reports: Vec<Report>,
    logger: Logger,
    pollfds: Vec<sys::PollFd>,
    /// Index of the connection behind each entry of `pollfds`.
    poll_conns: Vec<usize>,
    /// Connections that received a request in the current dispatch, and a flag per connection.
    touched: Vec<usize>,
    touched_flag: Vec<bool>,
    /// Set while a dispatch queues requests after one `poll` has looked at every idle text
    /// connection for bytes nobody asked for (dispatch.rs): `enqueue` then skips its own
    /// look, one system call per server.
    unsolicited_checked: bool,
    /// The coarse clock (`sys::coarse_millis`) read at the start of the current call: what
    /// `Connection::idle_look_due` compares, without a clock read per request.
    idle_clock_ms: u64,
    /// The servers that may need attention this call (active.rs).
    active: active::ActiveSet,
    /// Connections holding receive memory kept for big values (trim.rs).
    holding: trim::Holding,
    /// The process's fork generation when this client last looked (see `check_fork`).
    fork_seen: u64,
    /// The rustls configuration built from `settings.tls`, shared by every connection (its
    /// session store lets reconnects resume).
    tls: tls::TlsCache,
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
                    .map(|c| c.addr().to_string())
                    .collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish()
    }
}

impl Client {
    /// A client with no servers. Opens no socket and starts no thread: that happens at the
    /// first I/O (so a client made before `fork()` works in the child).
    pub fn new() -> Client {
        let now_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        Client {
            settings: Settings::default(),
            conns: Vec::new(),
            departed: Vec::new(),
            server_ids: Vec::new(),
            server_id_index: std::collections::HashMap::new(),
            protocol: Protocol::Binary,
            text_cas: true,
            failures_seen: 0,
            last_failure: None,
            weights: Vec::new(),
            dist: Distribution::default(),
            continuum: Continuum::default(),
            last_id: now_secs,
            batch: Batch::default(),
            reports: Vec::new(),
            logger: Logger {
                f: None,
                threshold: 0,
                line: String::new(),
                created: Instant::now(),
            },
            pollfds: Vec::new(),
            poll_conns: Vec::new(),
            touched: Vec::new(),
            touched_flag: Vec::new(),
            unsolicited_checked: false,
            idle_clock_ms: 0,
            active: active::ActiveSet::default(),
            holding: trim::Holding::default(),
            // Also registers the fork handler, before any fork that matters.
            fork_seen: sys::fork_generation(),
            tls: tls::TlsCache::default(),
        }
    }

    /// In a forked child, the first call forgets the connections inherited from the parent
    /// (their sockets are shared with it: both would read each other's answers) and what
    /// the parent had queued or in flight; the child then connects afresh. A client made
    /// before `fork()` (PostgreSQL creates handles in the postmaster) works in the child.
    fn check_fork(&mut self) {
        let generation = sys::fork_generation();
        if generation != self.fork_seen {
            self.fork_seen = generation;
            let now = Instant::now();
            for c in &mut self.conns {
                c.forget_after_fork(now);
            }
            self.active.mark_stale();
            self.batch.clear();
            self.reports.clear();
        }
    }

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

    fn next_id(&mut self) -> u32 {
        self.last_id = self.last_id.wrapping_add(1);
        self.last_id
    }

    /// `level` is a syslog priority; 0 means everything but debug.
    pub fn set_log(&mut self, level: i32, f: Option<LogFn>) {
        self.logger.threshold = if level == 0 { log_level::INFO } else { level };
        self.logger.f = f;
    }

    fn log_enabled(&self, level: i32) -> bool {
        self.logger.enabled(level)
    }

    fn log(&mut self, level: i32, args: fmt::Arguments<'_>) {
        self.logger.log(level, args);
    }

    /// Logs an error found by a face (e.g. a server list it could not parse) through the same
    /// log callback as the engine's own messages.
    pub fn log_error(&mut self, args: fmt::Arguments<'_>) {
        self.logger.log(log_level::ERR, args);
    }

    /// Whether any server has requests unsent or unanswered (of any batch, or none: buffered
    /// requests written out by `send_queued`).
    pub fn has_outstanding(&self) -> bool {
        self.conns.iter().any(|c| c.has_work())
    }

    /// Lets the next calls queue `need` bytes for one server whatever `send_buffer_max` says
    /// (for a batch whose data is in the caller's memory already: a face's big value, a long
    /// mget); returns the limit to put back with `restore_send_limit` after the call.
    pub fn raise_send_limit(&mut self, need: usize) -> usize {
        let limit = self.settings.send_buffer_max;
        if need > limit {
            self.settings.send_buffer_max = need.saturating_add(limit);
        }
        limit
    }

    /// Puts back the limit `raise_send_limit` returned.
    pub fn restore_send_limit(&mut self, limit: usize) {
        self.settings.send_buffer_max = limit;
    }

    /// Whether a server in use has requests queued but not yet written (one still
    /// connecting, or one whose socket would not take them all).
    pub fn has_unsent(&self) -> bool {
        self.active.iter().any(|i| self.conns[i].has_unsent())
    }

    /// Whether a server in use has requests queued for it but is not connected yet (not
    /// started, resolving its name, or connecting): libmemcached's buffered writes connect
    /// before they return.
    pub fn connecting_with_unsent(&self) -> bool {
        self.active.iter().any(|i| {
            let c = &self.conns[i];
            c.has_unsent()
                && matches!(
                    c.state(),
                    crate::connection::State::Idle
                        | crate::connection::State::Connecting { .. }
                        | crate::connection::State::Resolving { .. }
                )
        })
    }

    /// Requests of the current batch still unanswered.
    pub fn batch_remaining(&self) -> usize {
        self.batch.remaining()
    }

    /// The caller gives up the current batch (libmemcached's `memcached_quit` in the middle
    /// of a fetch ends it): its outcomes not handed over yet are dropped, and the requests
    /// a server-list change failed are not reported.
    pub fn abandon_batch(&mut self) {
        self.batch.clear();
        self.reports.clear();
    }

    /// Changes whenever a batch starts or is dropped (a new command, a fork, a reset): answers
    /// a caller keeps from the current batch are stale once it differs.
    pub fn batch_generation(&self) -> u64 {
        self.batch.generation()
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

/// Checks a key for the key-routed convenience commands.
pub fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN
}
