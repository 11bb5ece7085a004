//! `protocol::text` against a real memcached: requests built only with the module's encoders,
//! sent over a plain `TcpStream`, answers read only with its parser.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use omcache::protocol::text::*;

/// An owned copy of a reply, so tests can compare it after the buffer moves on. Everything but
/// VALUE is rendered by variant (so the parser's classification is what is compared).
#[derive(Clone, Debug, PartialEq, Eq)]
enum R {
    Value {
        key: Vec<u8>,
        flags: u32,
        cas: Option<u64>,
        data: Vec<u8>,
    },
    Line(String),
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn own(r: Reply<'_>) -> R {
    R::Line(match r {
        Reply::Value {
            key,
            flags,
            cas,
            data,
        } => {
            return R::Value {
                key: key.to_vec(),
                flags,
                cas,
                data: data.to_vec(),
            }
        }
        Reply::End => "END".into(),
        Reply::Stored => "STORED".into(),
        Reply::NotStored => "NOT_STORED".into(),
        Reply::Exists => "EXISTS".into(),
        Reply::NotFound => "NOT_FOUND".into(),
        Reply::Deleted => "DELETED".into(),
        Reply::Touched => "TOUCHED".into(),
        Reply::Ok => "OK".into(),
        Reply::Reset => "RESET".into(),
        Reply::Number(n) => format!("number {n}"),
        Reply::Version(v) => format!("version {}", s(v)),
        Reply::Stat { name, value } => format!("stat {}={}", s(name), s(value)),
        Reply::Item { key, rest } => format!("item {} {}", s(key), s(rest)),
        Reply::MetaDumpLine(l) => format!("dump {}", s(l)),
        Reply::Busy(m) => format!("busy {}", s(m)),
        Reply::BadClass(m) => format!("badclass {}", s(m)),
        Reply::NotStarted(m) => format!("notstarted {}", s(m)),
        Reply::Error => "ERROR".into(),
        Reply::ErrorMessage(m) => format!("error {}", s(m)),
        Reply::ClientError(m) => format!("client_error {}", s(m)),
        Reply::ServerError(m) => format!("server_error {}", s(m)),
    })
}

fn line(l: &str) -> R {
    R::Line(l.into())
}

fn value(key: &[u8], flags: u32, cas: Option<u64>, data: &[u8]) -> R {
    R::Value {
        key: key.to_vec(),
        flags,
        cas,
        data: data.to_vec(),
    }
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl Conn {
    fn new(mc: &common::Memcached) -> Conn {
        let stream = TcpStream::connect(mc.addr()).unwrap();
        stream
            .set_read_timeout(Some(common::slack(Duration::from_secs(10))))
            .unwrap();
        Conn {
            stream,
            buf: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Sends what the encoders appended to `out`, in one write.
    fn send(&mut self) {
        self.stream.write_all(&self.out).unwrap();
        self.out.clear();
    }

    /// Reads until one reply is complete; `None` when the server closed the connection.
    fn try_next(&mut self) -> Option<R> {
        loop {
            match parse_reply(&self.buf).unwrap() {
                Parsed::Reply { reply, len } => {
                    assert!(len > 0 && len <= self.buf.len());
                    let r = own(reply);
                    self.buf.drain(..len);
                    return Some(r);
                }
                Parsed::Need(n) => {
                    assert!(n > self.buf.len());
                    let mut chunk = [0u8; 65536];
                    match self.stream.read(&mut chunk) {
                        Ok(0) => return None,
                        Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                        Err(e) => panic!("read: {e}"),
                    }
                }
            }
        }
    }

    fn next(&mut self) -> R {
        self.try_next().expect("connection closed")
    }

    fn expect(&mut self, want: &[R]) {
        for w in want {
            assert_eq!(&self.next(), w);
        }
    }

    /// Sends and reads one reply.
    fn ask(&mut self) -> R {
        self.send();
        self.next()
    }

    /// The cas unique of `key`, via gets.
    fn cas_of(&mut self, key: &[u8]) -> u64 {
        begin_get(&mut self.out, GetKind::Gets);
        push_get_key(&mut self.out, key).unwrap();
        end_line(&mut self.out);
        let R::Value { cas: Some(cas), .. } = self.ask() else {
            panic!("no cas")
        };
        assert_eq!(self.next(), line("END"));
        cas
    }

    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        begin_get(&mut self.out, GetKind::Get);
        push_get_key(&mut self.out, key).unwrap();
        end_line(&mut self.out);
        match self.ask() {
            R::Value { data, key: k, .. } => {
                assert_eq!(k, key);
                assert_eq!(self.next(), line("END"));
                Some(data)
            }
            r => {
                assert_eq!(r, line("END"));
                None
            }
        }
    }
}

#[test]
fn storage_commands_and_values() {
    let mc = common::Memcached::start(&[]);
    let mut c = Conn::new(&mc);
    let o = &mut c.out;
    encode_store(o, StoreCmd::Set, b"a", 42, 0, b"hello", false).unwrap();
    encode_store(o, StoreCmd::Add, b"a", 0, 0, b"x", false).unwrap();
    encode_store(o, StoreCmd::Add, b"b", 0, 0, b"", false).unwrap();
    encode_store(o, StoreCmd::Replace, b"nokey", 0, 0, b"x", false).unwrap();
    encode_store(o, StoreCmd::Replace, b"b", 7, 0, b"\r\nEND\r\n", false).unwrap();
    encode_store(o, StoreCmd::Append, b"a", 0, 0, b" world", false).unwrap();
    encode_store(o, StoreCmd::Prepend, b"a", 0, 0, b">", false).unwrap();
    encode_store(o, StoreCmd::Append, b"nokey", 0, 0, b"x", false).unwrap();
    encode_store(o, StoreCmd::Set, &[b'k', 0x80, 0xff], 1, 0, b"high", false).unwrap();
    encode_store(o, StoreCmd::Set, b"quiet", 0, 0, b"q", true).unwrap();
    c.send();
    c.expect(&[
        line("STORED"),
        line("NOT_STORED"),
        line("STORED"),
        line("NOT_STORED"),
        line("STORED"),
        line("STORED"),
        line("STORED"),
        line("NOT_STORED"),
        line("STORED"),
    ]);
    // Retrieval: multi-key, a repeated key answered per copy, a miss, bytes >= 0x80.
    let start = begin_get(&mut c.out, GetKind::Get);
    assert_eq!(start, 0);
    for key in [
        &b"a"[..],
        b"b",
        b"nokey",
        b"a",
        b"\x6b\x80\xff",
        b"quiet",
        b"a",
    ] {
        push_get_key(&mut c.out, key).unwrap();
    }
    end_line(&mut c.out);
    c.send();
    c.expect(&[
        value(b"a", 42, None, b">hello world"),
        value(b"b", 7, None, b"\r\nEND\r\n"),
        value(b"a", 42, None, b">hello world"),
        value(b"k\x80\xff", 1, None, b"high"),
        value(b"quiet", 0, None, b"q"),
        value(b"a", 42, None, b">hello world"),
        line("END"),
    ]);
    // A 0-byte value.
    encode_store(&mut c.out, StoreCmd::Set, b"empty", u32::MAX, 0, b"", false).unwrap();
    assert_eq!(c.ask(), line("STORED"));
    begin_get(&mut c.out, GetKind::Gets);
    push_get_key(&mut c.out, b"empty").unwrap();
    end_line(&mut c.out);
    let R::Value {
        flags, cas, data, ..
    } = c.ask()
    else {
        panic!()
    };
    assert_eq!((flags, data.len()), (u32::MAX, 0));
    assert!(cas.is_some());
    assert_eq!(c.next(), line("END"));
    // A 1,000,000-byte value containing "\r\n" (and "END\r\n").
    let big: Vec<u8> = (0..1_000_000u32)
        .map(|i| b"0123\r\nEND\r\n"[(i % 11) as usize])
        .collect();
    encode_store(&mut c.out, StoreCmd::Set, b"big", 3, 0, &big, false).unwrap();
    assert_eq!(c.ask(), line("STORED"));
    assert_eq!(c.get(b"big"), Some(big));
    // Too large for the cache: one SERVER_ERROR (the data block is swallowed, no ERROR).
    let huge = vec![b'h'; 2_000_000];
    encode_store(&mut c.out, StoreCmd::Set, b"huge", 0, 0, &huge, false).unwrap();
    encode_version(&mut c.out);
    c.send();
    c.expect(&[line("server_error object too large for cache")]);
    assert!(matches!(c.next(), R::Line(l) if l.starts_with("version 1.")));
}

#[test]
fn cas_counters_delete_touch() {
    let mc = common::Memcached::start(&[]);
    let mut c = Conn::new(&mc);
    encode_store(&mut c.out, StoreCmd::Set, b"c", 0, 0, b"v1", false).unwrap();
    assert_eq!(c.ask(), line("STORED"));
    let unique = c.cas_of(b"c");
    encode_store(
        &mut c.out,
        StoreCmd::Cas(unique + 1000),
        b"c",
        0,
        0,
        b"v2",
        false,
    )
    .unwrap();
    encode_store(&mut c.out, StoreCmd::Cas(unique), b"c", 5, 0, b"v2", false).unwrap();
    encode_store(&mut c.out, StoreCmd::Cas(unique), b"c", 0, 0, b"v3", false).unwrap();
    encode_store(&mut c.out, StoreCmd::Cas(1), b"nokey", 0, 0, b"v", false).unwrap();
    c.send();
    c.expect(&[
        line("EXISTS"),
        line("STORED"),
        line("EXISTS"),
        line("NOT_FOUND"),
    ]);
    // gets and gats answer with the cas unique; gat with the flags.
    let unique = c.cas_of(b"c");
    begin_get(&mut c.out, GetKind::Gats(100));
    push_get_key(&mut c.out, b"c").unwrap();
    push_get_key(&mut c.out, b"nokey").unwrap();
    end_line(&mut c.out);
    begin_get(&mut c.out, GetKind::Gat(0));
    push_get_key(&mut c.out, b"c").unwrap();
    end_line(&mut c.out);
    c.send();
    c.expect(&[
        value(b"c", 5, Some(unique), b"v2"),
        line("END"),
        value(b"c", 5, None, b"v2"),
        line("END"),
    ]);

    let o = &mut c.out;
    encode_store(o, StoreCmd::Set, b"n", 0, 0, b"5", false).unwrap();
    encode_incr(o, b"n", 10, false).unwrap();
    encode_incr(o, b"n", u64::MAX, false).unwrap(); // wraps: 15 + 2^64 - 1 = 14
    encode_decr(o, b"n", 4, false).unwrap();
    encode_decr(o, b"n", 100, false).unwrap(); // stops at 0
    encode_incr(o, b"n", 1, true).unwrap();
    encode_incr(o, b"nokey", 1, false).unwrap();
    encode_decr(o, b"c", 1, false).unwrap();
    encode_store(
        o,
        StoreCmd::Set,
        b"max",
        0,
        0,
        b"18446744073709551615",
        false,
    )
    .unwrap();
    encode_decr(o, b"max", 0, false).unwrap();
    c.send();
    c.expect(&[
        line("STORED"),
        line("number 15"),
        line("number 14"),
        line("number 10"),
        line("number 0"),
        line("NOT_FOUND"),
        line("client_error cannot increment or decrement non-numeric value"),
        line("STORED"),
        line(&format!("number {}", u64::MAX)),
    ]);
    // decr shortened "10" to "0" in place: memcached pads the stored value with spaces.
    assert_eq!(c.get(b"n"), Some(b"1 ".to_vec()));

    let o = &mut c.out;
    encode_touch(o, b"n", 100, false).unwrap();
    encode_touch(o, b"nokey", 100, false).unwrap();
    encode_touch(o, b"n", 0, true).unwrap();
    encode_delete(o, b"n", false).unwrap();
    encode_delete(o, b"n", false).unwrap();
    encode_delete(o, b"c", true).unwrap();
    encode_version(o);
    c.send();
    c.expect(&[
        line("TOUCHED"),
        line("NOT_FOUND"),
        line("DELETED"),
        line("NOT_FOUND"),
        line("version 1.6.18"),
    ]);
    assert_eq!(c.get(b"c"), None);
}

#[test]
fn admin_commands_and_errors() {
    let mc = common::Memcached::start(&[]);
    let mut c = Conn::new(&mc);
    encode_store(&mut c.out, StoreCmd::Set, b"f", 0, 0, b"v", false).unwrap();
    encode_flush_all(&mut c.out, None, false);
    encode_flush_all(&mut c.out, Some(0), true);
    encode_flush_all(&mut c.out, Some(0), false);
    encode_verbosity(&mut c.out, 1, false);
    encode_verbosity(&mut c.out, 0, true);
    encode_stats(&mut c.out, Some(b"reset")).unwrap();
    c.send();
    c.expect(&[
        line("STORED"),
        line("OK"),
        line("OK"),
        line("OK"),
        line("RESET"),
    ]);
    assert_eq!(c.get(b"f"), None);

    // stats: STAT lines, then END.
    encode_stats(&mut c.out, None).unwrap();
    c.send();
    let mut names = Vec::new();
    loop {
        match c.next() {
            R::Line(l) if l == "END" => break,
            R::Line(l) if l.starts_with("stat ") => names.push(l),
            other => panic!("{other:?}"),
        }
    }
    assert!(names.iter().any(|l| l == "stat version=1.6.18"));
    assert!(names.iter().any(|l| l.starts_with("stat pid=")));
    assert!(names.len() > 50);
    encode_stats(&mut c.out, Some(b"settings")).unwrap();
    c.send();
    let mut n = 0;
    while c.next() != line("END") {
        n += 1;
    }
    assert!(n > 20);
    encode_stats(&mut c.out, Some(b"nosuchgroup")).unwrap();
    assert_eq!(c.ask(), line("ERROR"));

    // A 251-byte key: the encoder refuses it; written by hand, the server answers the line
    // with CLIENT_ERROR and the unread data block with ERROR.
    let long = [b'x'; 251];
    assert_eq!(
        encode_store(&mut c.out, StoreCmd::Set, &long, 0, 0, b"hello", false),
        Err(EncodeError::InvalidKey)
    );
    assert!(c.out.is_empty());
    c.out.extend_from_slice(b"set ");
    c.out.extend_from_slice(&long);
    c.out.extend_from_slice(b" 0 0 5\r\nhello\r\n");
    c.send();
    c.expect(&[line("client_error bad command line format"), line("ERROR")]);

    // quit: the server closes without an answer.
    encode_quit(&mut c.out);
    c.send();
    assert_eq!(c.try_next(), None);
}

#[test]
fn cachedump_and_metadump() {
    let mc = common::Memcached::start(&[]);
    let mut c = Conn::new(&mc);
    let keys: [&[u8]; 3] = [b"a%b", b"k\x80", b"plain"];
    for key in keys {
        encode_store(&mut c.out, StoreCmd::Set, key, 0, 0, b"12", false).unwrap();
    }
    c.send();
    c.expect(&[line("STORED"), line("STORED"), line("STORED")]);

    // metadump lists every key at once; sent alone in its own write.
    encode_metadump_all(&mut c.out);
    c.send();
    let mut found = Vec::new();
    loop {
        // Parsed directly, to check the fields and decode the key.
        match parse_reply(&c.buf).unwrap() {
            Parsed::Reply { reply, len } => {
                match reply {
                    Reply::End => {
                        c.buf.drain(..len);
                        break;
                    }
                    Reply::MetaDumpLine(l) => {
                        assert_eq!(c.buf[len - 1], b'\n');
                        assert_ne!(c.buf[len - 2], b'\r');
                        let item = parse_metadump_line(l).unwrap();
                        assert_eq!(item.exp, Some(-1));
                        assert!(item.la.is_some() && item.cas.is_some());
                        let mut key = Vec::new();
                        decode_metadump_key(item.key, &mut key).unwrap();
                        found.push(key);
                    }
                    other => panic!("{other:?}"),
                }
                c.buf.drain(..len);
            }
            Parsed::Need(_) => {
                let mut chunk = [0u8; 4096];
                let k = c.stream.read(&mut chunk).unwrap();
                assert!(k > 0);
                c.buf.extend_from_slice(&chunk[..k]);
            }
        }
    }
    found.sort();
    assert_eq!(found, [&b"a%b"[..], b"k\x80", b"plain"]);
    assert!(c.buf.is_empty());

    // metadump after another command in the same read.
    encode_version(&mut c.out);
    encode_metadump_all(&mut c.out);
    c.send();
    assert!(matches!(c.next(), R::Line(l) if l.starts_with("version ")));
    assert_eq!(
        c.next(),
        line("error cannot pipeline other commands before metadump")
    );

    // cachedump lists only items older than a second or two: poll.
    let deadline = Instant::now() + common::slack(Duration::from_secs(10));
    loop {
        encode_cachedump(&mut c.out, 1, 0);
        c.send();
        let mut items = Vec::new();
        loop {
            match c.next() {
                R::Line(l) if l == "END" => break,
                R::Line(l) if l.starts_with("item ") => items.push(l),
                other => panic!("{other:?}"),
            }
        }
        if items.len() == 3 {
            items.sort();
            assert_eq!(
                items,
                [
                    "item a%b [2 b; 0 s]",
                    "item k\u{fffd} [2 b; 0 s]",
                    "item plain [2 b; 0 s]"
                ]
            );
            break;
        }
        assert!(Instant::now() < deadline, "cachedump listed {items:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    encode_cachedump(&mut c.out, 64, 0);
    assert_eq!(c.ask(), line("client_error Illegal slab id"));
    // BADCLASS, written by hand (the module only encodes "all").
    c.out.extend_from_slice(b"lru_crawler metadump 99\r\n");
    assert_eq!(c.ask(), line("badclass invalid class id"));
}

#[test]
fn dumps_disabled() {
    let mc = common::Memcached::start(&["-X"]);
    let mut c = Conn::new(&mc);
    encode_metadump_all(&mut c.out);
    assert_eq!(c.ask(), line("error metadump not allowed"));
    encode_cachedump(&mut c.out, 1, 0);
    assert_eq!(c.ask(), line("client_error stats cachedump not allowed"));
}

#[test]
fn gat_lines_split_and_all_work() {
    let mc = common::Memcached::start(&[]);
    let mut c = Conn::new(&mc);
    let keys: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            let mut k = format!("{i:03}-").into_bytes();
            k.resize(250, b'g');
            k
        })
        .collect();
    for (i, k) in keys.iter().enumerate() {
        encode_store(&mut c.out, StoreCmd::Set, k, i as u32, 0, k, true).unwrap();
    }
    c.send();
    // One gat line with all keys is far beyond the 2,048-byte limit: the server closes.
    {
        let mut c2 = Conn::new(&mc);
        begin_get(&mut c2.out, GetKind::Gat(100));
        for k in &keys {
            push_get_key(&mut c2.out, k).unwrap();
        }
        end_line(&mut c2.out);
        let _ = c2.stream.write_all(&c2.out);
        assert_eq!(c2.try_next(), None);
    }
    // Split with key_fits, all lines in one write.
    for kind in [GetKind::Gat(100), GetKind::Gats(0)] {
        let mut lines = 1;
        let mut start = begin_get(&mut c.out, kind);
        let mut in_line = 0;
        for k in &keys {
            if in_line > 0 && !key_fits(kind, c.out.len() - start, k.len()) {
                end_line(&mut c.out);
                assert!(c.out.len() - start <= MAX_COMMAND_LINE);
                start = begin_get(&mut c.out, kind);
                lines += 1;
                in_line = 0;
            }
            push_get_key(&mut c.out, k).unwrap();
            in_line += 1;
        }
        end_line(&mut c.out);
        assert!(c.out.len() - start <= MAX_COMMAND_LINE);
        assert_eq!(lines, 25);
        c.send();
        let mut got = 0;
        for _ in 0..lines {
            loop {
                match c.next() {
                    R::Value {
                        key,
                        flags,
                        cas,
                        data,
                    } => {
                        assert_eq!(key, keys[got]);
                        assert_eq!(data, keys[got]);
                        assert_eq!(flags, got as u32);
                        assert_eq!(cas.is_some(), matches!(kind, GetKind::Gats(_)));
                        got += 1;
                    }
                    l => {
                        assert_eq!(l, line("END"));
                        break;
                    }
                }
            }
        }
        assert_eq!(got, keys.len());
    }
    // get lines have no limit: 1,000 keys of 250 bytes (5 copies of each) in one line.
    begin_get(&mut c.out, GetKind::Get);
    for _ in 0..5 {
        for k in &keys {
            assert!(key_fits(GetKind::Get, c.out.len(), k.len()));
            push_get_key(&mut c.out, k).unwrap();
        }
    }
    end_line(&mut c.out);
    assert!(c.out.len() > 250_000);
    c.send();
    for i in 0..1000 {
        let R::Value { key, .. } = c.next() else {
            panic!("reply {i}")
        };
        assert_eq!(key, keys[i % 200]);
    }
    assert_eq!(c.next(), line("END"));
}
