"""Fixtures for the omcache.OMcache tests: real memcached processes on free 127.0.0.1 ports,
killed when the test ends."""

import glob
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

# `python -m pytest` run from python/ puts the source tree first on sys.path, and its omcache/
# has no native module (maturin builds that into the wheel): test the installed package.
_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if not glob.glob(os.path.join(_SOURCE_ROOT, "omcache", "_native*")):
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _SOURCE_ROOT]


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Memcached(object):
    """One memcached on 127.0.0.1 (one worker thread, no UDP)."""

    def __init__(self, *args):
        self.port = free_port()
        self.args = args
        self._start()

    def restart(self):
        """A new memcached on the same port (after kill)."""
        self.kill()
        self._start()

    def _start(self):
        cmd = ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-t", "1"]
        if os.getuid() == 0:
            cmd += ["-u", "nobody"]
        cmd += list(self.args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError("memcached did not start on port {0}".format(self.port))
                time.sleep(0.02)

    @property
    def address(self):
        return "127.0.0.1:{0}".format(self.port)

    def __str__(self):
        return self.address

    def kill(self):
        """kill -9, and wait for the process to be gone."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        """SIGSTOP: connections are accepted by the kernel, nothing is answered.  Returns
        once the process is stopped (the signal is delivered asynchronously)."""
        self.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while self._state() != "T":
            if time.monotonic() > deadline:
                raise RuntimeError("memcached did not stop")
            time.sleep(0.001)

    def _state(self):
        with open("/proc/{0}/stat".format(self.proc.pid)) as f:
            # pid (comm) state ...: comm may hold spaces, the state follows its ")"
            return f.read().rsplit(")", 1)[1].split()[0]

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)


@pytest.fixture
def memcached():
    """A factory: memcached(*args) starts one more server; all are killed afterwards."""
    started = []

    def start(*args):
        server = Memcached(*args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def server(memcached):
    return memcached()


@pytest.fixture
def servers3(memcached):
    return [memcached() for _ in range(3)]


@pytest.fixture
def mc(server):
    """An OMcache on one fresh server."""
    import omcache

    client = omcache.OMcache(server.address)
    yield client
    client.free()


@pytest.fixture
def mc2(memcached):
    """An OMcache on two fresh servers."""
    import omcache

    client = omcache.OMcache([memcached().address, memcached().address])
    yield client
    client.free()
