"""omcache.OMcache with bad input: keys and values of the wrong type, keys over memcached's
250 bytes, values over the server's item size or the send buffer, numbers out of range, bad
server lists.  None of it breaks the client for the calls that follow."""

import pytest

import omcache

NOT_BYTES = [1, 1.5, None, ["k"], {"k": 1}, object()]


@pytest.mark.parametrize("key", NOT_BYTES, ids=lambda k: type(k).__name__)
def test_keys_must_be_bytes_or_str(mc, key):
    calls = [
        lambda: mc.set(key, "v"),
        lambda: mc.add(key, "v"),
        lambda: mc.replace(key, "v"),
        lambda: mc.append(key, "v"),
        lambda: mc.prepend(key, "v"),
        lambda: mc.get(key),
        lambda: mc.delete(key),
        lambda: mc.touch(key, 1),
        lambda: mc.increment(key),
        lambda: mc.decrement(key),
        lambda: mc.get_multi(["ok", key]),
        lambda: mc.server_index_for_key(key),
    ]
    for call in calls:
        with pytest.raises(TypeError):
            call()
    mc.set("ok", "fine")
    assert mc.get("ok") == b"fine"


@pytest.mark.parametrize("value", [1, None, 2.5, ["v"]], ids=lambda v: type(v).__name__)
def test_values_must_be_bytes_or_str(mc, value):
    for call in (mc.set, mc.add, mc.replace, mc.append, mc.prepend):
        with pytest.raises(TypeError):
            call("k", value)
    with pytest.raises(omcache.NotFoundError):
        mc.get("k")


def test_key_lengths(mc):
    longest = "k" * 250
    assert mc.set(longest, "v") == 0
    assert mc.get(longest) == b"v"
    for key in ("k" * 251, "\u00e4" * 126, b"x" * 10000, "", b""):
        for call in (
            lambda: mc.set(key, "v"),
            lambda: mc.get(key),
            lambda: mc.delete(key),
            lambda: mc.increment(key, 1, initial=0),
            lambda: mc.touch(key, 1),
        ):
            with pytest.raises(omcache.CommandError) as e:
                call()
            assert e.value.status == omcache.OMCACHE_INVALID
            assert str(e.value).endswith(": Invalid parameters")
    # in a multi-get an invalid key is simply not found; the others are
    assert mc.get_multi([longest, "k" * 251, ""]) == {longest.encode(): b"v"}


def test_huge_values(mc):
    almost = b"x" * (1000 * 1000)
    assert mc.set("big", almost) == 0
    assert mc.get("big") == almost
    # over memcached's 1 MiB item size: the server's answer
    with pytest.raises(omcache.TooLargeValueError) as e:
        mc.set("big", b"y" * (2 * 1024 * 1024))
    assert e.value.status == omcache.OMCACHE_TOO_LARGE_VALUE
    # memcached drops the old item rather than keep a stale one
    with pytest.raises(omcache.NotFoundError):
        mc.get("big")
    mc.set("big", almost)
    # over the 10 MiB send buffer: refused before anything is sent
    with pytest.raises(omcache.CommandError) as e:
        mc.set("big", b"z" * (11 * 1024 * 1024))
    assert e.value.status == omcache.OMCACHE_BUFFER_FULL
    assert mc.get("big") == almost
    # an append that would make the item too large: memcached 1.6 says "not stored"
    with pytest.raises((omcache.TooLargeValueError, omcache.NotStoredError)):
        mc.append("big", b"a" * (200 * 1024))
    mc.set("big", almost)
    mc.set("small", "s")
    assert mc.get_multi(["big", "small"]) == {b"big": almost, b"small": b"s"}


def test_numbers_out_of_range(mc):
    for kwargs in ({"flags": -1}, {"flags": 2**32}, {"expiration": -1}, {"expiration": 2**32}, {"cas": -1},
                   {"cas": 2**64}):  # fmt: skip
        with pytest.raises(OverflowError):
            mc.set("k", "v", **kwargs)
    for kwargs in ({"flags": "1"}, {"expiration": 1.5}, {"cas": None}):
        with pytest.raises(TypeError):
            mc.set("k", "v", **kwargs)
    with pytest.raises(OverflowError):
        mc.touch("k", -5)
    with pytest.raises(OverflowError):
        mc.increment("k", 1, initial=-1)
    with pytest.raises(OverflowError):
        mc.increment("k", 1, initial=0, expiration=2**32)
    with pytest.raises(TypeError):
        mc.noop("0")
    with pytest.raises(TypeError):
        mc.stat("", "0")
    with pytest.raises(TypeError):
        mc.stat(5)
    mc.set("k", "v", flags=2**32 - 1, expiration=0)
    assert mc.get("k", flags=True) == (b"v", 2**32 - 1)


@pytest.mark.parametrize(
    "servers",
    ["", " , ,", "foo:bar", "127.0.0.1:99999", "127.0.0.1:0", "[::1", "[not-ipv6]:1", ":11211",
     "no-such-host.invalid:11211", []],
)  # fmt: skip
def test_server_lists_without_a_usable_server(servers):
    oc = omcache.OMcache(servers)
    # A name lookup (no-such-host.invalid) may be slow where DNS is: the connect timeout,
    # not the call's, ends it.
    oc.connect_timeout = 2000
    oc.io_timeout = -1
    for call in (lambda: oc.set("k", "v"), lambda: oc.get("k"), lambda: oc.increment("k", 1, initial=0)):
        with pytest.raises(omcache.CommandError) as e:
            call()
        assert e.value.status in (omcache.OMCACHE_NO_SERVERS, omcache.OMCACHE_SERVER_FAILURE)
    with pytest.raises(omcache.CommandError) as e:
        oc.noop(0)
    assert e.value.status == omcache.OMCACHE_NO_SERVERS
    with pytest.raises(omcache.CommandError) as e:
        oc.get_multi(["a", "b"])
    assert e.value.status == omcache.OMCACHE_NO_SERVERS
    oc.free()


def test_bad_entries_beside_good_ones(server):
    oc = omcache.OMcache([server.address, "foo:bar", "127.0.0.1:99999", "[::1"])
    keys = ["k{0}".format(i) for i in range(100)]
    for k in keys:
        try:
            oc.set(k, k)
        except omcache.CommandError as e:
            # the first request that meets a bad entry finds it out of service
            assert e.status in (omcache.OMCACHE_SERVER_FAILURE, omcache.OMCACHE_NO_SERVERS)
    for k in keys:
        oc.set(k, k)
    assert len(oc.get_multi(keys)) == 100


@pytest.mark.parametrize("servers", [12345, None, 1.5, [1, 2], [b"127.0.0.1:1"], object()])
def test_server_lists_of_the_wrong_type(servers):
    with pytest.raises(TypeError):
        omcache.OMcache(servers)


def test_bad_distribution_names(mc):
    for name in ("xxx", None, "", "LIBMEMCACHED_KETAMA", 1):
        with pytest.raises(omcache.Error):
            mc.set_distribution_method(name)
    mc.set("k", "v")
    assert mc.get("k") == b"v"


def test_bad_dump_timeout(mc):
    with pytest.raises(ValueError):
        mc.dump(-1)
    with pytest.raises(ValueError):
        mc.dump("soon")
