"""omcache.OMcache over TLS (memcached -Z) against real servers with throwaway certificates:
the tls / tls_* constructor keywords and set_tls(), mutual TLS, each verification failure
failing with its reason (in the CommandError and the log) within connect_timeout and nothing
sent in the clear, and objects without TLS options unchanged."""

import logging
import os
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tls_servers  # noqa: E402
from tls_servers import pki, start  # noqa: E402,F401 (fixtures)

import omcache  # noqa: E402

_MISSING = tls_servers.missing()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason="SKIP TLS tests: {0}".format(_MISSING))

SLACK = float(os.environ.get("OMCACHE_TEST_SLACK", "1"))
CONNECT_TIMEOUT_MS = 1000


def make(servers, pki, **tls):
    tls.setdefault("tls_ca_file", pki.path("ca.crt"))
    mc = omcache.OMcache([s.address for s in servers], **tls)
    mc.connect_timeout = CONNECT_TIMEOUT_MS
    mc.io_timeout = 5000
    return mc


def fails_with(mc, words, within_ms=CONNECT_TIMEOUT_MS):
    begin = time.monotonic()
    with pytest.raises(omcache.CommandError) as raised:
        mc.set(b"key", b"secret value")
    elapsed = time.monotonic() - begin
    assert raised.value.status in (omcache.OMCACHE_SERVER_FAILURE, omcache.OMCACHE_NO_SERVERS)
    assert words in str(raised.value), str(raised.value)
    assert elapsed < within_ms / 1000.0 * SLACK + 0.5 * SLACK, elapsed
    return raised.value


def test_get_set_get_multi_over_tls(start, pki):
    servers = [start(), start()]
    mc = make(servers, pki)
    assert mc.tls is True
    assert mc.set(b"key", b"value", flags=7) == omcache.OMCACHE_OK
    assert mc.get(b"key", flags=True) == (b"value", 7)
    keys = [b"k%d" % i for i in range(50)]
    for k in keys:
        mc.set(k, k + b"!")
    assert mc.get_multi(keys + [b"missing"]) == {k: k + b"!" for k in keys}
    assert mc.increment(b"n", 5, initial=1) == 1
    assert mc.increment(b"n", 5) == 6
    big = b"x" * 300000
    mc.set(b"big", big)
    assert mc.get(b"big") == big
    mc.delete(b"key")
    with pytest.raises(omcache.NotFoundError):
        mc.get(b"key")
    assert all(mc.stat(server_index=i)[b"curr_items"] != b"0" for i in range(2))


def test_set_tls_method_and_server_name(start, pki):
    other = start(cert="other")
    mc = omcache.OMcache([other.address])
    assert mc.tls is False
    assert mc.set_tls(ca_file=pki.path("ca.crt"), server_name="other.example") == omcache.OMCACHE_OK
    assert mc.tls is True
    mc.set(b"key", b"value")
    assert mc.get(b"key") == b"value"
    # Plaintext again: a TLS server then fails (after the set_tls closed the TLS connection).
    mc.set_tls(False)
    assert mc.tls is False
    mc.connect_timeout = 500
    mc.dead_timeout = 500
    with pytest.raises(omcache.CommandError):
        mc.get(b"key", timeout=2000)


def test_mutual_tls(start, pki):
    server = start(require_client_cert=True)
    mc = make([server], pki, tls_cert=pki.path("client.crt"), tls_key=pki.path("client.key"))
    mc.set(b"key", b"value")
    assert mc.get_multi([b"key"]) == {b"key": b"value"}
    fails_with(make([server], pki), "refused the handshake")


def test_wrong_ca_fails_with_its_reason_in_the_log(start, pki, caplog):
    server = start()
    log = logging.getLogger("omcache-tls-test")
    log.setLevel(logging.DEBUG)
    mc = make([server], pki, tls_ca_file=pki.path("other-ca.crt"))
    mc.log = log
    with caplog.at_level(logging.DEBUG, logger="omcache-tls-test"):
        fails_with(mc, "unknown authority")
    assert any("TLS" in r.getMessage() for r in caplog.records), caplog.records


def test_name_mismatch_fails_with_its_reason(start, pki):
    server = start(cert="other")
    fails_with(make([server], pki), "not valid for the server's name")
    fails_with(make([server], pki, tls_server_name="wrong.example"), "not valid for the server's name")


def test_plaintext_server_refused_nothing_sent_in_clear(start, pki):
    plain = start(tls=False)
    mc = make([plain], pki)
    fails_with(mc, "does not speak TLS")
    # The server is now out of service (reconnect_timeout): no plaintext attempt either.
    with pytest.raises(omcache.CommandError):
        mc.get_multi([b"key"])
    with socket.create_connection(("127.0.0.1", plain.port), timeout=2) as s:
        s.sendall(b"stats\r\nquit\r\n")
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    stats = dict(line.split()[1:3] for line in reply.decode().splitlines() if line.startswith("STAT "))
    assert stats["cmd_set"] == "0" and stats["cmd_get"] == "0"


def test_dump_refuses_rather_than_plaintext(start, pki):
    server = start()
    mc = make([server], pki, tls_ca_file=pki.path("other-ca.crt"))
    with pytest.raises(omcache.CommandError):
        mc.get(b"key")
    good = make([server], pki)
    good.set(b"key", b"value")
    # The key listing has no TLS path: it reports the server as not listed.
    dumped = good.dump(timeout=2000)
    assert list(dumped) == [] and "TLS" in dumped.failures[0], dumped.failures


def test_bad_options(pki, tmp_path):
    with pytest.raises(OSError) as raised:
        omcache.OMcache(["127.0.0.1:1"], tls_ca_file=str(tmp_path / "missing.pem"))
    assert "missing.pem" in str(raised.value)
    with pytest.raises(ValueError):
        omcache.OMcache(["127.0.0.1:1"], tls_key=pki.path("client.key"))
    with pytest.raises(ValueError):
        omcache.OMcache(["127.0.0.1:1"], tls=False, tls_ca_file=pki.path("ca.crt"))
    mc = omcache.OMcache(["127.0.0.1:1"])
    with pytest.raises(ValueError):
        mc.set_tls(False, ca_file=pki.path("ca.crt"))
    assert mc.tls is False


def test_nothing_changes_without_tls_options(start, pki):
    plain = start(tls=False)
    mc = omcache.OMcache([plain.address])
    assert mc.tls is False
    mc.set(b"key", b"value")
    assert mc.get(b"key") == b"value"
    assert [k.key for k in mc.dump()] == [b"key"]
    assert omcache.OMcache([plain.address], tls=False).get(b"key") == b"value"


def test_over_tls_with_a_select_function(start, pki):
    # A select function other than select.select (as gevent users pass one) drives the
    # engine without blocking: the handshake is polled like any other I/O.
    import select

    calls = []

    def my_select(r, w, x, timeout):
        calls.append(timeout)
        return select.select(r, w, x, timeout)

    server = start()
    mc = omcache.OMcache([server.address], select=my_select, tls_ca_file=pki.path("ca.crt"))
    mc.set(b"key", b"value")
    assert mc.get(b"key") == b"value"
    assert mc.get_multi([b"key", b"other"]) == {b"key": b"value"}
    assert calls
    wrong = omcache.OMcache([server.address], select=my_select,
                            tls_ca_file=pki.path("other-ca.crt"))
    wrong.connect_timeout = CONNECT_TIMEOUT_MS
    fails_with(wrong, "unknown authority")


def test_handshake_timeout(pki):
    # A listener that accepts and never answers (fault injection).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        mc = omcache.OMcache(["127.0.0.1:{0}".format(listener.getsockname()[1])],
                             tls_ca_file=pki.path("ca.crt"))
        mc.connect_timeout = 300
        mc.io_timeout = 5000
        fails_with(mc, "handshake not finished", within_ms=300)
    finally:
        listener.close()
