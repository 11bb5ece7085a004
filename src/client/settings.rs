//! The engine's tunables, and how long a caller waits.

use std::time::{Duration, Instant};

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

impl Settings {
    /// Receive memory that may be kept alive within one call for values already handed out
    /// (a pinned buffer that must make room is set aside, not moved). Beyond it a call returns
    /// `Again` and the caller continues after using its values.
    pub fn retire_budget(&self) -> usize {
        self.recv_buffer_max.saturating_mul(4).max(8 << 20)
    }
}

/// How long a call may wait for the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Never block: queue, write what the sockets take, read what has arrived.
    NoWait,
    /// Until this instant at most.
    Until(Instant),
    /// Until done or failed.
    Forever,
}

impl Wait {
    /// OMcache's convention: 0 never blocks, negative blocks, positive is milliseconds.
    pub fn from_millis(ms: i32) -> Wait {
        match ms {
            0 => Wait::NoWait,
            ms if ms < 0 => Wait::Forever,
            ms => Wait::Until(Instant::now() + Duration::from_millis(ms as u64)),
        }
    }

    pub fn after(d: Duration) -> Wait {
        Wait::Until(Instant::now() + d)
    }

    pub fn deadline(self) -> Option<Instant> {
        match self {
            Wait::Until(d) => Some(d),
            _ => None,
        }
    }

    /// The time left: None for `Forever`, zero for `NoWait` or a deadline passed.
    pub fn remaining(self, now: Instant) -> Option<Duration> {
        match self {
            Wait::NoWait => Some(Duration::ZERO),
            Wait::Until(d) => Some(d.saturating_duration_since(now)),
            Wait::Forever => None,
        }
    }

    pub fn expired(self, now: Instant) -> bool {
        match self {
            Wait::NoWait => true,
            Wait::Until(d) => now >= d,
            Wait::Forever => false,
        }
    }
}

impl From<i32> for Wait {
    fn from(ms: i32) -> Wait {
        Wait::from_millis(ms)
    }
}
