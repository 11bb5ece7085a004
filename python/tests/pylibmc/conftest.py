"""Fixtures for the omcache.pylibmc tests: real memcached servers on free 127.0.0.1 ports
(killed afterwards), and the two implementations side by side: Debian's python3-pylibmc
(the reference, when importable) and omcache.pylibmc."""

import importlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# `python -m pytest` run from python/ puts the source tree first on sys.path, where the
# package has no compiled `_native`: test the installed package instead.
_SOURCE_TREE = Path(__file__).resolve().parents[2]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _SOURCE_TREE]
for _name, _module in list(sys.modules.items()):
    if (_name == "omcache" or _name.startswith("omcache.")) and str(
            getattr(_module, "__file__", "") or "").startswith(str(_SOURCE_TREE) + "/omcache"):
        del sys.modules[_name]

MEMCACHED = shutil.which("memcached") or "/usr/bin/memcached"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Memcached:
    """One memcached process on 127.0.0.1."""

    def __init__(self, *args):
        self.port = free_port()
        cmd = [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-t", "1", *args]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.kill()
                    raise RuntimeError(f"memcached on port {self.port} did not start")
                time.sleep(0.02)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def command(self, line):
        """One text-protocol command straight to this server; the reply's first line."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(line.encode() + b"\r\n")
            return s.recv(65536)


@pytest.fixture(scope="session")
def servers():
    """Three servers for the whole session."""
    started = []
    try:
        for _ in range(3):
            started.append(Memcached())
        yield started
    finally:
        for m in started:
            m.kill()


@pytest.fixture
def server_factory():
    """Starts servers for one test (failover tests kill them); all killed after it."""
    started = []

    def start(*args):
        m = Memcached(*args)
        started.append(m)
        return m

    yield start
    for m in started:
        m.kill()


def _debian_pylibmc():
    try:
        return importlib.import_module("pylibmc")
    except ImportError:
        return None


IMPLS = ["debian", "omcache"]


def load(impl):
    if impl == "debian":
        mod = _debian_pylibmc()
        if mod is None:
            pytest.skip("Debian's python3-pylibmc is not importable here")
        return mod
    return importlib.import_module("omcache.pylibmc")


@pytest.fixture(params=IMPLS)
def impl(request):
    """The module under test: Debian's pylibmc or omcache.pylibmc."""
    return load(request.param)


@pytest.fixture
def ours():
    return importlib.import_module("omcache.pylibmc")


@pytest.fixture
def debian():
    mod = _debian_pylibmc()
    if mod is None:
        pytest.skip("Debian's python3-pylibmc is not importable here")
    return mod


@pytest.fixture(params=[False, True], ids=["text", "binary"])
def binary(request):
    return request.param


@pytest.fixture
def mc(impl, servers, binary):
    """A client of the implementation under test on one server, flushed."""
    client = impl.Client([servers[0].address], binary=binary)
    client.flush_all()
    return client
