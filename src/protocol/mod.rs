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
