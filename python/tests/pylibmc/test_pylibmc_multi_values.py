"""get_multi's values: big values over several receive buffers, every value type, calls one
after another on one client (each call's values must not be disturbed by the next), and
batches larger than the engine queues in one call, Debian's python3-pylibmc and ours
alike."""

import pickle

import pytest


def pattern(i, size):
    unit = bytes([(i * 7 + j) % 251 for j in range(251)])
    return (unit * (size // len(unit) + 1))[:size]


@pytest.mark.parametrize("size", [10, 40_000, 700_000], ids=["small", "40k", "700k"])
def test_pylibmc_get_multi_values_intact(mc, size):
    values = {f"mv:{size}:{i}": pattern(i, size) for i in range(12)}
    assert mc.set_multi(values) == []
    got = mc.get_multi(list(values) + ["mv:missing"])
    assert got == values
    # Again on the same client: the second answer lands where the first was read.
    again = mc.get_multi(list(reversed(values)))
    assert again == values
    assert got == values


def test_pylibmc_get_multi_every_type(mc):
    values = {
        "t:bytes": b"\x00\xffraw",
        "t:str": "h\u00e9llo",
        "t:int": 12345678901234567890,
        "t:neg": -5,
        "t:bool": True,
        "t:pickled": {"a": [1, 2, 3]},
        "t:big-str": "x" * 300_000,
    }
    assert mc.set_multi(values) == []
    assert mc.set("t:zlib", b"z" * 100_000, min_compress_len=1) is True
    got = mc.get_multi(list(values) + ["t:zlib"])
    assert got == {**values, "t:zlib": b"z" * 100_000}
    assert got["t:bool"] == 1


def test_pylibmc_get_multi_deserialize_uses_the_client(impl, servers, binary):
    """A subclass's deserialize may call the client while get_multi's values are turned
    into objects: the values still to be deserialized were taken before."""

    class Client(impl.Client):
        def deserialize(self, data, flags):
            if flags == 1:
                self.get("d:other")
                return pickle.loads(data)
            return super().deserialize(data, flags)

    mc = Client([servers[0].address], binary=binary)
    mc.set("d:other", b"o")
    values = {f"d:{i}": {"n": i} for i in range(20)}
    assert mc.set_multi(values) == []
    assert mc.get_multi(list(values)) == values


def test_pylibmc_batches_larger_than_one_send_buffer(ours, servers, binary):
    """120,000 values of 100 bytes (about 15 MB of requests, over the 10 MiB the engine
    queues per server in one call; the values of a get_multi are over the 8 MiB the engine
    keeps for values handed out in one call): every multi call does it all, in chunks, as
    pylibmc's one-at-a-time loops do. Ours only: Debian's pylibmc does the same in 35-60 s
    here (one request at a time), ours in under a second."""
    mc = ours.Client([servers[0].address], binary=binary)
    keys = [f"huge:{i}" for i in range(120_000)]
    value = b"v" * 100
    assert mc.set_multi(dict.fromkeys(keys, value)) == []
    got = mc.get_multi(keys)
    assert len(got) == len(keys)
    assert all(v == value for v in got.values())
    assert mc.delete_multi(keys) is True
    assert mc.get_multi(keys[:1000] + keys[-1000:]) == {}


def test_pylibmc_values_past_one_mebibyte(impl, server_factory, binary):
    """memcached -I raises its item limit (up to 1 GiB); pylibmc stores and reads such values
    whole, one at a time and in multi calls. Ours refused gets past 1 MiB (OMcache's receive
    limit) and sets past 10 MiB (the engine's per-server queue)."""
    server = server_factory("-I", "32m", "-m", "256")
    mc = impl.Client([server.address], binary=binary)
    sizes = [2_000_000, 12_000_000]
    for i, size in enumerate(sizes):
        value = pattern(i, size)
        assert mc.set(f"huge:{size}", value)
        assert mc.get(f"huge:{size}") == value
    values = {f"huge:multi:{i}": pattern(i + 2, size) for i, size in enumerate(sizes)}
    assert mc.set_multi(values) == []
    assert mc.get_multi(list(values)) == values


def test_pylibmc_compressed_values_are_inflated_before_deserialize(impl, servers, binary):
    """pylibmc inflates a compressed value (flag 8) before any deserialize, a subclass's
    included; its own deserialize ignores the compression bit; a value flagged compressed that
    does not inflate is pylibmc's Error (ours passed the raw zlib bytes to a subclass and
    raised zlib.error)."""

    class Custom(impl.Client):
        def deserialize(self, data, flags):
            return flags, data[:4]

    plain = impl.Client([servers[0].address], binary=binary)
    assert plain.set("cz", "x" * 200, min_compress_len=10)
    assert plain.get("cz") == "x" * 200
    assert Custom([servers[0].address], binary=binary).get("cz") == (24, b"xxxx")
    assert plain.deserialize(b"abc", 8) == b"abc"
    raw = impl.Client([servers[0].address], binary=binary)

    class Raw(impl.Client):
        def serialize(self, value):
            return value, 8

    assert Raw([servers[0].address], binary=binary).set("cz-bad", b"not zlib")
    with pytest.raises(impl.Error):
        raw.get("cz-bad")
