//! omcache-rs: a memcached client library with OMcache's C API (`omcache.h`) on a Rust core.
//!
//! Layers, bottom up (see `../shared/spec/design.md`):
//! `protocol` (binary frames, pure), `hash` and `ketama` (server selection, pure),
//! `address` (server strings, pure), `connection` (one server's socket and buffers),
//! `client` (the engine), `ffi` (the C faces; the only place with `extern "C"`).

pub mod address;
pub mod client;
pub mod connection;
pub mod hash;
pub mod ketama;
pub mod protocol;
mod sys;

pub mod ffi;

pub use client::{Client, Error};
