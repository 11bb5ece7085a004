"""Behaviors: names, defaults, side effects and refusals as Debian's pylibmc has them."""

import pytest

# The kernel's socket buffer sizes (pylibmc asks a connected socket; we report what was set).
UNCOMPARED = {"_socket_send_size", "_socket_recv_size"}

SETTINGS = [
    ("no_block", 1), ("tcp_nodelay", 1), ("tcp_keepalive", 1), ("hash", "md5"),
    ("ketama_hash", 1), ("ketama", 1), ("ketama_weighted", 1),
    ("distribution", "consistent ketama"), ("distribution", "consistent"),
    ("distribution", "random"), ("cas", 1), ("buffer_requests", 1), ("verify_keys", 1),
    ("connect_timeout", 1234), ("send_timeout", 2000000), ("receive_timeout", 3000000),
    ("num_replicas", 1), ("auto_eject", 1), ("retry_timeout", 7), ("remove_failed", 3),
    ("failure_limit", 9), ("_io_msg_watermark", 10), ("_io_bytes_watermark", 20),
    ("_io_key_prefetch", 30), ("_hash_with_prefix_key", 1), ("_noreply", 1),
    ("_sort_hosts", 1), ("_poll_timeout", 900), ("dead_timeout", 4), ("pickle_protocol", 2),
    ("_retry_timeout", 5),
]


def comparable(b):
    return {k: v for k, v in b.items() if k not in UNCOMPARED}


def test_pylibmc_default_behaviors(debian, ours, servers, binary):
    deb = debian.Client([servers[0].address], binary=binary).behaviors
    own = ours.Client([servers[0].address], binary=binary).behaviors
    assert list(own) == list(deb)
    assert comparable(own) == comparable(deb)
    assert own["distribution"] == "modula" and own["hash"] == "default"


@pytest.mark.parametrize("name,value", SETTINGS, ids=lambda x: str(x))
def test_pylibmc_each_behavior(debian, ours, servers, binary, name, value):
    results = []
    for mod in (debian, ours):
        mc = mod.Client([servers[0].address], binary=binary)
        try:
            mc.behaviors = {name: value}
            results.append(comparable(mc.behaviors))
        except Exception as e:  # the same refusal on both
            results.append(type(e).__name__)
    assert results[1] == results[0]


@pytest.mark.parametrize("name,value", SETTINGS, ids=lambda x: str(x))
def test_pylibmc_each_behavior_in_constructor(debian, ours, servers, name, value):
    results = []
    for mod in (debian, ours):
        try:
            mc = mod.Client([servers[0].address], behaviors={name: value})
            results.append(comparable(mc.get_behaviors()))
        except Exception as e:
            results.append(type(e).__name__)
    assert results[1] == results[0]


def test_pylibmc_behavior_dict_writes_through(impl, servers):
    mc = impl.Client([servers[0].address])
    b = mc.behaviors
    b["tcp_nodelay"] = 1
    assert mc.behaviors["tcp_nodelay"] == 1
    b["distribution"] = "consistent ketama"
    assert mc.behaviors["ketama"] == 1


@pytest.mark.parametrize("bad,error", [
    ({"bogus": 1}, ValueError),
    ({"hash": "bogus"}, KeyError),
    ({"distribution": "bogus"}, KeyError),
    ({"tcp_nodelay": "x"}, TypeError),
    ({"tcp_nodelay": None}, TypeError),
], ids=repr)
def test_pylibmc_bad_behaviors(impl, servers, bad, error):
    mc = impl.Client([servers[0].address])
    with pytest.raises(error):
        mc.behaviors = bad
    with pytest.raises(error):
        impl.Client([servers[0].address], behaviors=bad)


def test_pylibmc_refused_behavior_value(impl, servers):
    mc = impl.Client([servers[0].address])
    with pytest.raises(impl.Error):
        mc.behaviors = {"failure_limit": 0}


def test_pylibmc_behaviours_spelling(impl, servers):
    with pytest.raises(AttributeError):
        impl.Client([servers[0].address]).behaviours


def test_pylibmc_namespace(ours, servers, binary):
    """The namespace goes in front of every key on the wire, and is not hashed unless
    _hash_with_prefix_key. (Debian's pylibmc 1.6.3 hands libmemcached a pointer into a
    freed string here: its keys get a garbage prefix, so it is not the reference.)"""
    one = [servers[0].address]
    mc = ours.Client(one, binary=binary, behaviors={"namespace": "ns:"})
    plain = ours.Client(one, binary=binary)
    mc.flush_all()
    mc.set("k", "v")
    assert plain.get("ns:k") == "v"
    assert mc.get("k") == "v"
    assert mc.get_multi(["k"]) == {"k": "v"}
    assert mc.set_multi({"m": 1}, key_prefix="p_") == []
    assert plain.get("ns:p_m") == 1
    assert mc.delete("k") is True

    specs = [s.address for s in servers]
    keys = [f"n{i}" for i in range(100)]
    singles = [ours.Client([s.address], binary=binary) for s in servers]
    for hashed in (0, 1):
        mc = ours.Client(specs, binary=binary,
                         behaviors={"namespace": "ns:", "_hash_with_prefix_key": hashed})
        plain = ours.Client(specs, binary=binary)
        mc.flush_all()
        assert [mc.hash(k) for k in keys] == [plain.hash(("ns:" if hashed else "") + k)
                                              for k in keys]
        mc.set_multi({k: k for k in keys})
        for k in keys:
            assert singles[mc.hash(k)].get("ns:" + k) == k


def test_pylibmc_pickle_protocol(impl, servers):
    import pickle
    mc = impl.Client([servers[0].address], behaviors={"pickle_protocol": 2})
    data, flags = mc.serialize([1, 2])
    assert flags == 1 and data[:2] == b"\x80\x02" and pickle.loads(data) == [1, 2]


def test_pylibmc_timeouts_apply(ours, server_factory):
    """_poll_timeout bounds a wait for a server that accepts but never answers."""
    import socket
    import time
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        mc = ours.Client([f"127.0.0.1:{port}"], behaviors={"_poll_timeout": 300,
                                                           "connect_timeout": 300})
        start = time.monotonic()
        with pytest.raises(ours.Error):
            mc.get("k")
        assert time.monotonic() - start < 2.0
    finally:
        listener.close()
