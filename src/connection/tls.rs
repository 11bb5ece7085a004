//! A connection's TLS session: the rustls client state between the socket and the
//! connection's plaintext buffers. Requests are encrypted on their way from the send buffer to
//! the socket, answers decrypted from the socket into the receive buffer, so framing,
//! pipelining and timeouts above it are those of a plain connection.

use std::io;
use std::net::IpAddr;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::{DnsName, ServerName};
use rustls::ClientConnection;

use super::{Connection, Received};
use crate::client::TlsFailure;
use crate::sys;

/// Bytes read from the socket at once. rustls reads at most 4 KiB per `read_tls` when its
/// buffer is empty: a 100-key multi-get answer (about 14 KiB of records) took 4 receive
/// calls that way; read here, it takes one (two full records fit).
const CIPHERTEXT_BUFFER: usize = 32 * 1024;

/// The socket as rustls writes it: never SIGPIPE, never blocking.
struct FdIo {
    fd: RawFd,
}

impl io::Write for FdIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::send(self.fd, buf, true)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket as the flush writes records to it: like `FdIo`, and all the records rustls
/// holds in one sendmsg (a request over 16 KiB is several records; one send each before).
struct SocketIo<'a>(&'a socket2::Socket);

impl io::Write for SocketIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        loop {
            match self
                .0
                .send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
            {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(super) struct TlsSession {
    pub(super) conn: ClientConnection,
    /// While the handshake runs: when it must have finished.
    pub(super) handshake_deadline: Option<Instant>,
    /// The last receive stopped with the receive buffer full while rustls may hold more
    /// decrypted bytes, or bytes read from the socket wait in `ciphertext`: either way no
    /// poll of the socket would report them.
    pub(super) maybe_plaintext: bool,
    /// Decrypted bytes rustls holds (counted from what `process` reports and what was read
    /// since), so that an empty session is not asked for more.
    plaintext: usize,
    /// The server has sent close_notify: nothing more comes.
    peer_closed: bool,
    /// Bytes came from the server: a close during the handshake after that is a handshake
    /// cut short, not a server that does not speak TLS.
    heard_from_server: bool,
    /// What the last socket read brought, `ciphertext[cipher_start..cipher_end]` not yet
    /// handed to rustls (allocated once per session).
    ciphertext: Box<[u8]>,
    cipher_start: usize,
    cipher_end: usize,
    /// The handshake has just finished (taken by the client, which logs it).
    pub(super) established: bool,
}

impl TlsSession {
    /// Starts a session to `host` (a name or an IP address; IP addresses are verified as IP
    /// subject alternative names and get no SNI, names are sent as SNI).
    pub(super) fn start(
        config: Arc<rustls::ClientConfig>,
        host: &str,
        deadline: Instant,
    ) -> Result<TlsSession, String> {
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::DnsName(
                DnsName::try_from(host.to_string())
                    .map_err(|_| format!("TLS: {host:?} is not a valid server name"))?,
            ),
        };
        let conn = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
        Ok(TlsSession {
            conn,
            handshake_deadline: Some(deadline),
            maybe_plaintext: false,
            plaintext: 0,
            peer_closed: false,
            heard_from_server: false,
            ciphertext: vec![0; CIPHERTEXT_BUFFER].into_boxed_slice(),
            cipher_start: 0,
            cipher_end: 0,
            established: false,
        })
    }

    pub(super) fn is_handshaking(&self) -> bool {
        self.handshake_deadline.is_some()
    }

    /// Takes in what the socket delivered; Err with the failure when the peer's bytes are
    /// not an acceptable TLS stream. The alert rustls queued is sent, best effort.
    pub(super) fn process(&mut self, fd: RawFd) -> Result<(), (TlsFailure, String)> {
        match self.conn.process_new_packets() {
            Ok(state) => {
                self.plaintext = state.plaintext_bytes_to_read();
                self.peer_closed = state.peer_has_closed();
                if self.handshake_deadline.is_some() && !self.conn.is_handshaking() {
                    self.handshake_deadline = None;
                    self.established = true;
                }
                Ok(())
            }
            Err(e) => {
                let failure = TlsFailure::of(&e);
                let _ = self.conn.write_tls(&mut FdIo { fd });
                Err((failure, format!("{}: {e}", failure.message())))
            }
        }
    }

    /// The handshake resumed an earlier session (None: not finished).
    pub(super) fn resumed(&self) -> Option<bool> {
        self.conn
            .handshake_kind()
            .filter(|_| !self.is_handshaking())
            .map(|k| k == rustls::HandshakeKind::Resumed)
    }
}

impl Connection {
    /// `flush` through the TLS session: plaintext from the send buffer into rustls, records
    /// from rustls to the socket, until everything is out or the socket is full.
    pub(super) fn flush_tls(&mut self, now: Option<Instant>) -> io::Result<bool> {
        let limit = self.send_limit();
        let (Some(tls), Some(socket)) = (self.tls.as_mut(), self.socket.as_ref()) else {
            return Ok(!self.has_unsent());
        };
        let handshaking = tls.is_handshaking();
        loop {
            while tls.conn.wants_write() {
                match tls.conn.write_tls(&mut SocketIo(socket)) {
                    // Handshake records are not progress on requests.
                    Ok(_) => Self::note_sent(
                        &mut self.progress_at,
                        &mut self.silence_waited,
                        &mut self.send_blocked,
                        now,
                        !handshaking,
                    ),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.send_blocked = true;
                        return Ok(false);
                    }
                    Err(e) => return Err(e),
                }
            }
            if self.out_pos >= limit {
                break;
            }
            // rustls takes up to its buffer limit; the loop writes that out and goes on.
            let n = io::Write::write(&mut tls.conn.writer(), &self.out[self.out_pos..limit])?;
            self.out_pos += n;
            if n == 0 && !tls.conn.wants_write() {
                break;
            }
        }
        if self.out_pos < self.out.len() {
            // Held back until the handshake (or the SASL authentication) is done, or not
            // taken by rustls yet.
            return Ok(false);
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(true)
    }

    /// `close_if_unsolicited` over TLS: one non-blocking read through the session of an idle,
    /// established text connection. Handshake messages (session tickets, key updates) are
    /// taken in and are not a reason to close; plaintext is (it would be taken for the next
    /// request's answer), and so is a session the server ended or broke, which the next
    /// request could not use either.
    pub(super) fn close_if_unsolicited_tls(&mut self) -> bool {
        if !self.is_idle_line_protocol() || self.tls.as_ref().map_or(true, |t| t.is_handshaking()) {
            return false;
        }
        let Some(fd) = self.fd() else {
            return false;
        };
        if let Ok(Received::WouldBlock) = self.receive_tls(fd, true) {
            return false;
        }
        // What is still in flight is quiet (noreply): never answered, nothing waits for it.
        self.inflight.clear();
        self.reset();
        true
    }

    /// `receive` through the TLS session: at most one read of the socket (blocking as the
    /// socket's receive timeout says, unless `dontwait`), into the session's own buffer, and
    /// only when nothing read earlier is left; then as much plaintext as the receive buffer
    /// takes, decrypted record by record (rustls takes at most about 4 KiB per `read_tls`).
    pub(super) fn receive_tls(&mut self, fd: RawFd, dontwait: bool) -> io::Result<Received> {
        let Some(tls) = self.tls.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let mut socket_read = false;
        let mut total = 0;
        loop {
            if tls.plaintext > 0 {
                let tail = self.recv.tail();
                if tail.is_empty() {
                    // Full: rustls holds more.
                    tls.maybe_plaintext = true;
                    break;
                }
                let n = io::Read::read(&mut tls.conn.reader(), tail)?;
                // Never 0 with bytes held and room: a 0 would only mean the count is off.
                tls.plaintext = if n == 0 {
                    0
                } else {
                    tls.plaintext.saturating_sub(n)
                };
                self.recv.filled(n);
                total += n;
                continue;
            }
            // rustls holds no plaintext: hand it what the socket brought.
            if tls.cipher_start < tls.cipher_end {
                let mut pending = &tls.ciphertext[tls.cipher_start..tls.cipher_end];
                let n = tls.conn.read_tls(&mut pending)?;
                if n == 0 {
                    // The server's close_notify came before these bytes: they are not part
                    // of the session.
                    tls.cipher_start = 0;
                    tls.cipher_end = 0;
                    if total > 0 {
                        break;
                    }
                    tls.maybe_plaintext = false;
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the TLS session",
                    ));
                }
                tls.cipher_start += n;
                if tls.cipher_start == tls.cipher_end {
                    tls.cipher_start = 0;
                    tls.cipher_end = 0;
                }
                if let Err((failure, why)) = tls.process(fd) {
                    tls.maybe_plaintext = false;
                    self.tls_failure = Some(failure);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, why));
                }
                continue;
            }
            tls.maybe_plaintext = false;
            if total > 0 {
                break;
            }
            // Checked before giving up on this read: a read that brought only the server's
            // close_notify (memcached's idle_timeout) is the session's end, not "nothing yet".
            if tls.peer_closed {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the TLS session",
                ));
            }
            if socket_read {
                break;
            }
            socket_read = true;
            match sys::recv(fd, &mut tls.ciphertext, dontwait) {
                Ok(0) => {
                    if tls.is_handshaking() {
                        // At once: a plaintext server that closes on our ClientHello. After
                        // part of the handshake: a TLS server (or something between) that
                        // ended it without an alert.
                        let (failure, why) = if tls.heard_from_server {
                            (
                                TlsFailure::ClosedInHandshake,
                                "TLS: the server closed the connection during the handshake",
                            )
                        } else {
                            (
                                TlsFailure::NotTls,
                                "TLS: the server closed the connection on our ClientHello \
                                 (does it speak TLS?)",
                            )
                        };
                        self.tls_failure = Some(failure);
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
                    }
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the connection",
                    ));
                }
                Ok(n) => {
                    tls.cipher_start = 0;
                    tls.cipher_end = n;
                    tls.heard_from_server = true;
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted =>
                {
                    return Ok(Received::WouldBlock);
                }
                Err(e) => return Err(e),
            }
        }
        if total == 0 {
            return Ok(Received::WouldBlock);
        }
        // Progress: the dead-timeout timer restarts at the client's next check.
        self.progress_at = None;
        self.silence_waited = std::time::Duration::ZERO;
        Ok(Received::Bytes(total))
    }
}
