//! Values and their flags as pylibmc 1.6 (and python-memcached) store them: bytes 0, str 16
//! (UTF-8), bool 2 (`1`/`0`, read back as int), int 4 (decimal), anything else 1 (pickle), with
//! `| 8` when zlib made it smaller. The common types are done here; pickle and zlib go through
//! their Python modules only when needed.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyInt, PyString, PyTuple};

pub const FLAG_PICKLE: u32 = 1;
pub const FLAG_INTEGER: u32 = 2;
pub const FLAG_LONG: u32 = 4;
pub const FLAG_ZLIB: u32 = 8;
pub const FLAG_TEXT: u32 = 16;
/// The bits that say the type (pylibmc ignores the others, except ZLIB).
const FLAG_TYPES: u32 = FLAG_PICKLE | FLAG_INTEGER | FLAG_LONG | FLAG_TEXT;

/// Bytes to store: a Python bytes object (not copied) or a short number written here.
pub enum Payload<'py> {
    Bytes(Bound<'py, PyBytes>),
    Number { buf: [u8; 24], len: usize },
}

impl Payload<'_> {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Bytes(b) => b.as_bytes(),
            Payload::Number { buf, len } => &buf[..*len],
        }
    }
}

fn number(v: i64) -> Payload<'static> {
    let mut buf = [0u8; 24];
    let mut tmp = [0u8; 24];
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut len = 0;
    if neg {
        buf[0] = b'-';
        len = 1;
    }
    let digits = &tmp[i..];
    buf[len..len + digits.len()].copy_from_slice(digits);
    len += digits.len();
    Payload::Number { buf, len }
}

static PICKLE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
static ZLIB: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn module<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyModule>>,
    name: &str,
) -> PyResult<Bound<'py, PyModule>> {
    if let Some(m) = cell.get(py) {
        return Ok(m.bind(py).clone());
    }
    let m = PyModule::import(py, name)?;
    let _ = cell.set(py, m.clone().unbind());
    Ok(m)
}

/// pylibmc's native serialization of a value (no compression).
pub fn serialize<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
    pickle_protocol: i32,
) -> PyResult<(Payload<'py>, u32)> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok((Payload::Bytes(b.clone()), 0));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok((Payload::Bytes(s.encode_utf8()?), FLAG_TEXT));
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok((number(i64::from(b.is_true())), FLAG_INTEGER));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(v) = value.extract::<i64>() {
            return Ok((number(v), FLAG_LONG));
        }
        let text = value.str()?.encode_utf8()?;
        return Ok((Payload::Bytes(text), FLAG_LONG));
    }
    let pickled = module(py, &PICKLE, "pickle")?
        .call_method1("dumps", (value, pickle_protocol))?
        .cast_into::<PyBytes>()?;
    Ok((Payload::Bytes(pickled), FLAG_PICKLE))
}

/// zlib when `min_compress_len` asks for it and the result is smaller (pylibmc's rule).
pub fn maybe_compress<'py>(
    py: Python<'py>,
    payload: Payload<'py>,
    flags: u32,
    min_compress_len: i64,
    compress_level: i32,
) -> PyResult<(Payload<'py>, u32)> {
    let len = payload.as_slice().len();
    // pylibmc compresses a value at least `min_compress_len` long; 0 never. A negative one
    // (which pylibmc takes) is below every length.
    let below = usize::try_from(min_compress_len).is_ok_and(|min| len < min);
    if min_compress_len == 0 || below {
        return Ok((payload, flags));
    }
    let data = PyBytes::new(py, payload.as_slice());
    let packed = module(py, &ZLIB, "zlib")?
        .call_method1("compress", (data, compress_level))?
        .cast_into::<PyBytes>()?;
    if packed.as_bytes().len() < len {
        Ok((Payload::Bytes(packed), flags | FLAG_ZLIB))
    } else {
        Ok((payload, flags))
    }
}

/// A decoded value, or bytes still to be finished with Python's help (pickle, zlib, or a
/// subclass's deserialize) once the client is released.
pub enum Decoded<'py> {
    Done(Bound<'py, PyAny>),
    Later(Bound<'py, PyBytes>, u32),
}

fn parse_int<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    if let Some(v) = std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    {
        return Ok(v.into_pyobject(py)?.into_any());
    }
    // Big numbers, or what int() accepts beside plain digits.
    py.get_type::<PyInt>().call1((PyBytes::new(py, data),))
}

/// The common types straight from the received bytes; the rest is left for `finish`.
pub fn decode<'py>(
    py: Python<'py>,
    data: &[u8],
    flags: u32,
    native: bool,
) -> PyResult<Decoded<'py>> {
    if !native || flags & FLAG_ZLIB != 0 || flags & FLAG_TYPES == FLAG_PICKLE {
        return Ok(Decoded::Later(PyBytes::new(py, data), flags));
    }
    decode_plain(py, data, flags).map(Decoded::Done)
}

fn decode_plain<'py>(py: Python<'py>, data: &[u8], flags: u32) -> PyResult<Bound<'py, PyAny>> {
    match flags & FLAG_TYPES {
        0 => Ok(PyBytes::new(py, data).into_any()),
        FLAG_TEXT => Ok(PyString::from_bytes(py, data)?.into_any()),
        FLAG_INTEGER | FLAG_LONG => parse_int(py, data),
        FLAG_PICKLE => {
            module(py, &PICKLE, "pickle")?.call_method1("loads", (PyBytes::new(py, data),))
        }
        other => Err(super::errors::raise_code(
            py,
            None,
            format!("unknown memcached key flags {other}"),
        )),
    }
}

/// A received value as pylibmc hands it to deserialization: inflated first when flagged
/// compressed (8), whether the client's own or a subclass's `deserialize` follows; a value
/// that does not inflate is pylibmc's `Error` ("Failed to decompress value").
pub fn inflated<'py>(
    py: Python<'py>,
    data: Bound<'py, PyBytes>,
    flags: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    if flags & FLAG_ZLIB == 0 {
        return Ok(data);
    }
    module(py, &ZLIB, "zlib")?
        .call_method1("decompress", (data,))
        .and_then(|plain| Ok(plain.cast_into::<PyBytes>()?))
        .map_err(|_| super::errors::raise_code(py, None, "Failed to decompress value".into()))
}

/// pylibmc's native deserialization of inflated bytes, by type (the compression bit is
/// ignored: `deserialize(b"abc", 8)` is `b"abc"`, as pylibmc's).
pub fn deserialize<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyBytes>,
    flags: u32,
) -> PyResult<Bound<'py, PyAny>> {
    decode_plain(py, data.as_bytes(), flags)
}

/// A subclass's `serialize` result, checked: `(bytes, flags)`.
pub fn user_serialized<'py>(result: Bound<'py, PyAny>) -> PyResult<(Payload<'py>, u32)> {
    let bad = || PyValueError::new_err("serialize() must return (bytes, flags)");
    let t = result.cast_into::<PyTuple>().map_err(|_| bad())?;
    if t.len() != 2 {
        return Err(bad());
    }
    let data = t.get_item(0)?.cast_into::<PyBytes>().map_err(|_| bad())?;
    let flags: u32 = t.get_item(1)?.extract().map_err(|_| bad())?;
    Ok((Payload::Bytes(data), flags))
}
