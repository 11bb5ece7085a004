"""Throwaway certificates (made with Debian's openssl) and `memcached -Z` servers on free
127.0.0.1 ports, for the TLS tests of both Python faces and for bench/bench_tls.py.

`missing()` says why TLS cannot be tested here (None when it can): the tests skip with that
message rather than fail on a machine without openssl or a TLS-enabled memcached.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

MEMCACHED = shutil.which("memcached") or "/usr/bin/memcached"
OPENSSL = shutil.which("openssl")

# x509v3 extensions of the certificates issued by the test CA (webpki, which rustls uses,
# wants a subjectAltName: it ignores the common name).
_EXTENSIONS = """
[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost

[other_name]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example

[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
"""

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def missing():
    """Why TLS tests cannot run here, or None."""
    if OPENSSL is None:
        return "openssl is not installed (Debian: apt-get install openssl)"
    try:
        help_text = subprocess.run([MEMCACHED, "-h"], capture_output=True, text=True).stdout
    except OSError:
        return "memcached is not installed (Debian: apt-get install memcached)"
    if "enable-ssl" not in help_text:
        return "this memcached has no TLS (-Z); Debian's memcached has it"
    return None


class Pki:
    """A CA and another CA, a server certificate for 127.0.0.1/localhost, one for
    other.example only, and a client certificate, in a fresh directory (`remove()` it)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="omcache-py-tls-")
        with open(self.path("ext.cnf"), "w") as f:
            f.write(_EXTENSIONS)
        for ca in ("ca", "other-ca"):
            self._openssl("req", "-x509", *_EC, "-keyout", ca + ".key", "-out", ca + ".crt",
                          "-days", "30", "-subj", "/CN=omcache python test " + ca,
                          "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self._issue("server", "127.0.0.1", "server", 1001)
        self._issue("other", "other.example", "other_name", 1002)
        self._issue("client", "omcache python test client", "client", 1003)
        # memcached drops to nobody: it must read its certificate and key after that.
        os.chmod(self.dir, 0o755)
        for name in os.listdir(self.dir):
            os.chmod(self.path(name), 0o644)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        done = subprocess.run([OPENSSL, *args], cwd=self.dir, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError("openssl {0}: {1}".format(" ".join(args), done.stderr))

    def _issue(self, name, cn, extensions, serial):
        self._openssl("req", *_EC, "-keyout", name + ".key", "-out", name + ".csr",
                      "-subj", "/CN=" + cn)
        self._openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                      "-set_serial", str(serial), "-days", "30", "-out", name + ".crt",
                      "-extfile", "ext.cnf", "-extensions", extensions)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TlsMemcached:
    """One `memcached -Z` on 127.0.0.1 with `cert` ("server" or "other") of `pki`; with
    `require_client_cert` it asks for and requires a client certificate from the CA
    (ssl_verify_mode 2). `tls=False` starts a plaintext memcached instead."""

    def __init__(self, pki, cert="server", require_client_cert=False, tls=True, threads=1):
        self.port = free_port()
        cmd = [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-t", str(threads)]
        if tls:
            opts = "ssl_chain_cert={0},ssl_key={1},ssl_session_cache".format(
                pki.path(cert + ".crt"), pki.path(cert + ".key"))
            if require_client_cert:
                opts += ",ssl_ca_cert={0},ssl_verify_mode=2".format(pki.path("ca.crt"))
            cmd += ["-Z", "-o", opts]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        # A file, not a pipe: a pipe nobody reads could fill and stop the server.
        self.errors = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.errors)
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.kill()
                    self.errors.seek(0)
                    raise RuntimeError("memcached -Z on port {0} did not start: {1}".format(
                        self.port, self.errors.read().decode(errors="replace")))
                time.sleep(0.02)

    @property
    def address(self):
        return "127.0.0.1:{0}".format(self.port)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# Fixtures both TLS test modules import (`from tls_servers import pki, start`).

@pytest.fixture(scope="module")
def pki():
    """A throwaway CA, server and client certificates for one test module."""
    made = Pki()
    yield made
    made.remove()


@pytest.fixture
def start(pki):
    """Starts TLS (or plaintext) memcached servers for one test; all killed after it."""
    started = []

    def start_server(**kwargs):
        server = TlsMemcached(pki, **kwargs)
        started.append(server)
        return server

    yield start_server
    for server in started:
        server.kill()
