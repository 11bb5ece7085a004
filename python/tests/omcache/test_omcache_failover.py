"""omcache.OMcache when a server dies (kill -9) or stops answering: OMcache's failover.  The
requests in flight to it fail with OMCACHE_SERVER_FAILURE (never answered by another server),
its keys then go to the next live server on the ring, every other key stays where it was, and
it takes its keys back once it answers again after reconnect_timeout."""

import time

import pytest

import omcache

KEYS = ["fo-{0}".format(i) for i in range(300)]


def placement(oc):
    return {k: oc.server_index_for_key(k) for k in KEYS}


def index_of(oc, server):
    return [port for _, port in oc.omc.servers()].index(server.port)


@pytest.fixture
def cluster(memcached):
    servers = [memcached() for _ in range(3)]
    oc = omcache.OMcache([s.address for s in servers])
    oc.reconnect_timeout = 60000
    for k in KEYS:
        oc.set(k, "before")
    yield oc, servers
    oc.free()


def test_killed_server(cluster):
    oc, servers = cluster
    before = placement(oc)
    assert set(before.values()) == {0, 1, 2}
    victim = servers[1]
    dead = index_of(oc, victim)
    victim.kill()

    failures = 0
    for k in KEYS:
        try:
            assert oc.get(k) == b"before"
            assert before[k] != dead
        except omcache.NotFoundError:
            # moved to another server, which does not have it
            assert before[k] == dead
        except omcache.CommandError as e:
            # the request that found the server gone
            assert e.status == omcache.OMCACHE_SERVER_FAILURE and before[k] == dead
            failures += 1
    assert failures <= 2

    after = placement(oc)
    assert dead not in after.values()
    for k in KEYS:
        if before[k] != dead:
            assert after[k] == before[k], "a key of a live server moved"
    # every key can be written and read again
    for k in KEYS:
        assert oc.set(k, "after") == 0
    assert oc.get_multi(KEYS) == {k.encode(): b"after" for k in KEYS}
    with pytest.raises(omcache.CommandError) as e:
        oc.noop(dead)
    assert e.value.status == omcache.OMCACHE_NO_SERVERS
    for i in set(range(3)) - {dead}:
        assert oc.noop(i) == 0


def test_killed_server_during_get_multi(cluster):
    oc, servers = cluster
    before = placement(oc)
    dead = index_of(oc, servers[0])
    servers[0].kill()
    got = oc.get_multi(KEYS)
    # the live servers' keys all arrive; the dead server's keys are missing
    assert set(got) == {k.encode() for k in KEYS if before[k] != dead}
    # The reset seen by the multi-get takes the server out at once or at the next attempt to
    # reach it (the reconnect is refused), depending on when the kernel reported the close.
    deadline = time.monotonic() + 2
    while dead in placement(oc).values() and time.monotonic() < deadline:
        try:
            oc.noop(dead)
        except omcache.CommandError:
            pass
        time.sleep(0.01)
    assert dead not in placement(oc).values()


def test_all_servers_killed(cluster):
    oc, servers = cluster
    for s in servers:
        s.kill()
    for k in KEYS[:20]:
        try:
            oc.set(k, "x")
        except omcache.CommandError as e:
            assert e.status in (omcache.OMCACHE_SERVER_FAILURE, omcache.OMCACHE_NO_SERVERS)
    with pytest.raises(omcache.CommandError) as e:
        oc.get("fo-1")
    assert e.value.status == omcache.OMCACHE_NO_SERVERS
    with pytest.raises(omcache.CommandError) as e:
        oc.get_multi(KEYS)
    assert e.value.status == omcache.OMCACHE_NO_SERVERS
    assert oc.server_index_for_key("fo-1") == -1


def test_stopped_server_dead_timeout(cluster):
    oc, servers = cluster
    oc.dead_timeout = 300
    before = placement(oc)
    dead = index_of(oc, servers[2])
    victim_keys = [k for k in KEYS if before[k] == dead]
    servers[2].stop()
    try:
        t = time.monotonic()
        with pytest.raises(omcache.CommandError) as e:
            oc.get(victim_keys[0], timeout=-1)
        assert e.value.status == omcache.OMCACHE_SERVER_FAILURE
        assert time.monotonic() - t < 2.0
        # its keys moved: answered by another server, at once
        t = time.monotonic()
        with pytest.raises(omcache.NotFoundError):
            oc.get(victim_keys[1], timeout=-1)
        assert time.monotonic() - t < 0.5
        assert dead not in placement(oc).values()
        others = [k for k in KEYS if before[k] != dead]
        assert len(oc.get_multi(others)) == len(others)
    finally:
        servers[2].resume()


def test_server_comes_back(cluster):
    """A server restarted on the same port takes its keys back once reconnect_timeout has
    passed and it has answered the background probe."""
    oc, servers = cluster
    oc.reconnect_timeout = 300
    before = placement(oc)
    victim = servers[1]
    dead = index_of(oc, victim)
    victim.kill()
    for k in KEYS:
        try:
            oc.set(k, "moved")
        except omcache.CommandError:
            pass
    assert dead not in placement(oc).values()
    victim.restart()
    deadline = time.monotonic() + 10
    while placement(oc) != before:
        assert time.monotonic() < deadline, "the server did not take its keys back"
        for k in KEYS[:50]:
            oc.get_multi([k])
        time.sleep(0.05)
    back = [k for k in KEYS if before[k] == dead]
    assert oc.get_multi(back) == {}
    oc.set(back[0], "home")
    assert oc.get(back[0]) == b"home"
