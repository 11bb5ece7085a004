"""fork() while another thread is inside a call on the same client: the child must not wait
forever for a client state that thread had out (it does not exist in the child). Found by an
outside tester: the child hung in a futex wait, past every timeout."""

import os
import threading
import time
import warnings

import pytest


def child_outcome_while_busy(call):
    """Forks while another thread keeps calling `call`; the child calls it once. Returns
    'ok', 'error' (an exception in the child) or 'hung' (killed after 10 s)."""
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                call()
            except Exception:  # noqa: BLE001 - the parent's calls only keep the client busy
                pass

    t = threading.Thread(target=hammer)
    t.start()
    time.sleep(0.05)
    with warnings.catch_warnings():
        # Python 3.12 warns about fork() in a threaded process: that is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        try:
            call()
            code = 0
        except Exception:  # noqa: BLE001 - the outcome is the exit code
            code = 3
        os._exit(code)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return {0: "ok", 3: "error"}.get(os.waitstatus_to_exitcode(status), "crashed")
            time.sleep(0.02)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return "hung"
    finally:
        stop.set()
        t.join()


@pytest.mark.parametrize("attempt", range(3))
def test_a_child_forked_while_another_thread_uses_the_client_does_not_hang(
    ours, servers, binary, attempt
):
    mc = ours.Client([servers[0].address], binary=binary, behaviors={"_poll_timeout": 1000})
    mc.set("fork-key", "v")
    outcome = child_outcome_while_busy(lambda: mc.get("fork-key"))
    # The child either found the client free at the fork (the other thread was between
    # calls) or gets an error saying to make a new client; never a hang.
    assert outcome in ("ok", "error")
    # The parent's client goes on working.
    assert mc.get("fork-key") == "v"


@pytest.mark.parametrize("attempt", range(3))
def test_an_omcache_child_forked_while_another_thread_uses_it_does_not_hang(servers, attempt):
    """The same for omcache.OMcache (its engine lock, held by the other thread)."""
    import omcache

    oc = omcache.OMcache(servers[0].address)
    oc.io_timeout = 1000
    oc.set(b"fork-key", b"v")
    outcome = child_outcome_while_busy(lambda: oc.get(b"fork-key"))
    assert outcome in ("ok", "error")
    assert oc.get(b"fork-key") == b"v"
    oc.free()
