//! libmemcachedutil 1.1.4 (`libmemcachedutil.so.2`, 15 functions) over the libmemcached C API:
//! connection pools of cloned handles (`memcached_pool_*`) and one-shot helpers
//! (`libmemcached_util_ping/ping2/getpid/getpid2/flush/version_check`).
//!
//! Like Debian's, this library calls the public libmemcached functions of the process's
//! libmemcached.so.11 (ours or Debian's): it owns no engine. `ffi` holds every unsafe line
//! (the imports, the exported C functions and the one `memcached_st` field both libraries
//! share, the pool's configuration version); `pool` and `util` are safe code over it.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod ffi;
mod pool;
mod util;
