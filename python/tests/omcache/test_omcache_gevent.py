"""OMcache's ``select=`` hook with real green threads (gevent, Debian's python3-gevent): a call
waiting for a slow server lets the other green threads run, and green threads sharing one
client take turns.  Skipped when gevent is not installed."""

import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

gevent = pytest.importorskip("gevent")
import gevent.select  # noqa: E402

import omcache  # noqa: E402


def key_on(oc, index, prefix):
    for i in range(10000):
        key = "{0}{1}".format(prefix, i)
        if oc.server_index_for_key(key) == index:
            return key
    raise AssertionError("no key for server {0}".format(index))


def test_other_green_threads_run_while_a_call_waits(memcached):
    slow, live = memcached(), memcached()
    oc = omcache.OMcache([slow.address, live.address], select=gevent.select.select)
    ports = [port for _, port in oc.omc.servers()]
    slow_key = key_on(oc, ports.index(slow.port), "slow")
    live_key = key_on(oc, ports.index(live.port), "live")
    oc.set(slow_key, "s")
    oc.set(live_key, "l")
    slow.stop()
    ticks = []
    finished = {}

    def ticker():
        while "waiter" not in finished:
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    def waiter():
        try:
            oc.get(slow_key, timeout=600)
        except omcache.NotFoundError:
            finished["waiter"] = time.monotonic()

    def second_caller():
        gevent.sleep(0.05)
        # the client is busy with the waiter: this green thread waits its turn, greenly
        finished["second"] = (oc.get(live_key), time.monotonic())

    t0 = time.monotonic()
    try:
        gevent.joinall([gevent.spawn(ticker), gevent.spawn(waiter), gevent.spawn(second_caller)], timeout=10)
    finally:
        slow.resume()
    assert "waiter" in finished and finished["waiter"] - t0 >= 0.55
    assert len(ticks) >= 20, len(ticks)
    value, when = finished["second"]
    assert value == b"l"
    assert when >= finished["waiter"]


def test_green_threads_share_one_client(server):
    oc = omcache.OMcache(server.address, select=gevent.select.select)
    errors = []

    def worker(n):
        try:
            for i in range(100):
                key = "g{0}-{1}".format(n, i % 10)
                oc.set(key, str(i))
                assert oc.get(key) == str(i).encode()
                oc.increment("g-counter", 1, initial=1)
                gevent.sleep(0)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    gevent.joinall([gevent.spawn(worker, n) for n in range(10)], timeout=60)
    assert errors == []
    assert oc.get("g-counter") == b"1000"


def test_monkey_patched_default_select_is_green(server):
    """After gevent's monkey.patch_all(), an OMcache made without select= waits through the
    patched select: another green thread runs while a call waits for a stopped server."""
    script = textwrap.dedent(
        """
        from gevent import monkey
        monkey.patch_all()
        import sys, time, gevent, omcache
        oc = omcache.OMcache(sys.argv[1])
        assert oc._uses_select()
        oc.set("k", "v")
        print("ready", flush=True)
        sys.stdin.readline()  # the server is stopped now
        ticks = []
        done = []
        def ticker():
            while not done:
                ticks.append(1)
                gevent.sleep(0.01)
        def waiter():
            try:
                oc.get("k", timeout=500)
            except omcache.NotFoundError:
                done.append(1)
        gevent.joinall([gevent.spawn(ticker), gevent.spawn(waiter)], timeout=10)
        print("ticks", len(ticks), "done", len(done), flush=True)
        """
    )
    # Not from python/, whose omcache/ source tree has no native module.
    proc = subprocess.Popen(
        [sys.executable, "-c", script, server.address],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        universal_newlines=True,
        cwd=tempfile.gettempdir(),
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        server.stop()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out = proc.stdout.readline().split()
        assert proc.wait(30) == 0
    finally:
        server.resume()
        if proc.poll() is None:
            proc.kill()
    assert out[0] == "ticks" and int(out[1]) >= 20 and out[3] == "1", out
