"""omcache.OMcache: every method, constant and exception of OMcache 0.3's Python API, against
real memcached servers."""

import logging
import random
import time

import pytest

import omcache


def test_module_constants():
    assert omcache.DELTA_NO_ADD == 0xFFFFFFFF
    assert (omcache.POLLIN, omcache.POLLOUT) == (1, 4)
    assert (omcache.LOG_ERR, omcache.LOG_WARNING, omcache.LOG_NOTICE, omcache.LOG_INFO, omcache.LOG_DEBUG) == (
        3,
        4,
        5,
        6,
        7,
    )
    opcodes = {
        "GET": 0x00, "SET": 0x01, "ADD": 0x02, "REPLACE": 0x03, "DELETE": 0x04, "INCREMENT": 0x05,
        "DECREMENT": 0x06, "QUIT": 0x07, "FLUSH": 0x08, "GETQ": 0x09, "NOOP": 0x0A, "VERSION": 0x0B,
        "GETK": 0x0C, "GETKQ": 0x0D, "APPEND": 0x0E, "PREPEND": 0x0F, "STAT": 0x10, "SETQ": 0x11,
        "ADDQ": 0x12, "REPLACEQ": 0x13, "DELETEQ": 0x14, "INCREMENTQ": 0x15, "DECREMENTQ": 0x16,
        "QUITQ": 0x17, "FLUSHQ": 0x18, "APPENDQ": 0x19, "PREPENDQ": 0x1A, "TOUCH": 0x1C, "GAT": 0x1D,
        "GATQ": 0x1E, "GATK": 0x23, "GATKQ": 0x24,
    }  # fmt: skip
    for name, value in opcodes.items():
        assert getattr(omcache, "CMD_" + name) == value, name
    assert sorted(n[4:] for n in dir(omcache) if n.startswith("CMD_")) == sorted(opcodes)


def test_return_codes_and_messages():
    codes = {
        "OK": 0x00, "NOT_FOUND": 0x01, "KEY_EXISTS": 0x02, "TOO_LARGE_VALUE": 0x03, "NOT_STORED": 0x05,
        "DELTA_BAD_VALUE": 0x06, "FAIL": 0x0FFF, "AGAIN": 0x1001, "INVALID": 0x1002, "BUFFERED": 0x1003,
        "BUFFER_FULL": 0x1004, "NO_SERVERS": 0x1005, "SERVER_FAILURE": 0x1006,
    }  # fmt: skip
    for name, value in codes.items():
        assert getattr(omcache, "OMCACHE_" + name) == value
    assert omcache.strerror(0) == "Success"
    assert omcache.strerror(0x1005) == "No server available"
    defined = set(codes.values())
    for rc in range(0, 0x1007):
        assert (omcache.strerror(rc) == "Unknown") == (rc not in defined), rc


def test_value_tuple():
    v = omcache.OMcacheValue(0, b"k", b"v", 1, 2, 3)
    assert v._fields == ("status", "key", "value", "flags", "cas", "delta_value")
    assert (v.status, v.key, v.value, v.flags, v.cas, v.delta_value) == (0, b"k", b"v", 1, 2, 3)


def test_exception_hierarchy():
    assert issubclass(omcache.Error, Exception)
    assert issubclass(omcache.CommandError, omcache.Error)
    assert omcache.CommandError.status is None
    e = omcache.CommandError("x: y", status=0x1005)
    assert (str(e), e.status) == ("x: y", 0x1005)
    assert omcache.CommandError().status is None
    for cls, status in [
        (omcache.NotFoundError, 1),
        (omcache.KeyExistsError, 2),
        (omcache.TooLargeValueError, 3),
        (omcache.NotStoredError, 5),
        (omcache.DeltaBadValueError, 6),
    ]:
        assert issubclass(cls, omcache.CommandError)
        assert cls.status == status
        assert cls().status == status


def test_set_get_str_and_bytes(mc):
    assert mc.set("k", "v") == omcache.OMCACHE_OK
    assert mc.get("k") == b"v"
    assert mc.get(b"k") == b"v"
    mc.set(b"\xffbin", b"\x00\x01\xff")
    assert mc.get(b"\xffbin") == b"\x00\x01\xff"
    mc.set("unicode-\u00e4", "\u20ac")
    assert mc.get("unicode-\u00e4") == "\u20ac".encode("utf-8")
    mc.set(bytearray(b"ba"), memoryview(b"mv"))
    assert mc.get("ba") == b"mv"
    mc.set("empty", b"")
    assert mc.get("empty") == b""


def test_add_replace_set_delete(mc2):
    oc = mc2
    with pytest.raises(omcache.NotFoundError):
        oc.replace("arsd", "replaced")
    with pytest.raises(omcache.NotFoundError):
        oc.get("arsd")
    assert oc.add("arsd", "added") == omcache.OMCACHE_OK
    assert oc.get("arsd") == b"added"
    oc.set("arsd", "set")
    assert oc.get("arsd") == b"set"
    assert oc.replace("arsd", "replaced") == omcache.OMCACHE_OK
    assert oc.get("arsd") == b"replaced"
    with pytest.raises(omcache.KeyExistsError):
        oc.add("arsd", "foobar")
    assert oc.get("arsd") == b"replaced"
    assert oc.delete("arsd") == omcache.OMCACHE_OK
    with pytest.raises(omcache.NotFoundError):
        oc.delete("arsd")
    oc.set("arsd", "arsd", flags=531)
    res, flags, cas = oc.get("arsd", flags=True, cas=True)
    assert (res, flags) == (b"arsd", 531)
    assert cas > 0
    assert oc.get("arsd", flags=True) == (b"arsd", 531)
    assert oc.get("arsd", cas=True) == (b"arsd", cas)
    oc.add("arsd2", "x", 0, 7)
    oc.replace("arsd2", "y", 0, 8)
    assert oc.get("arsd2", flags=True) == (b"y", 8)


def test_cas(mc):
    with pytest.raises(omcache.NotFoundError):
        mc.set("c", "xxx", cas=42424242)
    mc.set("c", "xxx")
    with pytest.raises(omcache.KeyExistsError):
        mc.set("c", "xxx", cas=42424242)
    res, cas1 = mc.get("c", cas=True)
    assert res == b"xxx" and cas1 > 0
    mc.set("c", "42", cas=cas1)
    with pytest.raises(omcache.KeyExistsError):
        mc.set("c", "zzz", cas=cas1)
    res, cas2 = mc.get("c", cas=True)
    assert res == b"42" and cas2 not in (0, cas1)
    mc.increment("c", 8)
    with pytest.raises(omcache.KeyExistsError):
        mc.set("c", "zzz", cas=cas2)
    res, cas3 = mc.get("c", cas=True)
    assert res == b"50" and cas3 not in (0, cas2)
    # append/prepend with a CAS
    with pytest.raises(omcache.KeyExistsError):
        mc.append("c", "!", cas=cas2)
    mc.append("c", "!", cas=cas3)
    assert mc.get("c") == b"50!"


def test_append_prepend(mc):
    with pytest.raises(omcache.NotStoredError):
        mc.append("ap", "x")
    with pytest.raises(omcache.NotStoredError):
        mc.prepend("ap", "x")
    mc.set("ap", "asdf", flags=3)
    assert mc.append("ap", "zxcvb") == omcache.OMCACHE_OK
    assert mc.prepend("ap", "qwerty") == omcache.OMCACHE_OK
    assert mc.get("ap", flags=True) == (b"qwertyasdfzxcvb", 3)


def test_expiration_and_touch(mc):
    mc.set("t", "qwerty", expiration=1)
    assert mc.get("t") == b"qwerty"
    assert mc.touch("t", expiration=100) == omcache.OMCACHE_OK
    mc.set("t2", "gone", expiration=1)
    mc.add("t3", "gone", expiration=1)
    time.sleep(2.1)
    assert mc.get("t") == b"qwerty"
    with pytest.raises(omcache.NotFoundError):
        mc.get("t2")
    with pytest.raises(omcache.NotFoundError):
        mc.get("t3")
    with pytest.raises(omcache.NotFoundError):
        mc.touch("t2", 10)


def test_incr_decr(mc):
    with pytest.raises(omcache.NotFoundError):
        mc.increment("n", 2, initial=None)
    with pytest.raises(omcache.NotFoundError):
        mc.decrement("n")
    assert mc.increment("n", 2, initial=0) == 0
    assert mc.increment("n", 2) == 2
    assert mc.increment("n") == 3
    assert mc.increment("n", 2, initial=42) == 5
    assert mc.decrement("n", 4) == 1
    assert mc.decrement("n", 5) == 0
    mc.set("n", "567")
    assert mc.decrement("n", 5) == 562
    mc.set("n", "x567")
    with pytest.raises(omcache.DeltaBadValueError):
        mc.decrement("n", 5)
    mc.set("n", "100")
    assert mc.decrement("n", -5) == 105
    assert mc.increment("n", -5) == 100
    with pytest.raises(omcache.Error):
        mc.increment("n_e", 2, expiration=42, initial=None)
    assert mc.decrement("d", 1, initial=10, expiration=100) == 10
    # DELTA_NO_ADD as the expiration: never created, whatever the initial value
    with pytest.raises(omcache.NotFoundError):
        mc.increment("nd", 1, initial=5, expiration=omcache.DELTA_NO_ADD)
    # 64-bit wrap-around, as memcached does it
    mc.set("w", str(2**64 - 1))
    assert mc.increment("w", 2) == 1
    with pytest.raises(OverflowError):
        mc.increment("w", 2**64)
    with pytest.raises(TypeError):
        mc.increment("w", 1.5)


def test_get_multi(mc2):
    oc = mc2
    item_count = 123
    val = str(random.random()).encode()
    for i in range(item_count):
        oc.set("multi_{0}".format(i * 2), val, flags=i)
    keys = ["multi_{0}".format(i) for i in range(item_count * 2)]
    random.shuffle(keys)
    results = oc.get_multi(keys)
    assert len(results) == item_count
    for i in range(item_count):
        assert results["multi_{0}".format(i * 2).encode()] == val
    results = oc.get_multi(keys, flags=True)
    assert all(results["multi_{0}".format(i * 2).encode()] == (val, i) for i in range(item_count))
    results = oc.get_multi(keys, cas=True)
    assert len(results) == item_count
    assert len(set(c for _, c in results.values())) > item_count / 3
    results = oc.get_multi(keys, cas=True, flags=True)
    for i in range(item_count):
        res, flags, cas = results["multi_{0}".format(i * 2).encode()]
        assert (res, flags) == (val, i) and cas > 0
    # any iterable, bytes keys, duplicates; the empty list
    assert oc.get_multi(iter([b"multi_0", "multi_0", "multi_1"])) == {b"multi_0": val}
    assert oc.get_multi(k for k in ("multi_2",)) == {b"multi_2": val}
    assert oc.get_multi([]) == {}


def test_noop_and_stat(mc2):
    oc = mc2
    assert oc.noop() == omcache.OMCACHE_OK
    assert oc.noop(1) == omcache.OMCACHE_OK
    assert oc.noop(server_index=1, timeout=500) == omcache.OMCACHE_OK
    for bad in (2, 100, -1):
        with pytest.raises(omcache.CommandError) as e:
            oc.noop(bad)
        assert e.value.status == omcache.OMCACHE_NO_SERVERS
        assert str(e.value) == "noop: No server available"
    s1 = oc.stat("settings", 0)
    s2 = oc.stat("settings", 1)
    assert s1 != s2
    assert int(s1[b"tcpport"]) != int(s2[b"tcpport"])
    general = oc.stat()
    assert len(general) > 30
    assert all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in general.items())
    assert int(general[b"pid"]) > 0
    assert oc.stat("", 1)[b"pid"] != general[b"pid"]
    with pytest.raises(omcache.NotFoundError):
        oc.stat("no-such-group")
    with pytest.raises(omcache.CommandError) as e:
        oc.stat("settings", 5)
    assert e.value.status == omcache.OMCACHE_NO_SERVERS
    oc.set("x", "y")
    assert oc.stat(b"items", server_index=oc.server_index_for_key("x"))


def test_flush_buffering_and_reset(server):
    oc = omcache.OMcache(server.address)
    assert oc.buffering is False
    oc.buffering = True
    assert oc.buffering is True
    # queued, not sent: a reset drops them
    assert oc.set("b1", "v", timeout=0) == omcache.OMCACHE_BUFFERED
    assert oc.reset_buffers() == omcache.OMCACHE_OK
    assert oc.flush() == omcache.OMCACHE_OK
    oc.buffering = 0
    with pytest.raises(omcache.NotFoundError):
        oc.get("b1")
    oc.buffering = 1
    for i in range(100):
        assert oc.set("b{0}".format(i), str(i), timeout=0) == omcache.OMCACHE_BUFFERED
    assert oc.delete("b5", timeout=0) == omcache.OMCACHE_BUFFERED
    other = omcache.OMcache(server.address)
    with pytest.raises(omcache.NotFoundError):
        other.get("b7")
    assert oc.flush(timeout=2000) == omcache.OMCACHE_OK
    assert other.get("b7") == b"7"
    with pytest.raises(omcache.NotFoundError):
        other.get("b5")
    # a command that waits flushes the queue too
    oc.set("b200", "x", timeout=0)
    assert oc.get("b200") == b"x"
    oc.buffering = False
    # without buffering, timeout 0 sends at once and answers BUFFERED
    assert oc.set("nb", "1", timeout=0) == omcache.OMCACHE_BUFFERED
    assert oc.touch("nb", 100, timeout=0) == omcache.OMCACHE_BUFFERED
    assert oc.flush() == omcache.OMCACHE_OK
    assert other.get("nb") == b"1"
    other.free()
    oc.free()


def test_timeout_zero_results(mc):
    mc.set("z", "1")
    assert mc.add("z", "x", timeout=0) == omcache.OMCACHE_BUFFERED  # the error is not waited for
    assert mc.noop(timeout=0) == omcache.OMCACHE_BUFFERED
    mc.flush()
    assert mc.get("z") == b"1"
    # get with timeout 0 cannot have an answer: NotFoundError, as in OMcache 0.3
    with pytest.raises(omcache.NotFoundError):
        mc.get("z", timeout=0)
    assert mc.get_multi(["z"], timeout=0) == {}
    with pytest.raises(omcache.CommandError) as e:
        mc.increment("z", timeout=0)
    assert e.value.status == omcache.OMCACHE_FAIL
    mc.flush()


def test_io_timeout_attribute(mc):
    assert mc.io_timeout == 1000
    mc.io_timeout = -1
    mc.set("a", "b")
    assert mc.get("a") == b"b"
    mc.io_timeout = 2500.5
    assert mc.get("a") == b"b"
    mc.io_timeout = None
    assert mc.get("a") == b"b"
    with pytest.raises(TypeError):
        mc.get("a", timeout="soon")


def test_timeout_properties(mc):
    for name in ("connect_timeout", "reconnect_timeout", "dead_timeout"):
        assert getattr(mc, name) is None
        setattr(mc, name, 1234)
        assert getattr(mc, name) == 1234
        with pytest.raises(OverflowError):
            setattr(mc, name, -1)
        with pytest.raises(TypeError):
            setattr(mc, name, "x")
        assert getattr(mc, name) == 1234
    mc.set("a", "b")
    assert mc.get("a") == b"b"


def test_set_servers_forms(memcached):
    s1, s2 = memcached(), memcached()
    oc = omcache.OMcache([s1.address, s2.address])
    assert oc.set_servers([s1.address, s2.address, "127.0.0.1:2", "127.0.0.1:113333", "127.0.0.1:113000"]) == 0
    assert oc.set_servers([s1.address, s2.address] * 8) == 0
    assert oc.set_servers((s1.address,)) == 0
    assert oc.set_servers({s1.address, s2.address}) == 0
    assert oc.set_servers(" {0} ,, {1}, ".format(s1.address, s2.address)) == 0
    assert oc.set_servers("{0},{1}".format(s1.address, s2.address).encode()) == 0
    # servers are ordered like OMcache 0.3 (by host, then the port as text)
    ports = sorted([str(s1.port), str(s2.port)])
    assert oc.omc.servers() == [("127.0.0.1", int(p)) for p in ports]
    for i in range(50):
        oc.set("k{0}".format(i), str(i))
    assert oc.get_multi(["k{0}".format(i) for i in range(50)]) == {
        "k{0}".format(i).encode(): str(i).encode() for i in range(50)
    }
    # keys land where libmemcached's ketama puts them: both servers get some
    on = [oc.server_index_for_key("k{0}".format(i)) for i in range(50)]
    assert set(on) == {0, 1}
    oc.set_servers([])
    with pytest.raises(omcache.CommandError) as e:
        oc.get("k1")
    assert e.value.status == omcache.OMCACHE_NO_SERVERS
    assert oc.server_index_for_key("k1") == -1


def test_dist_methods(memcached):
    mc1, mc2 = memcached().address, memcached().address
    oc = omcache.OMcache([mc1, mc2])
    item_count = 123
    for method in ("libmemcached_ketama", "libmemcached_ketama_weighted", "libmemcached_ketama_pre1010"):
        assert oc.set_distribution_method(method) == 0
        for i in range(item_count):
            oc.set("dist_{0}".format(i), method)
        oc.flush()
    with pytest.raises(omcache.Error):
        oc.set_distribution_method("xxx")
    keys = ["dist_{0}".format(i) for i in range(item_count)]
    oc.set_servers([mc1])
    results = list(oc.get_multi(keys).values())
    oc.set_servers([mc2])
    results.extend(oc.get_multi(keys).values())
    counts = {}
    for value in results:
        counts[value] = counts.get(value, 0) + 1
    assert {b"libmemcached_ketama", b"libmemcached_ketama_weighted", b"libmemcached_ketama_pre1010"}.issuperset(counts)
    for value in counts.values():
        assert value >= item_count / 10


class ListHandler(logging.Handler):
    def __init__(self):
        super(ListHandler, self).__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_log(memcached):
    s = memcached()
    log = logging.getLogger("omcache-test-log")
    handler = ListHandler()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    oc = omcache.OMcache(s.address, log)
    assert oc.log is log
    oc.set("a", "b")
    assert any("connected" in r.getMessage() and r.levelno == logging.INFO for r in handler.records)
    # NOTICE arrives as INFO + 1
    oc.set_servers([s.address, "127.0.0.1:1"])
    handler.records[:] = []
    for i in range(40):
        oc.set("k{0}".format(i), "v")
    assert any(r.levelno == logging.INFO + 1 for r in handler.records), [r.getMessage() for r in handler.records]
    # a threshold above INFO: no INFO messages
    log.setLevel(logging.WARNING)
    oc.log = log
    handler.records[:] = []
    oc.set_servers(s.address)
    oc.set_servers([s.address, "127.0.0.1:1"])
    for i in range(40):
        oc.set("k{0}".format(i), "v")
    assert all(r.levelno >= logging.WARNING for r in handler.records)
    oc.log = None
    assert oc.log is None
    handler.records[:] = []
    oc.set_servers(s.address)
    oc.set_servers([s.address, "127.0.0.1:1"])
    oc.set("x", "y")
    assert handler.records == []
    log.removeHandler(handler)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_log_function_errors_do_not_break_calls(server):
    class Broken(object):
        def fail(self, *args):
            raise RuntimeError("log handler broken")

        error = warning = info = debug = log = fail

    oc = omcache.OMcache(server.address, Broken())
    assert oc.set("a", "b") == 0
    assert oc.get("a") == b"b"


def test_free(server):
    oc = omcache.OMcache(server.address)
    oc.set("a", "b")
    oc.free()
    oc.free()
    assert oc.omc is None
    with pytest.raises(omcache.Error):
        oc.get("a")
    with pytest.raises(omcache.Error):
        oc.set_servers(server.address)
    del oc


def test_subclassing_and_omc_check(server):
    class Mine(omcache.OMcache):
        def get(self, key, **kw):
            return super(Mine, self).get(key, **kw).upper()

    m = Mine(server.address)
    m.set("a", "abc")
    assert m.get("a") == b"ABC"
    assert omcache.OMcache._omc_check(omcache.OMCACHE_BUFFERED, "x") == omcache.OMCACHE_BUFFERED
    with pytest.raises(omcache.CommandError) as e:
        omcache.OMcache._omc_check(omcache.OMCACHE_AGAIN, "flush")
    assert str(e.value) == "flush: Call would block, try again"
    assert omcache.OMcache._omc_check(omcache.OMCACHE_AGAIN, "x", allowed=[omcache.OMCACHE_AGAIN]) == 0x1001
    with pytest.raises(omcache.NotFoundError):
        omcache.OMcache._omc_check(1, "x")


def test_positional_arguments(mc):
    # OMcache 0.3's parameter order
    mc.set("p", "v", 100, 9, 0, 1000)
    assert mc.get("p", True, True, 1000)[:2] == (b"v", 9)
    mc.add("p2", "v", 100, 4, 1000)
    mc.replace("p2", "w", 100, 5, 1000)
    mc.append("p2", "x", 0, 1000)
    mc.prepend("p2", "y", 0, 1000)
    assert mc.get("p2", True) == (b"ywx", 5)
    mc.touch("p2", 100, 1000)
    assert mc.increment("n", 1, 5, 100, 1000) == 5
    assert mc.decrement("n", 1, 5, 100, 1000) == 4
    assert mc.get_multi(["p", "p2"], False, False, 1000) == {b"p": b"v", b"p2": b"ywx"}
    assert mc.stat("", 0, 1000)
    assert mc.noop(0, 1000) == 0
    mc.delete("p", 1000)
