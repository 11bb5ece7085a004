//! Text-protocol faults only a fake server can make (never a stand-in for memcached): bytes
//! sent while no answer is due. A text answer carries no request id, so such bytes must not
//! be taken for the answer of the next request. The same for the meta protocol's answers
//! without an id: the `MN` that ends a multi-get's quiet gets, and text commands' answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use omcache::protocol::Protocol;
use omcache::Client;

/// A text server on a free loopback port. It answers `get`/`gets` with `val-<key>` for every
/// key, `version`, and `set … noreply` silently; and, in meta, `mg` (a hit, the same value)
/// and `mn`. On its first connection only, 50 ms after
/// the first get's answer, it sends `unasked`. Returns its address and its connection count.
fn server(unasked: &'static [u8]) -> (String, Arc<AtomicUsize>) {
    listen(move |stream, first| serve(stream, first.then_some(unasked)))
}

/// A listener on a free loopback port whose connections are each served by `serve` on a
/// thread of their own (told whether it is the first); its address and connection count.
fn listen(serve: impl Fn(TcpStream, bool) + Copy + Send + 'static) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let first = count.fetch_add(1, Ordering::SeqCst) == 0;
            thread::spawn(move || serve(stream, first));
        }
    });
    (addr, connections)
}

fn serve(stream: TcpStream, mut unasked: Option<&[u8]>) {
    let mut out = stream.try_clone().unwrap();
    let mut input = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut reply = Vec::new();
        match words.first().copied() {
            Some(cmd @ ("get" | "gets")) => {
                for key in &words[1..] {
                    let value = format!("val-{key}");
                    let cas = if cmd == "gets" { " 1" } else { "" };
                    let header = format!("VALUE {key} 0 {}{cas}\r\n", value.len());
                    reply.extend_from_slice(header.as_bytes());
                    reply.extend_from_slice(value.as_bytes());
                    reply.extend_from_slice(b"\r\n");
                }
                reply.extend_from_slice(b"END\r\n");
            }
            Some("set") => {
                let len: usize = words.get(4).and_then(|n| n.parse().ok()).unwrap_or(0);
                let mut data = vec![0; len + 2];
                if input.read_exact(&mut data).is_err() {
                    return;
                }
                if words.last() != Some(&"noreply") {
                    reply.extend_from_slice(b"STORED\r\n");
                }
            }
            Some("version") => reply.extend_from_slice(b"VERSION 1.6.18\r\n"),
            Some("mg") => {
                let value = format!("val-{}", words[1]);
                let opaque = words.iter().find(|w| w.starts_with('O')).unwrap_or(&"");
                let head = format!("VA {} f0 c1 k{} {opaque}\r\n", value.len(), words[1]);
                reply.extend_from_slice(head.as_bytes());
                reply.extend_from_slice(value.as_bytes());
                reply.extend_from_slice(b"\r\n");
            }
            Some("mn") => reply.extend_from_slice(b"MN\r\n"),
            _ => reply.extend_from_slice(b"ERROR\r\n"),
        }
        if out.write_all(&reply).is_err() {
            return;
        }
        if let Some(bytes) = unasked.filter(|_| matches!(words.first(), Some(&("get" | "mg")))) {
            thread::sleep(Duration::from_millis(50));
            let _ = out.write_all(bytes);
            unasked = None;
        }
    }
}

fn client(addr: &str) -> Client {
    client_in(addr, Protocol::Text)
}

fn client_in(addr: &str, protocol: Protocol) -> Client {
    let mut c = Client::new();
    c.set_servers(addr).unwrap();
    c.set_protocol(protocol);
    c.set_text_cas(false);
    c.settings_mut().connect_timeout = Duration::from_millis(500);
    c
}

fn value(c: &mut Client, key: &[u8]) -> Option<Vec<u8>> {
    c.get(key).unwrap().map(|item| item.value)
}

/// A multi-get's (key, value) pairs, sorted.
fn multi_get(c: &mut Client, keys: &[&[u8]]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut got: Vec<(Vec<u8>, Vec<u8>)> = c
        .get_multi(keys)
        .unwrap()
        .into_iter()
        .map(|(key, item)| (key, item.value))
        .collect();
    got.sort();
    got
}

/// What the fake server holds for `keys` (`val-<key>`), sorted as `multi_get`'s.
fn served(keys: &[&[u8]]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = keys
        .iter()
        .map(|k| (k.to_vec(), [&b"val-"[..], k].concat()))
        .collect();
    pairs.sort();
    pairs
}

/// A client whose first get (keyA) was answered, after which the server sent `unasked`; and
/// the server's connection count.
fn after_unasked(unasked: &'static [u8]) -> (Client, Arc<AtomicUsize>) {
    let (addr, connections) = server(unasked);
    let mut c = client(&addr);
    assert_eq!(value(&mut c, b"keyA").as_deref(), Some(&b"val-keyA"[..]));
    thread::sleep(Duration::from_millis(150));
    (c, connections)
}

/// Meta: an `MN` sent while idle would end the next multi-get before its hits (all misses);
/// a `VERSION` line would be the next version request's answer.
#[test]
fn meta_answers_without_an_id_sent_while_idle_are_not_taken() {
    for unasked in [&b"MN\r\n"[..], b"VERSION 9.9\r\n", b"SERVER_ERROR busy\r\n"] {
        let (addr, connections) = server(unasked);
        let mut c = client_in(&addr, Protocol::Meta);
        assert_eq!(value(&mut c, b"keyA").as_deref(), Some(&b"val-keyA"[..]));
        thread::sleep(Duration::from_millis(150));
        let what = String::from_utf8_lossy(unasked);
        let keys = [&b"k1"[..], b"k2"];
        assert_eq!(multi_get(&mut c, &keys), served(&keys), "{what}");
        assert_eq!(connections.load(Ordering::SeqCst), 2, "{what}");
    }
}

/// A VALUE for the next get's key sent ahead of it: the next get gets the server's answer to
/// it, on a new connection, never the unasked bytes.
#[test]
fn a_value_sent_before_its_get_is_not_its_answer() {
    let (mut c, connections) = after_unasked(b"VALUE keyB 0 10\r\nINJECTED-B\r\nEND\r\n");
    assert_eq!(value(&mut c, b"keyB").as_deref(), Some(&b"val-keyB"[..]));
    assert_eq!(value(&mut c, b"keyC").as_deref(), Some(&b"val-keyC"[..]));
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

/// An unasked END would make the next get a miss.
#[test]
fn an_end_sent_before_a_get_does_not_make_it_a_miss() {
    let (mut c, connections) = after_unasked(b"END\r\n");
    assert_eq!(value(&mut c, b"keyB").as_deref(), Some(&b"val-keyB"[..]));
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

/// The same bytes arriving after a multi-get: the next multi-get's answers are the server's.
#[test]
fn values_sent_before_a_multi_get_are_not_its_answers() {
    let (mut c, connections) =
        after_unasked(b"VALUE k1 0 4\r\nBAD1\r\nVALUE k2 0 4\r\nBAD2\r\nEND\r\n");
    let keys = [&b"k1"[..], b"k2"];
    assert_eq!(multi_get(&mut c, &keys), served(&keys));
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

/// Two servers, one of which sent bytes while idle: a multi-get over both (whose idle
/// connections are looked at with one `poll` before anything is queued) gets the servers'
/// answers, on a new connection to that server only.
#[test]
fn a_multi_get_over_two_servers_skips_the_one_that_sent_unasked_bytes() {
    // A value for each of k0..k19: whichever of them the client places on the first server.
    let injected: String = (0..20)
        .map(|i| format!("VALUE k{i} 0 4\r\nBAD{}\r\n", i % 10))
        .chain(["END\r\n".to_string()])
        .collect();
    let (addr_a, connections_a) = server(Box::leak(injected.into_bytes().into_boxed_slice()));
    let (addr_b, connections_b) = server(b"");
    let mut c = client(&format!("{addr_a},{addr_b}"));
    let on = |server: usize| {
        (0..20)
            .map(|i| format!("k{i}"))
            .find(|k| c.server_index_for_key(k.as_bytes()) == Some(server))
            .unwrap()
    };
    let (on_a, on_b) = (on(0), on(1));
    let keys = [on_a.as_bytes(), on_b.as_bytes()];
    assert_eq!(multi_get(&mut c, &keys), served(&keys));
    thread::sleep(Duration::from_millis(150));
    assert_eq!(multi_get(&mut c, &keys), served(&keys));
    assert_eq!(connections_a.load(Ordering::SeqCst), 2);
    assert_eq!(connections_b.load(Ordering::SeqCst), 1);
}

/// A text server that answers a get line's keys in reverse order, and has none of the keys
/// that start with `miss`. Returns its address and its connection count.
fn reversing_server() -> (String, Arc<AtomicUsize>) {
    listen(|stream, _| serve_reversed(stream))
}

fn serve_reversed(stream: TcpStream) {
    let mut out = stream.try_clone().unwrap();
    let mut input = BufReader::new(stream);
    let mut line = String::new();
    while input.read_line(&mut line).unwrap_or(0) > 0 {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut reply = Vec::new();
        if matches!(words.first().copied(), Some("get" | "gets")) {
            for key in words[1..].iter().rev().filter(|k| !k.starts_with("miss")) {
                let value = format!("val-{key}");
                let head = format!("VALUE {key} 0 {}\r\n{value}\r\n", value.len());
                reply.extend_from_slice(head.as_bytes());
            }
            reply.extend_from_slice(b"END\r\n");
        } else {
            reply.extend_from_slice(b"ERROR\r\n");
        }
        if out.write_all(&reply).is_err() {
            return;
        }
        line.clear();
    }
}

/// A VALUE answers the get of its key wherever it is in the line: the gets before it are
/// misses only once END has come. Before, a server (or proxy) answering out of order lost
/// hits: `get a bb ccc` answered ccc, bb, a gave ccc only, a and bb as misses (found by an
/// outside tester; libmemcached 1.1.4 returns all three). Real memcached answers in order.
#[test]
fn a_multi_get_answered_out_of_order_loses_no_hit() {
    let (addr, connections) = reversing_server();
    let mut c = client(&addr);
    let keys: [&[u8]; 6] = [b"a", b"miss-1", b"bb", b"ccc", b"miss-2", b"dddd"];
    let hits: Vec<&[u8]> = keys
        .iter()
        .copied()
        .filter(|k| !k.starts_with(b"miss"))
        .collect();
    for _ in 0..3 {
        assert_eq!(multi_get(&mut c, &keys), served(&hits));
        assert_eq!(value(&mut c, b"miss-3"), None);
        assert_eq!(value(&mut c, b"bb").as_deref(), Some(&b"val-bb"[..]));
    }
    // A key asked twice, answered twice out of order; nothing was taken for a broken stream.
    let twice: [&[u8]; 3] = [b"a", b"miss-4", b"a"];
    let got = multi_get(&mut c, &twice);
    assert!(!got.is_empty(), "{got:?}");
    assert!(
        got.iter().all(|(k, v)| k == b"a" && v == b"val-a"),
        "{got:?}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

/// A text server that answers the first key of a get line only (no END), then closes the
/// connection after 200 ms.
fn first_then_close_server() -> (String, Arc<AtomicUsize>) {
    listen(|stream, _| {
        let mut out = stream.try_clone().unwrap();
        let mut input = BufReader::new(stream);
        let mut line = String::new();
        if input.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(key) = words.get(1) {
            let _ = out.write_all(format!("VALUE {key} 0 3\r\nabc\r\n").as_bytes());
        }
        thread::sleep(Duration::from_millis(200));
    })
}

/// A multi-get whose server answered the first key and then closed the connection without
/// END (an outside tester's fake server): the hit is the server's answer for its key and
/// reaches the sink; the keys never answered fail with the closed connection.
#[test]
fn a_hit_before_the_connection_closes_mid_line_is_handed_out() {
    let (addr, _) = first_then_close_server();
    let mut c = client(&addr);
    let mut reqs: Vec<omcache::client::OwnedRequest> = [&b"mk1"[..], b"mk2", b"mk3"]
        .iter()
        .map(|k| omcache::client::OwnedRequest::keyed(omcache::protocol::opcode::GETKQ, k))
        .collect();
    let (_, mut responses) = c.execute(&mut reqs, omcache::client::Wait::Forever);
    responses.sort_by_key(|(i, _)| *i);
    let got: Vec<_> = responses
        .iter()
        .map(|(i, r)| (*i, r.status, r.data.clone()))
        .collect();
    let reset = omcache::client::Status::Failed(omcache::client::Failure::ConnectionReset);
    assert_eq!(
        got,
        [
            (0, omcache::client::Status::Ok, b"abc".to_vec()),
            (1, reset, Vec::new()),
            (2, reset, Vec::new()),
        ]
    );
}
