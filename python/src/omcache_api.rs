//! The native half of `omcache.OMcache` (OMcache 0.3's Python class): `OMcacheCore`, one
//! engine client behind a mutex, driven by `omcache/_omcache.py`.
//!
//! The Python layer builds each request as a tuple `(opcode, key, value, extras, cas,
//! server_index)` (extras packed big-endian as on the wire, server_index -1 = by key), as the
//! original built `omcache_req_t` arrays in Python, and gets back the call's OMcache return
//! code and the responses as tuples `(request index, status, key, value, flags, cas,
//! delta_value)`. Two ways to run a batch:
//!
//! - `execute(requests, timeout_ms)`: one call that waits in Rust (the default `select`);
//! - `start(requests)`, then `poll_fds()` / the caller's select / `step()` until nothing
//!   remains: the engine driven without blocking, for OMcache's `select=` hook (a green-thread
//!   select waits instead of Rust).
//!
//! Every call takes the engine lock with the GIL released, and waits for the network without
//! the GIL; answers are copied out under the lock and turned into Python objects after it is
//! released. So threads sharing one client serialise on the lock and never hold the GIL while
//! another thread's request is on the wire. Log messages the engine produces are queued and
//! handed to the Python log function after the call, with the lock released.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use omcache::address::{parse_server_list, sort_like_omcache};
use omcache::client::{
    DumpMethod, DumpOptions, Failure, OwnedRequest, OwnedResponse, Server, Status, TlsFailure, Wait,
};
use omcache::ketama::Distribution;
use omcache::Client;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::tls::{TlsKeywordError, TlsKeywords};

/// OMcache 0.3's return codes (`omcache_ret_t`), as the Python layer sees them.
mod code {
    pub const OK: i32 = 0x00;
    pub const NOT_FOUND: i32 = 0x01;
    pub const KEY_EXISTS: i32 = 0x02;
    pub const TOO_LARGE_VALUE: i32 = 0x03;
    pub const NOT_STORED: i32 = 0x05;
    pub const DELTA_BAD_VALUE: i32 = 0x06;
    pub const FAIL: i32 = 0x0fff;
    pub const AGAIN: i32 = 0x1001;
    pub const INVALID: i32 = 0x1002;
    pub const BUFFERED: i32 = 0x1003;
    pub const BUFFER_FULL: i32 = 0x1004;
    pub const NO_SERVERS: i32 = 0x1005;
    pub const SERVER_FAILURE: i32 = 0x1006;
}

/// The OMcache return code of an engine outcome (the same mapping as the C face's).
fn omcache_code(status: Status) -> i32 {
    match status {
        Status::Ok => code::OK,
        Status::NotFound => code::NOT_FOUND,
        Status::KeyExists => code::KEY_EXISTS,
        Status::TooLargeValue => code::TOO_LARGE_VALUE,
        Status::NotStored => code::NOT_STORED,
        Status::DeltaBadValue => code::DELTA_BAD_VALUE,
        // OMcache has no code of its own for the other server answers.
        Status::InvalidArguments | Status::ServerError(_) => code::FAIL,
        Status::Failed(Failure::InvalidRequest) => code::INVALID,
        Status::Failed(Failure::NoServers) => code::NO_SERVERS,
        Status::Failed(Failure::SendBufferFull | Failure::ValueTooLarge) => code::BUFFER_FULL,
        Status::Failed(_) => code::SERVER_FAILURE,
        Status::Buffered => code::BUFFERED,
        Status::Again => code::AGAIN,
    }
}

/// A request as the Python layer passes it.
type RequestTuple = (u8, Vec<u8>, Vec<u8>, Vec<u8>, u64, i64);

fn to_request((opcode, key, value, extras, cas, server_index): RequestTuple) -> OwnedRequest {
    OwnedRequest {
        server: usize::try_from(server_index).ok(),
        opcode,
        cas,
        extras,
        key,
        value,
        ..Default::default()
    }
}

/// OMcache's timeout convention (0 never blocks, negative blocks, positive is milliseconds),
/// over the whole i64 range a Python int may carry. Each use is one engine call (`execute`,
/// `flush_buffers`), which resolves the relative wait once at its start.
fn wait_for(timeout_ms: i64) -> Wait {
    match timeout_ms {
        0 => Wait::NoWait,
        ms if ms < 0 => Wait::Forever,
        ms => Wait::Within(Duration::from_millis(ms as u64)),
    }
}

/// What the lock guards.
struct Engine {
    client: Client,
    /// The batch being driven without blocking (`start` / `step`): the engine continues a
    /// batch only with the requests it was started with.
    pending: Vec<OwnedRequest>,
    /// Names the batch `start` began; any other call that starts a batch changes it, so a
    /// `step` for a batch that was replaced in between (a re-entrant call from a log handler
    /// or a green thread on the same OS thread) is refused instead of mixing two batches up.
    pending_token: u64,
    /// Why TLS failed in the last call (None: it did not), for the exception's message.
    tls_failure: Option<TlsFailure>,
}

impl Engine {
    /// A new batch replaces whatever `start` began.
    fn forget_pending(&mut self) {
        self.pending.clear();
        self.pending_token = self.pending_token.wrapping_add(1);
    }

    /// Notes the TLS failure among a call's outcomes, if any (`first`: the call begins).
    fn note_tls(&mut self, first: bool, status: Status, responses: &[(usize, OwnedResponse)]) {
        if first {
            self.tls_failure = None;
        }
        let tls = |s: Status| match s {
            Status::Failed(Failure::Tls(t)) => Some(t),
            _ => None,
        };
        if let Some(t) = tls(status).or_else(|| responses.iter().find_map(|(_, r)| tls(r.status))) {
            self.tls_failure = Some(t);
        }
    }
}

/// The answers of one call, copied out of the engine.
struct Outcome {
    code: i32,
    responses: Vec<(usize, OwnedResponse)>,
    remaining: usize,
}

/// Log messages the engine produced during a call, for the Python log function.
type LogQueue = Arc<Mutex<Vec<(i32, String)>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // After a panic in one call (which PyO3 raises as a Python exception) the client stays
    // usable, rather than every later call failing on the poisoned lock.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One engine client for `omcache.OMcache` (see the module documentation).
#[pyclass(frozen, module = "omcache._native", name = "OMcacheCore")]
pub struct OMcacheCore {
    engine: Mutex<Engine>,
    /// The process's fork generation when `engine` was last locked (see `lock_engine`).
    locked_in: AtomicU64,
    logs: LogQueue,
    /// The Python function `(level, message)` that receives log messages.
    log_target: Mutex<Option<Py<PyAny>>>,
}

impl OMcacheCore {
    /// Runs `f` on the engine with the GIL released (the lock may be held by a thread that
    /// waits for the network), then hands queued log messages to Python.
    /// In a forked child whose parent had the engine locked in another thread at the fork:
    /// an error, instead of waiting forever for a lock nobody here will release.
    fn with_engine<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Engine) -> T + Send,
    ) -> PyResult<T> {
        let out = py.detach(|| {
            let generation = omcache::fork_generation();
            let mut engine = self.lock_engine(generation)?;
            self.locked_in.store(generation, Ordering::Release);
            Some(f(&mut engine))
        });
        self.deliver_logs(py);
        out.ok_or_else(|| {
            PyOSError::new_err(
                "this client was in use by another thread when the process forked; \
                 make a new client in the child",
            )
        })
    }

    /// The engine's lock, or None when a thread of the parent process held it at the fork
    /// (`locked_in` stays older than `generation` while it is held; a thread of this process
    /// that has just taken it records its generation at once, so the stale value is looked
    /// at a thousand times, with short sleeps between, before the lock is given up on).
    fn lock_engine(&self, generation: u64) -> Option<MutexGuard<'_, Engine>> {
        let try_lock = || match self.engine.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        if let Some(guard) = try_lock() {
            return Some(guard);
        }
        for _ in 0..1000 {
            if self.locked_in.load(Ordering::Acquire) == generation {
                return Some(lock(&self.engine));
            }
            std::thread::sleep(std::time::Duration::from_micros(1));
            if let Some(guard) = try_lock() {
                return Some(guard);
            }
        }
        None
    }

    fn deliver_logs(&self, py: Python<'_>) {
        let messages = std::mem::take(&mut *lock(&self.logs));
        if messages.is_empty() {
            return;
        }
        let Some(target) = lock(&self.log_target).as_ref().map(|t| t.clone_ref(py)) else {
            return;
        };
        for (level, message) in messages {
            // A failing log function must not turn a finished call into an error.
            if let Err(e) = target.call1(py, (level, message)) {
                e.write_unraisable(py, Some(target.bind(py)));
            }
        }
    }

    fn outcome_to_py<'py>(py: Python<'py>, outcome: Outcome) -> PyResult<Bound<'py, PyTuple>> {
        let responses = PyList::empty(py);
        for (index, r) in outcome.responses {
            let item = (
                index,
                omcache_code(r.status),
                PyBytes::new(py, &r.key),
                PyBytes::new(py, &r.data),
                r.flags,
                r.cas,
                r.delta_value,
            );
            responses.append(item)?;
        }
        (outcome.code, responses, outcome.remaining).into_pyobject(py)
    }
}

#[pymethods]
impl OMcacheCore {
    #[new]
    fn new() -> OMcacheCore {
        OMcacheCore {
            locked_in: AtomicU64::new(omcache::fork_generation()),
            engine: Mutex::new(Engine {
                client: Client::new(),
                pending: Vec::new(),
                pending_token: 0,
                tls_failure: None,
            }),
            logs: Arc::default(),
            log_target: Mutex::new(None),
        }
    }

    /// Closes every connection and forgets the servers (OMcache's `omcache_free`; the object
    /// stays usable as a client without servers).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        // First: a close from a finaliser (or at interpreter exit) must not call into Python
        // logging for messages about the connections it drops.
        *lock(&self.log_target) = None;
        self.with_engine(py, |e| {
            e.client = Client::new();
            e.forget_pending();
        })?;
        lock(&self.logs).clear();
        Ok(())
    }

    /// Replaces the server list: a comma-separated string, ordered as OMcache 0.3 ordered it
    /// (by host, then port), so the key mapping is OMcache's. Servers still listed keep their
    /// connections.
    fn set_servers(&self, py: Python<'_>, servers: &str) -> PyResult<()> {
        let mut list = parse_server_list(servers);
        sort_like_omcache(&mut list);
        self.with_engine(py, move |e| {
            e.client.replace_servers(list.into_iter().map(Server::new));
        })?;
        Ok(())
    }

    /// One of OMcache's three distribution methods, by its Python name.
    fn set_distribution(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let dist = match name {
            "libmemcached_ketama" => Distribution::LibmemcachedKetama,
            "libmemcached_ketama_weighted" => Distribution::LibmemcachedKetamaWeighted,
            "libmemcached_ketama_pre1010" => Distribution::LibmemcachedKetamaPre1010,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "invalid distribution method {name:?}"
                )))
            }
        };
        self.with_engine(py, move |e| e.client.set_distribution(dist))?;
        Ok(())
    }

    fn set_connect_timeout(&self, py: Python<'_>, msec: u32) -> PyResult<()> {
        self.with_engine(py, |e| {
            e.client.settings_mut().connect_timeout = Duration::from_millis(msec.into())
        })?;
        Ok(())
    }

    fn set_reconnect_timeout(&self, py: Python<'_>, msec: u32) -> PyResult<()> {
        self.with_engine(py, |e| {
            e.client.settings_mut().reconnect_timeout = Duration::from_millis(msec.into())
        })?;
        Ok(())
    }

    fn set_dead_timeout(&self, py: Python<'_>, msec: u32) -> PyResult<()> {
        self.with_engine(py, |e| {
            e.client.settings_mut().dead_timeout = Duration::from_millis(msec.into())
        })?;
        Ok(())
    }

    /// TLS to every TCP server from now on (None for `enabled`: on when an option is given),
    /// or plaintext again; every connection is closed so that none goes on in the old mode.
    /// The files are read here: ValueError for contradicting options, OSError for files
    /// that cannot be used.
    #[pyo3(signature = (enabled=None, ca_file=None, cert=None, key=None, server_name=None))]
    fn set_tls(
        &self,
        py: Python<'_>,
        enabled: Option<bool>,
        ca_file: Option<PathBuf>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        server_name: Option<String>,
    ) -> PyResult<bool> {
        let keywords = TlsKeywords {
            enabled,
            ca_file,
            cert,
            key,
            server_name,
        };
        let settings = match py.detach(|| keywords.settings()) {
            Ok(settings) => settings,
            Err(TlsKeywordError::Usage(why)) => return Err(PyValueError::new_err(why)),
            Err(TlsKeywordError::Files(why)) => return Err(PyOSError::new_err(why)),
        };
        let on = settings.is_some();
        self.with_engine(py, move |e| {
            e.forget_pending();
            e.client.set_tls(settings);
        })?;
        Ok(on)
    }

    /// Why TLS failed in the last call (the engine's words), or None.
    fn tls_failure(&self, py: Python<'_>) -> PyResult<Option<&'static str>> {
        self.with_engine(py, |e| e.tls_failure.map(TlsFailure::message))
    }

    fn set_buffering(&self, py: Python<'_>, enabled: bool) -> PyResult<()> {
        self.with_engine(py, |e| e.client.settings_mut().buffering = enabled)?;
        Ok(())
    }

    /// Sends log messages of syslog priority <= `level` (0: everything but debug) to
    /// `target(level, message)`; None turns logging off.
    #[pyo3(signature = (level, target))]
    fn set_log(&self, py: Python<'_>, level: i32, target: Option<Py<PyAny>>) -> PyResult<()> {
        let queue = target.as_ref().map(|_| Arc::clone(&self.logs));
        *lock(&self.log_target) = target;
        self.with_engine(py, move |e| {
            let f = queue.map(|q| {
                Box::new(move |level: i32, msg: &str| lock(&q).push((level, msg.to_owned())))
                    as omcache::client::LogFn
            });
            e.client.set_log(level, f);
        })?;
        Ok(())
    }

    /// Drops everything queued or partly received, and the current batch.
    fn reset_buffers(&self, py: Python<'_>) -> PyResult<()> {
        self.with_engine(py, |e| {
            e.client.reset_buffers();
            e.forget_pending();
        })?;
        Ok(())
    }

    /// Sends `requests` as one batch and waits up to `timeout_ms` (OMcache's convention) in
    /// Rust, without the GIL. Returns `(code, responses, remaining)`: code OK (all answered),
    /// BUFFERED (timeout 0), AGAIN (time ran out) or the failure of a request that could not
    /// be sent.
    fn execute<'py>(
        &self,
        py: Python<'py>,
        requests: Vec<RequestTuple>,
        timeout_ms: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut reqs: Vec<OwnedRequest> = requests.into_iter().map(to_request).collect();
        let outcome = self.with_engine(py, move |e| {
            e.forget_pending();
            let (status, responses) = e.client.execute(&mut reqs, wait_for(timeout_ms));
            e.note_tls(true, status, &responses);
            Outcome {
                code: omcache_code(status),
                responses,
                remaining: e.client.batch_remaining(),
            }
        })?;
        Self::outcome_to_py(py, outcome)
    }

    /// Starts `requests` as one batch without waiting (connects and writes what the sockets
    /// take); continue with `poll_fds` and `step(token)`. Returns `(code, responses,
    /// remaining, token)`.
    fn start<'py>(
        &self,
        py: Python<'py>,
        requests: Vec<RequestTuple>,
    ) -> PyResult<(Bound<'py, PyTuple>, u64)> {
        let reqs: Vec<OwnedRequest> = requests.into_iter().map(to_request).collect();
        let (outcome, token) = self.with_engine(py, move |e| {
            e.forget_pending();
            e.pending = reqs;
            let (status, responses) = e.client.execute(&mut e.pending, Wait::NoWait);
            e.note_tls(true, status, &responses);
            let remaining = e.client.batch_remaining();
            let outcome = Outcome {
                code: omcache_code(status),
                responses,
                remaining,
            };
            (outcome, e.pending_token)
        })?;
        Ok((Self::outcome_to_py(py, outcome)?, token))
    }

    /// One non-blocking I/O pass on the batch `start` began and named `token`: returns
    /// `(code, responses, remaining)` with code OK or AGAIN, or INVALID when that batch was
    /// replaced by another call meanwhile (OMcache's answer to `omcache_io` with a stale
    /// batch).
    fn step<'py>(&self, py: Python<'py>, token: u64) -> PyResult<Bound<'py, PyTuple>> {
        let outcome = self.with_engine(py, |e| {
            if token != e.pending_token {
                return Outcome {
                    code: code::INVALID,
                    responses: Vec::new(),
                    remaining: 0,
                };
            }
            let (status, responses) = e.client.execute_more(&mut e.pending, Wait::NoWait);
            e.note_tls(false, status, &responses);
            let remaining = e.client.batch_remaining();
            if remaining == 0 {
                e.forget_pending();
            }
            Outcome {
                code: omcache_code(status),
                responses,
                remaining,
            }
        })?;
        Self::outcome_to_py(py, outcome)
    }

    /// The descriptors to wait on, as `[(fd, events)]` with poll's POLLIN (1) and POLLOUT (4),
    /// and the longest wait in milliseconds before the next `step` (OMcache's
    /// `omcache_poll_fds`). Starts connects and closes runs of quiet requests like a pass.
    fn poll_fds(&self, py: Python<'_>) -> PyResult<(Vec<(i32, i16)>, i32)> {
        self.with_engine(py, |e| {
            let (fds, timeout) = e.client.poll_fds();
            (fds.iter().map(|p| (p.fd, p.events)).collect(), timeout)
        })
    }

    /// Sends everything queued and waits up to `timeout_ms` for outstanding answers; OK or
    /// AGAIN.
    fn flush(&self, py: Python<'_>, timeout_ms: i64) -> PyResult<i32> {
        self.with_engine(py, |e| {
            omcache_code(e.client.flush_buffers(wait_for(timeout_ms)))
        })
    }

    /// The index of the server a key goes to now, or -1 (no servers, or all out of service).
    fn server_index_for_key(&self, py: Python<'_>, key: Vec<u8>) -> PyResult<i64> {
        self.with_engine(py, move |e| {
            e.client.server_index_for_key(&key).map_or(-1, |i| i as i64)
        })
    }

    /// `(host, port)` of each server, in index order (host without IPv6 brackets).
    fn servers(&self, py: Python<'_>) -> PyResult<Vec<(String, i32)>> {
        self.with_engine(py, |e| {
            (0..e.client.server_count())
                .filter_map(|i| e.client.server_addr(i))
                .map(|a| (a.given_host().to_owned(), a.given_port()))
                .collect()
        })
    }

    /// Lists every key of every server with its expiry (a debugging aid, see `Client::dump`):
    /// `(keys, servers)` with keys as `(key, expiry, server_index, cas, last_access)` and one
    /// `(server_index, method, key_count, error)` per server. The listing uses short-lived
    /// sockets of its own; the engine lock is held only to copy the server list.
    fn dump<'py>(
        &self,
        py: Python<'py>,
        timeout_ms: u64,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let lister = self.with_engine(py, |e| {
            let mut c = Client::new();
            c.settings_mut().connect_timeout = e.client.settings().connect_timeout;
            // A TLS client's servers are refused by the listing rather than spoken to in
            // the clear.
            c.settings_mut().tls = e.client.settings().tls.clone();
            c.replace_servers(e.client.servers());
            c
        })?;
        let opts = DumpOptions {
            timeout: Duration::from_millis(timeout_ms),
            ..DumpOptions::default()
        };
        let dumped = py.detach(move || lister.dump_keys(&opts));
        let keys = PyList::empty(py);
        for k in &dumped.keys {
            keys.append((
                PyBytes::new(py, &k.key),
                k.expiry,
                k.server,
                k.cas,
                k.last_access,
            ))?;
        }
        let servers = PyList::empty(py);
        for s in &dumped.report.servers {
            let method = match s.method {
                Some(DumpMethod::MetaDump) => Some("metadump"),
                Some(DumpMethod::CacheDump) => Some("cachedump"),
                _ => None,
            };
            let error = s.error.as_ref().map(|e| e.to_string());
            servers.append((s.server, method, s.keys, error))?;
        }
        Ok((keys, servers))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<OMcacheCore>()?;
    m.add("OMCACHE_OK", code::OK)?;
    m.add("OMCACHE_NOT_FOUND", code::NOT_FOUND)?;
    m.add("OMCACHE_KEY_EXISTS", code::KEY_EXISTS)?;
    m.add("OMCACHE_TOO_LARGE_VALUE", code::TOO_LARGE_VALUE)?;
    m.add("OMCACHE_NOT_STORED", code::NOT_STORED)?;
    m.add("OMCACHE_DELTA_BAD_VALUE", code::DELTA_BAD_VALUE)?;
    m.add("OMCACHE_FAIL", code::FAIL)?;
    m.add("OMCACHE_AGAIN", code::AGAIN)?;
    m.add("OMCACHE_INVALID", code::INVALID)?;
    m.add("OMCACHE_BUFFERED", code::BUFFERED)?;
    m.add("OMCACHE_BUFFER_FULL", code::BUFFER_FULL)?;
    m.add("OMCACHE_NO_SERVERS", code::NO_SERVERS)?;
    m.add("OMCACHE_SERVER_FAILURE", code::SERVER_FAILURE)?;
    Ok(())
}
