"""omcache.pylibmc: pylibmc 1.6's API on the omcache-rs engine.

A drop-in replacement for Debian's python3-pylibmc::

    import omcache.pylibmc as pylibmc

    mc = pylibmc.Client(["127.0.0.1:11211"], binary=True,
                        behaviors={"tcp_nodelay": True, "ketama": True})
    mc.set("key", "value")
    mc.get("key")

Keys go to the same servers as with pylibmc (libmemcached's hashing and distributions) and
values carry the same flags, so both can share a cluster.

Differences from Debian's pylibmc 1.6.3:

- Over the text protocol a key with a space or control byte is refused with BadKeyProvided
  before anything is sent (pylibmc sends it and gets a ClientError, or another key's value).
- UDP servers ("udp:host") raise NotSupportedError. SASL (username/password, binary
  protocol only) is PLAIN, as pylibmc's with a server that offers only PLAIN.
- get_multi with a server down returns the values of the servers that answered (and raises
  only when none did); pylibmc raises over the binary protocol.
- get_stats returns every statistic the server sends (pylibmc: libmemcached's fixed set).
- The namespace behavior prefixes keys with the namespace given (Debian's 1.6.3 prefixes
  them with bytes from freed memory).
- _socket_send_size / _socket_recv_size report the value set (-1: the system's default),
  not the kernel's buffer sizes; buffer_requests is kept and reported, but every call still
  waits for its answers (with _noreply, set/add/replace/append/prepend/delete do not).
- One client may be shared by threads: calls are serialised (with the GIL released while
  one waits). Pools remain the way to run requests in parallel.
- Extra: Client.dump() lists every key of every server (a debugging aid).
- Extra: TLS (memcached -Z), which pylibmc lacks: Client(..., tls_ca_file="ca.pem") or
  tls=True (the system's roots), with tls_cert/tls_key for a client certificate and
  tls_server_name; see Client.
- Exception messages end in "-> omcache-rs" where libmemcached names its source file.
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
