"""The Client class: server specifications and behavior names over the native client."""

from omcache import _pylibmc

from .consts import (BehaviorDict, all_behaviors, all_callbacks, distributions,
                     distributions_rvs, hashers, hashers_rvs)

_known_behaviors = frozenset(all_behaviors) | frozenset(all_callbacks)

server_type_map = {
    "tcp": _pylibmc.server_type_tcp,
    "udp": _pylibmc.server_type_udp,
    "unix": _pylibmc.server_type_unix,
}

_missing = object()


def _split_address(spec, port, weight):
    """host, port and weight of "host", "host:port[:weight]", "[v6]" or "[v6]:port[:weight]"."""
    if spec.startswith("["):
        if "]" not in spec:
            raise ValueError(spec)
        if spec.endswith("]"):
            host = spec[1:-1]
        else:
            host, port = spec[1:].rsplit("]:", 1)
    elif ":" in spec:
        host, port = spec.split(":", 1)
    else:
        host = spec
    if isinstance(port, str) and ":" in port:
        port, weight = port.split(":", 1)
    return host, port, weight


def translate_server_spec(server, port=11211, weight=1):
    """A server string as the (type, address, port, weight) tuple the native client takes.

    >>> translate_server_spec("127.0.0.1:22122:2")
    (1, '127.0.0.1', 22122, 2)
    >>> translate_server_spec("/run/memcached.sock")
    (4, '/run/memcached.sock', 0, 1)
    """
    if server.startswith("/"):
        return (server_type_map["unix"], str(server), 0, int(weight))
    kind = "tcp"
    if server.startswith("udp:"):
        kind, server = "udp", server[4:]
    host, port, weight = _split_address(server, port, weight)
    return (server_type_map[kind], str(host), int(port), int(weight))


def translate_server_specs(servers):
    """Every server of a list: strings are translated, (type, address, port) tuples kept."""
    return [server if isinstance(server, tuple) and len(server) == 3
            else translate_server_spec(server)
            for server in servers]


def _behaviors_symbolic(behaviors):
    """`hash` and `distribution` by name."""
    named = dict(behaviors)
    named["hash"] = hashers_rvs[named["hash"]]
    named["distribution"] = distributions_rvs[named["distribution"]]
    return named


def _behaviors_numeric(behaviors):
    """`hash`, `ketama_hash` and `distribution` as numbers; old and unknown names checked."""
    if not behaviors:
        return behaviors
    numeric = dict(behaviors)
    if "_retry_timeout" in numeric:
        numeric.setdefault("retry_timeout", numeric.pop("_retry_timeout"))
    unknown = set(numeric) - _known_behaviors
    if unknown:
        raise ValueError("unknown behavior names: " + ", ".join(map(str, sorted(unknown))))
    if numeric.get("hash") is not None:
        numeric["hash"] = hashers[numeric["hash"]]
    if numeric.get("ketama_hash") in hashers:
        numeric["ketama_hash"] = hashers[numeric["ketama_hash"]]
    if numeric.get("distribution") is not None:
        numeric["distribution"] = distributions[numeric["distribution"]]
    return numeric


class Client(_pylibmc.client):
    """A memcached client with pylibmc's API.

    *servers* is a list of "host[:port[:weight]]", "[v6addr][:port[:weight]]",
    "/path/to/socket" or (type, address, port) tuples. With *binary* the binary protocol
    is spoken, otherwise the text protocol. *username* and *password* ask for SASL, which
    needs *binary*.

    TLS (memcached ``-Z``; an addition, pylibmc has none) is asked for with ``tls=True`` or
    any of the ``tls_*`` keywords, and then every TCP connection is TLS, in either protocol:

    - *tls_ca_file*: PEM file of the authorities the servers' certificates must chain to
      (default: the system's, ``$SSL_CERT_FILE`` or Debian's ca-certificates bundle);
    - *tls_cert*, *tls_key*: a client certificate (PEM chain) and its key, for servers that
      require one (memcached's ``ssl_verify_mode``); without *tls_key* the key is read from
      *tls_cert*, as ``ssl.SSLContext.load_cert_chain`` reads it;
    - *tls_server_name*: the name every server's certificate must be valid for (default:
      the host name or IP address of each server entry; sent as SNI when it is a name).

    Certificates are always verified. A server whose handshake fails (unknown authority,
    name mismatch, expired, a server not speaking TLS, no client certificate accepted, or
    not finished within ``connect_timeout``) raises ConnectionError (TIMEOUT for the last)
    whose message says why; nothing is ever sent in the clear. Files that cannot be read
    raise Error here. Unix-socket servers are spoken to without TLS.
    """

    def __init__(self, servers, behaviors=None, binary=False, username=None, password=None,
                 tls=None, tls_ca_file=None, tls_cert=None, tls_key=None, tls_server_name=None):
        self.binary = binary
        self.addresses = list(servers)
        tls_keywords = {}
        for name, value in (("tls", tls), ("tls_ca_file", tls_ca_file), ("tls_cert", tls_cert),
                            ("tls_key", tls_key), ("tls_server_name", tls_server_name)):
            if value is not None:
                tls_keywords[name] = bool(value) if name == "tls" else value
        super().__init__(servers=translate_server_specs(servers), binary=binary,
                         username=username, password=password,
                         behaviors=_behaviors_numeric(behaviors), **tls_keywords)
        # Whether TLS is on (for repr and clone); the settings live in the native state.
        self.tls = bool(tls) if tls is not None else len(tls_keywords) > 0

    def __repr__(self):
        tls = ", tls=True" if getattr(self, "tls", False) else ""
        return f"{type(self).__name__}({self.addresses!r}, binary={self.binary!r}{tls})"

    def __str__(self):
        servers = ", ".join(map(str, self.addresses))
        tls = ", tls=True" if getattr(self, "tls", False) else ""
        return f"<{type(self).__name__} for {servers}, binary={self.binary!r}{tls}>"

    # Mapping interface.
    def __getitem__(self, key):
        value = self.get(key, _missing)
        if value is _missing:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        if not self.set(key, value):
            raise KeyError(f"failed setting {key!r}")

    def __delitem__(self, key):
        if not self.delete(key):
            raise KeyError(key)

    def __contains__(self, key):
        return self.get(key, _missing) is not _missing

    # Behaviors.
    def get_behaviors(self):
        """The behaviors, `hash` and `distribution` by name; assigning an item sets it."""
        return BehaviorDict(self, _behaviors_symbolic(super().get_behaviors()))

    def set_behaviors(self, behaviors):
        """Sets behaviors, `hash` and `distribution` given by name."""
        return super().set_behaviors(_behaviors_numeric(behaviors))

    behaviors = property(get_behaviors, set_behaviors)

    @property
    def behaviours(self):
        raise AttributeError("nobody uses british spellings")

    def clone(self):
        """A client with the same servers and behaviors and connections of its own."""
        copy = super().clone()
        copy.addresses = list(self.addresses)
        copy.binary = self.binary
        # The TLS settings themselves travel in the native state.
        copy.tls = getattr(self, "tls", False)
        return copy
