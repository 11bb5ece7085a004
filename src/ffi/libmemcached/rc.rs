//! `memcached_return_t`: libmemcached 1.1.4's return codes, their `memcached_strerror` texts,
//! and the engine's neutral outcomes in those terms.

use std::ffi::c_int;

use crate::client::{Failure, Status};

pub type memcached_return_t = c_int;

pub const SUCCESS: c_int = 0;
/// MEMCACHED_FAILURE, for a callback that panicked.
pub const FAILURE_CALLBACK: c_int = 1;
/// MEMCACHED_FAILURE (a value that does not decrypt).
pub const FAILURE: c_int = 1;
pub const HOST_LOOKUP_FAILURE: c_int = 2;
pub const CONNECTION_FAILURE: c_int = 3;
pub const WRITE_FAILURE: c_int = 5;
pub const READ_FAILURE: c_int = 6;
pub const UNKNOWN_READ_FAILURE: c_int = 7;
pub const PROTOCOL_ERROR: c_int = 8;
pub const CLIENT_ERROR: c_int = 9;
pub const SERVER_ERROR: c_int = 10;
pub const ERROR: c_int = 11;
pub const DATA_EXISTS: c_int = 12;
pub const NOTSTORED: c_int = 14;
pub const NOTFOUND: c_int = 16;
pub const SOME_ERRORS: c_int = 19;
pub const NO_SERVERS: c_int = 20;
/// MEMCACHED_ERRNO: a system call failed (a unix socket path that does not exist).
pub const ERRNO: c_int = 26;
pub const NOT_SUPPORTED: c_int = 28;
pub const TIMEOUT: c_int = 31;
pub const BUFFERED: c_int = 32;
pub const BAD_KEY_PROVIDED: c_int = 33;
pub const SERVER_MARKED_DEAD: c_int = 35;
pub const E2BIG: c_int = 37;
pub const INVALID_ARGUMENTS: c_int = 38;
pub const AUTH_FAILURE: c_int = 41;
pub const AUTH_CONTINUE: c_int = 42;
pub const DEPRECATED: c_int = 45;
pub const SERVER_TEMPORARILY_DISABLED: c_int = 47;
pub const SERVER_MEMORY_ALLOCATION_FAILURE: c_int = 48;

/// `memcached_strerror`'s texts (observable output of every libmemcached tool), by code.
// str, not bytes: `text` then needs no UTF-8 check per call (it is on every failed call's path).
const MESSAGES: [&str; 50] = [
    "SUCCESS\0",
    "FAILURE\0",
    "getaddrinfo() or getnameinfo() HOSTNAME LOOKUP FAILURE\0",
    "CONNECTION FAILURE\0",
    "CONNECTION BIND FAILURE\0",
    "WRITE FAILURE\0",
    "READ FAILURE\0",
    "UNKNOWN READ FAILURE\0",
    "PROTOCOL ERROR\0",
    "CLIENT ERROR\0",
    "SERVER ERROR\0",
    "ERROR was returned by server\0",
    "CONNECTION DATA EXISTS\0",
    "CONNECTION DATA DOES NOT EXIST\0",
    "NOT STORED\0",
    "STORED\0",
    "NOT FOUND\0",
    "MEMORY ALLOCATION FAILURE\0",
    "PARTIAL READ\0",
    "SOME ERRORS WERE REPORTED\0",
    "NO SERVERS DEFINED\0",
    "SERVER END\0",
    "SERVER DELETE\0",
    "SERVER VALUE\0",
    "STAT VALUE\0",
    "ITEM VALUE\0",
    "SYSTEM ERROR\0",
    "COULD NOT OPEN UNIX SOCKET\0",
    "ACTION NOT SUPPORTED\0",
    "A KEY LENGTH OF ZERO WAS PROVIDED\0",
    "FETCH WAS NOT COMPLETED\0",
    "A TIMEOUT OCCURRED\0",
    "ACTION QUEUED\0",
    "A BAD KEY WAS PROVIDED/CHARACTERS OUT OF RANGE\0",
    "THE HOST TRANSPORT PROTOCOL DOES NOT MATCH THAT OF THE CLIENT\0",
    "SERVER IS MARKED DEAD\0",
    "ENCOUNTERED AN UNKNOWN STAT KEY\0",
    "ITEM TOO BIG\0",
    "INVALID ARGUMENTS\0",
    "KEY RETURNED FROM SERVER WAS TOO LARGE\0",
    "FAILED TO SEND AUTHENTICATION TO SERVER\0",
    "AUTHENTICATION FAILURE\0",
    "CONTINUE AUTHENTICATION\0",
    "ERROR OCCURED WHILE PARSING\0",
    "USER INITIATED ERROR OCCURED WHILE PARSING\0",
    "DEPRECATED\0",
    "OPERATION IN PROCESS\0",
    "SERVER HAS FAILED AND IS DISABLED UNTIL TIMED RETRY\0",
    "SERVER FAILED TO ALLOCATE OBJECT\0",
    "INVALID memcached_return_t\0",
];

/// The NUL-terminated text of a code (out-of-range codes give the last entry, as libmemcached).
pub fn message(rc: c_int) -> &'static [u8] {
    message_str(rc).as_bytes()
}

fn message_str(rc: c_int) -> &'static str {
    usize::try_from(rc)
        .ok()
        .and_then(|i| MESSAGES.get(i))
        .copied()
        .unwrap_or(MESSAGES[49])
}

/// The text without its NUL.
pub fn text(rc: c_int) -> &'static str {
    let m = message_str(rc);
    &m[..m.len() - 1]
}

/// An engine outcome in libmemcached's terms, `server_message` being the text of a text or
/// meta error line (libmemcached maps `SERVER_ERROR out of memory` and friends by text).
pub fn from_status(status: Status, server_message: &[u8]) -> c_int {
    match status {
        Status::Ok => SUCCESS,
        Status::NotFound => NOTFOUND,
        Status::KeyExists => DATA_EXISTS,
        Status::NotStored => NOTSTORED,
        Status::TooLargeValue => E2BIG,
        Status::DeltaBadValue => CLIENT_ERROR,
        Status::InvalidArguments => CLIENT_ERROR,
        Status::ServerError(0x81) => ERROR,
        Status::ServerError(0x82) => SERVER_MEMORY_ALLOCATION_FAILURE,
        Status::ServerError(0x83) => NOT_SUPPORTED,
        Status::ServerError(0x20) => AUTH_FAILURE,
        Status::ServerError(0x21) => AUTH_CONTINUE,
        Status::ServerError(_) if server_message.is_empty() => SERVER_ERROR,
        Status::ServerError(_) => SERVER_ERROR,
        Status::Buffered => BUFFERED,
        Status::Again => TIMEOUT,
        Status::Failed(f) => match f {
            Failure::InvalidRequest => BAD_KEY_PROVIDED,
            Failure::NoServers => NO_SERVERS,
            Failure::SendBufferFull => WRITE_FAILURE,
            Failure::ValueTooLarge => E2BIG,
            Failure::ConnectRefused | Failure::ConnectTimeout => CONNECTION_FAILURE,
            Failure::NameNotResolved => HOST_LOOKUP_FAILURE,
            Failure::ConnectionReset => CONNECTION_FAILURE,
            Failure::ProtocolError => PROTOCOL_ERROR,
            Failure::Timeout => TIMEOUT,
            Failure::ServerDead => SERVER_MARKED_DEAD,
            Failure::ServerTemporarilyDisabled => SERVER_TEMPORARILY_DISABLED,
            Failure::AuthFailed => AUTH_FAILURE,
            // What libmemcached 1.1.4 returns when the server answers its SASL request with
            // "unknown command" (measured by tests-c/lmc-sasl.sh).
            Failure::AuthUnsupported => UNKNOWN_READ_FAILURE,
            // libmemcached refuses SASL over ASCII with INVALID_ARGUMENTS.
            Failure::SaslConfig => INVALID_ARGUMENTS,
            // libmemcached has no TLS: the nearest codes (the engine logs the TLS reason).
            Failure::Tls(crate::client::TlsFailure::Config) => INVALID_ARGUMENTS,
            Failure::Tls(crate::client::TlsFailure::HandshakeTimeout) => TIMEOUT,
            Failure::Tls(_) => CONNECTION_FAILURE,
        },
    }
}

/// Whether an error with this code (and failure behind it) names the server it happened on
/// (libmemcached's "…,  host: NAME:PORT" messages and the instance's own error).
pub fn names_server(code: c_int, failure: Option<Failure>) -> bool {
    matches!(
        code,
        CONNECTION_FAILURE
            | HOST_LOOKUP_FAILURE
            | TIMEOUT
            | SERVER_MARKED_DEAD
            | SERVER_TEMPORARILY_DISABLED
            | READ_FAILURE
            | WRITE_FAILURE
            | PROTOCOL_ERROR
            | AUTH_FAILURE
            | UNKNOWN_READ_FAILURE
    ) || failure == Some(Failure::SaslConfig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_text() {
        assert_eq!(text(SUCCESS), "SUCCESS");
        assert_eq!(text(NOTFOUND), "NOT FOUND");
        assert_eq!(
            text(SERVER_TEMPORARILY_DISABLED),
            "SERVER HAS FAILED AND IS DISABLED UNTIL TIMED RETRY"
        );
        assert_eq!(text(-1), "INVALID memcached_return_t");
        assert_eq!(text(1000), "INVALID memcached_return_t");
        for rc in 0..=49 {
            assert!(message(rc).ends_with(b"\0"));
        }
    }
}
