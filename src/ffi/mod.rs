//! The C faces. Every `extern "C"` function lives below this module: it catches panics,
//! checks its pointers, converts, calls the engine, and writes outputs. No policy here.

// The C API takes raw pointers by design; each function checks them before use, and marking
// the functions `unsafe` would mean nothing to C callers. Argument counts are the C API's.
#![allow(clippy::not_unsafe_ptr_arg_deref, clippy::too_many_arguments)]

/// Shared by the faces: panic guard, pointer helpers, handle lock with deferred callbacks.
pub(crate) mod common;
/// libhashkit 1.1.4's C API (libhashkit.so.2): hashkit_st objects over the engine's hashes.
pub mod libhashkit;
/// libmemcached 1.1.4's C API (in progress: pure parsing parts).
pub mod libmemcached;
/// OMcache 0.3's C API.
pub mod omcache;
