//! Connection events into the caller's sink: answers matched to batch members, requests that
//! got no answer, late and oversized answers, and outcomes kept for a later call.

use crate::connection::{returns_key, Corruption, Event, Origin};

use super::batch::Batch;
use super::{log_level, Client, Failure, RequestSet, Response, ResponseSink, Status};

/// An outcome of a batch member decided while the caller's request set was not at hand.
#[derive(Clone, Copy, Debug)]
pub(super) enum Report {
    /// The request failed (already complete in the batch).
    Failed { index: usize, status: Status },
    /// The request never left its dead server: route it again (still pending in the batch),
    /// or fail it with `status` (the server's failure) if it cannot be made again.
    Reroute { opaque: u32, status: Status },
    /// A write of an earlier call, which no batch waits for (a buffered or quiet write made
    /// without waiting), was lost with its connection or its server's leaving the list: told
    /// to the next sink as an answer of no request (OMcache's response callback sees one
    /// keyless failure per lost write) instead of vanishing.
    Unclaimed { status: Status },
}

/// Completes a request (`opaque`, `opcode`) with a failure and tells the caller: a member of
/// the batch now (with its request set) or at the next `io` that continues the batch
/// (without); a write of an earlier call, which no batch waits for, at the next sink
/// (`Report::Unclaimed`; reads given up on are nobody's loss). Returns whether it was told.
pub(super) fn fail_member(
    batch: &mut Batch,
    reports: &mut Vec<Report>,
    (opaque, opcode): (u32, u8),
    status: Status,
    reqs: Option<&dyn RequestSet>,
    sink: &mut dyn ResponseSink,
) -> bool {
    let Some(index) = batch.complete(opaque) else {
        let lost_write = crate::protocol::changes_value(opcode) && status.failure().is_some();
        if lost_write {
            reports.push(Report::Unclaimed { status });
        }
        return lost_write;
    };
    match reqs {
        Some(r) => {
            let key = r.request(index).parts.key;
            sink.response(&Response::synthetic(status, key), Some(index));
        }
        None => reports.push(Report::Failed { index, status }),
    }
    true
}

/// What the answer to a SASL AUTH means: None when the server accepted the credentials, else
/// why the connection may not be used.
fn auth_outcome(answer: &crate::protocol::Answer<'_>) -> Option<(String, Failure)> {
    use crate::protocol::status;
    let text = String::from_utf8_lossy(answer.value);
    match answer.status {
        status::NO_ERROR => None,
        // memcached without -S: libmemcached fails such a server too (UNKNOWN_READ_FAILURE).
        status::UNKNOWN_COMMAND => Some((
            format!("SASL credentials set but the server does not support SASL ({text})"),
            Failure::AuthUnsupported,
        )),
        // PLAIN has a single step: a server asking for more is not doing PLAIN.
        status::AUTH_CONTINUE => Some((
            format!("SASL PLAIN authentication failed: the server asked for another step ({text})"),
            Failure::AuthFailed,
        )),
        other => Some((
            format!("SASL PLAIN authentication failed: status 0x{other:04x} ({text})"),
            Failure::AuthFailed,
        )),
    }
}

impl Client {
    /// Without the caller's requests (OMcache's `omcache_io` with none): the failures decided
    /// without them are handed over now, keyless, rather than kept for an `io` with the
    /// requests that may never come (a write lost in a connection the server had closed
    /// reached neither OMcache's callback nor any return code; found by an outside tester).
    /// Requests to move to another server wait for the requests (their keys are needed).
    pub(super) fn hand_over_failures_keyless(&mut self, sink: &mut dyn ResponseSink) {
        if !self
            .reports
            .iter()
            .any(|r| matches!(r, Report::Failed { .. } | Report::Unclaimed { .. }))
        {
            return;
        }
        let mut reports = std::mem::take(&mut self.reports);
        reports.retain(|report| match *report {
            Report::Failed { index, status } => {
                sink.response(&Response::synthetic(status, &[]), Some(index));
                false
            }
            Report::Unclaimed { status } => {
                sink.response(&Response::synthetic(status, &[]), None);
                false
            }
            Report::Reroute { .. } => true,
        });
        self.reports = reports;
    }

    /// Tells `sink` of the lost writes of earlier calls (`Report::Unclaimed`), as answers of
    /// no request, and forgets them.
    pub(super) fn hand_over_unclaimed(&mut self, sink: &mut dyn ResponseSink) {
        self.reports.retain(|report| match *report {
            Report::Unclaimed { status } => {
                sink.response(&Response::synthetic(status, &[]), None);
                false
            }
            _ => true,
        });
    }

    /// Hands over the outcomes decided without the caller's requests (see `Report`).
    pub(super) fn hand_over_reports(&mut self, reqs: &dyn RequestSet, sink: &mut dyn ResponseSink) {
        if self.reports.is_empty() {
            return;
        }
        let reports = std::mem::take(&mut self.reports);
        for report in &reports {
            match *report {
                Report::Failed { index, status } if index < reqs.len() => {
                    let key = reqs.request(index).parts.key;
                    sink.response(&Response::synthetic(status, key), Some(index));
                }
                Report::Failed { .. } => {}
                Report::Unclaimed { status } => {
                    sink.response(&Response::synthetic(status, &[]), None);
                }
                Report::Reroute { opaque, status } => {
                    let Some(index) = self.batch.index_of(opaque) else {
                        continue;
                    };
                    let req = reqs.request(index);
                    // A request set that keeps no keys (the libmemcached face's pending fetch)
                    // gives a key-less stand-in: the request cannot be made again, and fails
                    // with what stopped it, not as a bad key.
                    let rerouted = if req.parts.key.is_empty() {
                        Err(status)
                    } else {
                        self.enqueue(&req, opaque, None)
                    };
                    if let Err(status) = rerouted {
                        fail_member(
                            &mut self.batch,
                            &mut self.reports,
                            (opaque, req.parts.opcode),
                            status,
                            Some(reqs),
                            sink,
                        );
                    }
                }
            }
        }
        // Reuse the allocation next time.
        let mut reports = reports;
        reports.clear();
        if self.reports.is_empty() {
            self.reports = reports;
        }
    }

    /// A server has taken its keys back: the copies written elsewhere while it was out are
    /// deleted there (quiet deletes, queued now and written with the next requests), so that
    /// a later outage cannot send reads of those keys back to values older than its own.
    fn delete_copies_elsewhere(&mut self, server: usize) {
        let copies = self.conns[server].take_copies_elsewhere();
        if copies.is_empty() {
            return;
        }
        let send_max = self.settings.send_buffer_max;
        let mut skipped = copies.dropped();
        // Copies name their server by id: where each is in the list now (a server no longer
        // listed is out of reach, its copies with it).
        let mut index_of_id = vec![usize::MAX; self.server_ids.len()];
        for (i, c) in self.conns.iter().enumerate() {
            if let Some(slot) = index_of_id.get_mut(c.server_id()) {
                *slot = i;
            }
        }
        // Each server the deletes go to is looked at first, as a request is: one the server
        // closed meanwhile (restarted) would take them, and the caller's requests behind
        // them, into the closed connection (found by an outside tester).
        let mut looked = vec![false; self.conns.len()];
        for (target_id, key) in copies.iter() {
            let target = index_of_id.get(target_id).copied().unwrap_or(usize::MAX);
            if target == server || target >= self.conns.len() {
                continue;
            }
            if !std::mem::replace(&mut looked[target], true) {
                self.close_if_gone_while_idle(target);
            }
            let id = self.next_id();
            if self.conns[target].queue_cleanup_delete(id, key, send_max) {
                self.activate(target);
            } else {
                skipped += 1;
            }
        }
        let addr = self.conns[server].addr().to_string();
        let kept = copies.kept();
        self.log(
            log_level::INFO,
            format_args!("[{addr}] took its keys back: deleting {kept} copies written on other servers while it was out"),
        );
        if skipped > 0 {
            self.log(
                log_level::WARNING,
                format_args!("[{addr}] took its keys back: {skipped} copies written on other servers while it was out are not deleted (too many); were it to fail again, reads of those keys could find them"),
            );
        }
    }

    /// Delivers every complete response in a server's receive buffer.
    pub(super) fn process_input(
        &mut self,
        server: usize,
        reqs: Option<&dyn RequestSet>,
        sink: &mut dyn ResponseSink,
    ) {
        let recv_max = self.settings.recv_buffer_max;
        // Its buffers may have grown for a big frame: listed for the idle trim (trim.rs).
        self.note_holding(server);
        loop {
            let conn = &mut self.conns[server];
            let mut pin = false;
            let mut probe_answered = false;
            let mut auth_refused: Option<(String, Failure)> = None;
            let mut auth_answered = false;
            let mut refused_unauthenticated = false;
            let corrupt: Option<Corruption> = match conn.next_event(recv_max) {
                Event::NeedMore => return,
                Event::Unanswered(f) => {
                    if f.origin == Origin::User && !f.quiet {
                        // memcached answers every non-quiet request in order: this one was lost.
                        fail_member(
                            &mut self.batch,
                            &mut self.reports,
                            (f.opaque, f.opcode),
                            Status::Failed(Failure::ProtocolError),
                            reqs,
                            sink,
                        );
                    } else if f.origin == Origin::User {
                        // A quiet request with no answer succeeded (or missed).
                        self.batch.complete(f.opaque);
                    }
                    None
                }
                Event::Missed(f) => {
                    if f.origin == Origin::User {
                        if f.quiet {
                            self.batch.complete(f.opaque);
                        } else {
                            // A single get that got no VALUE: not found.
                            fail_member(
                                &mut self.batch,
                                &mut self.reports,
                                (f.opaque, f.opcode),
                                Status::NotFound,
                                reqs,
                                sink,
                            );
                        }
                    }
                    None
                }
                Event::Answer {
                    answer,
                    entry,
                    last,
                } => {
                    let resp = Response::from_answer(&answer);
                    match entry.origin {
                        Origin::User => {
                            let index = if last {
                                self.batch.complete(entry.opaque)
                            } else {
                                self.batch.index_of(entry.opaque)
                            };
                            let mut resp = resp;
                            if let (Some(i), Some(r)) = (index, reqs) {
                                // Meta answers carry no key: the request's (the answer was
                                // matched to it by opaque).
                                if resp.key.is_empty() && returns_key(entry.opcode) {
                                    resp.key = r.request(i).parts.key;
                                }
                            }
                            refused_unauthenticated =
                                answer.status == crate::protocol::status::AUTH_ERROR;
                            pin = sink.response(&resp, index.filter(|_| reqs.is_some()));
                        }
                        Origin::TrailingNoop => pin = sink.response(&resp, None),
                        // A copy that was not there any more (or could not be deleted):
                        // nobody's business.
                        Origin::Cleanup => {}
                        Origin::Probe => probe_answered = true,
                        Origin::Auth => {
                            auth_answered = true;
                            auth_refused = auth_outcome(&answer);
                        }
                    }
                    None
                }
                Event::Late(answer) => {
                    pin = sink.response(&Response::from_answer(&answer), None);
                    None
                }
                Event::Oversized {
                    opcode,
                    cas,
                    len,
                    entry,
                } => {
                    let resp = Response {
                        opcode,
                        cas,
                        ..Response::synthetic(Status::Failed(Failure::ValueTooLarge), &[])
                    };
                    match entry {
                        Some(e) if e.origin == Origin::User => {
                            let index = self.batch.complete(e.opaque);
                            let key = match (index, reqs) {
                                (Some(i), Some(r)) => r.request(i).parts.key,
                                _ => &[],
                            };
                            let resp = Response { key, ..resp };
                            match (index, reqs) {
                                (Some(i), Some(_)) => {
                                    sink.response(&resp, Some(i));
                                }
                                (Some(i), None) => self.reports.push(Report::Failed {
                                    index: i,
                                    status: Status::Failed(Failure::ValueTooLarge),
                                }),
                                (None, _) => {
                                    sink.response(&resp, None);
                                }
                            }
                        }
                        _ => {
                            sink.response(&resp, None);
                        }
                    }
                    self.logger.log(
                        log_level::WARNING,
                        format_args!("response of {len} bytes exceeds the receive limit; skipped"),
                    );
                    None
                }
                Event::Corrupt(c) => Some(c),
            };
            if pin {
                self.conns[server].pin();
            }
            // A refused authentication stays pending until the reset: the requests held
            // behind it count as never sent.
            if auth_answered && auth_refused.is_none() {
                self.conns[server].auth_answered();
            }
            if refused_unauthenticated && !self.conns[server].has_work() {
                // memcached -S closes a connection after refusing a request made without
                // authentication: close it now, so that the next request connects afresh
                // instead of failing on the dead socket.
                self.conns[server].close_quietly();
                return;
            }
            if let Some((why, failure)) = auth_refused {
                // The requests held back behind the authentication were never sent: they
                // fail with it, and the server is out of service until its retry time. No
                // retry here: the same credentials would be refused again.
                self.server_failed(server, &why, failure, reqs, sink);
                return;
            }
            if let Some(c) = corrupt {
                let msg = match c {
                    Corruption::Frame(e) => format!("protocol error: {e:?}"),
                    Corruption::Text(e) => format!("protocol error: {e:?}"),
                    Corruption::Meta(e) => format!("protocol error: {e:?}"),
                    Corruption::Unexpected => {
                        "protocol error: an answer that fits no request in flight".into()
                    }
                    Corruption::KeyMismatch => {
                        "protocol error: an answer carries another key than its request's".into()
                    }
                    Corruption::WrongAnswer => {
                        "protocol error: an answer of another kind than its request".into()
                    }
                };
                self.server_failed(server, &msg, Failure::ProtocolError, reqs, sink);
                return;
            }
            if probe_answered {
                let addr = self.conns[server].addr().to_string();
                if self.conns[server].take_flush_refused() {
                    self.log(
                        log_level::WARNING,
                        format_args!("[{addr}] refused the flush sent before it takes its keys back (flush_all disabled?): it may hand out values older than those written elsewhere while it was out"),
                    );
                }
                if self.conns[server].needs_flush_probe() {
                    // Writes for its keys went elsewhere while its NOOP probe was out.
                    let id = self.next_id();
                    let conn = &mut self.conns[server];
                    conn.start_probe(id);
                    let _ = conn.flush(Some(std::time::Instant::now()));
                } else {
                    self.log(
                        log_level::NOTICE,
                        format_args!("[{addr}] answered again; server re-enabled"),
                    );
                    if self.conns[server].takes_keys() {
                        self.delete_copies_elsewhere(server);
                    }
                }
            }
            if sink.paused() || !self.conns[server].may_have_event() {
                return;
            }
        }
    }
}
