//! One server: its socket, the bytes not yet written, the bytes received but not yet parsed,
//! the requests in flight (in send order, matched by opaque), and its connection state.
//!
//! A connection does I/O, frames and matches responses, and reports what happened as events
//! ([`Event`]); it decides nothing about failures — that is the client's failover policy. Its
//! fields are private: the client queues requests through [`Connection::queue`], never writes
//! to the socket or the buffers itself.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::address::ServerAddr;
use crate::protocol::{self, Frame, ParseError, RequestParts, ResponseHeader, HEADER_LEN};
use crate::sys;

/// Resolved addresses of a host name are reused for this long.
const ADDRESS_CACHE_TTL: Duration = Duration::from_secs(60);

/// The first receive buffer of a connection; it grows (up to the configured maximum) when a
/// frame or a burst of frames needs more.
const INITIAL_RECV_BUFFER: usize = 32 * 1024;

/// Below this, a wait is not left to the socket's receive timeout (the kernel's timer wheel
/// rounds it up by up to 1/8 and to whole ticks): the caller polls with a precise timeout.
pub(crate) const MIN_KERNEL_RECV_WAIT: Duration = Duration::from_millis(20);

/// Why a request is in flight: the caller's, or one the engine added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    User,
    /// A NOOP that closes a run of quiet requests so their completion becomes visible.
    TrailingNoop,
    /// The NOOP of a background reconnect to a dead server: its answer brings it back.
    Probe,
}

/// A request queued or sent on this connection whose outcome is not known yet.
#[derive(Clone, Copy, Debug)]
pub struct InFlight {
    pub opaque: u32,
    pub quiet: bool,
    pub origin: Origin,
    /// Routed by key (not to an explicit server index): may move to the key's next server
    /// if it never left.
    pub keyed: bool,
    /// For requests whose answer carries the key (GETK, GATK and their quiet forms): a
    /// fingerprint of the key asked for, so that an answer with another key is caught.
    /// 0: nothing to check.
    pub key_tag: u64,
}

/// The fingerprint of a key that `InFlight::key_tag` keeps (64 bits over the length and the
/// bytes, eight at a time; never 0). A desynchronised stream or a lying server answering with
/// another key is caught with certainty short of a 64-bit collision, without storing keys per
/// request. Not a defence against a server crafting collisions (it could send any value for
/// the right key anyway).
pub fn key_tag(key: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = (key.len() as u64).wrapping_mul(K);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = 0u64;
    for (i, &b) in words.remainder().iter().enumerate() {
        tail |= u64::from(b) << (8 * i);
    }
    h = (h ^ tail).wrapping_mul(K);
    (h ^ (h >> 32)) | 1
}

/// Whether an opcode's answer carries the request's key (and so must be checked).
pub fn returns_key(op: u8) -> bool {
    use protocol::opcode::*;
    matches!(op, GETK | GETKQ | GATK | GATKQ)
}

/// The requests queued or sent on a connection, in send order (= answer order), with a count
/// of those that will be answered (non-quiet), so that "is an answer awaited" is O(1) even
/// with a million quiet requests queued.
#[derive(Debug, Default)]
struct InFlightQueue {
    entries: VecDeque<InFlight>,
    awaiting: usize,
}

impl InFlightQueue {
    fn push(&mut self, f: InFlight) {
        self.awaiting += usize::from(!f.quiet);
        self.entries.push_back(f);
    }

    fn pop_front(&mut self) -> Option<InFlight> {
        let f = self.entries.pop_front()?;
        self.awaiting -= usize::from(!f.quiet);
        Some(f)
    }

    fn push_front(&mut self, f: InFlight) {
        self.awaiting += usize::from(!f.quiet);
        self.entries.push_front(f);
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.awaiting = 0;
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn awaits_response(&self) -> bool {
        self.awaiting > 0
    }

    /// Where a response's opaque is in the queue; None for a late (or bogus) answer.
    fn position(&self, opaque: u32) -> Option<usize> {
        let front = self.entries.front()?;
        if front.opaque == opaque {
            // The usual case: answers come in order.
            return Some(0);
        }
        let back = self.entries.back()?;
        // Ids increase along the queue unless they wrapped around inside it (rare): an id
        // outside the queue's range is answered without a scan.
        if front.opaque <= back.opaque && !(front.opaque..=back.opaque).contains(&opaque) {
            return None;
        }
        self.entries.iter().position(|f| f.opaque == opaque)
    }
}

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

/// Received bytes `buf[start..end]` not yet parsed. `buf` is fully initialised, so its length
/// is the allocation in use.
///
/// Values handed to the caller point into `buf` and must stay where they are, unchanged, until
/// the caller's next call into the engine (OMcache's contract), whatever happens to the
/// connection meanwhile. So a pinned buffer is never compacted, grown, reused or freed: when it
/// must make room, or when the connection is reset, it is *retired* (kept alive, untouched)
/// and a fresh buffer takes its place. `unpin` at the start of the next call recycles retired
/// buffers (one is kept as a spare, so steady-state use allocates nothing).
#[derive(Debug, Default)]
struct RecvBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Values handed to the caller point into `buf`.
    pinned: bool,
    /// Bytes of an oversized frame still to be skipped.
    discard: u64,
    /// Buffers holding values handed out earlier in this call.
    retired: Vec<Vec<u8>>,
    retired_bytes: usize,
    /// A recycled buffer, ready to replace a retired one.
    spare: Vec<u8>,
}

impl RecvBuffer {
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Values handed out point into the buffer: keep its bytes where they are until `unpin`.
    fn pin(&mut self) {
        self.pinned = true;
    }

    /// The caller's values from the previous call are no longer valid: buffers may move again
    /// and retired ones are recycled.
    fn unpin(&mut self) {
        self.pinned = false;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        for old in self.retired.drain(..) {
            if old.len() > self.spare.len() {
                self.spare = old;
            }
        }
        self.retired_bytes = 0;
    }

    /// Marks `n` bytes parsed. Their memory is untouched until the next `make_room` (which
    /// starts over at offset 0 only when nothing is pending and nothing is pinned).
    fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
    }

    /// Consumes the complete frame at the head, whose header was parsed, and returns it.
    fn take_frame(&mut self, header: ResponseHeader) -> Frame<'_> {
        let start = self.start;
        self.start += header.frame_len();
        protocol::frame_from(header, &self.buf[start..self.start])
    }

    /// Forgets every received byte (the connection is being reset). A pinned buffer is
    /// retired, not reused: values handed out of it stay valid.
    fn clear(&mut self) {
        self.start = self.end;
        if self.pinned {
            let spare = std::mem::take(&mut self.spare);
            self.retire(spare);
        }
        self.start = 0;
        self.end = 0;
        self.discard = 0;
    }

    fn discarding(&self) -> bool {
        self.discard > 0
    }

    /// Starts skipping an oversized frame of which `have` bytes are buffered and `more` are
    /// still to come.
    fn start_discard(&mut self, have: usize, more: u64) {
        self.consume(have);
        self.discard = more;
    }

    /// Skips bytes of an oversized frame that are already buffered.
    fn skip_discarded(&mut self) {
        if self.discard > 0 {
            let n = (self.discard.min((self.end - self.start) as u64)) as usize;
            self.discard -= n as u64;
            self.consume(n);
        }
    }

    /// Puts `replacement` (or the spare) in place of the current buffer, keeping the current
    /// one alive and untouched until `unpin`; unparsed bytes move to the new buffer.
    fn retire(&mut self, mut fresh: Vec<u8>) {
        let pending = self.end - self.start;
        if fresh.len() < pending {
            fresh.resize(pending, 0);
        }
        fresh[..pending].copy_from_slice(&self.buf[self.start..self.end]);
        let old = std::mem::replace(&mut self.buf, fresh);
        self.retired_bytes += old.len();
        self.retired.push(old);
        self.start = 0;
        self.end = pending;
        self.pinned = false;
    }

    /// Makes room so that the frame at `start`, which needs `need` bytes in total, can be
    /// completed, and so that at least some bytes can be received. `retire_budget` bounds the
    /// memory kept alive for pinned values within one call. Returns false when no room can be
    /// made (`need` beyond `max`, or pinned with the budget spent: the caller must first
    /// consume the values it was given).
    fn make_room(&mut self, need: usize, max: usize, retire_budget: usize) -> bool {
        if self.start == self.end && !self.pinned {
            self.start = 0;
            self.end = 0;
        }
        let fits = self.buf.len() - self.start >= need && self.end < self.buf.len();
        if fits {
            return true;
        }
        let wanted = need
            .max(self.buf.len() * 2)
            .max(INITIAL_RECV_BUFFER)
            .min(max);
        if self.pinned {
            // The bytes handed out must not move: continue in another buffer.
            let required = need.max(INITIAL_RECV_BUFFER).min(max);
            if required < need || self.retired_bytes + self.buf.len() > retire_budget {
                return false;
            }
            let fresh = if self.spare.len() >= required {
                std::mem::take(&mut self.spare)
            } else {
                vec![0; wanted]
            };
            self.retire(fresh);
            return true;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() >= need && self.end < self.buf.len() {
                return true;
            }
        }
        if wanted <= self.buf.len() || wanted < need {
            return false;
        }
        self.buf.resize(wanted, 0);
        true
    }

    /// The writable tail, after `make_room`.
    fn tail(&mut self) -> &mut [u8] {
        &mut self.buf[self.end..]
    }

    fn filled(&mut self, n: usize) {
        self.end += n;
    }
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
        frame: Frame<'a>,
        entry: InFlight,
        last: bool,
    },
    /// An answer to no request in flight (one already failed or abandoned).
    Late(Frame<'a>),
    /// A response larger than the receive limit; its bytes are skipped as they arrive.
    Oversized {
        header: ResponseHeader,
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
    /// The last request queued was quiet: a NOOP must follow before its outcome is known.
    tail_quiet: bool,
    /// The dead-timeout timer: when this connection last made progress (bytes received, or a
    /// send that had been blocked went out) while it had work. None while idle: it starts
    /// with the first byte sent. Queuing more requests does not restart it, so a silent server
    /// is found dead one dead_timeout after its oldest unanswered request, across calls.
    progress_at: Option<Instant>,
    /// The last send could not write everything (the server is not reading).
    send_blocked: bool,
    /// The receive timeout currently set on the socket (None: none), and the wait it was
    /// derived from.
    recv_timeout: Option<Duration>,
    recv_timeout_for: Option<Duration>,
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
    /// Addresses of the host, and when they were resolved.
    cached_addrs: Option<(Instant, Vec<SocketAddr>)>,
    /// A resolution under way in a helper thread.
    resolver: Option<mpsc::Receiver<io::Result<Vec<SocketAddr>>>>,
}

impl Connection {
    pub fn new(addr: ServerAddr) -> Connection {
        Connection {
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
            send_blocked: false,
            recv_timeout: None,
            recv_timeout_for: None,
            last_block: Duration::ZERO,
            failures: 0,
            probing: false,
            ejected: false,
            cached_addrs: None,
            resolver: None,
        }
    }

    pub fn addr(&self) -> &ServerAddr {
        &self.addr
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
        if self.unsent_len() as u64 + parts.wire_len() > send_max as u64 {
            return Err(QueueError::Full);
        }
        if !self.has_work() {
            // An idle connection's dead-timeout timer restarts with this request.
            self.progress_at = None;
        }
        // Cannot fail: checked above.
        let _ = protocol::encode_request(&mut self.out, parts);
        self.inflight.push(entry);
        self.tail_quiet = entry.quiet;
        Ok(())
    }

    /// Queues a NOOP of the engine's own (its answer is always sent, so it also closes a run
    /// of quiet requests).
    pub fn queue_noop(&mut self, opaque: u32, origin: Origin) {
        let noop = RequestParts {
            opcode: protocol::opcode::NOOP,
            opaque,
            ..Default::default()
        };
        if !self.has_work() {
            self.progress_at = None;
        }
        // A NOOP has no key, extras or value: encoding cannot fail.
        let _ = protocol::encode_request(&mut self.out, &noop);
        self.inflight.push(InFlight {
            opaque,
            quiet: false,
            origin,
            keyed: false,
            key_tag: 0,
        });
        self.tail_quiet = false;
    }

    /// The last request queued was quiet: its outcome shows only after a NOOP.
    pub fn ends_quiet(&self) -> bool {
        self.tail_quiet
    }

    /// Starts a background reconnect's probe: a NOOP whose answer brings the server back.
    pub fn start_probe(&mut self, opaque: u32) {
        self.probing = true;
        self.queue_noop(opaque, Origin::Probe);
    }

    pub fn has_unsent(&self) -> bool {
        self.out_pos < self.out.len()
    }

    fn unsent_len(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Whether a response is still expected (a non-quiet request, or a trailing NOOP, in
    /// flight) or an oversized one is still being skipped.
    pub fn awaits_response(&self) -> bool {
        self.inflight.awaits_response() || self.recv.discarding()
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
        self.skip > 0 || self.recv.pending().len() >= HEADER_LEN || self.recv.discarding()
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
        if self.state != State::Connected || !(self.has_unsent() || self.awaits_response()) {
            return None;
        }
        self.progress_at.map(|t| t + dead_timeout)
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
                if self.has_unsent() {
                    ev |= sys::POLLOUT;
                }
                if self.awaits_response() {
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
            Some(Protocol::TCP)
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

    /// Completes an in-progress connect after poll reported the socket writable.
    pub fn finish_connect(&mut self) -> io::Result<()> {
        let socket = self
            .socket
            .as_ref()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        if let Some(err) = socket.take_error()? {
            return Err(err);
        }
        self.on_connected()
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
        self.recv_timeout_for = None;
        self.send_blocked = false;
        self.state = State::Connected;
        Ok(())
    }

    fn close_socket(&mut self) {
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
        self.close_socket();
        self.out.clear();
        self.out_pos = 0;
        self.recv.clear();
        self.tail_quiet = false;
        self.send_blocked = false;
        self.progress_at = None;
    }

    /// Forgets every queued request and received byte (the caller abandons them). A
    /// connection with bytes in either direction is closed: answers to requests already sent
    /// would arrive unexpected.
    pub fn abandon_all(&mut self) {
        let had_bytes = !self.recv.is_empty() || self.has_work();
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

    /// After a fork, in the child: the socket is the parent's too (closing our copy leaves
    /// the parent's connection alone), and what is queued or in flight is the parent's.
    /// Forget it all; the next request connects afresh. Liveness is kept: an ejected server
    /// stays ejected and is probed again.
    pub fn forget_after_fork(&mut self, now: Instant) {
        let was_probing = self.probing;
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

    /// Values handed out of this call's answers point into the receive buffer.
    pub fn pin(&mut self) {
        self.recv.pin();
    }

    // ----- I/O ------------------------------------------------------------------------------

    /// Writes as much of the queued bytes as the socket takes without blocking, starting the
    /// dead-timeout timer at `now` with the first byte (None: the caller starts it, see
    /// `backdate_dead_timer`). Returns Ok(true) when nothing remains queued.
    pub fn flush(&mut self, now: Option<Instant>) -> io::Result<bool> {
        let Some(fd) = self.fd() else {
            return Ok(!self.has_unsent());
        };
        while self.out_pos < self.out.len() {
            match sys::send(fd, &self.out[self.out_pos..], true) {
                Ok(n) => {
                    self.out_pos += n;
                    // The timer starts with the first byte sent; a send that had been blocked
                    // going out means the server is reading: progress.
                    if self.progress_at.is_none() || self.send_blocked {
                        self.progress_at = now;
                    }
                    self.send_blocked = false;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.send_blocked = true;
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(true)
    }

    /// Total bytes needed to complete the frame at the head of the receive buffer.
    fn frame_need(&self) -> usize {
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
                if self.recv_timeout_for != Some(w) {
                    let kw = w - w / 4 - Duration::from_millis(4);
                    if self.recv_timeout != Some(kw) {
                        if let Some(s) = &self.socket {
                            s.set_read_timeout(Some(kw))?;
                        }
                        self.recv_timeout = Some(kw);
                    }
                    self.recv_timeout_for = Some(w);
                }
                self.recv_timeout
            }
            _ => None,
        };
        self.last_block = kernel_wait.unwrap_or(Duration::ZERO);
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

    /// What the next bytes of the receive buffer are. A returned frame has been consumed: its
    /// slices stay valid (and unchanged) until the next receive, or until the next call if
    /// `pin` is called.
    pub fn next_event(&mut self, recv_max: usize) -> Event<'_> {
        if self.skip > 0 {
            self.skip -= 1;
            if let Some(f) = self.inflight.pop_front() {
                return Event::Unanswered(f);
            }
            self.skip = 0;
        }
        if self.recv.discarding() {
            self.recv.skip_discarded();
            if self.recv.discarding() {
                return Event::NeedMore;
            }
        }
        let pending = self.recv.pending();
        if pending.len() < HEADER_LEN {
            return Event::NeedMore;
        }
        let header = match protocol::parse_header(pending) {
            Ok(h) => h,
            Err(e) => return Event::Corrupt(Corruption::Frame(e)),
        };
        if pending.len() < header.frame_len() && header.frame_len() <= recv_max {
            return Event::NeedMore;
        }
        let position = self.inflight.position(header.opaque);
        if let Some(pos) = position.filter(|&p| p > 0) {
            // Requests before the answered one: report them first, one per call, without
            // searching again.
            self.skip = pos - 1;
            if let Some(f) = self.inflight.pop_front() {
                return Event::Unanswered(f);
            }
        }
        let len = header.frame_len();
        if self.recv.pending().len() < len {
            // Too large for the receive buffer: skip its bytes; its request gets an answer
            // of its own ("too large"), the connection and other requests are unaffected.
            let have = self.recv.pending().len();
            self.recv.start_discard(have, (len - have) as u64);
            let entry = position.and_then(|_| self.inflight.pop_front());
            return Event::Oversized { header, entry };
        }
        let entry = position.and_then(|_| self.inflight.pop_front());
        let frame = self.recv.take_frame(header);
        let Some(entry) = entry else {
            return Event::Late(frame);
        };
        if entry.key_tag != 0 {
            let carries_key = !frame.key.is_empty();
            let ok_status = header.status == protocol::status::NO_ERROR;
            if (carries_key && key_tag(frame.key) != entry.key_tag) || (!carries_key && ok_status) {
                // Consumed, but the connection is reset for it anyway, and the request, back
                // at the head of the queue, fails with the others.
                self.inflight.push_front(entry);
                return Event::Corrupt(Corruption::KeyMismatch);
            }
        }
        // STAT answers one row per statistic, then an empty-key row that ends it.
        let last = !(header.opcode == protocol::opcode::STAT
            && header.status == protocol::status::NO_ERROR
            && header.key_len > 0);
        if !last {
            self.inflight.push_front(entry);
        }
        self.failures = 0;
        if entry.origin == Origin::Probe {
            self.probing = false;
            self.ejected = false;
        }
        Event::Answer { frame, entry, last }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;
    const BUDGET: usize = 8 << 20;

    fn fill(b: &mut RecvBuffer, bytes: &[u8]) {
        b.tail()[..bytes.len()].copy_from_slice(bytes);
        b.filled(bytes.len());
    }

    #[test]
    fn recv_buffer_grows_and_compacts() {
        let mut b = RecvBuffer::default();
        assert!(b.make_room(24, MAX, BUDGET));
        assert_eq!(b.buf.len(), INITIAL_RECV_BUFFER);
        b.end = b.buf.len();
        b.start = 100;
        assert!(b.make_room(24, MAX, BUDGET));
        assert_eq!(b.start, 0);
        assert_eq!(b.end, INITIAL_RECV_BUFFER - 100);
        assert!(b.make_room(100_000, MAX, BUDGET));
        assert!(b.buf.len() >= 100_000);
        assert!(!b.make_room(2 << 20, MAX, BUDGET));
    }

    /// Bytes handed out (pinned) never move or change while the buffer makes room, grows,
    /// or is cleared by a reset; they are recycled only by `unpin`.
    #[test]
    fn pinned_bytes_stay_put_through_growth_and_reset() {
        let mut b = RecvBuffer::default();
        assert!(b.make_room(24, MAX, BUDGET));
        fill(&mut b, b"value-one|partial");
        b.consume(9);
        b.pin();
        let pinned_ptr = b.buf.as_ptr();
        // Consumed to the end and pinned: the next receive must not start over at 0.
        b.consume(8);
        assert!(b.make_room(24, MAX, BUDGET));
        assert!(b.buf.as_ptr() == pinned_ptr && b.end == 17);
        // A frame that needs more room than is left: a new buffer, the old one retired.
        b.start = 9;
        assert!(b.make_room(INITIAL_RECV_BUFFER * 3, MAX, BUDGET));
        assert!(b.buf.as_ptr() != pinned_ptr);
        assert_eq!(b.pending(), b"|partial");
        assert_eq!(b.retired.len(), 1);
        assert_eq!(&b.retired[0][..9], b"value-one");
        // A reset while pinned (again): retired too, never cleared in place.
        b.pin();
        fill(&mut b, b"more");
        let second = b.buf.as_ptr();
        b.clear();
        assert_eq!(b.retired.len(), 2);
        assert!(b.retired[1].as_ptr() == second);
        assert!(b.is_empty());
        // The next call: retired buffers are recycled (the largest kept as the spare).
        b.unpin();
        assert!(b.retired.is_empty());
        assert!(b.spare.len() >= INITIAL_RECV_BUFFER * 3);
    }

    #[test]
    fn pinned_buffer_respects_the_retire_budget() {
        let mut b = RecvBuffer::default();
        assert!(b.make_room(24, MAX, BUDGET));
        b.end = b.buf.len();
        b.start = b.end;
        b.pin();
        // Budget spent: no room, the caller must return its values first.
        assert!(!b.make_room(24, MAX, 0));
        assert!(b.make_room(24, MAX, BUDGET));
    }

    /// A connection with requests in flight and `bytes` received, without a socket: the
    /// matching logic alone.
    fn scripted(requests: &[(u8, &[u8], u32)], bytes: &[u8]) -> Connection {
        let mut c = Connection::new(ServerAddr::new("127.0.0.1", 1));
        for &(op, key, opaque) in requests {
            let parts = RequestParts {
                opcode: op,
                key,
                opaque,
                ..Default::default()
            };
            let entry = InFlight {
                opaque,
                quiet: protocol::is_quiet(op),
                origin: Origin::User,
                keyed: true,
                key_tag: if returns_key(op) { key_tag(key) } else { 0 },
            };
            c.queue(&parts, entry, 1 << 20).unwrap();
        }
        c.recv.make_room(bytes.len(), MAX, BUDGET);
        fill(&mut c.recv, bytes);
        c
    }

    fn answer(op: u8, status: u16, opaque: u32, key: &[u8], value: &[u8]) -> Vec<u8> {
        let extras: &[u8] = if returns_key(op) || op == protocol::opcode::GET {
            &[0, 0, 0, 5]
        } else {
            &[]
        };
        let mut v = vec![protocol::RESPONSE_MAGIC, op];
        v.extend_from_slice(&(key.len() as u16).to_be_bytes());
        v.push(extras.len() as u8);
        v.push(0);
        v.extend_from_slice(&status.to_be_bytes());
        v.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
        v.extend_from_slice(&opaque.to_ne_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(extras);
        v.extend_from_slice(key);
        v.extend_from_slice(value);
        v
    }

    use protocol::opcode::{GETK, GETKQ, NOOP, STAT};

    #[test]
    fn quiet_requests_before_an_answer_are_reported_unanswered_in_order() {
        let bytes = answer(NOOP, 0, 13, b"", b"");
        let mut c = scripted(
            &[(GETKQ, b"a", 10), (GETKQ, b"b", 11), (GETK, b"c", 12)],
            &bytes,
        );
        c.queue_noop(13, Origin::TrailingNoop);
        for expected in [10, 11, 12] {
            match c.next_event(MAX) {
                Event::Unanswered(f) => assert_eq!(f.opaque, expected),
                other => panic!("{other:?}"),
            }
        }
        match c.next_event(MAX) {
            Event::Answer { entry, last, .. } => {
                assert_eq!(entry.opaque, 13);
                assert!(last);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(c.next_event(MAX), Event::NeedMore));
        assert_eq!(c.inflight_len(), 0);
    }

    #[test]
    fn an_answer_with_another_key_is_corruption_and_keeps_its_request() {
        let bytes = answer(GETK, 0, 7, b"zz-other-key", b"v");
        let mut c = scripted(&[(GETK, b"key0", 7)], &bytes);
        assert!(matches!(
            c.next_event(MAX),
            Event::Corrupt(Corruption::KeyMismatch)
        ));
        assert_eq!(
            c.inflight_len(),
            1,
            "the request is failed by the reset, not answered"
        );
        // The right key, or a miss without a key, is accepted.
        let mut c = scripted(&[(GETK, b"key0", 7)], &answer(GETK, 0, 7, b"key0", b"v"));
        assert!(matches!(c.next_event(MAX), Event::Answer { .. }));
        let mut c = scripted(&[(GETK, b"key0", 7)], &answer(GETK, 1, 7, b"", b""));
        assert!(matches!(c.next_event(MAX), Event::Answer { .. }));
        // A hit without a key cannot be checked: refused.
        let mut c = scripted(&[(GETK, b"key0", 7)], &answer(GETK, 0, 7, b"", b"v"));
        assert!(matches!(c.next_event(MAX), Event::Corrupt(_)));
    }

    #[test]
    fn late_oversized_split_and_stat_answers() {
        // An opaque not in flight: late, the request still waits.
        let mut c = scripted(&[(GETK, b"k", 20)], &answer(GETK, 0, 3, b"k", b"old"));
        assert!(matches!(c.next_event(MAX), Event::Late(_)));
        assert_eq!(c.inflight_len(), 1);
        // Larger than the receive limit: its request gets `Oversized`, bytes are skipped.
        let big = answer(GETK, 0, 20, b"k", &[b'x'; 300]);
        let mut c = scripted(&[(GETK, b"k", 20)], &big[..100]);
        match c.next_event(200) {
            Event::Oversized { entry, header } => {
                assert_eq!(entry.map(|e| e.opaque), Some(20));
                assert_eq!(header.body_len, 4 + 1 + 300);
            }
            other => panic!("{other:?}"),
        }
        assert!(c.is_discarding());
        // A frame split anywhere: NeedMore until complete.
        let whole = answer(GETK, 0, 30, b"key", b"value");
        for cut in 0..whole.len() {
            let mut c = scripted(&[(GETK, b"key", 30)], &whole[..cut]);
            assert!(matches!(c.next_event(MAX), Event::NeedMore), "cut {cut}");
        }
        // STAT rows keep the request until the empty row.
        let mut bytes = answer(STAT, 0, 40, b"pid", b"1");
        bytes.extend(answer(STAT, 0, 40, b"", b""));
        let mut c = scripted(&[(STAT, b"", 40)], &bytes);
        assert!(matches!(
            c.next_event(MAX),
            Event::Answer { last: false, .. }
        ));
        assert!(matches!(
            c.next_event(MAX),
            Event::Answer { last: true, .. }
        ));
        assert_eq!(c.inflight_len(), 0);
    }

    #[test]
    fn key_tags_differ_and_are_never_zero() {
        assert_ne!(key_tag(b"key0"), key_tag(b"zz-other-key"));
        assert_ne!(key_tag(b"fk-0"), key_tag(b"zk-0"));
        assert_ne!(key_tag(b""), 0);
        assert_eq!(key_tag(b"abc"), key_tag(b"abc"));
    }
}
