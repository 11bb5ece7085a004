//! The engine's tunables, and how long a caller waits.

use std::time::{Duration, Instant};

use super::sasl::SaslCredentials;
use super::tls::TlsSettings;

/// Tunables, with OMcache's defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long a connect (including name resolution) may take before the server is dead.
    pub connect_timeout: Duration,
    /// How long a dead server stays out of use before a background reconnect is tried.
    pub reconnect_timeout: Duration,
    /// A connection with work that makes no progress for this long (measured from its oldest
    /// unanswered request, across calls) is dead.
    pub dead_timeout: Duration,
    /// Unsent bytes one server may hold; a request beyond it fails with `BufferFull`.
    pub send_buffer_max: usize,
    /// The largest response frame kept; larger ones complete their request with `BufferFull`.
    pub recv_buffer_max: usize,
    /// Requests are only queued until an explicit flush (`io`).
    pub buffering: bool,
    /// What failures do to a server and its keys.
    pub failover: FailoverPolicy,
    /// SASL PLAIN credentials: every connection opened from now on authenticates with them
    /// before anything else is sent (see [`SaslCredentials`]). Needs the binary protocol:
    /// with another, requests fail with `Failure::SaslConfig`. Connections already open
    /// keep the identity they authenticated with (as libmemcached's do).
    pub sasl: Option<SaslCredentials>,
    /// TLS on every connection to a TCP server opened from now on (see [`TlsSettings`]):
    /// the handshake runs right after the connect, within `connect_timeout`, before anything
    /// else is sent; a failure is `Failure::Tls`, never plaintext. None: plaintext. Unix
    /// sockets are never wrapped.
    pub tls: Option<TlsSettings>,
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
            failover: FailoverPolicy::omcache(),
            sasl: None,
            tls: None,
        }
    }
}

impl Settings {
    /// Receive memory that may be kept alive within one call for values already handed out
    /// (a pinned buffer that must make room is set aside, not moved). Beyond it a call returns
    /// `Again` and the caller continues after using its values.
    pub fn retire_budget(&self) -> usize {
        self.recv_buffer_max.saturating_mul(4).max(8 << 20)
    }
}

/// What failures do to a server, as data: OMcache's rules and libmemcached's behaviors
/// (SERVER_FAILURE_LIMIT, RETRY_TIMEOUT, DEAD_TIMEOUT, AUTO_EJECT_HOSTS / REMOVE_FAILED_SERVERS)
/// are two values of it.
///
/// A server that fails is *out of service* until its retry time (`Settings::reconnect_timeout`
/// after the failure; `ejected_retry_timeout` once ejected). While out of service but not
/// ejected, its keys stay with it and requests for them fail at once ("temporarily
/// disabled"); the first request after the retry time tries it for real. Once *ejected*, its
/// keys go to the next live server on the ring (no rebuild: every other key stays), and it is
/// retried in the background (connect + NOOP) and takes its keys back when it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailoverPolicy {
    /// Closes or resets of an established connection (without an answer in between) that are
    /// reconnected at once, before the server counts as out of service. A refused or
    /// timed-out connect, an unresolvable name, and no progress for `dead_timeout` always put
    /// it out of service.
    pub immediate_reconnects: u32,
    /// After such a close: true reconnects at once, in the same call (OMcache); false leaves
    /// the connection closed until a request needs it (libmemcached), so that a server
    /// restarted meanwhile is found rather than refused.
    pub reconnect_at_once: bool,
    /// Ejected after this many failures without an answer in between; None: never (keys
    /// never move).
    pub eject_after: Option<u32>,
    /// How long an ejected server waits before its background retry; None: `reconnect_timeout`.
    pub ejected_retry_timeout: Option<Duration>,
    /// A call that runs out of time gives up the answers still due (libmemcached: its caller
    /// never sees them): the next call, after taking in what has arrived, closes a connection
    /// still waiting for them and goes on a new one instead of queuing behind them (1.1.4
    /// closes it at the timeout). Behind a proxy, which answers in order, one stuck backend
    /// would otherwise hold the keys of every other. The dead timer then runs only while a
    /// call waits, and what it ran carries over to the new connection: a silent server is
    /// out of service once calls have waited `dead_timeout` on it in all without progress,
    /// however far apart they come. False (OMcache): the requests stay in flight for a
    /// later `io` to finish, and the timer runs across calls.
    pub reconnect_after_timeout: bool,
}

impl FailoverPolicy {
    /// OMcache's rules: one immediate reconnect after a close; any other failure ejects the
    /// server at once; retried after reconnect_timeout.
    pub const fn omcache() -> FailoverPolicy {
        FailoverPolicy {
            immediate_reconnects: 1,
            reconnect_at_once: true,
            eject_after: Some(1),
            ejected_retry_timeout: None,
            reconnect_after_timeout: false,
        }
    }

    /// libmemcached 1.1.4's behaviors: a close or reset of an established connection is
    /// reconnected by the next request (a memcached restarted meanwhile answers it at once),
    /// and so is one left waiting for answers a timed-out call gave up;
    /// any other failure (that reconnect refused included) puts the server out of service
    /// for RETRY_TIMEOUT; with AUTO_EJECT_HOSTS (or REMOVE_FAILED_SERVERS) it is ejected after
    /// SERVER_FAILURE_LIMIT failures and — unlike libmemcached, which never brings it back
    /// when DEAD_TIMEOUT is 0 — retried after DEAD_TIMEOUT (or RETRY_TIMEOUT) in the
    /// background until it answers.
    pub fn libmemcached(
        auto_eject: bool,
        failure_limit: u32,
        dead_timeout: Option<Duration>,
    ) -> FailoverPolicy {
        FailoverPolicy {
            // With a failure limit of 1 the first close already ejects the server.
            immediate_reconnects: if auto_eject && failure_limit <= 1 {
                0
            } else {
                1
            },
            reconnect_at_once: false,
            eject_after: auto_eject.then_some(failure_limit.max(1)),
            ejected_retry_timeout: dead_timeout.filter(|d| !d.is_zero()),
            reconnect_after_timeout: true,
        }
    }
}

impl Default for FailoverPolicy {
    fn default() -> FailoverPolicy {
        FailoverPolicy::omcache()
    }
}

/// How long a call may wait for the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Never block: queue, write what the sockets take, read what has arrived.
    NoWait,
    /// Until this instant at most.
    Until(Instant),
    /// At most this long from the start of the engine call it is given to (each call
    /// counts anew). The engine reads the clock once for it where a caller's `after` and the
    /// engine's own check would read it twice: a single request's wait then costs one clock
    /// read.
    Within(Duration),
    /// Until done or failed.
    Forever,
}

impl Wait {
    /// OMcache's convention: 0 never blocks, negative blocks, positive is milliseconds (from
    /// the start of the call it is given to).
    pub fn from_millis(ms: i32) -> Wait {
        match ms {
            0 => Wait::NoWait,
            ms if ms < 0 => Wait::Forever,
            ms => Wait::Within(Duration::from_millis(ms as u64)),
        }
    }

    /// `Within` as a deadline from `now`; the others as they are.
    pub(crate) fn resolve(self, now: Instant) -> Wait {
        match self {
            Wait::Within(d) => now.checked_add(d).map_or(Wait::Forever, Wait::Until),
            other => other,
        }
    }

    pub fn after(d: Duration) -> Wait {
        Wait::Until(Instant::now() + d)
    }

    /// The deadline (`Within` counted from `Instant::now()`).
    pub fn deadline(self) -> Option<Instant> {
        match self.resolve(Instant::now()) {
            Wait::Until(d) => Some(d),
            _ => None,
        }
    }

    /// The time left: None for `Forever`, zero for `NoWait` or a deadline passed (`Within`:
    /// all of it, the call starting at `now`).
    pub fn remaining(self, now: Instant) -> Option<Duration> {
        match self {
            Wait::NoWait => Some(Duration::ZERO),
            Wait::Until(d) => Some(d.saturating_duration_since(now)),
            Wait::Within(d) => Some(d),
            Wait::Forever => None,
        }
    }

    pub fn expired(self, now: Instant) -> bool {
        match self {
            Wait::NoWait => true,
            Wait::Until(d) => now >= d,
            Wait::Within(d) => d.is_zero(),
            Wait::Forever => false,
        }
    }
}

impl From<i32> for Wait {
    fn from(ms: i32) -> Wait {
        Wait::from_millis(ms)
    }
}
