//! Scaffolding shared by the C faces: the panic boundary, helpers for C pointers and lengths,
//! and the handle lock whose callbacks run after it is released. Nothing here knows either C
//! API's types or codes.

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{ReentrantMutex, ReentrantMutexGuard};

/// Runs `body`, turning a panic into `on_panic`: unwinding into C is undefined behaviour.
pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// The lock a C handle keeps around its state. Reentrant, so that a callback running on the
/// thread that made the call can call into the same handle once the state is no longer
/// borrowed; the `RefCell` turns a re-entry while it is borrowed into an error instead of
/// aliasing.
/// A handle's state behind its lock, with the fork generation in which the lock was last
/// taken: in a forked child, a lock held by a thread of the parent is never released (that
/// thread does not exist here), and a call fails instead of waiting for it forever.
pub(crate) struct HandleLock<S> {
    lock: ReentrantMutex<RefCell<S>>,
    taken_in: AtomicU64,
}

pub(crate) fn new_handle_lock<S>(state: S) -> HandleLock<S> {
    HandleLock {
        lock: ReentrantMutex::new(RefCell::new(state)),
        taken_in: AtomicU64::new(crate::sys::fork_generation()),
    }
}

/// Runs `f` with the state behind `lock` borrowed mutably. `f` returns the call's result and,
/// optionally, work to run once the lock is released (the caller's callbacks, which may call
/// functions on the same handle). A re-entry while the state is borrowed on this thread
/// returns `on_busy` without running `f`; so does a call in a forked child while a thread of
/// the parent held the lock at the fork (the handle is unusable there: its state may be
/// half-changed, and the lock is never released).
pub(crate) fn with_locked<S, T, D: FnOnce()>(
    lock: &HandleLock<S>,
    on_busy: T,
    f: impl FnOnce(&mut S) -> (T, Option<D>),
) -> T {
    let (out, after) = {
        let generation = crate::sys::fork_generation();
        let Some(guard) = lock_unless_forked(&lock.lock, &lock.taken_in, generation) else {
            return on_busy;
        };
        lock.taken_in.store(generation, Ordering::Release);
        let Ok(mut state) = guard.try_borrow_mut() else {
            return on_busy;
        };
        f(&mut state)
    };
    // The borrow and the lock are released here.
    if let Some(after) = after {
        after();
    }
    out
}

/// Takes `lock`, or None when a thread of the parent process held it at the fork (`taken_in`,
/// the generation it was last taken in, is older than `generation` while it stays held). A
/// thread of this process that has just taken it records its generation at once: the stale
/// value is looked at a thousand times, with short sleeps between, before the lock is given
/// up on.
fn lock_unless_forked<'a, S>(
    lock: &'a ReentrantMutex<S>,
    taken_in: &AtomicU64,
    generation: u64,
) -> Option<ReentrantMutexGuard<'a, S>> {
    if let Some(guard) = lock.try_lock() {
        return Some(guard);
    }
    for _ in 0..1000 {
        if taken_in.load(Ordering::Acquire) == generation {
            return Some(lock.lock());
        }
        std::thread::sleep(std::time::Duration::from_micros(1));
        if let Some(guard) = lock.try_lock() {
            return Some(guard);
        }
    }
    None
}

/// A slice from a C pointer that may be NULL when the length is 0 (NULL gives an empty slice
/// whatever the length: callers that must reject NULL with a length check that first). A
/// length no buffer can have (over isize::MAX bytes) also gives an empty slice, never an
/// invalid one: callers taking values check their lengths first (keys are refused empty).
///
/// # Safety
/// A non-NULL `ptr` must be valid for reads of `len` bytes for the lifetime `'a`.
pub(crate) unsafe fn c_bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 || len > isize::MAX as usize {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// A C string that may be NULL.
///
/// # Safety
/// A non-NULL `ptr` must be a NUL-terminated string valid for the lifetime `'a`.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char) -> Option<&'a CStr> {
    // SAFETY: guaranteed by the caller.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) })
}

/// The pointer a C caller sees for a byte slice: NULL for an empty one.
pub(crate) fn ptr_or_null(s: &[u8]) -> *const u8 {
    if s.is_empty() {
        std::ptr::null()
    } else {
        s.as_ptr()
    }
}

/// Writes an output argument when its pointer is not NULL.
///
/// # Safety
/// A non-NULL `p` must be valid for writes.
pub(crate) unsafe fn write_out<T>(p: *mut T, value: T) {
    // SAFETY: guaranteed by the caller.
    if let Some(p) = unsafe { p.as_mut() } {
        *p = value;
    }
}

/// Reads a count through a pointer that may be NULL (meaning 0).
///
/// # Safety
/// A non-NULL pointer must be valid for reads.
pub(crate) unsafe fn read_count(p: *const usize) -> usize {
    // SAFETY: guaranteed by the caller.
    unsafe { p.as_ref().copied().unwrap_or(0) }
}

/// Writes a count through a pointer that may be NULL (then nothing is written).
///
/// # Safety
/// A non-NULL pointer must be valid for writes.
pub(crate) unsafe fn write_count(p: *mut usize, n: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe { write_out(p, n) }
}

/// Reads the capacity of a caller's array from its count pointer and sets the count to 0, so
/// that an early return (NULL handle, invalid arguments, a panic) never leaves uninitialised
/// entries counted. NULL reads as 0 and is not written.
///
/// # Safety
/// A non-NULL pointer must be valid for reads and writes.
pub(crate) unsafe fn take_count(p: *mut usize) -> usize {
    // SAFETY: guaranteed by the caller.
    let n = unsafe { read_count(p) };
    // SAFETY: guaranteed by the caller.
    unsafe { write_count(p, 0) };
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_locked_runs_after_work_unlocked() {
        let lock: HandleLock<u32> = new_handle_lock(1);
        let out = with_locked(&lock, 0, |s| {
            *s += 1;
            // The deferred work may take the lock again (as a callback calling into its own
            // handle does).
            let after = || {
                let again = with_locked(&lock, 0, |s| (*s * 10, None::<fn()>));
                assert_eq!(again, 20);
            };
            (*s, Some(after))
        });
        assert_eq!(out, 2);
    }

    #[test]
    fn with_locked_refuses_reentry_while_borrowed() {
        let lock: HandleLock<u32> = new_handle_lock(1);
        let out = with_locked(&lock, -2, |_| {
            (with_locked(&lock, -1, |_| (7, None::<fn()>)), None::<fn()>)
        });
        assert_eq!(out, -1);
    }

    #[test]
    fn pointer_helpers() {
        // SAFETY: NULL pointers and a live local.
        unsafe {
            assert!(c_bytes(std::ptr::null(), 5).is_empty());
            assert_eq!(c_bytes(b"abc".as_ptr(), 2), b"ab");
            assert!(c_str(std::ptr::null()).is_none());
            assert_eq!(read_count(std::ptr::null()), 0);
            write_count(std::ptr::null_mut(), 3);
            let mut n = 9usize;
            write_count(&mut n, 3);
            assert_eq!(read_count(&n), 3);
            assert_eq!(take_count(&mut n), 3);
            assert_eq!(n, 0);
            assert_eq!(take_count(std::ptr::null_mut()), 0);
        }
        assert!(ptr_or_null(b"").is_null());
    }
}
