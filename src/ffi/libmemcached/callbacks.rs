//! `memcached_callback_set/get`, user data, the memory allocators, the hash functions and
//! `memcached_destroy_sasl_auth_data`, as libmemcached 1.1.4 has them.
//!
//! User data lives in the `memcached_st` itself (its public `user_data` field) and is read and
//! written without the handle's lock: allocator callbacks (php's) call
//! `memcached_get_user_data` from inside an allocation. User allocators are only ever called
//! with no lock held.

use std::ffi::{c_char, c_int, c_void, CStr};

use super::api::key_arg;
use super::memc::{self, Lmc};
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;
use crate::ffi::common::guard;
use crate::hash::HashAlgorithm;

/// memcached_callback_t.
mod callback {
    pub const PREFIX_KEY: i32 = 0;
    pub const USER_DATA: i32 = 1;
    pub const CLEANUP_FUNCTION: i32 = 2;
    pub const CLONE_FUNCTION: i32 = 3;
    pub const GET_FAILURE: i32 = 7;
    pub const DELETE_TRIGGER: i32 = 8;
}

/// MEMCACHED_FAILURE and MEMCACHED_KEY_TOO_BIG.
const FAILURE: c_int = 1;
const KEY_TOO_BIG: c_int = 39;
/// MEMCACHED_MEMORY_ALLOCATION_FAILURE.
pub(super) const MEMORY_ALLOCATION_FAILURE: c_int = 17;
/// MEMCACHED_MAX_NAMESPACE.
const MAX_NAMESPACE: usize = 128;

pub type memcached_malloc_fn =
    unsafe extern "C" fn(*const memcached_st, usize, *mut c_void) -> *mut c_void;
pub type memcached_free_fn = unsafe extern "C" fn(*const memcached_st, *mut c_void, *mut c_void);
pub type memcached_realloc_fn =
    unsafe extern "C" fn(*const memcached_st, *mut c_void, usize, *mut c_void) -> *mut c_void;
pub type memcached_calloc_fn =
    unsafe extern "C" fn(*const memcached_st, usize, usize, *mut c_void) -> *mut c_void;

/// The user's allocators (`memcached_set_memory_allocators`) and their context.
#[derive(Clone, Copy)]
pub(super) struct Allocators {
    malloc: memcached_malloc_fn,
    free: memcached_free_fn,
    realloc: memcached_realloc_fn,
    calloc: memcached_calloc_fn,
    context: usize,
}

/// The callbacks a handle keeps (function pointers as addresses; 0: none).
#[derive(Default)]
pub(super) struct Hooks {
    pub allocators: Option<Allocators>,
    clone: usize,
    cleanup: usize,
    get_failure: usize,
    delete_trigger: usize,
    /// The namespace as handed out by `memcached_callback_get(PREFIX_KEY)`, NUL-terminated.
    namespace_c: Vec<u8>,
}

impl Lmc {
    /// The user's allocators, if set (to be called once the handle's lock is released).
    pub(super) fn alloc(&self) -> Option<Allocators> {
        self.hooks.allocators
    }
}

/// A value the face copied into libc memory, handed to the caller: moved into the user's
/// malloc'd memory when allocators are set (the caller frees it with the user's free).
/// NULL when the user's malloc fails.
pub(super) fn hand_out(
    memc: *const memcached_st,
    allocators: Option<Allocators>,
    value: *mut c_char,
    len: usize,
) -> *mut c_char {
    let Some(a) = allocators else {
        return value;
    };
    if value.is_null() {
        return value;
    }
    // SAFETY: the user's malloc, as the C API contracts (size, context); checked for NULL.
    let p = unsafe { (a.malloc)(memc, len + 1, a.context as *mut c_void) }.cast::<c_char>();
    if !p.is_null() {
        // SAFETY: `value` holds len + 1 bytes (the face's copy with its NUL); `p` as many.
        unsafe { std::ptr::copy_nonoverlapping(value, p, len + 1) };
    }
    // SAFETY: `value` was malloc'd by the face and is not handed out.
    unsafe { libc::free(value.cast()) };
    p
}

unsafe extern "C" fn default_malloc(
    _m: *const memcached_st,
    size: usize,
    _c: *mut c_void,
) -> *mut c_void {
    // SAFETY: plain libc malloc.
    unsafe { libc::malloc(size) }
}

unsafe extern "C" fn default_free(_m: *const memcached_st, mem: *mut c_void, _c: *mut c_void) {
    // SAFETY: memory from the default malloc/realloc/calloc (the C API's contract).
    unsafe { libc::free(mem) }
}

unsafe extern "C" fn default_realloc(
    _m: *const memcached_st,
    mem: *mut c_void,
    size: usize,
    _c: *mut c_void,
) -> *mut c_void {
    // SAFETY: memory from the default allocators (the C API's contract).
    unsafe { libc::realloc(mem, size) }
}

unsafe extern "C" fn default_calloc(
    _m: *const memcached_st,
    n: usize,
    size: usize,
    _c: *mut c_void,
) -> *mut c_void {
    // SAFETY: plain libc calloc.
    unsafe { libc::calloc(n, size) }
}

/// All four or none (back to libc's); anything else is INVALID_ARGUMENTS.
#[no_mangle]
pub extern "C" fn memcached_set_memory_allocators(
    ptr: *mut memcached_st,
    mem_malloc: Option<memcached_malloc_fn>,
    mem_free: Option<memcached_free_fn>,
    mem_realloc: Option<memcached_realloc_fn>,
    mem_calloc: Option<memcached_calloc_fn>,
    context: *mut c_void,
) -> memcached_return_t {
    memc::with_memc(ptr, rc::INVALID_ARGUMENTS, |lmc| {
        match (mem_malloc, mem_free, mem_realloc, mem_calloc) {
            (None, None, None, None) => lmc.hooks.allocators = None,
            (Some(malloc), Some(free), Some(realloc), Some(calloc)) => {
                lmc.hooks.allocators = Some(Allocators {
                    malloc,
                    free,
                    realloc,
                    calloc,
                    context: context as usize,
                })
            }
            _ => return lmc.record(rc::INVALID_ARGUMENTS, ptr, None),
        }
        lmc.record(rc::SUCCESS, ptr, None)
    })
}

/// The allocators in use (libc's wrappers when none were set).
#[no_mangle]
pub extern "C" fn memcached_get_memory_allocators(
    ptr: *const memcached_st,
    mem_malloc: *mut Option<memcached_malloc_fn>,
    mem_free: *mut Option<memcached_free_fn>,
    mem_realloc: *mut Option<memcached_realloc_fn>,
    mem_calloc: *mut Option<memcached_calloc_fn>,
) {
    let Some(a) = memc::with_memc(ptr.cast_mut(), None, |lmc| {
        Some(lmc.hooks.allocators.unwrap_or(Allocators {
            malloc: default_malloc,
            free: default_free,
            realloc: default_realloc,
            calloc: default_calloc,
            context: 0,
        }))
    }) else {
        return;
    };
    guard((), || {
        // SAFETY: non-NULL outputs are writable (the C API's contract).
        unsafe {
            if let Some(o) = mem_malloc.as_mut() {
                *o = Some(a.malloc);
            }
            if let Some(o) = mem_free.as_mut() {
                *o = Some(a.free);
            }
            if let Some(o) = mem_realloc.as_mut() {
                *o = Some(a.realloc);
            }
            if let Some(o) = mem_calloc.as_mut() {
                *o = Some(a.calloc);
            }
        }
    })
}

#[no_mangle]
pub extern "C" fn memcached_get_memory_allocators_context(ptr: *const memcached_st) -> *mut c_void {
    memc::with_memc(ptr.cast_mut(), 0usize, |lmc| {
        lmc.hooks.allocators.map_or(0, |a| a.context)
    }) as *mut c_void
}

/// The previous user data; NULL for a NULL handle. No lock (see the module's comment).
#[no_mangle]
pub extern "C" fn memcached_set_user_data(
    ptr: *mut memcached_st,
    data: *mut c_void,
) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a memcached_st (the C API's contract); only its user_data field.
        match unsafe { ptr.as_mut() } {
            Some(m) => std::mem::replace(&mut m.user_data, data),
            None => std::ptr::null_mut(),
        }
    })
}

#[no_mangle]
pub extern "C" fn memcached_get_user_data(ptr: *const memcached_st) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a memcached_st (the C API's contract); only its user_data field.
        unsafe { ptr.as_ref() }.map_or(std::ptr::null_mut(), |m| m.user_data)
    })
}

/// `memcached_set_namespace`'s checks: NULL clears; empty: INVALID_ARGUMENTS; longer than a
/// key (over 250 bytes), or over text a character a text key cannot hold:
/// BAD_KEY_PROVIDED; 128 bytes or more: KEY_TOO_BIG (measured on Debian's 1.1.4).
fn set_namespace(lmc: &mut Lmc, ns: Option<&[u8]>) -> c_int {
    let Some(ns) = ns else {
        lmc.model.namespace = None;
        return rc::SUCCESS;
    };
    if ns.is_empty() {
        return rc::INVALID_ARGUMENTS;
    }
    if ns.len() > crate::protocol::MAX_KEY_LEN {
        return rc::BAD_KEY_PROVIDED;
    }
    if !lmc.model.binary_protocol && ns.iter().any(|c| !c.is_ascii_graphic()) {
        return rc::BAD_KEY_PROVIDED;
    }
    if ns.len() >= MAX_NAMESPACE {
        return KEY_TOO_BIG;
    }
    lmc.model.namespace = Some(ns.to_vec());
    rc::SUCCESS
}

#[no_mangle]
pub extern "C" fn memcached_callback_set(
    ptr: *mut memcached_st,
    flag: c_int,
    data: *const c_void,
) -> memcached_return_t {
    if flag == callback::USER_DATA {
        if ptr.is_null() {
            return rc::INVALID_ARGUMENTS;
        }
        memcached_set_user_data(ptr, data.cast_mut());
        return rc::SUCCESS;
    }
    memc::with_memc(ptr, rc::INVALID_ARGUMENTS, |lmc| {
        let addr = data as usize;
        let code = match flag {
            callback::PREFIX_KEY => {
                // SAFETY: NULL or a NUL-terminated string (the C API's contract).
                let ns = (!data.is_null()).then(|| unsafe { CStr::from_ptr(data.cast()) });
                set_namespace(lmc, ns.map(CStr::to_bytes))
            }
            callback::CLEANUP_FUNCTION => {
                lmc.hooks.cleanup = addr;
                rc::SUCCESS
            }
            callback::CLONE_FUNCTION => {
                lmc.hooks.clone = addr;
                rc::SUCCESS
            }
            callback::GET_FAILURE => {
                lmc.hooks.get_failure = addr;
                rc::SUCCESS
            }
            // A delete trigger needs the server's answer: refused with NOREPLY on.
            callback::DELETE_TRIGGER if addr != 0 && !lmc.model.reply => rc::INVALID_ARGUMENTS,
            callback::DELETE_TRIGGER => {
                lmc.hooks.delete_trigger = addr;
                rc::SUCCESS
            }
            // The unused slots 4..6 are accepted (and ignored) by the real library.
            4..=6 => rc::SUCCESS,
            _ => rc::INVALID_ARGUMENTS,
        };
        lmc.record(code, ptr, None)
    })
}

/// A set callback (or the namespace, or the user data); NULL with FAILURE for one not set
/// (the namespace: NULL with SUCCESS); INVALID_ARGUMENTS for a NULL handle.
#[no_mangle]
pub extern "C" fn memcached_callback_get(
    ptr: *mut memcached_st,
    flag: c_int,
    error: *mut memcached_return_t,
) -> *mut c_void {
    let (code, out) = if ptr.is_null() {
        (rc::INVALID_ARGUMENTS, 0usize)
    } else if flag == callback::USER_DATA {
        let d = memcached_get_user_data(ptr) as usize;
        (if d == 0 { FAILURE } else { rc::SUCCESS }, d)
    } else {
        memc::with_memc(ptr, (rc::INVALID_ARGUMENTS, 0usize), |lmc| {
            let addr = match flag {
                callback::PREFIX_KEY => {
                    let Some(ns) = &lmc.model.namespace else {
                        return (rc::SUCCESS, 0);
                    };
                    lmc.hooks.namespace_c.clear();
                    lmc.hooks.namespace_c.extend_from_slice(ns);
                    lmc.hooks.namespace_c.push(0);
                    return (rc::SUCCESS, lmc.hooks.namespace_c.as_ptr() as usize);
                }
                callback::CLEANUP_FUNCTION => lmc.hooks.cleanup,
                callback::CLONE_FUNCTION => lmc.hooks.clone,
                callback::GET_FAILURE => lmc.hooks.get_failure,
                callback::DELETE_TRIGGER => lmc.hooks.delete_trigger,
                _ => 0,
            };
            (if addr == 0 { FAILURE } else { rc::SUCCESS }, addr)
        })
    };
    guard((), || {
        // SAFETY: a non-NULL error output is writable (the C API's contract).
        if let Some(e) = unsafe { error.as_mut() } {
            *e = code;
        }
    });
    out as *mut c_void
}

/// The server index a key goes to (the namespace in front under HASH_WITH_PREFIX_KEY);
/// 0 without servers (where the real library divides by zero).
#[no_mangle]
pub extern "C" fn memcached_generate_hash(
    ptr: *const memcached_st,
    key: *const c_char,
    key_length: usize,
) -> u32 {
    memc::with_memc(ptr.cast_mut(), 0, |lmc| {
        // SAFETY: the C API's contract: key valid for key_length bytes.
        let key = unsafe { key_arg(key, key_length) };
        lmc.server_for(None, key).unwrap_or(0) as u32
    })
}

/// The hash of a key with an algorithm; 1 for one not compiled in (HSIEH), CUSTOM or beyond.
#[no_mangle]
pub extern "C" fn memcached_generate_hash_value(
    key: *const c_char,
    key_length: usize,
    hash_algorithm: c_int,
) -> u32 {
    guard(1, || {
        // SAFETY: the C API's contract: key valid for key_length bytes.
        let key = unsafe { key_arg(key, key_length) };
        u32::try_from(hash_algorithm)
            .ok()
            .and_then(HashAlgorithm::from_c)
            .and_then(|h| h.hash(key))
            .unwrap_or(1)
    })
}
