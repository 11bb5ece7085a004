#!/usr/bin/env python3
"""bench_pylibmc.py - pylibmc-API clients against one local memcached

    bench_pylibmc.py [--impl pylibmc,omcache.pylibmc] [--server HOST:PORT]
                     [--protocols text,binary] [--rounds 7] [--threads 4]
                     [--n-get N] [--n-set N] [--n-multi N] [--n-pool N]
                     [--workloads get,set,get_multi,pool]

Each implementation is a module with pylibmc 1.6's API: Debian's
python3-pylibmc is `pylibmc` (it imports only under /usr/bin/python3 and
venvs made from it with --system-site-packages), ours is `omcache.pylibmc`.
The same module may be named twice, to see how much two runs of one client
differ.  Implementations that do not import are left out with a warning.

In each round every workload runs once with each implementation, the order
rotating from round to round (for two: alternating).  Reported per
protocol: the median ops/s of each implementation, the median of the
per-round ratios against the first one, and client CPU per operation (this
process, user + sys from getrusage, all threads):

  get        N gets of 1,000 stored keys (100-byte values)
  set        N sets of 100-byte values
  get_multi  N get_multi calls of 100 keys each (ops are calls; keys/s is
             100 times that)
  pool-1     N gets in one thread, using its client from a ThreadMappedPool
  pool-4     the same N gets shared by 4 threads (--threads), each using its
             own client from the pool: faster than pool-1 only if the client
             releases the GIL while it waits for the server

and, per implementation, the median of the per-round ratios pool-4 / pool-1.
Then, for get, set and get_multi, where a call's time goes: the wall time,
the client's CPU and memcached's CPU per call (its threads' scheduler time,
for the memcached started here or named by --server-pid), and the ceiling:
the ratio against the first implementation that a client spending no CPU at
all would reach (a call is a round trip, so its time is the client's CPU,
then memcached's, then the wake-ups; an upper bound for any real client).
--workloads runs only some of them (pool: pool-1 and pool-4), e.g. more rounds
of get_multi alone.

--calls N is for instruction and system-call counts instead: each
implementation stores the keys, warms up with 10 calls, then makes N calls of
each workload chosen (get, set, get_multi) and nothing else - no clock, no
report.  The cost of one call is the difference between runs with N and with
0 calls, e.g. for Debian's pylibmc:

  valgrind --tool=callgrind python3 bench_pylibmc.py --impl pylibmc \
      --server 127.0.0.1:11211 --workloads get_multi --calls 500    (and 0)
  strace -c -f  (the same command lines)

Clients are made as pylibmc users make them:
Client([server], binary=..., behaviors={"tcp_nodelay": True}); each run
gets a fresh client, connected (one get) before the clock starts.  Without
--server a memcached of our own is started on a free 127.0.0.1 port and
stopped at the end.  Exit status 1 if any run failed or missed a key.

Part of omcache-rs.  Licensed under the Apache License, Version 2.0.
"""

import argparse
import importlib
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

KEYS = [f"bench:{i}" for i in range(1000)]
VALUE = bytes(ord("a") + i % 26 for i in range(100))
MULTI_KEYS = 100
SET_KEYS = 100000
WORKLOADS = ("get", "set", "get_multi", "pool-1", "pool-N")


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# The pid of the memcached this benchmark started (None: --server, not ours to measure).
SERVER_PID = None


def server_cpu_seconds():
    """CPU time of our memcached so far, all threads (the scheduler's nanosecond count in
    /proc/PID/task/*/schedstat); None when it cannot be read."""
    if SERVER_PID is None:
        return None
    total = 0
    try:
        tasks = os.listdir(f"/proc/{SERVER_PID}/task")
        for task in tasks:
            with open(f"/proc/{SERVER_PID}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total / 1e9


class Impl:
    """One implementation under test: its module and how to make clients."""

    def __init__(self, label, module, binary, server):
        self.label = label
        self.module = module
        self.binary = binary
        self.server = server

    def client(self):
        return self.module.Client([self.server], binary=self.binary, behaviors={"tcp_nodelay": True})

    def pool_class(self):
        pool = getattr(self.module, "ThreadMappedPool", None)
        if pool is None:
            pool = importlib.import_module(self.module.__name__ + ".pools").ThreadMappedPool
        return pool


class Misses(Exception):
    pass


def timed(body, n):
    """Runs body() (which does n operations); returns (ops/s, CPU us/op, memcached's CPU
    us/op or None)."""
    server0 = server_cpu_seconds()
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    body()
    secs = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    server1 = server_cpu_seconds()
    server = None if server0 is None or server1 is None else (server1 - server0) * 1e6 / n
    return n / secs, cpu * 1e6 / n, server


def run_get(impl, n):
    mc = impl.client()
    mc.get(KEYS[0])
    get = mc.get
    keys = KEYS
    misses = 0

    def body():
        nonlocal misses
        for i in range(n):
            if get(keys[i % 1000]) is None:
                misses += 1

    result = timed(body, n)
    if misses:
        raise Misses(f"{misses} of {n} gets missed")
    return result


def run_set(impl, n):
    mc = impl.client()
    mc.get(KEYS[0])
    set_ = mc.set
    keys = [f"bench-set:{i}" for i in range(min(n, SET_KEYS))]
    failed = 0

    def body():
        nonlocal failed
        nkeys = len(keys)
        for i in range(n):
            if not set_(keys[i % nkeys], VALUE):
                failed += 1

    result = timed(body, n)
    if failed:
        raise Misses(f"{failed} of {n} sets failed")
    return result


def run_get_multi(impl, n):
    mc = impl.client()
    mc.get(KEYS[0])
    get_multi = mc.get_multi
    batches = [[KEYS[(b * MULTI_KEYS + j) % 1000] for j in range(MULTI_KEYS)] for b in range(10)]
    short = 0

    def body():
        nonlocal short
        for i in range(n):
            if len(get_multi(batches[i % 10])) != MULTI_KEYS:
                short += 1

    result = timed(body, n)
    if short:
        raise Misses(f"{short} of {n} get_multi calls returned fewer than {MULTI_KEYS} keys")
    return result


def run_pool(impl, n, threads):
    """n gets shared by `threads` threads, each with its client from one
    ThreadMappedPool (reserved once per thread: the pool's cost is not what
    is measured)."""
    pool = impl.pool_class()(impl.client())
    start = threading.Barrier(threads + 1)
    misses = [0] * threads
    errors = []
    shares = [n // threads + (1 if t < n % threads else 0) for t in range(threads)]

    def worker(t):
        try:
            with pool.reserve() as mc:
                mc.get(KEYS[0])
                get = mc.get
                start.wait()
                for i in range(t * 7, t * 7 + shares[t]):
                    if get(KEYS[i % 1000]) is None:
                        misses[t] += 1
        except Exception as e:  # reported by the main thread
            errors.append(e)
            start.abort()
        finally:
            pool.relinquish()

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()

    def body():
        try:
            start.wait()
        except threading.BrokenBarrierError:
            pass
        for w in workers:
            w.join()

    result = timed(body, n)
    if errors:
        raise errors[0]
    if sum(misses):
        raise Misses(f"{sum(misses)} of {n} pooled gets missed")
    return result


def populate(impl):
    mc = impl.client()
    for key in KEYS:
        if not mc.set(key, VALUE):
            raise RuntimeError(f"cannot store {key} with {impl.label}")


def median_of(values):
    """The median of the values that are not None (failed runs), or None."""
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def median_ratio(values, references):
    """The median of the per-round ratios values / references, or None."""
    return median_of([v / r if v is not None and r else None for v, r in zip(values, references)])


def cell(value, spec, suffix=""):
    return "-" if value is None else f"{value:{spec}}{suffix}"


def report(protocol, server, impls, rounds, threads, ops, cpu, workloads):
    """ops[label][workload] and cpu[...] are per-round lists (None: failed)."""
    ref = impls[0].label
    others = [impl.label for impl in impls[1:]]
    names = {"pool-N": f"pool-{threads}"}
    columns = [f"{impl.label} ops/s" for impl in impls]
    columns += [f"{label} / {ref}" for label in others]
    columns += [f"{impl.label} CPU us/op" for impl in impls]
    columns += [f"CPU {label} / {ref}" for label in others]
    widths = [max(len(c), 9) for c in columns]

    def line(first, cells):
        return " | ".join([f"{first:<10}"] + [f"{c:>{w}}" for c, w in zip(cells, widths)])

    print()
    print(f"Python, {protocol} protocol, one memcached ({server}), median of {rounds} rounds "
          f"(ratio = per round, against {ref}; CPU = this process, user + sys):")
    print(line("workload", columns))
    print("-+-".join(["-" * 10] + ["-" * w for w in widths]))
    for workload in workloads:
        cells = [cell(median_of(ops[impl.label][workload]), ".0f") for impl in impls]
        cells += [cell(median_ratio(ops[label][workload], ops[ref][workload]), ".2f", "x") for label in others]
        cells += [cell(median_of(cpu[impl.label][workload]), ".2f") for impl in impls]
        cells += [cell(median_ratio(cpu[label][workload], cpu[ref][workload]), ".2f", "x") for label in others]
        print(line(names.get(workload, workload), cells))
    if "pool-N" not in workloads:
        sys.stdout.flush()
        return
    scaling = [
        f"{impl.label} " + cell(median_ratio(ops[impl.label]["pool-N"], ops[impl.label]["pool-1"]), ".2f", "x")
        for impl in impls
    ]
    print(f"{threads} threads / 1 thread (pool-{threads} / pool-1, per round): " + ", ".join(scaling))
    print(f"(get_multi: one op = one call of {MULTI_KEYS} keys, keys/s = {MULTI_KEYS} x ops/s; "
          f"pool-{threads}: {threads} threads, each with its client from a ThreadMappedPool)")
    sys.stdout.flush()


def report_ceiling(impls, ops, cpu, server_cpu, workloads):
    """What bounds the ratios of the single-client workloads: a call is a round trip, so
    its time is the client's CPU, memcached's CPU and the wake-ups between them, one after
    the other. A client that spent no CPU at all would take the reference's time minus the
    reference's CPU: `ceiling` (per round, median) is the ratio that client would reach,
    an upper bound for any real one (its system calls cost CPU too)."""
    if SERVER_PID is None:
        return
    ref = impls[0].label
    print(f"Where a call's time goes (us per call, medians; ceiling = the ratio against {ref} "
          f"of a client with no CPU cost):")
    for workload in workloads:
        if workload.startswith("pool"):
            continue
        cells = []
        for impl in impls:
            rates = ops[impl.label][workload]
            wall = median_of([1e6 / v if v else None for v in rates])
            client = median_of(cpu[impl.label][workload])
            server = median_of(server_cpu[impl.label][workload])
            cells.append(f"{impl.label}: time {cell(wall, '.1f')}, client CPU {cell(client, '.1f')}, "
                         f"memcached CPU {cell(server, '.1f')}")
        bounds = [
            1e6 / v / (1e6 / v - c) if v and c is not None and 1e6 / v > c else None
            for v, c in zip(ops[ref][workload], cpu[ref][workload])
        ]
        print(f"  {workload:<10} " + "; ".join(cells) + f"; ceiling {cell(median_of(bounds), '.2f', 'x')}")
    sys.stdout.flush()


def calls_only(args, protocol, modules):
    """--calls: N calls of each chosen workload per implementation, nothing timed."""
    keys = KEYS
    batches = [[KEYS[(b * MULTI_KEYS + j) % 1000] for j in range(MULTI_KEYS)] for b in range(10)]
    for label, module in modules:
        impl = Impl(label, module, protocol == "binary", args.server)
        populate(impl)
        mc = impl.client()
        loops = {
            "get": lambda i: mc.get(keys[i % 1000]),
            "set": lambda i: mc.set(keys[i % 1000], VALUE),
            "get_multi": lambda i: mc.get_multi(batches[i % 10]),
        }
        for workload in args.workloads:
            call = loops.get(workload)
            if call is None:
                continue
            for i in range(10):
                call(i)
            for i in range(args.calls):
                call(i)
    return 0


def bench_protocol(args, protocol, modules):
    impls = [Impl(label, module, protocol == "binary", args.server) for label, module in modules]
    populate(impls[0])
    workloads = args.workloads
    ops = {impl.label: {w: [] for w in workloads} for impl in impls}
    cpu = {impl.label: {w: [] for w in workloads} for impl in impls}
    server_cpu = {impl.label: {w: [] for w in workloads} for impl in impls}
    failures = 0
    runs = {
        "get": lambda impl: run_get(impl, args.n_get),
        "set": lambda impl: run_set(impl, args.n_set),
        "get_multi": lambda impl: run_get_multi(impl, args.n_multi),
        "pool-1": lambda impl: run_pool(impl, args.n_pool, 1),
        "pool-N": lambda impl: run_pool(impl, args.n_pool, args.threads),
    }
    started = time.monotonic()
    for r in range(args.rounds):
        order = impls[r % len(impls):] + impls[: r % len(impls)]
        for workload in workloads:
            for impl in order:
                try:
                    rate, per_op, server_per_op = runs[workload](impl)
                except Exception as e:  # one failed run must not end the benchmark
                    what = f"round {r + 1}: {impl.label} {protocol} {workload}"
                    print(f"  {what} FAILED: {type(e).__name__}: {e}", file=sys.stderr)
                    failures += 1
                    rate = per_op = server_per_op = None
                ops[impl.label][workload].append(rate)
                cpu[impl.label][workload].append(per_op)
                server_cpu[impl.label][workload].append(server_per_op)
        print(f"\r  python {protocol}: round {r + 1}/{args.rounds} done ({time.monotonic() - started:.0f}s)",
              end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    report(protocol, args.server, impls, args.rounds, args.threads, ops, cpu, workloads)
    report_ceiling(impls, ops, cpu, server_cpu, workloads)
    return failures


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_memcached():
    """A memcached of our own on 127.0.0.1; returns (process, "host:port")."""
    binary = shutil.which("memcached")
    if binary is None:
        sys.exit("bench_pylibmc.py: memcached is not installed (apt-get install -y memcached)")
    port = free_port()
    argv = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "256"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                sys.exit(f"bench_pylibmc.py: memcached did not start on 127.0.0.1:{port}")
            time.sleep(0.05)


def import_impls(names):
    modules = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            print(f"bench_pylibmc.py: {name} left out: {e}", file=sys.stderr)
            continue
        label = name
        k = 2
        while label in (m[0] for m in modules):
            label = f"{name}#{k}"
            k += 1
        modules.append((label, module))
    return modules


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default="pylibmc,omcache.pylibmc",
                        help="comma-separated modules with pylibmc's API; the first is the reference")
    parser.add_argument("--server", help="HOST:PORT of a memcached (default: start one)")
    parser.add_argument("--server-pid", type=int, default=None,
                        help="the pid of --server's memcached, to report its CPU per call")
    parser.add_argument("--protocols", default="text", help="text, binary or text,binary")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--n-get", type=int, default=20000)
    parser.add_argument("--n-set", type=int, default=20000)
    parser.add_argument("--n-multi", type=int, default=2000)
    parser.add_argument("--n-pool", type=int, default=20000)
    parser.add_argument("--calls", type=int, default=None,
                        help="only make this many calls of each workload (for callgrind / strace)")
    parser.add_argument("--workloads", default="get,set,get_multi,pool",
                        help="comma-separated, of get, set, get_multi, pool (pool-1 and pool-N)")
    args = parser.parse_args()
    chosen = [w for w in args.workloads.split(",") if w]
    if not chosen or any(w not in ("get", "set", "get_multi", "pool") for w in chosen):
        parser.error("--workloads: get, set, get_multi and/or pool")
    args.workloads = [w for w in WORKLOADS if w in chosen or (w.startswith("pool-") and "pool" in chosen)]
    protocols = [p for p in args.protocols.split(",") if p]
    if not protocols or any(p not in ("text", "binary") for p in protocols):
        parser.error("--protocols: text, binary or both")
    if args.rounds < 1 or args.threads < 1 or min(args.n_get, args.n_set, args.n_multi, args.n_pool) < 1:
        parser.error("rounds, threads and counts must be positive")
    if args.calls is not None and args.calls < 0:
        parser.error("--calls: 0 or more")

    modules = import_impls([name for name in args.impl.split(",") if name])
    if not modules:
        sys.exit("bench_pylibmc.py: no implementation imports")
    global SERVER_PID
    SERVER_PID = args.server_pid
    own = None
    if args.server is None:
        own, args.server = start_memcached()
        SERVER_PID = own.pid
    try:
        if args.calls is not None:
            return sum(calls_only(args, protocol, modules) for protocol in protocols)
        print("implementations: " + ", ".join(f"{label} ({module.__file__})" for label, module in modules))
        failures = sum(bench_protocol(args, protocol, modules) for protocol in protocols)
    finally:
        if own is not None:
            own.terminate()
            own.wait()
    if failures:
        print(f"bench_pylibmc.py: {failures} runs failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
