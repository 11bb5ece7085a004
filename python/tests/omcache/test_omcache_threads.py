"""Eight threads sharing one omcache.OMcache: calls serialise, every answer reaches the thread
that asked."""

import select
import threading

import pytest

import omcache

THREADS = 8
ROUNDS = 300


def run_threads(target):
    errors = []
    start = threading.Barrier(THREADS)

    def wrapper(n):
        try:
            start.wait()
            target(n)
        except BaseException as e:  # noqa: B902 - reported to the test
            errors.append((n, e))

    threads = [threading.Thread(target=wrapper, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a thread hangs"
    assert errors == []


@pytest.mark.parametrize("mode", ["rust", "select"])
def test_eight_threads_share_one_client(memcached, mode):
    servers = [memcached().address for _ in range(3)]
    kwargs = {"select": lambda r, w, x, t: select.select(r, w, x, t)} if mode == "select" else {}
    oc = omcache.OMcache(servers, **kwargs)
    oc.io_timeout = 10000

    def work(n):
        mine = ["t{0}-k{1}".format(n, i) for i in range(20)]
        for r in range(ROUNDS):
            key = mine[r % len(mine)]
            value = "{0}:{1}:{2}".format(n, r, "x" * (r % 50)).encode()
            assert oc.set(key, value, flags=n) == omcache.OMCACHE_OK
            assert oc.get(key, flags=True) == (value, n)
            oc.increment("shared-counter", 1, initial=1)
            if r % 25 == 0:
                got = oc.get_multi(mine)
                assert len(got) == min(r + 1, len(mine))
                assert all(v.split(b":")[0] == str(n).encode() for v in got.values())
            if r % 50 == 0:
                with pytest.raises(omcache.NotFoundError):
                    oc.get("t{0}-missing-{1}".format(n, r))
                with pytest.raises(omcache.KeyExistsError):
                    oc.add(key, "again")
                assert oc.stat("settings", r % 3)[b"tcpport"]
        oc.delete(mine[0])

    run_threads(work)
    # created with 1 by the first call, incremented by every other one
    assert int(oc.get("shared-counter")) == THREADS * ROUNDS
    assert oc.get_multi(["t{0}-k0".format(n) for n in range(THREADS)]) == {}
    oc.free()


def test_threads_with_buffering_and_flush(server):
    oc = omcache.OMcache(server.address)
    oc.buffering = True

    def work(n):
        for i in range(200):
            assert oc.set("b{0}-{1}".format(n, i), str(i), timeout=0) == omcache.OMCACHE_BUFFERED
        oc.flush()

    run_threads(work)
    oc.flush()
    keys = ["b{0}-{1}".format(n, i) for n in range(THREADS) for i in range(200)]
    assert len(oc.get_multi(keys)) == len(keys)
    oc.free()
