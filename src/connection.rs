//! One server: its socket, the bytes not yet written, the bytes received but not yet parsed,
//! the requests in flight (in send order, matched by opaque), and its connection state.
//! It performs I/O and reports what happened; what to do about failures is the client's policy.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::address::ServerAddr;
use crate::sys;

/// Resolved addresses of a host name are reused for this long.
const ADDRESS_CACHE_TTL: Duration = Duration::from_secs(60);

/// The first receive buffer of a connection; it grows (up to the configured maximum) when a
/// frame or a burst of frames needs more.
const INITIAL_RECV_BUFFER: usize = 32 * 1024;

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
}

/// The requests queued or sent on a connection, in send order (= answer order), with a count
/// of those that will be answered (non-quiet), so that "is an answer awaited" is O(1) even
/// with a million quiet requests queued.
#[derive(Debug, Default)]
pub struct InFlightQueue {
    entries: VecDeque<InFlight>,
    awaiting: usize,
}

impl InFlightQueue {
    pub fn push(&mut self, f: InFlight) {
        self.awaiting += usize::from(!f.quiet);
        self.entries.push_back(f);
    }

    pub fn pop_front(&mut self) -> Option<InFlight> {
        let f = self.entries.pop_front()?;
        self.awaiting -= usize::from(!f.quiet);
        Some(f)
    }

    pub fn front(&self) -> Option<&InFlight> {
        self.entries.front()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.awaiting = 0;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn awaits_response(&self) -> bool {
        self.awaiting > 0
    }

    /// Where a response's opaque is in the queue; None for a late (or bogus) answer.
    pub fn position(&self, opaque: u32) -> Option<usize> {
        let (front, back) = (self.entries.front()?, self.entries.back()?);
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
#[derive(Debug, Default)]
pub struct RecvBuffer {
    pub buf: Vec<u8>,
    pub start: usize,
    pub end: usize,
    /// Values handed to the caller point into `buf`: no compaction or growth until unpinned.
    pub pinned: bool,
    /// Bytes of an oversized frame still to be skipped.
    pub discard: u64,
}

impl RecvBuffer {
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end && !self.pinned {
            self.start = 0;
            self.end = 0;
        }
    }

    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
        self.pinned = false;
        self.discard = 0;
    }

    /// Skips bytes of an oversized frame that are already buffered.
    pub fn skip_discarded(&mut self) {
        if self.discard > 0 {
            let n = (self.discard.min((self.end - self.start) as u64)) as usize;
            self.discard -= n as u64;
            self.consume(n);
        }
    }

    /// Makes room so that the frame at `start`, which needs `need` bytes in total, can be
    /// completed, and so that at least some bytes can be received. Returns false when no room
    /// can be made (pinned and full, or `need` beyond `max`).
    fn make_room(&mut self, need: usize, max: usize) -> bool {
        if self.start == self.end && !self.pinned {
            self.start = 0;
            self.end = 0;
        }
        let fits = self.buf.len() - self.start >= need && self.end < self.buf.len();
        if fits {
            return true;
        }
        if self.pinned {
            return false;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() >= need && self.end < self.buf.len() {
                return true;
            }
        }
        let wanted = need
            .max(self.buf.len() * 2)
            .max(INITIAL_RECV_BUFFER)
            .min(max);
        if wanted <= self.buf.len() || wanted < need {
            return false;
        }
        self.buf.resize(wanted, 0);
        true
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
    WouldBlock,
    /// A blocking receive waited its whole time (the socket's receive timeout) for nothing.
    TimedOut,
    /// The buffer is pinned and full: the caller must consume values first.
    NoRoom,
}

pub struct Connection {
    pub addr: ServerAddr,
    socket: Option<Socket>,
    pub state: State,
    /// Encoded requests; `out[out_pos..]` is not written yet.
    pub out: Vec<u8>,
    pub out_pos: usize,
    pub recv: RecvBuffer,
    pub inflight: InFlightQueue,
    /// The last request queued was quiet: a NOOP must follow before its outcome is known.
    pub tail_quiet: bool,
    /// When I/O on this connection last made progress (for the dead timeout).
    /// `None`: the dead-timeout timer is not running (it starts at the next check).
    pub last_progress: Option<Instant>,
    /// The receive timeout currently set on the socket, in milliseconds (0 = none).
    recv_timeout_ms: u32,
    /// Consecutive failures since the last successful answer (for the failover policy).
    pub failures: u32,
    /// Scratch flag of the client's dispatch: this server already got a request of the batch.
    pub touched: bool,
    /// A background reconnect to a dead server: not used for requests until its probe NOOP
    /// is answered.
    pub probing: bool,
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
            tail_quiet: false,
            last_progress: None,
            recv_timeout_ms: 0,
            failures: 0,
            touched: false,
            probing: false,
            cached_addrs: None,
            resolver: None,
        }
    }

    pub fn fd(&self) -> Option<RawFd> {
        self.socket.as_ref().map(|s| s.as_raw_fd())
    }

    /// Queues a NOOP of the engine's own (its answer is always sent, so it also closes a run
    /// of quiet requests).
    pub fn queue_noop(&mut self, opaque: u32, origin: Origin) {
        let noop = crate::protocol::RequestParts {
            opcode: crate::protocol::opcode::NOOP,
            opaque,
            ..Default::default()
        };
        // A NOOP has no key, extras or value: encoding cannot fail.
        let _ = crate::protocol::encode_request(&mut self.out, &noop);
        self.inflight.push(InFlight {
            opaque,
            quiet: false,
            origin,
            keyed: false,
        });
        self.tail_quiet = false;
    }

    pub fn has_unsent(&self) -> bool {
        self.out_pos < self.out.len()
    }

    pub fn unsent_len(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Whether a response is still expected (a non-quiet request, or a trailing NOOP, in flight).
    pub fn awaits_response(&self) -> bool {
        self.inflight.awaits_response()
    }

    /// Starts connecting. Numeric addresses and unix sockets connect at once (non-blocking);
    /// a host name is first resolved in a helper thread so that a slow resolver never blocks
    /// the caller (state Resolving; `poll_resolver` continues). Err when every address failed.
    pub fn start_connect(&mut self, now: Instant, timeout: Duration) -> io::Result<ConnectStart> {
        self.close_socket();
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
            Err(e) => return Some(Err(e)),
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
                    self.last_progress = Some(now);
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
        self.recv_timeout_ms = 0;
        self.state = State::Connected;
        Ok(())
    }

    pub fn close_socket(&mut self) {
        self.socket = None;
        self.resolver = None;
        if !matches!(self.state, State::Dead { .. }) {
            self.state = State::Idle;
        }
    }

    /// Drops the socket and every byte queued or received; the caller fails `inflight`.
    pub fn reset(&mut self) {
        self.close_socket();
        self.out.clear();
        self.out_pos = 0;
        self.recv.clear();
        self.tail_quiet = false;
    }

    /// Writes as much of the queued bytes as the socket takes without blocking.
    /// Returns Ok(true) when nothing remains queued.
    pub fn flush(&mut self, now: Instant) -> io::Result<bool> {
        let Some(fd) = self.fd() else {
            return Ok(!self.has_unsent());
        };
        while self.out_pos < self.out.len() {
            match sys::send(fd, &self.out[self.out_pos..], true) {
                Ok(n) => {
                    self.out_pos += n;
                    self.last_progress = Some(now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(true)
    }

    /// One receive call. `wait_ms` > 0 blocks in the kernel for at most that long (the socket
    /// is in blocking mode); 0 never blocks. `need` is the total length of the frame being
    /// assembled, `max` the receive buffer limit.
    pub fn receive(&mut self, need: usize, max: usize, wait_ms: u32) -> io::Result<Received> {
        let Some(fd) = self.fd() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        if !self.recv.make_room(need.min(max), max) {
            return Ok(Received::NoRoom);
        }
        if wait_ms > 0 && self.recv_timeout_ms != wait_ms {
            if let Some(s) = &self.socket {
                s.set_read_timeout(Some(Duration::from_millis(wait_ms as u64)))?;
            }
            self.recv_timeout_ms = wait_ms;
        }
        let end = self.recv.end;
        match sys::recv(fd, &mut self.recv.buf[end..], wait_ms == 0) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            )),
            Ok(n) => {
                self.recv.end += n;
                Ok(Received::Bytes(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && wait_ms > 0 => {
                Ok(Received::TimedOut)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recv_buffer_grows_and_compacts() {
        let mut b = RecvBuffer::default();
        assert!(b.make_room(24, 1 << 20));
        assert_eq!(b.buf.len(), INITIAL_RECV_BUFFER);
        b.end = b.buf.len();
        b.start = 100;
        assert!(b.make_room(24, 1 << 20));
        assert_eq!(b.start, 0);
        assert_eq!(b.end, INITIAL_RECV_BUFFER - 100);
        b.pinned = true;
        b.end = b.buf.len();
        assert!(!b.make_room(24, 1 << 20));
        b.pinned = false;
        assert!(b.make_room(100_000, 1 << 20));
        assert!(b.buf.len() >= 100_000);
        assert!(!b.make_room(2 << 20, 1 << 20));
    }
}
