//! The one-shot helpers: each makes a handle for one server, asks, and frees it. Where
//! libmemcached answers SOME_ERRORS, the server's own error code is reported, as
//! libmemcachedutil 1.1.4 does; where the server has no error message, SOME_ERRORS is kept
//! (libmemcachedutil asserts and aborts the process there).

use std::ffi::CStr;

use crate::ffi::{self, Memc, Rc};

/// SASL credentials of the `*2` variants (a NULL user name means none).
pub type Auth<'a> = Option<(&'a CStr, Option<&'a CStr>)>;

/// SOME_ERRORS replaced by the first server's own code when it has one.
fn specific(memc: &Memc, rc: Rc) -> Rc {
    if rc == ffi::SOME_ERRORS {
        memc.first_server_error().unwrap_or(rc)
    } else {
        rc
    }
}

/// A handle for one server with the given credentials; Err is the code to report.
fn handle(auth: Auth<'_>) -> Result<Memc, Rc> {
    let memc = Memc::create().ok_or(ffi::MEMORY_ALLOCATION_FAILURE)?;
    if let Some((user, password)) = auth {
        let rc = memc.set_sasl_auth_data(user, password);
        if !ffi::success(rc) {
            memc.free();
            return Err(rc);
        }
    }
    Ok(memc)
}

/// `libmemcached_util_ping(2)`: `memcached_version` against the server.
pub fn ping(hostname: Option<&CStr>, port: u16, auth: Auth<'_>) -> Rc {
    let memc = match handle(auth) {
        Ok(m) => m,
        Err(rc) => return rc,
    };
    // libmemcachedutil's plain ping sets this (400,000 ms: in practice, no connect timeout
    // of its own); the SASL one keeps the default.
    let mut rc = if auth.is_none() {
        memc.behavior_set(ffi::BEHAVIOR_CONNECT_TIMEOUT, 400_000)
    } else {
        ffi::SUCCESS
    };
    if ffi::success(rc) {
        rc = memc.server_add(hostname, port);
        if ffi::success(rc) {
            rc = memc.version();
        }
        rc = specific(&memc, rc);
    }
    memc.free();
    rc
}

/// `libmemcached_util_getpid(2)`: the server's pid from its stats, -1 on failure
/// (UNKNOWN_STAT_KEY when the stats have none).
pub fn getpid(hostname: Option<&CStr>, port: u16, auth: Auth<'_>) -> (i32, Rc) {
    let memc = match handle(auth) {
        Ok(m) => m,
        Err(rc) => return (-1, rc),
    };
    let mut pid = -1;
    let mut rc = memc.server_add(hostname, port);
    if ffi::success(rc) {
        let (stat_rc, stat_pid) = memc.stat_pid();
        rc = stat_rc;
        match stat_pid {
            Some(p) if ffi::success(rc) && p != -1 => pid = p,
            _ if ffi::success(rc) => rc = ffi::UNKNOWN_STAT_KEY,
            _ => rc = specific(&memc, rc),
        }
    }
    memc.free();
    (pid, rc)
}

/// `libmemcached_util_flush`: `memcached_flush(0)` on the server.
pub fn flush(hostname: Option<&CStr>, port: u16) -> Rc {
    let Some(memc) = Memc::create() else {
        return ffi::MEMORY_ALLOCATION_FAILURE;
    };
    let mut rc = memc.server_add(hostname, port);
    if ffi::success(rc) {
        rc = memc.flush();
    }
    memc.free();
    rc
}

/// `libmemcached_util_version_check`: every server of `memc` at least major.minor.micro
/// (a server whose version is unknown, major 255, fails the check).
pub fn version_check(memc: &Memc, wanted: [u8; 3]) -> bool {
    if !ffi::success(memc.version()) {
        return false;
    }
    let as_number = |v: [u8; 3]| u32::from(v[0]) << 16 | u32::from(v[1]) << 8 | u32::from(v[2]);
    memc.server_versions()
        .into_iter()
        .all(|v| v[0] != u8::MAX && as_number(v) >= as_number(wanted))
}
