"""Server choice: with the same behaviors, a key lands on the same server with Debian's
pylibmc (libmemcached's hashing and distributions) and with omcache.pylibmc. Checked by
writing with each and reading every key back from each server alone."""

import pytest

KEYS = [f"key:{i}:{'x' * (i % 7)}" for i in range(300)]

BEHAVIORS = [
    {},
    {"ketama": True},
    {"ketama_weighted": True},
    {"distribution": "consistent"},
    {"distribution": "consistent", "hash": "md5"},
    {"ketama": True, "hash": "fnv1a_32"},
    {"hash": "crc"},
    {"hash": "fnv1_64"},
    {"hash": "murmur"},
    {"hash": "jenkins"},
    {"hash": "md5"},
    {"_sort_hosts": True},
]


def placement(mod, servers, binary, specs, behaviors):
    """Writes KEYS with a client of `mod`; returns the index of the server each landed on."""
    mc = mod.Client(specs, binary=binary, behaviors=dict(behaviors))
    singles = [mod.Client([s.address], binary=binary) for s in servers]
    for s in singles:
        s.flush_all()
    assert mc.set_multi({k: i for i, k in enumerate(KEYS)}) == []
    ns = behaviors.get("namespace", "")
    where = {}
    for index, single in enumerate(singles):
        for key, value in single.get_multi([ns + k for k in KEYS]).items():
            where[key[len(ns):]] = index
    assert len(where) == len(KEYS)
    hashes = [mc.hash(k) for k in KEYS]
    return [where[k] for k in KEYS], hashes


@pytest.mark.parametrize("behaviors", BEHAVIORS, ids=repr)
@pytest.mark.parametrize("weights", [False, True], ids=["equal", "weighted"])
def test_pylibmc_same_server_choice(debian, ours, servers, binary, behaviors, weights):
    specs = [f"{s.address}:{i + 1}" if weights else s.address for i, s in enumerate(servers)]
    deb_where, deb_hash = placement(debian, servers, binary, specs, behaviors)
    our_where, our_hash = placement(ours, servers, binary, specs, behaviors)
    assert len(set(deb_where)) > 1  # the keys do spread
    assert our_where == deb_where
    assert our_hash == deb_hash


def test_pylibmc_behaviors_after_construction_move_keys_alike(debian, ours, servers):
    specs = [s.address for s in servers]
    results = []
    for mod in (debian, ours):
        mc = mod.Client(specs)
        before = [mc.hash(k) for k in KEYS]
        mc.behaviors = {"ketama": True}
        ketama = [mc.hash(k) for k in KEYS]
        mc.behaviors["hash"] = "md5"
        md5 = [mc.hash(k) for k in KEYS]
        mc.set_behaviors({"ketama_weighted": True})
        weighted = [mc.hash(k) for k in KEYS]
        results.append((before, ketama, md5, weighted))
    assert results[0] == results[1]
