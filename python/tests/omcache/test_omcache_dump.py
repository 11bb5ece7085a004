"""OMcache.dump(), the debugging aid listing every key with its expiry (issue 14), on real
memcached servers."""

import time

import pytest

import omcache


def store_all(oc, keys, expiration=0):
    """Stores every key through the send buffer (one flush), then checks they are there."""
    oc.buffering = True
    for k in keys:
        assert oc.set(k, "v", expiration=expiration, timeout=0) == omcache.OMCACHE_BUFFERED
    assert oc.flush(timeout=30000) == omcache.OMCACHE_OK
    oc.buffering = False


def test_ten_thousand_keys_on_three_servers(servers3):
    oc = omcache.OMcache([s.address for s in servers3])
    keys = ["dump-key-{0}".format(i) for i in range(10000)]
    # half the keys expire in 1000 seconds, the others never
    store_all(oc, keys[:5000], expiration=1000)
    store_all(oc, keys[5000:])
    t = time.time()
    dumped = oc.dump()
    assert isinstance(dumped, omcache.DumpResult) and isinstance(dumped, list)
    assert dumped.failures == {}
    assert dumped.methods == {0: "metadump", 1: "metadump", 2: "metadump"}
    assert dumped.complete
    assert len(dumped) == 10000
    by_key = {}
    for entry in dumped:
        assert isinstance(entry, omcache.DumpedKey)
        assert entry.key not in by_key, "listed twice"
        by_key[entry.key] = entry
    assert set(by_key) == {k.encode() for k in keys}
    per_server = [0, 0, 0]
    for i, k in enumerate(keys):
        entry = by_key[k.encode()]
        # listed by the server the client sends the key to
        assert entry.server_index == oc.server_index_for_key(k)
        per_server[entry.server_index] += 1
        if i < 5000:
            assert t + 1000 - 10 <= entry.expiry <= t + 1000 + 10, entry
        else:
            assert entry.expiry == -1
        assert entry.cas > 0 and entry.last_access > 0
    assert all(n > 2000 for n in per_server), per_server
    oc.free()


def test_dump_reports_a_dead_server(servers3):
    oc = omcache.OMcache([s.address for s in servers3])
    oc.connect_timeout = 1000
    keys = ["k{0}".format(i) for i in range(300)]
    store_all(oc, keys)
    dead = [port for _, port in oc.omc.servers()].index(servers3[0].port)
    servers3[0].kill()
    dumped = oc.dump(timeout=5000)
    assert list(dumped.failures) == [dead]
    assert "refused" in dumped.failures[dead]
    assert dumped.methods[dead] is None
    assert not dumped.complete
    listed = set(e.key for e in dumped)
    assert listed == {k.encode() for k in keys if oc.server_index_for_key(k) != dead}
    assert all(e.server_index != dead for e in dumped)
    assert len(listed) > 100


def test_dump_of_an_empty_cache_and_no_servers(server):
    oc = omcache.OMcache(server.address)
    dumped = oc.dump()
    assert dumped == [] and dumped.failures == {} and dumped.complete
    oc.set_servers([])
    assert oc.dump() == []


def test_dump_keys_that_need_encoding(mc):
    keys = [b"with%percent", b"\xff\xfe-binary", "\u00e4\u00f6".encode("utf-8"), b"plain"]
    for k in keys:
        mc.set(k, "v")
    assert sorted(e.key for e in mc.dump()) == sorted(keys)


def test_dump_is_documented():
    doc = omcache.OMcache.dump.__doc__
    assert "DEBUGGING AID" in doc and "not a consistent" in doc


def test_dump_with_select_hook(server):
    calls = []

    def sel(r, w, x, t):
        import select

        calls.append(t)
        return select.select(r, w, x, t)

    oc = omcache.OMcache(server.address, select=sel)
    oc.set("a", "b")
    assert [e.key for e in oc.dump()] == [b"a"]


@pytest.mark.parametrize("method", ["libmemcached_ketama_weighted", "libmemcached_ketama_pre1010"])
def test_dump_matches_placement_for_every_distribution(servers3, method):
    oc = omcache.OMcache([s.address for s in servers3])
    oc.set_distribution_method(method)
    keys = ["d{0}".format(i) for i in range(500)]
    store_all(oc, keys)
    dumped = oc.dump()
    assert len(dumped) == 500
    assert all(e.server_index == oc.server_index_for_key(e.key) for e in dumped)
