//! OMcache 0.3's C API (`omcache.h`): the `#[repr(C)]` types, one module per C type, and the
//! handle that guards the engine.
#![allow(non_camel_case_types)]

mod callbacks;
mod commands;
mod dist;
mod handle;
mod io;
mod server_info;
mod status;
mod tls;

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicU32, Ordering};

use super::common::{self, c_bytes, ptr_or_null, HandleLock};
use crate::client::{Client, Request, RequestSet, Response, ResponseSink, Route};
use crate::protocol::RequestParts;

pub use commands::*;
pub use dist::*;
pub use handle::*;
pub use io::*;
pub use server_info::*;
pub use tls::*;

/// The 24-byte binary protocol request header, in wire order (lengths and CAS big-endian;
/// the opaque is the library's host-order request id).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct omcache_req_header_s {
    pub magic: u8,
    pub opcode: u8,
    pub keylen: u16,
    pub extlen: u8,
    pub datatype: u8,
    pub reserved: u16,
    pub bodylen: u32,
    pub opaque: u32,
    pub cas: u64,
}

/// One request (`omcache_req_t`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct omcache_req_t {
    pub server_index: c_int,
    pub header: omcache_req_header_s,
    pub extra: *const c_void,
    pub key: *const u8,
    pub data: *const u8,
}

/// One response (`omcache_value_t`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct omcache_value_t {
    pub status: c_int,
    pub key: *const u8,
    pub key_len: usize,
    pub data: *const u8,
    pub data_len: usize,
    pub flags: u32,
    pub cas: u64,
    pub delta_value: u64,
}

/// `omcache_server_info_t`: a copy the caller frees with `omcache_server_info_free`.
#[repr(C)]
#[derive(Debug)]
pub struct omcache_server_info_t {
    pub omcache_version: c_int,
    pub server_index: c_int,
    pub hostname: *mut c_char,
    pub port: c_int,
}

pub type omc_ketama_point_hash_func = unsafe extern "C" fn(
    hostname: *const c_char,
    portname: *const c_char,
    point: u32,
    hashes: *mut u32,
) -> u32;
pub type omc_ketama_key_hash_func = unsafe extern "C" fn(key: *const u8, key_len: usize) -> u32;
pub type omcache_log_callback_func =
    unsafe extern "C" fn(context: *mut c_void, level: c_int, msg: *const c_char);
pub type omcache_response_callback_func =
    unsafe extern "C" fn(mc: *mut omcache_t, result: *mut omcache_value_t, context: *mut c_void);

/// `struct omcache_dist_s` (C's `omcache_dist_t` is its const-qualified typedef).
#[repr(C)]
#[derive(Debug)]
pub struct omcache_dist_s {
    pub omcache_version: c_int,
    pub points_per_server: u32,
    pub entries_per_point: u32,
    // Spelled out rather than Option<alias>: cbindgen does not see through an alias there.
    pub point_hash_func: Option<
        unsafe extern "C" fn(
            hostname: *const c_char,
            portname: *const c_char,
            point: u32,
            hashes: *mut u32,
        ) -> u32,
    >,
    pub key_hash_func: Option<unsafe extern "C" fn(key: *const u8, key_len: usize) -> u32>,
}
pub type omcache_dist_t = omcache_dist_s;

pub const OMCACHE_VERSION: c_int = 0x0000_0300;

/// The handle. OMcache 0.3's own tests read and write the request-id counter at byte offset
/// 8, so that is where the live counter is kept; the engine is synchronised with it around
/// every call.
#[repr(C)]
pub struct omcache_t {
    created_unix_ms: i64,
    req_id: AtomicU32,
    inner: HandleLock<Inner>,
}

/// What the handle guards.
struct Inner {
    client: Client,
    response_cb: Option<(omcache_response_callback_func, *mut c_void)>,
    log: Option<std::sync::Arc<callbacks::LogTarget>>,
    /// Callbacks collected during the current call.
    deferred: callbacks::Deferred,
    /// Big-endian expirations referenced by `gat_multi` requests' extras until the next call.
    gat_extras: Vec<[u8; 4]>,
    /// The TLS settings made by the omcache_set_tls_* functions, kept while TLS is off
    /// (the engine's `settings().tls` is these while it is on).
    tls: crate::client::TlsSettings,
}

// SAFETY: the raw context pointer is the caller's, only passed back to its own callback; the
// C API's contract is that a handle is used by one thread at a time, and the lock serialises
// misuse.
unsafe impl Send for Inner {}

pub(crate) use status::{INVALID, OK};

/// Runs `f` with the engine of `mc` locked, keeping the request-id counter at offset 8 in step
/// with the engine and delivering callbacks after the lock is released (`common::with_locked`).
/// A NULL handle, a panic, or a call made while the same handle is borrowed on this thread
/// returns `on_error` (OMCACHE_INVALID for int functions, NULL for pointer functions).
fn with_handle<T: Copy>(
    mc: *mut omcache_t,
    on_error: T,
    f: impl FnOnce(&mut Inner, *mut omcache_t) -> T,
) -> T {
    common::guard(on_error, || {
        // SAFETY: a non-NULL handle was returned by omcache_init and not yet freed (the C
        // API's contract); we only take a shared reference, all mutation goes through the lock.
        let Some(handle) = (unsafe { mc.as_ref() }) else {
            return on_error;
        };
        // A re-entry while the engine is borrowed cannot come from our callbacks, which run
        // after the borrow ends.
        common::with_locked(&handle.inner, on_error, |inner| {
            inner
                .client
                .set_last_request_id(handle.req_id.load(Ordering::Relaxed));
            // Nothing to collect (and nothing to pay for) without callbacks.
            let callbacks = inner.response_cb.is_some() || inner.log.is_some();
            if callbacks {
                inner.deferred = callbacks::Deferred::start(inner.response_cb);
            }
            let out = f(inner, mc);
            handle
                .req_id
                .store(inner.client.last_request_id(), Ordering::Relaxed);
            let deferred = callbacks.then(|| {
                let mut deferred = std::mem::take(&mut inner.deferred);
                deferred.collect_logs(inner.log.as_ref());
                move || deferred.deliver(mc)
            });
            (out, deferred)
        })
    })
}

/// The caller's request array as the engine's request set.
struct CRequests {
    ptr: *mut omcache_req_t,
    len: usize,
}

impl CRequests {
    /// Checks every request's pointers and lengths so that `request()` can build slices.
    /// # Safety
    /// `ptr` must point to `len` valid requests (or be NULL with len 0).
    unsafe fn new(ptr: *mut omcache_req_t, len: usize) -> Option<CRequests> {
        if len > 0 && ptr.is_null() {
            return None;
        }
        for i in 0..len {
            // SAFETY: i < len and the caller guarantees `len` valid requests at `ptr`.
            let r = unsafe { &*ptr.add(i) };
            let keylen = u16::from_be(r.header.keylen) as usize;
            let extlen = r.header.extlen as usize;
            let body = u32::from_be(r.header.bodylen) as usize;
            if body < keylen + extlen {
                return None;
            }
            let datalen = body - keylen - extlen;
            if (keylen > 0 && r.key.is_null())
                || (extlen > 0 && r.extra.is_null())
                || (datalen > 0 && r.data.is_null())
            {
                return None;
            }
        }
        Some(CRequests { ptr, len })
    }

    fn get(&self, i: usize) -> &omcache_req_t {
        assert!(i < self.len);
        // SAFETY: checked in `new`; the array outlives this value (it is the caller's).
        unsafe { &*self.ptr.add(i) }
    }
}

impl RequestSet for CRequests {
    fn len(&self) -> usize {
        self.len
    }

    fn request(&self, i: usize) -> Request<'_> {
        let r = self.get(i);
        let keylen = u16::from_be(r.header.keylen) as usize;
        let extlen = r.header.extlen as usize;
        let datalen = u32::from_be(r.header.bodylen) as usize - keylen - extlen;
        // SAFETY: pointers and lengths were checked in `CRequests::new`.
        let (extras, key, value) = unsafe {
            (
                c_bytes(r.extra.cast(), extlen),
                c_bytes(r.key, keylen),
                c_bytes(r.data, datalen),
            )
        };
        Request {
            route: Route::from_index(r.server_index),
            parts: RequestParts {
                opcode: r.header.opcode,
                opaque: 0,
                cas: u64::from_be(r.header.cas),
                extras,
                key,
                value,
            },
        }
    }

    fn assigned(&mut self, i: usize, server: Option<usize>, opaque: u32) {
        assert!(i < self.len);
        // SAFETY: checked in `new`; we hold the only reference the library makes to it.
        let r = unsafe { &mut *self.ptr.add(i) };
        // OMcache writes where the request went; one that was not sent keeps the caller's.
        if let Some(server) = server {
            r.server_index = server as c_int;
        }
        r.header.magic = crate::protocol::REQUEST_MAGIC;
        r.header.datatype = 0;
        r.header.opaque = opaque;
    }
}

/// Delivers responses to the caller's values array and collects them for the response
/// callback.
struct CSink<'d> {
    deferred: &'d mut callbacks::Deferred,
    values: *mut omcache_value_t,
    capacity: usize,
    stored: usize,
}

impl<'d> CSink<'d> {
    /// # Safety
    /// `values` must be valid for `capacity` writes (or NULL with capacity 0).
    unsafe fn new(
        deferred: &'d mut callbacks::Deferred,
        values: *mut omcache_value_t,
        capacity: usize,
    ) -> CSink<'d> {
        let capacity = if values.is_null() { 0 } else { capacity };
        CSink {
            deferred,
            values,
            capacity,
            stored: 0,
        }
    }
}

impl From<&Response<'_>> for omcache_value_t {
    fn from(r: &Response<'_>) -> omcache_value_t {
        omcache_value_t {
            status: status::code(r.status),
            key: ptr_or_null(r.key),
            key_len: r.key.len(),
            data: ptr_or_null(r.data),
            data_len: r.data.len(),
            flags: r.flags,
            cas: r.cas,
            delta_value: r.delta_value,
        }
    }
}

impl ResponseSink for CSink<'_> {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if self.deferred.wants_responses() {
            self.deferred.push_response(resp);
        }
        if batch_index.is_some() && self.stored < self.capacity {
            let value = omcache_value_t::from(resp);
            // SAFETY: stored < capacity, and `values` is valid for `capacity` writes.
            unsafe { self.values.add(self.stored).write(value) };
            self.stored += 1;
            return true;
        }
        false
    }
}

/// A NUL-terminated static message for a return code.
fn message(rc: c_int) -> &'static [u8] {
    status::message(rc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OMcache 0.3's own tests poke the request-id counter at byte offset 8 of the handle
    /// (an i64 comes first on every target).
    #[test]
    fn request_id_counter_is_at_offset_8() {
        assert_eq!(std::mem::offset_of!(omcache_t, req_id), 8);
    }

    /// The C structs' sizes on 64-bit targets (x86-64's, as include/ and the header check
    /// measure them); other pointer widths have their own.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn struct_sizes_on_64_bit_targets() {
        assert_eq!(std::mem::size_of::<omcache_req_t>(), 56);
        assert_eq!(std::mem::size_of::<omcache_value_t>(), 64);
        assert_eq!(std::mem::size_of::<omcache_dist_t>(), 32);
        assert_eq!(std::mem::size_of::<omcache_server_info_t>(), 24);
    }

    #[test]
    fn counter_written_at_offset_8_is_used() {
        let mc = omcache_init();
        // SAFETY: test-only poke at the documented offset, as OMcache 0.3's tests do.
        unsafe { mc.cast::<u8>().add(8).cast::<u32>().write(u32::MAX - 5) };
        with_handle(mc, (), |inner, _| {
            assert_eq!(inner.client.last_request_id(), u32::MAX - 5)
        });
        omcache_free(mc);
    }

    /// Defect 7: an early OMCACHE_INVALID leaves every count output at 0 (no uninitialised
    /// entry is counted, no request is left for omcache_io).
    #[test]
    fn invalid_returns_zero_the_counts() {
        let mc = omcache_init();
        let null = std::ptr::null_mut::<omcache_t>();
        let key = b"key";
        let mut keys = [key.as_ptr(); 3];
        let mut lens = [3usize; 3];
        let mut exps = [0 as libc::time_t; 3];
        let mut reqs = [std::mem::MaybeUninit::<omcache_req_t>::uninit(); 3];
        let mut values = [std::mem::MaybeUninit::<omcache_value_t>::uninit(); 3];
        let reqs_p = reqs.as_mut_ptr().cast::<omcache_req_t>();
        let values_p = values.as_mut_ptr().cast::<omcache_value_t>();
        let keys_p = keys.as_mut_ptr();
        let get_multi = |mc, lens: &mut [usize; 3], req_count: usize| {
            let (mut rc_, mut vc) = (req_count, 3usize);
            let rc = omcache_get_multi(
                mc,
                keys_p,
                lens.as_mut_ptr(),
                3,
                reqs_p,
                &mut rc_,
                values_p,
                &mut vc,
                -1,
            );
            (rc, rc_, vc)
        };
        // NULL handle, too few request slots, a bad key.
        assert_eq!(get_multi(null, &mut lens, 3), (INVALID, 0, 0));
        assert_eq!(get_multi(mc, &mut lens, 2), (INVALID, 0, 0));
        lens[1] = 0;
        assert_eq!(get_multi(mc, &mut lens, 3), (INVALID, 0, 0));
        lens[1] = 251;
        assert_eq!(get_multi(mc, &mut lens, 3), (INVALID, 0, 0));
        lens[1] = 3;
        let (mut rc_, mut vc) = (2usize, 3usize);
        let rc = omcache_gat_multi(
            mc,
            keys_p,
            lens.as_mut_ptr(),
            exps.as_mut_ptr(),
            3,
            reqs_p,
            &mut rc_,
            values_p,
            &mut vc,
            -1,
        );
        assert_eq!((rc, rc_, vc), (INVALID, 0, 0));
        let mut vc = 3usize;
        let rc = omcache_get_multi(
            mc,
            keys_p,
            lens.as_mut_ptr(),
            3,
            reqs_p,
            std::ptr::null_mut(),
            values_p,
            &mut vc,
            -1,
        );
        assert_eq!((rc, vc), (INVALID, 0));

        // omcache_command: NULL handle, and a request whose lengths do not add up.
        for handle in [null, mc] {
            let mut req = omcache_req_t {
                server_index: -1,
                header: omcache_req_header_s {
                    opcode: crate::protocol::opcode::GETK,
                    keylen: 3u16.to_be(),
                    bodylen: 1u32.to_be(),
                    ..Default::default()
                },
                extra: std::ptr::null(),
                key: key.as_ptr(),
                data: std::ptr::null(),
            };
            let (mut rc_, mut vc) = (1usize, 3usize);
            let rc = omcache_command(handle, &mut req, &mut rc_, values_p, &mut vc, -1);
            assert_eq!((rc, rc_, vc), (INVALID, 0, 0));
        }

        // omcache_io with a NULL handle or a foreign array: values 0, req_count untouched.
        for handle in [null, mc] {
            // SAFETY: zeroed requests are valid values (NULL pointers, zero lengths).
            let mut foreign: [omcache_req_t; 2] = unsafe { std::mem::zeroed() };
            foreign[1].header.opaque = 77;
            let (mut rc_, mut vc) = (2usize, 3usize);
            let rc = omcache_io(
                handle,
                foreign.as_mut_ptr(),
                &mut rc_,
                values_p,
                &mut vc,
                -1,
            );
            assert_eq!((rc, rc_, vc), (INVALID, 2, 0));
        }

        // omcache_stat with a NULL handle; omcache_poll_fds with a NULL handle.
        let mut vc = 3usize;
        let rc = omcache_stat(null, std::ptr::null(), values_p, &mut vc, 0, -1);
        assert_eq!((rc, vc), (INVALID, 0));
        let mut nfds: c_int = 5;
        assert!(omcache_poll_fds(null, &mut nfds, std::ptr::null_mut()).is_null());
        assert_eq!(nfds, 0);
        omcache_free(mc);
    }
}
