//! The caller's response and log callbacks. They run after the engine is done with the call
//! and the handle's lock is released, so that a callback may call functions on the same
//! handle (a log callback that looks up a server, a response callback that issues the next
//! request). Responses are copied into an arena for that: the receive buffers they came from
//! may change as soon as the callback makes a call.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CString};
use std::ops::Range;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{omcache_response_callback_func, omcache_t, omcache_value_t};
use crate::client::Response;

pub(super) type LogCallback =
    unsafe extern "C" fn(context: *mut c_void, level: c_int, msg: *const c_char);

/// The caller's log callback and the messages the engine produced for it during a call.
pub(super) struct LogTarget {
    func: LogCallback,
    context: *mut c_void,
    queue: Mutex<Vec<(c_int, CString)>>,
}

// SAFETY: the context pointer is only handed back to the caller's own callback; the C API's
// threading contract (one thread per handle at a time) is the caller's.
unsafe impl Send for LogTarget {}
// SAFETY: as above; the queue is behind a mutex.
unsafe impl Sync for LogTarget {}

impl LogTarget {
    pub(super) fn new(func: LogCallback, context: *mut c_void) -> Arc<LogTarget> {
        Arc::new(LogTarget {
            func,
            context,
            queue: Mutex::new(Vec::new()),
        })
    }

    /// Called by the engine, with the handle locked: only queue the message.
    pub(super) fn push(&self, level: i32, msg: &str) {
        let text = CString::new(msg.replace('\0', " ")).unwrap_or_default();
        self.queue.lock().push((level, text));
    }

    fn take(&self) -> Vec<(c_int, CString)> {
        std::mem::take(&mut *self.queue.lock())
    }
}

/// A response waiting for the response callback; key and data are ranges of the arena.
struct PendingValue {
    value: omcache_value_t,
    key: Range<usize>,
    data: Range<usize>,
}

/// Callbacks collected during one call, delivered after the lock is released.
#[derive(Default)]
pub(super) struct Deferred {
    response_cb: Option<(omcache_response_callback_func, *mut c_void)>,
    values: Vec<PendingValue>,
    arena: Vec<u8>,
    logs: Vec<(c_int, CString)>,
    log: Option<Arc<LogTarget>>,
}

thread_local! {
    /// Spare buffers, so that a callback-driven program does not allocate on every call.
    static SPARE: RefCell<Deferred> = RefCell::default();
}

impl Deferred {
    /// An empty collector for a call, reusing this thread's spare buffers.
    pub(super) fn start(
        response_cb: Option<(omcache_response_callback_func, *mut c_void)>,
    ) -> Deferred {
        let mut d = if response_cb.is_some() {
            SPARE.with(|s| std::mem::take(&mut *s.borrow_mut()))
        } else {
            Deferred::default()
        };
        d.response_cb = response_cb;
        d
    }

    pub(super) fn wants_responses(&self) -> bool {
        self.response_cb.is_some()
    }

    pub(super) fn push_response(&mut self, resp: &Response<'_>) {
        let key = self.copy(resp.key);
        let data = self.copy(resp.data);
        self.values.push(PendingValue {
            value: omcache_value_t::from(resp),
            key,
            data,
        });
    }

    fn copy(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        start..self.arena.len()
    }

    pub(super) fn collect_logs(&mut self, log: Option<&Arc<LogTarget>>) {
        if let Some(log) = log {
            let logs = log.take();
            if !logs.is_empty() {
                self.logs = logs;
                self.log = Some(log.clone());
            }
        }
    }

    /// Runs the callbacks. The handle must not be locked by this thread's engine call.
    pub(super) fn deliver(mut self, mc: *mut omcache_t) {
        if let Some(log) = self.log.take() {
            for (level, msg) in self.logs.drain(..) {
                // SAFETY: the caller registered `func` for this context; `msg` outlives the call.
                unsafe { (log.func)(log.context, level, msg.as_ptr()) };
            }
        }
        if let Some((cb, ctx)) = self.response_cb {
            let base = self.arena.as_ptr();
            for pending in &self.values {
                let mut value = pending.value;
                // SAFETY: the ranges lie inside the arena, which is not touched while the
                // callbacks run; empty ranges are passed as NULL.
                unsafe {
                    value.key = if pending.key.is_empty() {
                        std::ptr::null()
                    } else {
                        base.add(pending.key.start)
                    };
                    value.data = if pending.data.is_empty() {
                        std::ptr::null()
                    } else {
                        base.add(pending.data.start)
                    };
                    cb(mc, &mut value, ctx);
                }
            }
        }
        self.values.clear();
        self.arena.clear();
        self.response_cb = None;
        if self.arena.capacity() > 0 {
            SPARE.with(|s| *s.borrow_mut() = self);
        }
    }
}
