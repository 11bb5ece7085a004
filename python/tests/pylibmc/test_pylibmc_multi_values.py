"""get_multi's values, read where the client received them: big values over several
receive buffers, every value type, and calls one after another on one client (each call's
values must not be disturbed by the next), Debian's python3-pylibmc and ours alike."""

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
