"""Speed of omcache.pylibmc against Debian's python3-pylibmc, same run, one local memcached.

    build/pyenv/bin/python python/tests/pylibmc/bench_pylibmc.py [seconds-per-measurement]

Prints ops/s (keys/s for get_multi) of each, the best of alternating runs, and the ratio; the targets are ours ≥ 1.0× for
get and set, ≥ 1.3× for 100-key get_multi, and 4 threads with a ThreadMappedPool ≥ 1.2× one
thread. Exits 1 when a target is missed (BENCH_STRICT=0 only prints).
"""

import importlib
import os
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE.parents[1]]
sys.path.insert(0, str(HERE))
from conftest import Memcached  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
KEYS = [f"bench:key:{i}" for i in range(100)]
VALUE = b"v" * 100


def rate_once(fn, seconds, units=1):
    """Calls of `fn` for about `seconds`: units per second, and this process's CPU time
    per unit in microseconds (steadier than the rate on a loaded machine)."""
    n = 0
    start = time.perf_counter()
    cpu = time.process_time()
    end = start + seconds
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= end:
            return n * units / (now - start), (time.process_time() - cpu) * 1e6 / (n * units)


def compare(fns, units=1, rounds=7):
    """Best rate of each of `fns` over `rounds` alternating runs: on a shared, loaded
    machine the best run is the one least disturbed, and alternating gives each the same
    chances."""
    best = {name: (0.0, float("inf")) for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            r, c = rate_once(fn, SECONDS / rounds, units)
            best[name] = (max(best[name][0], r), min(best[name][1], c))
    return best


def threaded_rate(pool, threads):
    """get ops/s of `threads` threads, each reserving its client from `pool`."""
    counts = [0] * threads
    stop = threading.Event()
    barrier = threading.Barrier(threads + 1)

    def work(i):
        with pool.reserve() as mc:
            mc.get(KEYS[0])
            barrier.wait()
            n = 0
            while not stop.is_set():
                for _ in range(50):
                    mc.get(KEYS[i % len(KEYS)])
                n += 50
            counts[i] = n
        pool.relinquish()

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(SECONDS / 3)
    stop.set()
    for t in ts:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def measure(mods, address, binary):
    """{op: {impl: rate}} for get, set and a 100-key get_multi."""
    clients = {name: mod.Client([address], binary=binary) for name, mod in mods.items()}
    next(iter(clients.values())).set_multi({k: VALUE for k in KEYS})
    return {
        "get": compare({n: (lambda c=c: c.get(KEYS[7])) for n, c in clients.items()}),
        "set": compare({n: (lambda c=c: c.set(KEYS[8], VALUE)) for n, c in clients.items()}),
        "get_multi(100) keys": compare(
            {n: (lambda c=c: c.get_multi(KEYS)) for n, c in clients.items()}, units=len(KEYS)),
    }


def main():
    server = Memcached("-t", "4")
    failures = []
    try:
        mods = {"debian": importlib.import_module("pylibmc"),
                "omcache": importlib.import_module("omcache.pylibmc")}
        for binary in (False, True):
            proto = "binary" if binary else "text"
            res = measure(mods, server.address, binary)
            for op, by_impl in res.items():
                (d, dcpu), (o, ocpu) = by_impl["debian"], by_impl["omcache"]
                ratio = o / d
                target = 1.3 if op.startswith("get_multi") else 1.0
                mark = "ok" if ratio >= target else "MISSED"
                if ratio < target:
                    failures.append(f"{proto} {op}")
                print(f"{proto:6} {op:20} debian {d:10.0f}/s  omcache {o:10.0f}/s  "
                      f"x{ratio:.2f} (target {target}) {mark}   client CPU per unit: "
                      f"debian {dcpu:.2f} us, omcache {ocpu:.2f} us")
        ours = mods["omcache"]
        master = ours.Client([server.address], binary=True)
        one = four = 0.0
        for _ in range(3):
            one = max(one, threaded_rate(ours.ThreadMappedPool(master), 1))
            four = max(four, threaded_rate(ours.ThreadMappedPool(master), 4))
        ratio = four / one
        mark = "ok" if ratio >= 1.2 else "MISSED"
        if ratio < 1.2:
            failures.append("threads")
        print(f"omcache ThreadMappedPool get: 1 thread {one:.0f}/s, 4 threads {four:.0f}/s "
              f"x{ratio:.2f} (target 1.2) {mark}")
        deb = mods["debian"]
        dmaster = deb.Client([server.address], binary=True)
        d1 = d4 = 0.0
        for _ in range(3):
            d1 = max(d1, threaded_rate(deb.ThreadMappedPool(dmaster), 1))
            d4 = max(d4, threaded_rate(deb.ThreadMappedPool(dmaster), 4))
        print(f"debian  ThreadMappedPool get: 1 thread {d1:.0f}/s, 4 threads {d4:.0f}/s "
              f"x{d4 / d1:.2f}")
    finally:
        server.kill()
    if failures and os.environ.get("BENCH_STRICT", "1") != "0":
        print("missed:", ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
