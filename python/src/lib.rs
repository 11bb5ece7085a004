//! The native module of the `omcache` Python package: `omcache._native`.
//!
//! Two faces on the Rust engine, each in its own module: `pylibmc` (the
//! classes behind `omcache.pylibmc`, pylibmc 1.6's API) and `omcache_api`
//! (the classes behind `omcache.OMcache`, OMcache 0.3's Python API).

use pyo3::prelude::*;

mod omcache_api;
mod pylibmc;
mod tls;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    pylibmc::register(m)?;
    omcache_api::register(m)?;
    Ok(())
}
