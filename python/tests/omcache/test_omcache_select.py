"""OMcache's ``select=`` hook: with a select function given, every call drives the engine
without blocking and waits only through that function (a green-thread select in real use)."""

import errno
import select
import threading
import time

import pytest

import omcache


class RecordingSelect(object):
    """A select that records its calls and the time spent in it."""

    def __init__(self, before=None):
        self.calls = []
        self.waited = 0.0
        self.before = before

    def __call__(self, rlist, wlist, xlist, timeout):
        self.calls.append((list(rlist), list(wlist), list(xlist), timeout))
        if self.before is not None:
            self.before()
        t = time.monotonic()
        try:
            return select.select(rlist, wlist, xlist, timeout)
        finally:
            self.waited += time.monotonic() - t


def exercise(oc):
    """Every method once; returns what they returned."""
    out = []
    out.append(oc.set("a", "1", flags=4))
    out.append(oc.add("b", "2"))
    out.append(oc.replace("b", "3"))
    out.append(oc.append("a", "x"))
    out.append(oc.prepend("a", "y"))
    out.append(oc.get("a", flags=True))
    out.append(sorted(oc.get_multi(["a", "b", "c"]).items()))
    out.append(oc.increment("n", 5, initial=7))
    out.append(oc.increment("n", 5))
    out.append(oc.decrement("n", 2))
    out.append(oc.touch("a", 100))
    out.append(oc.noop(0))
    out.append(oc.stat("settings")[b"maxconns"])
    out.append(oc.delete("b"))
    for call in (lambda: oc.get("b"), lambda: oc.add("a", "z"), lambda: oc.append("c", "z")):
        with pytest.raises(omcache.CommandError) as e:
            call()
        out.append(type(e.value).__name__)
    out.append(oc.set("q", "queued", timeout=0))
    out.append(oc.flush())
    out.append(oc.get("q"))
    return out


def test_same_results_as_waiting_in_rust(memcached):
    s1, s2 = memcached(), memcached()
    plain = omcache.OMcache(s1.address)
    sel = RecordingSelect()
    hooked = omcache.OMcache(s2.address, select=sel)
    assert exercise(hooked) == exercise(plain)
    assert len(sel.calls) >= 15
    # it was given the client's socket
    fds = set(fd for r, w, _, _ in sel.calls for fd in r + w)
    assert len(fds) == 1
    assert all(x == [] and t >= 0 for _, _, x, t in sel.calls)


def test_waits_happen_in_the_select_function(server):
    sel = RecordingSelect()
    oc = omcache.OMcache(server.address, select=sel)
    oc.set("k", "v")
    server.stop()
    sel.calls[:] = []
    sel.waited = 0.0
    try:
        t = time.monotonic()
        with pytest.raises(omcache.NotFoundError):
            oc.get("k", timeout=500)
        total = time.monotonic() - t
    finally:
        server.resume()
    assert total >= 0.45
    assert sel.waited >= 0.9 * total
    # the timeouts handed to select never exceed what was left of the call's
    assert max(c[3] for c in sel.calls) <= 0.5


def test_green_threads_run_while_a_call_waits(memcached):
    """The select function is where an event loop runs its other tasks: here a counter
    advances for each select call while the server is slow, and the call still returns its
    answer."""
    slow, fast = memcached(), memcached()
    ticks = []
    side = omcache.OMcache(fast.address)
    sel = RecordingSelect(before=lambda: ticks.append(side.set("tick", str(len(ticks)))))
    oc = omcache.OMcache(slow.address, select=sel)
    oc.set("k", "v")
    slow.stop()
    threading.Timer(0.3, slow.resume).start()
    assert oc.get("k", timeout=3000) == b"v"
    assert len(ticks) >= 1
    assert side.get("tick") == str(len(ticks) - 1).encode()


def test_eintr_is_retried(server):
    state = {"interrupted": 0}

    def interrupted_once(rlist, wlist, xlist, timeout):
        if not state["interrupted"]:
            state["interrupted"] += 1
            raise InterruptedError(errno.EINTR, "Interrupted system call")
        return select.select(rlist, wlist, xlist, timeout)

    oc = omcache.OMcache(server.address, select=interrupted_once)
    oc.set("k", "v")
    assert oc.get("k") == b"v"
    assert state["interrupted"] == 1


def test_other_select_errors_propagate(server):
    def broken(rlist, wlist, xlist, timeout):
        raise OSError(errno.EBADF, "Bad file descriptor")

    oc = omcache.OMcache(server.address, select=broken)
    with pytest.raises(OSError):
        oc.get("k")
    # the client is still usable once the select works again
    oc.select = select.select
    oc.set("k", "v")
    assert oc.get("k") == b"v"


def test_select_attribute_can_change(server):
    sel = RecordingSelect()
    oc = omcache.OMcache(server.address)
    oc.set("k", "v")
    oc.select = sel
    assert oc.get("k") == b"v"
    assert sel.calls
    n = len(sel.calls)
    oc.select = select.select
    assert oc.get("k") == b"v"
    assert len(sel.calls) == n


def test_select_mode_failover(memcached):
    a, b = memcached(), memcached()
    sel = RecordingSelect()
    oc = omcache.OMcache([a.address, b.address], select=sel)
    keys = ["f{0}".format(i) for i in range(60)]
    for k in keys:
        oc.set(k, k)
    a.kill()
    for k in keys:
        try:
            oc.set(k, "after")
        except omcache.CommandError as e:
            assert e.status == omcache.OMCACHE_SERVER_FAILURE
    for k in keys:
        oc.set(k, "after")
    assert len(oc.get_multi(keys)) == len(keys)


def test_reentrant_call_from_select_is_refused_not_mixed_up(server):
    """A call made from inside the select function (a second green thread on the same OS
    thread, without gevent's patched locks) replaces the engine's batch: the outer call then
    fails with OMCACHE_INVALID (OMcache's answer for a stale batch) instead of taking the
    other call's answers."""
    state = {"inner": None, "entered": False}

    def meddling(rlist, wlist, xlist, timeout):
        if not state["entered"]:
            state["entered"] = True
            state["inner"] = oc.get("inner")
        return select.select(rlist, wlist, xlist, timeout)

    oc = omcache.OMcache(server.address)
    oc.set("inner", "i")
    oc.set("outer", "o")
    oc.select = meddling
    with pytest.raises(omcache.CommandError) as e:
        oc.get("outer")
    assert e.value.status == omcache.OMCACHE_INVALID
    assert state["inner"] == b"i"
    assert oc.get("outer") == b"o"


def test_internal_utils():
    # OMcache 0.3's own test of its helper
    err = select.error(errno.EINTR, "interrupted")
    assert omcache._select_errno(err) == errno.EINTR
    assert omcache.select_select is select.select


def test_only_the_c_select_waits_in_rust(server, monkeypatch):
    oc = omcache.OMcache(server.address, select=select.select)
    assert not oc._uses_select()
    # a select.select replaced before the client is made (gevent's monkey-patching) is used
    sel = RecordingSelect()
    monkeypatch.setattr(omcache._omcache, "select_select", sel)
    patched = omcache.OMcache(server.address)
    assert patched.select is sel and patched._uses_select()
    patched.set("k", "v")
    assert patched.get("k") == b"v"
    assert sel.calls
