"""Test helpers: a client for the memcached named by MEMCACHED_HOST / MEMCACHED_PORT /
MEMCACHED_TYPE (default tcp 127.0.0.1:11211)."""

import os
import socket

import omcache.pylibmc as _pylibmc
from omcache import _pylibmc as _native


class NotAliveError(Exception):
    def __init__(self, svr):
        super().__init__(svr)
        self.server_type, self.address, self.port = svr

    def __str__(self):
        return (f"test memcached {self.address}:{self.port} not alive\n\n"
                "consider setting MEMCACHED_HOST and/or MEMCACHED_PORT\n"
                "to something more appropriate.")


def get_version(addr):
    """The version a tcp server reports, as bytes."""
    kind, host, port = addr
    if kind != _native.server_type_tcp:
        raise NotImplementedError("test server can only be on tcp for now")
    with socket.create_connection((host, port)) as s:
        s.sendall(b"version\r\n")
        reply = s.recv(4096)
    if not reply.startswith(b"VERSION ") or not reply.endswith(b"\r\n"):
        raise ValueError(f"unexpected version return: {reply!r}")
    return reply[len(b"VERSION "):-2]


def is_alive(addr):
    try:
        version = get_version(addr)
    except (ValueError, OSError):
        version = None
    return bool(version), version


def make_test_client(cls=_pylibmc.Client, env=None, server_type="tcp",
                     host="127.0.0.1", port=11211, **kwds):
    """A client of class *cls* for the test server (the environment overrides the
    arguments); NotAliveError if it does not answer."""
    env = os.environ if env is None else env
    types = {"tcp": _native.server_type_tcp, "udp": _native.server_type_udp,
             "unix": _native.server_type_unix}
    server = (types[env.get("MEMCACHED_TYPE", server_type)],
              str(env.get("MEMCACHED_HOST", host)),
              int(env.get("MEMCACHED_PORT", port)))
    alive, _ = is_alive(server)
    if not alive:
        raise NotAliveError(server)
    return cls([server], **kwds)
