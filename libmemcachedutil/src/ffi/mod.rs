//! Everything unsafe: the libmemcached functions this library calls (resolved against
//! libmemcached.so.11 at link time, as Debian's libmemcachedutil does), a safe handle type over
//! them, the `memcached_st` fields libmemcachedutil reads (pool sizes and configuration
//! version), and the 15 exported C functions (`exports`).
#![allow(unsafe_code)]

mod exports;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::NonNull;

/// `memcached_return_t`.
pub type Rc = c_int;
pub const SUCCESS: Rc = 0;
pub const NOTFOUND: Rc = 16;
pub const MEMORY_ALLOCATION_FAILURE: Rc = 17;
pub const SOME_ERRORS: Rc = 19;
pub const UNKNOWN_STAT_KEY: Rc = 36;
pub const TIMEOUT: Rc = 31;
pub const INVALID_ARGUMENTS: Rc = 38;

/// `memcached_behavior_t` CONNECT_TIMEOUT.
pub const BEHAVIOR_CONNECT_TIMEOUT: c_int = 14;

/// libmemcached's `memcached_success()`: the codes that mean it worked.
pub fn success(rc: Rc) -> bool {
    // SUCCESS, STORED, END, DELETED, VALUE, STAT, ITEM, BUFFERED.
    matches!(rc, 0 | 15 | 21 | 22 | 23 | 24 | 25 | 32)
}

type ServerFn = unsafe extern "C" fn(*const c_void, *const c_void, *mut c_void) -> Rc;

extern "C" {
    fn memcached(string: *const c_char, length: usize) -> *mut c_void;
    fn memcached_create(ptr: *mut c_void) -> *mut c_void;
    fn memcached_free(ptr: *mut c_void);
    fn memcached_clone(clone: *mut c_void, source: *const c_void) -> *mut c_void;
    fn memcached_behavior_set(ptr: *mut c_void, flag: c_int, data: u64) -> Rc;
    fn memcached_behavior_get(ptr: *mut c_void, flag: c_int) -> u64;
    fn memcached_server_add(ptr: *mut c_void, hostname: *const c_char, port: u16) -> Rc;
    fn memcached_version(ptr: *mut c_void) -> Rc;
    fn memcached_flush(ptr: *mut c_void, expiration: libc::time_t) -> Rc;
    fn memcached_set_sasl_auth_data(
        ptr: *mut c_void,
        username: *const c_char,
        password: *const c_char,
    ) -> Rc;
    fn memcached_stat(ptr: *mut c_void, args: *mut c_char, error: *mut Rc) -> *mut c_void;
    fn memcached_stat_free(ptr: *const c_void, stat: *mut c_void);
    fn memcached_server_instance_by_position(ptr: *const c_void, index: u32) -> *const c_void;
    fn memcached_server_error(instance: *const c_void) -> *const c_char;
    fn memcached_server_error_return(instance: *const c_void) -> Rc;
    fn memcached_server_cursor(
        ptr: *const c_void,
        callbacks: *const ServerFn,
        context: *mut c_void,
        number_of_callbacks: u32,
    ) -> Rc;
    fn memcached_server_major_version(instance: *const c_void) -> u8;
    fn memcached_server_minor_version(instance: *const c_void) -> u8;
    fn memcached_server_micro_version(instance: *const c_void) -> u8;
}

/// `memcached_st` offsets libmemcachedutil uses (libmemcached 1.1.4, x86-64; our
/// libmemcached.so.11 keeps them): `configure.initial_pool_size`, `configure.max_pool_size`
/// (set by `memcached()` from `--POOL-MIN`/`--POOL-MAX`) and `configure.version` (the pool's
/// settings generation, on the master and on each clone).
const CONFIGURE_INITIAL_POOL_SIZE: usize = 664;
const CONFIGURE_MAX_POOL_SIZE: usize = 668;
const CONFIGURE_VERSION: usize = 672;

/// `memcached_stat_st.pid` (a pid_t at offset 24).
const STAT_PID: usize = 24;

/// A `memcached_st *` of libmemcached.so.11. Not freed on drop: `free` says when.
#[derive(Debug, PartialEq, Eq)]
pub struct Memc(NonNull<c_void>);

// SAFETY: a libmemcached handle may be used from any thread, by one thread at a time; the pool
// hands each out to one caller and keeps the others (and the master) behind its mutex.
unsafe impl Send for Memc {}

impl Memc {
    /// A caller's handle (NULL: None).
    pub fn from_ptr(ptr: *mut c_void) -> Option<Memc> {
        NonNull::new(ptr).map(Memc)
    }

    pub fn as_ptr(&self) -> *mut c_void {
        self.0.as_ptr()
    }

    pub fn into_ptr(self) -> *mut c_void {
        self.0.as_ptr()
    }

    /// `memcached_create(NULL)`.
    pub fn create() -> Option<Memc> {
        // SAFETY: NULL asks libmemcached to allocate the handle.
        Memc::from_ptr(unsafe { memcached_create(std::ptr::null_mut()) })
    }

    /// `memcached(config, len)`.
    pub fn from_config(config: *const c_char, len: usize) -> Option<Memc> {
        // SAFETY: the C caller's configuration pointer and length, passed on unchanged to
        // libmemcached, which reads `len` bytes (the contract both functions share).
        Memc::from_ptr(unsafe { memcached(config, len) })
    }

    /// A new handle with this one's settings and servers (`memcached_clone(NULL, self)`).
    pub fn clone_handle(&self) -> Option<Memc> {
        // SAFETY: `self` is a live handle; NULL asks for a new one.
        Memc::from_ptr(unsafe { memcached_clone(std::ptr::null_mut(), self.as_ptr()) })
    }

    pub fn free(self) {
        // SAFETY: a live handle, freed once (`self` is consumed).
        unsafe { memcached_free(self.as_ptr()) }
    }

    pub fn behavior_set(&self, flag: c_int, data: u64) -> Rc {
        // SAFETY: a live handle.
        unsafe { memcached_behavior_set(self.as_ptr(), flag, data) }
    }

    pub fn behavior_get(&self, flag: c_int) -> u64 {
        // SAFETY: a live handle.
        unsafe { memcached_behavior_get(self.as_ptr(), flag) }
    }

    /// `memcached_server_add(self, hostname, port)` (NULL hostname as the caller gave it).
    pub fn server_add(&self, hostname: Option<&CStr>, port: u16) -> Rc {
        let host = hostname.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: a live handle; host is NULL or a NUL-terminated string.
        unsafe { memcached_server_add(self.as_ptr(), host, port) }
    }

    pub fn version(&self) -> Rc {
        // SAFETY: a live handle.
        unsafe { memcached_version(self.as_ptr()) }
    }

    pub fn flush(&self) -> Rc {
        // SAFETY: a live handle.
        unsafe { memcached_flush(self.as_ptr(), 0) }
    }

    pub fn set_sasl_auth_data(&self, username: &CStr, password: Option<&CStr>) -> Rc {
        let password = password.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: a live handle; NUL-terminated strings or NULL (libmemcached checks).
        unsafe { memcached_set_sasl_auth_data(self.as_ptr(), username.as_ptr(), password) }
    }

    /// `memcached_stat(self, NULL)`: the outcome and the first server's pid (None without a
    /// stats array).
    pub fn stat_pid(&self) -> (Rc, Option<i32>) {
        let mut rc = SUCCESS;
        // SAFETY: a live handle; `rc` is a valid out-parameter.
        let stats = unsafe { memcached_stat(self.as_ptr(), std::ptr::null_mut(), &mut rc) };
        if stats.is_null() {
            return (rc, None);
        }
        // SAFETY: a memcached_stat_st array of at least one element (one per server); pid_t
        // at its offset 24, 4-byte aligned.
        let pid = unsafe { stats.cast::<u8>().add(STAT_PID).cast::<i32>().read() };
        // SAFETY: the array memcached_stat returned for this handle, freed once.
        unsafe { memcached_stat_free(self.as_ptr(), stats) };
        (rc, Some(pid))
    }

    /// The first server's own error code when it has an error message (what libmemcachedutil
    /// reports instead of SOME_ERRORS); None without one.
    pub fn first_server_error(&self) -> Option<Rc> {
        // SAFETY: a live handle; position 0 is checked by libmemcached (NULL when absent).
        let instance = unsafe { memcached_server_instance_by_position(self.as_ptr(), 0) };
        if instance.is_null() {
            return None;
        }
        // SAFETY: an instance of this handle, used at once.
        if unsafe { memcached_server_error(instance) }.is_null() {
            return None;
        }
        // SAFETY: as above.
        Some(unsafe { memcached_server_error_return(instance) })
    }

    /// Each server's (major, minor, micro) version as `memcached_version` left it.
    pub fn server_versions(&self) -> Vec<[u8; 3]> {
        unsafe extern "C" fn collect(
            _memc: *const c_void,
            instance: *const c_void,
            context: *mut c_void,
        ) -> Rc {
            // SAFETY: `context` is the Vec passed below, alive for the cursor's duration;
            // `instance` is the cursor's current server.
            unsafe {
                let out = &mut *context.cast::<Vec<[u8; 3]>>();
                out.push([
                    memcached_server_major_version(instance),
                    memcached_server_minor_version(instance),
                    memcached_server_micro_version(instance),
                ]);
            }
            SUCCESS
        }
        let mut versions: Vec<[u8; 3]> = Vec::new();
        let callbacks: [ServerFn; 1] = [collect];
        // SAFETY: a live handle; one callback with our context, which outlives the call.
        unsafe {
            memcached_server_cursor(
                self.as_ptr(),
                callbacks.as_ptr(),
                (&mut versions as *mut Vec<[u8; 3]>).cast(),
                1,
            )
        };
        versions
    }

    fn field(&self, offset: usize) -> *mut u32 {
        // The offsets are within the 696-byte memcached_st and 4-byte aligned; forming the
        // pointer is safe, the reads and writes below are the unsafe part.
        self.as_ptr()
            .cast::<u8>()
            .wrapping_add(offset)
            .cast::<u32>()
    }

    /// `configure.initial_pool_size` and `configure.max_pool_size`.
    pub fn configured_pool_sizes(&self) -> (u32, u32) {
        // SAFETY: fields of a live memcached_st (libmemcached 1.1.4's layout, kept by ours).
        unsafe {
            (
                self.field(CONFIGURE_INITIAL_POOL_SIZE).read(),
                self.field(CONFIGURE_MAX_POOL_SIZE).read(),
            )
        }
    }

    /// `configure.version`.
    pub fn configure_version(&self) -> i32 {
        // SAFETY: as above.
        unsafe { self.field(CONFIGURE_VERSION).cast::<i32>().read() }
    }

    pub fn set_configure_version(&self, version: i32) {
        // SAFETY: as above; the handle is used by this thread only (pool contract).
        unsafe { self.field(CONFIGURE_VERSION).cast::<i32>().write(version) }
    }
}
