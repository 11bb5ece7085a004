//! The servers that may need attention: a superset of the connections that are not quiet
//! (`Connection::is_quiet`). The per-call loops of the client (dispatch, `io`, the I/O loop,
//! probes and timeouts) visit these instead of every server, so that with thousands of
//! servers a request does not pay for a scan of all of them (measured before: 1 ms per get
//! at 10,000 servers, 40 µs at 1,000).
//!
//! A connection only leaves quiet through the client: a request queued on it (`enqueue`,
//! which reroutes use too), or a change of the server list or of the settings that reset
//! connections (those mark the set stale: it is rebuilt from every server). Quiet ones are
//! dropped at the start of each call.

use super::Client;

#[derive(Debug, Default)]
pub(super) struct ActiveSet {
    list: Vec<usize>,
    member: Vec<bool>,
    /// Rebuild from every server at the next refresh (the server list changed).
    stale: bool,
}

impl ActiveSet {
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    pub(super) fn get(&self, k: usize) -> usize {
        self.list[k]
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.list.iter().copied()
    }

    pub(super) fn add(&mut self, server: usize) {
        if server >= self.member.len() {
            self.member.resize(server + 1, false);
        }
        if !self.member[server] {
            self.member[server] = true;
            self.list.push(server);
        }
    }

    /// The server list or the connections' state changed: rebuilt from every server at the
    /// next refresh (until then the set is empty, never out of range).
    pub(super) fn mark_stale(&mut self) {
        self.stale = true;
        self.list.clear();
        self.member.clear();
    }
}

impl Client {
    /// `server` may need attention from now on.
    pub(super) fn activate(&mut self, server: usize) {
        self.active.add(server);
    }

    /// Rebuilds the active set if the server list changed; else leaves it as it is (quiet
    /// servers in it cost a look each, not a mistake). For calls that continue a batch (a
    /// face's fetch calls `io` once per value: pruning there would cost more than it saves).
    pub(super) fn refresh_active_if_stale(&mut self) {
        if self.active.stale {
            self.refresh_active();
        }
    }

    /// Drops the quiet servers from the active set, or rebuilds it from every server after
    /// a change of the server list.
    pub(super) fn refresh_active(&mut self) {
        let set = &mut self.active;
        if set.stale {
            set.stale = false;
            set.list.clear();
            set.member.clear();
            set.member.resize(self.conns.len(), false);
            for (i, c) in self.conns.iter().enumerate() {
                if !c.is_quiet() {
                    set.member[i] = true;
                    set.list.push(i);
                }
            }
            self.relist_holding();
            return;
        }
        // The common case of a single request's server, without retain's general machinery.
        if let [only] = set.list[..] {
            if self.conns[only].is_quiet() {
                set.member[only] = false;
                set.list.clear();
            }
            return;
        }
        let conns = &self.conns;
        // Busy servers stay (buffered requests keep every server of a batch busy call after
        // call): a look each, and retain's writes only when one has gone quiet.
        if !set.list.iter().any(|&i| conns[i].is_quiet()) {
            return;
        }
        let member = &mut set.member;
        set.list.retain(|&i| {
            let keep = !conns[i].is_quiet();
            member[i] = keep;
            keep
        });
    }
}
