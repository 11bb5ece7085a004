//! `memcached(cfg, len)`, the configuration-string constructor, and
//! `libmemcached_check_configuration()` (memcparse): the language is `config.rs`'s.

use std::ffi::{c_char, c_int, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;

use super::config::{check_configuration, ConfigError, Model};
use super::memc;
use super::rc::{self, memcached_return_t};
use super::types::memcached_st;
use crate::ffi::common::{c_bytes, guard};

/// Reads a `--CONFIGURE-FILE` / `INCLUDE` file; the error is strerror's text.
fn read_file(path: &[u8]) -> Result<Vec<u8>, String> {
    std::fs::read(OsStr::from_bytes(path)).map_err(|e| {
        let errno = e.raw_os_error().unwrap_or(libc::EIO);
        // SAFETY: strerror returns a NUL-terminated static string.
        unsafe { CStr::from_ptr(libc::strerror(errno)) }
            .to_string_lossy()
            .into_owned()
    })
}

fn check(cfg: &[u8]) -> Result<Model, ConfigError> {
    check_configuration(cfg, &mut read_file)
}

/// A handle configured by a configuration string; NULL for an invalid one or an empty
/// length. A NULL string reads the environment's LIBMEMCACHED (none: a handle without
/// servers).
#[no_mangle]
pub extern "C" fn memcached(string: *const c_char, length: usize) -> *mut memcached_st {
    guard(std::ptr::null_mut(), || {
        let cfg: Vec<u8> = if string.is_null() {
            match std::env::var_os("LIBMEMCACHED") {
                Some(v) => v.as_bytes().to_vec(),
                None => return memc::create(std::ptr::null_mut()),
            }
        } else if length == 0 {
            return std::ptr::null_mut();
        } else {
            // SAFETY: the C API's contract: string valid for length bytes.
            unsafe { c_bytes(string.cast(), length) }.to_vec()
        };
        let Ok(mut model) = check(&cfg) else {
            return std::ptr::null_mut();
        };
        // A string without TLS options takes the environment's (as memcached_create does).
        if !model.tls.enabled {
            model.tls = super::tls::TlsOptions::from_env();
        }
        let m = memc::create(std::ptr::null_mut());
        if m.is_null() {
            return m;
        }
        let (pool_min, pool_max) = (model.pool_min, model.pool_max);
        if model.randomize_replica_read {
            // 1.1.4's parser sets the behavior through memcached_behavior_set, which seeds
            // libc random() with the time (as ours does there).
            super::replicas::seed_random();
        }
        memc::with_memc(m, (), |lmc| {
            lmc.model = model;
            lmc.apply_settings();
            lmc.apply_servers();
        });
        // SAFETY: `m` was just created; these are the plain fields libmemcachedutil reads.
        unsafe {
            (*m).configure_initial_pool_size = pool_min;
            (*m).configure_max_pool_size = pool_max;
        }
        m
    })
}

/// Checks a configuration string; on an error its text (as `memcached_last_error_message`
/// would show it) goes into the caller's buffer, cut to fit and NUL-terminated.
#[no_mangle]
pub extern "C" fn libmemcached_check_configuration(
    option_string: *const c_char,
    length: usize,
    error_buffer: *mut c_char,
    error_buffer_size: usize,
) -> memcached_return_t {
    guard(rc::INVALID_ARGUMENTS, || {
        if option_string.is_null() {
            return rc::INVALID_ARGUMENTS;
        }
        // SAFETY: the C API's contract: option_string valid for length bytes.
        let cfg = unsafe { c_bytes(option_string.cast(), length) };
        match check(cfg) {
            Ok(_) => rc::SUCCESS,
            Err(e) => {
                let probe = 0u8;
                let text = e.message(&format!("{:p}", &probe));
                if !text.is_empty() && !error_buffer.is_null() && error_buffer_size > 0 {
                    let n = text.len().min(error_buffer_size - 1);
                    // SAFETY: the caller's buffer holds error_buffer_size bytes; n + 1 fit.
                    unsafe {
                        std::ptr::copy_nonoverlapping(text.as_ptr().cast(), error_buffer, n);
                        *error_buffer.add(n) = 0;
                    }
                }
                e.rc as c_int
            }
        }
    })
}
