#!/usr/bin/env python3
"""Writes the hand-made seeds into corpus/<target>/seed-*. Re-run after changing an input
layout; the minimized entries that fuzzing added (hex names) are left alone."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

GET, SET, DELETE, INCREMENT, NOOP, GETQ, GETK, STAT = 0x00, 0x01, 0x04, 0x05, 0x0A, 0x09, 0x0C, 0x10


def resp(op, opaque, status=0, extras=b"", key=b"", value=b"", cas=7, magic=0x81, dtype=0):
    body = len(extras) + len(key) + len(value)
    # opaque in host (little-endian) order, as the library sends it
    hdr = struct.pack(">BBHBBHI", magic, op, len(key), len(extras), dtype, status, body)
    hdr += struct.pack("<I", opaque) + struct.pack(">Q", cas)
    return hdr + extras + key + value


FLAGS = struct.pack(">I", 9)
HIT = resp(GETK, 0x11, extras=FLAGS, key=b"key", value=b"value")

parser = {
    "getk-hit": HIT,
    "two-frames": resp(SET, 1) + resp(GET, 2, status=1, value=b"Not found"),
    "truncated": HIT[:30],
    "bad-magic": resp(GET, 1, magic=0x80),
    "bad-datatype": resp(GET, 1, dtype=1),
    "bad-lengths": resp(GET, 1, extras=FLAGS, key=b"k")[:8] + struct.pack(">I", 2) + resp(GET, 1)[12:] + FLAGS + b"k",
    "counter": resp(INCREMENT, 3, value=struct.pack(">Q", 42)),
    "stats": resp(STAT, 4, key=b"pid", value=b"1") + resp(STAT, 4, key=b"uptime", value=b"9") + resp(STAT, 4),
    "huge-body": resp(GET, 1)[:8] + struct.pack(">I", 0xFFFFFFFF) + resp(GET, 1)[12:],
}

# engine: [count-1] [opcode choice per request] [recv limit] [pin mask] [server bytes]
# choices: 0 GET 1 GETK 2 GETQ 3 GETKQ 4 SET 5 SETQ 6 DELETE 7 INCREMENT 8 DECREMENTQ 9 GAT
#          10 GATKQ 11 APPEND 12 NOOP 13 STAT; ids start at 0x11; recv limit 0 = default,
#          b = 24 + 8*b
def engine(choices, recv, pin, server):
    return bytes([len(choices) - 1, *choices, recv, pin]) + server


engine_seeds = {
    "getk-hit": engine([1], 0, 0, HIT),
    "get-set-delete": engine([0, 4, 6], 0, 0,
                             resp(GET, 0x11, extras=FLAGS, value=b"v") + resp(SET, 0x12) + resp(DELETE, 0x13, status=1)),
    "quiet-gets-noop": engine([2, 2, 0], 0, 0,
                              resp(GETQ, 0x11, extras=FLAGS, value=b"a") + resp(GET, 0x13, status=1) + resp(NOOP, 0x14)),
    "quiet-only-noop": engine([3, 5], 0, 0, resp(NOOP, 0x13)),
    "too-large": engine([0, 0], 1, 0,
                        resp(GET, 0x11, extras=FLAGS, value=b"x" * 100) + resp(GET, 0x12, extras=FLAGS, value=b"y")),
    "stat-rows": engine([13], 0, 0,
                        resp(STAT, 0x11, key=b"pid", value=b"1") + resp(STAT, 0x11, key=b"uptime", value=b"2") + resp(STAT, 0x11)),
    "late-and-lost": engine([0, 0, 0], 0, 0, resp(GET, 0x99) + resp(GET, 0x12, status=1) + resp(GET, 0x13, status=1)),
    "incr": engine([7, 8], 0, 0, resp(INCREMENT, 0x11, value=struct.pack(">Q", 5)) + resp(NOOP, 0x13)),
    "pinned-small": engine([0, 0, 0, 0], 4, 0xFF,
                           b"".join(resp(GET, 0x11 + i, extras=FLAGS, value=b"v" * 20) for i in range(4))),
    "garbage": engine([0], 0, 0, b"HTTP/1.0 400 Bad Request\r\n\r\n"),
    "partial": engine([0], 0, 0, HIT[:20]),
}

server_list = {
    "one": b"localhost",
    "readme": b"10.0.0.1:11211, 10.0.0.2, [::1]:11212, /run/memcached.sock",
    "bare-v6": b"::1,2001:db8::7",
    "bracket-v6": b"[2001:db8::1]:1,[::ffff:1.2.3.4]",
    "service": b"host:http",
    "sorting": b" b:2 ,, a:11300 ,a:9999,  ",
    "bad-port": b"a,host:,b",
    "unclosed": b"[::1",
    "not-utf8": b"h\xff\xfe:1",
    "unix-odd": b"/tmp/a b:c[d],/x",
}


# ketama: [servers] [mode: 0 ketama 1 weighted 2 pre1010 3 custom 4 libmemcached]
#         per server: [host len] host [port kind: 0 11211, 1 0, else u16 LE follows]
#         mode 3: [points] [entries] [seed u32] [fill]
#         mode 4: [layout] [weighted] [hash] [weights count] weights... [include u16]
#         then [live u16] and keys ([len] key)...

def ketama(mode, names, extra=b"", live=0xFFFF, keys=(b"foo", b"bar", b"a" * 40)):
    out = bytes([len(names), mode])
    for n in names:
        out += bytes([len(n)]) + n + b"\x00"
    out += extra + struct.pack("<H", live)
    for k in keys:
        out += bytes([len(k)]) + k
    return out


HOSTS = [b"10.0.0.1", b"10.0.0.2", b"[::1]", b"cache-3"]
ketama_seeds = {
    "ketama-all-live": ketama(0, HOSTS),
    "weighted-some-dead": ketama(1, HOSTS, live=0b0101),
    "pre1010-one": ketama(2, HOSTS[:1], live=0),
    "custom": ketama(3, HOSTS, extra=bytes([4, 2]) + struct.pack("<I", 77) + bytes([2]), live=0b0010),
    "libmemcached-weighted": ketama(4, HOSTS, extra=bytes([1, 1, 1, 3, 1, 2, 7]) + struct.pack("<H", 0xFFFF), live=0b1000),
    "libmemcached-modula": ketama(4, HOSTS, extra=bytes([0, 0, 8, 0]) + struct.pack("<H", 0xFFFF), live=0b0110),
    "libmemcached-spy-ejected": ketama(4, HOSTS, extra=bytes([2, 0, 10, 0]) + struct.pack("<H", 0b1010), live=0b0011),
}

for target, seeds in [("response_parser", parser), ("engine", engine_seeds),
                      ("server_list", server_list), ("ketama", ketama_seeds)]:
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)
