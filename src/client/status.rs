//! Outcome codes. The numbers are OMcache's `omcache_ret_t` (ABI), several of which equal the
//! binary protocol's status codes.

use crate::protocol::status as wire;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    Ok = 0x00,
    NotFound = 0x01,
    KeyExists = 0x02,
    TooLargeValue = 0x03,
    NotStored = 0x05,
    DeltaBadValue = 0x06,
    Fail = 0x0fff,
    Again = 0x1001,
    Invalid = 0x1002,
    Buffered = 0x1003,
    BufferFull = 0x1004,
    NoServers = 0x1005,
    ServerFailure = 0x1006,
}

impl Status {
    pub const ALL: [Status; 13] = [
        Status::Ok,
        Status::NotFound,
        Status::KeyExists,
        Status::TooLargeValue,
        Status::NotStored,
        Status::DeltaBadValue,
        Status::Fail,
        Status::Again,
        Status::Invalid,
        Status::Buffered,
        Status::BufferFull,
        Status::NoServers,
        Status::ServerFailure,
    ];

    /// Maps a memcached response status.
    pub fn from_wire(status: u16) -> Status {
        match status {
            wire::NO_ERROR => Status::Ok,
            wire::KEY_NOT_FOUND => Status::NotFound,
            wire::KEY_EXISTS => Status::KeyExists,
            wire::VALUE_TOO_LARGE => Status::TooLargeValue,
            wire::ITEM_NOT_STORED => Status::NotStored,
            wire::DELTA_BAD_VALUE => Status::DeltaBadValue,
            _ => Status::Fail,
        }
    }

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| s.code() == code)
    }

    /// OMcache 0.3's messages (observable output of `omcache_strerror`), NUL-terminated.
    pub fn message_cstr(self) -> &'static [u8] {
        match self {
            Status::Ok => b"Success\0",
            Status::NotFound => b"Key not found from memcached\0",
            Status::KeyExists => b"Conflicting key exists in memcached\0",
            Status::TooLargeValue => b"Value size exceeds maximum\0",
            Status::NotStored => b"Append or prepend value not stored\0",
            Status::DeltaBadValue => b"Existing value can not be incremented or decremented\0",
            Status::Fail => b"Command failed in memcached\0",
            Status::Again => b"Call would block, try again\0",
            Status::Invalid => b"Invalid parameters\0",
            Status::Buffered => b"Data buffered in OMcache\0",
            Status::BufferFull => b"Buffer full, command dropped\0",
            Status::NoServers => b"No server available\0",
            Status::ServerFailure => b"Failure communicating to server\0",
        }
    }

    pub fn message(self) -> &'static str {
        let m = self.message_cstr();
        std::str::from_utf8(&m[..m.len() - 1]).unwrap_or("")
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Status {}
