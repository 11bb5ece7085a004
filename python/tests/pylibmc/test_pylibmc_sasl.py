"""SASL PLAIN (username=/password= with binary=True) against a memcached started with -S,
on both implementations: what works and what each refusal raises."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import MEMCACHED, free_port

USER, PASSWORD = "omcuser", "omc-secret"


def _sasl_available():
    if shutil.which("saslpasswd2") is None:
        return False
    out = subprocess.run([MEMCACHED, "-h"], capture_output=True, text=True).stdout
    return "enable-sasl" in out or "\n-S" in out


@pytest.fixture(scope="module")
def sasl_server():
    if not _sasl_available():
        pytest.skip("saslpasswd2 (sasl2-bin) or a memcached with -S is missing")
    workdir = tempfile.mkdtemp(prefix="omcache-sasl-")
    os.chmod(workdir, 0o755)
    db = os.path.join(workdir, "sasldb2")
    subprocess.run(["saslpasswd2", "-a", "memcached", "-c", "-p", "-f", db, USER],
                   input=PASSWORD.encode(), check=True)
    with open(os.path.join(workdir, "memcached.conf"), "w") as f:
        f.write(f"mech_list: plain\nsasldb_path: {db}\n")
    port = free_port()
    cmd = [MEMCACHED, "-S", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", "1"]
    if os.geteuid() == 0:
        cmd += ["-u", "nobody"]
        shutil.chown(db, user="nobody")
    proc = subprocess.Popen(cmd, env={**os.environ, "SASL_CONF_PATH": workdir},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("memcached -S did not start")
            time.sleep(0.02)
    yield f"127.0.0.1:{port}"
    proc.kill()
    proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)


def test_pylibmc_sasl_store_and_read(impl, sasl_server):
    mc = impl.Client([sasl_server], binary=True, username=USER, password=PASSWORD)
    assert mc.set("sasl:k", "v1")
    assert mc.get("sasl:k") == "v1"
    assert mc.get_multi(["sasl:k", "sasl:none"]) == {"sasl:k": "v1"}
    assert mc.incr("sasl:n", 1) if mc.set("sasl:n", 1) else False
    assert mc.get("sasl:n") == 2
    clone = mc.clone()
    assert clone.get("sasl:k") == "v1"


def test_pylibmc_sasl_credentials_as_bytes(ours, sasl_server):
    mc = ours.Client([sasl_server], binary=True, username=USER.encode(), password=PASSWORD.encode())
    assert mc.set("sasl:b", b"x")
    assert mc.get("sasl:b") == b"x"


@pytest.mark.parametrize("user,password", [(USER, "wrong"), ("nobody-here", PASSWORD)],
                         ids=["wrong-password", "unknown-user"])
def test_pylibmc_sasl_refused_alike(debian, ours, sasl_server, user, password):
    """A refused login raises the same exception class on both implementations."""
    raised = []
    for mod in (debian, ours):
        mc = mod.Client([sasl_server], binary=True, username=user, password=password)
        with pytest.raises(mod.Error) as info:
            mc.set("sasl:refused", "v")
        raised.append(type(info.value).__name__)
    assert raised[0] == raised[1]


def test_pylibmc_sasl_without_credentials_stores_nothing(ours, sasl_server):
    mc = ours.Client([sasl_server], binary=True)
    with pytest.raises(ours.Error):
        mc.set("sasl:anon", "v")
    good = ours.Client([sasl_server], binary=True, username=USER, password=PASSWORD)
    assert good.get("sasl:anon") is None
