//! The C faces. Every `extern "C"` function lives below this module: it catches panics,
//! checks its pointers, converts, calls the engine, and writes outputs. No policy here.

// The C API takes raw pointers by design; each function checks them before use, and marking
// the functions `unsafe` would mean nothing to C callers. Argument counts are the C API's.
#![allow(clippy::not_unsafe_ptr_arg_deref, clippy::too_many_arguments)]

pub mod omcache;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `body`, turning a panic into `on_panic`: unwinding into C is undefined behaviour.
pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}
