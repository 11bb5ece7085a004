//! libmemcached 1.1.4's public structs as `#[repr(C)]` types with the sizes and offsets real
//! programs are compiled with (x86-64; `include/omcache_libmemcached.h` declares the same).
//! Caller memory (a `memcached_st` on the stack, lists from `memcached_servers_parse`) has
//! these shapes; only the fields the face uses have names, the rest is kept as padding.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};

use crate::ffi::libhashkit::hashkit_st;

/// `memcached_st`: 696 bytes, possibly in caller memory. The face keeps its engine behind
/// `engine` (libmemcached's private continuum pointer, which it does not use); Debian binaries
/// read `flags` (the binary-protocol bit) and `configure` (libmemcachedutil's pool sizes)
/// directly, so those are kept in step.
#[repr(C)]
pub struct memcached_st {
    pub state: u8,
    /// Bit flags, LSB first: byte 0 bit 1 binary_protocol, bit 5 reply, ...
    pub flags: [u8; 2],
    _pad0: u8,
    pub distribution: u32,
    /// The handle's `hashkit_st` (libhashkit's layout): `memcached_get_hashkit` points here.
    pub hashkit: hashkit_st,
    _server_info_version: u32,
    pub number_of_hosts: u32,
    _servers: *mut c_void,
    _last_disconnected_server: *mut c_void,
    _timeouts: [i32; 14],
    pub user_data: *mut c_void,
    _query_id: u64,
    _number_of_replicas: u32,
    _pad1: u32,
    _result: [u8; 352],
    _ketama_weighted: u8,
    _ketama_pad: [u8; 3],
    _continuum_count: u32,
    _continuum_points_counter: u32,
    _pad2: u32,
    _next_distribution_rebuild: i64,
    /// libmemcached's continuum pointer; the face's engine here.
    pub engine: *mut c_void,
    _virtual_bucket: *mut c_void,
    _allocators: [*mut c_void; 5],
    _callbacks: [*mut c_void; 5],
    /// `memcached_sasl_st`: the callbacks array `memcached_get_sasl_callbacks` returns, and
    /// whether the face allocated it (sasl.rs).
    pub sasl: [*mut c_void; 2],
    _error_messages: *mut c_void,
    _namespace: *mut c_void,
    pub configure_initial_pool_size: u32,
    pub configure_max_pool_size: u32,
    pub configure_version: i32,
    _pad3: u32,
    _configure_filename: *mut c_void,
    /// Bit 0: is_allocated (memcached_free frees the struct itself).
    pub options: u8,
    _pad4: [u8; 7],
}

impl memcached_st {
    /// What `memcached_create` leaves: libmemcached's defaults in the fields programs read,
    /// every other byte zero (the real library leaves some caller bytes untouched; we do not
    /// rely on zeroed memory either way).
    pub fn initial(allocated: bool) -> memcached_st {
        memcached_st {
            state: 0,
            flags: [0x20, 0],
            _pad0: 0,
            distribution: 0,
            hashkit: hashkit_st::initial(),
            _server_info_version: 0,
            number_of_hosts: 0,
            _servers: std::ptr::null_mut(),
            _last_disconnected_server: std::ptr::null_mut(),
            _timeouts: [0; 14],
            user_data: std::ptr::null_mut(),
            _query_id: 0,
            _number_of_replicas: 0,
            _pad1: 0,
            _result: [0; 352],
            _ketama_weighted: 0,
            _ketama_pad: [0; 3],
            _continuum_count: 0,
            _continuum_points_counter: 0,
            _pad2: 0,
            _next_distribution_rebuild: 0,
            engine: std::ptr::null_mut(),
            _virtual_bucket: std::ptr::null_mut(),
            _allocators: [std::ptr::null_mut(); 5],
            _callbacks: [std::ptr::null_mut(); 5],
            sasl: [std::ptr::null_mut(); 2],
            _error_messages: std::ptr::null_mut(),
            _namespace: std::ptr::null_mut(),
            // libmemcachedutil reads these: pool sizes 1/1, no configuration version.
            configure_initial_pool_size: 1,
            configure_max_pool_size: 1,
            configure_version: -1,
            _pad3: 0,
            _configure_filename: std::ptr::null_mut(),
            options: u8::from(allocated),
            _pad4: [0; 7],
        }
    }
}

impl memcached_server_st {
    /// One list entry.
    pub fn entry(hostname: &[u8], port: u16, weight: u32, kind: u32) -> memcached_server_st {
        let mut name = [0 as c_char; 1025];
        for (d, &s) in name.iter_mut().zip(hostname.iter().take(1024)) {
            *d = s as c_char;
        }
        memcached_server_st {
            options: 0,
            _pad0: [0; 3],
            number_of_hosts: 0,
            _cursor_active: 0,
            port,
            _pad1: 0,
            _counters: [0; 40],
            weight,
            _version: 0,
            state: 0,
            _pad2: 0,
            _io_wait_count: [0; 24],
            _versions: [0; 3],
            _pad3: 0,
            kind,
            _next_retry: 0,
            _root: std::ptr::null_mut(),
            _limit_maxbytes: 0,
            _error_messages: std::ptr::null_mut(),
            hostname: name,
            _pad4: [0; 7],
        }
    }
}

/// `memcached_server_st`: 1168 bytes, the element of server lists (`memcached_servers_parse`,
/// `memcached_server_list_append`). Element 0's `number_of_hosts` holds the list's count;
/// lists are allocated with libc `realloc` and freed with libc `free`.
#[repr(C)]
pub struct memcached_server_st {
    pub options: u8,
    _pad0: [u8; 3],
    pub number_of_hosts: u32,
    _cursor_active: u32,
    pub port: u16,
    _pad1: u16,
    _counters: [u8; 40],
    pub weight: u32,
    _version: u32,
    /// memcached_connection_t: 0 TCP, 1 UDP, 2 unix socket (libmemcached's `type`).
    pub state: u32,
    _pad2: u32,
    _io_wait_count: [u8; 24],
    _versions: [u8; 3],
    _pad3: u8,
    pub kind: u32,
    _next_retry: i64,
    _root: *mut c_void,
    _limit_maxbytes: u64,
    _error_messages: *mut c_void,
    pub hostname: [c_char; 1025],
    _pad4: [u8; 7],
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The offsets measured on Debian's libmemcached 1.1.4 (spec layout.txt, the header check).
    #[test]
    fn layouts_match_libmemcached() {
        assert_eq!(size_of::<memcached_st>(), 696);
        assert_eq!(offset_of!(memcached_st, flags), 1);
        assert_eq!(offset_of!(memcached_st, distribution), 4);
        assert_eq!(offset_of!(memcached_st, hashkit), 8);
        assert_eq!(offset_of!(memcached_st, number_of_hosts), 60);
        assert_eq!(offset_of!(memcached_st, user_data), 136);
        assert_eq!(offset_of!(memcached_st, _result), 160);
        assert_eq!(offset_of!(memcached_st, engine), 536);
        assert_eq!(offset_of!(memcached_st, _allocators), 552);
        assert_eq!(offset_of!(memcached_st, _callbacks), 592);
        assert_eq!(offset_of!(memcached_st, sasl), 632);
        assert_eq!(offset_of!(memcached_st, configure_initial_pool_size), 664);
        assert_eq!(offset_of!(memcached_st, configure_max_pool_size), 668);
        assert_eq!(offset_of!(memcached_st, configure_version), 672);
        assert_eq!(offset_of!(memcached_st, options), 688);
        assert_eq!(size_of::<memcached_server_st>(), 1168);
        assert_eq!(offset_of!(memcached_server_st, number_of_hosts), 4);
        assert_eq!(offset_of!(memcached_server_st, port), 12);
        assert_eq!(offset_of!(memcached_server_st, weight), 56);
        assert_eq!(offset_of!(memcached_server_st, kind), 100);
        assert_eq!(offset_of!(memcached_server_st, hostname), 136);
    }
}
