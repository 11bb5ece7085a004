//! Server lists (issue 13): a bad entry costs that entry, never the whole cache. Real memcached
//! servers mixed with entries that can never connect (a port out of range, a port that is no
//! number, no host, a name that cannot be a host) and a name that does not resolve.
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omcache::client::log_level;
use omcache::Client;

type Log = Arc<Mutex<Vec<(i32, String)>>>;

fn logging_client(level: i32) -> (Client, Log) {
    let log: Log = Arc::default();
    let sink = log.clone();
    let mut c = Client::new();
    c.set_log(
        level,
        Some(Box::new(move |level, msg: &str| {
            sink.lock().unwrap().push((level, msg.to_string()))
        })),
    );
    (c, log)
}

fn lines_about(log: &Log, level: i32, entry: &str) -> usize {
    let needle = format!("[{entry}]");
    log.lock()
        .unwrap()
        .iter()
        .filter(|(l, m)| *l == level && m.contains(&needle))
        .count()
}

const BAD: [&str; 4] = [
    "127.0.0.1:99999",
    "127.0.0.foobar:asdf",
    ":11211",
    "bad host!",
];
const UNRESOLVABLE: &str = "no-such-host.invalid:11211";

/// The list: good servers and bad entries interleaved, in the caller's order.
fn mixed_list(good: &[String]) -> (String, Vec<bool>) {
    let entries = [
        good[0].as_str(),
        BAD[0],
        good[1].as_str(),
        BAD[1],
        UNRESOLVABLE,
        BAD[2],
        good[2].as_str(),
        BAD[3],
    ];
    let is_good = entries
        .iter()
        .map(|e| good.iter().any(|g| g == e))
        .collect();
    (entries.join(", ") + ",,,", is_good)
}

fn keys(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("server-lists-{i}").into_bytes())
        .collect()
}

#[test]
fn bad_entries_cost_only_themselves() {
    let (servers, _) = common::cluster(3);
    let good: Vec<String> = servers.iter().map(|s| s.addr()).collect();
    let (list, is_good) = mixed_list(&good);
    let (mut c, log) = logging_client(log_level::DEBUG);
    c.settings_mut().connect_timeout = Duration::from_secs(2);
    c.set_servers(&list).unwrap();
    assert_eq!(c.server_count(), 8, "{list}");

    // Each bad entry: in its place, dead from the start, logged once at WARNING with why.
    for (i, good) in is_good.iter().enumerate() {
        let addr = c.server_addr(i).unwrap();
        let expect_defect = !good && addr.to_string() != UNRESOLVABLE;
        assert_eq!(addr.defect.is_some(), expect_defect, "{addr}");
    }
    for bad in BAD {
        assert_eq!(
            lines_about(&log, log_level::WARNING, bad),
            1,
            "{bad}: {log:?}"
        );
    }
    let warnings = |log: &Log| {
        log.lock()
            .unwrap()
            .iter()
            .filter(|(l, _)| *l <= log_level::WARNING)
            .count()
    };
    assert_eq!(warnings(&log), BAD.len(), "{log:?}");
    let msg = log.lock().unwrap()[0].1.clone();
    assert!(
        msg.contains("127.0.0.1:99999") && msg.contains("outside 1-65535"),
        "{msg}"
    );

    // Before any I/O no key maps to a bad entry; the unresolvable name is not known yet.
    let keys = keys(3000);
    for k in &keys {
        let i = c.server_index_for_key(k).unwrap();
        assert!(is_good[i] || c.server_addr(i).unwrap().to_string() == UNRESOLVABLE);
    }

    // Every key is served: those of the unresolvable name move with it on its first failure.
    for k in &keys {
        c.set(k, k, 0, 0).unwrap();
    }
    assert_eq!(
        lines_about(&log, log_level::WARNING, UNRESOLVABLE),
        0,
        "the unresolvable name takes the normal path: {log:?}"
    );
    assert!(
        lines_about(&log, log_level::NOTICE, UNRESOLVABLE) >= 1,
        "{log:?}"
    );
    for k in &keys {
        let i = c.server_index_for_key(k).unwrap();
        assert!(is_good[i], "key on server {i} after the failure");
        assert_eq!(c.get(k).unwrap().unwrap().value, *k);
    }

    // Placement is exactly that of the good servers alone: the ring is not rebuilt, dead
    // entries' points are walked past, and a key whose point is a good server's stays there.
    let mut alone = Client::new();
    alone.set_servers(&good.join(",")).unwrap();
    let good_index: Vec<Option<usize>> = (0..c.server_count())
        .map(|i| {
            let a = c.server_addr(i).unwrap().to_string();
            good.iter().position(|g| *g == a)
        })
        .collect();
    for k in &keys {
        let ours = good_index[c.server_index_for_key(k).unwrap()];
        assert_eq!(ours, alone.server_index_for_key(k), "{k:?}");
    }
    // And each key is really stored on that server.
    for (g, addr) in good.iter().enumerate() {
        let mut one = Client::new();
        one.set_servers(addr).unwrap();
        for k in keys
            .iter()
            .filter(|k| alone.server_index_for_key(k) == Some(g))
        {
            assert_eq!(one.get(k).unwrap().unwrap().value, *k, "{addr}");
        }
    }

    // Setting the same list again keeps every server's state: nothing is logged again.
    c.set_servers(&list).unwrap();
    assert_eq!(warnings(&log), BAD.len(), "{log:?}");
    assert!((0..8).all(|i| is_good[i] || c.server_index_for_key(b"x") != Some(i)));
}

#[test]
fn bad_entries_are_retried_quietly_on_the_normal_schedule() {
    let (servers, _) = common::cluster(1);
    let list = format!("{}, {}, {}", servers[0].addr(), BAD[0], BAD[1]);
    let (mut c, log) = logging_client(log_level::DEBUG);
    c.settings_mut().reconnect_timeout = Duration::from_millis(30);
    c.set_servers(&list).unwrap();
    let deadline = Instant::now() + common::slack(Duration::from_secs(5));
    // Requests drive the background probes; wait until each bad entry was retried twice.
    let retried = |log: &Log, entry: &str| {
        log.lock()
            .unwrap()
            .iter()
            .filter(|(l, m)| *l == log_level::DEBUG && m.contains(&format!("[{entry}] still down")))
            .count()
    };
    while retried(&log, BAD[0]) < 2 || retried(&log, BAD[1]) < 2 {
        assert!(Instant::now() < deadline, "no retries: {log:?}");
        c.set(b"k", b"v", 0, 0).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    for bad in &BAD[..2] {
        assert_eq!(
            lines_about(&log, log_level::WARNING, bad),
            1,
            "{bad}: {log:?}"
        );
        assert_eq!(lines_about(&log, log_level::INFO, bad), 0, "{bad}: {log:?}");
        assert_eq!(
            lines_about(&log, log_level::NOTICE, bad),
            0,
            "{bad}: {log:?}"
        );
    }
    // Still dead: every key is served by the good server.
    for k in keys(300) {
        assert_eq!(c.server_index_for_key(&k), Some(0));
    }
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"v");
}

#[test]
fn a_list_of_bad_entries_only_has_no_live_server() {
    let (mut c, log) = logging_client(0);
    c.set_servers("127.0.0.1:0, localhost:nosuchservice-x7q")
        .unwrap();
    assert_eq!(c.server_count(), 2);
    assert_eq!(c.server_index_for_key(b"k"), None);
    assert_eq!(
        c.set(b"k", b"v", 0, 0),
        Err(omcache::client::Status::Failed(
            omcache::client::Failure::NoServers
        ))
    );
    assert_eq!(log.lock().unwrap().len(), 2, "{log:?}");
}
