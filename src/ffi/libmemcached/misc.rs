//! Small libmemcached 1.1.4 calls: the behaviour getters for distribution and hashes, the
//! enum-name functions and `memcached_analyze_free` (behaviour measured against Debian's
//! libmemcached.so.11).

use std::ffi::{c_char, c_int, CStr};
use std::io::Write;

use super::config::behavior;
use super::instance::{is_fatal, memcached_instance_st, with_instance};
use super::memc::{self, Lmc};
use super::memcached_behavior_get;
use super::rc::{self, memcached_return_t};
use super::stats::memcached_analysis_st;
use super::types::{memcached_server_st, memcached_st};
use crate::ffi::common::guard;

/// MEMCACHED_DISTRIBUTION_CONSISTENT_MAX: what 1.1.4 returns for a NULL handle.
const DISTRIBUTION_MAX: c_int = 7;
/// MEMCACHED_HASH_MAX: what 1.1.4 returns for a NULL handle.
const HASH_MAX: c_int = 12;

/// `memcached_behavior_t`'s names, by value.
const BEHAVIORS: [&CStr; 38] = [
    c"MEMCACHED_BEHAVIOR_NO_BLOCK",
    c"MEMCACHED_BEHAVIOR_TCP_NODELAY",
    c"MEMCACHED_BEHAVIOR_HASH",
    c"MEMCACHED_BEHAVIOR_KETAMA",
    c"MEMCACHED_BEHAVIOR_SOCKET_SEND_SIZE",
    c"MEMCACHED_BEHAVIOR_SOCKET_RECV_SIZE",
    c"MEMCACHED_BEHAVIOR_CACHE_LOOKUPS",
    c"MEMCACHED_BEHAVIOR_SUPPORT_CAS",
    c"MEMCACHED_BEHAVIOR_POLL_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_DISTRIBUTION",
    c"MEMCACHED_BEHAVIOR_BUFFER_REQUESTS",
    c"MEMCACHED_BEHAVIOR_USER_DATA",
    c"MEMCACHED_BEHAVIOR_SORT_HOSTS",
    c"MEMCACHED_BEHAVIOR_VERIFY_KEY",
    c"MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_RETRY_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED",
    c"MEMCACHED_BEHAVIOR_KETAMA_HASH",
    c"MEMCACHED_BEHAVIOR_BINARY_PROTOCOL",
    c"MEMCACHED_BEHAVIOR_SND_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_RCV_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT",
    c"MEMCACHED_BEHAVIOR_IO_MSG_WATERMARK",
    c"MEMCACHED_BEHAVIOR_IO_BYTES_WATERMARK",
    c"MEMCACHED_BEHAVIOR_IO_KEY_PREFETCH",
    c"MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY",
    c"MEMCACHED_BEHAVIOR_NOREPLY",
    c"MEMCACHED_BEHAVIOR_USE_UDP",
    c"MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS",
    c"MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS",
    c"MEMCACHED_BEHAVIOR_RANDOMIZE_REPLICA_READ",
    c"MEMCACHED_BEHAVIOR_CORK",
    c"MEMCACHED_BEHAVIOR_TCP_KEEPALIVE",
    c"MEMCACHED_BEHAVIOR_TCP_KEEPIDLE",
    c"MEMCACHED_BEHAVIOR_LOAD_FROM_FILE",
    c"MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS",
    c"MEMCACHED_BEHAVIOR_DEAD_TIMEOUT",
    c"MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT",
];

/// `memcached_server_distribution_t`'s names, by value.
const DISTRIBUTIONS: [&CStr; 7] = [
    c"MEMCACHED_DISTRIBUTION_MODULA",
    c"MEMCACHED_DISTRIBUTION_CONSISTENT",
    c"MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA",
    c"MEMCACHED_DISTRIBUTION_RANDOM",
    c"MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY",
    c"MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED",
    c"MEMCACHED_DISTRIBUTION_VIRTUAL_BUCKET",
];

/// The name of a behaviour ("INVALID memcached_behavior_t" past the last, as 1.1.4).
#[no_mangle]
pub extern "C" fn libmemcached_string_behavior(flag: c_int) -> *const c_char {
    usize::try_from(flag)
        .ok()
        .and_then(|i| BEHAVIORS.get(i))
        .map_or(c"INVALID memcached_behavior_t".as_ptr(), |s| s.as_ptr())
}

/// The name of a distribution ("INVALID memcached_server_distribution_t" past the last).
#[no_mangle]
pub extern "C" fn libmemcached_string_distribution(flag: c_int) -> *const c_char {
    usize::try_from(flag)
        .ok()
        .and_then(|i| DISTRIBUTIONS.get(i))
        .map_or(c"INVALID memcached_server_distribution_t".as_ptr(), |s| {
            s.as_ptr()
        })
}

/// As `memcached_behavior_get(DISTRIBUTION)`; CONSISTENT_MAX for a NULL handle (measured).
#[no_mangle]
pub extern "C" fn memcached_behavior_get_distribution(memc: *mut memcached_st) -> c_int {
    if memc.is_null() {
        return DISTRIBUTION_MAX;
    }
    memcached_behavior_get(memc, behavior::DISTRIBUTION as c_int) as c_int
}

/// The key hash (HASH_MAX for a NULL handle).
#[no_mangle]
pub extern "C" fn memcached_behavior_get_key_hash(memc: *mut memcached_st) -> c_int {
    if memc.is_null() {
        return HASH_MAX;
    }
    memcached_behavior_get(memc, behavior::HASH as c_int) as c_int
}

/// As 1.1.4 measures: the *key* hash, not the continuum's (`memcached_behavior_get(
/// KETAMA_HASH)` gives that one); HASH_MAX for a NULL handle.
#[no_mangle]
pub extern "C" fn memcached_behavior_get_distribution_hash(memc: *mut memcached_st) -> c_int {
    memcached_behavior_get_key_hash(memc)
}

/// Frees `memcached_analyze`'s result (calloc'd there); NULL is fine.
#[no_mangle]
pub extern "C" fn memcached_analyze_free(ptr: *mut memcached_analysis_st) {
    guard((), || {
        // SAFETY: NULL or the calloc'd result of memcached_analyze (the C API's contract).
        unsafe { libc::free(ptr.cast()) }
    })
}

/// `memcached_server_add_udp*`: DEPRECATED in 1.1.4 whatever USE_UDP says (measured), the
/// list unchanged; INVALID_ARGUMENTS for a NULL handle.
#[no_mangle]
pub extern "C" fn memcached_server_add_udp_with_weight(
    memc: *mut memcached_st,
    _hostname: *const c_char,
    _port: libc::in_port_t,
    _weight: u32,
) -> memcached_return_t {
    memc::with_memc(memc, rc::INVALID_ARGUMENTS, |lmc| {
        let code = lmc.record(rc::DEPRECATED, memc, None);
        // 1.1.4's message names the handle and where it was set: "(0x…) DEPRECATED -> …".
        lmc.last_message = format!("({memc:p}) DEPRECATED -> omcache-rs\0").into_bytes();
        code
    })
}

#[no_mangle]
pub extern "C" fn memcached_server_add_udp(
    memc: *mut memcached_st,
    hostname: *const c_char,
    port: libc::in_port_t,
) -> memcached_return_t {
    memcached_server_add_udp_with_weight(memc, hostname, port, 0)
}

/// Forgets the last disconnected server (`memcached_server_get_last_disconnect` gives NULL).
#[no_mangle]
pub extern "C" fn memcached_reset_last_disconnected_server(memc: *mut memcached_st) {
    memc::with_memc(memc, (), |lmc| {
        lmc.instances.last_disconnected = None;
    })
}

/// The handle as `memcached_create` leaves it: no servers, default behaviours, no error
/// (measured); the query id carries on, as in 1.1.4. Instances handed out to a running cursor stay alive until it returns.
#[no_mangle]
pub extern "C" fn memcached_reset(memc: *mut memcached_st) {
    memc::with_memc(memc, (), |lmc| {
        lmc.settle();
        let mut instances = std::mem::take(&mut lmc.instances);
        let query_id = lmc.query_id;
        *lmc = Lmc::new();
        lmc.query_id = query_id;
        instances.reset();
        std::mem::swap(&mut lmc.instances, &mut instances);
        lmc.apply_settings();
        lmc.apply_servers();
        lmc.instances(memc);
    })
}

/// Appends `source`'s servers to `destination`'s; the behaviours stay `destination`'s
/// (measured). INVALID_ARGUMENTS for a NULL handle (the real library crashes).
#[no_mangle]
pub extern "C" fn memcached_push(
    destination: *mut memcached_st,
    source: *const memcached_st,
) -> memcached_return_t {
    let servers = memc::with_memc(source.cast_mut(), None, |lmc| {
        Some(Box::into_raw(Box::new(lmc.model.servers.clone())))
    });
    let Some(servers) = servers else {
        return rc::INVALID_ARGUMENTS;
    };
    // SAFETY: the Box leaked just above, taken back once.
    let servers = unsafe { Box::from_raw(servers) };
    memc::with_memc(destination, rc::INVALID_ARGUMENTS, |lmc| {
        for s in servers.iter() {
            if s.weight > 1 {
                lmc.model.weighted = true;
            }
            lmc.model.servers.push(s.clone());
        }
        lmc.model.run_distribution();
        lmc.apply_settings();
        lmc.apply_servers();
        rc::SUCCESS
    })
}

/// `memcached_last_error_message`'s text; "INVALID ARGUMENTS" for a NULL handle.
#[no_mangle]
pub extern "C" fn memcached_error(memc: *const memcached_st) -> *const c_char {
    memc::with_memc(
        memc.cast_mut(),
        rc::message(rc::INVALID_ARGUMENTS).as_ptr().cast(),
        |lmc| lmc.last_message.as_ptr().cast(),
    )
}

/// Prints the handle's error, then each server's, to stderr as 1.1.4 does
/// (`"\t<strerror> <message>"`); nothing without errors or for a NULL handle.
#[no_mangle]
pub extern "C" fn memcached_error_print(memc: *const memcached_st) {
    let mut out = Vec::new();
    memc::with_memc(memc.cast_mut(), (), |lmc| {
        let mut line = |code: c_int, text: &[u8]| {
            let text = text.strip_suffix(b"\0").unwrap_or(text);
            out.push(format!(
                "\t{} {}\n",
                rc::text(code),
                String::from_utf8_lossy(text)
            ));
        };
        if is_fatal(lmc.last_rc) {
            line(lmc.last_rc, &lmc.last_message);
        }
        let n = lmc.model.servers.len();
        for i in 0..n {
            let p = lmc.instance_ptr(memc, i);
            // SAFETY: an instance of the handle's array, just synced (not NULL for i < n).
            if let Some(inst) = unsafe { p.as_ref() } {
                let (code, text) = inst.error();
                if code != rc::SUCCESS {
                    line(code, text);
                }
            }
        }
    });
    let _ = std::io::stderr().write_all(out.concat().as_bytes());
}

/// Re-runs the distribution (1.1.4 crashes here; measured); the face keeps its key routing
/// up to date by itself, so nothing is left to do.
#[no_mangle]
pub extern "C" fn memcached_autoeject(memc: *mut memcached_st) {
    memc::with_memc(memc, (), |_| ())
}

/// The requests the instance waits answers for: none outside a call (the face reads every
/// answer before it returns); 0 for NULL.
#[no_mangle]
pub extern "C" fn memcached_server_response_count(instance: *const memcached_instance_st) -> u32 {
    with_instance(instance, 0, |i| i.cursor_active)
}

/// Frees a server list entry's error messages: the face keeps none there, so a no-op (as 1.1.4
/// is on an instance: it reads the field at the list entry's offset; measured, the instance's
/// error stays).
#[no_mangle]
pub extern "C" fn memcached_server_error_reset(_server: *mut memcached_server_st) {}

/// Sets a UDP instance's retry time in 1.1.4; UDP servers cannot be added (DEPRECATED), so a
/// no-op (measured: a disabled server stays disabled after `next_retry(instance, 0)`).
#[no_mangle]
pub extern "C" fn memcached_instance_next_retry(
    _instance: *const memcached_instance_st,
    _absolute_time: libc::time_t,
) {
}

/// The handle's operation counter: 1 on a new handle, one more per operation (set, get,
/// delete, incr, mget, flush, version, ...; not fetch); 0 for NULL (measured).
#[no_mangle]
pub extern "C" fn memcached_query_id(memc: *const memcached_st) -> u64 {
    memc::with_memc(memc.cast_mut(), 0, |lmc| lmc.query_id)
}

/// The local port of the instance's TCP connection; 0 for NULL, a unix socket, an instance
/// without a connection (not connected yet, or closed) or one no longer in its handle's list.
#[no_mangle]
pub extern "C" fn memcached_server_srcport(instance: *const memcached_instance_st) -> u16 {
    let root = with_instance(instance, None, |i| (i.kind <= 1).then_some(i.root));
    let Some(root) = root.filter(|r| !r.is_null()) else {
        return 0;
    };
    memc::with_memc(root.cast_mut(), 0, |lmc| {
        let Some(fd) = lmc
            .instances(root)
            .position(instance)
            .and_then(|i| lmc.client.server_fd(i))
        else {
            return 0;
        };
        // SAFETY: all-zero bytes are a valid sockaddr_storage.
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `fd` is the connection's open socket; `addr` and `len` are valid for writing
        // and `len` is the size of `addr`.
        let r = unsafe { libc::getsockname(fd, std::ptr::addr_of_mut!(addr).cast(), &mut len) };
        if r != 0 {
            return 0;
        }
        match c_int::from(addr.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let sin = unsafe { &*std::ptr::addr_of!(addr).cast::<libc::sockaddr_in>() };
                u16::from_be(sin.sin_port)
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let sin6 = unsafe { &*std::ptr::addr_of!(addr).cast::<libc::sockaddr_in6>() };
                u16::from_be(sin6.sin6_port)
            }
            _ => 0,
        }
    })
}
