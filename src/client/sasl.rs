//! SASL authentication of new connections (binary protocol only, mechanism PLAIN).
//!
//! With credentials in [`Settings::sasl`](super::Settings::sasl), every connection the engine
//! opens — the first one, a reconnect after a reset, a failover probe — carries a SASL AUTH
//! request ahead of every other byte it sends, so nothing of the caller's goes out before it
//! (requests queued meanwhile are pipelined behind it; a server that refuses the credentials
//! answers each of them with an authentication error and executes none). The server's answer
//! must come within the connect timeout. A refusal fails the server with
//! [`Failure::AuthFailed`](super::Failure::AuthFailed): its requests fail with it and the
//! failover policy takes the server out of service, so credentials the server refuses are
//! tried again only after the retry time, never in a loop.

use std::fmt;

/// A user name and password for SASL PLAIN. `Debug` never shows the password, and the
/// password's bytes are overwritten when the value is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    pub username: Vec<u8>,
    pub password: Vec<u8>,
}

impl SaslCredentials {
    pub fn new(username: impl AsRef<[u8]>, password: impl AsRef<[u8]>) -> SaslCredentials {
        SaslCredentials {
            username: username.as_ref().to_vec(),
            password: password.as_ref().to_vec(),
        }
    }

    /// PLAIN carries the names NUL-separated: neither may contain a NUL byte.
    pub fn is_valid(&self) -> bool {
        !self.username.contains(&0) && !self.password.contains(&0)
    }

    /// The PLAIN message (RFC 4616): no authorization identity, then the user name and the
    /// password, each after a NUL.
    pub(crate) fn plain_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(2 + self.username.len() + self.password.len());
        m.push(0);
        m.extend_from_slice(&self.username);
        m.push(0);
        m.extend_from_slice(&self.password);
        m
    }
}

impl fmt::Debug for SaslCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslCredentials")
            .field("username", &String::from_utf8_lossy(&self.username))
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Drop for SaslCredentials {
    fn drop(&mut self) {
        self.password.fill(0);
        // Keeps the writes from being optimised away as dead stores.
        std::hint::black_box(&self.password);
    }
}

/// The SASL mechanism the engine speaks.
pub const MECHANISM: &[u8] = b"PLAIN";

impl super::Client {
    /// Sets (or with None removes) the SASL credentials, like assigning
    /// [`Settings::sasl`](super::Settings::sasl), and lets servers that were put out of
    /// service be tried again at once with them (a refused authentication would otherwise
    /// keep a server out until its retry time). Open connections keep their identity.
    pub fn set_sasl(&mut self, credentials: Option<SaslCredentials>) {
        self.settings.sasl = credentials;
        let now = std::time::Instant::now();
        self.active.mark_stale();
        for c in &mut self.conns {
            if matches!(c.state(), crate::connection::State::Dead { .. }) {
                if c.is_ejected() {
                    // Ejected: its background probe is due now.
                    c.mark_dead(now, true);
                } else {
                    c.revive();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_message_and_hidden_password() {
        let c = SaslCredentials::new("user", "s3cret");
        assert_eq!(c.plain_message(), b"\0user\0s3cret");
        let shown = format!("{c:?}");
        assert!(shown.contains("user"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(c.is_valid());
        assert!(!SaslCredentials::new("us\0er", "p").is_valid());
        assert!(!SaslCredentials::new("user", "p\0").is_valid());
    }
}
