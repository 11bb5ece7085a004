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

use crate::client::TlsFailure;
use crate::sys;

/// The socket as rustls reads and writes it: never SIGPIPE, non-blocking writes; a read
/// blocks (up to the socket's receive timeout) only when asked to.
pub(super) struct FdIo {
    pub(super) fd: RawFd,
    pub(super) dontwait: bool,
}

impl io::Read for FdIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::recv(self.fd, buf, self.dontwait)
    }
}

impl io::Write for FdIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::send(self.fd, buf, true)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(super) struct TlsSession {
    pub(super) conn: ClientConnection,
    /// While the handshake runs: when it must have finished.
    pub(super) handshake_deadline: Option<Instant>,
    /// The last read filled the receive buffer's free space: rustls may hold more decrypted
    /// bytes, which no poll of the socket would report.
    pub(super) maybe_plaintext: bool,
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
            Ok(_) => {
                if self.handshake_deadline.is_some() && !self.conn.is_handshaking() {
                    self.handshake_deadline = None;
                    self.established = true;
                }
                Ok(())
            }
            Err(e) => {
                let failure = TlsFailure::of(&e);
                let _ = self.conn.write_tls(&mut FdIo { fd, dontwait: true });
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
