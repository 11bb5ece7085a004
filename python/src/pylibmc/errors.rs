//! pylibmc's exceptions: `Error` (also `MemcachedError`), `CacheMiss`, and one class per
//! libmemcached return code with its `retcode`; and the engine's outcomes in libmemcached's
//! return codes, so each failure raises the class pylibmc raises for it.

use omcache::client::{Failure, Status};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyTuple, PyType};

/// The classes pylibmc 1.6 defines, in its order: (name, retcode); None for those without.
const CLASSES: [(&str, Option<i32>); 28] = [
    ("Error", None),
    ("CacheMiss", None),
    ("Failure", Some(1)),
    ("HostLookupError", Some(2)),
    ("ConnectionError", Some(3)),
    ("ConnectionBindError", Some(4)),
    ("WriteError", Some(5)),
    ("ReadError", Some(6)),
    ("UnknownReadFailure", Some(7)),
    ("ProtocolError", Some(8)),
    ("ClientError", Some(9)),
    ("ServerError", Some(10)),
    ("SocketCreateError", Some(11)),
    ("DataExists", Some(12)),
    ("DataDoesNotExist", Some(13)),
    ("NotFound", Some(16)),
    ("AllocationError", Some(17)),
    ("SomeErrors", Some(19)),
    ("NoServers", Some(20)),
    ("UnixSocketError", Some(27)),
    ("NotSupportedError", Some(28)),
    ("FetchNotFinished", Some(30)),
    ("BadKeyProvided", Some(33)),
    ("InvalidHostProtocolError", Some(34)),
    ("ServerDead", Some(35)),
    ("ServerDown", Some(47)),
    ("TooBig", Some(37)),
    ("UnknownStatKey", Some(36)),
];

pub struct Classes {
    /// Same order as `CLASSES`.
    pub types: Vec<Py<PyType>>,
}

static CLASSES_CELL: PyOnceLock<Classes> = PyOnceLock::new();

pub fn classes(py: Python<'_>) -> &Classes {
    CLASSES_CELL.get_or_init(py, || {
        build(py).expect("creating the pylibmc exception classes")
    })
}

fn build(py: Python<'_>) -> PyResult<Classes> {
    let mut types: Vec<Py<PyType>> = Vec::with_capacity(CLASSES.len());
    for (name, retcode) in CLASSES {
        let base = match name {
            "Error" => py.get_type::<PyException>(),
            _ => types[0].bind(py).clone(),
        };
        let qualified = std::ffi::CString::new(format!("omcache.pylibmc.{name}"))
            .expect("class names have no NUL");
        // The class attribute is set afterwards rather than passed as the class dict:
        // pyo3's new_type releases that dict before CPython reads it.
        let t = PyErr::new_type(py, &qualified, None, Some(&base), None)?;
        if let Some(code) = retcode {
            t.bind(py).setattr("retcode", code)?;
        }
        types.push(t);
    }
    Ok(Classes { types })
}

impl Classes {
    pub fn error<'py>(&self, py: Python<'py>) -> &Bound<'py, PyType> {
        self.types[0].bind(py)
    }

    /// The class for a return code: its own, or `Error` for codes without one.
    pub fn for_code<'py>(&self, py: Python<'py>, rc: i32) -> &Bound<'py, PyType> {
        let i = CLASSES
            .iter()
            .position(|(_, c)| *c == Some(rc))
            .unwrap_or(0);
        self.types[i].bind(py)
    }

    /// `exceptions`: a tuple of (name, class) pairs.
    pub fn listing<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let pairs: Vec<Bound<'py, PyTuple>> = CLASSES
            .iter()
            .zip(&self.types)
            .map(|((name, _), t)| {
                PyTuple::new(
                    py,
                    [
                        name.into_pyobject(py)?.into_any(),
                        t.bind(py).clone().into_any(),
                    ],
                )
            })
            .collect::<PyResult<_>>()?;
        PyTuple::new(py, pairs)
    }

    pub fn names() -> impl Iterator<Item = &'static str> {
        CLASSES.iter().map(|(n, _)| *n)
    }
}

/// libmemcached 1.1.4's `memcached_strerror` texts for the codes raised here.
pub fn rc_text(rc: i32) -> &'static str {
    match rc {
        0 => "SUCCESS",
        1 => "FAILURE",
        2 => "getaddrinfo() or getnameinfo() HOSTNAME LOOKUP FAILURE",
        3 => "CONNECTION FAILURE",
        5 => "WRITE FAILURE",
        6 => "READ FAILURE",
        7 => "UNKNOWN READ FAILURE",
        8 => "PROTOCOL ERROR",
        9 => "CLIENT ERROR",
        10 => "SERVER ERROR",
        11 => "ERROR was returned by server",
        12 => "CONNECTION DATA EXISTS",
        14 => "NOT STORED",
        16 => "NOT FOUND",
        17 => "MEMORY ALLOCATION FAILURE",
        19 => "SOME ERRORS WERE REPORTED",
        20 => "NO SERVERS DEFINED",
        28 => "ACTION NOT SUPPORTED",
        31 => "A TIMEOUT OCCURRED",
        33 => "A BAD KEY WAS PROVIDED/CHARACTERS OUT OF RANGE",
        35 => "SERVER IS MARKED DEAD",
        37 => "ITEM TOO BIG",
        38 => "INVALID ARGUMENTS",
        41 => "AUTHENTICATION FAILURE",
        47 => "SERVER HAS FAILED AND IS DISABLED UNTIL TIMED RETRY",
        48 => "SERVER FAILED TO ALLOCATE OBJECT",
        _ => "INVALID memcached_return_t",
    }
}

/// An engine outcome as the libmemcached return code Debian's library gives for it
/// (`binary`: the protocol in use, where the two differ).
pub fn rc_of(status: Status, binary: bool) -> i32 {
    match status {
        Status::Ok => 0,
        Status::NotFound => 16,
        Status::KeyExists => 12,
        Status::NotStored => 14,
        Status::TooLargeValue => 37,
        // libmemcached 1.1.4 gives UNKNOWN_READ_FAILURE for the binary DELTA_BADVAL status.
        Status::DeltaBadValue if binary => 7,
        Status::DeltaBadValue | Status::InvalidArguments => 9,
        Status::ServerError(0x81) => 11,
        Status::ServerError(0x82) => 48,
        Status::ServerError(0x83) => 28,
        Status::ServerError(_) => 10,
        Status::Buffered => 32,
        Status::Again => 31,
        Status::Failed(f) => match f {
            Failure::InvalidRequest => 33,
            Failure::NoServers => 20,
            Failure::SendBufferFull => 5,
            Failure::ValueTooLarge => 37,
            Failure::ConnectRefused | Failure::ConnectTimeout | Failure::ConnectionReset => 3,
            Failure::NameNotResolved => 2,
            Failure::ProtocolError => 8,
            Failure::Timeout => 31,
            Failure::ServerDead => 35,
            Failure::ServerTemporarilyDisabled => 47,
            // As the libmemcached face maps them: the server refused the login (AUTH_FAILURE),
            // has no SASL (UNKNOWN_READ_FAILURE), credentials without binary (INVALID_ARGUMENTS).
            Failure::AuthFailed => 41,
            Failure::AuthUnsupported => 7,
            Failure::SaslConfig => 38,
            // As the libmemcached face maps TLS failures (the Python faces do not configure
            // TLS yet, so only a client configured through the engine can meet them).
            Failure::Tls(omcache::client::TlsFailure::Config) => 38,
            Failure::Tls(omcache::client::TlsFailure::HandshakeTimeout) => 31,
            Failure::Tls(_) => 3,
        },
    }
}

/// The exception for a failed call, worded as pylibmc words it:
/// `error 3 from memcached_get(key): CONNECTION FAILURE,  host: 127.0.0.1:1 -> omcache-rs`.
pub fn raise(
    py: Python<'_>,
    status: Status,
    binary: bool,
    what: &str,
    key: Option<&[u8]>,
    host: Option<String>,
    server_words: &[u8],
) -> PyErr {
    let rc = rc_of(status, binary);
    if rc == 37 {
        // pylibmc raises TooBig (MEMCACHED_E2BIG) without a message: its args are ().
        return PyErr::from_type(classes(py).for_code(py, rc).clone(), ());
    }
    let mut msg = format!("error {rc} from {what}");
    if let Some(k) = key {
        msg.push('(');
        msg.push_str(&String::from_utf8_lossy(k));
        msg.push(')');
    }
    msg.push_str(": ");
    if server_words.is_empty() {
        msg.push_str(rc_text(rc));
    } else {
        msg.push_str(&String::from_utf8_lossy(server_words));
    }
    if let Some(f) = status.failure() {
        if f.is_server_failure() {
            msg.push_str(&format!("({})", f.message()));
        }
    }
    if let Some(h) = host {
        msg.push_str(",  host: ");
        msg.push_str(&h);
        msg.push_str(" -> omcache-rs");
    }
    let cls = classes(py).for_code(py, rc);
    PyErr::from_type(cls.clone(), msg)
}

/// An exception of class `rc` (or `Error`) with a plain message.
pub fn raise_code(py: Python<'_>, rc: Option<i32>, msg: String) -> PyErr {
    let c = classes(py);
    let cls = match rc {
        Some(rc) => c.for_code(py, rc),
        None => c.error(py),
    };
    PyErr::from_type(cls.clone(), msg)
}
