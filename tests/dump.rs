//! `Client::dump` against real memcached: every key of every server over `lru_crawler
//! metadump`, the `stats cachedump` fallback, keys that metadump %-encodes, expiries, servers
//! that are stopped, killed, badly written or started with `-X`, and every client protocol.

mod common;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use omcache::client::{DumpError, DumpMethod, DumpOptions, Failure, OwnedRequest, Status, Wait};
use omcache::protocol::{extras, opcode, Protocol};
use omcache::Client;

use common::{cluster, slack, Memcached};

const PROTOCOLS: [Protocol; 3] = [Protocol::Binary, Protocol::Text, Protocol::Meta];

fn client(list: &str, protocol: Protocol) -> Client {
    let mut c = Client::new();
    c.set_servers(list).unwrap();
    c.set_protocol(protocol);
    c.settings_mut().connect_timeout = Duration::from_millis(500);
    c.settings_mut().dead_timeout = Duration::from_millis(2000);
    c
}

fn opts(method: DumpMethod) -> DumpOptions {
    DumpOptions {
        method,
        timeout: Duration::from_secs(5),
    }
}

/// Stores every key (value "v", given TTL) in one batch; panics on any failure.
fn set_all(c: &mut Client, keys: &[Vec<u8>], ttl: u32) {
    let mut reqs: Vec<OwnedRequest> = keys
        .iter()
        .map(|k| OwnedRequest {
            extras: extras::storage(0, ttl).to_vec(),
            value: b"v".to_vec(),
            ..OwnedRequest::keyed(opcode::SET, k)
        })
        .collect();
    let (status, responses) = c.execute(&mut reqs, Wait::Forever);
    assert_eq!(status, Status::Ok);
    assert_eq!(responses.len(), keys.len());
    assert!(responses.iter().all(|(_, r)| r.status == Status::Ok));
}

fn numbered(n: usize, prefix: &str) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{prefix}{i}").into_bytes())
        .collect()
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Every key listed exactly once, each with the server the client sends it to.
fn assert_listed_once(c: &Client, listed: &[(usize, Vec<u8>)], keys: &[Vec<u8>]) {
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    for (server, key) in listed {
        assert!(
            seen.insert(key.as_slice(), *server).is_none(),
            "{:?} listed twice",
            String::from_utf8_lossy(key)
        );
    }
    assert_eq!(listed.len(), keys.len(), "keys listed");
    for k in keys {
        let server = seen
            .get(k.as_slice())
            .unwrap_or_else(|| panic!("{:?} not listed", String::from_utf8_lossy(k)));
        assert_eq!(Some(*server), c.server_index_for_key(k));
    }
}

#[test]
fn ten_thousand_fresh_keys_on_three_servers() {
    let (_servers, list) = cluster(3);
    let mut c = client(&list, Protocol::Binary);
    let keys = numbered(10_000, "dump-key-");
    set_all(&mut c, &keys, 0);

    let t = Instant::now();
    let dumped = c.dump_keys(&opts(DumpMethod::Auto));
    let meta_time = t.elapsed();
    assert!(dumped.report.is_ok(), "{:?}", dumped.report);
    assert!(!dumped.report.stopped);
    assert_eq!(dumped.report.servers.len(), 3);
    for s in &dumped.report.servers {
        assert_eq!(s.method, Some(DumpMethod::MetaDump));
        assert!(s.is_complete());
        assert!(s.keys > 0);
    }
    assert_eq!(dumped.report.keys(), 10_000);
    let listed: Vec<(usize, Vec<u8>)> = dumped.iter().map(|k| (k.server, k.key.clone())).collect();
    assert_listed_once(&c, &listed, &keys);
    assert!(dumped
        .iter()
        .all(|k| k.expiry == Some(-1) && k.cas.is_some() && k.last_access.is_some()));

    let t = Instant::now();
    let walked = c.dump_keys(&opts(DumpMethod::CacheDump));
    let cache_time = t.elapsed();
    assert!(walked.report.is_ok(), "{:?}", walked.report);
    assert!(walked
        .report
        .servers
        .iter()
        .all(|s| s.method == Some(DumpMethod::CacheDump)));
    println!(
        "10000 fresh keys on 3 servers: metadump listed {} in {:?}; the stats cachedump walk listed {} in {:?}",
        dumped.keys.len(),
        meta_time,
        walked.keys.len(),
        cache_time
    );
    assert!(walked.keys.len() <= 10_000);
    assert!(meta_time < slack(Duration::from_secs(5)));

    // Read twice, keys move from COLD to WARM (asynchronously), out of the cachedump walk's
    // sight; metadump still lists them all.
    for _ in 0..2 {
        for chunk in keys.chunks(1000) {
            let refs: Vec<&[u8]> = chunk.iter().map(|k| k.as_slice()).collect();
            assert_eq!(c.get_multi(&refs).unwrap().len(), chunk.len());
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let dumped = c.dump_keys(&opts(DumpMethod::Auto));
    let walked = c.dump_keys(&opts(DumpMethod::CacheDump));
    println!(
        "the same keys after two reads each: metadump listed {}; the stats cachedump walk listed {}",
        dumped.keys.len(),
        walked.keys.len()
    );
    assert_eq!(dumped.keys.len(), 10_000);
    assert!(dumped.report.is_ok() && walked.report.is_ok());
    assert!(walked.keys.len() < 10_000);
}

#[test]
fn keys_metadump_encodes_round_trip() {
    let (_servers, list) = cluster(2);
    let mut c = client(&list, Protocol::Binary);
    let keys: Vec<Vec<u8>> = vec![
        b"100%".to_vec(),
        b"%25".to_vec(),
        b"a%b%%c".to_vec(),
        b"ns:user:42".to_vec(),
        b"k=v&x=y".to_vec(),
        "clé-ünïcødé".as_bytes().to_vec(),
        vec![0x80, 0xff, 0xfe, b'%', 0xc3],
        b"plain".to_vec(),
        vec![b'~'; 250],
    ];
    set_all(&mut c, &keys, 0);
    let dumped = c.dump_keys(&opts(DumpMethod::MetaDump));
    assert!(dumped.report.is_ok(), "{:?}", dumped.report);
    let listed: Vec<(usize, Vec<u8>)> = dumped.iter().map(|k| (k.server, k.key.clone())).collect();
    assert_listed_once(&c, &listed, &keys);
}

#[test]
fn expiries() {
    let (_servers, list) = cluster(2);
    let mut c = client(&list, Protocol::Text);
    let forever = numbered(20, "forever-");
    let short = numbered(20, "ttl100-");
    let long = numbered(20, "ttl3600-");
    set_all(&mut c, &forever, 0);
    set_all(&mut c, &short, 100);
    set_all(&mut c, &long, 3600);
    let now = now_unix();
    let dumped = c.dump_keys(&opts(DumpMethod::Auto));
    assert!(dumped.report.is_ok(), "{:?}", dumped.report);
    assert_eq!(dumped.keys.len(), 60);
    let near = |exp: Option<i64>, ttl: i64| {
        let exp = exp.expect("an expiry");
        (exp - (now + ttl)).abs() <= 3
    };
    for k in &dumped {
        let name = String::from_utf8_lossy(&k.key);
        if name.starts_with("forever-") {
            assert_eq!(k.expiry, Some(-1), "{name}");
        } else if name.starts_with("ttl100-") {
            assert!(near(k.expiry, 100), "{name}: {:?} now {now}", k.expiry);
        } else {
            assert!(near(k.expiry, 3600), "{name}: {:?} now {now}", k.expiry);
        }
    }
    // The cachedump walk reports the same expiries for what it lists.
    let walked = c.dump_keys(&opts(DumpMethod::CacheDump));
    assert!(walked.report.is_ok(), "{:?}", walked.report);
    for k in &walked {
        let twin = dumped.iter().find(|d| d.key == k.key).unwrap();
        assert_eq!(k.expiry, twin.expiry);
        assert_eq!((k.cas, k.last_access), (None, None));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

#[test]
fn a_stopped_server_is_reported_after_the_others_are_listed() {
    let (servers, list) = cluster(3);
    let mut c = client(&list, Protocol::Binary);
    let keys = numbered(3000, "stop-");
    set_all(&mut c, &keys, 0);
    // The first server in the list stops answering (its kernel still accepts connections).
    common::stop_process(servers[0].pid());
    let t = Instant::now();
    let dumped = c.dump_keys(&DumpOptions {
        method: DumpMethod::Auto,
        timeout: Duration::from_millis(700),
    });
    let took = t.elapsed();
    signal(servers[0].pid(), "-CONT");

    let failures: Vec<_> = dumped.report.failures().collect();
    assert_eq!(
        failures,
        vec![(0, &DumpError::Failed(Failure::Timeout))],
        "{:?}",
        dumped.report
    );
    assert_eq!(dumped.report.servers.len(), 3);
    let expected: Vec<Vec<u8>> = keys
        .iter()
        .filter(|k| c.server_index_for_key(k) != Some(0))
        .cloned()
        .collect();
    assert!(!expected.is_empty() && expected.len() < keys.len());
    let listed: Vec<(usize, Vec<u8>)> = dumped.iter().map(|k| (k.server, k.key.clone())).collect();
    assert_listed_once(&c, &listed, &expected);
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < slack(Duration::from_secs(3)), "{took:?}");
}

#[test]
fn killed_and_bad_entries_are_reported() {
    let (mut servers, _) = cluster(3);
    let gone = servers.remove(1);
    let gone_addr = gone.addr();
    drop(gone);
    let list = format!(
        "{},{},{},:11211",
        servers[0].addr(),
        gone_addr,
        servers[1].addr()
    );
    let mut c = client(&list, Protocol::Binary);
    let keys = numbered(500, "killed-");
    // Whatever reaches a live server.
    let mut stored = Vec::new();
    for k in &keys {
        if c.set(k, b"v", 0, 0).is_ok() {
            stored.push(k.clone());
        }
    }
    assert!(!stored.is_empty());
    let dumped = c.dump_keys(&opts(DumpMethod::Auto));
    let failures: Vec<(usize, Failure)> = dumped
        .report
        .failures()
        .map(|(i, e)| (i, e.failure()))
        .collect();
    assert_eq!(
        failures,
        vec![(1, Failure::ConnectRefused), (3, Failure::NameNotResolved)],
        "{:?}",
        dumped.report
    );
    assert!(matches!(
        dumped.report.servers[3].error,
        Some(DumpError::BadAddress(_))
    ));
    let listed: Vec<(usize, Vec<u8>)> = dumped.iter().map(|k| (k.server, k.key.clone())).collect();
    let mut listed_keys: Vec<&Vec<u8>> = listed.iter().map(|(_, k)| k).collect();
    listed_keys.sort();
    let mut stored_sorted: Vec<&Vec<u8>> = stored.iter().collect();
    stored_sorted.sort();
    assert_eq!(listed_keys, stored_sorted);
    assert!(listed.iter().all(|(s, _)| *s == 0 || *s == 2));
}

#[test]
fn servers_without_metadump_fall_back() {
    let normal = Memcached::start(&[]);
    let no_crawler = Memcached::start(&["-o", "no_lru_crawler"]);
    let no_dumping = Memcached::start(&["-X"]);
    let list = format!(
        "{},{},{}",
        normal.addr(),
        no_crawler.addr(),
        no_dumping.addr()
    );
    let mut c = client(&list, Protocol::Binary);
    let keys = numbered(300, "fallback-");
    set_all(&mut c, &keys, 0);
    let dumped = c.dump_keys(&opts(DumpMethod::Auto));
    let report = &dumped.report;
    println!("{report:#?}");

    assert_eq!(report.servers[0].method, Some(DumpMethod::MetaDump));
    assert!(report.servers[0].is_complete());

    let s = &report.servers[1];
    assert_eq!(
        s.metadump_unavailable.as_deref(),
        Some("CLIENT_ERROR lru crawler disabled")
    );
    assert_eq!(s.method, Some(DumpMethod::CacheDump));
    assert_eq!(s.error, None);
    assert!(!s.is_complete());

    let s = &report.servers[2];
    assert_eq!(
        s.metadump_unavailable.as_deref(),
        Some("ERROR metadump not allowed")
    );
    assert_eq!(s.method, None);
    assert_eq!(s.keys, 0);
    assert_eq!(
        s.error,
        Some(DumpError::Refused(
            "CLIENT_ERROR stats cachedump not allowed".into()
        ))
    );
    assert_eq!(
        report.failures().map(|(i, _)| i).collect::<Vec<_>>(),
        vec![2]
    );

    // What was listed is right: all of server 0's keys, some of server 1's, none of 2's.
    let mut per_server = [0usize; 3];
    for k in &dumped {
        assert_eq!(Some(k.server), c.server_index_for_key(&k.key));
        per_server[k.server] += 1;
    }
    let expected0 = keys
        .iter()
        .filter(|k| c.server_index_for_key(k) == Some(0))
        .count();
    assert_eq!(per_server[0], expected0);
    assert!(per_server[1] as u64 == report.servers[1].keys);
    assert_eq!(per_server[2], 0);

    // MetaDump alone: the servers without it are failures.
    let only = c.dump_keys(&opts(DumpMethod::MetaDump));
    assert_eq!(
        only.report.failures().map(|(i, _)| i).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

#[test]
fn every_client_protocol_and_its_connections_undisturbed() {
    let (_servers, list) = cluster(2);
    for protocol in PROTOCOLS {
        let mut c = client(&list, protocol);
        let prefix = format!("{protocol:?}-");
        let keys = numbered(1000, &prefix);
        set_all(&mut c, &keys, 0);
        // A batch left in flight on the client's own connections while dumping.
        let mut pending: Vec<OwnedRequest> = keys[..50]
            .iter()
            .map(|k| OwnedRequest::keyed(opcode::GETK, k))
            .collect();
        let (status, _) = c.execute(&mut pending, Wait::from_millis(0));
        assert!(
            matches!(status, Status::Ok | Status::Buffered | Status::Again),
            "{status:?}"
        );
        let dumped = c.dump_keys(&opts(DumpMethod::Auto));
        assert!(dumped.report.is_ok(), "{protocol:?}: {:?}", dumped.report);
        let listed: Vec<(usize, Vec<u8>)> = dumped
            .iter()
            .filter(|k| k.key.starts_with(prefix.as_bytes()))
            .map(|k| (k.server, k.key.clone()))
            .collect();
        assert_listed_once(&c, &listed, &keys);
        let (status, responses) = c.execute_more(&mut pending, Wait::Forever);
        assert_eq!(status, Status::Ok, "{protocol:?}");
        let _ = responses;
        assert_eq!(
            c.get(&keys[7]).unwrap().unwrap().value,
            b"v",
            "{protocol:?}"
        );
        c.set(b"after-dump", b"x", 0, 0).unwrap();
    }
}

#[test]
fn the_callback_stops_the_dump() {
    let (_servers, list) = cluster(3);
    let mut c = client(&list, Protocol::Binary);
    set_all(&mut c, &numbered(600, "brk-"), 0);
    let mut seen = 0;
    let report = c.dump(&opts(DumpMethod::Auto), |_, _| {
        seen += 1;
        if seen == 10 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    assert_eq!(seen, 10);
    assert!(report.stopped);
    assert_eq!(report.servers.len(), 1);
    assert!(report.is_ok());
    // The server is fine afterwards: a full dump follows.
    assert_eq!(c.dump_keys(&opts(DumpMethod::Auto)).keys.len(), 600);
}

/// Sends one text command on a socket of its own and returns its first answer line.
fn raw(port: u16, cmd: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(cmd.as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.trim_end().to_string()
}

/// A server whose LRU crawler is kept busy by an `lru_crawler crawl all` made slow with
/// `lru_crawler sleep` (microseconds per 1,000 items crawled).
fn busy_server(items: usize, sleep_us: u32) -> (Memcached, Client) {
    let server = Memcached::start(&[]);
    let mut c = client(&server.addr(), Protocol::Binary);
    set_all(&mut c, &numbered(items, "busy-"), 0);
    assert_eq!(
        raw(server.port, &format!("lru_crawler sleep {sleep_us}\r\n")),
        "OK"
    );
    assert_eq!(raw(server.port, "lru_crawler crawl all\r\n"), "OK");
    (server, c)
}

#[test]
fn a_busy_crawler_is_asked_again() {
    // A crawl of about 0.5 s (and a metadump as slow).
    let (_server, c) = busy_server(10_000, 50_000);
    let t = Instant::now();
    let dumped = c.dump_keys(&opts(DumpMethod::Auto));
    println!("{:?} in {:?}", dumped.report, t.elapsed());
    let s = &dumped.report.servers[0];
    assert!(s.busy_retries > 0);
    assert_eq!(s.method, Some(DumpMethod::MetaDump));
    assert!(s.is_complete());
    assert_eq!(dumped.keys.len(), 10_000);
}

#[test]
fn a_crawler_busy_for_too_long_is_walked_instead() {
    // A crawl of about 10 s: longer than the retries.
    let (_server, c) = busy_server(20_000, 500_000);
    let t = Instant::now();
    let dumped = c.dump_keys(&opts(DumpMethod::Auto));
    let took = t.elapsed();
    println!("{:?} in {took:?}", dumped.report);
    let s = &dumped.report.servers[0];
    assert!(s.busy_retries > 0);
    assert_eq!(
        s.metadump_unavailable.as_deref(),
        Some("BUSY currently processing crawler request")
    );
    assert_eq!(s.method, Some(DumpMethod::CacheDump));
    assert_eq!(s.error, None);
    assert!(took < slack(Duration::from_secs(5)), "{took:?}");
}

#[test]
fn a_unix_socket_server() {
    let server = common::UnixMemcached::start();
    let mut c = client(server.path.to_str().unwrap(), Protocol::Meta);
    let keys = numbered(200, "unix-");
    set_all(&mut c, &keys, 0);
    let dumped = c.dump_keys(&opts(DumpMethod::Auto));
    assert!(dumped.report.is_ok(), "{:?}", dumped.report);
    let listed: Vec<(usize, Vec<u8>)> = dumped.iter().map(|k| (k.server, k.key.clone())).collect();
    assert_listed_once(&c, &listed, &keys);
}
