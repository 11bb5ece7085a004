//! Statistics: `memcached_stat` (a libc-allocated array of 224-byte `memcached_stat_st`, one
//! per server, which pylibmc indexes with a compiled-in stride and frees with free()),
//! `memcached_stat_servername`, `memcached_stat_get_value` / `_get_keys` (malloc'd, freed by
//! callers with free()), `memcached_stat_free`, `memcached_stat_execute` (a callback per stat
//! row) and `memcached_analyze`, with libmemcached 1.1.4's parsing and return codes.

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};

use super::config::ModelServer;
use super::instance::{is_fatal, memcached_instance_st, ServerAnswer, SOME_ERRORS};
use super::memc::{self, Lmc};
use super::rc::{self, memcached_return_t};
use super::server_list;
use super::types::memcached_st;
use crate::client::Status;
use crate::ffi::common::{c_str, guard};
use crate::protocol::opcode;

/// `memcached_stat_st` (224 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct memcached_stat_st {
    pub connection_structures: c_ulong,
    pub curr_connections: c_ulong,
    pub curr_items: c_ulong,
    pub pid: i32,
    _pad0: u32,
    pub pointer_size: c_ulong,
    pub rusage_system_microseconds: c_ulong,
    pub rusage_system_seconds: c_ulong,
    pub rusage_user_microseconds: c_ulong,
    pub rusage_user_seconds: c_ulong,
    pub threads: c_ulong,
    pub time: c_ulong,
    pub total_connections: c_ulong,
    pub total_items: c_ulong,
    pub uptime: c_ulong,
    pub bytes: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub cmd_get: u64,
    pub cmd_set: u64,
    pub evictions: u64,
    pub get_hits: u64,
    pub get_misses: u64,
    pub limit_maxbytes: u64,
    pub version: [u8; 24],
    _future: *mut c_void,
    pub root: *mut memcached_st,
}

/// `memcached_analysis_st` (56 bytes).
#[repr(C)]
pub struct memcached_analysis_st {
    pub root: *mut memcached_st,
    pub average_item_size: u32,
    pub longest_uptime: u32,
    pub least_free_server: u32,
    pub most_consumed_server: u32,
    pub oldest_server: u32,
    _pad: u32,
    pub pool_hit_ratio: f64,
    pub most_used_bytes: u64,
    pub least_remaining_bytes: u64,
}

/// `memcached_stat_fn`.
pub type memcached_stat_fn = Option<
    unsafe extern "C" fn(
        *const memcached_instance_st,
        *const c_char,
        usize,
        *const c_char,
        usize,
        *mut c_void,
    ) -> memcached_return_t,
>;

/// The keys `memcached_stat_get_keys` lists (and `memcached_stat_get_value` knows), in
/// libmemcached 1.1.4's order.
const STAT_KEYS: [&CStr; 22] = [
    c"pid",
    c"uptime",
    c"time",
    c"version",
    c"pointer_size",
    c"rusage_user",
    c"rusage_system",
    c"curr_items",
    c"total_items",
    c"bytes",
    c"curr_connections",
    c"total_connections",
    c"connection_structures",
    c"cmd_get",
    c"cmd_set",
    c"get_hits",
    c"get_misses",
    c"evictions",
    c"bytes_read",
    c"bytes_written",
    c"limit_maxbytes",
    c"threads",
];

/// C's strtoul/strtoull over a stat value: leading blanks, an optional sign, the digits
/// (saturating at the maximum, as strtoull does on overflow).
fn strtoul(v: &[u8]) -> u64 {
    let v = match v.iter().position(|&b| !server_list::c_isspace(b)) {
        Some(i) => &v[i..],
        None => return 0,
    };
    let (neg, v) = match v.first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let mut n: u64 = 0;
    for &b in v.iter().take_while(|b| b.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    if neg {
        n.wrapping_neg()
    } else {
        n
    }
}

/// libmemcached's `set_data`: one stat row into the struct (unknown names are ignored).
fn set_data(st: &mut memcached_stat_st, key: &[u8], value: &[u8]) {
    let ul = |v: &[u8]| strtoul(v) as c_ulong;
    let rusage = |v: &[u8]| -> (c_ulong, c_ulong) {
        match v.iter().position(|b| b.is_ascii_punctuation()) {
            Some(p) => (ul(&v[..p]), ul(&v[p + 1..])),
            None => (ul(v), 0),
        }
    };
    match key {
        b"pid" => {
            let t = strtoul(value) as i64;
            if t <= i64::from(i32::MAX) {
                st.pid = t as i32;
            }
        }
        b"uptime" => st.uptime = ul(value),
        b"time" => st.time = ul(value),
        b"version" => {
            let n = value.len().min(st.version.len() - 1);
            st.version[..n].copy_from_slice(&value[..n]);
            st.version[n] = 0;
        }
        b"pointer_size" => st.pointer_size = ul(value),
        b"rusage_user" => (st.rusage_user_seconds, st.rusage_user_microseconds) = rusage(value),
        b"rusage_system" => {
            (st.rusage_system_seconds, st.rusage_system_microseconds) = rusage(value)
        }
        b"curr_items" => st.curr_items = ul(value),
        b"total_items" => st.total_items = ul(value),
        b"bytes_read" => st.bytes_read = strtoul(value),
        b"bytes_written" => st.bytes_written = strtoul(value),
        b"bytes" => st.bytes = strtoul(value),
        b"curr_connections" => st.curr_connections = ul(value),
        b"total_connections" => st.total_connections = ul(value),
        b"connection_structures" => st.connection_structures = ul(value),
        b"cmd_get" => st.cmd_get = strtoul(value),
        b"cmd_set" => st.cmd_set = strtoul(value),
        b"get_hits" => st.get_hits = strtoul(value),
        b"get_misses" => st.get_misses = strtoul(value),
        b"evictions" => st.evictions = strtoul(value),
        b"limit_maxbytes" => st.limit_maxbytes = strtoul(value),
        b"threads" => st.threads = ul(value),
        _ => {}
    }
}

/// `memcached_stat_get_value`'s text for a known key.
fn value_text(st: &memcached_stat_st, key: &[u8]) -> Option<String> {
    let version_end = st.version.iter().position(|&b| b == 0).unwrap_or(24);
    Some(match key {
        b"pid" => st.pid.to_string(),
        b"uptime" => st.uptime.to_string(),
        b"time" => st.time.to_string(),
        b"version" => String::from_utf8_lossy(&st.version[..version_end]).into_owned(),
        b"pointer_size" => st.pointer_size.to_string(),
        b"rusage_user" => format!("{}.{}", st.rusage_user_seconds, st.rusage_user_microseconds),
        b"rusage_system" => format!(
            "{}.{}",
            st.rusage_system_seconds, st.rusage_system_microseconds
        ),
        b"curr_items" => st.curr_items.to_string(),
        b"total_items" => st.total_items.to_string(),
        b"curr_connections" => st.curr_connections.to_string(),
        b"total_connections" => st.total_connections.to_string(),
        b"connection_structures" => st.connection_structures.to_string(),
        b"cmd_get" => st.cmd_get.to_string(),
        b"cmd_set" => st.cmd_set.to_string(),
        b"get_hits" => st.get_hits.to_string(),
        b"get_misses" => st.get_misses.to_string(),
        b"evictions" => st.evictions.to_string(),
        b"bytes_read" => st.bytes_read.to_string(),
        b"bytes_written" => st.bytes_written.to_string(),
        b"bytes" => st.bytes.to_string(),
        b"limit_maxbytes" => st.limit_maxbytes.to_string(),
        b"threads" => st.threads.to_string(),
        _ => return None,
    })
}

/// A text-protocol value as libmemcached reads it: up to the first blank.
fn text_value(v: &[u8]) -> &[u8] {
    &v[..v
        .iter()
        .position(|&b| server_list::c_isspace(b))
        .unwrap_or(v.len())]
}

/// One server's stats outcome as libmemcached's `{ascii,binary}_stats_fetch` returns it.
fn fetch_code(lmc: &mut Lmc, memc: *const memcached_st, server: usize, a: &ServerAnswer) -> c_int {
    let status = a.status.unwrap_or(Status::Ok);
    if status == Status::Ok {
        return rc::SUCCESS;
    }
    let code = rc::from_status(status, &a.message);
    if status.failure().is_some_and(|f| f.is_server_failure()) || status.is_server_failure() {
        lmc.record_failure(code, status.failure(), memc, Some(server));
    }
    // A text ERROR answer (an unknown stats group) is libmemcached's INVALID_ARGUMENTS.
    if code == rc::ERROR && !lmc.model.binary_protocol {
        return rc::INVALID_ARGUMENTS;
    }
    code
}

impl Lmc {
    /// The stats rows of every server (in text, values cut at the first blank).
    fn stats_rows(&mut self, group: &[u8]) -> Vec<ServerAnswer> {
        let servers: Vec<usize> = (0..self.client.server_count()).collect();
        if !self.model.binary_protocol
            && group.iter().any(|&b| server_list::c_isspace(b))
            && !crate::protocol::text::stats_group_fits(group)
        {
            // The real library sends "stats a  b" and memcached answers ERROR; the text
            // encoder refuses such a line, so the answer is given here. (Groups of words
            // such as "detail dump" are sent.)
            return servers
                .iter()
                .map(|_| ServerAnswer {
                    status: Some(Status::ServerError(0x81)),
                    ..Default::default()
                })
                .collect();
        }
        let mut answers = self.ask_servers(&servers, opcode::STAT, group, &[]);
        if !self.model.binary_protocol {
            for a in &mut answers {
                // (The rows of `detail dump` keep their counts: 1.1.4 cannot read them at
                // all, SOME_ERRORS.)
                for (_, v) in a.rows.iter_mut().filter(|(name, _)| name != b"PREFIX") {
                    let n = text_value(v).len();
                    v.truncate(n);
                }
            }
        }
        answers
    }

    /// The checks `memcached_stat` makes before asking: servers, UDP, the group as a key.
    fn stat_args(&mut self, memc: *const memcached_st, args: Option<&[u8]>) -> Result<(), c_int> {
        if self.client.server_count() == 0 {
            return Err(self.record(rc::NO_SERVERS, memc, None));
        }
        if self.model.use_udp {
            return Err(self.record(rc::NOT_SUPPORTED, memc, None));
        }
        if let Some(a) = args {
            let bad = a.is_empty()
                || a.len() > 250
                || (self.model.verify_key && !crate::client::valid_key(a));
            if bad {
                return Err(self.record(rc::BAD_KEY_PROVIDED, memc, None));
            }
        }
        Ok(())
    }
}

/// A zeroed stat struct.
fn zeroed_stat() -> memcached_stat_st {
    memcached_stat_st {
        connection_structures: 0,
        curr_connections: 0,
        curr_items: 0,
        pid: 0,
        _pad0: 0,
        pointer_size: 0,
        rusage_system_microseconds: 0,
        rusage_system_seconds: 0,
        rusage_user_microseconds: 0,
        rusage_user_seconds: 0,
        threads: 0,
        time: 0,
        total_connections: 0,
        total_items: 0,
        uptime: 0,
        bytes: 0,
        bytes_read: 0,
        bytes_written: 0,
        cmd_get: 0,
        cmd_set: 0,
        evictions: 0,
        get_hits: 0,
        get_misses: 0,
        limit_maxbytes: 0,
        version: [0; 24],
        _future: std::ptr::null_mut(),
        root: std::ptr::null_mut(),
    }
}

/// The stats of every server: a calloc'd array (free() or memcached_stat_free), one entry per
/// server; `args` NULL for the general stats, else a group ("items", "slabs", ...).
#[no_mangle]
pub extern "C" fn memcached_stat(
    ptr: *mut memcached_st,
    args: *mut c_char,
    error: *mut memcached_return_t,
) -> *mut memcached_stat_st {
    let (out, code) = memc::with_memc(ptr, (std::ptr::null_mut(), rc::INVALID_ARGUMENTS), |lmc| {
        // SAFETY: NULL or a NUL-terminated string (the C API's contract).
        let args = unsafe { c_str(args) }.map(CStr::to_bytes);
        lmc.query_id += 1;
        if let Err(code) = lmc.stat_args(ptr, args) {
            return (std::ptr::null_mut(), code);
        }
        let n = lmc.client.server_count();
        // SAFETY: plain calloc, checked for NULL.
        let stats = unsafe { libc::calloc(n, std::mem::size_of::<memcached_stat_st>()) }
            .cast::<memcached_stat_st>();
        if stats.is_null() {
            let code = lmc.record(super::instance::MEMORY_ALLOCATION_FAILURE, ptr, None);
            return (stats, code);
        }
        let answers = lmc.stats_rows(args.unwrap_or(b""));
        let mut result = rc::SUCCESS;
        for (i, a) in answers.iter().enumerate() {
            let mut st = zeroed_stat();
            st.pid = -1;
            st.root = ptr;
            for (k, v) in &a.rows {
                set_data(&mut st, k, v);
            }
            // SAFETY: `stats` holds n elements, i < n.
            unsafe { stats.add(i).write(st) };
            let code = fetch_code(lmc, ptr, i, a);
            if code == rc::INVALID_ARGUMENTS {
                result = code;
                break;
            }
            if !super::instance::is_success(code) {
                result = SOME_ERRORS;
            }
        }
        (stats, result)
    });
    // SAFETY: a non-NULL `error` is writable (the C API's contract).
    if let Some(e) = unsafe { error.as_mut() } {
        *e = code;
    }
    out
}

/// The stats of one server given by name, into the caller's struct (zeroed first).
#[no_mangle]
pub extern "C" fn memcached_stat_servername(
    memc_stat: *mut memcached_stat_st,
    args: *mut c_char,
    hostname: *const c_char,
    port: u16,
) -> memcached_return_t {
    guard(rc::INVALID_ARGUMENTS, || {
        let mut st = zeroed_stat();
        // SAFETY: NULL or a NUL-terminated string (the C API's contract).
        let host = unsafe { c_str(hostname) }.map(CStr::to_bytes);
        // SAFETY: NULL or a NUL-terminated string (the C API's contract).
        let args = unsafe { c_str(args) }.map(CStr::to_bytes);
        let code = match server_list::server_add_args(host, port, 0) {
            Err(_) => rc::INVALID_ARGUMENTS,
            Ok(add) => {
                let mut lmc = Lmc::new();
                lmc.model.servers.push(ModelServer {
                    hostname: add.hostname,
                    port: add.port,
                    weight: add.weight,
                    kind: add.kind,
                });
                lmc.apply_servers();
                match lmc.stat_args(std::ptr::null(), args) {
                    Err(code) => code,
                    Ok(()) => {
                        let answers = lmc.stats_rows(args.unwrap_or(b""));
                        let a = &answers[0];
                        for (k, v) in &a.rows {
                            set_data(&mut st, k, v);
                        }
                        fetch_code(&mut lmc, std::ptr::null(), 0, a)
                    }
                }
            }
        };
        // SAFETY: a non-NULL `memc_stat` points to a writable memcached_stat_st (pgmemcache
        // passes one on its stack).
        if let Some(out) = unsafe { memc_stat.as_mut() } {
            *out = st;
        }
        code
    })
}

/// The value of one of `memcached_stat_get_keys`' keys as a malloc'd string (free()).
#[no_mangle]
pub extern "C" fn memcached_stat_get_value(
    ptr: *const memcached_st,
    memc_stat: *mut memcached_stat_st,
    key: *const c_char,
    error: *mut memcached_return_t,
) -> *mut c_char {
    let (out, code) = guard((std::ptr::null_mut(), rc::INVALID_ARGUMENTS), || {
        // SAFETY: NULL or a memcached_stat_st from memcached_stat / the caller.
        let Some(st) = (unsafe { memc_stat.as_ref() }) else {
            return (std::ptr::null_mut(), rc::INVALID_ARGUMENTS);
        };
        // SAFETY: NULL or a NUL-terminated string (the C API's contract).
        let key = unsafe { c_str(key) }.map_or(&[][..], CStr::to_bytes);
        let Some(text) = value_text(st, key) else {
            memc::with_memc(ptr.cast_mut(), (), |lmc| {
                lmc.record(rc::INVALID_ARGUMENTS, ptr, None);
            });
            return (std::ptr::null_mut(), rc::INVALID_ARGUMENTS);
        };
        // SAFETY: plain malloc of len + 1 bytes, checked for NULL; the copy stays inside.
        let p = unsafe { libc::malloc(text.len() + 1) }.cast::<c_char>();
        if p.is_null() {
            return (p, super::instance::MEMORY_ALLOCATION_FAILURE);
        }
        // SAFETY: `p` holds len + 1 bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr().cast(), p, text.len());
            *p.add(text.len()) = 0;
        }
        (p, rc::SUCCESS)
    });
    // SAFETY: a non-NULL `error` is writable (the C API's contract).
    if let Some(e) = unsafe { error.as_mut() } {
        *e = code;
    }
    out
}

/// The names `memcached_stat_get_value` knows: one malloc'd, NULL-terminated array of
/// pointers to static strings (callers free() the array only).
#[no_mangle]
pub extern "C" fn memcached_stat_get_keys(
    ptr: *mut memcached_st,
    _memc_stat: *mut memcached_stat_st,
    error: *mut memcached_return_t,
) -> *mut *mut c_char {
    memc::with_memc(ptr, std::ptr::null_mut(), |lmc| {
        let n = STAT_KEYS.len() + 1;
        // SAFETY: plain malloc, checked for NULL.
        let list =
            unsafe { libc::malloc(n * std::mem::size_of::<*mut c_char>()) }.cast::<*mut c_char>();
        let code = if list.is_null() {
            lmc.record(super::instance::MEMORY_ALLOCATION_FAILURE, ptr, None)
        } else {
            for (i, k) in STAT_KEYS.iter().enumerate() {
                // SAFETY: `list` holds n pointers, i < n - 1.
                unsafe { *list.add(i) = k.as_ptr().cast_mut() };
            }
            // SAFETY: the last of the n slots.
            unsafe { *list.add(n - 1) = std::ptr::null_mut() };
            rc::SUCCESS
        };
        // SAFETY: a non-NULL `error` is writable (the C API's contract).
        if let Some(e) = unsafe { error.as_mut() } {
            *e = code;
        }
        list
    })
}

/// Frees what `memcached_stat` returned (libc free, as its allocation).
#[no_mangle]
pub extern "C" fn memcached_stat_free(
    _ptr: *const memcached_st,
    memc_stat: *mut memcached_stat_st,
) {
    guard((), || {
        if !memc_stat.is_null() {
            // SAFETY: calloc'd by memcached_stat (the C API's contract).
            unsafe { libc::free(memc_stat.cast()) };
        }
    })
}

/// Calls `func` for every stat row of every server (after `memcached_version`, as the real
/// library does). The callbacks run with the handle unlocked; their return is ignored.
#[no_mangle]
pub extern "C" fn memcached_stat_execute(
    ptr: *mut memcached_st,
    args: *const c_char,
    func: memcached_stat_fn,
    context: *mut c_void,
) -> memcached_return_t {
    let mut servers = Vec::new();
    let fetched = memc::with_memc(ptr, Some(rc::INVALID_ARGUMENTS), |lmc| {
        let v = lmc.version(ptr);
        if is_fatal(v) {
            return Some(lmc.last_rc);
        }
        // SAFETY: NULL or a NUL-terminated string (the C API's contract).
        let args = unsafe { c_str(args) }.map(CStr::to_bytes);
        let answers = lmc.stats_rows(args.unwrap_or(b""));
        for (i, a) in answers.into_iter().enumerate() {
            let code = fetch_code(lmc, ptr, i, &a);
            let instance = lmc.instance_ptr(ptr, i);
            servers.push((instance, a.rows, code));
        }
        lmc.instances(ptr).hold();
        None
    });
    if let Some(code) = fetched {
        return code;
    }
    let result = guard(rc::INVALID_ARGUMENTS, || {
        for (instance, rows, code) in &servers {
            if let Some(f) = func {
                for (k, v) in rows {
                    let mut key = k.clone();
                    key.push(0);
                    let mut value = v.clone();
                    value.push(0);
                    // SAFETY: a C callback of the documented signature, with an instance of
                    // the handle (kept alive by `hold`) and NUL-terminated key and value.
                    unsafe {
                        f(
                            *instance,
                            key.as_ptr().cast(),
                            k.len(),
                            value.as_ptr().cast(),
                            v.len(),
                            context,
                        )
                    };
                }
            }
            if *code == rc::INVALID_ARGUMENTS {
                return *code;
            }
        }
        rc::SUCCESS
    });
    memc::with_memc(ptr, (), |lmc| lmc.instances.release());
    result
}

/// Sums the stats of `memcached_stat` into a malloc'd analysis (freed with free()).
#[no_mangle]
pub extern "C" fn memcached_analyze(
    ptr: *mut memcached_st,
    memc_stat: *mut memcached_stat_st,
    error: *mut memcached_return_t,
) -> *mut memcached_analysis_st {
    let (out, code) = memc::with_memc(ptr, (std::ptr::null_mut(), rc::INVALID_ARGUMENTS), |lmc| {
        let n = lmc.client.server_count();
        if memc_stat.is_null() && n > 0 {
            return (std::ptr::null_mut(), rc::INVALID_ARGUMENTS);
        }
        // SAFETY: plain calloc (libmemcached allocates one per server), checked for NULL.
        let result =
            unsafe { libc::calloc(n.max(1), std::mem::size_of::<memcached_analysis_st>()) }
                .cast::<memcached_analysis_st>();
        // SAFETY: NULL or the calloc'd (zeroed, valid) struct.
        let Some(a) = (unsafe { result.as_mut() }) else {
            return (result, super::instance::MEMORY_ALLOCATION_FAILURE);
        };
        a.root = ptr;
        let (mut items, mut bytes, mut gets, mut hits) = (0u64, 0u64, 0u64, 0u64);
        for x in 0..n {
            // SAFETY: the caller passes memcached_stat's array of n entries.
            let s = unsafe { &*memc_stat.add(x) };
            if a.most_used_bytes < s.bytes {
                a.most_used_bytes = s.bytes;
                a.most_consumed_server = x as u32;
            }
            let uptime = s.uptime as u32;
            if a.longest_uptime < uptime {
                a.longest_uptime = uptime;
                a.oldest_server = x as u32;
            }
            let remaining = s.limit_maxbytes.wrapping_sub(s.bytes);
            if a.least_remaining_bytes == 0 || remaining < a.least_remaining_bytes {
                a.least_remaining_bytes = remaining;
                a.least_free_server = x as u32;
            }
            hits = hits.wrapping_add(s.get_hits);
            gets = gets.wrapping_add(s.cmd_get);
            #[allow(clippy::useless_conversion)] // c_ulong is u32 on 32-bit targets
            let curr_items = u64::from(s.curr_items);
            items = items.wrapping_add(curr_items);
            bytes = bytes.wrapping_add(s.bytes);
        }
        if items > 0 && bytes > 0 {
            a.average_item_size = (bytes / items) as u32;
        }
        a.pool_hit_ratio = if hits == 0 || gets == 0 {
            0.0
        } else {
            hits as f64 / gets as f64 * 100.0
        };
        (result, rc::SUCCESS)
    });
    // SAFETY: a non-NULL `error` is writable (the C API's contract).
    if let Some(e) = unsafe { error.as_mut() } {
        *e = code;
    }
    out
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn stat_layout_matches_libmemcached() {
        assert_eq!(size_of::<memcached_stat_st>(), 224);
        assert_eq!(offset_of!(memcached_stat_st, pid), 24);
        assert_eq!(offset_of!(memcached_stat_st, uptime), 104);
        assert_eq!(offset_of!(memcached_stat_st, bytes), 112);
        assert_eq!(offset_of!(memcached_stat_st, limit_maxbytes), 176);
        assert_eq!(offset_of!(memcached_stat_st, version), 184);
        assert_eq!(offset_of!(memcached_stat_st, root), 216);
        assert_eq!(size_of::<memcached_analysis_st>(), 56);
        assert_eq!(offset_of!(memcached_analysis_st, oldest_server), 24);
        assert_eq!(offset_of!(memcached_analysis_st, pool_hit_ratio), 32);
        assert_eq!(offset_of!(memcached_analysis_st, least_remaining_bytes), 48);
    }

    #[test]
    fn rows_parse_as_libmemcached() {
        let mut st = zeroed_stat();
        set_data(&mut st, b"pid", b"1234");
        set_data(&mut st, b"rusage_user", b"1.002000");
        set_data(&mut st, b"version", b"1.6.18");
        set_data(&mut st, b"bytes", b"970");
        set_data(&mut st, b"unknown", b"1");
        assert_eq!(st.pid, 1234);
        assert_eq!(
            (st.rusage_user_seconds, st.rusage_user_microseconds),
            (1, 2000)
        );
        assert_eq!(value_text(&st, b"rusage_user").unwrap(), "1.2000");
        assert_eq!(value_text(&st, b"version").unwrap(), "1.6.18");
        assert_eq!(value_text(&st, b"bytes").unwrap(), "970");
        assert!(value_text(&st, b"nope").is_none());
    }
}
