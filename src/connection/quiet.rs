//! Whether a connection needs the engine's attention at all: the client's loops visit only
//! the connections that may (see `client::active`), so that a request costs the same with
//! 4 servers as with 10,000.

use super::{Connection, State};

impl Connection {
    /// Nothing to do here for any loop of the client: not connecting, dead or probing;
    /// nothing queued, in flight or received and unprocessed; no value of the last call
    /// pinned in its buffers (the next call must unpin it); no TLS or SASL step pending.
    pub fn is_quiet(&self) -> bool {
        matches!(self.state, State::Idle | State::Connected)
            && !self.probing
            && !self.has_work()
            && !self.tail_quiet
            && self.skip == 0
            && self.recv.is_empty()
            && !self.recv.pinned
            && self.recv.retired.is_empty()
            && !self.recv.discarding()
            && self.auth_deadline.is_none()
            && !self.tls_handshaking()
            && !self.tls_has_plaintext()
            && !self.tls_wants_write()
    }
}
