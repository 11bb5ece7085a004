//! The retrieval family: `memcached_mget*` queue quiet gets (GETKQ: one multi-get per server,
//! the engine closes the batch), `memcached_fetch*` hand the answers out one at a time, the
//! `memcached_result_*` accessors over caller memory, and `memcached_clone` /
//! `memcached_quit`.
//!
//! A pending fetch is the engine's current batch (the requests were encoded when queued, so
//! later calls pass a key-less view of them). One engine call takes every answer already
//! received: the first goes into the caller's result, the rest are copied aside
//! (`Prefetched`, dropped when the batch is no longer the engine's current one) and handed
//! out by the next fetches without calling the engine. The per-result counters libmemcached
//! keeps (`count`, which turns the end of a fetch into END or NOTFOUND) live in the result
//! structs themselves, as in the real library.
//!
//! Measured against Debian's libmemcached 1.1.4 (tests-c/lmc-fetch.sh compares whole
//! transcripts). Where we differ, on purpose or for now:
//! - A key the text protocol cannot carry (space, control byte) fails the whole mget with
//!   BAD_KEY_PROVIDED and nothing is sent; the real library sends `get c a b`, and the server
//!   answers for `a` and `b` as two keys (with VERIFY_KEY=1 it refuses as we do).
//! - The mget does not connect: a dead server's mget returns SUCCESS and the fetch then
//!   returns its failure (CONNECTION_FAILURE); the real library connects within the mget and
//!   returns SERVER_TEMPORARILY_DISABLED there. Later mgets agree (47) when every key is on
//!   servers out of service.
//! - An mget whose keys are partly on servers out of service succeeds for the others over
//!   binary too (1.1.4 does so over text only; over binary it returns the failure and hands
//!   out nothing).
//! - A clone has its own engine: it does not inherit the servers' failure state (the real
//!   clone's first mget to a server that failed on the source gives 47 without trying).
//! - memcached_quit closes every connection but keeps what is known of the servers: one out
//!   of service stays so until its retry time (1.1.4's quit forgets it and tries the server
//!   again at once), so that a server back from a freeze is still flushed before it takes
//!   its keys back (see the engine's failover).
//! - Results' values are NUL-terminated (the real library's are not always).

use std::ffi::{c_char, c_int, c_void};
use std::time::Instant;

use super::memc::{self, Lmc};
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;
use crate::client::{valid_key, Request, RequestSet, Requests, Response, ResponseSink, Route};
use crate::client::{IoOutcome, Status, Wait};
use crate::ffi::common::{c_bytes, guard};
use crate::protocol::{opcode, RequestParts};

use super::api::{key_arg, One};
use super::keys::WireKey;

const MAX_KEY: usize = 251;

/// Codes of `memcached_return_t` only this family returns.
const MEMORY_ALLOCATION_FAILURE: c_int = 17;
const SOME_ERRORS: c_int = 19;
const END: c_int = 21;

/// libmemcached's `memcached_success()` (an inline function compiled into clients).
fn is_success(code: c_int) -> bool {
    matches!(code, 0 | 15 | 21 | 22 | 23 | 24 | 25 | 32)
}

/// `memcached_string_st`: 40 bytes. The buffer is libc memory; `current_size` its capacity.
#[repr(C)]
pub struct memcached_string_st {
    pub end: *mut c_char,
    pub string: *mut c_char,
    pub current_size: usize,
    pub root: *const memcached_st,
    pub options: u8,
    _pad: [u8; 7],
}

/// `memcached_result_st`: 352 bytes, often in caller memory (on the stack, or pylibmc's
/// arrays of stride 352). Byte 347 holds `is_allocated` (bit 0) and `is_initialized` (bit 1).
#[repr(C)]
pub struct memcached_result_st {
    pub item_flags: u32,
    _pad0: u32,
    pub item_expiration: libc::time_t,
    pub key_length: usize,
    pub item_cas: u64,
    pub root: *const memcached_st,
    pub value: memcached_string_st,
    pub numeric_value: u64,
    pub count: u64,
    pub item_key: [u8; MAX_KEY],
    pub options: u8,
    _pad1: [u8; 4],
}

const ALLOCATED: u8 = 1;
const INITIALIZED: u8 = 2;
/// Where libmemcached's own result sits in a `memcached_st` (memcached_fetch's buffer).
const EMBEDDED_RESULT: usize = 160;

type memcached_execute_fn = Option<
    unsafe extern "C" fn(*const memcached_st, *mut memcached_result_st, *mut c_void) -> c_int,
>;

impl memcached_result_st {
    fn fresh(memc: *const memcached_st, options: u8) -> memcached_result_st {
        memcached_result_st {
            item_flags: 0,
            _pad0: 0,
            item_expiration: 0,
            key_length: 0,
            item_cas: 0,
            root: memc,
            value: memcached_string_st {
                end: std::ptr::null_mut(),
                string: std::ptr::null_mut(),
                current_size: 0,
                root: memc,
                options: 0,
                _pad: [0; 7],
            },
            numeric_value: 0,
            count: 0,
            item_key: [0; MAX_KEY],
            options,
            _pad1: [0; 4],
        }
    }

    fn len(&self) -> usize {
        if self.value.string.is_null() {
            0
        } else {
            self.value.end as usize - self.value.string as usize
        }
    }

    /// A hit of a fetch: key, flags, CAS and value (false when memory ran out for the value).
    fn store_hit(&mut self, key: &[u8], value: &[u8], flags: u32, cas: u64) -> bool {
        let klen = key.len().min(MAX_KEY - 1);
        self.item_key[..klen].copy_from_slice(&key[..klen]);
        self.item_key[klen] = 0;
        self.key_length = klen;
        self.item_flags = flags;
        self.item_cas = cas;
        self.item_expiration = 0;
        self.store_value(value)
    }

    /// Replaces the value with `data` (NUL-terminated), reusing the buffer when it is large
    /// enough. False when memory ran out.
    fn store_value(&mut self, data: &[u8]) -> bool {
        self.value.end = self.value.string;
        self.append_value(data)
    }

    fn append_value(&mut self, data: &[u8]) -> bool {
        let old = self.len();
        let need = old + data.len() + 1;
        if self.value.string.is_null() || self.value.current_size < need {
            // SAFETY: realloc of our own libc buffer (or NULL); checked for NULL.
            let p = unsafe { libc::realloc(self.value.string.cast(), need) }.cast::<c_char>();
            if p.is_null() {
                return false;
            }
            self.value.string = p;
            self.value.current_size = need;
        }
        // SAFETY: the buffer holds `need` bytes; `data` is a distinct slice.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr().cast(),
                self.value.string.add(old),
                data.len(),
            );
            self.value.end = self.value.string.add(old + data.len());
            *self.value.end = 0;
        }
        true
    }

    /// Empties the value and keeps its buffer for the next result (libmemcached's
    /// memcached_string_reset at the end of a fetch): no allocation per mget once it is large
    /// enough.
    fn reset_value(&mut self) {
        self.value.end = self.value.string;
    }

    fn free_value(&mut self) {
        if !self.value.string.is_null() {
            // SAFETY: our own libc buffer, released once (the pointer is cleared).
            unsafe { libc::free(self.value.string.cast()) };
        }
        self.value.string = std::ptr::null_mut();
        self.value.end = std::ptr::null_mut();
        self.value.current_size = 0;
    }
}

/// A new result in `result` (caller memory: every byte written) or in libc memory (NULL).
fn result_create(
    memc: *const memcached_st,
    result: *mut memcached_result_st,
) -> *mut memcached_result_st {
    let (p, options) = if result.is_null() {
        // SAFETY: plain calloc, checked for NULL below.
        let p = unsafe { libc::calloc(1, std::mem::size_of::<memcached_result_st>()) };
        (p.cast::<memcached_result_st>(), ALLOCATED | INITIALIZED)
    } else {
        (result, INITIALIZED)
    };
    if !p.is_null() {
        // SAFETY: `p` is valid for writing a result (ours, or the caller's per the C API).
        unsafe { p.write(memcached_result_st::fresh(memc, options)) };
    }
    p
}

fn result_free(result: *mut memcached_result_st) {
    // SAFETY: NULL or a result made by memcached_result_create (the C API's contract).
    let Some(r) = (unsafe { result.as_mut() }) else {
        return;
    };
    r.free_value();
    r.numeric_value = u64::MAX;
    if r.options & ALLOCATED != 0 {
        // SAFETY: allocated with calloc by result_create; freed once.
        unsafe { libc::free(result.cast()) };
    } else {
        r.options &= !INITIALIZED;
    }
}

/// The requests of the pending fetch, without their keys: they were encoded when queued;
/// the engine only needs a request again to reroute it, and a key-less one then fails
/// (libmemcached does not reroute the keys of a pending fetch either).
struct Pending;

impl RequestSet for Pending {
    fn len(&self) -> usize {
        usize::MAX
    }

    fn request(&self, _i: usize) -> Request<'_> {
        Request::keyed(RequestParts {
            opcode: opcode::GETKQ,
            ..Default::default()
        })
    }

    fn assigned(&mut self, _i: usize, _server: Option<usize>, _opaque: u32) {}
}

/// What one engine call delivered beyond the hit it handed out, in order, copied: the next
/// fetches hand these out without calling the engine again (one engine call per value cost
/// about 700 instructions a key on a 100-key text mget). Owned copies, not pointers into the
/// engine's buffers, so that nothing the caller does between fetches can leave them dangling;
/// they belong to the engine batch they came from and are dropped when it is no longer the
/// current one (a reset, a new mget), unless a command in the middle of the fetch had them
/// kept with the rest of its answers (`Lmc::keep_pending_fetch`).
#[derive(Default)]
pub(super) struct Prefetched {
    batch: u64,
    /// The rest of a fetch that a command interrupted (`Lmc::keep_pending_fetch`): handed
    /// out whatever the engine's batch is now, and the fetch ends with its last item.
    kept: bool,
    items: Vec<Prefetch>,
    /// Keys and values of the hits, end to end.
    bytes: Vec<u8>,
    /// The next item to hand out, and where its bytes start.
    next: usize,
    taken: usize,
    /// The first failure met before a hit that was handed out: it still ends the fetch,
    /// once the items after that hit are handed out (dropped with the hit, the fetch ended
    /// NOTFOUND with SUCCESS as the last error; found by an outside tester).
    failure: Option<Status>,
}

#[derive(Clone, Copy)]
enum Prefetch {
    Hit {
        key_end: usize,
        value_end: usize,
        flags: u32,
        cas: u64,
    },
    /// A request of the fetch failed.
    Failure(Status),
    /// A value that did not decrypt: it ends the fetch as a miss would.
    BadValue,
}

/// Copies taken beyond the handed-out hit stop at this many bytes (the rest stays in the
/// engine's buffers for a later call) ...
const PREFETCH_BYTES: usize = 32 * 1024;
/// ... and a hit larger than this is never copied twice: after one, the call ends at once.
const PREFETCH_LARGEST: usize = 4096;
/// ... and at this many items, so that the lists, sized once for these bounds, never grow on
/// the hot path (how many answers one read brings is up to the kernel: a list that grew to fit
/// would allocate whenever a read brought more than any before it).
const PREFETCH_ITEMS: usize = 256;
/// Room for the bytes: the bound, plus the key and a value up to `PREFETCH_LARGEST` that may
/// cross it. A larger value grows the buffer for its fetch, and `clear` gives that back.
const PREFETCH_ROOM: usize = PREFETCH_BYTES + 256 + PREFETCH_LARGEST;

impl Prefetched {
    pub(super) fn clear(&mut self) {
        self.kept = false;
        self.failure = None;
        self.items.clear();
        self.bytes.clear();
        if self.bytes.capacity() > PREFETCH_ROOM {
            self.bytes.shrink_to(PREFETCH_ROOM);
        }
        self.next = 0;
        self.taken = 0;
    }

    /// Sizes the lists for their bounds, once per handle (the first fetch that copies).
    fn reserve(&mut self) {
        if self.items.capacity() < PREFETCH_ITEMS {
            self.items.reserve_exact(PREFETCH_ITEMS - self.items.len());
            self.bytes.reserve_exact(PREFETCH_ROOM - self.bytes.len());
        }
    }

    fn push(&mut self, item: Prefetch) {
        self.reserve();
        self.items.push(item);
    }

    /// Whether another item must wait for a later engine call.
    fn full(&self) -> bool {
        self.items.len() >= PREFETCH_ITEMS || self.bytes.len() >= PREFETCH_BYTES
    }

    fn push_hit(&mut self, key: &[u8], value: &[u8], flags: u32, cas: u64) {
        self.reserve();
        self.bytes.extend_from_slice(key);
        let key_end = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.items.push(Prefetch::Hit {
            key_end,
            value_end: self.bytes.len(),
            flags,
            cas,
        });
    }

    /// The next item with its key and value (empty for the others).
    fn pop(&mut self) -> Option<(Prefetch, &[u8], &[u8])> {
        let item = *self.items.get(self.next)?;
        self.next += 1;
        Some(match item {
            Prefetch::Hit {
                key_end, value_end, ..
            } => {
                let key_start = self.taken;
                self.taken = value_end;
                (
                    item,
                    &self.bytes[key_start..key_end],
                    &self.bytes[key_end..value_end],
                )
            }
            other => (other, &[][..], &[][..]),
        })
    }
}

/// Copies the first hit into a result, and what follows it in the buffers into the
/// `Prefetched` list; the engine then returns instead of waiting for more.
struct FetchSink<'r> {
    result: &'r mut memcached_result_st,
    more: &'r mut Prefetched,
    with_cas: bool,
    got: bool,
    /// The first failure before the hit (a hit wins: the call hands it out).
    failure: Option<Status>,
    /// The encoding key, over the text protocol (1.1.4 decrypts only there).
    decrypt: Option<&'r super::encoding::EncodingKey>,
    /// A value did not decrypt (the fetch ends with NOTFOUND).
    bad_value: bool,
    /// Nothing more is to be taken in this call (a bad value, a big one, enough bytes).
    stop: bool,
    /// The namespace's length, in front of every key that comes back.
    namespace_len: usize,
    /// Every answer goes to `more`, none to `result`, and nothing stops the call (the rest of
    /// an interrupted fetch).
    keep_all: bool,
}

impl<'r> FetchSink<'r> {
    /// A sink for the pending fetch: `keep_all` takes every answer into `more`.
    fn new(
        result: &'r mut memcached_result_st,
        more: &'r mut Prefetched,
        model: &super::config::Model,
        encoding_key: Option<&'r super::encoding::EncodingKey>,
        with_cas: bool,
        failure: Option<Status>,
        keep_all: bool,
    ) -> FetchSink<'r> {
        FetchSink {
            result,
            more,
            with_cas,
            got: false,
            failure,
            // 1.1.4 decrypts values over text only.
            decrypt: encoding_key.filter(|_| !model.binary_protocol),
            bad_value: false,
            stop: false,
            namespace_len: model.namespace.as_ref().map_or(0, Vec::len),
            keep_all,
        }
    }
}

impl ResponseSink for FetchSink<'_> {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if batch_index.is_none() || self.stop {
            return false;
        }
        match resp.status {
            Status::Ok if matches!(resp.opcode, opcode::GETKQ | opcode::GETK) => {
                let plain = match self.decrypt {
                    Some(k) if !resp.data.is_empty() => match k.decrypt(resp.data) {
                        Some(p) => Some(p),
                        None => {
                            if self.got || self.keep_all {
                                self.more.push(Prefetch::BadValue);
                            } else {
                                self.bad_value = true;
                            }
                            self.stop = true;
                            return false;
                        }
                    },
                    _ => None,
                };
                let value = plain.as_deref().unwrap_or(resp.data);
                // The caller sees its own key: the namespace the get was sent with is cut off.
                // (store_hit cuts it to the result's room, also for a copy handed out later.)
                let key = resp.key.get(self.namespace_len..).unwrap_or_default();
                let cas = if self.with_cas { resp.cas } else { 0 };
                if self.keep_all {
                    self.more.push_hit(key, value, resp.flags, cas);
                } else if self.got {
                    self.more.push_hit(key, value, resp.flags, cas);
                    self.stop = value.len() > PREFETCH_LARGEST || self.more.full();
                } else if self.result.store_hit(key, value, resp.flags, cas) {
                    self.got = true;
                    self.stop = value.len() > PREFETCH_LARGEST;
                } else {
                    self.failure
                        .get_or_insert(Status::Failed(crate::client::Failure::SendBufferFull));
                }
            }
            Status::Ok | Status::NotFound => {}
            other if self.keep_all => self.more.push(Prefetch::Failure(other)),
            other if self.got => {
                self.more.push(Prefetch::Failure(other));
                self.stop = self.more.full();
            }
            other => {
                self.failure.get_or_insert(other);
            }
        }
        false
    }

    fn paused(&self) -> bool {
        self.stop
    }

    fn satisfied(&self) -> bool {
        self.got
    }
}

/// Notes the first request of an mget that could not be sent, and how many could not (and
/// the first such failure).
struct FirstFailure {
    first: Option<usize>,
    failed: usize,
    status: Option<Status>,
}

impl ResponseSink for FirstFailure {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if self.first.is_none() {
            self.first = batch_index;
        }
        if batch_index.is_some() && resp.status.failure().is_some() {
            self.failed += 1;
            self.status.get_or_insert(resp.status);
        }
        false
    }
}

/// A request that failed without reaching its server (nothing was written, no answer was
/// due): its server refused or could not be connected (TLS and SASL handshakes included),
/// or was out of service. A TLS failure after the handshake (`Other`: a corrupt record) is
/// met while answers are due.
fn unreached(status: Status) -> bool {
    use crate::client::{Failure as F, TlsFailure};
    match status {
        Status::Failed(F::Tls(tls)) => tls != TlsFailure::Other,
        Status::Failed(f) => matches!(
            f,
            F::ConnectRefused
                | F::ConnectTimeout
                | F::NameNotResolved
                | F::ServerDead
                | F::ServerTemporarilyDisabled
                | F::NoServers
                | F::AuthFailed
                | F::AuthUnsupported
                | F::SaslConfig
        ),
        _ => false,
    }
}

/// The end of a fetch at a value that did not decrypt: NOTFOUND, and an allocated result
/// freed or the caller's emptied.
fn bad_value_end(
    r: &mut memcached_result_st,
    result: *mut memcached_result_st,
) -> memcached_return_t {
    if r.options & ALLOCATED != 0 {
        result_free(result);
    } else {
        r.count = 0;
        r.reset_value();
    }
    rc::NOTFOUND
}

impl Lmc {
    /// One result of the pending fetch into `result`: SUCCESS, or the end of the fetch (END
    /// when this result took answers, NOTFOUND when it took none, as libmemcached), after
    /// which an allocated result is freed and a caller's is emptied.
    fn fetch_one(
        &mut self,
        memc: *const memcached_st,
        result: *mut memcached_result_st,
    ) -> memcached_return_t {
        // SAFETY: a result made by memcached_result_create or our own (the callers').
        let r = unsafe { &mut *result };
        if self.model.use_udp {
            if r.options & ALLOCATED != 0 {
                result_free(result);
            }
            return self.record(rc::NOT_SUPPORTED, memc, None);
        }
        // Answers an earlier call took in hand out first, unless their batch is gone.
        let kept = self.prefetched.kept;
        if !kept && self.prefetched.batch != self.client.batch_generation() {
            self.prefetched.clear();
        }
        let mut failure = self.prefetched.failure.take();
        while let Some((item, key, value)) = self.prefetched.pop() {
            match item {
                Prefetch::Hit { flags, cas, .. } => {
                    if r.store_hit(key, value, flags, cas) {
                        self.prefetched.failure = self.failure_for_fetch_end(failure);
                        r.count += 1;
                        self.fetch_handed_out = true;
                        return rc::SUCCESS;
                    }
                    failure.get_or_insert(Status::Failed(crate::client::Failure::SendBufferFull));
                }
                Prefetch::Failure(status) => {
                    failure.get_or_insert(status);
                }
                Prefetch::BadValue => {
                    self.prefetched.clear();
                    self.open_fetch = None;
                    return bad_value_end(r, result);
                }
            }
        }
        self.prefetched.clear();
        if kept {
            // The rest of a fetch a command interrupted, handed out whole: its end.
            return self.end_fetch(memc, r, result, failure, IoOutcome::Done);
        }
        let wait = if self.client.batch_remaining() == 0 {
            // Answers already in the buffers are taken first, even when the batch is done.
            Wait::NoWait
        } else {
            self.wait()
        };
        let mut sink = FetchSink::new(
            r,
            &mut self.prefetched,
            &self.model,
            self.encoding_key.as_ref(),
            self.fetch_with_cas,
            failure,
            false,
        );
        // Cut as the keys were sent, even if the namespace changed since the mget.
        sink.namespace_len = self.mget_namespace_len;
        let outcome = self.client.io(Some(&Pending), &mut sink, wait);
        let (failure, bad_value, got) = (sink.failure, sink.bad_value, sink.got);
        self.prefetched.batch = self.client.batch_generation();
        // A value that does not decrypt ends the fetch as a miss would (measured on 1.1.4: the
        // fetch returns NULL with NOTFOUND, the answers after it are not handed out).
        if bad_value {
            self.open_fetch = None;
            return bad_value_end(r, result);
        }
        // Like libmemcached, a fetch leaves the last error alone unless it fails.
        if got {
            self.prefetched.failure = self.failure_for_fetch_end(failure);
            r.count += 1;
            self.fetch_handed_out = true;
            return rc::SUCCESS;
        }
        self.end_fetch(memc, r, result, failure, outcome)
    }

    /// What a failure met before the hit a fetch hands out leaves for the fetch's end (after
    /// the answers taken in behind it): itself, except over replicas, where the unreached
    /// server's error is recorded as 1.1.4 records it (replicas.rs) and its fetch ends
    /// NOTFOUND.
    fn failure_for_fetch_end(&self, failure: Option<Status>) -> Option<Status> {
        failure.filter(|_| self.model.number_of_replicas == 0)
    }

    /// The end of a fetch: END when this result took answers, NOTFOUND when it took none, or
    /// the failure met on the way; an allocated result is freed and a caller's emptied.
    fn end_fetch(
        &mut self,
        memc: *const memcached_st,
        r: &mut memcached_result_st,
        result: *mut memcached_result_st,
        failure: Option<Status>,
        outcome: IoOutcome,
    ) -> memcached_return_t {
        self.open_fetch = None;
        let failed = match (failure, outcome) {
            (Some(status), _) => Some(rc::from_status(status, &[])),
            (None, IoOutcome::Again) if self.client.batch_remaining() > 0 => Some(rc::TIMEOUT),
            _ => None,
        };
        // A failure met while answers were due (a server that closed mid-answer, stalled
        // past the poll timeout, or sent what was not asked) ends the fetch, after the keys
        // that came, as 1.1.4 ends it: the missing keys are not misses. (Until outside
        // tester U, ours ended such a fetch with END once keys had come, so that programs
        // that drop a failed call's keys kept them; but a program then took the missing keys
        // for misses, and a drop-in answers as 1.1.4 does.) A server that could not be
        // reached at all (refused, out of service; 1.1.4 connects within the mget and leaves
        // its keys out) does not fail a fetch that handed out other servers' keys: END, the
        // failure kept as the last error (outside tester V: after a kill -9, PHP's getMulti
        // became false where 1.1.4 returns the live servers' keys). Nothing handed out: the
        // failure, which 1.1.4's mget itself would have returned.
        let answer_time = !failure.is_some_and(unreached);
        let code = match failed {
            Some(code) if answer_time || !self.fetch_handed_out => code,
            Some(code) => {
                let server = (self.client.server_count() == 1).then_some(0);
                self.record_failure(code, failure.and_then(Status::failure), memc, server);
                if r.count > 0 {
                    END
                } else {
                    rc::NOTFOUND
                }
            }
            None if r.count > 0 => END,
            None => rc::NOTFOUND,
        };
        if r.options & ALLOCATED != 0 {
            result_free(result);
        } else {
            r.count = 0;
            r.reset_value();
        }
        if matches!(code, END | rc::NOTFOUND) {
            code
        } else {
            // The failed request's server is not known here (its key is not kept); with one
            // server it can only be that one.
            let server = (self.client.server_count() == 1).then_some(0);
            self.record_failure(code, failure.and_then(Status::failure), memc, server)
        }
    }

    /// A command between an mget and the end of its fetch (a get or a set between two
    /// `memcached_fetch` calls, or from a `memcached_fetch_execute` callback): the fetch's
    /// answers still to come are taken in first and kept, in order, and the fetches after
    /// the command hand them out. 1.1.4 loses them: a get ends the fetch, and a set or an
    /// increment reads the fetch's answers on its server as its own and drops the rest there.
    /// Waits as a fetch would (the poll timeout); what has not come by then is a TIMEOUT for
    /// the fetch to report when it gets there.
    pub(super) fn keep_pending_fetch(&mut self) {
        let Some(batch) = self.open_fetch.take() else {
            return;
        };
        if batch != self.client.batch_generation() {
            return;
        }
        if self.prefetched.kept || self.prefetched.batch != batch {
            self.prefetched.clear();
        }
        // Never written: every answer goes to the kept list.
        let mut unused = memcached_result_st::fresh(std::ptr::null(), 0);
        let deadline = Instant::now() + self.model.poll_wait();
        loop {
            let wait = if self.client.batch_remaining() == 0 {
                Wait::NoWait
            } else {
                Wait::Until(deadline)
            };
            let mut sink = FetchSink::new(
                &mut unused,
                &mut self.prefetched,
                &self.model,
                self.encoding_key.as_ref(),
                self.fetch_with_cas,
                None,
                true,
            );
            sink.namespace_len = self.mget_namespace_len;
            let outcome = self.client.io(Some(&Pending), &mut sink, wait);
            if self.client.batch_remaining() == 0 || outcome == IoOutcome::Paused {
                // Done, or a value that did not decrypt: the fetch ends there.
                break;
            }
            if Instant::now() >= deadline {
                self.prefetched.push(Prefetch::Failure(Status::Again));
                break;
            }
        }
        self.prefetched.batch = batch;
        self.prefetched.kept = true;
    }

    /// Queues the gets of an mget; nothing is sent for a bad key.
    fn mget(
        &mut self,
        memc: *const memcached_st,
        group: Option<&[u8]>,
        keys: *const *const c_char,
        key_length: *const usize,
        n: usize,
    ) -> memcached_return_t {
        self.query_id += 1;
        if n == 0 {
            return self.record(rc::INVALID_ARGUMENTS, memc, None);
        }
        if keys.is_null() || key_length.is_null() {
            return self.record(rc::BAD_KEY_PROVIDED, memc, None);
        }
        if self.model.use_udp {
            return self.record(rc::NOT_SUPPORTED, memc, None);
        }
        // SAFETY: the C API's contract: `n` keys and lengths.
        let (ptrs, lens) = unsafe {
            (
                std::slice::from_raw_parts(keys, n),
                std::slice::from_raw_parts(key_length, n),
            )
        };
        let text = !self.model.binary_protocol;
        // The text protocol cannot carry spaces or control bytes in a key: refused before
        // anything is sent (the real library sends them unless VERIFY_KEY is on).
        let bad = |k: &[u8]| !valid_key(k) || (text && !text_safe(k));
        let any_bad = (0..n).any(|i| {
            // SAFETY: each key valid for its length (the C API's contract).
            bad(unsafe { key_arg(ptrs[i], lens[i]) })
        });
        if any_bad || group.is_some_and(|g| !valid_key(g)) {
            return self.record(rc::BAD_KEY_PROVIDED, memc, None);
        }
        if self.client.server_count() == 0 {
            return self.record(rc::NO_SERVERS, memc, None);
        }
        self.fetch_with_cas = self.model.binary_protocol || self.model.support_cas;
        // Each get carries the namespace and goes where the single-key calls send the key
        // (Perl's get and get_multi are mget + fetch: the namespace must hold there too).
        let namespace = self.model.namespace.as_deref().unwrap_or_default();
        let hashed_namespace = self.model.hash_with_namespace;
        // The route of the gets not routed by their own wire key, the same for all: the
        // group key's, or (hashing the namespace) the empty key's, which libmemcached hashes
        // when namespace + key is over 250 bytes.
        let shared_by = match group {
            Some(g) => self.routing_key(Some(g), g),
            None => WireKey::Plain(&[]),
        };
        let shared_by = shared_by.get().unwrap_or_default();
        let needs_shared = group.is_some() || (hashed_namespace && !namespace.is_empty());
        let shared = if !needs_shared {
            Route::Key
        } else {
            match self.client.server_index_for_key(shared_by) {
                Some(i) if !valid_key(shared_by) => Route::Server(i),
                _ => Route::ByKey(shared_by),
            }
        };
        let routing = match (group, namespace.is_empty(), hashed_namespace) {
            (Some(_), _, _) => MgetRouting::Shared,
            (None, true, _) => MgetRouting::OwnKey,
            (None, false, true) => MgetRouting::OwnKeyOrShared,
            (None, false, false) => MgetRouting::Unprefixed,
        };
        // Namespace + key of every get, end to end, in buffers the handle keeps (no heap
        // once they have grown to the largest mget).
        let replicating = self.model.number_of_replicas > 0 && self.replicating();
        let prefixed = &mut self.mget_keys;
        let ends = &mut self.mget_ends;
        prefixed.clear();
        ends.clear();
        if !namespace.is_empty() {
            for i in 0..n {
                // SAFETY: each key valid for its length (the C API's contract).
                let key = unsafe { key_arg(ptrs[i], lens[i]) };
                prefixed.extend_from_slice(namespace);
                prefixed.extend_from_slice(key);
                ends.push(prefixed.len());
            }
        }
        let mut reqs = MgetRequests {
            keys: ptrs,
            lens,
            prefixed,
            ends,
            routing,
            shared,
        };
        let mut sink = FirstFailure {
            first: None,
            failed: 0,
            status: None,
        };
        // 1.1.4's mget over replicas succeeds whatever the servers did (the last error names
        // a server it could not reach).
        let mut missed = None;
        // The engine queues at most send_buffer_max (10 MiB) per server in one call; an mget
        // may ask for more (60,000 keys of 200 bytes failed with WRITE FAILURE, and over text
        // returned the keys that fitted). The caller's keys are in memory already: this call
        // may queue them all; the engine writes them while it reads the answers.
        let need = lens
            .iter()
            .fold(0usize, |a, &l| a.saturating_add(l))
            .saturating_add(n.saturating_mul(24 + namespace.len()));
        let limit = self.client.raise_send_limit(need);
        let status = if replicating {
            let (client, model, scratch) = (&mut self.client, &self.model, &mut self.replicas);
            missed = super::replicas::replicated_mget(client, model, scratch, &mut reqs, &mut sink);
            Status::Ok
        } else {
            self.client.command_then_fetch(&mut reqs, &mut sink)
        };
        self.client.restore_send_limit(limit);
        // This mget's fetch replaces whatever an interrupted one kept.
        if self.prefetched.kept {
            self.prefetched.clear();
        }
        self.open_fetch = Some(self.client.batch_generation());
        self.fetch_handed_out = false;
        self.mget_namespace_len = self.model.namespace.as_ref().map_or(0, Vec::len);
        // The server of the first get that could not be sent, for the error that names it.
        let server_of = |lmc: &mut Lmc, first: Option<usize>| {
            first.and_then(|i| {
                // SAFETY: each key valid for its length (the C API's contract).
                let key = unsafe { key_arg(ptrs[i], lens[i]) };
                let by = lmc.routing_key(group, key);
                lmc.client
                    .server_index_for_key(by.get().unwrap_or_default())
            })
        };
        let code = match (status, sink.first, sink.status) {
            (Status::Buffered | Status::Ok, first, Some(failed)) if !replicating => {
                // A server failed while the gets were written (its connection found reset):
                // the mget succeeds for the others, and the failure waits for the fetch's
                // end, which reports it as 1.1.4's does (it was lost: the fetch ended NOTFOUND
                // with SUCCESS as the last error; found by an outside tester).
                self.prefetched.clear();
                self.prefetched.failure = Some(failed);
                self.prefetched.batch = self.client.batch_generation();
                let server = server_of(self, first);
                // The last error names it; the call's own code is SUCCESS (the other gets
                // went out).
                self.record_status(failed, &[], memc, server);
                rc::SUCCESS
            }
            (Status::Buffered | Status::Ok, _, _) => self.record(rc::SUCCESS, memc, None),
            (other, failed, _) => {
                let server = server_of(self, failed);
                let code = self.record_status(other, &[], memc, server);
                // A server that cannot be reached is skipped (its error kept as the last one)
                // and the mget succeeds when the other gets went out: Perl's get_multi,
                // pylibmc's and PHP's getMulti then fetch the keys of the live servers.
                // libmemcached 1.1.4 does so over text; over binary it returns the failure
                // and those programs get nothing, for as long as the server is out, while
                // it serves them the live keys with a frozen server (which it never puts
                // out of service). Ours does the same over both: what failover is for.
                if sink.failed > 0 && sink.failed < n && other.failure().is_some() {
                    rc::SUCCESS
                } else {
                    code
                }
            }
        };
        match missed {
            Some(missed) => self.record_unreached(code, missed, memc),
            None => code,
        }
    }
}

/// How the gets of an mget are routed (as the single-key calls route their key).
#[derive(Clone, Copy)]
enum MgetRouting {
    /// By its own wire key (no namespace, no group key).
    OwnKey,
    /// By its own wire key, namespace included; by the shared route when that is over 250
    /// bytes (HASH_WITH_PREFIX_KEY).
    OwnKeyOrShared,
    /// By the caller's key, without the namespace.
    Unprefixed,
    /// All by the shared route (a group key).
    Shared,
}

/// The gets of one mget, made when the engine asks for them from the caller's key arrays and
/// the handle's buffer of namespaced keys: no list of requests is built per call.
struct MgetRequests<'a> {
    keys: &'a [*const c_char],
    lens: &'a [usize],
    /// Namespace + key of every get, end to end (empty without a namespace)...
    prefixed: &'a [u8],
    /// ... and where each ends.
    ends: &'a [usize],
    routing: MgetRouting,
    shared: Route<'a>,
}

impl RequestSet for MgetRequests<'_> {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn request(&self, i: usize) -> Request<'_> {
        // SAFETY: each key valid for its length (the C API's contract; checked by the mget).
        let key = unsafe { key_arg(self.keys[i], self.lens[i]) };
        let wire = if self.ends.is_empty() {
            key
        } else {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.prefixed[start..self.ends[i]]
        };
        let route = match self.routing {
            MgetRouting::OwnKey => Route::Key,
            MgetRouting::OwnKeyOrShared if wire.len() < MAX_KEY => Route::Key,
            MgetRouting::Unprefixed => Route::ByKey(key),
            MgetRouting::OwnKeyOrShared | MgetRouting::Shared => self.shared,
        };
        Request {
            route,
            parts: RequestParts {
                opcode: opcode::GETKQ,
                key: wire,
                ..Default::default()
            },
        }
    }

    fn assigned(&mut self, _i: usize, _server: Option<usize>, _opaque: u32) {}
}

/// No byte the text protocol cannot carry in a key (space, control bytes, DEL), eight at a
/// time: an mget checks every key before it sends any.
fn text_safe(key: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().unwrap_or_default());
        // A byte below 0x21 (Mycroft's "has less than"), or one equal to 0x7f.
        let low = x.wrapping_sub(ONES * 0x21) & !x & HIGHS;
        let y = x ^ (ONES * 0x7f);
        let del = y.wrapping_sub(ONES) & !y & HIGHS;
        if low | del != 0 {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| b > b' ' && b != 0x7f)
}

/// The group key of a `*_by_key` call: None (route by each key) when empty.
///
/// # Safety
/// A non-NULL `group` must be valid for `len` bytes.
unsafe fn group_arg<'a>(group: *const c_char, len: usize) -> Option<&'a [u8]> {
    // SAFETY: guaranteed by the caller.
    let g = unsafe { c_bytes(group.cast(), len) };
    (!g.is_empty()).then_some(g)
}

fn embedded_result(memc: *mut memcached_st) -> *mut memcached_result_st {
    memc.cast::<u8>()
        .wrapping_add(EMBEDDED_RESULT)
        .cast::<memcached_result_st>()
}

/// The handle's own result, made ready (memcached_create leaves it zeroed).
///
/// # Safety
/// `memc` is a valid memcached_st.
unsafe fn handle_result(memc: *mut memcached_st) -> *mut memcached_result_st {
    let r = embedded_result(memc);
    // SAFETY: bytes 160..512 of the handle are libmemcached's result, ours to use.
    if unsafe { (*r).options } & INITIALIZED == 0 {
        result_create(memc, r);
    }
    r
}

/// Releases the value buffer the handle's own result keeps between fetches (a fetch's end
/// keeps it for the next one, as libmemcached does); memcached_free calls this.
///
/// # Safety
/// `memc` is a valid memcached_st.
pub(super) unsafe fn release_handle_result(memc: *mut memcached_st) {
    let r = embedded_result(memc);
    // SAFETY: bytes 160..512 of the handle are libmemcached's result, ours to use; zeroed
    // (never initialised) or made by result_create.
    let r = unsafe { &mut *r };
    if r.options & INITIALIZED != 0 {
        r.free_value();
    }
}

#[no_mangle]
pub extern "C" fn memcached_mget(
    ptr: *mut memcached_st,
    keys: *const *const c_char,
    key_length: *const usize,
    number_of_keys: usize,
) -> memcached_return_t {
    memc::with_memc_op(ptr, rc::INVALID_ARGUMENTS, |lmc| {
        lmc.mget(ptr, None, keys, key_length, number_of_keys)
    })
}

#[no_mangle]
pub extern "C" fn memcached_mget_by_key(
    ptr: *mut memcached_st,
    group_key: *const c_char,
    group_key_length: usize,
    keys: *const *const c_char,
    key_length: *const usize,
    number_of_keys: usize,
) -> memcached_return_t {
    memc::with_memc_op(ptr, rc::INVALID_ARGUMENTS, |lmc| {
        // SAFETY: the C API's contract: group key valid for its length.
        let group = unsafe { group_arg(group_key, group_key_length) };
        lmc.mget(ptr, group, keys, key_length, number_of_keys)
    })
}

/// libmemcached 1.1.4: binary protocol only (NOT_SUPPORTED over text); the callbacks are not
/// called by the mget itself (they are memcached_fetch_execute's).
#[no_mangle]
pub extern "C" fn memcached_mget_execute_by_key(
    ptr: *mut memcached_st,
    group_key: *const c_char,
    group_key_length: usize,
    keys: *const *const c_char,
    key_length: *const usize,
    number_of_keys: usize,
    _callback: *const memcached_execute_fn,
    _context: *mut c_void,
    _number_of_callbacks: u32,
) -> memcached_return_t {
    memc::with_memc(ptr, rc::INVALID_ARGUMENTS, |lmc| {
        if lmc.model.use_udp || !lmc.model.binary_protocol {
            return lmc.record(rc::NOT_SUPPORTED, ptr, None);
        }
        // SAFETY: the C API's contract: group key valid for its length.
        let group = unsafe { group_arg(group_key, group_key_length) };
        lmc.mget(ptr, group, keys, key_length, number_of_keys)
    })
}

#[no_mangle]
pub extern "C" fn memcached_mget_execute(
    ptr: *mut memcached_st,
    keys: *const *const c_char,
    key_length: *const usize,
    number_of_keys: usize,
    callback: *const memcached_execute_fn,
    context: *mut c_void,
    number_of_callbacks: u32,
) -> memcached_return_t {
    memcached_mget_execute_by_key(
        ptr,
        std::ptr::null(),
        0,
        keys,
        key_length,
        number_of_keys,
        callback,
        context,
        number_of_callbacks,
    )
}

/// The next result of the fetch into `result`, or into a new libc-allocated result (NULL);
/// NULL at the end (END or NOTFOUND in `error`).
#[no_mangle]
pub extern "C" fn memcached_fetch_result(
    ptr: *mut memcached_st,
    result: *mut memcached_result_st,
    error: *mut memcached_return_t,
) -> *mut memcached_result_st {
    let (code, out) =
        memc::with_memc_op(ptr, (rc::INVALID_ARGUMENTS, std::ptr::null_mut()), |lmc| {
            let r = if result.is_null() {
                // libmemcached's own result is always in use: a new one each call.
                let r = result_create(ptr, std::ptr::null_mut());
                if r.is_null() {
                    return (
                        lmc.record(MEMORY_ALLOCATION_FAILURE, ptr, None),
                        std::ptr::null_mut(),
                    );
                }
                r
            } else {
                result
            };
            let code = lmc.fetch_one(ptr, r);
            (
                code,
                if code == rc::SUCCESS {
                    r
                } else {
                    std::ptr::null_mut()
                },
            )
        });
    // SAFETY: a non-NULL `error` is writable (the C API's contract).
    if let Some(e) = unsafe { error.as_mut() } {
        *e = code;
    }
    out
}

/// The next value of the fetch, malloc'd and NUL-terminated (NULL for an empty value, with
/// SUCCESS); its key copied into `key` (exactly key_length bytes, no terminator). At the end:
/// NULL, END or NOTFOUND, and `*key = 0`.
#[no_mangle]
pub extern "C" fn memcached_fetch(
    ptr: *mut memcached_st,
    key: *mut c_char,
    key_length: *mut usize,
    value_length: *mut usize,
    flags: *mut u32,
    error: *mut memcached_return_t,
) -> *mut c_char {
    let mut klen = 0usize;
    let mut vlen = 0usize;
    let mut item_flags = 0u32;
    let (code, value) =
        memc::with_memc_op(ptr, (rc::INVALID_ARGUMENTS, std::ptr::null_mut()), |lmc| {
            // SAFETY: `ptr` is a valid handle (with_memc checked it).
            let r = unsafe { handle_result(ptr) };
            let code = lmc.fetch_one(ptr, r);
            if code != rc::SUCCESS {
                return (code, std::ptr::null_mut());
            }
            // SAFETY: the handle's result, just filled.
            let r = unsafe { &mut *r };
            klen = r.key_length;
            vlen = r.len();
            item_flags = r.item_flags;
            if !key.is_null() {
                // SAFETY: the caller's buffer holds the key (the C API's contract: at least
                // as long as the keys asked for); exactly key_length bytes are written.
                unsafe { std::ptr::copy_nonoverlapping(r.item_key.as_ptr().cast(), key, klen) };
            }
            let value = if vlen > 0 {
                std::mem::replace(&mut r.value.string, std::ptr::null_mut())
            } else {
                std::ptr::null_mut()
            };
            if vlen > 0 {
                r.value.end = std::ptr::null_mut();
                r.value.current_size = 0;
            }
            (code, value)
        });
    // SAFETY: non-NULL outputs are writable (the C API's contract).
    unsafe {
        if let Some(v) = value_length.as_mut() {
            *v = vlen;
        }
        if !key.is_null() {
            if let Some(k) = key_length.as_mut() {
                *k = klen;
            }
            if code != rc::SUCCESS {
                *key = 0;
            }
        } else if code != rc::SUCCESS {
            if let Some(k) = key_length.as_mut() {
                *k = 0;
            }
        }
        if let Some(f) = flags.as_mut() {
            *f = item_flags;
        }
        if let Some(e) = error.as_mut() {
            *e = code;
        }
    }
    value
}

/// Calls the callbacks for every result of the fetch (outside the handle's lock: they may
/// call back into the handle). A failing callback skips the rest for that result and the
/// call returns SOME_ERRORS.
#[no_mangle]
pub extern "C" fn memcached_fetch_execute(
    ptr: *mut memcached_st,
    callback: *const memcached_execute_fn,
    context: *mut c_void,
    number_of_callbacks: u32,
) -> memcached_return_t {
    guard(rc::INVALID_ARGUMENTS, || {
        let callbacks: &[memcached_execute_fn] = if callback.is_null() {
            &[]
        } else {
            // SAFETY: the C API's contract: an array of number_of_callbacks functions.
            unsafe { std::slice::from_raw_parts(callback, number_of_callbacks as usize) }
        };
        let mut some_errors = false;
        loop {
            let code = memc::with_memc_op(ptr, rc::INVALID_ARGUMENTS, |lmc| {
                // SAFETY: `ptr` is a valid handle (with_memc checked it).
                let r = unsafe { handle_result(ptr) };
                lmc.fetch_one(ptr, r)
            });
            if code != rc::SUCCESS {
                if some_errors {
                    return SOME_ERRORS;
                }
                return if code == END { rc::SUCCESS } else { code };
            }
            let r = embedded_result(ptr);
            for f in callbacks.iter().flatten() {
                // SAFETY: the caller's callback, with the handle and its result.
                let ret = unsafe { f(ptr, r, context) };
                if !is_success(ret) {
                    some_errors = true;
                    memc::with_memc(ptr, 0, |lmc| lmc.record(ret, ptr, None));
                    break;
                }
            }
        }
    })
}

/// `memcached_get` routed by a group key.
#[no_mangle]
pub extern "C" fn memcached_get_by_key(
    ptr: *mut memcached_st,
    group_key: *const c_char,
    group_key_length: usize,
    key: *const c_char,
    key_length: usize,
    value_length: *mut usize,
    flags: *mut u32,
    error: *mut memcached_return_t,
) -> *mut c_char {
    let (code, value, len, item_flags) = memc::with_memc_op(
        ptr,
        (rc::INVALID_ARGUMENTS, std::ptr::null_mut(), 0usize, 0u32),
        |lmc| {
            // SAFETY: the C API's contract: keys valid for their lengths.
            let (group, key) = unsafe {
                (
                    group_arg(group_key, group_key_length),
                    key_arg(key, key_length),
                )
            };
            let (code, mut sink) = get_routed(lmc, ptr, group, key);
            let code = lmc.decrypt_got(ptr, code, &mut sink);
            match sink.value {
                Some((p, len)) if code == rc::SUCCESS => (code, p, len, sink.flags),
                Some((p, _)) => {
                    // SAFETY: malloc'd by the sink, not handed out.
                    unsafe { libc::free(p.cast()) };
                    (code, std::ptr::null_mut(), 0, 0)
                }
                None => (code, std::ptr::null_mut(), 0, sink.flags),
            }
        },
    );
    // SAFETY: non-NULL outputs are writable (the C API's contract).
    unsafe {
        if let Some(l) = value_length.as_mut() {
            *l = len;
        }
        if let Some(f) = flags.as_mut() {
            *f = item_flags;
        }
        if let Some(e) = error.as_mut() {
            *e = code;
        }
    }
    value
}

/// One get, routed by `group` (or its own key).
fn get_routed(
    lmc: &mut Lmc,
    memc: *const memcached_st,
    group: Option<&[u8]>,
    key: &[u8],
) -> (c_int, One) {
    let Some(group) = group else {
        return lmc.run_keyed(memc, opcode::GETK, key, &[], &[], 0, true);
    };
    lmc.query_id += 1;
    let mut sink = One::new(true);
    if !valid_key(key) || !valid_key(group) {
        return (lmc.record(rc::BAD_KEY_PROVIDED, memc, None), sink);
    }
    if lmc.client.server_count() == 0 {
        return (lmc.record(rc::NO_SERVERS, memc, None), sink);
    }
    if lmc.model.use_udp {
        return (lmc.record(rc::NOT_SUPPORTED, memc, None), sink);
    }
    // The namespace goes in front of the key on the wire, and of the group key when it is
    // hashed with it (HASH_WITH_PREFIX_KEY), as for every other keyed call.
    let wire = lmc.wire_key(key);
    let Some(wire) = wire.get() else {
        let code = lmc.too_long_code();
        return (lmc.record(code, memc, None), sink);
    };
    let by = lmc.routing_key(Some(group), key);
    let by = by.get().unwrap_or_default();
    lmc.keep_pending_fetch();
    let server = lmc.client.server_index_for_key(by);
    let route = if valid_key(by) {
        Route::ByKey(by)
    } else {
        // A group key the engine takes for no key (namespace + group over 250 bytes, which
        // libmemcached hashes as the empty key): its server.
        server.map_or(Route::ByKey(by), Route::Server)
    };
    let mut reqs = [Request {
        route,
        parts: RequestParts {
            opcode: opcode::GETK,
            key: wire,
            ..Default::default()
        },
    }];
    let wait = lmc.wait();
    // The server a get could not reach before it read from a replica (replicas.rs).
    let mut unreached = None;
    let status = if lmc.model.number_of_replicas == 0 || !lmc.replicating() {
        lmc.client
            .command(&mut Requests(&mut reqs), &mut sink, wait)
    } else {
        lmc.get_failover(reqs[0], &mut sink, wait, &mut unreached)
    };
    let answer = sink.status.unwrap_or(status);
    let code = rc::from_status(answer, &sink.message[..sink.message_len]);
    lmc.quiet_errno(!lmc.model.binary_protocol);
    let code = lmc.record_failure(code, answer.failure(), memc, server);
    let code = match unreached {
        Some(missed) => lmc.record_unreached(code, missed, memc),
        None => code,
    };
    (code, sink)
}

#[no_mangle]
pub extern "C" fn memcached_result_create(
    ptr: *const memcached_st,
    result: *mut memcached_result_st,
) -> *mut memcached_result_st {
    guard(std::ptr::null_mut(), || result_create(ptr, result))
}

/// Frees the value, and the result itself when memcached_result_create allocated it.
#[no_mangle]
pub extern "C" fn memcached_result_free(result: *mut memcached_result_st) {
    guard((), || result_free(result))
}

#[no_mangle]
pub extern "C" fn memcached_result_reset(result: *mut memcached_result_st) {
    guard((), || {
        // SAFETY: NULL or a result made by memcached_result_create (the C API's contract).
        if let Some(r) = unsafe { result.as_mut() } {
            r.key_length = 0;
            r.item_key[0] = 0;
            r.value.end = r.value.string;
            r.item_flags = 0;
            r.item_cas = 0;
            r.item_expiration = 0;
            r.numeric_value = u64::MAX;
        }
    })
}

/// Runs `f` on a result from the caller, `on_null` for NULL.
fn with_result<T: Copy>(
    result: *const memcached_result_st,
    on_null: T,
    f: impl FnOnce(&memcached_result_st) -> T,
) -> T {
    guard(on_null, || {
        // SAFETY: NULL or a result made by memcached_result_create (the C API's contract).
        unsafe { result.as_ref() }.map_or(on_null, f)
    })
}

#[no_mangle]
pub extern "C" fn memcached_result_key_value(result: *const memcached_result_st) -> *const c_char {
    with_result(result, std::ptr::null(), |r| {
        if r.key_length == 0 {
            std::ptr::null()
        } else {
            r.item_key.as_ptr().cast()
        }
    })
}

#[no_mangle]
pub extern "C" fn memcached_result_key_length(result: *const memcached_result_st) -> usize {
    with_result(result, 0, |r| r.key_length)
}

#[no_mangle]
pub extern "C" fn memcached_result_value(result: *const memcached_result_st) -> *const c_char {
    with_result(result, std::ptr::null(), |r| r.value.string)
}

#[no_mangle]
pub extern "C" fn memcached_result_length(result: *const memcached_result_st) -> usize {
    with_result(result, 0, |r| r.len())
}

#[no_mangle]
pub extern "C" fn memcached_result_flags(result: *const memcached_result_st) -> u32 {
    with_result(result, 0, |r| r.item_flags)
}

#[no_mangle]
pub extern "C" fn memcached_result_cas(result: *const memcached_result_st) -> u64 {
    with_result(result, 0, |r| r.item_cas)
}

/// The value's buffer handed to the caller (free() it); NULL for an empty value.
#[no_mangle]
pub extern "C" fn memcached_result_take_value(result: *mut memcached_result_st) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a result made by memcached_result_create (the C API's contract).
        let Some(r) = (unsafe { result.as_mut() }) else {
            return std::ptr::null_mut();
        };
        if r.len() == 0 {
            return std::ptr::null_mut();
        }
        let p = r.value.string;
        r.value.string = std::ptr::null_mut();
        r.value.end = std::ptr::null_mut();
        r.value.current_size = 0;
        p
    })
}

/// Appends to the value (as libmemcached's string append).
#[no_mangle]
pub extern "C" fn memcached_result_set_value(
    result: *mut memcached_result_st,
    value: *const c_char,
    length: usize,
) -> memcached_return_t {
    guard(rc::INVALID_ARGUMENTS, || {
        // SAFETY: NULL or a result made by memcached_result_create (the C API's contract).
        let Some(r) = (unsafe { result.as_mut() }) else {
            return rc::INVALID_ARGUMENTS;
        };
        if value.is_null() && length > 0 {
            return rc::INVALID_ARGUMENTS;
        }
        // SAFETY: the C API's contract: value valid for length bytes.
        let data = unsafe { c_bytes(value.cast(), length) };
        if r.append_value(data) {
            rc::SUCCESS
        } else {
            MEMORY_ALLOCATION_FAILURE
        }
    })
}

#[no_mangle]
pub extern "C" fn memcached_result_set_flags(result: *mut memcached_result_st, flags: u32) {
    guard((), || {
        // SAFETY: NULL or a result made by memcached_result_create (the C API's contract).
        if let Some(r) = unsafe { result.as_mut() } {
            r.item_flags = flags;
        }
    })
}

#[no_mangle]
pub extern "C" fn memcached_result_set_expiration(
    result: *mut memcached_result_st,
    expiration: libc::time_t,
) {
    guard((), || {
        // SAFETY: NULL or a result made by memcached_result_create (the C API's contract).
        if let Some(r) = unsafe { result.as_mut() } {
            r.item_expiration = expiration;
        }
    })
}

/// A new handle with the settings, servers and behaviours of `source` (its own engine: no
/// connection is shared). NULL `source`: a fresh handle; a `clone` that memcached_create
/// allocated (or garbage with that bit set): NULL, as libmemcached.
#[no_mangle]
pub extern "C" fn memcached_clone(
    clone: *mut memcached_st,
    source: *const memcached_st,
) -> *mut memcached_st {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or caller memory of a memcached_st's size (the C API's contract).
        if let Some(c) = unsafe { clone.as_ref() } {
            if c.options & 1 != 0 {
                return std::ptr::null_mut();
            }
        }
        if source.is_null() {
            return memc::create(clone);
        }
        let mut copied = None;
        memc::with_memc(source.cast_mut(), (), |lmc| {
            // SAFETY: `source` is a valid handle (with_memc checked it).
            let user_data = unsafe { (*source).user_data };
            copied = Some((
                lmc.model.clone(),
                lmc.encoding_key.clone(),
                user_data,
                super::sasl::credentials(lmc),
            ));
        });
        let Some((model, encoding_key, user_data, sasl)) = copied else {
            return std::ptr::null_mut();
        };
        let new = memc::create(clone);
        if new.is_null() {
            return new;
        }
        let mut model = Some(model);
        let mut encoding_key = Some(encoding_key);
        let mut sasl = sasl;
        let ok = memc::with_memc(new, false, |lmc| {
            lmc.model = model.take().unwrap_or_default();
            // 1.1.4's clone pushes the servers into the copy: its continuum is built afresh.
            lmc.model.run_distribution();
            // The encoding key goes with the clone (measured on 1.1.4).
            lmc.encoding_key = encoding_key.take().flatten();
            lmc.apply_settings();
            lmc.apply_servers();
            // SASL credentials go with the clone (measured on 1.1.4).
            if let Some(credentials) = sasl.take() {
                super::sasl::install(lmc, new, credentials);
            }
            true
        });
        if !ok {
            memc::free(new);
            return std::ptr::null_mut();
        }
        // SAFETY: `new` is the handle just created.
        unsafe { (*new).user_data = user_data };
        new
    })
}

/// Closes every connection (a pending fetch ends); the next operation connects again.
#[no_mangle]
pub extern "C" fn memcached_quit(ptr: *mut memcached_st) {
    memc::with_memc(ptr, (), |lmc| {
        // Answers taken in before the quit go with the connections (1.1.4's fetch ends),
        // also those a command in the middle of the fetch kept.
        lmc.prefetched.clear();
        lmc.open_fetch = None;
        lmc.settle();
        lmc.client.close_connections();
        lmc.client.abandon_batch();
    })
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn result_layout_matches_libmemcached() {
        assert_eq!(size_of::<memcached_string_st>(), 40);
        assert_eq!(size_of::<memcached_result_st>(), 352);
        assert_eq!(offset_of!(memcached_result_st, item_expiration), 8);
        assert_eq!(offset_of!(memcached_result_st, key_length), 16);
        assert_eq!(offset_of!(memcached_result_st, item_cas), 24);
        assert_eq!(offset_of!(memcached_result_st, value), 40);
        assert_eq!(offset_of!(memcached_result_st, numeric_value), 80);
        assert_eq!(offset_of!(memcached_result_st, count), 88);
        assert_eq!(offset_of!(memcached_result_st, item_key), 96);
        assert_eq!(offset_of!(memcached_result_st, options), 347);
    }

    #[test]
    fn result_values_append_and_are_taken() {
        let r = result_create(std::ptr::null(), std::ptr::null_mut());
        assert!(!r.is_null());
        assert_eq!(
            memcached_result_set_value(r, c"abc".as_ptr(), 3),
            rc::SUCCESS
        );
        assert_eq!(
            memcached_result_set_value(r, c"defg".as_ptr(), 4),
            rc::SUCCESS
        );
        assert_eq!(memcached_result_length(r), 7);
        let v = memcached_result_take_value(r);
        // SAFETY: a NUL-terminated libc buffer handed to us.
        let taken = unsafe { std::ffi::CStr::from_ptr(v) };
        assert_eq!(taken.to_bytes(), b"abcdefg");
        // SAFETY: ours to free.
        unsafe { libc::free(v.cast()) };
        assert!(memcached_result_take_value(r).is_null());
        assert_eq!(memcached_result_length(r), 0);
        memcached_result_free(r);
    }

    /// However many answers a read brings, the prefetch lists stay within the room sized on
    /// their first use: filling them to their bounds, with the largest value that may cross
    /// the byte bound last, never grows them, and a bigger value's room is given back.
    #[test]
    fn prefetch_lists_never_grow_past_their_first_sizing() {
        let mut p = Prefetched::default();
        p.push_hit(b"k", b"v", 0, 0);
        let (items, bytes) = (p.items.capacity(), p.bytes.capacity());
        p.clear();
        while !p.full() {
            p.push_hit(b"key", b"", 0, 0);
        }
        assert_eq!(p.items.len(), PREFETCH_ITEMS);
        p.clear();
        let key = [b'k'; 250];
        let value = vec![b'v'; PREFETCH_LARGEST];
        while !p.full() {
            p.push_hit(&key, &value, 0, 0);
        }
        assert_eq!((p.items.capacity(), p.bytes.capacity()), (items, bytes));
        p.clear();
        p.push_hit(&key, &vec![b'v'; 1 << 20], 0, 0);
        p.clear();
        assert_eq!(p.bytes.capacity(), bytes);
    }
}
