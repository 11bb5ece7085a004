//! One server: its socket, the bytes not yet written, the bytes received but not yet parsed,
//! the requests in flight (in send order, matched by opaque), and its connection state.
//!
//! A connection does I/O, frames and matches responses, and reports what happened as events
//! ([`Event`]); it decides nothing about failures — that is the client's failover policy. Its
//! fields are private: the client queues requests through [`Connection::queue`], never writes
//! to the socket or the buffers itself.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol as IpProtocol, SockAddr, Socket, Type};

use crate::address::ServerAddr;
use crate::client::TlsFailure;
use crate::protocol::{self, Answer, ParseError, Protocol, RequestParts, HEADER_LEN};
use crate::sys;

/// Resolved addresses of a host name are reused for this long.
const ADDRESS_CACHE_TTL: Duration = Duration::from_secs(60);

/// Below this, a wait is not left to the socket's receive timeout (the kernel's timer wheel
/// rounds it up by up to 1/8 and to whole ticks): the caller polls with a precise timeout.
pub(crate) const MIN_KERNEL_RECV_WAIT: Duration = Duration::from_millis(20);

mod binary;
mod inflight;
mod meta;
mod quiet;
mod recv;
#[cfg(test)]
mod tests;
mod text;
mod tls;

use inflight::InFlightQueue;
pub use inflight::{key_tag, returns_key, InFlight, Origin};
pub(crate) use meta::answered_in_text as meta_answered_in_text;
use recv::RecvBuffer;
use tls::TlsSession;

/// Connection state. `Dead` is entered by the client's failover policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No socket; the next request connects.
    Idle,
    /// A host name is being resolved off the caller's path; connect when it answers, give up
    /// at `deadline`.
    Resolving {
        deadline: Instant,
    },
    /// A non-blocking connect is under way and must finish by `deadline`.
    Connecting {
        deadline: Instant,
    },
    Connected,
    /// Not used for requests until `retry_at`.
    Dead {
        retry_at: Instant,
    },
}

/// How a connect attempt started.
#[derive(Debug, PartialEq, Eq)]
pub enum ConnectStart {
    Connected,
    InProgress,
    Resolving,
}

/// What one receive call produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Bytes(usize),
    /// Nothing yet (a non-blocking receive, a signal, or a blocking wait that ended early).
    WouldBlock,
    /// The buffer is pinned and the memory kept for this call's values is spent: the caller
    /// must return the values it has before more can be read.
    NoRoom,
}

/// Why the bytes from a server cannot be trusted any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// Not a response frame (bad magic, data type, lengths, an impossible body length).
    Frame(ParseError),
    /// The answer to a key-returning request carries another key.
    KeyMismatch,
    /// Not a text-protocol answer.
    Text(crate::protocol::text::ParseError),
    /// Not a meta-protocol answer.
    Meta(crate::protocol::meta::ParseError),
    /// An answer that fits no request in flight (text answers come in order).
    Unexpected,
    /// An answer with its request's id, but not of its kind: another command's answer
    /// (binary opcode), or a counter's answer without a number.
    WrongAnswer,
}

/// What an ejected server must do before it takes its keys back.
#[derive(Debug, Default)]
pub(super) struct Revival {
    /// While it was out of service, a write for one of its keys went to another server: what
    /// it still holds for that key may be older. It is flushed before it takes its keys back
    /// (its probe is then a flush instead of a NOOP).
    written_elsewhere: bool,
    /// The probe in flight is a flush.
    probe_flushes: bool,
    /// A flush probe was refused (memcached -F): the server took its keys back unflushed.
    flush_refused: bool,
    /// The keys whose writes went elsewhere, and where.
    copies: CopiesElsewhere,
}

/// The most copies elsewhere a server keeps track of, and the most key bytes for them.
const MAX_COPIES: usize = 250_000;
const MAX_COPY_KEY_BYTES: usize = 16 << 20;

/// Keys of a server out of service whose writes went to another server, with that server (by
/// its id: `Connection::server_id`, stable across server-list changes).
/// Once it takes its keys back those copies are deleted there: were it to fail again, reads
/// of those keys would go back to the other server and find values older than its own.
/// The keys live end to end in one buffer (no allocation per write); a key written again to
/// the same server right after is kept once. Past the limits, the rest are counted, not kept.
#[derive(Debug, Default)]
pub struct CopiesElsewhere {
    keys: Vec<u8>,
    /// (server id, end of its key in `keys`).
    entries: Vec<(usize, usize)>,
    /// Copies not kept (over the limits).
    dropped: u64,
}

impl CopiesElsewhere {
    fn record(&mut self, server: usize, key: &[u8]) {
        if self.last() == Some((server, key)) {
            return;
        }
        if self.entries.len() >= MAX_COPIES || self.keys.len() + key.len() > MAX_COPY_KEY_BYTES {
            self.dropped += 1;
            return;
        }
        self.keys.extend_from_slice(key);
        self.entries.push((server, self.keys.len()));
    }

    fn last(&self) -> Option<(usize, &[u8])> {
        let n = self.entries.len();
        let &(server, end) = self.entries.last()?;
        let start = if n >= 2 { self.entries[n - 2].1 } else { 0 };
        Some((server, &self.keys[start..end]))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.dropped == 0
    }

    /// The copies kept: (server id, key).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[u8])> + '_ {
        let mut start = 0;
        self.entries.iter().map(move |&(server, end)| {
            let key = &self.keys[start..end];
            start = end;
            (server, key)
        })
    }

    pub fn kept(&self) -> usize {
        self.entries.len()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Revival {
    /// Its probe was answered (`ok`: with success). Returns whether the server stays out:
    /// writes for its keys went elsewhere since a probe that was not a flush left (the
    /// client then sends a flush probe at once). A refused flush is given up (and reported).
    pub(super) fn probe_answered(&mut self, ok: bool) -> bool {
        if std::mem::take(&mut self.probe_flushes) {
            self.written_elsewhere = false;
            self.flush_refused = !ok;
        }
        self.written_elsewhere
    }
}

/// What the bytes at the head of a connection's receive buffer are.
#[derive(Debug)]
pub enum Event<'a> {
    /// No complete frame yet.
    NeedMore,
    /// A request sent before the one answered next got no answer of its own: done if quiet
    /// (memcached answers a quiet request only when it fails, or a quiet get on a hit), lost
    /// otherwise. Reported one at a time, in order, before the answer.
    Unanswered(InFlight),
    /// The answer to the request at the head of the queue. `last` is false for the rows of a
    /// STAT answer (the request stays in flight until the terminating empty row).
    Answer {
        answer: Answer<'a>,
        entry: InFlight,
        last: bool,
    },
    /// A get that got no VALUE before its line's END (text protocol): a miss.
    Missed(InFlight),
    /// An answer to no request in flight (one already failed or abandoned).
    Late(Answer<'a>),
    /// A response larger than the receive limit; its bytes are skipped as they arrive.
    Oversized {
        opcode: u8,
        cas: u64,
        /// Its whole length on the wire.
        len: u64,
        entry: Option<InFlight>,
    },
    /// The stream is corrupt: the connection must be reset.
    Corrupt(Corruption),
}

pub struct Connection {
    addr: ServerAddr,
    socket: Option<Socket>,
    state: State,
    /// Encoded requests; `out[out_pos..]` is not written yet.
    out: Vec<u8>,
    out_pos: usize,
    recv: RecvBuffer,
    inflight: InFlightQueue,
    /// Requests at the head of `inflight` still to report as `Unanswered` before the answer
    /// that follows them.
    skip: usize,
    /// The protocol spoken, and (text) the get line being built.
    protocol: Protocol,
    text_run: Option<text::GetRun>,
    /// Text gets ask for the CAS unique (`gets`), or not (`get`: what libmemcached sends
    /// unless SUPPORT_CAS is on, and the server formats less per value).
    text_cas: bool,
    /// The last request queued was quiet: a NOOP must follow before its outcome is known.
    tail_quiet: bool,
    /// The dead-timeout timer: when this connection last made progress (bytes received, or a
    /// send that had been blocked went out) while it had work. None while idle: it starts
    /// with the first byte sent. Queuing more requests does not restart it, so a silent server
    /// is found dead one dead_timeout after its oldest unanswered request, across calls.
    progress_at: Option<Instant>,
    /// Under `reconnect_after_timeout`: how long calls that ran out of time have waited on
    /// this server without progress. Their callers gave the answers up, so the timer stops
    /// with them (time between calls, when nobody waits, does not count) and this much of the
    /// dead timeout is spent when it starts again, on this connection or the next one: a
    /// silent server is out of service once calls have waited dead_timeout on it in all,
    /// however they are spaced. Cleared by progress.
    silence_waited: Duration,
    /// A call ran out of time while answers were due here (noted only under a failover policy
    /// with `reconnect_after_timeout`); cleared when the connection goes idle.
    timed_out: bool,
    /// The last send could not write everything (the server is not reading).
    send_blocked: bool,
    /// The client's id for this server's address (stable while the client lives, whatever
    /// the list's order: what copies elsewhere name their server by).
    server_id: usize,
    /// When a request last looked whether the server closed this connection while it was
    /// idle (`idle_look_due`), in `sys::coarse_millis`.
    idle_looked_at: u64,
    /// The connect timeout of the connect under way (a connect the server closed before it
    /// was used is made again with it: `finish_connect`).
    connect_timeout: Duration,
    /// That connect replaces one the server closed before it was used: once only, until the
    /// connection is reset, so a server that closes every connection fails as it should.
    replaced_unused: bool,
    /// The receive timeout currently set on the socket (None: none).
    recv_timeout: Option<Duration>,
    /// How long the last receive could block in the kernel.
    last_block: Duration,
    /// Consecutive failures since the last answer (for the failover policy).
    failures: u32,
    /// A background reconnect to a dead server: not used for requests until its probe NOOP
    /// is answered.
    probing: bool,
    /// Out of service with its keys moved to other servers (the failover policy decided so);
    /// it takes them back when a probe is answered.
    ejected: bool,
    /// Whether it must be flushed before it takes its keys back.
    revival: Revival,
    /// Addresses of the host, and when they were resolved.
    cached_addrs: Option<(Instant, Vec<SocketAddr>)>,
    /// A resolution under way in a helper thread.
    resolver: Option<mpsc::Receiver<io::Result<Vec<SocketAddr>>>>,
    /// The SASL authentication opening this connection is unanswered; it must be answered
    /// by then. Meanwhile only its bytes (`out[..auth_end]`) may be sent: nothing of the
    /// caller's reaches a server that has not accepted the credentials.
    auth_deadline: Option<Instant>,
    auth_end: usize,
    /// The TLS session of a connection to a TCP server with TLS configured: every byte
    /// goes through it. While its handshake runs, nothing of `out` is sent. Boxed: a
    /// session is over 1 KB, two thirds of a connection without it, and most connections
    /// never have one (10,000 servers listed were 17 MB of connections, mostly this).
    tls: Option<Box<TlsSession>>,
    /// Why the last failed receive failed, when TLS said so (taken by the client).
    tls_failure: Option<TlsFailure>,
    /// Why TLS to this server last failed, until a handshake succeeds (kept for callers
    /// that ask after the fact: OMcache's `omcache_tls_error`).
    last_tls_failure: Option<TlsFailure>,
}

/// How often at most (milliseconds) a request looks whether the server closed an idle
/// connection (memcached's `idle_timeout` is whole seconds; proxies and firewalls wait minutes).
const IDLE_LOOK_AFTER_MS: u64 = 1000;

impl Connection {
    pub fn new(addr: ServerAddr, protocol: Protocol) -> Connection {
        Connection {
            protocol,
            text_run: None,
            text_cas: true,
            addr,
            socket: None,
            state: State::Idle,
            out: Vec::new(),
            out_pos: 0,
            recv: RecvBuffer::default(),
            inflight: InFlightQueue::default(),
            skip: 0,
            tail_quiet: false,
            progress_at: None,
            silence_waited: Duration::ZERO,
            timed_out: false,
            send_blocked: false,
            idle_looked_at: 0,
            connect_timeout: Duration::ZERO,
            replaced_unused: false,
            server_id: usize::MAX,
            recv_timeout: None,
            last_block: Duration::ZERO,
            failures: 0,
            probing: false,
            ejected: false,
            revival: Revival::default(),
            cached_addrs: None,
            resolver: None,
            auth_deadline: None,
            auth_end: 0,
            tls: None,
            tls_failure: None,
            last_tls_failure: None,
        }
    }

    pub fn addr(&self) -> &ServerAddr {
        &self.addr
    }

    pub fn server_id(&self) -> usize {
        self.server_id
    }

    pub fn set_server_id(&mut self, id: usize) {
        self.server_id = id;
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn fd(&self) -> Option<RawFd> {
        self.socket.as_ref().map(|s| s.as_raw_fd())
    }

    /// Not out of service and not waiting for a probe's answer: requests may be sent here.
    pub fn is_usable(&self) -> bool {
        !self.probing && !matches!(self.state, State::Dead { .. })
    }

    /// Its keys route here (not ejected).
    pub fn takes_keys(&self) -> bool {
        !self.ejected
    }

    pub fn is_ejected(&self) -> bool {
        self.ejected
    }

    pub fn is_probing(&self) -> bool {
        self.probing
    }

    /// Dead, or reconnecting in the background: the failover policy has work here.
    pub fn needs_failover_care(&self) -> bool {
        self.probing || matches!(self.state, State::Dead { .. })
    }

    /// Due for a flush before it takes its keys back (writes for its keys went elsewhere
    /// while it was out): what must not be forgotten if the server leaves the list and comes
    /// back into it. Only that: a server that merely failed (a TLS setting, a refused
    /// connect) comes back as new.
    pub fn has_failure_state(&self) -> bool {
        self.revival.written_elsewhere
    }

    // ----- requests -------------------------------------------------------------------------

    /// Encodes a request into the send buffer and records it in flight. Fails (queuing
    /// nothing) when the unsent bytes would exceed `send_max` or the request cannot be
    /// encoded.
    pub fn queue(
        &mut self,
        parts: &RequestParts<'_>,
        entry: InFlight,
        send_max: usize,
    ) -> Result<(), QueueError> {
        protocol::check_request(parts).map_err(|_| QueueError::Invalid)?;
        if (self.unsent_len() as u64).saturating_add(parts.wire_len()) > send_max as u64 {
            return Err(QueueError::Full);
        }
        if !self.has_unsent() && !self.awaits_response() {
            // The dead-timeout timer restarts with this request: it runs only while an
            // answer is due, and quiet requests already sent (noreply, buffered writes whose
            // run was closed) are never answered, so the time since they left says nothing
            // of the server (a noreply set followed seconds later by a get timed out at once).
            self.progress_at = None;
            self.timed_out = false;
        }
        match self.protocol {
            Protocol::Binary => {
                // Cannot fail: checked above.
                let _ = protocol::encode_request(&mut self.out, parts);
                self.inflight.push(entry);
                self.tail_quiet = entry.quiet;
                Ok(())
            }
            Protocol::Text => self.queue_text(parts, entry),
            Protocol::Meta => self.queue_meta(parts, entry),
        }
    }

    /// Queues a NOOP of the engine's own (its answer is always sent, so it also closes a run
    /// of quiet requests).
    pub fn queue_noop(&mut self, opaque: u32, origin: Origin) {
        let noop = RequestParts {
            opcode: protocol::opcode::NOOP,
            opaque,
            ..Default::default()
        };
        if !self.has_unsent() && !self.awaits_response() {
            self.progress_at = None;
        }
        match self.protocol {
            Protocol::Binary => {
                // A NOOP has no key, extras or value: encoding cannot fail.
                let _ = protocol::encode_request(&mut self.out, &noop);
            }
            Protocol::Text => {
                // A get line being built ends with its END: that answer closes the run.
                if origin == Origin::TrailingNoop && self.close_get_line() {
                    self.tail_quiet = false;
                    return;
                }
                self.close_get_line();
                protocol::text::encode_version(&mut self.out);
            }
            Protocol::Meta => protocol::meta::encode_noop(&mut self.out),
        }
        self.inflight.push(InFlight {
            opaque,
            opcode: protocol::opcode::NOOP,
            quiet: false,
            origin,
            keyed: false,
            key_tag: 0,
        });
        self.tail_quiet = false;
    }

    /// Puts a SASL AUTH request (binary protocol) ahead of everything queued on a connection
    /// that has just connected, so that nothing else leaves before it; its answer is due by
    /// `deadline`. `mechanism` goes as the key, `message` as the value.
    pub fn queue_auth_first(&mut self, mechanism: &[u8], message: &[u8], deadline: Instant) {
        // Nothing has been sent on a connection that has just connected; the check keeps a
        // misuse from splitting a request in two.
        if self.out_pos != 0 || self.protocol != Protocol::Binary {
            return;
        }
        // One below the first request queued: ids keep increasing along the queue.
        let opaque = self
            .inflight
            .front()
            .map_or(0, |f| f.opaque.wrapping_sub(1));
        let auth = RequestParts {
            opcode: protocol::opcode::SASL_AUTH,
            opaque,
            key: mechanism,
            value: message,
            ..Default::default()
        };
        let mut bytes = Vec::with_capacity(auth.wire_len() as usize);
        if protocol::encode_request(&mut bytes, &auth).is_err() {
            return;
        }
        self.auth_end = bytes.len();
        self.out.splice(0..0, bytes);
        self.inflight.push_front(InFlight {
            opaque,
            opcode: protocol::opcode::SASL_AUTH,
            quiet: false,
            origin: Origin::Auth,
            keyed: false,
            key_tag: 0,
        });
        self.auth_deadline = Some(deadline);
    }

    /// The SASL authentication opening this connection has been answered: what is queued
    /// behind it may go.
    pub fn auth_answered(&mut self) {
        self.auth_deadline = None;
        self.auth_end = 0;
    }

    /// Bytes queued that may be sent now (not held back behind an unanswered SASL
    /// authentication).
    pub fn has_sendable(&self) -> bool {
        self.out_pos < self.send_limit() || self.tls_wants_write()
    }

    fn send_limit(&self) -> usize {
        if self.tls_handshaking() {
            // Nothing of the caller's (nor SASL) before the server is authenticated.
            self.out_pos
        } else if self.auth_deadline.is_some() {
            self.auth_end.min(self.out.len())
        } else {
            self.out.len()
        }
    }

    /// When the unanswered SASL authentication of this connection times out.
    pub fn auth_deadline(&self) -> Option<Instant> {
        self.auth_deadline
    }

    /// The last request queued was quiet: its outcome shows only after a NOOP.
    pub fn ends_quiet(&self) -> bool {
        self.tail_quiet
    }

    /// Starts a background reconnect's probe: a NOOP whose answer brings the server back —
    /// or, when writes for its keys went elsewhere meanwhile, a flush (`flush_all`), so that
    /// it never hands out a value older than one written elsewhere.
    pub fn start_probe(&mut self, opaque: u32) {
        self.probing = true;
        self.revival.probe_flushes = self.revival.written_elsewhere;
        if !self.revival.probe_flushes {
            self.queue_noop(opaque, Origin::Probe);
            return;
        }
        let flush = protocol::opcode::FLUSH;
        if self
            .queue_own(flush, opaque, &[], Origin::Probe, usize::MAX)
            .is_err()
        {
            // A flush without key or value always encodes; a NOOP keeps the probe going.
            self.revival.probe_flushes = false;
            self.queue_noop(opaque, Origin::Probe);
        }
    }

    /// A write for one of this server's keys went to the server with id `server_id` while
    /// this one was out of service.
    pub fn note_written_elsewhere(&mut self, server_id: usize, key: &[u8]) {
        self.revival.written_elsewhere = true;
        self.revival.copies.record(server_id, key);
    }

    /// The copies of its keys written elsewhere while it was out (taken when it takes its
    /// keys back).
    pub fn take_copies_elsewhere(&mut self) -> CopiesElsewhere {
        std::mem::take(&mut self.revival.copies)
    }

    /// Queues a quiet delete of `key`, a copy written here for a server that was out of
    /// service (see `CopiesElsewhere`). Best effort: a full send buffer skips it.
    pub fn queue_cleanup_delete(&mut self, opaque: u32, key: &[u8], send_max: usize) -> bool {
        let delete = protocol::opcode::DELETEQ;
        self.queue_own(delete, opaque, key, Origin::Cleanup, send_max)
            .is_ok()
    }

    /// Queues a request of the engine's own (no extras, no value; its answer goes to nobody's
    /// batch), quiet if its opcode is.
    fn queue_own(
        &mut self,
        opcode: u8,
        opaque: u32,
        key: &[u8],
        origin: Origin,
        send_max: usize,
    ) -> Result<(), QueueError> {
        let parts = RequestParts {
            opcode,
            opaque,
            key,
            ..Default::default()
        };
        let entry = InFlight {
            opaque,
            opcode,
            quiet: protocol::is_quiet(opcode),
            origin,
            keyed: false,
            key_tag: 0,
        };
        self.queue(&parts, entry, send_max)
    }

    /// Out of service until a flush probe is sent (see `Revival::probe_answered`).
    pub fn needs_flush_probe(&self) -> bool {
        self.revival.written_elsewhere
            && self.ejected
            && !self.probing
            && self.state == State::Connected
    }

    /// A flush probe was refused since the last call (cleared by reading it).
    pub fn take_flush_refused(&mut self) -> bool {
        std::mem::take(&mut self.revival.flush_refused)
    }

    pub fn has_unsent(&self) -> bool {
        self.out_pos < self.out.len() || self.tls_wants_write()
    }

    /// TLS records (handshake or encrypted requests) wait for the socket.
    fn tls_wants_write(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.conn.wants_write())
    }

    // ----- TLS ------------------------------------------------------------------------------

    /// Starts the TLS handshake on a connection that has just connected (TCP only: a unix
    /// socket is left as it is). `name` is what the server's certificate must be valid for
    /// (None: the host of its address); the handshake must finish by `deadline`. Err when the
    /// name cannot be used.
    pub fn start_tls(
        &mut self,
        config: std::sync::Arc<rustls::ClientConfig>,
        name: Option<&str>,
        deadline: Instant,
    ) -> Result<(), String> {
        if self.addr.is_unix() || self.socket.is_none() {
            return Ok(());
        }
        let host = name.unwrap_or(self.addr.hostname()).to_string();
        self.tls = Some(Box::new(TlsSession::start(config, &host, deadline)?));
        Ok(())
    }

    /// Speaks TLS (handshaking or established).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The TLS handshake is running.
    pub fn tls_handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.is_handshaking())
    }

    /// When the running TLS handshake times out.
    pub fn tls_deadline(&self) -> Option<Instant> {
        self.tls.as_ref().and_then(|t| t.handshake_deadline)
    }

    /// Why the last I/O error happened, when it was TLS's.
    pub fn take_tls_failure(&mut self) -> Option<TlsFailure> {
        self.tls_failure.take()
    }

    /// Why TLS to this server last failed; None once a handshake has succeeded since.
    pub fn last_tls_failure(&self) -> Option<TlsFailure> {
        self.last_tls_failure
    }

    pub fn set_last_tls_failure(&mut self, failure: Option<TlsFailure>) {
        self.last_tls_failure = failure;
    }

    /// The TLS handshake has finished since the last call: whether it resumed a session.
    pub fn take_tls_established(&mut self) -> Option<bool> {
        let t = self.tls.as_mut()?;
        if !std::mem::take(&mut t.established) {
            return None;
        }
        self.last_tls_failure = None;
        t.resumed()
    }

    /// Whether the established TLS session resumed an earlier one (None: no TLS, or the
    /// handshake has not finished).
    pub fn tls_resumed(&self) -> Option<bool> {
        self.tls.as_ref().and_then(|t| t.resumed())
    }

    /// Decrypted bytes may wait in the TLS session that no poll of the socket reports.
    pub fn tls_has_plaintext(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.maybe_plaintext)
    }

    fn unsent_len(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Whether a response is still expected (a non-quiet request, or a trailing NOOP, in
    /// flight) or an oversized one is still being skipped.
    pub fn awaits_response(&self) -> bool {
        self.inflight.awaits_response() || self.recv.discarding()
    }

    /// The server sent something not read yet (bytes, the end of the stream, or a reset):
    /// one non-blocking look at the socket (plus what a TLS session holds decrypted).
    pub fn news_waiting(&self) -> bool {
        self.tls_has_plaintext() || self.fd().is_some_and(sys::readable_or_closed)
    }

    /// Binary quiet requests in flight (answered only when they fail) and bytes from the
    /// server waiting: their answers. Not an end of stream alone (see
    /// `close_if_gone_while_idle`).
    pub fn quiet_answers_waiting(&self) -> bool {
        if self.protocol != Protocol::Binary || self.inflight.is_empty() {
            return false;
        }
        self.tls_has_plaintext() || self.fd().is_some_and(sys::bytes_waiting)
    }

    /// Requests queued or in flight.
    pub fn has_work(&self) -> bool {
        self.has_unsent() || !self.inflight.is_empty()
    }

    /// Received bytes not parsed yet (a paused sink left them).
    pub fn has_buffered_input(&self) -> bool {
        !self.recv.is_empty()
    }

    /// Whether `next_event` can have more than `NeedMore` to say (cheap: lets the caller skip
    /// the call after the last complete frame).
    pub fn may_have_event(&self) -> bool {
        let least = match self.protocol {
            Protocol::Binary => HEADER_LEN,
            // "END\r\n" or shorter lines.
            Protocol::Text | Protocol::Meta => 1,
        };
        self.skip > 0 || self.recv.pending().len() >= least || self.recv.discarding()
    }

    /// An oversized response is being skipped.
    pub fn is_discarding(&self) -> bool {
        self.recv.discarding()
    }

    pub fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// Takes the requests queued or in flight, oldest first (after a reset).
    pub fn pop_inflight(&mut self) -> Option<InFlight> {
        self.skip = self.skip.saturating_sub(1);
        self.inflight.pop_front()
    }

    // ----- failover bookkeeping -------------------------------------------------------------

    /// Counts a failure; returns the consecutive failures since the last answer.
    pub fn note_failure(&mut self) -> u32 {
        self.failures = self.failures.saturating_add(1);
        self.failures
    }

    /// Out of service until `retry_at`; `ejected`: its keys go elsewhere meanwhile (the
    /// client's failover policy decided so).
    pub fn mark_dead(&mut self, retry_at: Instant, ejected: bool) {
        self.probing = false;
        self.silence_waited = Duration::ZERO;
        self.ejected = ejected;
        self.state = State::Dead { retry_at };
        self.forget_addresses();
    }

    /// A dead server's retry time has come: it may connect again (for a probe).
    pub fn revive(&mut self) {
        if matches!(self.state, State::Dead { .. }) {
            self.state = State::Idle;
        }
    }

    /// When the dead timeout of this connection expires, if it is connected with work.
    pub fn dead_deadline(&self, dead_timeout: Duration) -> Option<Instant> {
        // A TLS handshake is bounded by its own deadline (the connect timeout).
        if self.state != State::Connected
            || self.tls_handshaking()
            || !(self.has_unsent() || self.awaits_response())
        {
            return None;
        }
        // What earlier calls waited counts, but requests sent since (on a new connection, or
        // on this one once it went idle) are given at least a quarter of the dead timeout,
        // half a poll timeout: the leftover of two timed-out calls could be 4 ms, and a
        // server that had just thawed and answered the next request in 5 ms instead of 0.1
        // (a loaded machine) was put out of service for RETRY_TIMEOUT. A server still frozen
        // costs that request the quarter. Requests a timed-out call left in flight get no
        // more: their server has been silent for all of it.
        let floor = if self.timed_out {
            Duration::ZERO
        } else {
            dead_timeout / 4
        };
        let left = dead_timeout.saturating_sub(self.silence_waited).max(floor);
        self.progress_at.map(|t| t + left)
    }

    /// After a blocking receive that waited `waited` for nothing: starts the dead-timeout
    /// timer, if not running, from before that wait (the requests were sent just before it).
    /// Keeps the single-request path free of clock reads when the answer comes.
    pub fn backdate_dead_timer(&mut self, now: Instant) {
        if self.progress_at.is_none() && self.has_work() {
            self.progress_at = Some(now.checked_sub(self.last_block).unwrap_or(now));
        }
    }

    /// Starts the dead-timeout timer of a connected connection with work, if not running.
    pub fn start_dead_timer(&mut self, now: Instant) {
        if self.state == State::Connected
            && self.progress_at.is_none()
            && (self.has_unsent() || self.awaits_response())
        {
            self.progress_at = Some(now);
        }
    }

    /// The poll events this connection waits for (0: none).
    pub fn poll_events(&self) -> i16 {
        match self.state {
            State::Connecting { .. } => sys::POLLOUT,
            State::Connected => {
                let mut ev = 0;
                if self.has_sendable() {
                    ev |= sys::POLLOUT;
                }
                if self.awaits_response() || self.tls_handshaking() {
                    ev |= sys::POLLIN;
                }
                ev
            }
            _ => 0,
        }
    }

    // ----- connecting -----------------------------------------------------------------------

    /// Starts connecting. Numeric addresses and unix sockets connect at once (non-blocking);
    /// a host name is first resolved in a helper thread so that a slow resolver never blocks
    /// the caller (state Resolving; `poll_resolver` continues). Err when every address failed.
    pub fn start_connect(&mut self, now: Instant, timeout: Duration) -> io::Result<ConnectStart> {
        self.close_socket();
        self.connect_timeout = timeout;
        if let Some(defect) = &self.addr.defect {
            // An entry that can never connect fails at once, with its reason.
            return Err(io::Error::new(io::ErrorKind::InvalidInput, defect.reason()));
        }
        if self.addr.is_unix() {
            let target = SockAddr::unix(&self.addr.host)?;
            return self.connect_to(&[target], now, timeout);
        }
        if let Ok(ip) = self.addr.hostname().parse::<IpAddr>() {
            let target = SockAddr::from(SocketAddr::new(ip, self.addr.port));
            return self.connect_to(&[target], now, timeout);
        }
        if let Some((at, addrs)) = &self.cached_addrs {
            if now.saturating_duration_since(*at) < ADDRESS_CACHE_TTL {
                let targets: Vec<SockAddr> = addrs.iter().copied().map(SockAddr::from).collect();
                return self.connect_to(&targets, now, timeout);
            }
        }
        let (tx, rx) = mpsc::channel();
        let (host, port) = (self.addr.hostname().to_string(), self.addr.port);
        std::thread::Builder::new()
            .name("omcache-resolve".into())
            .spawn(move || {
                let result = (host.as_str(), port).to_socket_addrs().map(|a| a.collect());
                let _ = tx.send(result);
            })?;
        self.resolver = Some(rx);
        self.state = State::Resolving {
            deadline: now + timeout,
        };
        Ok(ConnectStart::Resolving)
    }

    /// Checks a pending resolution: None while it is still running, else how the connect
    /// that follows it started.
    pub fn poll_resolver(
        &mut self,
        now: Instant,
        timeout: Duration,
    ) -> Option<io::Result<ConnectStart>> {
        let rx = self.resolver.as_ref()?;
        let result = match rx.try_recv() {
            Ok(r) => r,
            Err(mpsc::TryRecvError::Empty) => return None,
            Err(mpsc::TryRecvError::Disconnected) => {
                Err(io::Error::other("resolver thread failed"))
            }
        };
        self.resolver = None;
        let addrs = match result {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                return Some(Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "host has no address",
                )))
            }
            // Whatever the resolver says, the name does not give an address.
            Err(e) => return Some(Err(io::Error::new(io::ErrorKind::NotFound, e))),
        };
        let targets: Vec<SockAddr> = addrs.iter().copied().map(SockAddr::from).collect();
        self.cached_addrs = Some((now, addrs));
        Some(self.connect_to(&targets, now, timeout))
    }

    /// Forgets resolved addresses (a server that failed may have moved).
    pub fn forget_addresses(&mut self) {
        self.cached_addrs = None;
    }

    fn connect_to(
        &mut self,
        targets: &[SockAddr],
        now: Instant,
        timeout: Duration,
    ) -> io::Result<ConnectStart> {
        let mut last_err = io::Error::new(io::ErrorKind::NotFound, "no address");
        for target in targets {
            match self.connect_one(target) {
                Ok(connected) => {
                    if connected {
                        self.on_connected()?;
                        return Ok(ConnectStart::Connected);
                    }
                    self.state = State::Connecting {
                        deadline: now + timeout,
                    };
                    return Ok(ConnectStart::InProgress);
                }
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    fn connect_one(&mut self, target: &SockAddr) -> io::Result<bool> {
        let domain = match target.as_socket() {
            Some(SocketAddr::V4(_)) => Domain::IPV4,
            Some(SocketAddr::V6(_)) => Domain::IPV6,
            None => Domain::UNIX,
        };
        let proto = if domain == Domain::UNIX {
            None
        } else {
            Some(IpProtocol::TCP)
        };
        // socket2 creates the descriptor close-on-exec.
        let socket = Socket::new(domain, Type::STREAM, proto)?;
        socket.set_nonblocking(true)?;
        if domain != Domain::UNIX {
            socket.set_nodelay(true)?;
        }
        let connected = match socket.connect(target) {
            Ok(()) => true,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => false,
            Err(e) => return Err(e),
        };
        self.socket = Some(socket);
        Ok(connected)
    }

    /// Whether an in-progress connect has finished (one poll that does not wait): a call
    /// that does not wait still gets its requests written once the connect is done, instead
    /// of leaving them for the next call that waits.
    pub fn connect_finished(&self) -> bool {
        let Some(fd) = self.fd() else {
            return false;
        };
        let mut pfd = [sys::PollFd {
            fd,
            events: sys::POLLOUT,
            revents: 0,
        }];
        matches!(sys::poll(&mut pfd, Some(Duration::ZERO)), Ok(1))
    }

    /// Completes an in-progress connect after poll reported the socket writable. Ok(false):
    /// the server had closed the connection before anything was written on it (it was
    /// restarted between the connect and the first request), and a new connect is under way,
    /// what is queued kept for it: written on the closed one, it would be lost.
    pub fn finish_connect(&mut self, now: Instant) -> io::Result<bool> {
        let socket = self
            .socket
            .as_ref()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        if let Some(err) = socket.take_error()? {
            return Err(err);
        }
        let fd = socket.as_raw_fd();
        let closed = self.out_pos == 0 && sys::readable_or_closed(fd) && !sys::bytes_waiting(fd);
        if closed && !self.replaced_unused {
            self.replaced_unused = true;
            return match self.start_connect(now, self.connect_timeout)? {
                ConnectStart::Connected => Ok(true),
                ConnectStart::InProgress | ConnectStart::Resolving => Ok(false),
            };
        }
        self.on_connected()?;
        Ok(true)
    }

    fn on_connected(&mut self) -> io::Result<()> {
        if let Some(s) = &self.socket {
            // TCP "self-connect": a connect to a local port with no listener can pick that
            // very port as its source and connect to itself; it would read its own requests
            // back as answers. Treat it as the refusal it really is.
            if !self.addr.is_unix() {
                if let (Ok(local), Ok(peer)) = (s.local_addr(), s.peer_addr()) {
                    if local.as_socket().is_some() && local.as_socket() == peer.as_socket() {
                        return Err(io::Error::new(
                            io::ErrorKind::ConnectionRefused,
                            "connected to itself (nothing listens on the port)",
                        ));
                    }
                }
            }
            // Blocking mode with per-call MSG_DONTWAIT: a caller that waits on a single server
            // can then block in recv() itself (one system call) instead of poll() + recv().
            s.set_nonblocking(false)?;
        }
        self.recv_timeout = None;
        self.send_blocked = false;
        self.state = State::Connected;
        Ok(())
    }

    fn close_socket(&mut self) {
        self.tls = None;
        self.socket = None;
        self.resolver = None;
        if !matches!(self.state, State::Dead { .. }) {
            self.state = State::Idle;
        }
    }

    /// Drops the socket and every byte queued or received (values handed out of the receive
    /// buffer stay valid until `unpin`). The requests in flight stay for the caller to fail
    /// (`pop_inflight`).
    pub fn reset(&mut self) {
        self.text_run = None;
        self.replaced_unused = false;
        self.close_socket();
        self.out.clear();
        self.out_pos = 0;
        self.recv.clear();
        self.tail_quiet = false;
        self.send_blocked = false;
        self.progress_at = None;
        self.timed_out = false;
        self.auth_deadline = None;
        self.auth_end = 0;
    }

    /// Text protocol: closes the connection when the server has sent bytes while no answer
    /// was due and nothing was queued, and returns true. A text answer carries no request id:
    /// such bytes would be taken for the answer of the next request (a VALUE for its key
    /// injected ahead of the request, an END that makes a hit a miss). Checked only when a
    /// request is about to be queued on an idle plaintext connection (one `recv` with
    /// MSG_PEEK, or one `poll` for a batch's connections); the next request then connects
    /// afresh. Over TLS the look is a non-blocking read through the session (a server may
    /// send session tickets at any time; only plaintext counts).
    pub fn close_if_unsolicited(&mut self) -> bool {
        if self.tls.is_some() {
            return self.close_if_unsolicited_tls();
        }
        let Some(fd) = self.unsolicited_check_fd() else {
            return false;
        };
        // Bytes only: a close is left for the request to meet (as libmemcached's meets it,
        // failing it with CONNECTION FAILURE without a connect that a dead server refuses and
        // that would put it out of service for the retry timeout), or for the look at idle
        // connections.
        if !sys::bytes_waiting(fd) {
            return false;
        }
        // What is still in flight is quiet (noreply): never answered, nothing waits for it.
        self.inflight.clear();
        self.reset();
        true
    }

    /// The socket to look at for bytes nobody asked for: a connected plaintext text or meta
    /// connection with nothing queued, in flight or buffered (binary answers carry their
    /// request's id; a TLS session may send session tickets at any time).
    pub fn unsolicited_check_fd(&self) -> Option<std::os::fd::RawFd> {
        if self.tls.is_some() || !self.is_idle_line_protocol() {
            return None;
        }
        self.fd()
    }

    /// A connected text (or meta: its end-of-batch `MN`, error lines and text-command answers
    /// carry no id) connection with nothing queued, in flight or buffered: any byte the
    /// server sends now answers nothing.
    fn is_idle_line_protocol(&self) -> bool {
        self.protocol != Protocol::Binary
            && self.state == State::Connected
            && !self.has_unsent()
            && !self.awaits_response()
            && self.skip == 0
            && self.recv.is_empty()
    }

    /// Whether a request should look at this connection for a server that closed it while
    /// it was idle (`close_if_gone_while_idle`), `now_ms` being `sys::coarse_millis`: at most
    /// once per `IDLE_LOOK_AFTER_MS`, so a busy connection pays one comparison per request and
    /// a look (one `recv`) per second, and a request after a longer pause always looks. A
    /// write that is never answered (`unanswered_write`: noreply, buffered) looks once per
    /// clock tick instead: written on a connection the server closed, it would be lost
    /// without a trace (a server restarted within the second lost the buffered sets flushed
    /// to it, found by an outside tester), while a request that is answered fails visibly.
    #[inline]
    pub fn idle_look_due(&mut self, now_ms: u64, unanswered_write: bool) -> bool {
        let after = if unanswered_write {
            1
        } else {
            IDLE_LOOK_AFTER_MS
        };
        if now_ms < self.idle_looked_at.saturating_add(after) {
            return false;
        }
        self.idle_looked_at = now_ms;
        true
    }

    /// A connection left idle for a while: closed if the server closed it meanwhile
    /// (memcached's `idle_timeout`, a proxy or firewall dropping idle connections) or sent
    /// bytes nobody asked for, so that the next request goes on a new connection instead of
    /// failing on the dead one. One non-blocking look at the socket (through the session over
    /// TLS: a session ticket is no news). Returns whether it was closed.
    pub fn close_if_gone_while_idle(&mut self) -> bool {
        if self.state != State::Connected
            || self.awaits_response()
            || self.skip > 0
            || !self.recv.is_empty()
        {
            return false;
        }
        // Requests queued of which no byte has left (buffered writes): on a connection the
        // server closed they would be lost; they go on a new one instead. Not over TLS, nor
        // behind an authentication, nor once part of them is written.
        let queued = self.has_unsent();
        if queued && (self.out_pos != 0 || self.tls.is_some() || self.auth_deadline.is_some()) {
            return false;
        }
        let Some(fd) = self.fd() else {
            return false;
        };
        if queued {
            if !sys::readable_or_closed(fd) || sys::bytes_waiting(fd) {
                // Open, or bytes nobody asked for: left for the requests to meet.
                return false;
            }
            // The end of the stream: the queue (and what is in flight, quiet, never
            // answered) stays for the next connect (a restarted memcached lost the buffered
            // sets queued before and after its restart, found by an outside tester).
            self.close_socket();
            self.progress_at = None;
            self.send_blocked = false;
            return true;
        }
        if let Some(tls) = self.tls.as_ref() {
            if tls.is_handshaking() {
                return false;
            }
            if let Ok(Received::WouldBlock) = self.receive_tls(fd, true) {
                return false;
            }
        } else if !sys::readable_or_closed(fd) {
            return false;
        }
        // Bytes behind binary quiet requests are their failures' answers (a quiet add of an
        // existing key), which carry their ids and are read like any answer, not a sign of a
        // server gone (OMcache's response callback lost them when they were closed away here).
        let answers_waiting = || {
            if self.tls.is_some() {
                self.tls_has_plaintext()
            } else {
                sys::bytes_waiting(fd)
            }
        };
        if self.protocol == Protocol::Binary && !self.inflight.is_empty() && answers_waiting() {
            return false;
        }
        // What is still in flight is quiet (noreply): never answered, nothing waits for it.
        self.inflight.clear();
        self.reset();
        true
    }

    /// Closes a connection with nothing queued or in flight (the server is known to close
    /// it); the next request connects again. Not a failure.
    pub fn close_quietly(&mut self) {
        if !self.has_work() {
            self.reset();
        }
    }

    /// Forgets every queued request and received byte (the caller abandons them). A
    /// connection with bytes in either direction is closed: answers to requests already sent
    /// would arrive unexpected.
    pub fn abandon_all(&mut self) {
        let had_bytes = !self.recv.is_empty() || self.has_work() || self.tls_has_plaintext();
        self.inflight.clear();
        self.skip = 0;
        if had_bytes && self.state == State::Connected {
            self.reset();
        } else {
            self.out.clear();
            self.out_pos = 0;
            self.recv.clear();
            self.tail_quiet = false;
        }
    }

    /// A call ran out of time at `now`: answers still due here are given up by their caller
    /// (`reconnect_after_timeout`). The dead timer stops, what it ran counted as waited.
    pub fn note_timed_out(&mut self, now: Instant) {
        if self.awaits_response() {
            self.timed_out = true;
            if let Some(p) = self.progress_at.take() {
                self.silence_waited += now.saturating_duration_since(p);
            }
        }
    }

    /// Answers a call that ran out of time gave up are still due, and closing the connection
    /// would lose nothing queued (everything has been written).
    pub fn stuck_behind_timeout(&self) -> bool {
        self.timed_out
            && self.state == State::Connected
            && self.awaits_response()
            && !self.has_unsent()
            && !self.tls_has_plaintext()
    }

    /// Gives up what is in flight and closes the connection (the next request connects
    /// again), so that requests do not queue behind answers that a call which ran out of
    /// time gave up (a proxy answers in order: one stuck backend would hold every key). The
    /// silence waited carries over to the next connection.
    pub fn reconnect_after_timeout(&mut self) {
        self.inflight.clear();
        self.skip = 0;
        self.reset();
    }

    /// After a fork, in the child: the socket is the parent's too (closing our copy leaves
    /// the parent's connection alone), and what is queued or in flight is the parent's.
    /// Forget it all; the next request connects afresh. Liveness is kept: an ejected server
    /// stays ejected and is probed again.
    pub fn forget_after_fork(&mut self, now: Instant) {
        let was_probing = self.probing;
        self.silence_waited = Duration::ZERO;
        self.inflight.clear();
        self.skip = 0;
        self.reset();
        self.probing = false;
        if was_probing {
            self.state = State::Dead { retry_at: now };
        }
    }

    /// Values handed out by an earlier call are no longer valid.
    pub fn unpin(&mut self) {
        self.recv.unpin();
    }

    /// Bytes of receive memory held (buffer, retired buffers, spares).
    pub fn receive_memory(&self) -> usize {
        self.recv.memory()
    }

    /// More receive memory than a fresh connection's is held (after big frames).
    #[inline]
    pub fn holds_extra_buffers(&self) -> bool {
        self.recv.holds_extra()
    }

    /// Releases the receive memory kept for big frames if none came since the last call;
    /// returns whether extra memory is still held. For quiet connections only.
    pub fn trim_idle_buffers(&mut self) -> bool {
        self.recv.trim_idle()
    }

    /// Values handed out of this call's answers point into the receive buffer.
    pub fn pin(&mut self) {
        self.recv.pin();
    }

    // ----- I/O ------------------------------------------------------------------------------

    /// Writes as much of the queued bytes as the socket takes without blocking, starting the
    /// dead-timeout timer at `now` with the first byte (None: the caller starts it, see
    /// `backdate_dead_timer`). Returns Ok(true) when nothing remains queued.
    // Inlined: on every request's path, where the call cost as much as the body.
    #[inline(always)]
    pub fn flush(&mut self, now: Option<Instant>) -> io::Result<bool> {
        let Some(fd) = self.fd() else {
            return Ok(!self.has_unsent());
        };
        if self.tls.is_some() {
            return self.flush_tls(now);
        }
        let limit = self.send_limit();
        while self.out_pos < limit {
            match sys::send(fd, &self.out[self.out_pos..limit], true) {
                Ok(n) => {
                    self.out_pos += n;
                    Self::note_sent(
                        &mut self.progress_at,
                        &mut self.silence_waited,
                        &mut self.send_blocked,
                        now,
                        true,
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.send_blocked = true;
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        if limit < self.out.len() {
            // Held back until the server has accepted the credentials.
            return Ok(false);
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(true)
    }

    /// Bytes went out (plaintext or TLS records). The dead timer starts with the first byte
    /// sent, and a send that had been blocked going out means the server is reading:
    /// progress, unless `counts` is false (a TLS handshake has its own deadline).
    /// (On the two fields, so that a TLS session borrowed from the connection can stay.)
    fn note_sent(
        progress_at: &mut Option<Instant>,
        silence_waited: &mut Duration,
        send_blocked: &mut bool,
        now: Option<Instant>,
        counts: bool,
    ) {
        if counts && (progress_at.is_none() || *send_blocked) {
            *progress_at = now;
        }
        if counts && *send_blocked {
            // The server reads: progress, also for the silence waited before.
            *silence_waited = Duration::ZERO;
        }
        *send_blocked = false;
    }

    /// Total bytes needed to complete the frame at the head of the receive buffer.
    fn frame_need(&self) -> usize {
        match self.protocol {
            Protocol::Text => return self.text_need(),
            Protocol::Meta => return self.meta_need(),
            Protocol::Binary => {}
        }
        let pending = self.recv.pending();
        if pending.len() < HEADER_LEN {
            return HEADER_LEN;
        }
        match protocol::parse_header(pending) {
            Ok(h) => h.frame_len(),
            Err(_) => HEADER_LEN,
        }
    }

    /// One receive call. With `block_for`, waits in the kernel for at most about that long
    /// (it may return `WouldBlock` earlier: short or imprecise waits are left to the caller's
    /// poll, whose timeout is precise); without, never blocks. `max` is the receive buffer
    /// limit, `retire_budget` the memory that may be kept for this call's handed-out values.
    pub fn receive(
        &mut self,
        max: usize,
        retire_budget: usize,
        block_for: Option<Duration>,
    ) -> io::Result<Received> {
        let Some(fd) = self.fd() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let need = self.frame_need();
        if !self.recv.make_room(need.min(max), max, retire_budget) {
            return Ok(Received::NoRoom);
        }
        // The kernel rounds a receive timeout up to its timer wheel's granularity (up to 1/8
        // of the wait, plus a tick): ask for less, and let the caller's precise poll finish.
        let kernel_wait = match block_for {
            Some(w) if w >= MIN_KERNEL_RECV_WAIT => {
                // In nanoseconds (u64: 584 years): Duration's divisions cost more than the
                // rest of this function on every receive.
                let w_ns = u64::try_from(w.as_nanos()).unwrap_or(u64::MAX);
                let want = w_ns - w_ns / 4 - 4_000_000;
                // The time left shrinks a little from call to call, and a setsockopt costs as
                // much as the receive: the armed wait is kept while it cannot outlast `w`
                // (at most 1/16 over `want`, still well inside the margin above) and is not
                // much too short (an early return only means one more turn of the poll loop).
                let armed_fits = self.recv_timeout.is_some_and(|armed| {
                    let armed = armed.as_nanos();
                    armed <= u128::from(want + want / 16) && armed >= u128::from(want / 2)
                });
                if !armed_fits {
                    let want = Duration::from_nanos(want);
                    if let Some(s) = &self.socket {
                        s.set_read_timeout(Some(want))?;
                    }
                    self.recv_timeout = Some(want);
                }
                self.recv_timeout
            }
            _ => None,
        };
        self.last_block = kernel_wait.unwrap_or(Duration::ZERO);
        if self.tls.is_some() {
            return self.receive_tls(fd, kernel_wait.is_none());
        }
        match sys::recv(fd, self.recv.tail(), kernel_wait.is_none()) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            )),
            Ok(n) => {
                self.recv.filled(n);
                // Progress: the dead-timeout timer restarts at the client's next check (which
                // has the time at hand; no clock read per receive).
                self.progress_at = None;
                self.silence_waited = Duration::ZERO;
                Ok(Received::Bytes(n))
            }
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                Ok(Received::WouldBlock)
            }
            Err(e) => Err(e),
        }
    }
}

impl Connection {
    /// What the next bytes of the receive buffer are. A returned answer has been consumed: its
    /// slices stay valid (and unchanged) until the next receive, or until the next call if
    /// `pin` is called.
    // Inlined: on every request's path, where the call cost as much as the body.
    #[inline(always)]
    pub fn next_event(&mut self, recv_max: usize) -> Event<'_> {
        match self.protocol {
            Protocol::Binary => self.next_binary_event(recv_max),
            Protocol::Text => self.next_text_event(recv_max),
            Protocol::Meta => self.next_meta_event(recv_max),
        }
    }

    /// Requests at the head already found without an answer of their own (see `skip`): the
    /// next one, if any.
    fn take_skipped(&mut self) -> Option<Event<'static>> {
        if self.skip == 0 {
            return None;
        }
        self.skip -= 1;
        let f = self.inflight.pop_front()?;
        Some(self.unanswered(f))
    }

    /// Reports the first of `count` requests at the head that got no answer of their own
    /// (the rest follow, one per call).
    fn skip_then_next(&mut self, count: usize) -> Event<'static> {
        self.skip = count;
        self.take_skipped().unwrap_or(Event::NeedMore)
    }

    fn unanswered(&self, f: InFlight) -> Event<'static> {
        if self.protocol == Protocol::Text && text::is_get_op(f.opcode) {
            Event::Missed(f)
        } else {
            Event::Unanswered(f)
        }
    }

    /// The protocol this connection speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether text gets ask for the CAS unique from now on (`gets`, the default) or not.
    pub fn set_text_cas(&mut self, on: bool) {
        self.text_cas = on;
    }

    /// Switches protocol: everything queued, in flight or received is abandoned and the
    /// socket closed (the caller fails what was in flight first).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.inflight.clear();
        self.skip = 0;
        self.reset();
        self.protocol = protocol;
    }
}

/// Why a request could not be queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// The send buffer limit would be exceeded.
    Full,
    /// The request's lengths do not fit the protocol.
    Invalid,
}
