"""A killed server: its keys fail fast (or move elsewhere with auto_eject), the other
servers' keys are unaffected."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

KEYS = [f"fo:{i}" for i in range(60)]


@pytest.fixture
def three(server_factory):
    return [server_factory() for _ in range(3)]


def restart_on(port):
    """A memcached on `port` again (a killed server's), accepting connections; the caller
    kills it."""
    cmd = [shutil.which("memcached") or "memcached", "-l", "127.0.0.1", "-p", str(port),
           "-U", "0", "-t", "1"] + (["-u", "nobody"] if os.geteuid() == 0 else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    return proc


def split(mc, victim):
    dead = [k for k in KEYS if mc.hash(k) == victim]
    live = [k for k in KEYS if mc.hash(k) != victim]
    assert dead and live
    return dead, live


@pytest.mark.parametrize("behaviors", [{}, {"ketama": True}], ids=["modula", "ketama"])
def test_pylibmc_killed_server_others_unaffected(impl, three, binary, behaviors):
    mc = impl.Client([s.address for s in three], binary=binary,
                     behaviors=dict(behaviors, connect_timeout=500, _poll_timeout=500))
    assert mc.set_multi({k: k for k in KEYS}) == []
    dead, live = split(mc, 1)
    three[1].kill()
    for k in dead:
        start = time.monotonic()
        with pytest.raises(impl.Error):
            mc.get(k)
        assert time.monotonic() - start < 1.5  # fails fast
    for k in live:
        assert mc.get(k) == k
        assert mc.set(k, k + "!") is True
        assert mc.get(k) == k + "!"
    for k in dead:
        with pytest.raises(impl.Error):
            mc.set(k, 1)


def test_pylibmc_killed_server_get_multi_returns_the_rest(ours, three, binary):
    mc = ours.Client([s.address for s in three], binary=binary,
                     behaviors={"connect_timeout": 500, "_poll_timeout": 500})
    mc.set_multi({k: k for k in KEYS})
    dead, live = split(mc, 2)
    three[2].kill()
    start = time.monotonic()
    got = mc.get_multi(KEYS)
    assert time.monotonic() - start < 1.5
    assert got == {k: k for k in live}
    with pytest.raises(ours.Error):
        mc.get_multi(dead)


def test_pylibmc_get_multi_of_misses_with_a_server_down_is_empty_over_text(impl, three):
    """Over text pylibmc returns {} when the live servers' keys are misses and the others'
    server is down (ours raised ConnectionError, then ServerDown); with no server answering
    at all, both raise."""
    mc = impl.Client([s.address for s in three], binary=False,
                     behaviors={"connect_timeout": 500, "_poll_timeout": 500})
    dead, live = split(mc, 0)
    mc.delete_multi(live)
    three[0].kill()
    for _ in range(3):
        assert mc.get_multi([live[0], dead[0]]) == {}
    with pytest.raises(impl.Error):
        mc.get_multi(dead[:2])


def freeze(proc):
    """SIGSTOP, and wait until every thread has stopped: kill(2) returns before that, and a
    worker thread may answer a request meanwhile."""
    proc.send_signal(signal.SIGSTOP)
    deadline = time.monotonic() + 5
    tasks = f"/proc/{proc.pid}/task"
    while time.monotonic() < deadline:
        states = []
        for t in os.listdir(tasks):
            with open(f"{tasks}/{t}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        if all(s in ("T", "t") for s in states):
            return
        time.sleep(0.005)
    raise AssertionError(f"memcached {proc.pid} did not stop")


@contextlib.contextmanager
def frozen_after_a_set(impl, server_factory, binary):
    """A client of one server, "frozen-a" stored, then the server frozen until the block
    ends (poll timeout 300 ms)."""
    server = server_factory()
    mc = impl.Client([server.address], binary=binary,
                     behaviors={"connect_timeout": 500, "_poll_timeout": 300})
    mc.set("frozen-a", "1")
    freeze(server.proc)
    try:
        yield mc
    finally:
        server.proc.send_signal(signal.SIGCONT)


def test_pylibmc_get_multi_with_its_only_server_frozen_returns_what_came(impl, server_factory,
                                                                       binary):
    """A get_multi that runs out of time returns what came, {} here, as pylibmc's does over
    either protocol (ours raised a timeout error; found by an outside tester). Later calls:
    pylibmc waits the poll timeout each time and returns {}; ours finds the server out of
    service once its dead timeout (two poll timeouts) has passed and raises ServerDown at
    once, as both do for a server out of service."""
    with frozen_after_a_set(impl, server_factory, binary) as mc:
        start = time.monotonic()
        assert mc.get_multi(["frozen-a", "frozen-b"]) == {}
        assert time.monotonic() - start < 1.5
        for _ in range(3):
            start = time.monotonic()
            try:
                assert mc.get_multi(["frozen-a", "frozen-b"]) == {}
            except impl.ServerDown:
                pass
            assert time.monotonic() - start < 1.5


def test_pylibmc_set_multi_to_a_frozen_server_times_out(impl, server_factory, binary):
    """A set_multi that runs out of time raises error 31 (TIMEOUT), as set does and as
    pylibmc's set_multi does; ours said "connection closed by the server" (ConnectionError,
    3) for the writes that got no answer (found by an outside tester)."""
    with frozen_after_a_set(impl, server_factory, binary) as mc:
        start = time.monotonic()
        with pytest.raises(impl.Error) as raised:
            mc.set_multi({"frozen-a": "2", "frozen-b": "3"})
        assert time.monotonic() - start < 1.5
        assert "error 31 from memcached_set_multi" in str(raised.value)
        assert not isinstance(raised.value, impl.ConnectionError)


def test_pylibmc_auto_eject_moves_keys(ours, three, binary):
    mc = ours.Client([s.address for s in three], binary=binary,
                     behaviors={"ketama": True, "auto_eject": True, "failure_limit": 1,
                                "retry_timeout": 30, "connect_timeout": 500,
                                "_poll_timeout": 500})
    mc.set_multi({k: k for k in KEYS})
    dead, live = split(mc, 0)
    placement = {k: mc.hash(k) for k in live}
    three[0].kill()
    with pytest.raises(ours.Error):
        mc.get(dead[0])  # the failure that ejects the server
    # Its keys now go to the other servers (consistent hashing: nothing else moves).
    for k in dead:
        assert mc.hash(k) != 0
        assert mc.get(k) is None
        assert mc.set(k, "moved") is True
        assert mc.get(k) == "moved"
    for k in live:
        assert mc.hash(k) == placement[k]
        assert mc.get(k) == k


def test_pylibmc_server_back_after_retry_timeout(ours, three):
    mc = ours.Client([s.address for s in three],
                     behaviors={"retry_timeout": 1, "connect_timeout": 500,
                                "_poll_timeout": 500})
    dead, live = split(mc, 1)
    port = three[1].port
    three[1].kill()
    with pytest.raises(ours.Error):
        mc.set(dead[0], 1)
    # A new server on the same port: used again once retry_timeout has passed.
    proc = restart_on(port)
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                assert mc.set(dead[0], "back") is True
                break
            except ours.Error:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert mc.get(dead[0]) == "back"
    finally:
        proc.kill()
        proc.wait()


def test_pylibmc_restarted_server_answers_the_next_call(impl, server_factory, binary):
    """A memcached restarted right after it closed our connection answers the very next call
    (pylibmc reconnects when a request needs it; ours reconnected at the moment of the close,
    was refused and then raised ServerDown for retry_timeout)."""
    first = server_factory()
    port = first.port
    mc = impl.Client([first.address], binary=binary, behaviors={"retry_timeout": 30})
    assert mc.set("rs", "v") is True
    first.kill()
    with pytest.raises(impl.Error):
        mc.get("rs")
    proc = restart_on(port)
    try:
        assert mc.get("rs") is None
        assert mc.set("rs", "back") is True
        assert mc.get("rs") == "back"
    finally:
        proc.kill()
        proc.wait()


def test_pylibmc_noreply_writes_do_not_wait_for_a_stalled_server(impl, server_factory, binary):
    """With `_noreply`, sets and deletes are written and not waited for, as pylibmc's are:
    a stalled server costs them nothing and they land once it resumes (ours waited for each
    answer: the poll timeout per set, then the server out of service; found by an outside
    tester)."""
    server = server_factory()
    mc = impl.Client([server.address], binary=binary,
                     behaviors={"_noreply": True, "_poll_timeout": 300, "connect_timeout": 500})
    assert mc.set("nr-gone", "x") is True
    freeze(server.proc)
    try:
        start = time.monotonic()
        for i in range(20):
            assert mc.set(f"nr-{i}", str(i)) is True
        assert mc.delete("nr-gone") is True
        assert time.monotonic() - start < 0.25
    finally:
        server.proc.send_signal(signal.SIGCONT)
    check = impl.Client([server.address], binary=binary)
    want = {f"nr-{i}": str(i) for i in range(20)}
    deadline = time.monotonic() + 5
    while check.get_multi(list(want) + ["nr-gone"]) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert check.get_multi(list(want) + ["nr-gone"]) == want
