//! The few system calls socket2 does not offer in the form the engine needs: `poll`, and
//! `send`/`recv` with per-call flags on plain byte slices. The only `unsafe` outside `ffi/`.

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
