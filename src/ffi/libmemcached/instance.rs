//! Server instances: libmemcached 1.1.4's private `memcached_instance_st` (17608 bytes), one per
//! server of a handle, with the fields Debian's binaries read at their offsets (memcping's
//! cursor callback: `_hostname` @0x40c0 and `port_` @0x10; memcstat: `root` @0xa0), and the
//! functions that hand instances out or read them: `memcached_server_cursor`,
//! `memcached_server_instance_by_position`, `memcached_server_by_key`, `memcached_server_name`
//! and friends, `memcached_version`, `memcached_verbosity`; plus the server-list functions that
//! go with them (`memcached_server_list_append*`, `memcached_server_free`,
//! `memcached_servers_reset`, `memcached_server_add_unix_socket*`).
//!
//! The array lives in the handle (`Lmc::instances`) and is rebuilt when the handle's server
//! list changes: a pointer handed out stays valid until then (and during a cursor, until the
//! cursor returns).

use std::ffi::{c_char, c_int, c_void, CStr};

use super::config::ModelServer;
use super::memc::{self, Lmc};
use super::rc::{self, memcached_return_t};
use super::server_list::{self, ConnectionType};
use super::types::{memcached_server_st, memcached_st};
use crate::client::{Failure, Request, Requests, Response, ResponseSink, Status};
use crate::ffi::common::{c_str, guard};
use crate::protocol::{extras, opcode, RequestParts};

pub(super) const FAILURE: c_int = 1;
pub(super) const MEMORY_ALLOCATION_FAILURE: c_int = 17;
pub(super) const SOME_ERRORS: c_int = 19;

/// Where `_hostname` starts (memcping reads it there).
const HOSTNAME_AT: usize = 16576;
/// The room for a server's last error text (in what libmemcached uses as its read buffer).
const ERROR_TEXT: usize = 1024;

/// `memcached_instance_st` as Debian's binaries see it. The private buffers of the real
/// struct (read/write buffers @184..16576) hold the face's own per-server state.
#[repr(C)]
pub struct memcached_instance_st {
    _options: [u8; 6],
    _events: i16,
    _revents: i16,
    _pad0: u16,
    /// @12
    pub cursor_active: u32,
    /// @16 (`port_`)
    pub port: u16,
    _pad1: u16,
    /// @20: no socket of the face is exposed; -1 as before a connect.
    pub fd: i32,
    _pad2: [u8; 40],
    /// @64
    pub weight: u32,
    _version: u32,
    _state: u32,
    _pad3: [u8; 28],
    /// @104, @105, @106 (UINT8_MAX until `memcached_version` fills them).
    pub major_version: u8,
    pub micro_version: u8,
    pub minor_version: u8,
    _pad4: u8,
    /// @108: memcached_connection_t.
    pub kind: u32,
    _pad5: [u8; 40],
    _next_retry: i64,
    /// @160: the handle the instance belongs to.
    pub root: *const memcached_st,
    _limit_maxbytes: u64,
    _error_messages: *mut c_void,
    /// @184: the face's: `memcached_server_error_return`.
    error_rc: c_int,
    error_len: u32,
    /// NUL-terminated text of `memcached_server_error`.
    error_text: [u8; ERROR_TEXT],
    _private: [u8; HOSTNAME_AT - 192 - ERROR_TEXT],
    /// @16576 (0x40c0), NUL-terminated.
    pub hostname: [u8; 1025],
    _tail: [u8; 7],
}

impl memcached_instance_st {
    fn fill(&mut self, s: &ModelServer, root: *const memcached_st) {
        self.fd = -1;
        self.port = s.port;
        self.weight = s.weight.max(1);
        self.kind = s.kind as u32;
        self.major_version = u8::MAX;
        self.minor_version = u8::MAX;
        self.micro_version = u8::MAX;
        self.root = root;
        let n = s.hostname.len().min(self.hostname.len() - 1);
        self.hostname[..n].copy_from_slice(&s.hostname[..n]);
        self.set_error(rc::SUCCESS, b"SUCCESS");
    }

    /// The last error: its code and text (without the NUL).
    pub(super) fn error(&self) -> (c_int, &[u8]) {
        (self.error_rc, &self.error_text[..self.error_len as usize])
    }

    fn set_error(&mut self, code: c_int, text: &[u8]) {
        let text = text.strip_suffix(b"\0").unwrap_or(text);
        let n = text.len().min(ERROR_TEXT - 1);
        self.error_text[..n].copy_from_slice(&text[..n]);
        self.error_text[n] = 0;
        self.error_len = n as u32;
        self.error_rc = code;
    }
}

/// A server as the instance array was built from.
#[derive(Clone, PartialEq, Eq)]
struct Key {
    hostname: Vec<u8>,
    port: u16,
    weight: u32,
    kind: u32,
}

impl Key {
    fn of(s: &ModelServer) -> Key {
        Key {
            hostname: s.hostname.clone(),
            port: s.port,
            weight: s.weight,
            kind: s.kind as u32,
        }
    }
}

/// The instances of a handle.
#[derive(Default)]
pub(super) struct Instances {
    array: Option<Box<[memcached_instance_st]>>,
    built_from: Vec<Key>,
    /// Arrays replaced while a cursor was running (its callbacks may hold their pointers).
    retired: Vec<Box<[memcached_instance_st]>>,
    cursors: u32,
    /// `memcached_server_get_last_disconnect`'s server, by position.
    pub(super) last_disconnected: Option<usize>,
    /// Errors reported before the array was (re)built, applied when it is: the latest per
    /// server (at most one entry per server).
    pending_errors: Vec<(usize, c_int, Vec<u8>)>,
}

// SAFETY: the raw pointers inside are the owning handle's address (never dereferenced by the
// face) and null; the array moves with the handle state, which its lock guards.
unsafe impl Send for Instances {}

impl Instances {
    /// The array in step with the handle's servers, each instance's root set to `memc`.
    fn sync(&mut self, servers: &[ModelServer], memc: *const memcached_st) {
        let keys: Vec<Key> = servers.iter().map(Key::of).collect();
        if self.array.is_none() || keys != self.built_from {
            let n = servers.len();
            let mut array: Box<[memcached_instance_st]> = (0..n)
                // SAFETY: every field of memcached_instance_st (integers, byte arrays, raw
                // pointers) is valid when all its bytes are zero.
                .map(|_| unsafe { std::mem::zeroed() })
                .collect();
            for (i, (inst, s)) in array.iter_mut().zip(servers).enumerate() {
                inst.fill(s, memc);
                // The state of the same server at the same position carries over.
                if let Some(old) = self.array.as_ref().and_then(|a| a.get(i)) {
                    if self.built_from.get(i).map(|k| (&k.hostname, k.port))
                        == Some((&s.hostname, s.port))
                    {
                        inst.major_version = old.major_version;
                        inst.minor_version = old.minor_version;
                        inst.micro_version = old.micro_version;
                        inst.error_rc = old.error_rc;
                        inst.error_len = old.error_len;
                        inst.error_text = old.error_text;
                    }
                }
            }
            if let Some(old) = self.array.replace(array) {
                if self.cursors > 0 {
                    self.retired.push(old);
                }
            }
            if self.last_disconnected.is_some_and(|i| i >= n) {
                self.last_disconnected = None;
            }
            self.built_from = keys;
        }
        if let Some(a) = self.array.as_mut() {
            for inst in a.iter_mut() {
                inst.root = memc;
            }
            for (i, code, text) in std::mem::take(&mut self.pending_errors) {
                if let Some(inst) = a.get_mut(i) {
                    inst.set_error(code, &text);
                }
            }
        }
    }

    /// The position of an instance of the current array.
    pub(super) fn position(&self, p: *const memcached_instance_st) -> Option<usize> {
        self.array
            .as_ref()
            .and_then(|a| a.iter().position(|i| std::ptr::eq(i, p)))
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut memcached_instance_st> {
        self.array.as_mut().and_then(|a| a.get_mut(i))
    }

    fn ptr(&mut self, i: usize) -> *const memcached_instance_st {
        self.array
            .as_ref()
            .and_then(|a| a.get(i))
            .map_or(std::ptr::null(), |r| r as *const _)
    }

    /// A server failure (recorded by `Lmc::record_failure`): the server's error, and the last
    /// disconnected server.
    pub fn note_error(&mut self, server: usize, code: c_int, text: &[u8]) {
        self.last_disconnected = Some(server);
        let built = self.array.as_ref().is_some_and(|a| server < a.len());
        if built {
            if let Some(inst) = self.get_mut(server) {
                inst.set_error(code, text);
            }
        } else if let Some(e) = self.pending_errors.iter_mut().find(|e| e.0 == server) {
            // Only a server's latest error is kept (`set_error` replaces it): a handle that
            // never builds its array kept one entry per failed call, growing without bound
            // while a server was down (found by an outside tester: 31 MB after 200,000 calls).
            e.1 = code;
            e.2.clear();
            e.2.extend_from_slice(text);
        } else {
            self.pending_errors.push((server, code, text.to_vec()));
        }
    }

    /// Keeps the current (and any later replaced) array alive until `release`: callbacks run
    /// with the handle unlocked may hold its pointers.
    pub fn hold(&mut self) {
        self.cursors += 1;
    }

    pub fn release(&mut self) {
        self.cursors = self.cursors.saturating_sub(1);
        if self.cursors == 0 {
            self.retired.clear();
        }
    }

    /// `memcached_servers_reset`.
    pub(super) fn reset(&mut self) {
        self.last_disconnected = None;
        self.pending_errors.clear();
    }
}

impl Lmc {
    /// The instances in step with the servers; root = `memc`.
    pub(super) fn instances(&mut self, memc: *const memcached_st) -> &mut Instances {
        self.instances.sync(&self.model.servers, memc);
        &mut self.instances
    }

    /// The instance at `i` (NULL past the end).
    pub(super) fn instance_ptr(
        &mut self,
        memc: *const memcached_st,
        i: usize,
    ) -> *const memcached_instance_st {
        self.instances(memc).ptr(i)
    }
}

/// One answer per server of a batch sent to every server (VERSION, STAT, VERBOSITY).
pub(super) struct PerServer {
    pub answers: Vec<ServerAnswer>,
}

#[derive(Default)]
pub(super) struct ServerAnswer {
    /// The final status (None: nothing came back).
    pub status: Option<Status>,
    pub message: Vec<u8>,
    /// VERSION's text.
    pub data: Vec<u8>,
    /// STAT rows (name, value).
    pub rows: Vec<(Vec<u8>, Vec<u8>)>,
}

impl ResponseSink for PerServer {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        let Some(a) = batch_index.and_then(|i| self.answers.get_mut(i)) else {
            return false;
        };
        if resp.opcode == opcode::STAT && resp.status == Status::Ok && !resp.key.is_empty() {
            a.rows.push((resp.key.to_vec(), resp.data.to_vec()));
            return false;
        }
        a.status = Some(resp.status);
        a.message = resp.message.to_vec();
        a.data = resp.data.to_vec();
        false
    }
}

impl Lmc {
    /// Sends one request to each of `servers` (positions) at once and collects the answers;
    /// a server without an answer gets the call's status.
    pub(super) fn ask_servers(
        &mut self,
        servers: &[usize],
        op: u8,
        key: &[u8],
        extras: &[u8],
    ) -> Vec<ServerAnswer> {
        self.keep_pending_fetch();
        let mut reqs: Vec<Request<'_>> = servers
            .iter()
            .map(|&i| {
                Request::to_server(
                    i,
                    RequestParts {
                        opcode: op,
                        key,
                        extras,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut sink = PerServer {
            answers: servers.iter().map(|_| ServerAnswer::default()).collect(),
        };
        let wait = self.wait();
        let status = self
            .client
            .command(&mut Requests(&mut reqs), &mut sink, wait);
        for a in &mut sink.answers {
            // A server of the list that takes no request is out of service until its retry
            // time: libmemcached's SERVER_TEMPORARILY_DISABLED.
            if a.status == Some(Status::Failed(Failure::NoServers)) {
                a.status = Some(Status::Failed(Failure::ServerTemporarilyDisabled));
            }
            if a.status.is_none() {
                a.status = Some(if status == Status::Ok {
                    Status::Failed(Failure::ConnectionReset)
                } else if status == Status::Failed(Failure::NoServers) {
                    Status::Failed(Failure::ServerTemporarilyDisabled)
                } else {
                    status
                });
            }
        }
        sink.answers
    }

    /// `memcached_version`: asks every server whose version is unknown.
    pub(super) fn version(&mut self, memc: *const memcached_st) -> c_int {
        self.query_id += 1;
        let n = self.client.server_count();
        if n == 0 {
            return self.record(rc::NO_SERVERS, memc, None);
        }
        if self.model.use_udp {
            return rc::NOT_SUPPORTED;
        }
        let inst = self.instances(memc);
        let todo: Vec<usize> = (0..n)
            .filter(|&i| inst.get_mut(i).is_some_and(|s| s.major_version == u8::MAX))
            .collect();
        if todo.is_empty() {
            return rc::SUCCESS;
        }
        let answers = self.ask_servers(&todo, opcode::VERSION, &[], &[]);
        let mut errors = false;
        for (&i, a) in todo.iter().zip(&answers) {
            let status = a.status.unwrap_or(Status::Ok);
            if status != Status::Ok {
                errors = true;
                let code = rc::from_status(status, &a.message);
                // Over text libmemcached 1.1.4 leaves the system's words out of a failed
                // version's message ("CONNECTION FAILURE,  host: …"); over binary it keeps them.
                let text = !self.model.binary_protocol;
                self.quiet_errno(text);
                self.record_failure(code, status.failure(), memc, Some(i));
                self.note_server_message(memc, i, code);
                continue;
            }
            let (major, minor, micro) = parse_version(&a.data);
            if let Some(s) = self.instances(memc).get_mut(i) {
                s.major_version = major;
                s.minor_version = minor;
                s.micro_version = micro;
            }
        }
        if errors {
            SOME_ERRORS
        } else {
            rc::SUCCESS
        }
    }

    /// The server's error as the last message recorded for it.
    fn note_server_message(&mut self, memc: *const memcached_st, server: usize, code: c_int) {
        let text = self.last_message.clone();
        if let Some(inst) = self.instances(memc).get_mut(server) {
            inst.set_error(code, &text);
        }
        self.instances.last_disconnected = Some(server);
    }
}

/// "1.6.18" → (1, 6, 18); a part that is not a number gives UINT8_MAX for it and the rest.
fn parse_version(v: &[u8]) -> (u8, u8, u8) {
    let mut parts = v.split(|&b| b == b'.').map(|p| {
        let digits: &[u8] = &p[..p.iter().take_while(|b| b.is_ascii_digit()).count()];
        std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map(|n| n as u8)
    });
    let major = parts.next().flatten();
    let minor = parts.next().flatten();
    let micro = parts.next().flatten();
    match (major, minor, micro) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => (u8::MAX, u8::MAX, u8::MAX),
    }
}

/// `memcached_server_fn`.
pub type memcached_server_fn = Option<
    unsafe extern "C" fn(
        *const memcached_st,
        *const memcached_instance_st,
        *mut c_void,
    ) -> memcached_return_t,
>;

/// Calls each callback with each server's instance (all of them, whatever the callbacks
/// return: a failure makes the result SOME_ERRORS, as in libmemcached 1.1.4). The callbacks run
/// with the handle unlocked, so they may call back into it.
#[no_mangle]
pub extern "C" fn memcached_server_cursor(
    ptr: *const memcached_st,
    callback: *const memcached_server_fn,
    context: *mut c_void,
    number_of_callbacks: u32,
) -> memcached_return_t {
    let memc = ptr.cast_mut();
    let start = memc::with_memc(memc, Err(rc::INVALID_ARGUMENTS), |lmc| {
        if lmc.model.servers.is_empty() {
            return Err(lmc.record(rc::NO_SERVERS, ptr, None));
        }
        let n = lmc.model.servers.len();
        let inst = lmc.instances(ptr);
        inst.hold();
        let base = inst.ptr(0);
        Ok((base, n))
    });
    let (base, n) = match start {
        Ok(v) => v,
        Err(code) => return code,
    };
    let errors = guard(Some(1usize), || {
        let mut errors = 0;
        for i in 0..n {
            // SAFETY: `base` is the handle's array of `n` instances, kept alive while
            // `cursors` > 0 (a rebuild meanwhile retires it instead of freeing it).
            let instance = unsafe { base.add(i) };
            for y in 0..number_of_callbacks as usize {
                let f = if callback.is_null() {
                    None
                } else {
                    // SAFETY: the caller passes `number_of_callbacks` callbacks (the C API's
                    // contract).
                    unsafe { *callback.add(y) }
                };
                let Some(f) = f else {
                    errors += 1;
                    continue;
                };
                // SAFETY: a C callback of the documented signature, called with the handle,
                // a valid instance and the caller's context.
                let ret = unsafe { f(ptr, instance, context) };
                if !is_success(ret) {
                    errors += 1;
                }
            }
        }
        Some(errors)
    });
    memc::with_memc(memc, (), |lmc| lmc.instances.release());
    match errors {
        Some(0) => rc::SUCCESS,
        _ => SOME_ERRORS,
    }
}

/// libmemcached's `memcached_success()`.
pub(super) fn is_success(code: c_int) -> bool {
    matches!(code, 0 | 15 | 21 | 22 | 23 | 24 | 25 | 32)
}

/// libmemcached's `memcached_fatal()`.
pub(super) fn is_fatal(code: c_int) -> bool {
    !matches!(
        code,
        0 | 9 | 11 | 12 | 14 | 15 | 16 | 21 | 22 | 23 | 24 | 25 | 32 | 37 | 42 | 48
    )
}

#[no_mangle]
pub extern "C" fn memcached_server_instance_by_position(
    ptr: *const memcached_st,
    server_key: u32,
) -> *const memcached_instance_st {
    memc::with_memc(ptr.cast_mut(), std::ptr::null(), |lmc| {
        lmc.instance_ptr(ptr, server_key as usize)
    })
}

/// The instance a key maps to (as `memcached_generate_hash`); `error` is written only when
/// the key is refused by VERIFY_KEY, as the real library does.
#[no_mangle]
pub extern "C" fn memcached_server_by_key(
    ptr: *mut memcached_st,
    key: *const c_char,
    key_length: usize,
    error: *mut memcached_return_t,
) -> *const memcached_instance_st {
    let (found, code) = memc::with_memc(ptr, (std::ptr::null(), None), |lmc| {
        if lmc.model.servers.is_empty() || key.is_null() || key_length == 0 {
            return (std::ptr::null(), None);
        }
        // SAFETY: the C API's contract: key valid for key_length bytes.
        let k = unsafe { super::api::key_arg(key, key_length) };
        if lmc.model.verify_key && !crate::client::valid_key(k) {
            let code = lmc.record(rc::BAD_KEY_PROVIDED, ptr, None);
            return (std::ptr::null(), Some(code));
        }
        let idx = if lmc.client.server_count() == 1 {
            Some(0)
        } else {
            // Where the key's requests go: under HASH_WITH_PREFIX_KEY the namespace is part
            // of what is hashed.
            lmc.server_for(None, k)
        };
        match idx {
            Some(i) => (lmc.instance_ptr(ptr, i), None),
            None => (std::ptr::null(), None),
        }
    });
    if let Some(code) = code {
        // SAFETY: a non-NULL `error` is writable (the C API's contract).
        if let Some(e) = unsafe { error.as_mut() } {
            *e = code;
        }
    }
    found
}

#[no_mangle]
pub extern "C" fn memcached_server_get_last_disconnect(
    ptr: *const memcached_st,
) -> *const memcached_instance_st {
    memc::with_memc(ptr.cast_mut(), std::ptr::null(), |lmc| {
        match lmc.instances(ptr).last_disconnected {
            Some(i) => lmc.instance_ptr(ptr, i),
            None => std::ptr::null(),
        }
    })
}

/// Runs `f` on an instance handed out by this library (NULL gives `none`).
pub(super) fn with_instance<T>(
    instance: *const memcached_instance_st,
    none: T,
    f: impl FnOnce(&memcached_instance_st) -> T,
) -> T
where
    T: Copy,
{
    guard(none, || {
        // SAFETY: NULL or an instance from memcached_server_cursor / _by_position / _by_key /
        // _get_last_disconnect, valid until the handle's server list changes (C API contract).
        match unsafe { instance.as_ref() } {
            Some(i) => f(i),
            None => none,
        }
    })
}

#[no_mangle]
pub extern "C" fn memcached_server_name(instance: *const memcached_instance_st) -> *const c_char {
    with_instance(instance, std::ptr::null(), |i| i.hostname.as_ptr().cast())
}

#[no_mangle]
pub extern "C" fn memcached_server_port(instance: *const memcached_instance_st) -> u16 {
    with_instance(instance, 0, |i| i.port)
}

#[no_mangle]
pub extern "C" fn memcached_server_type(instance: *const memcached_instance_st) -> *const c_char {
    with_instance(instance, c"UNKNOWN".as_ptr(), |i| match i.kind {
        0 => c"TCP".as_ptr(),
        1 => c"UDP".as_ptr(),
        2 => c"SOCKET".as_ptr(),
        _ => c"UNKNOWN".as_ptr(),
    })
}

#[no_mangle]
pub extern "C" fn memcached_server_major_version(instance: *const memcached_instance_st) -> u8 {
    with_instance(instance, u8::MAX, |i| i.major_version)
}

#[no_mangle]
pub extern "C" fn memcached_server_minor_version(instance: *const memcached_instance_st) -> u8 {
    with_instance(instance, u8::MAX, |i| i.minor_version)
}

#[no_mangle]
pub extern "C" fn memcached_server_micro_version(instance: *const memcached_instance_st) -> u8 {
    with_instance(instance, u8::MAX, |i| i.micro_version)
}

/// The server's last error text ("SUCCESS" before any), NULL for NULL.
#[no_mangle]
pub extern "C" fn memcached_server_error(instance: *const memcached_instance_st) -> *const c_char {
    with_instance(instance, std::ptr::null(), |i| i.error_text.as_ptr().cast())
}

#[no_mangle]
pub extern "C" fn memcached_server_error_return(
    instance: *const memcached_instance_st,
) -> memcached_return_t {
    with_instance(instance, rc::INVALID_ARGUMENTS, |i| i.error_rc)
}

/// `memcached_version`: each server's version, read into its instance (asked once).
#[no_mangle]
pub extern "C" fn memcached_version(ptr: *mut memcached_st) -> memcached_return_t {
    memc::with_memc(ptr, rc::INVALID_ARGUMENTS, |lmc| lmc.version(ptr))
}

/// `verbosity N` to every server; SOME_ERRORS if any failed. As in libmemcached 1.1.4, each
/// server is sent the text command on a connection of its own (whatever the handle's
/// protocol), and the handle's own state is not touched.
#[no_mangle]
pub extern "C" fn memcached_verbosity(
    ptr: *mut memcached_st,
    verbosity: u32,
) -> memcached_return_t {
    memc::with_memc(ptr, rc::INVALID_ARGUMENTS, |lmc| {
        if lmc.model.servers.is_empty() {
            return lmc.record(rc::NO_SERVERS, ptr, None);
        }
        let ex = extras::expiration(verbosity);
        let mut errors = false;
        for server in &lmc.model.servers {
            let mut one = Lmc::new();
            one.model.servers.push(server.clone());
            one.apply_servers();
            let answers = one.ask_servers(&[0], opcode::VERBOSITY, &[], &ex);
            if answers.first().and_then(|a| a.status) != Some(Status::Ok) {
                errors = true;
            }
        }
        if errors {
            SOME_ERRORS
        } else {
            rc::SUCCESS
        }
    })
}

/// Removes every server of the handle.
#[no_mangle]
pub extern "C" fn memcached_servers_reset(ptr: *mut memcached_st) {
    memc::with_memc(ptr, (), |lmc| {
        lmc.model.servers.clear();
        lmc.apply_servers();
        lmc.instances.reset();
    })
}

#[no_mangle]
pub extern "C" fn memcached_server_add_unix_socket_with_weight(
    ptr: *mut memcached_st,
    filename: *const c_char,
    weight: u32,
) -> memcached_return_t {
    memc::with_memc(ptr, FAILURE, |lmc| {
        // SAFETY: NULL or a NUL-terminated string (the C API's contract).
        let path = unsafe { c_str(filename) }.map_or(&[][..], |s| s.to_bytes());
        let Ok(add) = server_list::socket_add_args(path, weight) else {
            return lmc.record(rc::INVALID_ARGUMENTS, ptr, None);
        };
        if add.weight > 1 && lmc.model.distribution != 0 {
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
        lmc.record(rc::SUCCESS, ptr, None)
    })
}

#[no_mangle]
pub extern "C" fn memcached_server_add_unix_socket(
    ptr: *mut memcached_st,
    filename: *const c_char,
) -> memcached_return_t {
    memcached_server_add_unix_socket_with_weight(ptr, filename, 0)
}

/// Appends one server to a libc-allocated list (NULL starts one); the list is reallocated
/// and returned, its count in element 0.
#[no_mangle]
pub extern "C" fn memcached_server_list_append_with_weight(
    list: *mut memcached_server_st,
    hostname: *const c_char,
    port: u16,
    weight: u32,
    error: *mut memcached_return_t,
) -> *mut memcached_server_st {
    let (out, code) = guard((std::ptr::null_mut(), rc::INVALID_ARGUMENTS), || {
        // SAFETY: NULL or a NUL-terminated string (the C API's contract).
        let host = unsafe { c_str(hostname) }.map_or(&b"localhost"[..], CStr::to_bytes);
        let (port, kind) = if host.first() == Some(&b'/') {
            (0, ConnectionType::UnixSocket)
        } else if port == 0 {
            (server_list::DEFAULT_PORT, ConnectionType::Tcp)
        } else {
            (port, ConnectionType::Tcp)
        };
        // SAFETY: NULL or a list from memcached_servers_parse / this function.
        let count = unsafe { list.as_ref() }.map_or(0, |f| f.number_of_hosts as usize);
        let size = std::mem::size_of::<memcached_server_st>();
        // SAFETY: `list` is NULL or libc-allocated (realloc'd here, as the real library does).
        let grown =
            unsafe { libc::realloc(list.cast(), (count + 1) * size) }.cast::<memcached_server_st>();
        if grown.is_null() {
            return (std::ptr::null_mut(), MEMORY_ALLOCATION_FAILURE);
        }
        let entry = memcached_server_st::entry(host, port, weight.max(1), kind as u32);
        // SAFETY: `grown` holds count + 1 elements; element `count` is written whole.
        unsafe {
            grown.add(count).write(entry);
            (*grown).number_of_hosts = (count + 1) as u32;
        }
        (grown, rc::SUCCESS)
    });
    // SAFETY: a non-NULL `error` is writable (the C API's contract).
    if let Some(e) = unsafe { error.as_mut() } {
        *e = code;
    }
    out
}

#[no_mangle]
pub extern "C" fn memcached_server_list_append(
    list: *mut memcached_server_st,
    hostname: *const c_char,
    port: u16,
    error: *mut memcached_return_t,
) -> *mut memcached_server_st {
    memcached_server_list_append_with_weight(list, hostname, port, 0, error)
}

/// Frees a server list (memcaslap frees parsed lists with it); a lone entry without a count
/// is not the library's allocation and is left alone.
#[no_mangle]
pub extern "C" fn memcached_server_free(server: *mut memcached_server_st) {
    guard((), || {
        // SAFETY: NULL or a list from memcached_servers_parse / _list_append.
        let count = unsafe { server.as_ref() }.map_or(0, |f| f.number_of_hosts);
        if count > 0 {
            // SAFETY: libc-allocated by memcached_servers_parse / _list_append.
            unsafe { libc::free(server.cast()) };
        }
    })
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Errors of a handle whose instance array was never built keep one entry per server,
    /// the latest, however many calls fail (a pooled handle grew 140 bytes per failed call).
    #[test]
    fn errors_before_the_array_is_built_stay_one_per_server() {
        let mut inst = Instances::default();
        for i in 0..10_000 {
            let text = format!("failure {i}");
            inst.note_error(i % 2, 3, text.as_bytes());
        }
        assert_eq!(inst.pending_errors.len(), 2);
        assert_eq!(inst.pending_errors[0].2, b"failure 9998");
        assert_eq!(inst.pending_errors[1].2, b"failure 9999");
        assert_eq!(inst.last_disconnected, Some(1));
    }

    /// The offsets measured on Debian's libmemcached 1.1.4 (spec instance.txt).
    #[test]
    fn instance_layout_matches_libmemcached() {
        assert_eq!(size_of::<memcached_instance_st>(), 17608);
        assert_eq!(offset_of!(memcached_instance_st, cursor_active), 12);
        assert_eq!(offset_of!(memcached_instance_st, port), 16);
        assert_eq!(offset_of!(memcached_instance_st, fd), 20);
        assert_eq!(offset_of!(memcached_instance_st, weight), 64);
        assert_eq!(offset_of!(memcached_instance_st, _version), 68);
        assert_eq!(offset_of!(memcached_instance_st, _state), 72);
        assert_eq!(offset_of!(memcached_instance_st, major_version), 104);
        assert_eq!(offset_of!(memcached_instance_st, micro_version), 105);
        assert_eq!(offset_of!(memcached_instance_st, minor_version), 106);
        assert_eq!(offset_of!(memcached_instance_st, kind), 108);
        assert_eq!(offset_of!(memcached_instance_st, _next_retry), 152);
        assert_eq!(offset_of!(memcached_instance_st, root), 160);
        assert_eq!(offset_of!(memcached_instance_st, _limit_maxbytes), 168);
        assert_eq!(offset_of!(memcached_instance_st, _error_messages), 176);
        assert_eq!(offset_of!(memcached_instance_st, hostname), 0x40c0);
    }

    #[test]
    fn versions_parse_as_libmemcached() {
        assert_eq!(parse_version(b"1.6.18"), (1, 6, 18));
        assert_eq!(parse_version(b"1.4"), (255, 255, 255));
        assert_eq!(parse_version(b"x.y.z"), (255, 255, 255));
    }
}
