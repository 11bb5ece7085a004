//! Receive memory kept for big values goes back to the allocator once big values stop.
//!
//! A connection that received big frames keeps its grown buffer and spare buffers (up to the
//! retire budget, 8 MiB by default) so that a stream of big values reuses memory instead of
//! allocating and page-faulting per value. Kept forever, that is up to the budget per server
//! after a single burst. The client lists the connections that hold such memory and, every
//! `SWEEP_EVERY` calls, releases it from the quiet ones that received no big frame since the
//! previous sweep: memory returns within two sweeps after the last big value, and a steady
//! stream never loses its buffers.

use super::Client;

/// Calls of the client (dispatches and `io`s) between two sweeps.
pub(super) const SWEEP_EVERY: u32 = 64;

#[derive(Debug, Default)]
pub(super) struct Holding {
    /// Connections that may hold extra receive memory, and a flag per connection.
    list: Vec<usize>,
    listed: Vec<bool>,
    calls: u32,
}

impl Client {
    /// Notes that `server` may hold extra receive memory (after big frames). On every
    /// receive's path: the common answer (no extra memory) is two comparisons.
    #[inline]
    pub(super) fn note_holding(&mut self, server: usize) {
        if self.conns[server].holds_extra_buffers() {
            self.list_holding(server);
        }
    }

    #[cold]
    fn list_holding(&mut self, server: usize) {
        let h = &mut self.holding;
        if server >= h.listed.len() {
            h.listed.resize(server + 1, false);
        }
        if !h.listed[server] {
            h.listed[server] = true;
            h.list.push(server);
        }
    }

    /// Once per call: every `SWEEP_EVERY` calls, the listed quiet connections that received
    /// no big frame since the last sweep release their extra memory.
    #[inline]
    pub(super) fn count_call_and_sweep(&mut self) {
        let h = &mut self.holding;
        h.calls += 1;
        if h.calls >= SWEEP_EVERY {
            h.calls = 0;
            if !h.list.is_empty() {
                self.sweep_holding();
            }
        }
    }

    #[cold]
    fn sweep_holding(&mut self) {
        let h = &mut self.holding;
        let conns = &mut self.conns;
        let listed = &mut h.listed;
        h.list.retain(|&i| {
            let Some(conn) = conns.get_mut(i) else {
                return false;
            };
            // A busy connection keeps what it has until a sweep finds it quiet.
            let keep = !conn.is_quiet() || conn.trim_idle_buffers();
            listed[i] = keep;
            keep
        });
    }

    /// The server list changed (indices moved): every connection is looked at again.
    pub(super) fn relist_holding(&mut self) {
        self.holding.list.clear();
        self.holding.listed.clear();
        for i in 0..self.conns.len() {
            self.note_holding(i);
        }
    }
}
