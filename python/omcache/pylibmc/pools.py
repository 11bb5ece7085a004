"""Pools of clients for threaded programs: one client is used by one thread at a time."""

import threading
from contextlib import contextmanager
from queue import Queue


class ClientPool(Queue):
    """A queue of clients (clones of one); `reserve()` lends one for a `with` block.

    >>> pool = ClientPool(mc, 4)                       # doctest: +SKIP
    >>> with pool.reserve() as client:                 # doctest: +SKIP
    ...     client.set("key", "value")
    """

    def __init__(self, mc=None, n_slots=0):
        super().__init__(n_slots)
        if mc is not None and n_slots:
            self.fill(mc, n_slots)

    @contextmanager
    def reserve(self, block=False):
        """Lends a client; with *block*, waits for one when the pool is empty."""
        client = self.get(block)
        try:
            yield client
        finally:
            self.put(client)

    def fill(self, mc, n_slots):
        """Adds *n_slots* clones of *mc*."""
        for _ in range(n_slots):
            self.put(mc.clone())


class ThreadMappedPool(dict):
    """One clone of *master* per thread, made on the thread's first `reserve()`.

    A thread that is done with the pool calls `relinquish()` so its client is dropped.
    """

    def __new__(cls, master):
        return super().__new__(cls)

    def __init__(self, master):
        super().__init__()
        self.master = master

    @property
    def current_key(self):
        return threading.current_thread().ident

    @contextmanager
    def reserve(self):
        """Lends this thread's client, cloning the master for a thread's first use."""
        key = self.current_key
        client = self.pop(key, None)
        if client is None:
            client = self.master.clone()
        try:
            yield client
        finally:
            self[key] = client

    def relinquish(self):
        """Drops (and returns) this thread's client, if it has one."""
        return self.pop(self.current_key, None)
