"""Autodiscovery of an AWS ElastiCache memcached cluster: the node list from its
configuration endpoint (`config get cluster`, or the `AmazonElastiCache:cluster` key on
older engines), as a Client."""

import socket

import omcache.pylibmc as _pylibmc


class UnsupportedAutoconfMethod(Exception):
    pass


class NoAutoconfFound(Exception):
    pass


def _read_until(sock, buf, marker):
    while marker not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("failed reading cluster config")
        buf += chunk
    return buf


def _elasticache_config_get(address, key):
    """The body of `config get <key>` from the server at "host:port"."""
    host, port = address.rsplit(":", 1)
    if isinstance(key, str):
        key = key.encode("ascii")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"config get " + key + b"\r\n")
        buf = _read_until(sock, b"", b"\r\n")
        header, buf = buf.split(b"\r\n", 1)
        if header.strip().lower() == b"error":
            raise UnsupportedAutoconfMethod()
        _, _, _, length = header.split()
        length = int(length)
        while len(buf) < length + 2:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("failed reading cluster config")
            buf += chunk
        return buf[:length]


def _parse_elasticache_config(cfg):
    """["address:port", ...] of a cluster configuration ("version\\nname|ip|port ...")."""
    _version, nodes = cfg.split(b"\n", 1)
    servers = []
    for node in nodes.split():
        name, ip, port = node.decode("ascii").split("|")
        servers.append(f"{ip or name}:{port}")
    return servers


def elasticache(address="127.0.0.1:11211", config_key=b"cluster",
                mc_key="AmazonElastiCache:cluster"):
    """A Client for every node of the cluster behind *address*."""
    try:
        config = _elasticache_config_get(address, config_key)
    except UnsupportedAutoconfMethod:
        config = _pylibmc.Client([address]).get(mc_key)
        if config is None:
            raise NoAutoconfFound
        if isinstance(config, str):
            config = config.encode("ascii")
    return _pylibmc.Client(_parse_elasticache_config(config))
