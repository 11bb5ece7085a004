"""omcache.pylibmc over TLS (memcached -Z) against real servers with throwaway certificates:
the tls / tls_* keywords, in both protocols, mutual TLS, each verification failure raising
with its reason within connect_timeout and nothing sent in the clear, clone() and the pools
carrying the settings, and clients without TLS options unchanged."""

import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tls_servers  # noqa: E402
from tls_servers import pki, start  # noqa: E402,F401 (fixtures)

_MISSING = tls_servers.missing()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason="SKIP TLS tests: {0}".format(_MISSING))

SLACK = float(os.environ.get("OMCACHE_TEST_SLACK", "1"))
CONNECT_TIMEOUT_MS = 1000


def client(ours, servers, pki, binary=False, **tls):
    tls.setdefault("tls_ca_file", pki.path("ca.crt"))
    return ours.Client([s.address for s in servers], binary=binary,
                       behaviors={"connect_timeout": CONNECT_TIMEOUT_MS, "retry_timeout": 0},
                       **tls)


def fails_with(ours, mc, words, within_ms=CONNECT_TIMEOUT_MS):
    """The first request raises an omcache.pylibmc error naming `words`, in time."""
    begin = time.monotonic()
    with pytest.raises(ours.Error) as raised:
        mc.set("key", "secret value")
    elapsed = time.monotonic() - begin
    assert words in str(raised.value), str(raised.value)
    assert elapsed < within_ms / 1000.0 * SLACK + 0.5 * SLACK, elapsed
    return raised.value


def test_get_set_get_multi_over_tls(ours, start, pki, binary):
    servers = [start(), start()]
    mc = client(ours, servers, pki, binary=binary)
    assert mc.tls is True
    assert mc.set("key", "value")
    assert mc.get("key") == "value"
    values = {"k{0}".format(i): i * 10 for i in range(50)}
    assert mc.set_multi(values) == []
    assert mc.get_multi(list(values) + ["missing"]) == values
    assert mc.incr("k1") == 11
    assert mc.delete("key")
    assert mc.get("key") is None
    big = b"x" * 300000
    assert mc.set("big", big)
    assert mc.get("big") == big
    # Both servers were used, each over TLS (a plaintext client cannot read them).
    stats = mc.get_stats()
    assert len(stats) == 2 and all(int(s["curr_items"]) > 0 for _, s in stats)


def test_tls_with_system_roots_and_server_name(ours, start, pki, binary, monkeypatch):
    # tls=True alone trusts the system's roots: SSL_CERT_FILE names our CA here.
    monkeypatch.setenv("SSL_CERT_FILE", pki.path("ca.crt"))
    server = start()
    mc = ours.Client([server.address], binary=binary, tls=True)
    assert mc.set("key", "value") and mc.get("key") == "value"
    # A certificate for another name is accepted when that name is asked for.
    other = start(cert="other")
    mc = client(ours, [other], pki, binary=binary, tls_server_name="other.example")
    assert mc.set("key", "value") and mc.get("key") == "value"


def test_mutual_tls(ours, start, pki, binary):
    server = start(require_client_cert=True)
    mc = client(ours, [server], pki, binary=binary,
                tls_cert=pki.path("client.crt"), tls_key=pki.path("client.key"))
    assert mc.set("key", "value")
    assert mc.get_multi(["key"]) == {"key": "value"}
    without = client(ours, [server], pki, binary=binary)
    error = fails_with(ours, without, "refused the handshake")
    assert isinstance(error, ours.ConnectionError)


def test_client_cert_and_key_in_one_file(ours, start, pki, tmp_path):
    both = tmp_path / "client.pem"
    with open(pki.path("client.crt")) as crt, open(pki.path("client.key")) as key:
        both.write_text(crt.read() + key.read())
    server = start(require_client_cert=True)
    mc = client(ours, [server], pki, binary=True, tls_cert=both)
    assert mc.set("key", "value") and mc.get("key") == "value"


def test_wrong_ca_fails_with_its_reason(ours, start, pki, binary):
    server = start()
    mc = client(ours, [server], pki, binary=binary, tls_ca_file=pki.path("other-ca.crt"))
    error = fails_with(ours, mc, "unknown authority")
    assert isinstance(error, ours.ConnectionError)
    assert "127.0.0.1:{0}".format(server.port) in str(error)


def test_name_mismatch_fails_with_its_reason(ours, start, pki, binary):
    server = start(cert="other")
    mc = client(ours, [server], pki, binary=binary)
    fails_with(ours, mc, "not valid for the server's name")
    mc = client(ours, [server], pki, binary=binary, tls_server_name="wrong.example")
    fails_with(ours, mc, "not valid for the server's name")


def test_plaintext_server_refused_nothing_sent_in_clear(ours, start, pki, binary):
    plain = start(tls=False)
    mc = client(ours, [plain], pki, binary=binary)
    fails_with(ours, mc, "does not speak TLS")
    with pytest.raises(ours.Error):
        mc.get("key")
    # The plaintext server never saw a command: nothing was sent in the clear.
    with socket.create_connection(("127.0.0.1", plain.port), timeout=2) as s:
        s.sendall(b"get key\r\nstats\r\nquit\r\n")
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"END\r\n"), reply[:100]
    stats = dict(line.split()[1:3] for line in reply.decode().splitlines() if line.startswith("STAT "))
    assert stats["cmd_set"] == "0" and stats["cmd_get"] == "1"


def test_handshake_timeout(ours, pki):
    # A listener that accepts and never answers (fault injection: no real server stalls).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        port = listener.getsockname()[1]
        mc = ours.Client(["127.0.0.1:{0}".format(port)], tls_ca_file=pki.path("ca.crt"),
                         behaviors={"connect_timeout": 300, "_poll_timeout": 5000})
        begin = time.monotonic()
        with pytest.raises(ours.Error) as raised:
            mc.get("key")
        elapsed = time.monotonic() - begin
        assert "handshake" in str(raised.value), str(raised.value)
        assert elapsed < 0.3 * SLACK + 0.7 * SLACK, elapsed
    finally:
        listener.close()


def test_bad_options_raise_at_construction(ours, pki, tmp_path):
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(ours.Error) as raised:
        ours.Client(["127.0.0.1:1"], tls_ca_file=missing)
    assert "missing.pem" in str(raised.value)
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with pytest.raises(ours.Error):
        ours.Client(["127.0.0.1:1"], tls_ca_file=str(empty))
    with pytest.raises(ours.Error):
        ours.Client(["127.0.0.1:1"], tls_ca_file=pki.path("ca.crt"),
                    tls_cert=pki.path("client.crt"), tls_key=missing)
    with pytest.raises(ValueError):
        ours.Client(["127.0.0.1:1"], tls_key=pki.path("client.key"))
    with pytest.raises(ValueError):
        ours.Client(["127.0.0.1:1"], tls=False, tls_ca_file=pki.path("ca.crt"))
    with pytest.raises(ValueError):
        ours.Client(["127.0.0.1:1"], tls_server_name="")


def test_clone_and_pools_carry_tls(ours, start, pki, binary):
    server = start(require_client_cert=True)
    mc = client(ours, [server], pki, binary=binary,
                tls_cert=pki.path("client.crt"), tls_key=pki.path("client.key"))
    copy = mc.clone()
    assert copy.tls is True and "tls=True" in repr(copy)
    assert copy.set("key", "value") and mc.get("key") == "value"
    pool = ours.ClientPool(mc, 2)
    with pool.reserve() as c:
        assert c.get("key") == "value"
    mapped = ours.ThreadMappedPool(mc)
    seen = []

    def work():
        with mapped.reserve() as c:
            seen.append(c.get("key"))
        mapped.relinquish()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == ["value"] * 3
    # A clone of a client that trusts the wrong CA fails as it does.
    wrong = client(ours, [server], pki, binary=binary, tls_ca_file=pki.path("other-ca.crt"),
                   tls_cert=pki.path("client.crt"), tls_key=pki.path("client.key"))
    fails_with(ours, wrong.clone(), "unknown authority")


def test_nothing_changes_without_tls_options(ours, start, pki):
    plain = start(tls=False)
    mc = ours.Client([plain.address])
    assert mc.tls is False
    assert repr(mc) == "Client(['{0}'], binary=False)".format(plain.address)
    assert mc.set("key", "value") and mc.get("key") == "value"
    assert mc.clone().get("key") == "value"
    assert ours.Client([plain.address], tls=False).get("key") == "value"
    # Without TLS options a TLS server is not spoken to in TLS.
    tls_server = start()
    plain_client = ours.Client([tls_server.address],
                               behaviors={"connect_timeout": 500, "_poll_timeout": 500})
    with pytest.raises(ours.Error):
        plain_client.set("key", "value")
