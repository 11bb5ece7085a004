//! The native part of `omcache.pylibmc` (pylibmc 1.6's API): the subclassable base type
//! `client`, the exception classes, and the module constants, in the submodule
//! `omcache._native.pylibmc` (re-exported as `omcache._pylibmc`).
//!
//! Threads: a client serialises its callers. Its state (`Inner`) is taken out of the client
//! for the length of a call and put back after, so the GIL is released around every network
//! wait, and a second thread using the same client waits (without the GIL) until the first
//! is done. Values are copied into Python objects while the state is held; pickle, zlib and a
//! subclass's `deserialize` run after it is put back, so they may use the client again.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use omcache::client::{SaslCredentials, Status};
use omcache::ffi::libmemcached::server_list::ConnectionType;
use omcache::protocol::opcode;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::PyTypeInfo;

#[path = "pylibmc/behaviors.rs"]
mod behaviors;
#[path = "pylibmc/engine.rs"]
mod engine;
#[path = "pylibmc/errors.rs"]
mod errors;
#[path = "pylibmc/replicas.rs"]
mod replicas;
#[path = "pylibmc/values.rs"]
mod values;

use crate::tls::{TlsKeywordError, TlsKeywords};
use engine::{Inner, MAX_KEY_LEN};
use values::{Decoded, Payload};

/// The version of pylibmc whose API this is.
const PYLIBMC_VERSION: &str = "1.6.3";

extern "C" {
    // In the stable ABI from Python 3.10 and exported by every CPython 3 before it: pyo3's
    // abi3-py39 bindings leave it out, but the interpreters this module loads in all have it.
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::os::raw::c_char;
}

/// CPython's `_PyDict_NewPresized` (exported by 3.9 through 3.14, not in the stable ABI),
/// looked up once at run time; None where the interpreter does not export it.
type NewPresized = unsafe extern "C" fn(pyo3::ffi::Py_ssize_t) -> *mut pyo3::ffi::PyObject;

#[cfg(target_os = "linux")]
fn new_presized() -> Option<NewPresized> {
    use std::os::raw::{c_char, c_void};
    use std::sync::OnceLock;
    extern "C" {
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    }
    static FOUND: OnceLock<Option<NewPresized>> = OnceLock::new();
    *FOUND.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT (a null handle on Linux) and a NUL-terminated name
        // only searches the loaded objects; a non-null result is that function, whose C
        // signature is `PyObject *_PyDict_NewPresized(Py_ssize_t minused)`.
        let f = unsafe { dlsym(std::ptr::null_mut(), c"_PyDict_NewPresized".as_ptr()) };
        (!f.is_null())
            // SAFETY: `f` is the address of the function with the signature above.
            .then(|| unsafe { std::mem::transmute::<*mut c_void, NewPresized>(f) })
    })
}

#[cfg(not(target_os = "linux"))]
fn new_presized() -> Option<NewPresized> {
    None
}

/// An empty dict with room for `n` items (a 100-key get_multi otherwise regrows it 4 times).
fn dict_with_room(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyDict>> {
    let Some(f) = new_presized().filter(|_| n > 5) else {
        return Ok(PyDict::new(py));
    };
    let n = pyo3::ffi::Py_ssize_t::try_from(n).unwrap_or(pyo3::ffi::Py_ssize_t::MAX);
    // SAFETY: called with the GIL held (`py`); it returns a new reference to a dict, or
    // null with an exception set.
    let d = unsafe { Bound::from_owned_ptr_or_err(py, f(n))? };
    Ok(d.cast_into::<PyDict>()?)
}

/// The UTF-8 of a str without a bytes object made for it (a key is read once per request).
fn str_utf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a [u8]> {
    let mut len: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a str the caller holds (with the GIL). The buffer returned belongs to
    // the str (its own data when ASCII, else its cached UTF-8), which is immutable and lives
    // at least as long as the borrow of `s`; on failure a UnicodeEncodeError is set.
    let data = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut len) };
    if data.is_null() {
        return Err(PyErr::fetch(s.py()));
    }
    // SAFETY: `data` points to `len` bytes owned by the str (see above).
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len as usize) })
}

/// A key's bytes: a bytes object's own, a str's UTF-8; anything else is refused as pylibmc
/// does. The bytes are the object's, so they stay valid (and unchanged) while it is held.
#[inline]
fn key_bytes<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    // str first: the common key type in Python 3 code.
    let b = if let Ok(s) = key.cast::<PyString>() {
        str_utf8(s)?
    } else if let Ok(b) = key.cast::<PyBytes>() {
        b.as_bytes()
    } else {
        return Err(PyTypeError::new_err("key must be bytes"));
    };
    if b.len() > MAX_KEY_LEN {
        return Err(key_too_long(b.len()));
    }
    Ok(b)
}

#[cold]
fn key_too_long(len: usize) -> PyErr {
    PyValueError::new_err(format!("key length {len} too long, max is {MAX_KEY_LEN}"))
}

/// How many items a list or tuple holds (0 for other iterables: no len() asked).
fn size_hint(items: &Bound<'_, PyAny>) -> usize {
    if let Ok(list) = items.cast::<PyList>() {
        list.len()
    } else if let Ok(tuple) = items.cast::<PyTuple>() {
        tuple.len()
    } else {
        0
    }
}

/// An optional key prefix (str or bytes).
fn prefix_bytes<'a>(prefix: Option<&'a Bound<'_, PyAny>>) -> PyResult<&'a [u8]> {
    match prefix {
        None => Ok(&[]),
        Some(p) if p.is_none() => Ok(&[]),
        Some(p) => key_bytes(p),
    }
}

fn check_compress_level(level: i32) -> PyResult<()> {
    if level == -1 || (0..=9).contains(&level) {
        Ok(())
    } else {
        Err(PyValueError::new_err(
            "compress_level must be between 0 and 9 inclusive",
        ))
    }
}

/// Expiration times as libmemcached passes them: a C time_t cut to the 32 bits the
/// protocol carries.
fn expiration(time: i64) -> u32 {
    time as u32
}

/// pylibmc's base client type.
#[pyclass(subclass, name = "client", module = "omcache._pylibmc")]
pub struct PyClient {
    /// The state, None while a call has it out.
    slot: Mutex<Option<Box<Inner>>>,
    returned: Condvar,
    /// Threads waiting in `take_blocking` (the state is handed back without a wake-up
    /// system call when there are none).
    waiting: AtomicUsize,
    /// The process's fork generation when the state was last taken: in a forked child, a
    /// state a thread of the parent had out never comes back (see `take_blocking`).
    taken_in: AtomicU64,
    /// `pickle_protocol`, readable without taking the state.
    pickle_protocol: AtomicI32,
    /// The Python class overrides serialize / deserialize (checked at __init__ and clone).
    user_serialize: AtomicBool,
    user_deserialize: AtomicBool,
}

/// The state taken out of a client; put back when dropped.
struct Held<'a> {
    owner: &'a PyClient,
    inner: Option<Box<Inner>>,
}

impl std::ops::Deref for Held<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        self.inner.as_deref().expect("held state")
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        self.inner.as_deref_mut().expect("held state")
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let mut slot = self.owner.slot.lock().unwrap_or_else(|e| e.into_inner());
            self.owner
                .pickle_protocol
                .store(inner.pickle_protocol, Ordering::Relaxed);
            *slot = Some(inner);
            drop(slot);
            if self.owner.waiting.load(Ordering::SeqCst) > 0 {
                self.owner.returned.notify_one();
            }
        }
    }
}

impl PyClient {
    fn with_inner(inner: Inner) -> PyClient {
        PyClient {
            slot: Mutex::new(Some(Box::new(inner))),
            returned: Condvar::new(),
            waiting: AtomicUsize::new(0),
            taken_in: AtomicU64::new(omcache::fork_generation()),
            pickle_protocol: AtomicI32::new(-1),
            user_serialize: AtomicBool::new(false),
            user_deserialize: AtomicBool::new(false),
        }
    }

    fn try_take(&self) -> Option<Box<Inner>> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let inner = slot.take()?;
        self.taken_in
            .store(omcache::fork_generation(), Ordering::Relaxed);
        Some(inner)
    }

    /// Waits for the state another thread has out; None in a forked child when a thread of
    /// the parent had it at the fork (that thread does not exist here: it never comes back).
    fn take_blocking(&self) -> Option<Box<Inner>> {
        let generation = omcache::fork_generation();
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        // Counted under the lock, so a holder that puts the state back after this sees it.
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let inner = loop {
            if let Some(inner) = slot.take() {
                self.taken_in.store(generation, Ordering::Relaxed);
                break Some(inner);
            }
            // Taken and recorded under this lock: a holder of this process has recorded
            // this process's generation.
            if self.taken_in.load(Ordering::Relaxed) != generation {
                break None;
            }
            slot = self.returned.wait(slot).unwrap_or_else(|e| e.into_inner());
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        inner
    }

    /// The client's state for one call: at once when free, else waited for without the GIL.
    /// In a forked child whose parent had it out in another thread at the fork: an error,
    /// instead of waiting forever.
    fn acquire(&self, py: Python<'_>) -> PyResult<Held<'_>> {
        let inner = match self.try_take() {
            Some(inner) => inner,
            None => py.detach(|| self.take_blocking()).ok_or_else(|| {
                errors::raise_code(
                    py,
                    None,
                    "this client was in use by another thread when the process forked; \
                     make a new client in the child"
                        .to_owned(),
                )
            })?,
        };
        Ok(Held {
            owner: self,
            inner: Some(inner),
        })
    }

    /// Notes whether the Python class of `slf` overrides serialize / deserialize.
    fn note_overrides(slf: &Bound<'_, PyClient>) -> PyResult<()> {
        let py = slf.py();
        let base = PyClient::type_object(py);
        let class = slf.get_type();
        let overridden =
            |name: &str| -> PyResult<bool> { Ok(!class.getattr(name)?.is(&base.getattr(name)?)) };
        let me = slf.borrow();
        me.user_serialize
            .store(overridden("serialize")?, Ordering::Relaxed);
        me.user_deserialize
            .store(overridden("deserialize")?, Ordering::Relaxed);
        Ok(())
    }

    fn serialize_value<'py>(
        slf: &Bound<'py, PyClient>,
        value: &Bound<'py, PyAny>,
        pickle_protocol: i32,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<(Payload<'py>, u32)> {
        let py = slf.py();
        let (payload, flags) = if slf.borrow().user_serialize.load(Ordering::Relaxed) {
            values::user_serialized(slf.call_method1("serialize", (value,))?)?
        } else {
            values::serialize(py, value, pickle_protocol)?
        };
        values::maybe_compress(py, payload, flags, min_compress_len, compress_level)
    }

    /// Finishes a value decoded while the client was held.
    fn finish<'py>(
        slf: &Bound<'py, PyClient>,
        decoded: Decoded<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match decoded {
            Decoded::Done(v) => Ok(v),
            Decoded::Later(data, flags) => {
                let data = values::inflated(slf.py(), data, flags)?;
                if slf.borrow().user_deserialize.load(Ordering::Relaxed) {
                    slf.call_method1("deserialize", (data, flags))
                } else {
                    values::deserialize(slf.py(), &data, flags)
                }
            }
        }
    }

    fn pickle_protocol(&self, _py: Python<'_>) -> i32 {
        self.pickle_protocol.load(Ordering::Relaxed)
    }

    /// The exception for a failed keyed request.
    fn failure(
        py: Python<'_>,
        held: &Held<'_>,
        answer: &engine::Answer,
        what: &str,
        key: Option<&[u8]>,
    ) -> PyErr {
        let host = answer
            .server
            .filter(|_| {
                answer
                    .status
                    .failure()
                    .is_some_and(|f| f.is_server_failure())
            })
            .map(|i| held.server_name(i));
        errors::raise(
            py,
            answer.status,
            held.binary(),
            what,
            key,
            host,
            &held.message,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn store_common(
        slf: &Bound<'_, PyClient>,
        op: u8,
        what: &str,
        key: &Bound<'_, PyAny>,
        val: &Bound<'_, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
        cas: u64,
    ) -> PyResult<bool> {
        let py = slf.py();
        check_compress_level(compress_level)?;
        let k = key_bytes(key)?;
        let me = slf.borrow();
        let protocol = me.pickle_protocol(py);
        drop(me);
        let (payload, flags) =
            Self::serialize_value(slf, val, protocol, min_compress_len, compress_level)?;
        if k.is_empty() {
            return Ok(false);
        }
        let me = slf.borrow();
        let mut held = me.acquire(py)?;
        let data = payload.as_slice();
        let answer = py.detach(|| held.store(op, k, data, expiration(time), flags, cas));
        match answer.status {
            Status::Ok => Ok(true),
            Status::NotStored | Status::KeyExists => Ok(false),
            _ => Err(Self::failure(py, &held, &answer, what, None)),
        }
    }

    fn delta_common(
        slf: &Bound<'_, PyClient>,
        op: u8,
        key: &Bound<'_, PyAny>,
        delta: i64,
    ) -> PyResult<u64> {
        let py = slf.py();
        if delta < 0 {
            return Err(PyValueError::new_err("delta must be positive"));
        }
        let k = key_bytes(key)?;
        let me = slf.borrow();
        let mut held = me.acquire(py)?;
        let answer = py.detach(|| held.delta(op, k, delta as u64));
        match answer.status {
            Status::Ok => Ok(answer.delta),
            Status::NotFound => Err(errors::raise_code(py, Some(16), "1 keys not found".into())),
            other => Err(errors::raise_code(
                py,
                Some(errors::rc_of(other, held.binary())),
                "1 keys failed".into(),
            )),
        }
    }

    /// Collects `keys` (with `key_prefix`) into the held arena; returns the original key
    /// objects in arena order (empty keys are left out, as pylibmc does).
    fn collect_keys<'py>(
        held: &mut Held<'_>,
        keys: &Bound<'py, PyAny>,
        p: &[u8],
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        held.begin_keys();
        let mut originals = Vec::with_capacity(size_hint(keys));
        for key in keys.try_iter()? {
            let key = key?;
            let k = key_bytes(&key)?;
            if k.is_empty() {
                continue;
            }
            if !held.push_key(p, k) {
                // The key alone fits (key_bytes checked it): with its prefix it is
                // libmemcached's to refuse, and pylibmc raises what it says.
                return Err(errors::raise_code(
                    key.py(),
                    Some(33),
                    "error 33 from memcached_mget: A BAD KEY WAS PROVIDED/CHARACTERS OUT OF RANGE"
                        .to_owned(),
                ));
            }
            originals.push(key);
        }
        Ok(originals)
    }

    #[allow(clippy::too_many_arguments)]
    fn store_multi<'py>(
        slf: &Bound<'py, PyClient>,
        op: u8,
        what: &str,
        mapping: &Bound<'py, PyAny>,
        time: i64,
        key_prefix: Option<&Bound<'py, PyAny>>,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        check_compress_level(compress_level)?;
        let p = prefix_bytes(key_prefix)?;
        let protocol = slf.borrow().pickle_protocol(py);
        let items = mapping.call_method0("items")?;
        let mut originals = Vec::new();
        let mut payloads = Vec::new();
        let mut extras: Vec<[u8; 8]> = Vec::new();
        let failed = PyList::empty(py);
        for item in items.try_iter()? {
            let (key, val): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item?.extract()?;
            let k = key_bytes(&key)?;
            if p.len() + k.len() > MAX_KEY_LEN {
                return Err(PyValueError::new_err(format!(
                    "key length {} too long, max is {MAX_KEY_LEN}",
                    p.len() + k.len()
                )));
            }
            let (payload, flags) =
                Self::serialize_value(slf, &val, protocol, min_compress_len, compress_level)?;
            if k.is_empty() {
                failed.append(&key)?;
                continue;
            }
            extras.push(omcache::protocol::extras::storage(flags, expiration(time)));
            originals.push(key);
            payloads.push(payload);
        }
        let me = slf.borrow();
        let mut held = me.acquire(py)?;
        held.begin_keys();
        for key in &originals {
            held.push_key(p, key_bytes(key)?);
        }
        let slices: Vec<&[u8]> = payloads.iter().map(Payload::as_slice).collect();
        py.detach(|| held.run_multi_store(op, &extras, &slices));
        for (i, status) in held.statuses.iter().enumerate() {
            match status {
                Status::Ok => {}
                Status::NotStored | Status::KeyExists | Status::NotFound => {
                    failed.append(&originals[i])?;
                }
                other => {
                    let server = held.arena_server(i);
                    let host = server
                        .filter(|_| other.failure().is_some_and(|f| f.is_server_failure()))
                        .map(|s| held.server_name(s));
                    return Err(errors::raise(
                        py,
                        *other,
                        held.binary(),
                        what,
                        None,
                        host,
                        &[],
                    ));
                }
            }
        }
        Ok(failed)
    }
}

#[pymethods]
impl PyClient {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn py_new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> PyClient {
        PyClient::with_inner(Inner::new(false))
    }

    /// `servers`: (type, address, port[, weight]) tuples (omcache.pylibmc.client translates
    /// the strings); `behaviors` with numeric `hash` and `distribution`; `tls` and the
    /// `tls_*` paths and name as omcache.pylibmc.Client documents them.
    #[pyo3(signature = (servers, binary=false, username=None, password=None, behaviors=None,
                        tls=None, tls_ca_file=None, tls_cert=None, tls_key=None,
                        tls_server_name=None))]
    #[allow(clippy::too_many_arguments)]
    fn __init__(
        slf: &Bound<'_, PyClient>,
        servers: &Bound<'_, PyAny>,
        binary: bool,
        username: Option<&Bound<'_, PyAny>>,
        password: Option<&Bound<'_, PyAny>>,
        behaviors: Option<&Bound<'_, PyAny>>,
        tls: Option<bool>,
        tls_ca_file: Option<PathBuf>,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
        tls_server_name: Option<String>,
    ) -> PyResult<()> {
        let py = slf.py();
        let tls = TlsKeywords {
            enabled: tls,
            ca_file: tls_ca_file,
            cert: tls_cert,
            key: tls_key,
            server_name: tls_server_name,
        };
        // Files are read with the GIL released (a slow file system must not stop threads).
        let tls = match py.detach(|| tls.settings()) {
            Ok(settings) => settings,
            Err(TlsKeywordError::Usage(why)) => return Err(PyValueError::new_err(why)),
            // INVALID_ARGUMENTS, as the engine reports unusable settings at a request.
            Err(TlsKeywordError::Files(why)) => return Err(errors::raise_code(py, Some(38), why)),
        };
        let username = username.filter(|u| !u.is_none());
        let password = password.filter(|p| !p.is_none());
        if username.is_some() || password.is_some() {
            if !binary {
                return Err(PyTypeError::new_err(
                    "SASL requires the memcached binary protocol",
                ));
            }
            if username.is_none() || password.is_none() {
                return Err(PyTypeError::new_err(
                    "SASL requires both username and password",
                ));
            }
        }
        // str (UTF-8) or bytes, as pylibmc takes them.
        let credential = |v: Option<&Bound<'_, PyAny>>| -> PyResult<Option<Vec<u8>>> {
            v.map(|v| {
                if let Ok(s) = v.extract::<String>() {
                    Ok(s.into_bytes())
                } else {
                    v.extract::<Vec<u8>>().map_err(|_| {
                        PyTypeError::new_err("username and password must be str or bytes")
                    })
                }
            })
            .transpose()
        };
        let sasl = match (credential(username)?, credential(password)?) {
            (Some(u), Some(p)) => Some(SaslCredentials::new(u, p)),
            _ => None,
        };
        Self::note_overrides(slf)?;
        let me = slf.borrow();
        let mut held = me.acquire(py)?;
        *held = Inner::new(binary);
        held.sasl = sasl;
        held.tls = tls;
        if let Some(b) = behaviors.filter(|b| !b.is_none()) {
            set_behaviors_on(&mut held, b)?;
        }
        let mut count = 0;
        for spec in servers.try_iter()? {
            let spec = spec?;
            let t = spec.cast::<PyTuple>()?;
            let kind: i64 = t.get_item(0)?.extract()?;
            let addr: String = t.get_item(1)?.extract()?;
            let port: i64 = if t.len() > 2 {
                t.get_item(2)?.extract()?
            } else {
                11211
            };
            let weight: i64 = if t.len() > 3 {
                t.get_item(3)?.extract()?
            } else {
                1
            };
            let weight = u32::try_from(weight.max(0)).unwrap_or(u32::MAX);
            match kind {
                1 => held.add_server(&addr, port as u16, weight, ConnectionType::Tcp),
                4 => held.add_server(&addr, 0, weight, ConnectionType::UnixSocket),
                2 => {
                    return Err(errors::raise_code(
                        py,
                        Some(28),
                        "UDP servers are not supported by omcache.pylibmc".into(),
                    ))
                }
                other => return Err(PyValueError::new_err(format!("bad type: {other}"))),
            }
            count += 1;
        }
        if count == 0 {
            return Err(errors::raise_code(py, None, "empty server list".into()));
        }
        held.apply_settings();
        held.apply_servers();
        Ok(())
    }

    #[pyo3(signature = (key, default=None))]
    fn get<'py>(
        slf: &Bound<'py, PyClient>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let k = key_bytes(key)?;
        let default = || default.clone().unwrap_or_else(|| py.None().into_bound(py));
        if k.is_empty() {
            return Ok(default());
        }
        let me = slf.borrow();
        let native = !me.user_deserialize.load(Ordering::Relaxed);
        let mut held = me.acquire(py)?;
        let answer = py.detach(|| held.get(k));
        match answer.status {
            Status::Ok => {
                let decoded = values::decode(py, &held.value, answer.flags, native)?;
                drop(held);
                drop(me);
                Self::finish(slf, decoded)
            }
            Status::NotFound => Ok(default()),
            _ => Err(Self::failure(py, &held, &answer, "memcached_get", Some(k))),
        }
    }

    fn gets<'py>(
        slf: &Bound<'py, PyClient>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let k = key_bytes(key)?;
        let me = slf.borrow();
        let native = !me.user_deserialize.load(Ordering::Relaxed);
        let mut held = me.acquire(py)?;
        if !held.model.support_cas {
            return Err(PyValueError::new_err("gets without cas behavior"));
        }
        let none = || PyTuple::new(py, [py.None(), py.None()]);
        if k.is_empty() {
            return none();
        }
        let answer = py.detach(|| held.get(k));
        match answer.status {
            Status::Ok => {
                let decoded = values::decode(py, &held.value, answer.flags, native)?;
                drop(held);
                drop(me);
                let v = Self::finish(slf, decoded)?;
                PyTuple::new(py, [v, answer.cas.into_pyobject(py)?.into_any()])
            }
            Status::NotFound => none(),
            _ => Err(Self::failure(py, &held, &answer, "memcached_gets", Some(k))),
        }
    }

    #[pyo3(signature = (key, val, time=0, min_compress_len=0, compress_level=-1))]
    fn set(
        slf: &Bound<'_, PyClient>,
        key: &Bound<'_, PyAny>,
        val: &Bound<'_, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        Self::store_common(
            slf,
            opcode::SET,
            "memcached_set",
            key,
            val,
            time,
            min_compress_len,
            compress_level,
            0,
        )
    }

    #[pyo3(signature = (key, val, time=0, min_compress_len=0, compress_level=-1))]
    fn add(
        slf: &Bound<'_, PyClient>,
        key: &Bound<'_, PyAny>,
        val: &Bound<'_, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        Self::store_common(
            slf,
            opcode::ADD,
            "memcached_add",
            key,
            val,
            time,
            min_compress_len,
            compress_level,
            0,
        )
    }

    #[pyo3(signature = (key, val, time=0, min_compress_len=0, compress_level=-1))]
    fn replace(
        slf: &Bound<'_, PyClient>,
        key: &Bound<'_, PyAny>,
        val: &Bound<'_, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        Self::store_common(
            slf,
            opcode::REPLACE,
            "memcached_replace",
            key,
            val,
            time,
            min_compress_len,
            compress_level,
            0,
        )
    }

    #[pyo3(signature = (key, val, time=0, min_compress_len=0, compress_level=-1))]
    fn append(
        slf: &Bound<'_, PyClient>,
        key: &Bound<'_, PyAny>,
        val: &Bound<'_, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        Self::store_common(
            slf,
            opcode::APPEND,
            "memcached_append",
            key,
            val,
            time,
            min_compress_len,
            compress_level,
            0,
        )
    }

    #[pyo3(signature = (key, val, time=0, min_compress_len=0, compress_level=-1))]
    fn prepend(
        slf: &Bound<'_, PyClient>,
        key: &Bound<'_, PyAny>,
        val: &Bound<'_, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        Self::store_common(
            slf,
            opcode::PREPEND,
            "memcached_prepend",
            key,
            val,
            time,
            min_compress_len,
            compress_level,
            0,
        )
    }

    /// Stores only if the item's CAS is still `cas` (never compressed).
    #[pyo3(signature = (key, val, cas, time=0))]
    fn cas(
        slf: &Bound<'_, PyClient>,
        key: &Bound<'_, PyAny>,
        val: &Bound<'_, PyAny>,
        cas: u64,
        time: i64,
    ) -> PyResult<bool> {
        let py = slf.py();
        if !slf.borrow().acquire(py)?.model.support_cas {
            return Err(PyValueError::new_err("cas without cas behavior"));
        }
        // As memcached_cas: a replace carrying the CAS value.
        Self::store_common(
            slf,
            opcode::REPLACE,
            "memcached_cas",
            key,
            val,
            time,
            0,
            -1,
            cas,
        )
    }

    fn delete(slf: &Bound<'_, PyClient>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = slf.py();
        let k = key_bytes(key)?;
        if k.is_empty() {
            return Ok(false);
        }
        let me = slf.borrow();
        let mut held = me.acquire(py)?;
        let answer = py.detach(|| held.single(opcode::DELETE, k, &[], &[], 0));
        match answer.status {
            Status::Ok => Ok(true),
            Status::NotFound => Ok(false),
            _ => Err(Self::failure(
                py,
                &held,
                &answer,
                "memcached_delete",
                Some(k),
            )),
        }
    }

    #[pyo3(signature = (key, delta=1))]
    fn incr(slf: &Bound<'_, PyClient>, key: &Bound<'_, PyAny>, delta: i64) -> PyResult<u64> {
        Self::delta_common(slf, opcode::INCREMENT, key, delta)
    }

    #[pyo3(signature = (key, delta=1))]
    fn decr(slf: &Bound<'_, PyClient>, key: &Bound<'_, PyAny>, delta: i64) -> PyResult<u64> {
        Self::delta_common(slf, opcode::DECREMENT, key, delta)
    }

    fn touch(slf: &Bound<'_, PyClient>, key: &Bound<'_, PyAny>, time: i64) -> PyResult<bool> {
        let py = slf.py();
        let k = key_bytes(key)?;
        if k.is_empty() {
            return Ok(false);
        }
        let me = slf.borrow();
        let mut held = me.acquire(py)?;
        let answer = py.detach(|| held.touch(k, expiration(time)));
        match answer.status {
            Status::Ok => Ok(true),
            Status::NotFound => Ok(false),
            _ => Err(Self::failure(
                py,
                &held,
                &answer,
                "memcached_touch",
                Some(k),
            )),
        }
    }

    #[pyo3(signature = (keys, key_prefix=None))]
    fn get_multi<'py>(
        slf: &Bound<'py, PyClient>,
        keys: &Bound<'py, PyAny>,
        key_prefix: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let p = prefix_bytes(key_prefix)?;
        let me = slf.borrow();
        let native = !me.user_deserialize.load(Ordering::Relaxed);
        let mut held = me.acquire(py)?;
        let originals = Self::collect_keys(&mut held, keys, p)?;
        let multi = held.get_multi(|run| py.detach(run));
        if let Some(f) = multi.failure {
            // Values and misses from the servers that answered are returned; the call fails
            // only when no server answered (every key's server failed).
            if multi.hits().is_empty() {
                let held = multi.inner();
                let server = (0..originals.len()).find_map(|i| held.arena_server(i));
                let host = server
                    .filter(|_| f.failure().is_some_and(|x| x.is_server_failure()))
                    .map(|s| held.server_name(s));
                return Err(errors::raise(
                    py,
                    f,
                    held.binary(),
                    "memcached_mget",
                    None,
                    host,
                    &[],
                ));
            }
        }
        let out = dict_with_room(py, multi.hits().len())?;
        let mut later = Vec::new();
        for hit in multi.hits() {
            match values::decode(py, multi.data(hit), hit.flags, native)? {
                Decoded::Done(v) => out.set_item(&originals[hit.index], v)?,
                pending => later.push((hit.index, pending)),
            }
        }
        drop(multi);
        drop(held);
        drop(me);
        for (i, pending) in later {
            out.set_item(&originals[i], Self::finish(slf, pending)?)?;
        }
        Ok(out)
    }

    #[pyo3(signature = (mapping, time=0, key_prefix=None, min_compress_len=0, compress_level=-1))]
    fn set_multi<'py>(
        slf: &Bound<'py, PyClient>,
        mapping: &Bound<'py, PyAny>,
        time: i64,
        key_prefix: Option<&Bound<'py, PyAny>>,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<Bound<'py, PyList>> {
        Self::store_multi(
            slf,
            opcode::SET,
            "memcached_set_multi",
            mapping,
            time,
            key_prefix,
            min_compress_len,
            compress_level,
        )
    }

    #[pyo3(signature = (mapping, time=0, key_prefix=None, min_compress_len=0, compress_level=-1))]
    fn add_multi<'py>(
        slf: &Bound<'py, PyClient>,
        mapping: &Bound<'py, PyAny>,
        time: i64,
        key_prefix: Option<&Bound<'py, PyAny>>,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<Bound<'py, PyList>> {
        Self::store_multi(
            slf,
            opcode::ADD,
            "memcached_add_multi",
            mapping,
            time,
            key_prefix,
            min_compress_len,
            compress_level,
        )
    }

    #[pyo3(signature = (keys, key_prefix=None))]
    fn delete_multi(
        slf: &Bound<'_, PyClient>,
        keys: &Bound<'_, PyAny>,
        key_prefix: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let py = slf.py();
        let p = prefix_bytes(key_prefix)?;
        let me = slf.borrow();
        let mut held = me.acquire(py)?;
        let originals = Self::collect_keys(&mut held, keys, p)?;
        py.detach(|| held.run_keys(opcode::DELETE, &[], &[]));
        let mut all = true;
        for (i, status) in held.statuses.iter().enumerate() {
            match status {
                Status::Ok => {}
                Status::NotFound => all = false,
                other => {
                    let k = key_bytes(&originals[i])?;
                    let server = held.arena_server(i);
                    let host = server
                        .filter(|_| other.failure().is_some_and(|f| f.is_server_failure()))
                        .map(|s| held.server_name(s));
                    return Err(errors::raise(
                        py,
                        *other,
                        held.binary(),
                        "memcached_delete",
                        Some(k),
                        host,
                        &[],
                    ));
                }
            }
        }
        Ok(all)
    }

    #[pyo3(signature = (keys, key_prefix=None, delta=1))]
    fn incr_multi(
        slf: &Bound<'_, PyClient>,
        keys: &Bound<'_, PyAny>,
        key_prefix: Option<&Bound<'_, PyAny>>,
        delta: i64,
    ) -> PyResult<()> {
        let py = slf.py();
        if delta < 0 {
            return Err(PyValueError::new_err("delta must be positive"));
        }
        let p = prefix_bytes(key_prefix)?;
        let me = slf.borrow();
        let mut held = me.acquire(py)?;
        Self::collect_keys(&mut held, keys, p)?;
        let ex = omcache::protocol::extras::delta(delta as u64, 0, 0xffff_ffff);
        py.detach(|| held.run_keys(opcode::INCREMENT, &ex, &[]));
        let failed: Vec<Status> = held
            .statuses
            .iter()
            .copied()
            .filter(|s| *s != Status::Ok)
            .collect();
        if let Some(first) = failed.first() {
            let n = failed.len();
            if failed.iter().all(|s| *s == Status::NotFound) {
                return Err(errors::raise_code(
                    py,
                    Some(16),
                    format!("{n} keys not found"),
                ));
            }
            return Err(errors::raise_code(
                py,
                Some(errors::rc_of(*first, held.binary())),
                format!("{n} keys failed"),
            ));
        }
        Ok(())
    }

    #[pyo3(signature = (arg=None))]
    fn get_stats<'py>(
        slf: &Bound<'py, PyClient>,
        arg: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let me = slf.borrow();
        let mut held = me.acquire(py)?;
        let group = arg.filter(|a| !a.is_empty());
        let results = py.detach(|| held.stats(group));
        let out = PyList::empty(py);
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(pairs) => {
                    let d = PyDict::new(py);
                    for (k, v) in pairs {
                        d.set_item(k, PyBytes::new(py, v.as_bytes()))?;
                    }
                    let name = format!("{} ({i})", held.server_name(i));
                    out.append((PyBytes::new(py, name.as_bytes()), d))?;
                }
                Err(status) => {
                    let host = Some(held.server_name(i));
                    let mut e =
                        errors::raise(py, status, held.binary(), "get_stats", None, host, &[]);
                    let msg = e.value(py).str()?.to_string();
                    e = errors::raise_code(
                        py,
                        Some(19),
                        msg.replacen(
                            &format!("error {}", errors::rc_of(status, held.binary())),
                            "error 19",
                            1,
                        ),
                    );
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    #[pyo3(signature = (time=0))]
    fn flush_all(slf: &Bound<'_, PyClient>, time: i64) -> PyResult<bool> {
        let py = slf.py();
        let me = slf.borrow();
        let mut held = me.acquire(py)?;
        let failed = py.detach(|| held.flush_all(expiration(time)));
        match failed {
            None => Ok(true),
            Some((status, i)) => {
                let host = held.server_name(i);
                let rc = errors::rc_of(status, held.binary());
                Err(errors::raise_code(
                    py,
                    Some(19),
                    format!(
                        "error 19 from flush_all: {},  host: {host} -> omcache-rs",
                        errors::rc_text(rc)
                    ),
                ))
            }
        }
    }

    fn disconnect_all(&self, py: Python<'_>) -> PyResult<()> {
        let mut held = self.acquire(py)?;
        py.detach(|| held.disconnect_all());
        Ok(())
    }

    /// A new client of the same class and configuration, with connections of its own.
    fn clone<'py>(slf: &Bound<'py, PyClient>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let class = slf.get_type();
        let copy = slf.borrow().acquire(py)?.clone_config();
        let obj = class.call_method1("__new__", (&class,))?;
        let new = obj.cast::<PyClient>()?;
        {
            let me = new.borrow();
            let mut held = me.acquire(py)?;
            *held = copy;
        }
        Self::note_overrides(new)?;
        Ok(obj)
    }

    /// Every key of every server, as bytes (a debugging aid beyond pylibmc's API, over a
    /// short-lived connection per server: not a consistent snapshot). A server that cannot
    /// be listed raises SomeErrors naming it.
    fn dump<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut held = self.acquire(py)?;
        // Moved in as `&mut` (the state is Send, not Sync).
        let state: &mut Inner = &mut held;
        let listed = py.detach(move || {
            state
                .engine
                .dump_keys(&omcache::client::DumpOptions::default())
        });
        if let Some((server, why)) = listed.report.failures().next() {
            return Err(errors::raise_code(
                py,
                Some(19),
                format!(
                    "error 19 from dump: {why:?},  host: {} -> omcache-rs",
                    held.server_name(server)
                ),
            ));
        }
        let out = PyList::empty(py);
        for k in listed.keys {
            out.append(PyBytes::new(py, &k.key))?;
        }
        Ok(out)
    }

    /// The index of the server `key` goes to.
    fn hash(slf: &Bound<'_, PyClient>, key: &Bound<'_, PyAny>) -> PyResult<usize> {
        let k = key_bytes(key)?;
        let me = slf.borrow();
        let held = me.acquire(slf.py())?;
        Ok(held.server_for_key(k).unwrap_or(0))
    }

    /// Behaviors as numbers (omcache.pylibmc.client names `hash` and `distribution`).
    fn get_behaviors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let held = self.acquire(py)?;
        let d = PyDict::new(py);
        for (name, code) in behaviors::ALL {
            match code {
                Some(c) => d.set_item(name, held.model.behavior_get(c) as i64)?,
                None => d.set_item(name, held.pickle_protocol)?,
            }
        }
        Ok(d)
    }

    fn set_behaviors(&self, py: Python<'_>, behaviors: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut held = self.acquire(py)?;
        set_behaviors_on(&mut held, behaviors)
    }

    /// pylibmc's serialization: (bytes, flags).
    fn serialize<'py>(
        &self,
        py: Python<'py>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyBytes>, u32)> {
        let protocol = self.pickle_protocol(py);
        let (payload, flags) = values::serialize(py, value, protocol)?;
        let bytes = match payload {
            Payload::Bytes(b) => b,
            other => PyBytes::new(py, other.as_slice()),
        };
        Ok((bytes, flags))
    }

    fn deserialize<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyBytes>,
        flags: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        values::deserialize(py, data, flags)
    }
}

/// Applies a dict of behaviors (numeric hash / distribution) to held state, in pylibmc's
/// order (that of `all_behaviors`, then the namespace): libmemcached's side effects depend
/// on it (`ketama_weighted` resets `hash`, a distribution rebuilds the continuum).
fn set_behaviors_on(held: &mut Held<'_>, behaviors: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = behaviors.py();
    for name in behaviors.try_iter()? {
        let name: String = name?.extract()?;
        if name != "namespace" && behaviors::lookup(&name).is_none() {
            return Err(PyValueError::new_err(format!(
                "unknown behavior names: {name}"
            )));
        }
    }
    for (name, code) in behaviors::ALL {
        if !behaviors.contains(name)? {
            continue;
        }
        let value = behaviors.get_item(name)?;
        let v: i64 = if value.is_instance_of::<pyo3::types::PyInt>() {
            value.extract()?
        } else {
            return Err(PyTypeError::new_err(format!(
                "behavior {name} must be int, not {}",
                value.get_type().name()?
            )));
        };
        match code {
            None => held.pickle_protocol = v as i32,
            Some(c) => {
                if held.model.behavior_set(c, v as u64).is_err() {
                    return Err(errors::raise_code(
                        py,
                        None,
                        format!("memcached_behavior_set returned 38 for behavior '{name}' = {v}"),
                    ));
                }
            }
        }
    }
    if behaviors.contains("namespace")? {
        let value = behaviors.get_item("namespace")?;
        held.model.namespace = if value.is_none() {
            None
        } else {
            let ns = key_bytes(&value)?;
            (!ns.is_empty()).then(|| ns.to_vec())
        };
    }
    held.apply_settings();
    Ok(())
}

fn add_constants(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let ints: [(&str, i64); 21] = [
        ("server_type_tcp", 1),
        ("server_type_udp", 2),
        ("server_type_unix", 4),
        ("hash_default", 0),
        ("hash_md5", 1),
        ("hash_crc", 2),
        ("hash_fnv1_64", 3),
        ("hash_fnv1a_64", 4),
        ("hash_fnv1_32", 5),
        ("hash_fnv1a_32", 6),
        ("hash_hsieh", 7),
        ("hash_murmur", 8),
        ("hash_jenkins", 9),
        ("distribution_modula", 0),
        ("distribution_consistent", 1),
        ("distribution_consistent_ketama", 2),
        ("distribution_random", 3),
        ("distribution_consistent_ketama_spy", 4),
        ("distribution_consistent_weighted", 5),
        ("distribution_virtual_bucket", 6),
        ("distribution_consistent_max", 7),
    ];
    for (name, v) in ints {
        m.add(name, v)?;
    }
    m.add("callback_namespace", 0)?;
    let names: Vec<&str> = behaviors::ALL.iter().map(|(n, _)| *n).collect();
    m.add("all_behaviors", PyList::new(m.py(), names)?)?;
    m.add("all_callbacks", PyList::new(m.py(), behaviors::CALLBACKS)?)?;
    m.add("__version__", PYLIBMC_VERSION)?;
    // What Debian's pylibmc 1.6.3 reports for its libmemcached, so version checks in
    // programs written for it behave the same.
    m.add("libmemcached_version", "1.0.18")?;
    m.add("libmemcached_version_hex", 0x0100_0018)?;
    m.add("support_compression", true)?;
    // SASL PLAIN over the binary protocol (the engine's Settings::sasl).
    m.add("support_sasl", true)?;
    // TLS (memcached -Z) through Client's tls / tls_* keywords (the engine's Settings::tls).
    m.add("support_tls", true)?;
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let sub = PyModule::new(py, "pylibmc")?;
    sub.add_class::<PyClient>()?;
    let classes = errors::classes(py);
    for (name, t) in errors::Classes::names().zip(&classes.types) {
        sub.add(name, t.bind(py))?;
    }
    sub.add("MemcachedError", classes.error(py))?;
    sub.add("exceptions", classes.listing(py)?)?;
    add_constants(&sub)?;
    m.add_submodule(&sub)?;
    // Make `import omcache._native.pylibmc` work too.
    py.import("sys")?
        .getattr("modules")?
        .set_item("omcache._native.pylibmc", &sub)?;
    Ok(())
}
