//! What happened, neutral to every face: the server's answer as it came (its binary-protocol
//! status), or why the client could not get one. Each C face maps these to its own return
//! codes and messages in its own module.

use std::fmt;

use crate::protocol::status as wire;

use super::tls::TlsFailure;

/// Why a request got no answer from a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The request cannot be sent: no key where one is needed, a key over 250 bytes, lengths
    /// that do not fit the protocol.
    InvalidRequest,
    /// There is no server to send it to (none configured, or every one ejected).
    NoServers,
    /// Its server's send buffer is full: the request was dropped.
    SendBufferFull,
    /// The answer is larger than the receive limit: it was skipped.
    ValueTooLarge,
    /// Nobody listens at the server's address.
    ConnectRefused,
    /// The connect did not finish within connect_timeout.
    ConnectTimeout,
    /// The server's host name does not resolve (or not within connect_timeout).
    NameNotResolved,
    /// The connection closed or failed with the request in flight.
    ConnectionReset,
    /// The server sent what is not an answer to this request (bad frame, another key).
    ProtocolError,
    /// No progress for dead_timeout with the request unanswered.
    Timeout,
    /// The server is out of service and the request was addressed to it.
    ServerDead,
    /// The server is out of service until its retry time, its keys not moved elsewhere.
    ServerTemporarilyDisabled,
    /// The server refused the SASL credentials (or asked for a step PLAIN does not have).
    AuthFailed,
    /// SASL credentials are set but the server does not know SASL (memcached without `-S`
    /// answers "unknown command"): nothing else was sent to it.
    AuthUnsupported,
    /// SASL credentials are set but cannot be used: the protocol is not binary (memcached
    /// authenticates only there), or a name contains a NUL byte. Nothing was sent.
    SaslConfig,
    /// TLS to the server failed (see [`TlsFailure`]); nothing was sent in the clear. With
    /// `TlsFailure::Config` the settings are unusable and nothing was sent at all.
    Tls(TlsFailure),
}

impl Failure {
    /// A failure of the server or the path to it (as opposed to the request or the client).
    pub fn is_server_failure(self) -> bool {
        !matches!(
            self,
            Failure::InvalidRequest
                | Failure::NoServers
                | Failure::SendBufferFull
                | Failure::ValueTooLarge
                | Failure::SaslConfig
                | Failure::Tls(TlsFailure::Config)
        )
    }

    pub fn message(self) -> &'static str {
        match self {
            Failure::InvalidRequest => "invalid request",
            Failure::NoServers => "no server available",
            Failure::SendBufferFull => "send buffer full, request dropped",
            Failure::ValueTooLarge => "answer larger than the receive limit",
            Failure::ConnectRefused => "connection refused",
            Failure::ConnectTimeout => "connect timed out",
            Failure::NameNotResolved => "host name not resolved",
            Failure::ConnectionReset => "connection closed by the server",
            Failure::ProtocolError => "protocol error",
            Failure::Timeout => "server did not answer in time",
            Failure::ServerDead => "server is out of service",
            Failure::ServerTemporarilyDisabled => "server temporarily disabled",
            Failure::AuthFailed => "SASL authentication failed",
            Failure::AuthUnsupported => "the server does not support SASL authentication",
            Failure::SaslConfig => "SASL needs the binary protocol and names without NUL bytes",
            Failure::Tls(t) => t.message(),
        }
    }
}

/// The outcome of a request (or, for `Buffered` and `Again`, of a call).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The server answered with success.
    Ok,
    /// The server answered "not found".
    NotFound,
    /// The server answered "exists" (a CAS mismatch, or add of an existing key).
    KeyExists,
    /// The server answered "value too large".
    TooLargeValue,
    /// The server answered "invalid arguments".
    InvalidArguments,
    /// The server answered "not stored".
    NotStored,
    /// The server answered "non-numeric value" to an increment or decrement.
    DeltaBadValue,
    /// The server answered with another status, as received (unknown command, out of memory,
    /// authentication, ...).
    ServerError(u16),
    /// No answer: why.
    Failed(Failure),
    /// Call outcome: requests are queued, not sent or not answered yet (no wait).
    Buffered,
    /// Call outcome: the time given ran out (or values must be consumed first).
    Again,
}

impl Status {
    /// A binary-protocol response status, as received.
    pub fn from_wire(status: u16) -> Status {
        match status {
            wire::NO_ERROR => Status::Ok,
            wire::KEY_NOT_FOUND => Status::NotFound,
            wire::KEY_EXISTS => Status::KeyExists,
            wire::VALUE_TOO_LARGE => Status::TooLargeValue,
            wire::INVALID_ARGUMENTS => Status::InvalidArguments,
            wire::ITEM_NOT_STORED => Status::NotStored,
            wire::DELTA_BAD_VALUE => Status::DeltaBadValue,
            other => Status::ServerError(other),
        }
    }

    /// The binary-protocol status this answer had; None for client-side outcomes.
    pub fn wire(self) -> Option<u16> {
        Some(match self {
            Status::Ok => wire::NO_ERROR,
            Status::NotFound => wire::KEY_NOT_FOUND,
            Status::KeyExists => wire::KEY_EXISTS,
            Status::TooLargeValue => wire::VALUE_TOO_LARGE,
            Status::InvalidArguments => wire::INVALID_ARGUMENTS,
            Status::NotStored => wire::ITEM_NOT_STORED,
            Status::DeltaBadValue => wire::DELTA_BAD_VALUE,
            Status::ServerError(code) => code,
            _ => return None,
        })
    }

    /// The failure, if the request got no answer.
    pub fn failure(self) -> Option<Failure> {
        match self {
            Status::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// No answer because of the server or the path to it.
    pub fn is_server_failure(self) -> bool {
        self.failure().is_some_and(Failure::is_server_failure)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Ok => f.write_str("success"),
            Status::NotFound => f.write_str("not found"),
            Status::KeyExists => f.write_str("key exists"),
            Status::TooLargeValue => f.write_str("value too large"),
            Status::InvalidArguments => f.write_str("invalid arguments"),
            Status::NotStored => f.write_str("not stored"),
            Status::DeltaBadValue => f.write_str("value is not a number"),
            Status::ServerError(code) => write!(f, "server error 0x{code:04x}"),
            Status::Failed(failure) => f.write_str(failure.message()),
            Status::Buffered => f.write_str("queued"),
            Status::Again => f.write_str("not finished in time"),
        }
    }
}

impl std::error::Error for Status {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_statuses_round_trip() {
        for code in [0u16, 1, 2, 3, 4, 5, 6, 0x20, 0x81, 0x82, 0xffff] {
            assert_eq!(Status::from_wire(code).wire(), Some(code));
        }
        assert_eq!(Status::Failed(Failure::Timeout).wire(), None);
        assert!(Status::Failed(Failure::ConnectRefused).is_server_failure());
        assert!(!Status::Failed(Failure::NoServers).is_server_failure());
    }
}
