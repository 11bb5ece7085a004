//! OMcache's return codes (`omcache_ret_t`) and messages for the engine's neutral outcomes.
//! The numbers are OMcache 0.3's ABI; several equal the binary protocol's status codes.

use std::ffi::c_int;

use crate::client::{Failure, Status};

pub(crate) const OK: c_int = 0x00;
pub(crate) const NOT_FOUND: c_int = 0x01;
pub(crate) const KEY_EXISTS: c_int = 0x02;
pub(crate) const TOO_LARGE_VALUE: c_int = 0x03;
pub(crate) const NOT_STORED: c_int = 0x05;
pub(crate) const DELTA_BAD_VALUE: c_int = 0x06;
pub(crate) const FAIL: c_int = 0x0fff;
pub(crate) const AGAIN: c_int = 0x1001;
pub(crate) const INVALID: c_int = 0x1002;
pub(crate) const BUFFERED: c_int = 0x1003;
pub(crate) const BUFFER_FULL: c_int = 0x1004;
pub(crate) const NO_SERVERS: c_int = 0x1005;
pub(crate) const SERVER_FAILURE: c_int = 0x1006;

/// The OMcache return code for an engine outcome.
pub(crate) fn code(status: Status) -> c_int {
    match status {
        Status::Ok => OK,
        Status::NotFound => NOT_FOUND,
        Status::KeyExists => KEY_EXISTS,
        Status::TooLargeValue => TOO_LARGE_VALUE,
        Status::NotStored => NOT_STORED,
        Status::DeltaBadValue => DELTA_BAD_VALUE,
        // OMcache has no code of its own for the other server answers.
        Status::InvalidArguments | Status::ServerError(_) => FAIL,
        Status::Failed(Failure::InvalidRequest) => INVALID,
        Status::Failed(Failure::NoServers) => NO_SERVERS,
        Status::Failed(Failure::SendBufferFull | Failure::ValueTooLarge) => BUFFER_FULL,
        Status::Failed(_) => SERVER_FAILURE,
        Status::Buffered => BUFFERED,
        Status::Again => AGAIN,
    }
}

/// OMcache 0.3's messages (observable output of `omcache_strerror`), NUL-terminated.
pub(crate) fn message(rc: c_int) -> &'static [u8] {
    match rc {
        OK => b"Success\0",
        NOT_FOUND => b"Key not found from memcached\0",
        KEY_EXISTS => b"Conflicting key exists in memcached\0",
        TOO_LARGE_VALUE => b"Value size exceeds maximum\0",
        NOT_STORED => b"Append or prepend value not stored\0",
        DELTA_BAD_VALUE => b"Existing value can not be incremented or decremented\0",
        FAIL => b"Command failed in memcached\0",
        AGAIN => b"Call would block, try again\0",
        INVALID => b"Invalid parameters\0",
        BUFFERED => b"Data buffered in OMcache\0",
        BUFFER_FULL => b"Buffer full, command dropped\0",
        NO_SERVERS => b"No server available\0",
        SERVER_FAILURE => b"Failure communicating to server\0",
        _ => b"Unknown\0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_a_code_with_a_message() {
        let failures = [
            Failure::InvalidRequest,
            Failure::NoServers,
            Failure::SendBufferFull,
            Failure::ValueTooLarge,
            Failure::ConnectRefused,
            Failure::ConnectTimeout,
            Failure::NameNotResolved,
            Failure::ConnectionReset,
            Failure::ProtocolError,
            Failure::Timeout,
            Failure::ServerDead,
            Failure::ServerTemporarilyDisabled,
            Failure::AuthFailed,
            Failure::AuthUnsupported,
            Failure::SaslConfig,
        ];
        let mut all = vec![
            Status::Ok,
            Status::NotFound,
            Status::KeyExists,
            Status::TooLargeValue,
            Status::InvalidArguments,
            Status::NotStored,
            Status::DeltaBadValue,
            Status::ServerError(0x81),
            Status::Buffered,
            Status::Again,
        ];
        all.extend(failures.iter().map(|&f| Status::Failed(f)));
        for s in all {
            assert_ne!(message(code(s)), b"Unknown\0", "{s:?}");
        }
        // Codes that equal the binary protocol's statuses.
        for wire in [0u16, 1, 2, 3, 5, 6] {
            assert_eq!(code(Status::from_wire(wire)), wire as c_int);
        }
    }
}
