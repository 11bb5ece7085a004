"""Eight threads at once: through a ClientPool, a ThreadMappedPool (both implementations),
and one client shared by all (ours serialises its callers)."""

import threading
import time

import pytest

THREADS = 8
ROUNDS = 200


def run_threads(work):
    errors = []
    barrier = threading.Barrier(THREADS)

    def wrapped(i):
        try:
            barrier.wait()
            work(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert errors == []


def exercise(mc, i, r):
    key = f"t{i}:{r}"
    value = {"thread": i, "round": r, "pad": "x" * (r % 50)}
    assert mc.set(key, value) is True
    assert mc.get(key) == value
    keys = [f"t{i}:m{r}:{j}" for j in range(10)]
    assert mc.set_multi({k: k for k in keys}) == []
    assert mc.get_multi(keys) == {k: k for k in keys}
    assert mc.incr(f"t{i}:counter") == r + 1


def setup_counters(mc):
    mc.set_multi({f"t{i}:counter": 0 for i in range(THREADS)})


def test_pylibmc_client_pool(impl, servers, binary):
    master = impl.Client([s.address for s in servers], binary=binary)
    setup_counters(master)
    pool = impl.ClientPool(master, THREADS)

    def work(i):
        for r in range(ROUNDS):
            with pool.reserve(block=True) as mc:
                exercise(mc, i, r)

    run_threads(work)
    assert pool.qsize() == THREADS
    assert master.get_multi([f"t{i}:counter" for i in range(THREADS)]) == {
        f"t{i}:counter": ROUNDS for i in range(THREADS)}


def test_pylibmc_client_pool_fewer_clients_than_threads(impl, servers, binary):
    master = impl.Client([s.address for s in servers], binary=binary)
    setup_counters(master)
    pool = impl.ClientPool(master, 3)

    def work(i):
        for r in range(ROUNDS // 4):
            with pool.reserve(block=True) as mc:
                exercise(mc, i, r)

    run_threads(work)


def test_pylibmc_thread_mapped_pool(impl, servers, binary):
    master = impl.Client([s.address for s in servers], binary=binary)
    setup_counters(master)
    pool = impl.ThreadMappedPool(master)
    seen = {}

    def work(i):
        for r in range(ROUNDS):
            with pool.reserve() as mc:
                seen.setdefault(i, set()).add(id(mc))
                exercise(mc, i, r)
        pool.relinquish()

    run_threads(work)
    assert all(len(ids) == 1 for ids in seen.values())  # one client per thread
    assert len(pool) == 0


def test_pylibmc_one_client_shared_by_threads(ours, servers, binary):
    mc = ours.Client([s.address for s in servers], binary=binary)
    setup_counters(mc)

    def work(i):
        for r in range(ROUNDS):
            exercise(mc, i, r)

    run_threads(work)


def test_pylibmc_gil_released_while_waiting(ours, server_factory):
    """A request waiting on a server that does not answer does not stop other threads."""
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        silent = ours.Client([f"127.0.0.1:{port}"], behaviors={"_poll_timeout": 1500})
        done = threading.Event()

        def blocked():
            try:
                silent.get("k")
            except ours.Error:
                pass
            done.set()

        t = threading.Thread(target=blocked)
        t.start()
        time.sleep(0.1)
        # This thread keeps running Python code while the other waits.
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < 0.5:
            n += 1
        assert not done.is_set()
        assert n > 10000
        t.join(10)
        assert done.is_set()
    finally:
        listener.close()
