//! omcache-rs: a memcached client library with OMcache's C API (`omcache.h`) on a Rust core.
//!
//! Layers, bottom up (see `../shared/spec/design.md`):
//! `protocol` (binary frames, pure), `hash` and `ketama` (server selection, pure),
//! `address` (server strings, pure), `connection` (one server's socket and buffers),
//! `client` (the engine), `ffi` (the C faces; the only place exporting `extern "C"` functions),
//! `sys` (the few system calls socket2 lacks).

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
