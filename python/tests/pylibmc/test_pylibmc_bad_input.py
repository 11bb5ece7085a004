"""Bad input gets the exception Debian's pylibmc raises for it."""

import pytest

BAD_KEYS = [1, 1.5, None, ["k"], object()]


@pytest.mark.parametrize("key", BAD_KEYS, ids=lambda k: type(k).__name__)
def test_pylibmc_non_str_keys(mc, key):
    with pytest.raises(TypeError):
        mc.get(key)
    with pytest.raises(TypeError):
        mc.set(key, 1)
    with pytest.raises(TypeError):
        mc.delete(key)
    with pytest.raises(TypeError):
        mc.incr(key)
    with pytest.raises(TypeError):
        mc.get_multi(["ok", key])


@pytest.mark.parametrize("key", ["k" * 251, "é" * 126, b"k" * 300], ids=["ascii", "utf8", "bytes"])
def test_pylibmc_overlong_keys(mc, key):
    for call in (lambda: mc.get(key), lambda: mc.set(key, 1), lambda: mc.get_multi([key]),
                 lambda: mc.set_multi({key: 1}), lambda: mc.add(key, 1),
                 lambda: mc.delete(key)):
        with pytest.raises(ValueError):
            call()


def test_pylibmc_longest_key(mc):
    key = "k" * 250
    assert mc.set(key, 1) is True
    assert mc.get(key) == 1
    assert mc.get_multi([key]) == {key: 1}


def test_pylibmc_huge_value(impl, mc):
    with pytest.raises(impl.TooBig):
        mc.set("huge", b"x" * (2 << 20))
    # The client stays usable.
    assert mc.set("small", 1) is True
    assert mc.get("small") == 1


def test_pylibmc_binary_keys_with_spaces(impl, servers):
    """The binary protocol carries any key bytes."""
    mc = impl.Client([servers[0].address], binary=True)
    for key in ("a b", "tab\tkey", "nl\nkey"):
        assert mc.set(key, key) is True
        assert mc.get(key) == key


def test_pylibmc_text_keys_with_spaces_refused(ours, servers):
    """Over text, a key with a space or control byte cannot be sent: refused before
    anything is written (Debian's pylibmc sends it and gets an error or a wrong answer)."""
    mc = ours.Client([servers[0].address])
    for key in ("a b", "nl\nkey"):
        with pytest.raises(ours.BadKeyProvided):
            mc.set(key, 1)
        with pytest.raises(ours.BadKeyProvided):
            mc.get(key)
    assert mc.set("fine", 1) is True


@pytest.mark.parametrize("spec,error", [
    ("127.0.0.1:abc", ValueError),
    ("[::1", ValueError),
    ("127.0.0.1:11211:x", ValueError),
    (1, AttributeError),
    ((9, "127.0.0.1", 11211), ValueError),
], ids=repr)
def test_pylibmc_bad_server_specs(impl, spec, error):
    with pytest.raises(error):
        impl.Client([spec])


def test_pylibmc_empty_server_list(impl):
    with pytest.raises(impl.Error):
        impl.Client([])


def test_pylibmc_server_spec_forms(impl, servers):
    from importlib import import_module
    client = import_module(impl.__name__ + ".client")
    assert client.translate_server_spec("127.0.0.1") == (1, "127.0.0.1", 11211, 1)
    assert client.translate_server_spec("127.0.0.1:22122:3") == (1, "127.0.0.1", 22122, 3)
    assert client.translate_server_spec("[::1]:22122:3") == (1, "::1", 22122, 3)
    assert client.translate_server_spec("[::1]") == (1, "::1", 11211, 1)
    assert client.translate_server_spec("/tmp/sock") == (4, "/tmp/sock", 0, 1)
    assert client.translate_server_spec("udp:127.0.0.1") == (2, "127.0.0.1", 11211, 1)
    port = servers[0].port
    mc = impl.Client([(1, "127.0.0.1", port)])
    assert mc.set("tuple", 1) is True


def test_pylibmc_unix_socket(impl, server_factory, tmp_path):
    path = tmp_path / "mc.sock"
    import os
    import subprocess
    import time
    import shutil
    cmd = [shutil.which("memcached") or "memcached", "-s", str(path), "-a", "0777"]
    if os.geteuid() == 0:
        cmd += ["-u", "root"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if path.exists():
                break
            time.sleep(0.02)
        mc = impl.Client([str(path)])
        assert mc.set("unix", "socket") is True
        assert mc.get("unix") == "socket"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("kwargs", [
    {"username": "u", "password": "p"},
    {"username": "u"},
    {"password": "p"},
], ids=repr)
def test_pylibmc_sasl_needs_binary(impl, servers, kwargs):
    with pytest.raises(TypeError):
        impl.Client([servers[0].address], **kwargs)


def test_pylibmc_sasl_needs_both(impl, servers):
    with pytest.raises(TypeError):
        impl.Client([servers[0].address], binary=True, username="u")


def test_pylibmc_bad_arguments(mc):
    with pytest.raises(TypeError):
        mc.set("k", 1, 1.5)
    with pytest.raises(ValueError):
        mc.set("k", 1, min_compress_len=1, compress_level=10)
    with pytest.raises(ValueError):
        mc.incr("k", -1)
    with pytest.raises(OverflowError):
        mc.incr("k", 2**64)


def test_a_key_too_long_only_with_its_prefix_is_a_bad_key(mc, impl):
    """The key alone fits; with the prefix it is over 250 bytes: libmemcached refuses it and
    pylibmc raises BadKeyProvided (a pylibmc.Error), not ValueError."""
    with pytest.raises(impl.BadKeyProvided):
        mc.get_multi(["k" * 249], key_prefix="ab")


def test_a_negative_min_compress_len_is_taken(mc, impl):
    """pylibmc takes min_compress_len=-1 (below every length: compressed when it helps)."""
    assert mc.set("neg-mcl", "v" * 1000, min_compress_len=-1) is True
    assert mc.get("neg-mcl") == "v" * 1000
