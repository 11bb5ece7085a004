//! omcache-rs: a memcached client library. A Rust engine that speaks memcached's binary
//! protocol, picks servers exactly as libmemcached 1.1.4 does (the same key lands on the same
//! server) and fails over when servers die; on it, OMcache 0.3's C API (`omcache.h`,
//! `libomcache.so.0`) and a safe Rust API.
//!
//! # Quick start
//!
//! ```no_run
//! use omcache::client::{Status, Wait};
//! use omcache::Client;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut mc = Client::new(); // opens no socket and starts no thread until the first request
//! mc.set_servers("127.0.0.1:11211, [::1]:11212, /run/memcached.sock")?;
//! mc.set(b"greeting", b"hello", 0, 0)?;
//! assert_eq!(mc.get(b"greeting")?.map(|item| item.value), Some(b"hello".to_vec()));
//! match mc.add(b"greeting", b"again", 0, 0) {
//!     Err(Status::KeyExists) => {} // the server's answer
//!     other => println!("{other:?}"),
//! }
//! let found = mc.get_multi(&[b"greeting", b"missing"])?; // one round trip per server
//! assert_eq!(found.len(), 1);
//! mc.flush_buffers(Wait::Forever);
//! # Ok(())
//! # }
//! ```
//!
//! [`Client`] is the engine: its convenience calls (`get`, `set`, `get_multi`, `increment`,
//! `stats`, ...) copy keys and values; [`Client::command`] and [`Client::io`] take a
//! [`client::RequestSet`] and a [`client::ResponseSink`] and copy nothing. Outcomes are
//! [`client::Status`]: the server's answer, or [`client::Failure`] saying why there was none.
//! Tunables, the failover policy and waits are in [`client::Settings`],
//! [`client::FailoverPolicy`] and [`client::Wait`]; server selection in [`ketama`].
//!
//! # Layers, bottom up
//!
//! `protocol` (binary frames, pure), `hash` and `ketama` (server selection, pure), `address`
//! (server strings, pure), `connection` (one server: socket, buffers, framing, matching),
//! `client` (the engine), `ffi` (the C faces; the only place exporting `extern "C"`
//! functions), `sys` (the few system calls socket2 lacks).

// Unsafe code is denied crate-wide and allowed only in `ffi` (the C faces) and `sys` (system
// calls socket2 lacks): a new module has none unless its `mod` line here opts in. The existing
// safe modules forbid it (no inner `allow` can lift that). In `ffi` and `sys` every unsafe
// operation sits in a block with a `// SAFETY:` comment, inside `unsafe fn` too.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[forbid(unsafe_code)]
pub mod address;
#[forbid(unsafe_code)]
pub mod client;
#[forbid(unsafe_code)]
pub mod connection;
#[forbid(unsafe_code)]
pub mod hash;
#[forbid(unsafe_code)]
pub mod ketama;
#[forbid(unsafe_code)]
pub mod protocol;
#[allow(unsafe_code)]
mod sys;

#[allow(unsafe_code)]
pub mod ffi;

pub use client::{Client, Error};

/// How many times this process is a forked child of a process that used the library (0 in
/// the first one). A lock or a value held by another thread when the process forked is never
/// released in the child: a face compares this with the value when it was taken, instead of
/// waiting for it forever. The first call registers the `pthread_atfork` handler.
pub fn fork_generation() -> u64 {
    sys::fork_generation()
}
