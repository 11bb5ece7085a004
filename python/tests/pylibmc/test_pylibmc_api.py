"""Every method of the client, run on Debian's pylibmc (the reference) and on
omcache.pylibmc against the same real memcached, text and binary protocol."""

import pickle

import pytest

VALUES = [
    b"bytes\x00\xff",
    b"",
    "text ünïcode",
    "",
    0,
    -17,
    2**63 - 1,
    2**70,
    -(2**70),
    1.5,
    None,
    [1, "two", b"three"],
    {"a": (1, 2)},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_pylibmc_set_get_roundtrip(mc, value):
    assert mc.set("k", value) is True
    got = mc.get("k")
    assert got == value
    assert type(got) is type(value)


def test_pylibmc_bools_read_back_as_ints(mc):
    assert mc.set("t", True)
    got = mc.get("t")
    assert got == 1 and type(got) is int
    assert mc.set("f", False)
    got = mc.get("f")
    assert got == 0 and type(got) is int


def test_pylibmc_get_default_and_missing(mc):
    assert mc.get("missing") is None
    sentinel = object()
    assert mc.get("missing", sentinel) is sentinel
    assert mc.get("") is None


def test_pylibmc_str_and_bytes_keys_are_the_same_key(mc):
    mc.set("samekey", 1)
    assert mc.get(b"samekey") == 1
    mc.set("ключ", 2)
    assert mc.get("ключ".encode()) == 2


def test_pylibmc_add_replace_append_prepend(impl, mc, binary):
    assert mc.add("a", "x") is True
    assert mc.add("a", "y") is False
    assert mc.get("a") == "x"
    assert mc.replace("a", "z") is True
    assert mc.get("a") == "z"
    assert mc.append("a", "1") is True
    assert mc.prepend("a", "0") is True
    assert mc.get("a") == "0z1"
    assert mc.append("missing", "x") is False
    assert mc.prepend("missing", "x") is False
    if binary:
        # libmemcached reports the server's NOT_FOUND for a binary replace; pylibmc raises.
        with pytest.raises(impl.NotFound):
            mc.replace("missing", "x")
    else:
        assert mc.replace("missing", "x") is False
    assert mc.set("", 1) is False


def test_pylibmc_cas_and_gets(impl, servers, binary):
    plain = impl.Client([servers[0].address], binary=binary)
    with pytest.raises(ValueError):
        plain.gets("k")
    with pytest.raises(ValueError):
        plain.cas("k", 1, 1)
    mc = impl.Client([servers[0].address], binary=binary, behaviors={"cas": True})
    mc.flush_all()
    assert mc.gets("k") == (None, None)
    mc.set("k", "v1")
    value, cas = mc.gets("k")
    assert value == "v1" and isinstance(cas, int) and cas > 0
    assert mc.cas("k", "v2", cas) is True
    assert mc.get("k") == "v2"
    assert mc.cas("k", "v3", cas) is False
    assert mc.get("k") == "v2"


def test_pylibmc_delete(mc):
    mc.set("d", 1)
    assert mc.delete("d") is True
    assert mc.delete("d") is False
    assert mc.get("d") is None


def test_pylibmc_incr_decr(impl, mc, binary):
    mc.set("n", 10)
    assert mc.incr("n") == 11
    assert mc.incr("n", 5) == 16
    assert mc.decr("n", 6) == 10
    assert mc.decr("n", 100) == 0
    assert mc.get("n") == 0
    mc.set("b", b"41")
    assert mc.incr("b") == 42
    with pytest.raises(ValueError):
        mc.incr("n", -1)
    with pytest.raises(ValueError):
        mc.decr("n", -1)
    with pytest.raises(impl.NotFound):
        mc.incr("missing")
    mc.set("s", "abc")
    expected = impl.UnknownReadFailure if binary else impl.ClientError
    with pytest.raises(expected):
        mc.incr("s")


def test_pylibmc_incr_multi(mc):
    mc.set_multi({"a": 1, "b": 2}, key_prefix="c_")
    assert mc.incr_multi(["a", "b"], key_prefix="c_", delta=10) is None
    assert mc.get_multi(["a", "b"], key_prefix="c_") == {"a": 11, "b": 12}


def test_pylibmc_touch(mc):
    mc.set("t", 1)
    assert mc.touch("t", 100) is True
    assert mc.touch("missing", 100) is False
    assert mc.get("t") == 1


def test_pylibmc_expiration(mc):
    import time
    mc.set("e", 1, time=1)
    assert mc.get("e") == 1
    time.sleep(2.1)
    assert mc.get("e") is None


def test_pylibmc_get_multi(mc):
    assert mc.get_multi([]) == {}
    mc.set("s", "str")
    mc.set(b"b", b"bytes")
    got = mc.get_multi(["s", b"b", "missing", ""])
    assert got == {"s": "str", b"b": b"bytes"}
    assert type(list(got)[0]) in (str, bytes)
    keys = [f"key{i}" for i in range(150)]
    assert mc.set_multi({k: i for i, k in enumerate(keys)}) == []
    assert mc.get_multi(keys) == {k: i for i, k in enumerate(keys)}


def test_pylibmc_multi_with_prefix(mc):
    assert mc.set_multi({"a": 1, b"b": 2}, key_prefix="p_") == []
    assert mc.get("p_a") == 1 and mc.get(b"p_b") == 2
    assert mc.get_multi(["a", b"b", "c"], key_prefix="p_") == {"a": 1, b"b": 2}
    assert mc.get_multi(["a"], key_prefix=b"p_") == {"a": 1}
    assert mc.delete_multi(["a", b"b"], key_prefix="p_") is True
    assert mc.get_multi(["a", b"b"], key_prefix="p_") == {}


def test_pylibmc_add_multi_and_delete_multi(mc):
    mc.set("x", 1)
    failed = mc.add_multi({"x": 2, "y": 3})
    assert failed == ["x"]
    assert mc.get_multi(["x", "y"]) == {"x": 1, "y": 3}
    assert mc.delete_multi(["x", "y"]) is True
    assert mc.delete_multi(["x", "nonexistent"]) is False


def test_pylibmc_dict_interface(mc):
    mc["k"] = "v"
    assert mc["k"] == "v"
    assert "k" in mc
    assert "nope" not in mc
    with pytest.raises(KeyError):
        mc["nope"]
    del mc["k"]
    with pytest.raises(KeyError):
        del mc["k"]


def test_pylibmc_stats_flush_disconnect(impl, servers, binary):
    mc = impl.Client([s.address for s in servers], binary=binary)
    stats = mc.get_stats()
    assert [name for name, _ in stats] == [
        f"{s.address} ({i})".encode() for i, s in enumerate(servers)]
    for _, d in stats:
        # Names are str, values bytes (as pylibmc hands them out).
        assert isinstance(d["pid"], bytes) and int(d["pid"]) > 0
        assert "curr_items" in d
    slabs = mc.get_stats("slabs")
    assert len(slabs) == 3
    mc.set_multi({f"f{i}": i for i in range(20)})
    assert mc.flush_all() is True
    assert mc.get_multi([f"f{i}" for i in range(20)]) == {}
    mc.disconnect_all()
    assert mc.set("after", 1) is True
    assert mc.get("after") == 1


def test_pylibmc_repr_and_str(impl, servers):
    mc = impl.Client([servers[0].address], binary=True)
    assert repr(mc) == f"Client([{servers[0].address!r}], binary=True)"
    assert str(mc) == f"<Client for {servers[0].address}, binary=True>"


def test_pylibmc_clone(impl, servers, binary):
    mc = impl.Client([servers[0].address], binary=binary,
                     behaviors={"ketama": True, "cas": True})
    copy = mc.clone()
    assert type(copy) is type(mc)
    assert copy is not mc
    assert copy.behaviors == mc.behaviors
    assert copy.addresses == mc.addresses and copy.binary == mc.binary
    copy.set("c", 1)
    assert mc.get("c") == 1


def test_pylibmc_subclass_serialize(impl, servers, binary):
    class Reversing(impl.Client):
        def serialize(self, value):
            return (repr(value).encode()[::-1], 0x100)

        def deserialize(self, data, flags):
            return ("deserialized", data[::-1], flags)

    mc = Reversing([servers[0].address], binary=binary)
    mc.flush_all()
    assert mc.set("s", [1, 2]) is True
    assert mc.get("s") == ("deserialized", b"[1, 2]", 0x100)
    assert mc.get_multi(["s"]) == {"s": ("deserialized", b"[1, 2]", 0x100)}
    assert type(mc.clone()) is Reversing
    assert mc.clone().get("s") == ("deserialized", b"[1, 2]", 0x100)

    class Bad(impl.Client):
        def serialize(self, value):
            return b"no flags"

    with pytest.raises(ValueError):
        Bad([servers[0].address], binary=binary).set("x", 1)


def test_pylibmc_native_serialize_and_deserialize(impl, servers):
    mc = impl.Client([servers[0].address])
    assert mc.serialize(b"x") == (b"x", 0)
    assert mc.serialize("x") == (b"x", 16)
    assert mc.serialize(True) == (b"1", 2)
    assert mc.serialize(False) == (b"0", 2)
    assert mc.serialize(5) == (b"5", 4)
    assert mc.serialize(-5) == (b"-5", 4)
    assert mc.serialize(2**70) == (str(2**70).encode(), 4)
    data, flags = mc.serialize([1])
    assert flags == 1 and pickle.loads(data) == [1]
    assert mc.deserialize(b"1", 2) == 1
    assert mc.deserialize(b"7", 4) == 7
    assert mc.deserialize(b"t", 16) == "t"
    assert mc.deserialize(b"raw", 0) == b"raw"
    assert mc.deserialize(b"raw", 64) == b"raw"
    with pytest.raises(impl.Error):
        mc.deserialize(b"x", 3)


@pytest.mark.parametrize("value", [b"a" * 1000, "b" * 1000, list(range(300))], ids=type)
def test_pylibmc_compression(impl, mc, value):
    assert mc.set("z", value, min_compress_len=10) is True
    assert mc.get("z") == value
    assert mc.set("z2", value, min_compress_len=10, compress_level=9) is True
    assert mc.get("z2") == value
    with pytest.raises(ValueError):
        mc.set("z3", value, min_compress_len=10, compress_level=11)
    assert mc.set_multi({"z4": value}, min_compress_len=10) == []
    assert mc.get("z4") == value


def test_pylibmc_module_surface(ours, debian):
    """Every public name of Debian's pylibmc exists in ours, constants with equal values."""
    for name in dir(debian):
        if name.startswith("__") and name != "__version__":
            continue
        assert hasattr(ours, name), name
    native_ours = ours._pylibmc if hasattr(ours, "_pylibmc") else None
    import _pylibmc as native_debian
    from omcache import _pylibmc as native_ours
    for name in dir(native_debian):
        if name.startswith(("hash_", "distribution_", "server_type_", "callback_")):
            assert getattr(native_ours, name) == getattr(native_debian, name), name
    assert native_ours.all_behaviors == native_debian.all_behaviors
    assert native_ours.all_callbacks == native_debian.all_callbacks
    assert ours.hashers == debian.hashers
    assert ours.distributions == debian.distributions
    assert ours.__version__ == debian.__version__
    for sub in ("client", "consts", "pools", "autoconf", "test"):
        __import__(f"omcache.pylibmc.{sub}")


def test_pylibmc_exceptions(ours, debian):
    from omcache import _pylibmc as native_ours
    import _pylibmc as native_debian
    assert [n for n, _ in native_ours.exceptions] == [n for n, _ in native_debian.exceptions]
    for (name, ours_cls), (_, deb_cls) in zip(native_ours.exceptions, native_debian.exceptions):
        assert getattr(ours_cls, "retcode", None) == getattr(deb_cls, "retcode", None), name
        assert getattr(ours, name) is ours_cls
        assert getattr(ours.consts, name) is ours_cls
        if name != "Error":
            assert ours_cls.__bases__ == (ours.Error,)
    assert ours.Error is ours.MemcachedError
    assert issubclass(ours.Error, Exception)
    assert ours.CacheMiss is not ours.NotFound
    assert ours.consts.errors == tuple(c for _, c in native_ours.exceptions)
    assert len(ours.consts.errors) == len(debian.consts.errors)


def test_pylibmc_dump_lists_every_key(ours, servers, binary):
    mc = ours.Client([s.address for s in servers], binary=binary)
    mc.flush_all()
    keys = [f"dump:{i}" for i in range(500)]
    mc.set_multi({k: i for i, k in enumerate(keys)})
    assert sorted(mc.dump()) == sorted(k.encode() for k in keys)
