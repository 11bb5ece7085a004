"""omcache.pylibmc: pylibmc 1.6's API on the omcache-rs engine.

A drop-in replacement for Debian's python3-pylibmc::

    import omcache.pylibmc as pylibmc

    mc = pylibmc.Client(["127.0.0.1:11211"], binary=True,
                        behaviors={"tcp_nodelay": True, "ketama": True})
    mc.set("key", "value")
    mc.get("key")

Keys go to the same servers as with pylibmc (libmemcached's hashing and distributions) and
values carry the same flags, so both can share a cluster.
"""

from omcache import _pylibmc
from omcache._pylibmc import *  # noqa: F401,F403
from omcache._pylibmc import __version__  # noqa: F401

from .consts import hashers, distributions  # noqa: F401
from .client import Client  # noqa: F401
from .pools import ClientPool, ThreadMappedPool  # noqa: F401


def build_info():
    """One line saying what this is built on."""
    return (f"omcache.pylibmc {__version__} (pylibmc API) on the omcache-rs engine "
            f"(compression={_pylibmc.support_compression}, sasl={_pylibmc.support_sasl})")


__all__ = ["hashers", "distributions", "Client", "ClientPool",
           "ThreadMappedPool"] + _pylibmc.__all__
