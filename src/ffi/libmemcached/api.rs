//! The `memcached_*` functions: each converts its C arguments, runs the engine through the
//! handle (`memc::with_memc`) and converts back. Behaviour lives in the engine and in the
//! configuration model; nothing here blocks without the handle's wait.

use std::ffi::{c_char, c_int, CStr};

use super::config::{behavior, ModelServer};
use super::instance::SOME_ERRORS;
use super::keys::Counted;
use super::memc::{self, Lmc};
use super::rc::{self, memcached_return_t};
use super::server_list::{self, ConnectionType};
use super::types::{memcached_server_st, memcached_st};
use crate::client::{Failure, Request, Requests, Response, ResponseSink, Status};
use crate::ffi::common::{c_bytes, guard};
use crate::protocol::{extras, opcode, RequestParts};

/// Collects the one answer of a single request; a value is copied into malloc'd memory (the
/// caller frees it with free(), as libmemcached's callers do).
pub(super) struct One {
    pub(super) status: Option<Status>,
    pub(super) message: [u8; 64],
    pub(super) message_len: usize,
    pub(super) flags: u32,
    pub(super) cas: u64,
    pub(super) value: Option<(*mut c_char, usize)>,
    pub(super) keep_value: bool,
}

impl One {
    pub(super) fn new(keep_value: bool) -> One {
        One {
            status: None,
            message: [0; 64],
            message_len: 0,
            flags: 0,
            cas: 0,
            value: None,
            keep_value,
        }
    }
}

impl ResponseSink for One {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if batch_index.is_none() {
            return false;
        }
        self.status = Some(resp.status);
        self.flags = resp.flags;
        self.cas = resp.cas;
        self.message_len = resp.message.len().min(self.message.len());
        if self.message_len > 0 {
            // Only error lines carry words: no memcpy call for the usual empty message.
            self.message[..self.message_len].copy_from_slice(&resp.message[..self.message_len]);
        }
        if self.keep_value && resp.status == Status::Ok && !resp.data.is_empty() {
            let len = resp.data.len();
            // SAFETY: plain malloc of len + 1 bytes, checked for NULL; the copy stays inside it.
            let p = unsafe { libc::malloc(len + 1) }.cast::<c_char>();
            if !p.is_null() {
                // SAFETY: `p` holds len + 1 bytes; `resp.data` is len readable bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(resp.data.as_ptr().cast(), p, len);
                    *p.add(len) = 0;
                }
                if let Some((old, _)) = self.value.replace((p, len)) {
                    // SAFETY: allocated above by an earlier answer, not handed out.
                    unsafe { libc::free(old.cast()) };
                }
            }
        }
        false
    }
}

impl Lmc {
    /// Runs one keyed request (the namespace applied, see `keys.rs`); returns its outcome as
    /// a libmemcached code (recorded as the last error) and the answer.
    pub(super) fn run_keyed(
        &mut self,
        memc: *const memcached_st,
        op: u8,
        key: &[u8],
        extras: &[u8],
        value: &[u8],
        cas: u64,
        keep_value: bool,
    ) -> (c_int, One) {
        let mut sink = Counted::new(keep_value);
        let code = self.run_routed_into(memc, op, None, key, extras, value, cas, &mut sink);
        (code, sink.one)
    }
}

/// A key argument: NULL or too long gives an empty slice (refused as a bad key).
///
/// # Safety
/// A non-NULL `key` must be valid for `len` bytes.
pub(super) unsafe fn key_arg<'a>(key: *const c_char, len: usize) -> &'a [u8] {
    // SAFETY: guaranteed by the caller.
    unsafe { c_bytes(key.cast(), len) }
}

/// The storage family, plain and `*_by_key` (`group`: the group key and its length).
pub(super) fn store(
    memc: *mut memcached_st,
    op: u8,
    group: Option<(*const c_char, usize)>,
    key: *const c_char,
    key_length: usize,
    value: *const c_char,
    value_length: usize,
    expiration: libc::time_t,
    flags: u32,
    cas: u64,
) -> memcached_return_t {
    memc::with_memc_op(memc, rc::INVALID_ARGUMENTS, |lmc| {
        // No value memcached takes is 4 GiB (and no buffer is over isize::MAX bytes).
        if (value.is_null() && value_length > 0) || value_length > u32::MAX as usize {
            return lmc.record(rc::INVALID_ARGUMENTS, memc, None);
        }
        // SAFETY: the C API's contract: group key, key and value valid for their lengths.
        let (group, key, value) = unsafe {
            (
                group.map(|(g, len)| super::counters::group_arg(g, len)),
                key_arg(key, key_length),
                c_bytes(value.cast(), value_length),
            )
        };
        let encrypted = match lmc.encrypt_for_store(memc, op, value) {
            Ok(e) => e,
            Err(code) => return code,
        };
        let value = encrypted.as_deref().unwrap_or(value);
        // Binary append/prepend carry no extras (the server refuses them).
        let extras = extras::storage(flags, expiration as u32);
        let extras: &[u8] = if matches!(op, opcode::APPEND | opcode::PREPEND) {
            &[]
        } else {
            &extras
        };
        let mut answer = Counted::new(false);
        lmc.run_routed_into(memc, op, group, key, extras, value, cas, &mut answer)
    })
}

#[no_mangle]
pub extern "C" fn memcached_create(ptr: *mut memcached_st) -> *mut memcached_st {
    memc::create(ptr)
}

#[no_mangle]
pub extern "C" fn memcached_free(ptr: *mut memcached_st) {
    memc::free(ptr)
}

#[no_mangle]
pub extern "C" fn memcached_lib_version() -> *const c_char {
    c"1.1.4".as_ptr()
}

/// Safe with a NULL handle (memcerror passes one): the handle is never read.
#[no_mangle]
pub extern "C" fn memcached_strerror(
    _ptr: *const memcached_st,
    rc: memcached_return_t,
) -> *const c_char {
    rc::message(rc).as_ptr().cast()
}

#[no_mangle]
pub extern "C" fn memcached_last_error(memc: *const memcached_st) -> memcached_return_t {
    memc::with_memc(memc.cast_mut(), rc::INVALID_ARGUMENTS, |lmc| lmc.last_rc)
}

/// The text of the last error, valid until the next call on the handle.
#[no_mangle]
pub extern "C" fn memcached_last_error_message(memc: *const memcached_st) -> *const c_char {
    memc::with_memc(memc.cast_mut(), std::ptr::null(), |lmc| {
        lmc.last_message.as_ptr().cast()
    })
}

#[no_mangle]
pub extern "C" fn memcached_behavior_set(
    memc: *mut memcached_st,
    flag: c_int,
    data: u64,
) -> memcached_return_t {
    memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        let Ok(flag) = u32::try_from(flag) else {
            return lmc.record(rc::INVALID_ARGUMENTS, memc, None);
        };
        if matches!(
            flag,
            behavior::CACHE_LOOKUPS | behavior::USER_DATA | behavior::CORK
        ) {
            return lmc.record(rc::DEPRECATED, memc, None);
        }
        if flag == behavior::RANDOMIZE_REPLICA_READ {
            // 1.1.4 seeds libc random() with the time (whatever the value).
            super::replicas::seed_random();
        }
        match lmc.model.behavior_set(flag, data) {
            Ok(()) => {
                lmc.apply_settings();
                let redistributes = matches!(
                    flag,
                    behavior::DISTRIBUTION
                        | behavior::KETAMA
                        | behavior::KETAMA_WEIGHTED
                        | behavior::SORT_HOSTS
                );
                if redistributes && lmc.model.sort_hosts {
                    // The model's list was sorted: the engine's takes the same order (the
                    // connections stay), or server indices would name other servers.
                    lmc.apply_servers();
                }
                lmc.record(rc::SUCCESS, memc, None)
            }
            Err(_) => lmc.record(rc::INVALID_ARGUMENTS, memc, None),
        }
    })
}

#[no_mangle]
pub extern "C" fn memcached_behavior_get(memc: *mut memcached_st, flag: c_int) -> u64 {
    memc::with_memc(memc, 0, |lmc| {
        let Ok(flag) = u32::try_from(flag) else {
            return 0;
        };
        match flag {
            // The real library asks the first server's socket; unset and unconnected: 0.
            behavior::SOCKET_SEND_SIZE | behavior::SOCKET_RECV_SIZE => {
                let v = lmc.model.behavior_get(flag) as i64;
                v.max(0) as u64
            }
            _ => lmc.model.behavior_get(flag),
        }
    })
}

#[no_mangle]
pub extern "C" fn memcached_behavior_set_key_hash(
    memc: *mut memcached_st,
    hash: c_int,
) -> memcached_return_t {
    memcached_behavior_set(memc, behavior::HASH as c_int, hash as u64)
}

/// `libmemcached_string_hash(type)`: the name of a key hash ("DEFAULT", "MD5", … "CUSTOM"),
/// "INVALID" past the last one, as libmemcached 1.1.4 answers. The tools match `--hash NAME`
/// against these names (a NULL would crash them).
#[no_mangle]
pub extern "C" fn libmemcached_string_hash(hash: c_int) -> *const c_char {
    crate::ffi::libhashkit::algorithm_name(hash).as_ptr()
}

/// `memcached_servers_parse("h1:p1 w1,h2:p2,...")`: a list allocated with libc realloc (freed
/// with free() or memcached_server_list_free), the count in element 0; NULL for an empty or
/// invalid list.
#[no_mangle]
pub extern "C" fn memcached_servers_parse(list: *const c_char) -> *mut memcached_server_st {
    guard(std::ptr::null_mut(), || {
        if list.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: a NUL-terminated string (the C API's contract).
        let text = unsafe { CStr::from_ptr(list) }.to_bytes();
        let Some(parsed) = server_list::servers_parse(text) else {
            return std::ptr::null_mut();
        };
        let entries: Vec<memcached_server_st> = parsed
            .iter()
            .map(|s| memcached_server_st::entry(&s.hostname, s.port, s.weight, s.kind as u32))
            .collect();
        new_server_list(entries)
    })
}

/// A libc-allocated list of `entries` with the count in element 0.
fn new_server_list(mut entries: Vec<memcached_server_st>) -> *mut memcached_server_st {
    if entries.is_empty() {
        return std::ptr::null_mut();
    }
    entries[0].number_of_hosts = entries.len() as u32;
    let bytes = entries.len() * std::mem::size_of::<memcached_server_st>();
    // SAFETY: plain realloc(NULL, n) = malloc, checked for NULL.
    let p = unsafe { libc::realloc(std::ptr::null_mut(), bytes) }.cast::<memcached_server_st>();
    if p.is_null() {
        return p;
    }
    // SAFETY: `p` holds `entries.len()` elements; the source is a distinct Vec.
    unsafe { std::ptr::copy_nonoverlapping(entries.as_ptr(), p, entries.len()) };
    p
}

/// The entries of a caller's list.
///
/// # Safety
/// `list` is NULL or a list from memcached_servers_parse / memcached_server_list_append.
unsafe fn server_list_entries<'a>(list: *const memcached_server_st) -> &'a [memcached_server_st] {
    // SAFETY: guaranteed by the caller: element 0 exists and holds the count.
    let Some(first) = (unsafe { list.as_ref() }) else {
        return &[];
    };
    // SAFETY: the list has number_of_hosts elements.
    unsafe { std::slice::from_raw_parts(list, first.number_of_hosts as usize) }
}

#[no_mangle]
pub extern "C" fn memcached_server_list_count(list: *const memcached_server_st) -> u32 {
    guard(0, || {
        // SAFETY: NULL or a list from memcached_servers_parse (the C API's contract).
        unsafe { list.as_ref() }.map_or(0, |f| f.number_of_hosts)
    })
}

#[no_mangle]
pub extern "C" fn memcached_server_list_free(list: *mut memcached_server_st) {
    guard((), || {
        if !list.is_null() {
            // SAFETY: allocated with libc realloc by memcached_servers_parse.
            unsafe { libc::free(list.cast()) };
        }
    })
}

/// Appends copies of a list's servers (the list stays the caller's).
#[no_mangle]
pub extern "C" fn memcached_server_push(
    memc: *mut memcached_st,
    list: *const memcached_server_st,
) -> memcached_return_t {
    memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        // SAFETY: the C API's contract.
        let entries = unsafe { server_list_entries(list) };
        for e in entries {
            let mut name: Vec<u8> = e
                .hostname
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            if name.is_empty() {
                // An empty entry of a parsed list ("a:1,,b:2"): 1.1.4 names the server
                // localhost, as a server added with an empty name, and its continuum's points
                // carry that name (measured).
                name.extend_from_slice(b"localhost");
            }
            let kind = match e.kind {
                2 => ConnectionType::UnixSocket,
                1 => ConnectionType::Udp,
                _ => ConnectionType::Tcp,
            };
            if e.weight > 1 {
                lmc.model.weighted = true;
            }
            lmc.model.servers.push(ModelServer {
                hostname: name,
                port: e.port,
                weight: e.weight.max(1),
                kind,
            });
        }
        lmc.model.run_distribution();
        lmc.apply_settings();
        lmc.apply_servers();
        lmc.record(rc::SUCCESS, memc, None)
    })
}

#[no_mangle]
pub extern "C" fn memcached_server_count(memc: *const memcached_st) -> u32 {
    memc::with_memc(memc.cast_mut(), 0, |lmc| lmc.client.server_count() as u32)
}

#[no_mangle]
pub extern "C" fn memcached_server_add_with_weight(
    memc: *mut memcached_st,
    hostname: *const c_char,
    port: libc::in_port_t,
    weight: u32,
) -> memcached_return_t {
    memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        // SAFETY: a NULL or NUL-terminated hostname (the C API's contract).
        let host = unsafe {
            hostname
                .as_ref()
                .map(|_| CStr::from_ptr(hostname).to_bytes())
        };
        let Ok(add) = server_list::server_add_args(host, port, weight) else {
            return lmc.record(rc::INVALID_ARGUMENTS, memc, None);
        };
        if add.weight > 1 {
            lmc.model.weighted = true;
        }
        lmc.model.servers.push(ModelServer {
            hostname: add.hostname,
            port: add.port,
            weight: add.weight,
            kind: add.kind,
        });
        lmc.model.run_distribution();
        lmc.apply_settings();
        lmc.apply_servers();
        lmc.record(rc::SUCCESS, memc, None)
    })
}

#[no_mangle]
pub extern "C" fn memcached_server_add(
    memc: *mut memcached_st,
    hostname: *const c_char,
    port: libc::in_port_t,
) -> memcached_return_t {
    memcached_server_add_with_weight(memc, hostname, port, 0)
}

/// The storage family's C functions, plain and `*_by_key`, all through `store` (so encryption
/// and the binary append/prepend rule live in one place); `*_cas` take the CAS as well.
macro_rules! storage_functions {
    ($($plain:ident, $by_key:ident, $op:expr;)*) => {
        $(
            #[no_mangle]
            pub extern "C" fn $plain(
                memc: *mut memcached_st,
                key: *const c_char,
                key_length: usize,
                value: *const c_char,
                value_length: usize,
                expiration: libc::time_t,
                flags: u32,
            ) -> memcached_return_t {
                let (k, v) = ((key, key_length), (value, value_length));
                store(memc, $op, None, k.0, k.1, v.0, v.1, expiration, flags, 0)
            }

            #[no_mangle]
            pub extern "C" fn $by_key(
                memc: *mut memcached_st,
                group_key: *const c_char,
                group_key_length: usize,
                key: *const c_char,
                key_length: usize,
                value: *const c_char,
                value_length: usize,
                expiration: libc::time_t,
                flags: u32,
            ) -> memcached_return_t {
                let group = Some((group_key, group_key_length));
                let (k, v) = ((key, key_length), (value, value_length));
                store(memc, $op, group, k.0, k.1, v.0, v.1, expiration, flags, 0)
            }
        )*
    };
}

storage_functions! {
    memcached_set, memcached_set_by_key, opcode::SET;
    memcached_add, memcached_add_by_key, opcode::ADD;
    memcached_replace, memcached_replace_by_key, opcode::REPLACE;
    memcached_append, memcached_append_by_key, opcode::APPEND;
    memcached_prepend, memcached_prepend_by_key, opcode::PREPEND;
}

/// 1.1.4 sends a cas as a replace carrying the CAS value: a missing key is NOT_FOUND whatever
/// the value, and a CAS of 0 (a value fetched without SUPPORT_CAS) replaces unconditionally
/// over binary (measured); over text ours replaces too, where 1.1.4's server answers ERROR
/// and the connection loses its place.
#[no_mangle]
pub extern "C" fn memcached_cas(
    memc: *mut memcached_st,
    key: *const c_char,
    key_length: usize,
    value: *const c_char,
    value_length: usize,
    expiration: libc::time_t,
    flags: u32,
    cas: u64,
) -> memcached_return_t {
    let (k, v) = ((key, key_length), (value, value_length));
    store(
        memc,
        opcode::REPLACE,
        None,
        k.0,
        k.1,
        v.0,
        v.1,
        expiration,
        flags,
        cas,
    )
}

#[no_mangle]
pub extern "C" fn memcached_cas_by_key(
    memc: *mut memcached_st,
    group_key: *const c_char,
    group_key_length: usize,
    key: *const c_char,
    key_length: usize,
    value: *const c_char,
    value_length: usize,
    expiration: libc::time_t,
    flags: u32,
    cas: u64,
) -> memcached_return_t {
    let group = Some((group_key, group_key_length));
    let (k, v) = ((key, key_length), (value, value_length));
    store(
        memc,
        opcode::REPLACE,
        group,
        k.0,
        k.1,
        v.0,
        v.1,
        expiration,
        flags,
        cas,
    )
}

/// The value of a key, malloc'd and NUL-terminated (the caller frees it with free()); NULL with
/// NOTFOUND on a miss, NULL with SUCCESS for an empty value.
#[no_mangle]
pub extern "C" fn memcached_get(
    memc: *mut memcached_st,
    key: *const c_char,
    key_length: usize,
    value_length: *mut usize,
    flags: *mut u32,
    error: *mut memcached_return_t,
) -> *mut c_char {
    let (code, value, len, item_flags, allocators) = memc::with_memc_op(
        memc,
        (
            rc::INVALID_ARGUMENTS,
            std::ptr::null_mut(),
            0usize,
            0u32,
            None,
        ),
        |lmc| {
            // SAFETY: the C API's contract: key valid for key_length bytes.
            let key = unsafe { key_arg(key, key_length) };
            // The answer stays in this frame (run_keyed would copy it out twice).
            let mut answer = Counted::new(true);
            let code = lmc.run_routed_into(memc, opcode::GETK, None, key, &[], &[], 0, &mut answer);
            let sink = &mut answer.one;
            let code = lmc.decrypt_got(memc, code, sink);
            // A get the server refused for want of authentication: 1.1.4 reports a miss (our
            // own refused handshake stays AUTH_FAILURE; only the server's answer leaves the
            // last error at SUCCESS, see Lmc::record_failure).
            let code = if code == rc::AUTH_FAILURE && lmc.last_rc == rc::SUCCESS {
                rc::NOTFOUND
            } else {
                code
            };
            match sink.value {
                Some((p, len)) if code == rc::SUCCESS => (code, p, len, sink.flags, lmc.alloc()),
                Some((p, _)) => {
                    // SAFETY: malloc'd by the sink, not handed out.
                    unsafe { libc::free(p.cast()) };
                    (code, std::ptr::null_mut(), 0, 0, None)
                }
                None => (code, std::ptr::null_mut(), 0, sink.flags, None),
            }
        },
    );
    // The user's allocators run with the handle unlocked (they may call back into it).
    let value = super::callbacks::hand_out(memc, allocators, value, len);
    let code = if value.is_null() && len > 0 {
        super::callbacks::MEMORY_ALLOCATION_FAILURE
    } else {
        code
    };
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

/// 1.1.4 refuses a delete with an expiration (memcached dropped delayed deletes) and deletes
/// nothing; a program that passes one must not lose the key with ours.
pub(super) const DELETE_EXPIRATION: &str =
    "Memcached server version does not allow expiration of deleted items";

#[no_mangle]
pub extern "C" fn memcached_delete(
    memc: *mut memcached_st,
    key: *const c_char,
    key_length: usize,
    expiration: libc::time_t,
) -> memcached_return_t {
    memc::with_memc_op(memc, rc::INVALID_ARGUMENTS, |lmc| {
        if expiration != 0 {
            return lmc.record_detail(rc::INVALID_ARGUMENTS, memc, DELETE_EXPIRATION);
        }
        // SAFETY: the C API's contract: key valid for key_length bytes.
        let key = unsafe { key_arg(key, key_length) };
        lmc.run_keyed(memc, opcode::DELETE, key, &[], &[], 0, false)
            .0
    })
}

#[no_mangle]
pub extern "C" fn memcached_exist(
    memc: *mut memcached_st,
    key: *const c_char,
    key_length: usize,
) -> memcached_return_t {
    memc::with_memc_op(memc, rc::INVALID_ARGUMENTS, |lmc| {
        // SAFETY: the C API's contract: key valid for key_length bytes.
        let key = unsafe { key_arg(key, key_length) };
        lmc.run_keyed(memc, opcode::GETK, key, &[], &[], 0, false).0
    })
}

#[no_mangle]
pub extern "C" fn memcached_touch(
    memc: *mut memcached_st,
    key: *const c_char,
    key_length: usize,
    expiration: libc::time_t,
) -> memcached_return_t {
    memc::with_memc_op(memc, rc::INVALID_ARGUMENTS, |lmc| {
        // SAFETY: the C API's contract: key valid for key_length bytes.
        let key = unsafe { key_arg(key, key_length) };
        let extras = extras::expiration(expiration as u32);
        lmc.run_keyed(memc, opcode::TOUCH, key, &extras, &[], 0, false)
            .0
    })
}

/// flush_all on every server; the first failure is the result.
#[no_mangle]
pub extern "C" fn memcached_flush(
    memc: *mut memcached_st,
    expiration: libc::time_t,
) -> memcached_return_t {
    memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        lmc.query_id += 1;
        let n = lmc.client.server_count();
        if n == 0 {
            return lmc.record(rc::NO_SERVERS, memc, None);
        }
        if lmc.model.use_udp {
            return lmc.flush_udp(memc, expiration as u32);
        }
        let extras = extras::expiration(expiration as u32);
        let mut result = rc::SUCCESS;
        lmc.keep_pending_fetch();
        for server in 0..n {
            let mut reqs = [Request::to_server(
                server,
                RequestParts {
                    opcode: opcode::FLUSH,
                    extras: &extras,
                    ..Default::default()
                },
            )];
            let mut sink = One::new(false);
            let wait = lmc.wait();
            let status = lmc
                .client
                .command(&mut Requests(&mut reqs), &mut sink, wait);
            let outcome = match sink.status.unwrap_or(status) {
                // A server of the list that takes no request is out of service until its
                // retry time (libmemcached's SERVER_TEMPORARILY_DISABLED), not "no servers".
                Status::Failed(Failure::NoServers) => {
                    Status::Failed(Failure::ServerTemporarilyDisabled)
                }
                other => other,
            };
            let code = rc::from_status(outcome, &sink.message[..sink.message_len]);
            if code != rc::SUCCESS {
                // libmemcached 1.1.4: any server failing makes the flush SOME_ERRORS, the
                // server's own error staying the last one (Perl's flush and pgmemcache's
                // flush_all with a dead server in the list).
                if result == rc::SUCCESS {
                    lmc.record_failure(code, outcome.failure(), memc, Some(server));
                }
                result = SOME_ERRORS;
            }
        }
        if result == rc::SUCCESS {
            lmc.record(rc::SUCCESS, memc, None);
            return result;
        }
        // libmemcached 1.1.4 answers SOME_ERRORS for a failed server (in both protocols) and
        // keeps the server's own code as the last error (libmemcachedutil's flush passes it on).
        rc::SOME_ERRORS
    })
}

/// Writes out the buffered requests and returns without waiting for their answers, as
/// 1.1.4's does (later calls take the answers in; a buffered set's error answer is not
/// reported, in 1.1.4 either). A server that fails while its buffer is written makes it
/// SOME_ERRORS, the failure kept as the last error, as in 1.1.4.
#[no_mangle]
pub extern "C" fn memcached_flush_buffers(memc: *mut memcached_st) -> memcached_return_t {
    memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        let wait = lmc.wait();
        let status = lmc.client.write_buffers(wait);
        if status == Status::Ok {
            // 1.1.4's flush starts no new operation: the last error stays what it was (a
            // failed set before it is still memcached_last_error; measured on Debian's).
            return rc::SUCCESS;
        }
        let code = lmc.record_status(status, &[], memc, None);
        if status.failure().is_some() {
            rc::SOME_ERRORS
        } else {
            code
        }
    })
}
