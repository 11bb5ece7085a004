//! memcached's wire protocols as data, pure and allocation-free: each encodes requests into a
//! caller's buffer and parses received bytes into either "need more bytes" or one response
//! borrowing from the buffer.
//!
//! - `binary` (re-exported here: `protocol::opcode`, `protocol::parse_response`, ...): the
//!   binary protocol, with opaque-matched responses.
//! - `text`: the classic text (ASCII) protocol, libmemcached's default and what proxies speak;
//!   responses come in request order.
//! - `meta`: memcached ≥ 1.6's meta commands (mg/ms/md/ma/mn/me), pipelined with opaque tokens.

pub mod binary;
pub mod meta;
pub mod text;

pub use binary::*;

/// Which protocol a connection speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The binary protocol (OMcache's, and libmemcached's with BINARY_PROTOCOL).
    #[default]
    Binary,
    /// The classic text protocol (libmemcached's default; what proxies speak).
    Text,
    /// The meta protocol (memcached >= 1.6).
    Meta,
}

/// One answer, whatever the protocol, in the binary protocol's terms: the opcode of the
/// request it answers and a binary status code (text and meta answers are mapped; their error
/// lines keep their text in `message`). Borrows from the receive buffer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Answer<'a> {
    pub opcode: u8,
    pub status: u16,
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// The item's client flags (get-like answers).
    pub flags: u32,
    pub cas: u64,
    /// The new value of an increment or decrement.
    pub counter: Option<u64>,
    /// The text of a text or meta error line (`CLIENT_ERROR …`, `SERVER_ERROR …`).
    pub message: &'a [u8],
}

impl<'a> Answer<'a> {
    /// A binary frame as an answer.
    pub fn from_frame(f: &Frame<'a>) -> Answer<'a> {
        let op = f.header.opcode;
        let ok = f.header.status == status::NO_ERROR;
        let get_like = matches!(
            op,
            opcode::GET
                | opcode::GETQ
                | opcode::GETK
                | opcode::GETKQ
                | opcode::GAT
                | opcode::GATQ
                | opcode::GATK
                | opcode::GATKQ
        );
        let delta = is_counter(op);
        Answer {
            opcode: op,
            status: f.header.status,
            key: f.key,
            value: f.value,
            flags: if get_like && ok { f.flags() } else { 0 },
            cas: f.header.cas,
            counter: if delta && ok { f.counter() } else { None },
            message: &[],
        }
    }
}
