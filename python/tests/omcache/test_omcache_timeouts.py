"""omcache.OMcache keeps its timeouts: a stopped server (SIGSTOP: the kernel accepts, nobody
answers) never holds a call longer than its timeout, and the GIL is free while a call waits."""

import os
import socket
import threading
import time

import pytest

import omcache

SLACK = float(os.environ.get("OMCACHE_TEST_SLACK", "1"))


def elapsed(f, *args, **kwargs):
    """(result or exception, seconds)"""
    t = time.monotonic()
    try:
        result = f(*args, **kwargs)
    except omcache.Error as e:
        result = e
    return result, time.monotonic() - t


@pytest.fixture(params=["rust", "select"])
def stopped(request, server):
    """An OMcache (waiting in Rust, or through a select function) whose server is stopped
    after a first round trip; dead_timeout is long, so only the call's timeout ends a wait."""
    import select

    kwargs = {"select": lambda r, w, x, t: select.select(r, w, x, t)} if request.param == "select" else {}
    oc = omcache.OMcache(server.address, **kwargs)
    oc.set("k", "v")
    oc.set("n", "1")
    server.stop()
    yield oc
    server.resume()
    oc.free()


def test_get_timeout_is_not_found(stopped):
    e, t = elapsed(stopped.get, "k", timeout=300)
    assert isinstance(e, omcache.NotFoundError)
    assert 0.28 <= t < 1.0 * SLACK
    assert stopped.get_multi(["k", "n"], timeout=200) == {}


def test_command_timeouts_are_again(stopped):
    for call in (
        lambda: stopped.set("k", "x", timeout=300),
        lambda: stopped.add("k2", "x", timeout=300),
        lambda: stopped.replace("k", "x", timeout=300),
        lambda: stopped.append("k", "x", timeout=300),
        lambda: stopped.prepend("k", "x", timeout=300),
        lambda: stopped.delete("k", timeout=300),
        lambda: stopped.touch("k", 10, timeout=300),
        lambda: stopped.noop(0, timeout=300),
    ):
        e, t = elapsed(call)
        assert isinstance(e, omcache.CommandError) and e.status == omcache.OMCACHE_AGAIN, e
        assert str(e).endswith(": Call would block, try again")
        assert 0.28 <= t < 1.0 * SLACK


def test_increment_timeout_is_fail(stopped):
    e, t = elapsed(stopped.increment, "n", 1, timeout=300)
    assert isinstance(e, omcache.CommandError) and e.status == omcache.OMCACHE_FAIL
    assert 0.28 <= t < 1.0 * SLACK


def test_stat_timeout_returns_what_arrived(stopped):
    result, t = elapsed(stopped.stat, "", 0, 300)
    assert result == {}
    assert 0.28 <= t < 1.0 * SLACK


def test_flush_timeout(stopped):
    assert stopped.set("k", "queued", timeout=0) == omcache.OMCACHE_BUFFERED
    e, t = elapsed(stopped.flush, 300)
    assert isinstance(e, omcache.CommandError) and e.status == omcache.OMCACHE_AGAIN
    assert 0.28 <= t < 1.0 * SLACK


def test_io_timeout_is_the_default(stopped):
    stopped.io_timeout = 250
    e, t = elapsed(stopped.get, "k")
    assert isinstance(e, omcache.NotFoundError)
    assert 0.23 <= t < 1.0 * SLACK


def test_dead_timeout_ends_a_blocking_call(stopped):
    stopped.dead_timeout = 300
    e, t = elapsed(stopped.get, "k", timeout=-1)
    assert isinstance(e, omcache.CommandError) and e.status == omcache.OMCACHE_SERVER_FAILURE
    assert t < 1.5 * SLACK
    # its only server is out of service now
    e, t = elapsed(stopped.get, "k", timeout=-1)
    assert isinstance(e, omcache.CommandError) and e.status == omcache.OMCACHE_NO_SERVERS
    assert t < 0.2 * SLACK


def test_gil_released_while_waiting(stopped):
    """Another Python thread runs while a call waits for the stopped server."""
    counter = [0]
    done = threading.Event()

    def spin():
        while not done.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before = counter[0]
        e, waited = elapsed(stopped.get, "k", timeout=500)
        during = counter[0] - before
    finally:
        done.set()
        t.join()
    assert isinstance(e, omcache.NotFoundError) and waited >= 0.45
    # The spinning thread got the interpreter for most of the wait (a thread holding the GIL
    # would have left it a switch interval or two).
    assert during > 10000, during


def test_connect_timeout(memcached):
    """A listener whose accept queue is full drops SYNs: the connect hangs until
    connect_timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        time.sleep(0.1)
        probe = socket.socket()
        probe.settimeout(0.3)
        try:
            probe.connect(("127.0.0.1", port))
            pytest.skip("this kernel completes connects to a full accept queue")
        except socket.timeout:
            pass
        finally:
            probe.close()
        oc = omcache.OMcache("127.0.0.1:{0}".format(port))
        oc.connect_timeout = 300
        e, t = elapsed(oc.get, "k", timeout=-1)
        assert isinstance(e, omcache.CommandError)
        assert e.status in (omcache.OMCACHE_SERVER_FAILURE, omcache.OMCACHE_NO_SERVERS)
        assert 0.25 <= t < 1.5 * SLACK
        oc.free()
    finally:
        for s in fillers:
            s.close()
        listener.close()
