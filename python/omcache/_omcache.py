"""OMcache 0.3's Python API (its ``omcache.py``) on the omcache-rs engine.

The class, its methods, return values and exceptions are OMcache 0.3's, so code written for
the original runs unchanged; the work is done by ``omcache._native.OMcacheCore`` (Rust), which
waits for the network without the GIL.

Where this module differs from OMcache 0.3's ``omcache.py`` (each a case where the original
misbehaved or had no answer):

- ``timeout`` is honoured by set, add, replace, append and prepend (the original always waited
  ``io_timeout`` there).
- With a ``select`` function, every call returns and raises exactly what it does without one
  (the original's select path reported OMCACHE_FAIL for commands that timed out or had
  timeout 0).  The select function is used whenever it is not the C ``select.select`` itself,
  so after gevent's monkey-patching the default is green too.
- Keys and values that are neither str nor bytes(-like) raise TypeError; integers out of the
  protocol's range raise OverflowError (the original passed some of them to cffi, which made
  a zero-filled key of that length out of an int).
- Keys that memcached cannot take (empty, over 250 bytes) raise CommandError with
  OMCACHE_INVALID before anything is sent (the original sent them and reported OMCACHE_FAIL);
  ``get_multi`` leaves them out of its answer.
- ``set_distribution_method`` works (the original raised NotImplementedError under a modern
  cffi); ``stat`` returns every row (the original kept at most 100 per I/O pass); ``noop`` and
  ``stat`` with a negative server index raise OMCACHE_NO_SERVERS.
- Calls after ``free()`` raise Error (the original crashed).
- The key -> server mapping is libmemcached 1.1.4's (this project's rule; OMcache 0.3 differed
  from it for IPv6 servers and in the weighted methods).
- Additions: ``strerror``, the ``OMCACHE_*`` return codes, ``server_index_for_key``,
  ``dump`` (a debugging aid listing every key with its expiry) and TLS (the ``tls`` and
  ``tls_*`` constructor keywords, ``set_tls`` and the ``tls`` property).
"""

import contextlib
import errno
import logging
import math
import os
import select as _select_module
import struct
import sys
import threading
import types
import weakref
from collections import namedtuple
from time import monotonic

from . import _native

# The default select function, as the original took it (``select.select`` when this module
# was imported).  When the function in use is the C select itself, calls wait in Rust without
# the GIL; any other function (a green-thread select given as ``select=``, or select.select
# monkey-patched by gevent before this import) makes every call wait through it.
select_select = _select_module.select


def _is_c_select(function):
    return (
        isinstance(function, types.BuiltinFunctionType)
        and getattr(function, "__module__", None) == "select"
        and getattr(function, "__name__", None) == "select"
    )


def _select_errno(ex):
    """The errno of an exception raised by a select function (an OMcache 0.3 helper)."""
    return ex.errno if getattr(ex, "errno", None) is not None else (ex.args[0] if ex.args else None)

DELTA_NO_ADD = 0xFFFFFFFF

# poll(2) event bits, as in <bits/poll.h>
POLLIN = 1
POLLOUT = 4

# syslog priorities, as OMcache uses them for log messages
LOG_ERR = 3
LOG_WARNING = 4
LOG_NOTICE = 5
LOG_INFO = 6
LOG_DEBUG = 7

# memcached binary protocol opcodes
CMD_GET = 0x00
CMD_SET = 0x01
CMD_ADD = 0x02
CMD_REPLACE = 0x03
CMD_DELETE = 0x04
CMD_INCREMENT = 0x05
CMD_DECREMENT = 0x06
CMD_QUIT = 0x07
CMD_FLUSH = 0x08
CMD_GETQ = 0x09
CMD_NOOP = 0x0A
CMD_VERSION = 0x0B
CMD_GETK = 0x0C
CMD_GETKQ = 0x0D
CMD_APPEND = 0x0E
CMD_PREPEND = 0x0F
CMD_STAT = 0x10
CMD_SETQ = 0x11
CMD_ADDQ = 0x12
CMD_REPLACEQ = 0x13
CMD_DELETEQ = 0x14
CMD_INCREMENTQ = 0x15
CMD_DECREMENTQ = 0x16
CMD_QUITQ = 0x17
CMD_FLUSHQ = 0x18
CMD_APPENDQ = 0x19
CMD_PREPENDQ = 0x1A
CMD_TOUCH = 0x1C
CMD_GAT = 0x1D
CMD_GATQ = 0x1E
CMD_GATK = 0x23
CMD_GATKQ = 0x24

# OMcache's return codes (omcache_ret_t); the original reached them through its cffi library.
OMCACHE_OK = _native.OMCACHE_OK
OMCACHE_NOT_FOUND = _native.OMCACHE_NOT_FOUND
OMCACHE_KEY_EXISTS = _native.OMCACHE_KEY_EXISTS
OMCACHE_TOO_LARGE_VALUE = _native.OMCACHE_TOO_LARGE_VALUE
OMCACHE_NOT_STORED = _native.OMCACHE_NOT_STORED
OMCACHE_DELTA_BAD_VALUE = _native.OMCACHE_DELTA_BAD_VALUE
OMCACHE_FAIL = _native.OMCACHE_FAIL
OMCACHE_AGAIN = _native.OMCACHE_AGAIN
OMCACHE_INVALID = _native.OMCACHE_INVALID
OMCACHE_BUFFERED = _native.OMCACHE_BUFFERED
OMCACHE_BUFFER_FULL = _native.OMCACHE_BUFFER_FULL
OMCACHE_NO_SERVERS = _native.OMCACHE_NO_SERVERS
OMCACHE_SERVER_FAILURE = _native.OMCACHE_SERVER_FAILURE

# omcache_strerror's messages
_MESSAGES = {
    OMCACHE_OK: "Success",
    OMCACHE_NOT_FOUND: "Key not found from memcached",
    OMCACHE_KEY_EXISTS: "Conflicting key exists in memcached",
    OMCACHE_TOO_LARGE_VALUE: "Value size exceeds maximum",
    OMCACHE_NOT_STORED: "Append or prepend value not stored",
    OMCACHE_DELTA_BAD_VALUE: "Existing value can not be incremented or decremented",
    OMCACHE_FAIL: "Command failed in memcached",
    OMCACHE_AGAIN: "Call would block, try again",
    OMCACHE_INVALID: "Invalid parameters",
    OMCACHE_BUFFERED: "Data buffered in OMcache",
    OMCACHE_BUFFER_FULL: "Buffer full, command dropped",
    OMCACHE_NO_SERVERS: "No server available",
    OMCACHE_SERVER_FAILURE: "Failure communicating to server",
}


def strerror(status):
    """The message OMcache's ``omcache_strerror`` gives for a return code ("Unknown" for a
    number that is not one).  An addition: the original had it only in its C library."""
    return _MESSAGES.get(status, "Unknown")


class Error(Exception):
    """OMcache error"""


class CommandError(Error):
    """A command failed; ``status`` is its OMcache return code."""

    status = None

    def __init__(self, msg=None, status=None):
        super(CommandError, self).__init__(msg)
        if status is not None:
            self.status = status


class NotFoundError(CommandError):
    status = OMCACHE_NOT_FOUND


class KeyExistsError(CommandError):
    status = OMCACHE_KEY_EXISTS


class TooLargeValueError(CommandError):
    status = OMCACHE_TOO_LARGE_VALUE


class NotStoredError(CommandError):
    status = OMCACHE_NOT_STORED


class DeltaBadValueError(CommandError):
    status = OMCACHE_DELTA_BAD_VALUE


_STATUS_ERRORS = {
    OMCACHE_NOT_FOUND: NotFoundError,
    OMCACHE_KEY_EXISTS: KeyExistsError,
    OMCACHE_TOO_LARGE_VALUE: TooLargeValueError,
    OMCACHE_NOT_STORED: NotStoredError,
    OMCACHE_DELTA_BAD_VALUE: DeltaBadValueError,
}

OMcacheValue = namedtuple("OMcacheValue", ["status", "key", "value", "flags", "cas", "delta_value"])

DumpedKey = namedtuple("DumpedKey", ["key", "expiry", "server_index", "cas", "last_access"])
DumpedKey.__doc__ = """One key listed by ``OMcache.dump()``: the key (bytes); its expiry as a Unix
time on the server's clock, -1 for never, None when the server did not say; the index of the
server that listed it; its CAS and last access time (None when the server did not say)."""


class DumpResult(list):
    """The keys ``OMcache.dump()`` listed (a list of ``DumpedKey``), with what happened per
    server: ``methods`` maps each server index to how its keys were listed ("metadump": every
    key; "cachedump": the old ``stats cachedump`` walk, which lists only part of the keys of a
    memcached >= 1.5; None: not listed), ``failures`` maps the index of each server whose
    listing is missing or cut short to the reason."""

    def __init__(self, keys=(), methods=None, failures=None):
        super(DumpResult, self).__init__(keys)
        self.methods = methods or {}
        self.failures = failures or {}

    @property
    def complete(self):
        """True when every server listed every key it held (metadump, no failure)."""
        return not self.failures and all(m == "metadump" for m in self.methods.values())


# Request tuples for the native core: (opcode, key, value, extras, cas, server_index).
_BY_KEY = -1
# Response tuples from the native core: (request index, status, key, value, flags, cas,
# delta_value).
_STATUS, _KEY, _VALUE, _FLAGS, _CAS, _DELTA = 1, 2, 3, 4, 5, 6

_U32_MAX = 0xFFFFFFFF
_U64_MAX = 0xFFFFFFFFFFFFFFFF
# The largest wait passed to the engine (about 292 million years in milliseconds).
_TIMEOUT_MAX = 1 << 62


def _to_bytes(value, what):
    """Keys and values may be str (UTF-8 encoded) or bytes (or another bytes-like object)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError("{0} must be bytes or str, not {1}".format(what, type(value).__name__))


def _unsigned(value, limit, what):
    """An integer argument the protocol carries unsigned: TypeError for what is not an
    integer, OverflowError outside 0..limit (what the original's C conversions raised)."""
    if not isinstance(value, int):
        raise TypeError("{0} must be an integer, not {1}".format(what, type(value).__name__))
    if value < 0 or value > limit:
        raise OverflowError("{0} out of range: {1}".format(what, value))
    return value


def _current_task():
    """Who is calling: the current greenlet when greenlets are in use (green threads share an
    OS thread), else the OS thread."""
    greenlet = sys.modules.get("greenlet")
    if greenlet is not None:
        try:
            return greenlet.getcurrent()
        except Exception:  # noqa: BLE001 - a greenlet module without getcurrent: use threads
            pass
    return threading.get_ident()


# Every _CallLock, reset in a forked child (see _CallLock._after_fork_in_child).
_call_locks = weakref.WeakSet()


def _reset_call_locks_in_child():
    for lock in list(_call_locks):
        lock._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_call_locks_in_child)


class _CallLock(object):
    """Serialises the calls on one client among OS threads and green threads.

    A call that waits through a select function spans several native calls (the engine runs
    one batch at a time), so the next caller must wait until it ends: an OS thread waits on a
    condition, a caller that has a green select waits through that select (so the green thread
    holding the client runs meanwhile, even without gevent's patched locks).  Re-entry by the
    holder itself (a log handler or select function calling the client) is let through; the
    engine then refuses the interrupted batch (OMCACHE_INVALID) instead of mixing answers."""

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._owner = None
        self._depth = 0
        _call_locks.add(self)

    def _after_fork_in_child(self):
        """In a forked child only the forking thread exists: a call another thread of the
        parent was making never ends here, so its hold (and the condition's lock, which it
        may have held at that instant) is dropped; the engine then refuses the client if
        that call had it (a clear error instead of waiting forever)."""
        self._cond = threading.Condition(threading.Lock())
        if self._owner != _current_task():
            self._owner = None
            self._depth = 0

    def acquire(self, green_wait=None):
        me = _current_task()
        with self._cond:
            while self._depth and self._owner != me:
                if green_wait is None:
                    self._cond.wait()
                else:
                    self._cond.release()
                    try:
                        green_wait()
                    finally:
                        self._cond.acquire()
            self._owner = me
            self._depth += 1

    def release(self):
        with self._cond:
            self._depth -= 1
            if not self._depth:
                self._owner = None
                self._cond.notify_all()


class OMcache(object):
    """A memcached client with OMcache 0.3's Python API.

    ``server_list`` is a comma-separated string of ``host``, ``host:port``, ``[ipv6]`` or
    ``[ipv6]:port`` entries (default port 11211), or a list/tuple/set of such entries.  ``log``
    is a ``logging.Logger``-like object receiving the library's messages.  ``select`` is the
    select function to wait with; when it is not ``select.select`` (a green-thread select, for
    instance), every call drives the engine without blocking and waits only through it.

    ``io_timeout`` (milliseconds, default 1000) is the timeout of calls given none; 0 means
    "do not wait" (commands then return ``OMCACHE_BUFFERED``), a negative number waits until
    done or failed.

    ``tls=True`` or any of ``tls_ca_file``, ``tls_cert``, ``tls_key`` and ``tls_server_name``
    makes every connection to a TCP server TLS (memcached ``-Z``), as ``set_tls`` describes
    (``tls_cert``/``tls_key`` are its ``cert``/``key``).

    One object may be shared by threads: calls are serialised, and the GIL is released while a
    call waits for the network.
    """

    def __init__(self, server_list, log=None, select=None, tls=None, tls_ca_file=None,
                 tls_cert=None, tls_key=None, tls_server_name=None):
        self.omc = _native.OMcacheCore()
        self._calls = _CallLock()
        self._log = None
        self.log = log
        self.select = select or select_select
        self._buffering = False
        self._conn_timeout = None
        self._reconn_timeout = None
        self._dead_timeout = None
        self._tls = False
        if tls or any(option is not None for option in (tls_ca_file, tls_cert, tls_key, tls_server_name)):
            self.set_tls(tls if tls is not None else True, ca_file=tls_ca_file, cert=tls_cert,
                         key=tls_key, server_name=tls_server_name)
        self.set_servers(server_list)
        self.io_timeout = 1000

    def __del__(self):
        self.free()

    def free(self):
        """Closes every connection; the object is unusable afterwards (calls raise Error)."""
        omc = getattr(self, "omc", None)
        if omc is not None:
            omc.close()
            self.omc = None

    def _handle(self):
        omc = self.omc
        if omc is None:
            raise Error("OMcache object has been freed")
        return omc

    # -- settings ---------------------------------------------------------------------------

    @property
    def log(self):
        return self._log

    @log.setter
    def log(self, log):
        omc = self._handle()
        self._log = log
        if not log:
            omc.set_log(0, None)
            return
        level = 0
        if hasattr(log, "getEffectiveLevel"):
            pylevel = log.getEffectiveLevel()
            if pylevel <= logging.DEBUG:
                level = LOG_DEBUG
            elif pylevel <= logging.INFO:
                level = LOG_INFO
            elif pylevel < logging.WARNING:
                # NOTICE lies between Python's INFO and WARNING.
                level = LOG_NOTICE
            elif pylevel <= logging.WARNING:
                level = LOG_WARNING
            elif pylevel <= logging.ERROR:
                level = LOG_ERR
            else:
                # OMcache logs nothing more severe than LOG_ERR.
                level = LOG_ERR - 1

        def _omc_log(level, msg):
            if level <= LOG_ERR:
                log.error(msg)
            elif level == LOG_WARNING:
                log.warning(msg)
            elif level == LOG_NOTICE:
                # Python has no NOTICE level: one above INFO stands for it.
                log.log(logging.INFO + 1, msg)
            elif level == LOG_DEBUG:
                log.debug(msg)
            else:
                log.info(msg)

        omc.set_log(level, _omc_log)

    @staticmethod
    def _omc_check(ret, name, allowed=None):
        """Returns ``ret`` when it is OK or allowed (BUFFERED unless told otherwise); raises
        the matching exception otherwise."""
        allowed = allowed if allowed is not None else [OMCACHE_BUFFERED]
        if ret == OMCACHE_OK or ret in allowed:
            return ret
        error = _STATUS_ERRORS.get(ret)
        if error is not None:
            raise error
        raise CommandError("{0}: {1}".format(name, strerror(ret)), status=ret)

    def set_servers(self, server_list):
        """Replaces the server list (a string, or a list/tuple/set of entries).  Servers
        still listed keep their connections.  Servers are ordered by host, then port, as
        OMcache 0.3 ordered them (its key mapping depends on it).  An entry that can never
        work (``foo:bar``, a port over 65535) is kept as a server that is always down, as the
        original kept it; its keys go to the other servers.  Returns OMCACHE_OK."""
        if isinstance(server_list, (list, set, tuple)):
            server_list = ",".join(server_list)
        if isinstance(server_list, (bytes, bytearray)):
            server_list = bytes(server_list).decode("utf-8", "replace")
        if not isinstance(server_list, str):
            raise TypeError(
                "server_list must be a str or a list of str, not {0}".format(type(server_list).__name__)
            )
        self._handle().set_servers(server_list)
        return OMCACHE_OK

    def set_distribution_method(self, method):
        """``"libmemcached_ketama"`` (the default), ``"libmemcached_ketama_weighted"`` or
        ``"libmemcached_ketama_pre1010"``; other names raise Error.  Returns OMCACHE_OK.
        (OMcache 0.3 under a modern cffi raised NotImplementedError here.)"""
        if method not in ("libmemcached_ketama", "libmemcached_ketama_weighted", "libmemcached_ketama_pre1010"):
            raise Error("invalid distribution method {0!r}".format(method))
        self._handle().set_distribution(method)
        return OMCACHE_OK

    @property
    def connect_timeout(self):
        """Milliseconds a connect may take (default 10000; reads None until set)."""
        return self._conn_timeout

    @connect_timeout.setter
    def connect_timeout(self, msec):
        self._handle().set_connect_timeout(msec)
        self._conn_timeout = msec

    @property
    def reconnect_timeout(self):
        """Milliseconds a failed server is left alone before it is tried again (default
        10000; reads None until set)."""
        return self._reconn_timeout

    @reconnect_timeout.setter
    def reconnect_timeout(self, msec):
        self._handle().set_reconnect_timeout(msec)
        self._reconn_timeout = msec

    @property
    def dead_timeout(self):
        """Milliseconds a server may leave a request unanswered before it is declared dead
        (default 10000; reads None until set)."""
        return self._dead_timeout

    @dead_timeout.setter
    def dead_timeout(self, msec):
        self._handle().set_dead_timeout(msec)
        self._dead_timeout = msec

    def set_tls(self, enabled=True, ca_file=None, cert=None, key=None, server_name=None):
        """TLS (memcached ``-Z``) to every TCP server, or with ``enabled=False`` plaintext
        again (an addition: OMcache 0.3 had no TLS).  ``ca_file``: PEM file of the
        authorities the servers' certificates must chain to (default: the system's,
        ``$SSL_CERT_FILE`` or Debian's ca-certificates bundle); ``cert`` and ``key``: a client
        certificate (PEM chain) and its key for servers that require one (without ``key``
        the key is read from ``cert``); ``server_name``: the name every certificate must be
        valid for (default: each server's host name or IP address, sent as SNI when a name).

        Certificates are always verified, and nothing is ever sent in the clear: a failed
        handshake (unknown authority, name mismatch, expired, not TLS, refused, not done
        within ``connect_timeout``) fails the command with OMCACHE_SERVER_FAILURE (or
        OMCACHE_NO_SERVERS), and the CommandError's message and the log say why.  Every
        connection is closed (what was queued is dropped).  ValueError for contradicting
        options, OSError for files that cannot be used.  Returns OMCACHE_OK."""
        omc = self._handle()
        with self._serialised():
            self._tls = omc.set_tls(bool(enabled), ca_file, cert, key, server_name)
        return OMCACHE_OK

    @property
    def tls(self):
        """Whether connections to TCP servers are TLS (see ``set_tls``)."""
        return self._tls

    def _check_server(self, ret, name):
        """``_omc_check``, with the reason in the message when TLS failed in this call."""
        if ret in (OMCACHE_SERVER_FAILURE, OMCACHE_NO_SERVERS) and self._tls:
            reason = self._handle().tls_failure()
            if reason:
                raise CommandError("{0}: {1} ({2})".format(name, strerror(ret), reason), status=ret)
        return self._omc_check(ret, name)

    @property
    def buffering(self):
        """When on, commands with timeout 0 are only queued until ``flush()`` (or a command
        that waits)."""
        return self._buffering

    @buffering.setter
    def buffering(self, enabled):
        self._handle().set_buffering(bool(enabled))
        self._buffering = True if enabled else False

    def reset_buffers(self):
        """Drops everything queued and not yet sent, and answers not yet read."""
        omc = self._handle()
        with self._serialised():
            omc.reset_buffers()
        return OMCACHE_OK

    # -- running requests -------------------------------------------------------------------

    def _timeout_ms(self, timeout):
        if timeout is None:
            timeout = self.io_timeout
        if timeout is None:
            return -1
        if isinstance(timeout, float):
            if timeout < 0:
                return -1
            timeout = int(math.ceil(timeout)) if timeout > 0 else 0
        if not isinstance(timeout, int):
            raise TypeError("timeout must be a number of milliseconds, not {0}".format(type(timeout).__name__))
        return -1 if timeout < 0 else min(timeout, _TIMEOUT_MAX)

    def _uses_select(self):
        return not _is_c_select(self.select)

    @contextlib.contextmanager
    def _serialised(self):
        green_wait = None
        if self._uses_select():
            select = self.select

            def green_wait():
                try:
                    select([], [], [], 0.001)
                except (OSError, _select_module.error) as ex:
                    if _select_errno(ex) != errno.EINTR:
                        raise

        self._calls.acquire(green_wait)
        try:
            yield
        finally:
            self._calls.release()

    def _run(self, requests, timeout):
        """Runs a batch; returns (code, responses) where code is OK (all answered), BUFFERED
        (timeout 0), AGAIN (time ran out) or the failure of a request that could not be sent."""
        omc = self._handle()
        timeout = self._timeout_ms(timeout)
        with self._serialised():
            if not self._uses_select():
                code, responses, _ = omc.execute(requests, timeout)
                return code, responses
            return self._run_select(omc, requests, timeout)

    def _run_select(self, omc, requests, timeout):
        begin = monotonic()
        (code, responses, remaining), token = omc.start(requests)
        if not remaining or timeout == 0:
            return code, responses
        deadline = None if timeout < 0 else begin + timeout / 1000.0
        idle = False
        while remaining:
            left_ms = None
            if deadline is not None:
                left_ms = (deadline - monotonic()) * 1000.0
                if left_ms <= 0:
                    return OMCACHE_AGAIN, responses
            idle = self._wait_io(omc, left_ms, idle)
            step_code, more, remaining = omc.step(token)
            responses.extend(more)
            if step_code == OMCACHE_INVALID:
                return step_code, responses
        return (OMCACHE_OK if code in (OMCACHE_OK, OMCACHE_BUFFERED) else code), responses

    def _wait_io(self, omc, left_ms, idle):
        """Waits through the select function until the engine has something to do (its
        descriptors are ready, or a deadline of its own falls due).  Returns True when there
        was no descriptor to wait on."""
        fds, poll_ms = omc.poll_fds()
        rlist = [fd for fd, events in fds if events & POLLIN]
        wlist = [fd for fd, events in fds if events & POLLOUT]
        wait_ms = poll_ms if left_ms is None else min(poll_ms, left_ms)
        if not rlist and not wlist:
            if not idle:
                # Nothing to wait on: the next pass may well finish the batch.
                return True
            # Still nothing to wait on (a host name being resolved): do not spin.
            wait_ms = min(wait_ms, 5)
        try:
            self.select(rlist, wlist, [], max(wait_ms, 0) / 1000.0)
        except (OSError, _select_module.error) as ex:
            if _select_errno(ex) != errno.EINTR:
                raise
        return not rlist and not wlist

    def flush(self, timeout=-1):
        """Sends everything queued and waits for the answers outstanding; CommandError with
        OMCACHE_AGAIN when time ran out first."""
        omc = self._handle()
        timeout = self._timeout_ms(timeout)
        with self._serialised():
            if not self._uses_select():
                ret = omc.flush(timeout)
            else:
                begin = monotonic()
                deadline = None if timeout < 0 else begin + timeout / 1000.0
                idle = False
                while True:
                    left_ms = None if deadline is None else max((deadline - monotonic()) * 1000.0, 0)
                    idle = self._wait_io(omc, left_ms, idle)
                    ret = omc.flush(0)
                    if ret != OMCACHE_AGAIN or (deadline is not None and monotonic() >= deadline):
                        break
        return self._omc_check(ret, "flush")

    def _command(self, request, timeout, func_name):
        """One request; its own status (or the call's when it got no answer), checked."""
        code, responses = self._run([request], timeout)
        ret = responses[0][_STATUS] if responses else code
        if request[5] >= 0 and ret == OMCACHE_SERVER_FAILURE:
            # A command for one server reports a server lost meanwhile as "no server".
            ret = OMCACHE_NO_SERVERS
        return self._check_server(ret, func_name)

    @staticmethod
    def _server_index(server_index):
        if not isinstance(server_index, int):
            raise TypeError("server_index must be an integer, not {0}".format(type(server_index).__name__))
        return server_index

    # -- commands ---------------------------------------------------------------------------

    def noop(self, server_index=0, timeout=None):
        """A NOOP round trip to one server; OMCACHE_OK, or CommandError (OMCACHE_NO_SERVERS
        for an index out of range or a server that is down)."""
        server_index = self._server_index(server_index)
        if server_index < 0:
            return self._omc_check(OMCACHE_NO_SERVERS, "noop")
        return self._command((CMD_NOOP, b"", b"", b"", 0, server_index), timeout, "noop")

    def stat(self, command="", server_index=0, timeout=None):
        """The statistics of one server as a dict of bytes names to bytes values; ``command``
        names a group ("settings", "items", "slabs", ...), "" the general ones.  Rows that
        arrived before the timeout are returned."""
        key = _to_bytes(command, "command")
        server_index = self._server_index(server_index)
        if server_index < 0:
            return self._omc_check(OMCACHE_NO_SERVERS, "stat")
        code, responses = self._run([(CMD_STAT, key, b"", b"", 0, server_index)], timeout)
        self._omc_check(code, "stat", allowed=[OMCACHE_AGAIN, OMCACHE_BUFFERED])
        results = {}
        for resp in responses:
            self._omc_check(resp[_STATUS], "stat")
            if not resp[_KEY] and not resp[_VALUE]:
                break
            results[resp[_KEY]] = resp[_VALUE]
        return results

    def _omc_set(self, key, value, expiration, flags, cas, timeout, opcode, func_name):
        key = _to_bytes(key, "key")
        value = _to_bytes(value, "value")
        cas = _unsigned(cas, _U64_MAX, "cas")
        if opcode in (CMD_APPEND, CMD_PREPEND):
            extras = b""
        else:
            extras = struct.pack(
                ">II", _unsigned(flags, _U32_MAX, "flags"), _unsigned(expiration, _U32_MAX, "expiration")
            )
        return self._command((opcode, key, value, extras, cas, _BY_KEY), timeout, func_name)

    def set(self, key, value, expiration=0, flags=0, cas=0, timeout=None):
        """Stores a value; with ``cas`` only if the item's CAS is still that (KeyExistsError
        otherwise, NotFoundError when it is gone).  Returns OMCACHE_OK, or OMCACHE_BUFFERED
        with timeout 0.  (OMcache 0.3 ignored ``timeout`` here and in add, replace, append and
        prepend, always waiting ``io_timeout``; it is honoured.)"""
        return self._omc_set(key, value, expiration, flags, cas, timeout, CMD_SET, "set")

    def add(self, key, value, expiration=0, flags=0, timeout=None):
        """Stores a value only if the key is not there (KeyExistsError otherwise)."""
        return self._omc_set(key, value, expiration, flags, 0, timeout, CMD_ADD, "add")

    def replace(self, key, value, expiration=0, flags=0, timeout=None):
        """Stores a value only if the key is there (NotFoundError otherwise)."""
        return self._omc_set(key, value, expiration, flags, 0, timeout, CMD_REPLACE, "replace")

    def append(self, key, value, cas=0, timeout=None):
        """Appends to an existing value (NotStoredError when the key is not there)."""
        return self._omc_set(key, value, 0, 0, cas, timeout, CMD_APPEND, "append")

    def prepend(self, key, value, cas=0, timeout=None):
        """Prepends to an existing value (NotStoredError when the key is not there)."""
        return self._omc_set(key, value, 0, 0, cas, timeout, CMD_PREPEND, "prepend")

    def delete(self, key, timeout=None):
        """Deletes a key (NotFoundError when it is not there)."""
        key = _to_bytes(key, "key")
        return self._command((CMD_DELETE, key, b"", b"", 0, _BY_KEY), timeout, "delete")

    def touch(self, key, expiration=0, timeout=None):
        """Sets a new expiration time (NotFoundError when the key is not there)."""
        key = _to_bytes(key, "key")
        extras = struct.pack(">I", _unsigned(expiration, _U32_MAX, "expiration"))
        return self._command((CMD_TOUCH, key, b"", extras, 0, _BY_KEY), timeout, "touch")

    @staticmethod
    def _shape(resp, flags, cas):
        if flags and cas:
            return (resp[_VALUE], resp[_FLAGS], resp[_CAS])
        if flags:
            return (resp[_VALUE], resp[_FLAGS])
        if cas:
            return (resp[_VALUE], resp[_CAS])
        return resp[_VALUE]

    def get(self, key, flags=False, cas=False, timeout=None):
        """The value of a key (bytes), or a tuple (value, flags), (value, cas) or (value,
        flags, cas).  NotFoundError when the key is not there, and also when no answer came
        within the timeout (as in OMcache 0.3)."""
        key = _to_bytes(key, "key")
        code, responses = self._run([(CMD_GETK, key, b"", b"", 0, _BY_KEY)], timeout)
        ret = responses[0][_STATUS] if responses else OMCACHE_NOT_FOUND
        if not responses and code not in (OMCACHE_OK, OMCACHE_AGAIN, OMCACHE_BUFFERED):
            ret = code
        self._check_server(ret, "get")
        return self._shape(responses[0], flags, cas)

    def get_multi(self, keys, flags=False, cas=False, timeout=None):
        """The values of many keys as a dict keyed by bytes keys (values shaped as ``get``
        returns them); keys not found (or not answered within the timeout, or invalid, such
        as keys over 250 bytes) are absent.  One round trip per server."""
        if not isinstance(keys, (list, tuple)):
            keys = list(keys)
        requests = [(CMD_GETKQ, _to_bytes(k, "key"), b"", b"", 0, _BY_KEY) for k in keys]
        code, responses = self._run(requests, timeout)
        if code in (OMCACHE_NO_SERVERS, OMCACHE_BUFFER_FULL):
            # Some keys could not be asked for at all: the answer would be incomplete.
            self._check_server(code, "get_multi")
        results = {}
        for resp in responses:
            if resp[_STATUS] != OMCACHE_OK:
                continue
            results[resp[_KEY]] = self._shape(resp, flags, cas)
        return results

    def _omc_delta(self, key, delta, initial, expiration, timeout, func_name):
        # ``initial=None`` means "do not create the counter", which the protocol says with
        # the expiration DELTA_NO_ADD; so an expiration without an initial value is an error.
        key = _to_bytes(key, "key")
        if not isinstance(delta, int):
            raise TypeError("delta must be an integer, not {0}".format(type(delta).__name__))
        if delta < 0:
            opcode = CMD_DECREMENT
            delta = -delta
        else:
            opcode = CMD_INCREMENT
        delta = _unsigned(delta, _U64_MAX, "delta")
        if initial is None:
            if expiration:
                raise Error(func_name + " operation's initial must be set if expiration time is used")
            expiration = DELTA_NO_ADD
            initial = 0
        extras = struct.pack(
            ">QQI", delta, _unsigned(initial, _U64_MAX, "initial"), _unsigned(expiration, _U32_MAX, "expiration")
        )
        code, responses = self._run([(opcode, key, b"", extras, 0, _BY_KEY)], timeout)
        ret = responses[0][_STATUS] if responses else OMCACHE_FAIL
        if not responses and code not in (OMCACHE_OK, OMCACHE_AGAIN, OMCACHE_BUFFERED):
            ret = code
        self._omc_check(ret, func_name)
        return responses[0][_DELTA]

    def increment(self, key, delta=1, initial=None, expiration=0, timeout=None):
        """Adds ``delta`` to a counter and returns the new value.  ``initial=None``: a missing
        counter is NotFoundError; otherwise it is created with ``initial`` (returned as is).
        A negative delta decrements."""
        return self._omc_delta(key, delta, initial, expiration, timeout, "increment")

    def decrement(self, key, delta=1, initial=None, expiration=0, timeout=None):
        """Subtracts ``delta`` from a counter (stopping at 0) and returns the new value."""
        return self._omc_delta(key, -delta, initial, expiration, timeout, "decrement")

    # -- additions ----------------------------------------------------------------------------

    def server_index_for_key(self, key):
        """The index of the server a key goes to now, -1 when none is up.  (An addition:
        OMcache 0.3 had this only in its C API.)"""
        return self._handle().server_index_for_key(_to_bytes(key, "key"))

    def dump(self, timeout=60000):
        """Lists every key of every server with its expiry: a DEBUGGING AID, not a consistent
        snapshot (keys written, read or expiring meanwhile may be missing).  An addition to
        OMcache 0.3's API.

        Returns a ``DumpResult``: a list of ``DumpedKey(key, expiry, server_index, cas,
        last_access)``, with ``failures`` (server index -> why its keys are missing) and
        ``methods`` (server index -> "metadump" or "cachedump").  Each server is asked over a
        short-lived connection of its own (``lru_crawler metadump all``; a server without it
        is walked with ``stats cachedump``, which lists only part of its keys), one server
        after the other, at most ``timeout`` milliseconds each.  A failing server does not
        end the dump: check ``failures``.  The dump blocks the calling thread (without the
        GIL) even when a ``select`` function was given."""
        omc = self._handle()
        if not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError("timeout must be a non-negative number of milliseconds")
        keys, servers = omc.dump(int(math.ceil(timeout)))
        methods = {}
        failures = {}
        for server_index, method, _count, error in servers:
            methods[server_index] = method
            if error is not None:
                failures[server_index] = error
        return DumpResult((DumpedKey(*k) for k in keys), methods, failures)
