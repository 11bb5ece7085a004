//! The few system calls socket2 does not offer in the form the engine needs: `poll`,
//! `send`/`recv` with per-call flags on plain byte slices, and service-name lookup
//! (`getservbyname_r`), fork detection (`pthread_atfork`). The only `unsafe` outside `ffi/`.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

pub use libc::pollfd as PollFd;
pub use libc::{POLLERR, POLLHUP, POLLIN, POLLOUT};

/// Waits for events on `fds` for at most `timeout` (None: no limit); returns how many entries
/// have non-zero `revents`. `ppoll` takes the timeout in nanoseconds (poll's milliseconds
/// would round a caller's deadline). EINTR is reported as zero ready descriptors (the caller
/// re-checks its deadline): signals are never masked.
pub fn poll(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as _,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfd structs;
    // `ts_ptr` is NULL or points to a timespec that lives until the call returns; a NULL
    // signal mask leaves the mask unchanged.
    let rc = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            ts_ptr,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(err);
    }
    Ok(rc as usize)
}

/// `send(2)` that never raises SIGPIPE; `dontwait` makes this one call non-blocking.
// Inlined: on every request's path, where the call cost as much as the body.
#[inline(always)]
pub fn send(fd: RawFd, buf: &[u8], dontwait: bool) -> io::Result<usize> {
    let flags = libc::MSG_NOSIGNAL | if dontwait { libc::MSG_DONTWAIT } else { 0 };
    loop {
        // SAFETY: `buf` is a valid readable slice of `buf.len()` bytes for the whole call.
        let rc = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `recv(2)` into an initialised byte slice; `dontwait` makes this one call non-blocking.
// Inlined: on every request's path, where the call cost as much as the body.
#[inline(always)]
pub fn recv(fd: RawFd, buf: &mut [u8], dontwait: bool) -> io::Result<usize> {
    let flags = if dontwait { libc::MSG_DONTWAIT } else { 0 };
    loop {
        // SAFETY: `buf` is a valid, exclusively borrowed writable slice of `buf.len()` bytes.
        let rc = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        let err = io::Error::last_os_error();
        // A blocking receive interrupted by a signal returns to the caller, which re-checks
        // its deadline instead of restarting the socket's full receive timeout.
        if err.kind() != io::ErrorKind::Interrupted || !dontwait {
            return Err(err);
        }
    }
}

/// A coarse monotonic clock in milliseconds, never 0 (CLOCK_MONOTONIC_COARSE: the kernel's
/// last tick, read from the vDSO without a system call or a timer read; a few milliseconds
/// behind the fine clock, which is plenty for deciding that a connection sat idle a second).
pub fn coarse_millis() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc != 0 {
        return 1;
    }
    (ts.tv_sec as u64)
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec as u64 / 1_000_000)
        .max(1)
}

/// One non-blocking `recv(MSG_PEEK)` of a byte: what recv returned (1, 0 at the end of the
/// stream, -1 with errno set).
fn peek_one(fd: RawFd) -> isize {
    let mut byte = [0u8; 1];
    // SAFETY: `byte` is a valid, exclusively borrowed writable buffer of 1 byte.
    unsafe {
        libc::recv(
            fd,
            byte.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    }
}

/// Whether a connected socket with nothing asked of it has news: bytes waiting, the end of the
/// stream (the peer closed it), or an error (it was reset).
pub fn readable_or_closed(fd: RawFd) -> bool {
    if peek_one(fd) >= 0 {
        return true;
    }
    let err = std::io::Error::last_os_error().raw_os_error();
    !matches!(err, Some(libc::EAGAIN | libc::EINTR))
}

/// Whether bytes (not an end of stream) wait to be read on a socket, without taking any and
/// without blocking: one `recv(2)` of a byte with MSG_PEEK. An error or an end of stream is
/// left for the next real receive to find.
pub fn bytes_waiting(fd: RawFd) -> bool {
    peek_one(fd) > 0
}

extern "C" {
    // glibc and musl; not in the libc crate. Thread-safe: all state is in the caller's buffers.
    fn getservbyname_r(
        name: *const libc::c_char,
        proto: *const libc::c_char,
        result_buf: *mut libc::servent,
        buf: *mut libc::c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> libc::c_int;
}

/// The TCP port of a service name, through the system's resolver (NSS: `services:` in
/// /etc/nsswitch.conf, usually /etc/services). `None` when the name is unknown, contains a
/// NUL byte, or the lookup fails.
pub fn tcp_service_port(name: &str) -> Option<u16> {
    let name = std::ffi::CString::new(name).ok()?;
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: servent is plain C data (pointers and an int); all-zero is a valid value.
        let mut entry: libc::servent = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::servent = std::ptr::null_mut();
        // SAFETY: `name` and the protocol are NUL-terminated; `entry`, `buf` (of `buf.len()`
        // bytes) and `result` are valid for writes for the whole call and exclusively ours.
        let rc = unsafe {
            getservbyname_r(
                name.as_ptr(),
                c"tcp".as_ptr(),
                &mut entry,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        // s_port is in network byte order, in the low 16 bits of an int.
        return Some(u16::from_be(entry.s_port as u16));
    }
}

/// Incremented in the child of every fork() once `fork_generation` has been called.
static FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

extern "C" fn count_fork_in_child() {
    // Async-signal-safe: one atomic add, no allocation, no lock.
    FORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How many times this process is a fork() child of the process that first asked (0 in that
/// process). The first call registers a `pthread_atfork` child handler; call it before any
/// fork that matters (a handle's creation does). A changed value means that sockets
/// inherited from the parent are shared with it and must not be used.
pub fn fork_generation() -> u64 {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn()` that touches only an atomic; no
        // prepare or parent handler. A failure (ENOMEM) leaves fork detection off.
        unsafe { libc::pthread_atfork(None, None, Some(count_fork_in_child)) };
    });
    FORKS.load(std::sync::atomic::Ordering::Relaxed)
}
