"""set_multi / set when a request fails hard (a value the server refuses as too big, a
server that cannot be reached), Debian's python3-pylibmc 1.6 and ours in the same run.

pylibmc 1.6 stores a mapping one key at a time, in the mapping's order: a soft failure
(NOT_STORED, DATA_EXISTS, ...) puts the key in the returned list, the first hard failure
stops the loop and raises that error (no key in its message); keys after it are never sent.
Ours sends the whole mapping pipelined (one batch per server), so the keys after a hard
failure that their servers accept are stored: the exception raised is the same (the first
hard failure in the mapping's order), only that side effect differs."""

import socket

import pytest

BIG = b"x" * (2 << 20)  # over memcached's default 1 MiB item size


def dead_address():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def test_pylibmc_too_big_without_message(impl, mc):
    """TooBig (MEMCACHED_E2BIG) carries no message in pylibmc: args is ()."""
    with pytest.raises(impl.TooBig) as e:
        mc.set("big", BIG)
    assert e.value.args == ()
    with pytest.raises(impl.TooBig) as e:
        mc.set_multi({"big": BIG})
    assert e.value.args == ()
    assert mc.get("big") is None


def is_debian(impl):
    return impl.__name__ == "pylibmc"


def test_pylibmc_set_multi_too_big_in_the_middle(impl, mc):
    mapping = {"m:a": b"1", "m:big": BIG, "m:c": b"3"}
    with pytest.raises(impl.TooBig):
        mc.set_multi(mapping)
    assert mc.get("m:a") == b"1"
    assert mc.get("m:big") is None
    # The one difference: pylibmc never sends the keys after the failure.
    assert mc.get("m:c") == (None if is_debian(impl) else b"3")


def test_pylibmc_set_multi_soft_failures_listed(impl, mc):
    assert mc.set("s:taken", b"old") is True
    failed = mc.add_multi({"s:taken": b"new", "s:free": b"new"})
    assert failed == ["s:taken"]
    assert mc.get("s:taken") == b"old"
    assert mc.get("s:free") == b"new"


def test_pylibmc_set_multi_dead_server(impl, servers, binary):
    """Two servers, the second unreachable: the first key routed to it raises
    ConnectionError; keys of the live server before it are stored by both."""
    live = servers[1]
    mc = impl.Client([live.address, dead_address()], binary=binary)
    check = impl.Client([live.address], binary=binary)
    # k0 goes to the live server, k1 to the dead one (default hash, modula).
    keys = [f"k{i}" for i in range(16)]
    for k in keys:
        check.delete(k)
    with pytest.raises(impl.ConnectionError):
        mc.set_multi({k: b"v" for k in keys})
    stored = [k for k in keys if check.get(k) is not None]
    assert stored, "no key went to the live server"
    # The keys before the first one the live server did not get were all stored.
    first_missing = next(i for i, k in enumerate(keys) if k not in stored)
    assert stored[:first_missing] == keys[:first_missing]
    if is_debian(impl):
        assert stored == keys[:first_missing]
    else:
        assert len(stored) > first_missing
