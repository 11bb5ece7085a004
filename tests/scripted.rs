//! Regression tests for engine defects, against the scripted fake memcached in
//! `tests/scripted/mod.rs` (fault injection only; real data paths are tested against real
//! memcached elsewhere). Each test names the defect it covers in its head comment. They test
//! the contract (README "Failover and timeouts"), not the engine's internals.
//!
//! OMCACHE_TEST_SLACK (default 1.0) multiplies the upper timing margins on slow machines.
mod common;
#[path = "scripted/mod.rs"]
mod scripted;

use std::time::{Duration, Instant};

use omcache::client::{
    Failure, OwnedRequest, Request, RequestSet, Requests, Response, ResponseSink, Status,
};
use omcache::protocol::{opcode, RequestParts};
use omcache::Client;

use scripted::{
    answer, foreign_hit, hit, hit_as, reply, serve, stale_hit, value_for, Req, Server, Step,
};

fn slack() -> f64 {
    std::env::var("OMCACHE_TEST_SLACK")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s >= 1.0)
        .unwrap_or(1.0)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn slack_ms(n: u64) -> Duration {
    Duration::from_secs_f64(n as f64 / 1000.0 * slack())
}

fn client(list: &str) -> Client {
    let mut c = Client::new();
    c.set_servers(list).unwrap();
    let s = c.settings_mut();
    s.connect_timeout = ms(1000);
    s.reconnect_timeout = ms(50);
    s.dead_timeout = ms(5000);
    c
}

fn getk(key: &[u8]) -> OwnedRequest {
    OwnedRequest::keyed(opcode::GETK, key)
}

/// Retries a get while its server is out of use (a server disabled by a protocol error comes
/// back after reconnect_timeout), for at most 2 s.
fn get_when_usable(c: &mut Client, key: &[u8]) -> Result<Option<omcache::client::Item>, Status> {
    let start = Instant::now();
    loop {
        let r = c.get(key);
        if r != Err(Status::Failed(Failure::NoServers)) || start.elapsed() > Duration::from_secs(2)
        {
            return r;
        }
        std::thread::sleep(ms(10));
    }
}

/// Asserts that a later request is answered right on a connection opened after `old_conn`.
fn assert_fresh_connection_works(c: &mut Client, srv: &Server, old_conn: usize, key: &[u8]) {
    let r = get_when_usable(c, key);
    assert_eq!(
        r.map(|i| i.map(|i| i.value)),
        Ok(Some(value_for(key))),
        "a later request after the reset"
    );
    let conns = srv.connections_of(key);
    assert!(
        conns.iter().all(|&n| n > old_conn),
        "the connection was not reset: the later request went on connection(s) {conns:?}, \
         the bad answer came on connection {old_conn}"
    );
}

/// Every response with status OK carries its own request's key (when it has one) and that
/// key's value.
fn assert_no_foreign_ok(
    reqs: &[OwnedRequest],
    responses: &[(usize, omcache::client::OwnedResponse)],
) {
    for (i, r) in responses {
        if r.status == Status::Ok {
            let want = &reqs[*i].key;
            assert!(
                r.key.is_empty() || &r.key == want,
                "request {i} ({:?}) answered OK with key {:?}",
                String::from_utf8_lossy(want),
                String::from_utf8_lossy(&r.key)
            );
            assert_eq!(
                r.data,
                value_for(want),
                "request {i} ({:?}) answered OK with another value",
                String::from_utf8_lossy(want)
            );
        }
    }
}

// ----- defect 2: omcache_poll_fds swallowed a failure -----------------------------------------

/// Records every response the engine hands out.
#[derive(Default)]
struct Record(Vec<(Option<usize>, Status)>);

impl ResponseSink for Record {
    fn response(&mut self, r: &Response<'_>, batch_index: Option<usize>) -> bool {
        self.0.push((batch_index, r.status));
        false
    }
}

/// When omcache_poll_fds runs in defect 2's scenarios.
#[derive(Clone, Copy, Debug, PartialEq)]
enum PollFds {
    Never,
    /// command, poll_fds, sleep, io
    BeforeSleep,
    /// command, sleep, poll_fds, io (the probe's order: the resolution has timed out by then)
    AfterSleep,
}

/// command(timeout 0) to an unresolvable host (connect_timeout 20 ms), 100 ms, io(timeout
/// 100), with poll_fds in between as `when`.
fn unresolvable_queued_get(when: PollFds) -> (Status, Vec<(Option<usize>, Status)>) {
    let mut c = Client::new();
    c.set_servers("no-such-host.invalid:11211").unwrap();
    c.settings_mut().connect_timeout = ms(20);
    let mut reqs = [Request::keyed(RequestParts {
        opcode: opcode::GETK,
        key: b"queued-key",
        ..Default::default()
    })];
    let mut sink = Record::default();
    let status = c.command(&mut Requests(&mut reqs), &mut sink, 0);
    if when == PollFds::BeforeSleep {
        let _ = c.poll_fds();
    }
    std::thread::sleep(ms(100));
    if when == PollFds::AfterSleep {
        let _ = c.poll_fds();
    }
    let set = Requests(&mut reqs);
    let set: &dyn RequestSet = &set;
    let _ = c.io(Some(set), &mut sink, 100);
    (status, sink.0)
}

fn assert_failure_reported(status: Status, got: &[(Option<usize>, Status)]) {
    assert!(
        got.iter().any(|&(i, s)| i == Some(0) && s != Status::Ok),
        "the queued request got no failure status (command returned {status:?}, responses {got:?})"
    );
}

/// Defect 2 (probe pollfds.c): poll_fds between command(timeout 0) and io, after the
/// resolution has timed out, must not make the request's failure vanish.
#[test]
fn defect2_poll_fds_after_the_failure_does_not_swallow_it() {
    let (status, got) = unresolvable_queued_get(PollFds::AfterSleep);
    assert_failure_reported(status, &got);
}

/// Defect 2: poll_fds right after command (before the resolution times out).
#[test]
fn defect2_poll_fds_before_the_failure() {
    let (status, got) = unresolvable_queued_get(PollFds::BeforeSleep);
    assert_failure_reported(status, &got);
}

/// Defect 2, control: the same without poll_fds.
#[test]
fn defect2_control_failure_reported_without_poll_fds() {
    let (status, got) = unresolvable_queued_get(PollFds::Never);
    assert_failure_reported(status, &got);
}

// ----- defect 4: an answer with the right opaque but another key was accepted -----------------

/// Keys starting with "fk-" get another key's answer (right opaque); the rest the right one.
fn foreign_key_server() -> Server {
    Server::start(|_| {
        vec![Step::Serve(Box::new(|r: &Req| {
            if r.key.starts_with(b"fk-") {
                foreign_hit(r)
            } else {
                answer(r)
            }
        }))]
    })
}

/// Defect 4 (probe foreign_key.c): GETK answered with another key: never OK with that value;
/// the request fails and the connection is reset.
#[test]
fn defect4_getk_answered_with_another_key_fails_and_resets() {
    let srv = foreign_key_server();
    let mut c = client(&srv.addr());
    assert_eq!(
        c.get(b"good-0").map(|i| i.map(|i| i.value)),
        Ok(Some(value_for(b"good-0"))),
        "setup: the right answer is accepted"
    );
    let r = c.get(b"fk-1");
    assert!(
        matches!(r, Err(s) if s != Status::Again),
        "GETK answered with key zk-1 for fk-1: {r:?}"
    );
    let bad_conn = srv.connections_of(b"fk-1")[0];
    assert_fresh_connection_works(&mut c, &srv, bad_conn, b"good-2");
}

/// Defect 4: GETKQ in a multi-get answered with another key: that value never comes back
/// (under any key), the connection is reset.
#[test]
fn defect4_getkq_in_multi_get_answered_with_another_key() {
    let srv = foreign_key_server();
    let mut c = client(&srv.addr());
    let keys: [&[u8]; 4] = [b"good-0", b"fk-1", b"good-2", b"good-3"];
    let mut reqs: Vec<OwnedRequest> = keys
        .iter()
        .map(|k| OwnedRequest::keyed(opcode::GETKQ, k))
        .collect();
    let (status, responses) = c.execute(&mut reqs, 2000);
    assert_ne!(status, Status::Again, "{responses:?}");
    assert_no_foreign_ok(&reqs, &responses);
    assert!(
        !responses
            .iter()
            .any(|(i, r)| *i == 1 && r.status == Status::Ok),
        "fk-1 came back OK"
    );
    // Through get_multi as well: every value is its key's.
    let mut c2 = client(&srv.addr());
    if let Ok(items) = c2.get_multi(&keys) {
        for (k, item) in items {
            assert_eq!(
                item.value,
                value_for(&k),
                "get_multi gave {:?} another key's value",
                String::from_utf8_lossy(&k)
            );
        }
    }
    let bad_conn = srv.connections_of(b"fk-1")[0];
    assert_fresh_connection_works(&mut c, &srv, bad_conn, b"good-9");
}

/// Defect 4: GATK (get and touch) answered with another key: never OK with it.
#[test]
fn defect4_gatk_answered_with_another_key_fails_and_resets() {
    let srv = foreign_key_server();
    let mut c = client(&srv.addr());
    let mut reqs = [OwnedRequest {
        extras: 300u32.to_be_bytes().to_vec(),
        ..OwnedRequest::keyed(opcode::GATK, b"fk-gat")
    }];
    let (status, responses) = c.execute(&mut reqs, 2000);
    assert_ne!(status, Status::Again);
    assert_no_foreign_ok(&reqs, &responses);
    assert!(
        responses
            .iter()
            .any(|(i, r)| *i == 0 && r.status != Status::Ok),
        "GATK fk-gat answered with key zk-gat did not fail: {responses:?}"
    );
    let bad_conn = srv.connections_of(b"fk-gat")[0];
    assert_fresh_connection_works(&mut c, &srv, bad_conn, b"good-gat");
}

// ----- defect 5: a silent server was never declared dead --------------------------------------

/// Defect 5 (probe silent_server.c): a server that accepts and never answers, beside a real
/// memcached; gets with timeout 100 < dead_timeout 500 in a loop: by 2 x dead_timeout + one
/// call its key is served by the other server (or calls fail fast).
#[test]
fn defect5_silent_server_goes_dead_under_short_timeouts() {
    let real = common::Memcached::start(&[]);
    let silent = Server::start(|_| vec![Step::Silent]);
    let list = format!("{},{}", silent.addr(), real.addr());
    let mut c = Client::new();
    c.set_servers(&list).unwrap();
    let s = c.settings_mut();
    s.dead_timeout = ms(500);
    s.reconnect_timeout = ms(60_000);
    s.connect_timeout = ms(1000);
    let silent_index = (0..c.server_count())
        .find(|&i| c.server_addr(i).unwrap().port == silent.port)
        .unwrap();
    let key = (0..)
        .map(|i| format!("silent-{i}").into_bytes())
        .find(|k| c.server_index_for_key(k) == Some(silent_index))
        .unwrap();
    let mut setup = Client::new();
    setup.set_servers(&real.addr()).unwrap();
    setup.set(&key, b"silent-live-value", 0, 0).unwrap();

    let start = Instant::now();
    let allowed = ms(2 * 500 + 100) + slack_ms(50);
    let mut fast_failures = 0;
    let mut outcome = None;
    while start.elapsed() < Duration::from_secs(3) {
        let mut reqs = [getk(&key)];
        let t = Instant::now();
        let (status, responses) = c.execute(&mut reqs, 100);
        let took = t.elapsed();
        for (_, r) in &responses {
            if r.status == Status::Ok {
                assert_eq!(r.data, b"silent-live-value", "a wrong value");
            }
        }
        let served = responses
            .iter()
            .any(|(_, r)| matches!(r.status, Status::Ok | Status::NotFound));
        if served || c.server_index_for_key(&key) != Some(silent_index) {
            outcome = Some(("moved to the other server", start.elapsed()));
            break;
        }
        let failed = status != Status::Again
            && responses
                .iter()
                .any(|(_, r)| r.status != Status::Ok && r.status != Status::NotFound);
        if failed && took < ms(50) {
            fast_failures += 1;
            if fast_failures == 3 {
                outcome = Some(("calls fail fast", start.elapsed()));
                break;
            }
        } else {
            fast_failures = 0;
        }
    }
    let Some((what, when)) = outcome else {
        panic!(
            "the silent server was never declared dead: AGAIN for {:?}",
            start.elapsed()
        );
    };
    assert!(
        when <= allowed,
        "{what} only after {when:?} (allowed {allowed:?})"
    );
}

// ----- defect 6: timeouts overrun --------------------------------------------------------------

/// Defect 6: a positive timeout is kept: against a silent server a get with timeout t returns
/// AGAIN after >= t and < t + 2 ms (x slack); median of 5 tries.
#[test]
fn defect6_timeouts_are_kept_against_a_silent_server() {
    let silent = Server::start(|_| vec![Step::Silent]);
    let mut c = client(&silent.addr());
    c.settings_mut().dead_timeout = Duration::from_secs(30);
    // Connect first: the connect is not what is measured.
    let (status, _) = c.execute(&mut [getk(b"warm-up")], 5);
    assert_eq!(status, Status::Again);
    let mut report = Vec::new();
    for t in [5u64, 10, 25, 100] {
        let mut took = Vec::new();
        for i in 0..5 {
            let mut reqs = [getk(format!("timeout-{t}-{i}").as_bytes())];
            let start = Instant::now();
            let (status, _) = c.execute(&mut reqs, t as i32);
            took.push(start.elapsed());
            assert_eq!(status, Status::Again, "timeout {t}");
        }
        took.sort();
        let median = took[2];
        let ok = median >= ms(t) && median < ms(t) + slack_ms(2);
        report.push(format!(
            "{t} ms: median {median:?} {}",
            if ok { "ok" } else { "OUT OF BOUNDS" }
        ));
    }
    assert!(
        report.iter().all(|r| r.ends_with("ok")),
        "timeouts not kept: {report:?}"
    );
}

// ----- frames split anywhere ---------------------------------------------------------------------

/// No numbered defect (framing coverage). Frames split at every byte boundary: a GETK
/// response delivered one byte at a time (single request path and, with two requests, the
/// poll loop).
#[test]
fn frames_split_at_every_byte_boundary() {
    let srv = Server::start(|n| {
        let reads = if n == 0 { 1 } else { 2 };
        vec![
            Step::ReadRequests(reads),
            Step::ReplyInPieces {
                reply: Box::new(|rs: &[Req]| rs.iter().flat_map(hit).collect()),
                first: 1,
                piece: 1,
                delay: ms(1),
            },
            serve(),
        ]
    });
    let mut c = client(&srv.addr());
    assert_eq!(
        c.get(b"split-one").map(|i| i.map(|i| i.value)),
        Ok(Some(value_for(b"split-one")))
    );
    // Second connection: two requests, both answers byte by byte.
    let mut c2 = client(&srv.addr());
    let mut reqs = [getk(b"split-a"), getk(b"split-b")];
    let (status, responses) = c2.execute(&mut reqs, 5000);
    assert_eq!(status, Status::Ok);
    assert_eq!(responses.len(), 2);
    for (i, r) in &responses {
        assert_eq!(r.status, Status::Ok);
        assert_eq!(r.key, reqs[*i].key);
        assert_eq!(r.data, value_for(&reqs[*i].key));
        assert_eq!(r.flags, 0x1234);
    }
}

fn big_value() -> Vec<u8> {
    (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// No numbered defect (framing coverage). A 200,000-byte value arriving in pieces (the first
/// ends inside the header).
#[test]
fn large_value_in_pieces() {
    let srv = Server::start(|_| {
        vec![
            Step::ReadRequests(1),
            Step::ReplyInPieces {
                reply: Box::new(|rs: &[Req]| hit_as(&rs[0], &rs[0].key, &big_value())),
                first: 10,
                piece: 4093,
                delay: ms(1),
            },
            serve(),
        ]
    });
    let mut c = client(&srv.addr());
    let got = c.get(b"big").unwrap().expect("a value");
    assert!(got.value == big_value(), "the 200,000-byte value differs");
    assert_eq!(srv.connections(), 1);
}

// ----- connection reset in the middle of a call -----------------------------------------------

/// No numbered defect (reset coverage). The server answers 1 of 3 requests and closes (or
/// half-closes): the answered one is OK with its value, the others fail, nothing comes with
/// another key's value, the call does not wait for its timeout.
#[test]
fn connection_reset_in_the_middle_of_a_call() {
    for half in [false, true] {
        let srv = Server::start(move |n| {
            if n == 0 {
                vec![
                    Step::ReadRequests(3),
                    reply(|rs| hit(&rs[0])),
                    if half { Step::HalfClose } else { Step::Close },
                ]
            } else {
                vec![serve()]
            }
        });
        let mut c = client(&srv.addr());
        let mut reqs = [getk(b"reset-0"), getk(b"reset-1"), getk(b"reset-2")];
        let start = Instant::now();
        let (status, responses) = c.execute(&mut reqs, 3000);
        assert!(
            start.elapsed() < ms(1000),
            "half-close {half}: the call waited {:?} ({status:?})",
            start.elapsed()
        );
        assert_no_foreign_ok(&reqs, &responses);
        let of = |i: usize| {
            responses
                .iter()
                .filter(|(j, _)| *j == i)
                .map(|(_, r)| r.status)
                .collect::<Vec<_>>()
        };
        assert_eq!(of(0), [Status::Ok], "half-close {half}: the answered one");
        for i in [1, 2] {
            let s = of(i);
            assert!(
                s.len() == 1 && s[0] != Status::Ok && s[0] != Status::NotFound,
                "half-close {half}: request {i} got {s:?}"
            );
        }
        // And the server is usable again.
        assert_eq!(
            get_when_usable(&mut c, b"reset-after").map(|i| i.map(|i| i.value)),
            Ok(Some(value_for(b"reset-after")))
        );
    }
}

// ----- stale opaques ---------------------------------------------------------------------------

/// No numbered defect (matching coverage). An answer to an opaque that is not outstanding is
/// ignored; the real answer is then accepted.
/// (a) an opaque never issued, same key, another value; (b) the late answer of an earlier
/// call that timed out.
#[test]
fn stale_opaque_is_ignored() {
    let srv = Server::start(|_| {
        vec![
            Step::ReadRequests(1),
            reply(|rs| {
                let mut out = stale_hit(&rs[0], b"stale-value");
                out.extend(hit(&rs[0]));
                out
            }),
            serve(),
        ]
    });
    let mut c = client(&srv.addr());
    assert_eq!(
        c.get(b"stale-a").map(|i| i.map(|i| i.value)),
        Ok(Some(value_for(b"stale-a")))
    );

    let srv = Server::start(|_| {
        vec![
            Step::ReadRequests(2),
            reply(|rs| {
                let mut out = hit(&rs[0]);
                out.extend(hit(&rs[1]));
                out
            }),
            serve(),
        ]
    });
    let mut c = client(&srv.addr());
    let (status, _) = c.execute(&mut [getk(b"late-a")], 30);
    assert_eq!(status, Status::Again);
    assert_eq!(
        c.get(b"late-b").map(|i| i.map(|i| i.value)),
        Ok(Some(value_for(b"late-b")))
    );
}

// ----- impossible body lengths and garbage ----------------------------------------------------

/// The process's peak virtual memory (VmPeak), in bytes.
fn vm_peak() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmPeak:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// No numbered defect (corrupt stream coverage). A header announcing 0xFFFFFFF0 body bytes
/// (and garbage, bad magic): the request fails within the timeout, nothing huge is allocated,
/// the connection is reset.
#[test]
fn impossible_body_length_and_garbage_reset_the_connection() {
    for (what, bad) in [
        (
            "body length 0xFFFFFFF0",
            Box::new(|rs: &[Req]| scripted::header_only(rs[0].opcode, rs[0].opaque, 0xFFFF_FFF0))
                as scripted::ReplyFn,
        ),
        ("garbage", Box::new(|_: &[Req]| scripted::garbage())),
    ] {
        let bad = std::sync::Mutex::new(Some(bad));
        let srv = Server::start(move |n| match bad.lock().unwrap().take() {
            Some(f) if n == 0 => vec![Step::ReadRequests(1), Step::Reply(f), Step::Silent],
            _ => vec![serve()],
        });
        let mut c = client(&srv.addr());
        let peak = vm_peak();
        let mut reqs = [getk(b"bad-frame")];
        let start = Instant::now();
        let (status, responses) = c.execute(&mut reqs, 500);
        let took = start.elapsed();
        assert!(took < ms(500) + slack_ms(50), "{what}: took {took:?}");
        assert!(
            responses
                .iter()
                .any(|(i, r)| *i == 0 && r.status != Status::Ok),
            "{what}: the request did not fail ({status:?}, {responses:?})"
        );
        // Threads of this test binary may add glibc malloc arenas (64 MiB of address space
        // each, up to 8 per core) meanwhile: only a jump toward the announced 4 GiB counts.
        let grew = vm_peak().saturating_sub(peak);
        assert!(
            grew < 3 << 30,
            "{what}: peak virtual memory grew by {grew} bytes"
        );
        assert_fresh_connection_works(&mut c, &srv, 0, b"after-bad-frame");
    }
}

// ----- answers taken in for a paused sink ------------------------------------------------------

#[path = "support/one_at_a_time.rs"]
mod one_at_a_time;

/// No numbered defect (read-ahead coverage). While a sink is paused, the engine takes the
/// bytes of the other servers the poll found ready into their buffers unprocessed
/// (`take_in`). Here one server's answers arrive cut inside a frame (at `cut` bytes past its
/// first frame, in the header or in the key) at the moment they are taken in; the rest
/// follows 150 ms later (`reset` false) or the server closes instead (`reset` true). Every
/// hit must come with its own key and value, exactly once; after a close the unanswered
/// requests fail (never OK, never a miss), the call does not wait for a timeout, and the
/// server is usable again. Both server orders (in the list and in which connection was used
/// last), so that either server is the one taken in (the cut one, in about half the runs).
#[test]
fn a_frame_cut_or_a_reset_during_read_ahead_for_a_paused_sink() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use omcache::client::{IoOutcome, Requests, Wait};

    for reset in [false, true] {
        for cut in [10usize, 30] {
            for cut_server_first in [false, true] {
                // The cut server's request count and first frame's length, known once the
                // client maps the keys (after both servers have their ports).
                let on_cut = Arc::new(AtomicUsize::new(0));
                let first_frame = Arc::new(AtomicUsize::new(0));
                let whole = Server::start(|_| vec![serve()]);
                let count = on_cut.clone();
                let first_len = first_frame.clone();
                let cut_srv = Server::start(move |n| {
                    if n > 0 {
                        return vec![serve()];
                    }
                    let first = first_len.load(Ordering::SeqCst) + cut;
                    let bytes = move |rs: &[Req]| -> Vec<u8> {
                        // rs[0] is the warm-up get.
                        let all: Vec<u8> = rs[1..].iter().flat_map(answer).collect();
                        if reset {
                            all[..first].to_vec()
                        } else {
                            all
                        }
                    };
                    // Every GETKQ of the batch and its closing NOOP.
                    let reads = count.load(Ordering::SeqCst) + 1;
                    let mut steps = vec![
                        Step::ReadRequests(1),
                        reply(|rs| hit(&rs[0])),
                        Step::ReadRequests(reads),
                    ];
                    if reset {
                        steps.push(reply(bytes));
                        steps.push(Step::Close);
                    } else {
                        steps.push(Step::ReplyInPieces {
                            reply: Box::new(bytes),
                            first,
                            piece: 1 << 20,
                            delay: ms(150),
                        });
                        steps.push(serve());
                    }
                    steps
                });
                let list = if cut_server_first {
                    format!("{},{}", cut_srv.addr(), whole.addr())
                } else {
                    format!("{},{}", whole.addr(), cut_srv.addr())
                };
                let cut_index = usize::from(!cut_server_first);
                let mut c = client(&list);
                let keys: Vec<Vec<u8>> =
                    (0..40).map(|i| format!("ahead-{i}").into_bytes()).collect();
                let owner: Vec<usize> = keys
                    .iter()
                    .map(|k| c.server_index_for_key(k).unwrap())
                    .collect();
                let on_cut_keys: Vec<usize> =
                    (0..keys.len()).filter(|&i| owner[i] == cut_index).collect();
                assert!(on_cut_keys.len() >= 3 && on_cut_keys.len() <= 37);
                on_cut.store(on_cut_keys.len(), Ordering::SeqCst);
                let first_key = &keys[on_cut_keys[0]];
                // A GETKQ hit: header, 4 bytes of flags, the key, "v:" + key.
                first_frame.store(24 + 4 + first_key.len() * 2 + 2, Ordering::SeqCst);
                // Both connections established first, so that the batch leaves at once.
                // (In both orders: the engine looks at ready servers in the order they became
                // active, and either may be the one taken in.)
                let on_whole = (0..keys.len()).find(|&i| owner[i] != cut_index).unwrap();
                let warm_up = if cut_server_first {
                    [on_cut_keys[0], on_whole]
                } else {
                    [on_whole, on_cut_keys[0]]
                };
                for i in warm_up {
                    assert_eq!(
                        c.get(&keys[i]).map(|i| i.map(|i| i.value)),
                        Ok(Some(value_for(&keys[i])))
                    );
                }

                let mut reqs = one_at_a_time::quiet_gets(&keys);
                let mut set = Requests(&mut reqs);
                let mut sink = one_at_a_time::OneAtATime::default();
                let start = Instant::now();
                assert_eq!(c.command_then_fetch(&mut set, &mut sink), Status::Buffered);
                // Both servers' answers (the cut one's first part) wait in the kernel when
                // the first poll runs: one is serviced, the other taken in.
                std::thread::sleep(ms(80));
                let what = format!("reset {reset}, cut {cut}, cut server first {cut_server_first}");
                loop {
                    sink.holding = false;
                    let outcome = c.io(
                        Some(&set as &dyn RequestSet),
                        &mut sink,
                        Wait::after(ms(3000)),
                    );
                    if outcome == IoOutcome::Done {
                        break;
                    }
                    assert!(
                        start.elapsed() < slack_ms(2500),
                        "{what}: {outcome:?} after {:?}",
                        start.elapsed()
                    );
                }
                assert!(
                    start.elapsed() < slack_ms(1000),
                    "{what}: took {:?}",
                    start.elapsed()
                );
                let first_on_cut = on_cut_keys[0];
                for i in 0..keys.len() {
                    let hits: Vec<_> = sink.got.iter().filter(|g| g.0 == i).collect();
                    let others: Vec<_> = sink.others.iter().filter(|g| g.0 == i).collect();
                    let should_hit = !reset || owner[i] != cut_index || i == first_on_cut;
                    if should_hit {
                        assert!(others.is_empty(), "{what}: key {i} also got {others:?}");
                        assert_eq!(hits.len(), 1, "{what}: key {i} hit {} times", hits.len());
                        let (_, key, data) = hits[0];
                        assert_eq!(key, &keys[i], "{what}: key {i} answered with another key");
                        assert_eq!(data, &value_for(&keys[i]), "{what}: key {i}");
                    } else {
                        assert!(hits.is_empty(), "{what}: key {i} hit after the reset");
                        assert_eq!(others.len(), 1, "{what}: key {i} answered {others:?}");
                        let status = others[0].1;
                        assert!(
                            status != Status::NotFound,
                            "{what}: key {i} got {status:?} after the reset"
                        );
                    }
                }
                // The server is usable again, on a fresh connection after a reset.
                let k = &keys[*on_cut_keys.last().unwrap()];
                assert_eq!(
                    get_when_usable(&mut c, k).map(|i| i.map(|i| i.value)),
                    Ok(Some(value_for(k))),
                    "{what}"
                );
            }
        }
    }
}

/// A sink that takes every answer offered and is satisfied once it holds a hit (the
/// libmemcached face's fetch): `io` must return once what was received is delivered, without
/// waiting for the rest.
#[derive(Default)]
struct Satisfied {
    got: Vec<(usize, Vec<u8>, Vec<u8>)>,
    others: Vec<(usize, Status)>,
    fresh: usize,
}

impl ResponseSink for Satisfied {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if let Some(i) = batch_index {
            if resp.status == Status::Ok {
                self.got.push((i, resp.key.to_vec(), resp.data.to_vec()));
                self.fresh += 1;
            } else {
                self.others.push((i, resp.status));
            }
        }
        false
    }

    fn satisfied(&self) -> bool {
        self.fresh > 0
    }
}

#[test]
fn a_satisfied_sink_returns_with_what_arrived_and_gets_the_rest_exactly_once() {
    use omcache::client::{IoOutcome, Wait};

    // The batch's answers: the first `part` bytes at once (cut inside a frame), the rest in
    // 37-byte pieces 20 ms apart (frames are 40 or 42 bytes), or never (the server closes).
    for close in [false, true] {
        let keys: Vec<Vec<u8>> = (0..30).map(|i| format!("sat-{i}").into_bytes()).collect();
        let srv = Server::start(move |n| {
            if n > 0 {
                return vec![serve()];
            }
            let bytes = |rs: &[Req]| -> Vec<u8> { rs.iter().flat_map(answer).collect() };
            // Ten whole hits and part of the eleventh: a GETKQ hit is 24 + 4 + 2 * key + 2.
            let part = 10 * (24 + 4 + 2 * 5 + 2) + 9;
            let mut steps = vec![Step::ReadRequests(31)];
            if close {
                steps.push(reply(move |rs| bytes(rs)[..part].to_vec()));
                steps.push(Step::Stall(ms(300)));
                steps.push(Step::Close);
            } else {
                steps.push(Step::ReplyInPieces {
                    reply: Box::new(bytes),
                    first: part,
                    piece: 37,
                    delay: ms(20),
                });
                steps.push(serve());
            }
            steps
        });
        let mut c = client(&srv.addr());
        // Keys 0..9 are "sat-0".."sat-9": 5 bytes, as `part` counts.
        let mut reqs = one_at_a_time::quiet_gets(&keys);
        let mut set = Requests(&mut reqs);
        let mut sink = Satisfied::default();
        assert_eq!(c.command_then_fetch(&mut set, &mut sink), Status::Buffered);
        let start = Instant::now();
        let outcome = c.io(
            Some(&set as &dyn RequestSet),
            &mut sink,
            Wait::after(ms(3000)),
        );
        let what = format!("close {close}");
        assert_eq!(outcome, IoOutcome::Paused, "{what}");
        assert!(
            start.elapsed() < slack_ms(250),
            "{what}: {:?}",
            start.elapsed()
        );
        assert!(
            !sink.got.is_empty() && sink.got.len() <= 10,
            "{what}: {}",
            sink.got.len()
        );
        // Then call after call, each returning as soon as it has something, until done.
        let mut calls = 1;
        loop {
            sink.fresh = 0;
            let outcome = c.io(
                Some(&set as &dyn RequestSet),
                &mut sink,
                Wait::after(ms(3000)),
            );
            calls += 1;
            if outcome == IoOutcome::Done {
                break;
            }
            assert_eq!(outcome, IoOutcome::Paused, "{what}");
            assert!(
                start.elapsed() < slack_ms(3000),
                "{what}: {:?}",
                start.elapsed()
            );
        }
        assert!(calls < 40, "{what}: {calls} calls");
        for (i, key) in keys.iter().enumerate() {
            let hits: Vec<_> = sink.got.iter().filter(|g| g.0 == i).collect();
            let others: Vec<_> = sink.others.iter().filter(|g| g.0 == i).collect();
            if close && i >= 10 {
                assert!(hits.is_empty(), "{what}: key {i} hit after the close");
                assert_eq!(others.len(), 1, "{what}: key {i}: {others:?}");
                assert!(others[0].1 != Status::NotFound, "{what}: key {i}: a miss");
            } else {
                assert!(others.is_empty(), "{what}: key {i}: {others:?}");
                assert_eq!(hits.len(), 1, "{what}: key {i} hit {} times", hits.len());
                assert_eq!(
                    (hits[0].1.as_slice(), &hits[0].2),
                    (key.as_slice(), &value_for(key))
                );
            }
        }
    }
}

/// Buffered sets written out by `write_buffers` (libmemcached's flush, which does not wait)
/// are still unanswered when the next get goes out on the same connection. Whatever the
/// server then sends first, an error answer of one of those sets, a frame that carries a
/// set's opaque but a get's value, a stale opaque, the get's value is its own or the get
/// fails; never another answer taken for it.
#[test]
fn answers_of_written_buffered_sets_never_become_a_later_gets_value() {
    use scripted::frame;
    const SETQ: u8 = 0x11;
    const NOT_STORED: u16 = 0x0005;
    // What the server sends before the right answers, given the sets (0..3), the NOOP that
    // closed them, and the get (4).
    type Lie = fn(&[Req]) -> Vec<u8>;
    let lies: [(&str, Lie); 4] = [
        ("nothing", |_| Vec::new()),
        ("a set's error answer", |r| {
            frame(SETQ, NOT_STORED, r[1].opaque, 0, &[], &[], b"Not stored")
        }),
        ("a set's opaque on the get's value", |r| {
            frame(
                r[4].opcode,
                0,
                r[1].opaque,
                7,
                &0u32.to_be_bytes(),
                &r[4].key,
                b"evil",
            )
        }),
        ("a stale opaque", |r| stale_hit(&r[4], b"evil")),
    ];
    for (what, lie) in lies {
        let srv = Server::start(move |n| {
            if n > 0 {
                return vec![serve()];
            }
            vec![
                Step::ReadRequests(5),
                reply(move |r| {
                    let mut out = lie(r);
                    // The NOOP's answer, then the get's.
                    out.extend(answer(&r[3]));
                    out.extend(hit(&r[4]));
                    out
                }),
                serve(),
            ]
        });
        let mut c = client(&srv.addr());
        c.settings_mut().buffering = true;
        let mut sets: Vec<OwnedRequest> = [b"s0", b"s1", b"s2"]
            .iter()
            .map(|k| OwnedRequest {
                value: b"value".to_vec(),
                extras: vec![0; 8],
                ..OwnedRequest::keyed(SETQ, *k)
            })
            .collect();
        let (status, _) = c.execute(&mut sets, 0);
        assert_eq!(status, Status::Buffered, "{what}");
        assert_eq!(c.write_buffers(1000), Status::Ok, "{what}");
        c.settings_mut().buffering = false;
        match c.get(b"k") {
            Ok(Some(item)) => assert_eq!(item.value, value_for(b"k"), "{what}"),
            Ok(None) => panic!("{what}: the get came back a miss"),
            Err(_) => {
                // Failed rather than take a lie: the next get is answered right.
                let r = get_when_usable(&mut c, b"k2");
                assert_eq!(
                    r.map(|i| i.map(|i| i.value)),
                    Ok(Some(value_for(b"k2"))),
                    "{what}"
                );
            }
        }
    }
}
