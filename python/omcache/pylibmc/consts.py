"""Names of hashes, distributions, behaviors and exceptions, from the native module."""

import sys

from omcache import _pylibmc

errors = tuple(cls for _, cls in _pylibmc.exceptions)

# Every exception class is reachable here and on the package, as in pylibmc.
_package = sys.modules[__name__.rsplit(".", 1)[0]]
for _name, _cls in _pylibmc.exceptions:
    globals()[_name] = _cls
    setattr(_package, _name, _cls)

all_behaviors = _pylibmc.all_behaviors
all_callbacks = _pylibmc.all_callbacks


def _constants(prefix, spaces):
    by_name = {}
    for attr in dir(_pylibmc):
        if attr.startswith(prefix):
            name = attr[len(prefix):]
            if spaces:
                name = name.replace("_", " ")
            by_name[name] = getattr(_pylibmc, attr)
    return by_name, {number: name for name, number in by_name.items()}


hashers, hashers_rvs = _constants("hash_", False)
distributions, distributions_rvs = _constants("distribution_", True)


class BehaviorDict(dict):
    """The behaviors of a client; assigning an item sets that behavior on the client."""

    def __init__(self, client, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.client = client

    def __setitem__(self, name, value):
        super().__setitem__(name, value)
        self.client.set_behaviors({name: value})
