//! Engine behaviour against real memcached servers (and, for timeouts only, a silent socket).
mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use omcache::client::{Failure, OwnedRequest, Status};
use omcache::protocol::opcode;
use omcache::Client;

use common::slack;

fn client(list: &str) -> Client {
    let mut c = Client::new();
    c.set_servers(list).unwrap();
    c
}

#[test]
fn bad_keys_are_invalid_and_lose_nothing() {
    let (_s, list) = common::cluster(1);
    let mut c = client(&list);
    c.set(b"keep", b"v", 0, 0).unwrap();
    assert_eq!(
        c.set(b"", b"v", 0, 0),
        Err(Status::Failed(Failure::InvalidRequest))
    );
    assert_eq!(
        c.set(&[b'k'; 251], b"v", 0, 0),
        Err(Status::Failed(Failure::InvalidRequest))
    );
    assert!(c.set(&[b'k'; 250], b"v", 0, 0).is_ok());
    assert_eq!(c.get(b"keep").unwrap().unwrap().value, b"v");
}

#[test]
fn bad_server_entry_costs_only_that_entry() {
    // (More in tests/server_lists.rs.)
    let (_s, list) = common::cluster(1);
    let mut c = client(&list);
    c.set_servers(&format!("host:notaport,{list}")).unwrap();
    assert_eq!(c.server_count(), 2);
    c.set(b"k", b"v", 0, 0).unwrap();
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"v");
}

#[test]
fn no_servers() {
    let mut c = Client::new();
    assert_eq!(
        c.set(b"k", b"v", 0, 0),
        Err(Status::Failed(Failure::NoServers))
    );
    assert_eq!(c.get(b"k"), Err(Status::Failed(Failure::NoServers)));
}

#[test]
fn value_over_receive_limit_is_buffer_full_and_connection_survives() {
    let (_s, list) = common::cluster(1);
    let mut c = client(&list);
    let big = vec![7u8; 500_000];
    c.set(b"big", &big, 0, 0).unwrap();
    c.set(b"small", b"ok", 0, 0).unwrap();
    c.settings_mut().recv_buffer_max = 10_000;
    assert_eq!(c.get(b"big"), Err(Status::Failed(Failure::ValueTooLarge)));
    // Same connection, next request unaffected.
    assert_eq!(c.get(b"small").unwrap().unwrap().value, b"ok");
    c.settings_mut().recv_buffer_max = 1 << 20;
    assert_eq!(c.get(b"big").unwrap().unwrap().value, big);
}

#[test]
fn send_buffer_limit_is_buffer_full() {
    let (_s, list) = common::cluster(1);
    let mut c = client(&list);
    c.settings_mut().send_buffer_max = 5000;
    assert_eq!(
        c.set(b"k", &vec![0u8; 2 << 20], 0, 0),
        Err(Status::Failed(Failure::SendBufferFull))
    );
    c.set(b"k", b"fits", 0, 0).unwrap();
}

/// Receive memory kept for big values (a grown buffer, spares for the next big value) goes
/// back once big values stop: within two sweeps of 64 calls.
#[test]
fn memory_kept_for_big_values_is_released_when_they_stop() {
    let (_s, list) = common::cluster(2);
    let mut c = client(&list);
    let big: Vec<u8> = (0..900_000).map(|i| (i % 251) as u8).collect();
    c.set(b"big-one", &big, 0, 0).unwrap();
    c.set(b"small-one", b"v", 0, 0).unwrap();
    let fresh = c.receive_memory();
    for _ in 0..5 {
        assert_eq!(c.get(b"big-one").unwrap().unwrap().value, big);
    }
    let held = c.receive_memory();
    assert!(held >= big.len(), "{held} bytes held after big gets");
    for _ in 0..2 * 64 + 2 {
        assert_eq!(c.get(b"small-one").unwrap().unwrap().value, b"v");
    }
    let after = c.receive_memory();
    assert!(
        after <= fresh.max(2 * (32 * 1024 + 64)),
        "{after} bytes held after small gets (fresh {fresh}, after big gets {held})"
    );
    // Big values still come whole afterwards.
    assert_eq!(c.get(b"big-one").unwrap().unwrap().value, big);
}

#[test]
fn large_values_roundtrip() {
    let (_s, list) = common::cluster(2);
    let mut c = client(&list);
    for size in [0usize, 1, 65_535, 65_536, 65_512, 1_000_000] {
        let v: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        c.set(b"sized", &v, 0, 0).unwrap();
        assert_eq!(c.get(b"sized").unwrap().unwrap().value, v, "size {size}");
    }
}

#[test]
fn silent_server_times_out_within_the_timeout() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut c = client(&format!("127.0.0.1:{port}"));
    let mut reqs = [OwnedRequest::keyed(opcode::GETK, b"k")];
    for timeout in [50, 200] {
        let t = Instant::now();
        let (status, _) = c.execute(&mut reqs, timeout);
        let took = t.elapsed();
        assert_eq!(status, Status::Again);
        assert!(
            took >= Duration::from_millis(timeout as u64 - 5),
            "{took:?}"
        );
        // kept: far below the default dead timeout (10 s); the margin is for scheduling
        assert!(
            took < Duration::from_millis(timeout as u64) + slack(Duration::from_millis(500)),
            "{took:?}"
        );
    }
    // timeout 0 never blocks
    let t = Instant::now();
    let (status, _) = c.execute(&mut reqs, 0);
    assert_eq!(status, Status::Buffered);
    assert!(
        t.elapsed() < slack(Duration::from_millis(300)),
        "{:?}",
        t.elapsed()
    );
    drop(silent);
}

#[test]
fn dead_timeout_fails_requests_of_a_silent_server() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut c = client(&format!("127.0.0.1:{port}"));
    c.settings_mut().dead_timeout = Duration::from_millis(150);
    let t = Instant::now();
    assert_eq!(c.get(b"k"), Err(Status::Failed(Failure::Timeout)));
    // dead_timeout is 150 ms (the default would be 10 s)
    assert!(
        t.elapsed() < slack(Duration::from_millis(2000)),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn refused_connection_is_no_servers_at_once() {
    let refusing = common::RefusingPort::new();
    let port = refusing.port;
    let mut c = client(&format!("127.0.0.1:{port}"));
    // The request never left: with its only server dead there is no server for it.
    assert_eq!(c.get(b"k"), Err(Status::Failed(Failure::NoServers)));
    // disabled for reconnect_timeout
    assert_eq!(c.get(b"k"), Err(Status::Failed(Failure::NoServers)));
}

#[test]
fn requests_for_a_refusing_server_move_to_the_keys_next_server() {
    let real = common::Memcached::start(&[]);
    let refusing = common::RefusingPort::new();
    let closed = refusing.port;
    let mut c = client(&format!("{},127.0.0.1:{closed}", real.addr()));
    c.settings_mut().dead_timeout = Duration::from_millis(100);
    let keys: Vec<Vec<u8>> = (0..50).map(|i| format!("moved-{i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    // The live server's connection then stays idle for longer than dead_timeout: requests
    // moved onto it later are served (its dead-timeout timer restarts with new work; the
    // failover report exercises the path where the move happens inside the I/O loop).
    let live_key = keys
        .iter()
        .find(|k| {
            c.server_addr(c.server_index_for_key(k).unwrap())
                .unwrap()
                .port
                == real.port
        })
        .unwrap();
    c.set(live_key, b"x", 0, 0).unwrap();
    c.delete(live_key).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    // Half of these keys belong to the closed port; none of them fails: nothing was sent
    // there, so they are answered (misses) by the live server.
    assert_eq!(c.get_multi(&refs).unwrap().len(), 0);
    for k in &keys {
        assert_eq!(c.get(k).unwrap(), None);
        c.set(k, k, 0, 0).unwrap();
    }
    assert_eq!(c.get_multi(&refs).unwrap().len(), 50);
}

#[test]
fn dead_server_is_retried_after_reconnect_timeout() {
    let refusing = common::RefusingPort::new();
    let port = refusing.port;
    let mut c = client(&format!("127.0.0.1:{port}"));
    c.settings_mut().reconnect_timeout = Duration::from_millis(100);
    assert_eq!(c.get(b"k"), Err(Status::Failed(Failure::NoServers)));
    drop(refusing);
    let _server = common::Memcached::start_at(port);
    std::thread::sleep(Duration::from_millis(120));
    // The first call after reconnect_timeout starts a background probe; the server takes its
    // keys back once the probe's NOOP is answered (the next call at the latest).
    let t = Instant::now();
    loop {
        match c.set(b"k", b"back", 0, 0) {
            Ok(_) => break,
            Err(Status::Failed(Failure::NoServers))
                if t.elapsed() < slack(Duration::from_secs(5)) =>
            {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("{e:?} after {:?}", t.elapsed()),
        }
    }
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"back");
}

#[test]
fn buffered_sets_are_sent_on_flush() {
    let (_s, list) = common::cluster(4);
    let mut c = client(&list);
    c.settings_mut().buffering = true;
    let mut reqs: Vec<OwnedRequest> = (0..2000)
        .map(|i| OwnedRequest {
            extras: vec![0; 8],
            value: format!("v{i}").into_bytes(),
            ..OwnedRequest::keyed(opcode::SETQ, format!("buffered-{i}").as_bytes())
        })
        .collect();
    let (status, _) = c.execute(&mut reqs, 0);
    assert_eq!(status, Status::Buffered);
    // nothing has been sent yet (checked over another connection: a call with a non-zero
    // timeout on `c` would flush)
    let mut observer = client(&list);
    assert_eq!(observer.get(b"buffered-0").unwrap(), None);
    assert_eq!(c.flush_buffers(-1), Status::Ok);
    assert_eq!(observer.get(b"buffered-0").unwrap().unwrap().value, b"v0");
    assert_eq!(c.get(b"buffered-1999").unwrap().unwrap().value, b"v1999");
}

#[test]
fn reset_buffers_discards_unsent_requests() {
    let (_s, list) = common::cluster(1);
    let mut c = client(&list);
    c.settings_mut().buffering = true;
    let mut reqs = [OwnedRequest {
        extras: vec![0; 8],
        value: b"v".to_vec(),
        ..OwnedRequest::keyed(opcode::SET, b"never")
    }];
    assert_eq!(c.execute(&mut reqs, 0).0, Status::Buffered);
    c.reset_buffers();
    c.settings_mut().buffering = false;
    assert_eq!(c.flush_buffers(-1), Status::Ok);
    assert_eq!(c.get(b"never").unwrap(), None);
}

#[test]
fn stat_groups() {
    let (_s, list) = common::cluster(1);
    let mut c = client(&list);
    let general = c.stats(0, None).unwrap();
    assert!(general.iter().any(|(k, _)| k == "pid"));
    let settings = c.stats(0, Some("settings")).unwrap();
    assert!(settings.iter().any(|(k, _)| k == "maxconns"));
    assert_eq!(c.stats(0, Some("nosuchgroup")), Err(Status::NotFound));
}

#[test]
fn request_id_wraparound() {
    let (_s, list) = common::cluster(2);
    let mut c = client(&list);
    for i in 0..100 {
        c.set(format!("w{i}").as_bytes(), b"x", 0, 0).unwrap();
    }
    c.set_last_request_id(u32::MAX - 100);
    let keys: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("w{}", i % 100).into_bytes())
        .collect();
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    assert_eq!(c.get_multi(&refs).unwrap().len(), 1000);
    assert!(c.last_request_id() < u32::MAX - 100);
}

/// The acceptance check for buffered sets: no batch-size limit (libmemcached 1.1.4 aborts
/// at a few thousand).
#[test]
fn one_million_buffered_sets_flushed_at_once() {
    let (_s, list) = common::cluster(4);
    let mut c = client(&list);
    c.settings_mut().buffering = true;
    c.settings_mut().send_buffer_max = 64 << 20;
    let mut reqs: Vec<OwnedRequest> = (0..1_000_000u32)
        .map(|i| OwnedRequest {
            extras: vec![0; 8],
            value: i.to_be_bytes().to_vec(),
            ..OwnedRequest::keyed(opcode::SETQ, format!("m{i}").as_bytes())
        })
        .collect();
    assert_eq!(c.execute(&mut reqs, 0).0, Status::Buffered);
    drop(reqs);
    assert_eq!(c.flush_buffers(-1), Status::Ok);
    let mut total = 0u64;
    for s in 0..4 {
        let stats = c.stats(s, None).unwrap();
        total += stats
            .iter()
            .find(|(k, _)| k == "curr_items")
            .unwrap()
            .1
            .parse::<u64>()
            .unwrap();
    }
    assert_eq!(total, 1_000_000);
}

#[test]
fn a_new_list_keeps_the_connections_of_servers_still_listed_even_listed_twice() {
    // `replace_servers` matches old and new entries by address through a map (a list of
    // 10,000 servers was matched with a scan per entry); a server listed twice keeps both
    // of its connections, in order.
    let (_s, list) = common::cluster(3);
    let addrs: Vec<&str> = list.split(',').collect();
    let (a, b, extra) = (addrs[0], addrs[1], addrs[2]);
    let mut c = client(&format!("{a},{b},{a}"));
    for i in 0..3 {
        c.noop(i).unwrap();
    }
    let old: Vec<_> = (0..3).map(|i| c.server_fd(i).unwrap()).collect();
    c.set_servers(&format!("{b},{a},{a},{extra}")).unwrap();
    assert_eq!(c.server_fd(0), Some(old[1]));
    assert_eq!(c.server_fd(1), Some(old[0]));
    assert_eq!(c.server_fd(2), Some(old[2]));
    assert_eq!(c.server_fd(3), None);
    // Servers dropped and taken back get connections of their own again.
    c.set_servers(extra).unwrap();
    c.set_servers(&format!("{a},{extra}")).unwrap();
    for i in 0..2 {
        c.noop(i).unwrap();
    }
    assert!(c.server_fd(0).is_some() && c.server_fd(1).is_some());
}
