//! `omcache::protocol::meta` against a real memcached (started here on a free 127.0.0.1 port),
//! over a plain blocking `TcpStream`: only the module's encoders and parser are used.
//!
//! What memcached 1.6.18 really sends where protocol.txt says otherwise (asserted below):
//! - `EN` carries the requested `k` / `O` (and `b`) flags: `EN knokey O1`;
//! - `ms` takes the data length by position (`ms <key> <datalen> <flags>*`), not an `S` flag;
//! - `q` hides only `EN` on mg and `HD` on ms/md/ma; `NS`, `NF`, `EX` and error lines are sent;
//! - `ms big 2000000 q` answers `SERVER_ERROR object too large for cache` once the whole data
//!   block has been read (nothing before);
//! - rejected flags: a letter the command does not know (`mg foo E5` / `mg foo x` / `ms .. Z` →
//!   `CLIENT_ERROR invalid flag`, on md/ma `CLIENT_ERROR invalid or duplicate flag`), a repeated
//!   flag (`CLIENT_ERROR duplicate flag`), a bad number (`ma n D-1`), a bad ms mode (`MX` →
//!   `CLIENT_ERROR invalid mode for ms M token`), an opaque over 32 bytes; the connection stays
//!   usable after each (the ms data block is swallowed);
//! - the `k` flag shows the key as stored: after `ms <b64> b` it comes back base64 with `b`; an
//!   item created by vivify (`mg <b64> b N..`) comes back raw, without `b`.
//! - `me` on a miss answers `EN`; `me` on a hit `ME <key> exp=-1 la=0 cas=1 fetch=no cls=1
//!   size=..` (no return flags).
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Memcached;
use omcache::protocol::meta::*;

/// A reply copied out of the receive buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Meta {
        code: Code,
        data: Vec<u8>,
        key: Option<Vec<u8>>,
        b: bool,
        opaque: Option<u32>,
        cas: Option<u64>,
        flags: Option<u32>,
        ttl: Option<i64>,
        size: Option<u64>,
        won: bool,
        stale: bool,
        lost: bool,
    },
    Error,
    ClientError(String),
    ServerError(String),
    /// `parse_reply` said Unexpected: the line, for a text parser.
    Unexpected(Vec<u8>),
}

impl Owned {
    fn code(&self) -> Code {
        match self {
            Owned::Meta { code, .. } => *code,
            other => panic!("not a meta reply: {other:?}"),
        }
    }
    fn data(&self) -> &[u8] {
        match self {
            Owned::Meta { data, .. } => data,
            other => panic!("not a meta reply: {other:?}"),
        }
    }
    fn opaque(&self) -> Option<u32> {
        match self {
            Owned::Meta { opaque, .. } => *opaque,
            other => panic!("not a meta reply: {other:?}"),
        }
    }
    fn cas(&self) -> u64 {
        match self {
            Owned::Meta { cas: Some(c), .. } => *c,
            other => panic!("no cas: {other:?}"),
        }
    }
}

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl Conn {
    fn new(m: &Memcached) -> Conn {
        let s = TcpStream::connect(m.addr()).unwrap();
        s.set_read_timeout(Some(common::slack(Duration::from_secs(5))))
            .unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            s,
            buf: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Sends what the encoders appended to `self.out`.
    fn flush(&mut self) {
        self.s.write_all(&self.out).unwrap();
        self.out.clear();
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    fn next(&mut self) -> Owned {
        loop {
            match parse_reply(&self.buf) {
                Ok(Parsed::Reply { reply, len }) => {
                    let owned = match reply {
                        Reply::Meta(m) => Owned::Meta {
                            code: m.code,
                            data: m.data.to_vec(),
                            key: m.flags.key.map(<[u8]>::to_vec),
                            b: m.flags.key_is_base64,
                            opaque: m.flags.opaque,
                            cas: m.flags.cas,
                            flags: m.flags.client_flags,
                            ttl: m.flags.ttl,
                            size: m.flags.size,
                            won: m.flags.won,
                            stale: m.flags.stale,
                            lost: m.flags.lost,
                        },
                        Reply::Error => Owned::Error,
                        Reply::ClientError(msg) => {
                            Owned::ClientError(String::from_utf8_lossy(msg).into_owned())
                        }
                        Reply::ServerError(msg) => {
                            Owned::ServerError(String::from_utf8_lossy(msg).into_owned())
                        }
                    };
                    self.buf.drain(..len);
                    return owned;
                }
                Ok(Parsed::Need(n)) => {
                    assert!(n > self.buf.len());
                    let mut chunk = [0u8; 65536];
                    let got = self.s.read(&mut chunk).expect("reply in time");
                    assert!(got > 0, "connection closed");
                    self.buf.extend_from_slice(&chunk[..got]);
                }
                Err(ParseError::Unexpected) => {
                    let nl = self.buf.iter().position(|&b| b == b'\n').unwrap();
                    let line: Vec<u8> = self.buf.drain(..=nl).collect();
                    return Owned::Unexpected(line);
                }
                Err(e) => panic!("{e:?} on {:?}", String::from_utf8_lossy(&self.buf)),
            }
        }
    }

    fn get(&mut self, key: &[u8], f: GetFlags) -> Owned {
        encode_get(&mut self.out, key, &f).unwrap();
        self.flush();
        self.next()
    }

    fn set(&mut self, key: &[u8], value: &[u8], f: SetFlags) -> Owned {
        encode_set(&mut self.out, key, value, &f).unwrap();
        self.flush();
        self.next()
    }

    fn delete(&mut self, key: &[u8], f: DeleteFlags) -> Owned {
        encode_delete(&mut self.out, key, &f).unwrap();
        self.flush();
        self.next()
    }

    fn arith(&mut self, key: &[u8], f: ArithFlags) -> Owned {
        encode_arith(&mut self.out, key, &f).unwrap();
        self.flush();
        self.next()
    }

    fn noop(&mut self) {
        encode_noop(&mut self.out);
        self.flush();
        assert_eq!(self.next().code(), Code::Mn);
    }
}

fn gf() -> GetFlags {
    GetFlags::default()
}
fn sf() -> SetFlags {
    SetFlags::default()
}

#[test]
fn get_hit_and_miss_with_return_flags() {
    let m = Memcached::start(&[]);
    let mut c = Conn::new(&m);
    let r = c.set(
        b"foo",
        b"bar",
        SetFlags {
            client_flags: 5,
            return_cas: true,
            return_key: true,
            opaque: Some(9),
            ..sf()
        },
    );
    assert_eq!(r.code(), Code::Hd);
    assert_eq!(r.opaque(), Some(9));
    let cas = r.cas();
    let all = GetFlags {
        value: true,
        key: true,
        client_flags: true,
        cas: true,
        ttl: true,
        size: true,
        opaque: Some(1),
        ..gf()
    };
    let r = c.get(b"foo", all);
    assert_eq!(
        r,
        Owned::Meta {
            code: Code::Va,
            data: b"bar".to_vec(),
            key: Some(b"foo".to_vec()),
            b: false,
            opaque: Some(1),
            cas: Some(cas),
            flags: Some(5),
            ttl: Some(-1),
            size: Some(3),
            won: false,
            stale: false,
            lost: false,
        }
    );
    // A miss: EN with the requested k and O (1.6.18), nothing else.
    let r = c.get(b"nokey", all);
    assert_eq!(
        r,
        Owned::Meta {
            code: Code::En,
            data: vec![],
            key: Some(b"nokey".to_vec()),
            b: false,
            opaque: Some(1),
            cas: None,
            flags: None,
            ttl: None,
            size: None,
            won: false,
            stale: false,
            lost: false,
        }
    );
    // No flags: HD on a hit, EN on a miss.
    assert_eq!(c.get(b"foo", gf()).code(), Code::Hd);
    assert_eq!(c.get(b"nokey", gf()).code(), Code::En);
    // Touch: the TTL changes.
    let r = c.get(
        b"foo",
        GetFlags {
            touch: Some(100),
            ttl: true,
            ..gf()
        },
    );
    assert_eq!(r.code(), Code::Hd);
    let r = c.get(b"foo", GetFlags { ttl: true, ..gf() });
    assert!(
        matches!(r, Owned::Meta { ttl: Some(t), .. } if (98..=100).contains(&t)),
        "{r:?}"
    );
    // Vivify: the first miss wins (W, empty value), the next sees Z.
    let viv = GetFlags {
        value: true,
        vivify: Some(30),
        ..gf()
    };
    let r = c.get(b"viv", viv);
    assert!(
        matches!(&r, Owned::Meta { code: Code::Va, data, won: true, lost: false, .. } if data.is_empty()),
        "{r:?}"
    );
    let r = c.get(b"viv", viv);
    assert!(
        matches!(
            &r,
            Owned::Meta {
                code: Code::Va,
                won: false,
                lost: true,
                ..
            }
        ),
        "{r:?}"
    );
    // A 0-byte and a 1,000,000-byte value containing "\r\n".
    assert_eq!(c.set(b"empty", b"", sf()).code(), Code::Hd);
    let r = c.get(
        b"empty",
        GetFlags {
            value: true,
            size: true,
            ..gf()
        },
    );
    assert!(
        matches!(&r, Owned::Meta { code: Code::Va, data, size: Some(0), .. } if data.is_empty())
    );
    let big: Vec<u8> = (0..1_000_000u32)
        .map(|i| b"ab\r\n\0\xff"[(i % 6) as usize])
        .collect();
    assert_eq!(c.set(b"big", &big, sf()).code(), Code::Hd);
    let r = c.get(
        b"big",
        GetFlags {
            value: true,
            ..gf()
        },
    );
    assert_eq!(r.data(), &big[..]);
}

#[test]
fn quiet_get_pipeline_returns_only_hits_then_mn() {
    let m = Memcached::start(&[]);
    let mut c = Conn::new(&m);
    for i in (0..20).step_by(3) {
        let key = format!("k{i}");
        assert_eq!(c.set(key.as_bytes(), key.as_bytes(), sf()).code(), Code::Hd);
    }
    for i in 0..20u32 {
        let key = format!("k{i}");
        let f = GetFlags {
            value: true,
            key: true,
            quiet: true,
            opaque: Some(i),
            ..gf()
        };
        encode_get(&mut c.out, key.as_bytes(), &f).unwrap();
    }
    encode_noop(&mut c.out);
    c.flush();
    let mut hits = Vec::new();
    loop {
        let r = c.next();
        if r.code() == Code::Mn {
            break;
        }
        assert_eq!(r.code(), Code::Va);
        let Owned::Meta { key, data, .. } = &r else {
            unreachable!()
        };
        assert_eq!(key.as_deref(), Some(&data[..]));
        hits.push(r.opaque().unwrap());
    }
    assert_eq!(hits, [0, 3, 6, 9, 12, 15, 18]);
}

#[test]
fn set_modes_and_their_answers() {
    let m = Memcached::start(&[]);
    let mut c = Conn::new(&m);
    let mode = |mode| SetFlags {
        mode,
        opaque: Some(4),
        ..sf()
    };
    // Add: HD when absent, NS when present; Replace: NS when absent.
    assert_eq!(c.set(b"a", b"1", mode(SetMode::Add)).code(), Code::Hd);
    let r = c.set(b"a", b"x", mode(SetMode::Add));
    assert_eq!((r.code(), r.opaque()), (Code::Ns, Some(4)));
    assert_eq!(c.set(b"r", b"1", mode(SetMode::Replace)).code(), Code::Ns);
    assert_eq!(c.set(b"a", b"2", mode(SetMode::Replace)).code(), Code::Hd);
    assert_eq!(c.set(b"a", b"3", mode(SetMode::Append)).code(), Code::Hd);
    assert_eq!(c.set(b"a", b"1", mode(SetMode::Prepend)).code(), Code::Hd);
    assert_eq!(c.set(b"none", b"1", mode(SetMode::Append)).code(), Code::Ns);
    assert_eq!(
        c.set(b"none", b"1", mode(SetMode::Prepend)).code(),
        Code::Ns
    );
    assert_eq!(c.set(b"s", b"1", mode(SetMode::Set)).code(), Code::Hd);
    let get = GetFlags {
        value: true,
        cas: true,
        client_flags: true,
        ttl: true,
        ..gf()
    };
    let r = c.get(b"a", get);
    assert_eq!(r.data(), b"123");
    // F and T.
    let r = c.set(
        b"ft",
        b"v",
        SetFlags {
            client_flags: u32::MAX,
            ttl: 1000,
            ..sf()
        },
    );
    assert_eq!(r.code(), Code::Hd);
    let r = c.get(b"ft", get);
    assert!(
        matches!(r, Owned::Meta { flags: Some(u32::MAX), ttl: Some(t), .. } if (998..=1000).contains(&t)),
        "{r:?}"
    );
    // C: EX on a mismatch, NF on a miss, HD on a match (c returns the new CAS).
    let cas = c.get(b"a", get).cas();
    let with_cas = |cas| SetFlags {
        compare_cas: Some(cas),
        return_cas: true,
        quiet: true,
        opaque: Some(7),
        ..sf()
    };
    let r = c.set(b"a", b"x", with_cas(cas + 100));
    assert_eq!((r.code(), r.opaque()), (Code::Ex, Some(7)));
    let r = c.set(b"missing", b"x", with_cas(cas));
    assert_eq!((r.code(), r.opaque()), (Code::Nf, Some(7)));
    // q hides the HD: the next answer is the MN.
    encode_set(&mut c.out, b"a", b"new", &with_cas(cas)).unwrap();
    c.flush();
    c.noop();
    let new_cas = c.get(b"a", get).cas();
    assert_ne!(new_cas, cas);
    // I with an older CAS: stored, but stale (X, and W for the first fetch).
    let r = c.set(
        b"a",
        b"old",
        SetFlags {
            compare_cas: Some(cas),
            invalidate: true,
            ..sf()
        },
    );
    assert_eq!(r.code(), Code::Hd);
    let r = c.get(b"a", get);
    assert!(
        matches!(&r, Owned::Meta { stale: true, data, .. } if data == b"old"),
        "{r:?}"
    );
}

#[test]
fn delete() {
    let m = Memcached::start(&[]);
    let mut c = Conn::new(&m);
    let df = DeleteFlags::default;
    assert_eq!(c.set(b"d", b"1", sf()).code(), Code::Hd);
    let r = c.delete(
        b"d",
        DeleteFlags {
            return_key: true,
            opaque: Some(2),
            ..df()
        },
    );
    assert!(
        matches!(&r, Owned::Meta { code: Code::Hd, key: Some(k), opaque: Some(2), .. } if k == b"d")
    );
    assert_eq!(c.delete(b"d", df()).code(), Code::Nf);
    let q = DeleteFlags {
        quiet: true,
        opaque: Some(3),
        ..df()
    };
    let r = c.delete(b"d", q);
    assert_eq!((r.code(), r.opaque()), (Code::Nf, Some(3)));
    assert_eq!(c.set(b"d", b"1", sf()).code(), Code::Hd);
    encode_delete(&mut c.out, b"d", &q).unwrap();
    c.flush();
    c.noop();
    // C mismatch: EX. I + T: stale with a new TTL, then W / X on the next mg.
    let r = c.set(
        b"d",
        b"1",
        SetFlags {
            return_cas: true,
            ..sf()
        },
    );
    let cas = r.cas();
    let r = c.delete(
        b"d",
        DeleteFlags {
            compare_cas: Some(cas + 1),
            ..df()
        },
    );
    assert_eq!(r.code(), Code::Ex);
    let r = c.delete(
        b"d",
        DeleteFlags {
            compare_cas: Some(cas),
            invalidate: true,
            ttl: Some(30),
            ..df()
        },
    );
    assert_eq!(r.code(), Code::Hd);
    let r = c.get(
        b"d",
        GetFlags {
            value: true,
            ttl: true,
            cas: true,
            ..gf()
        },
    );
    assert!(
        matches!(
            &r,
            Owned::Meta {
                stale: true,
                won: true,
                ttl: Some(28..=30),
                ..
            }
        ),
        "{r:?}"
    );
    assert_ne!(r.cas(), cas);
}

#[test]
fn arithmetic() {
    let m = Memcached::start(&[]);
    let mut c = Conn::new(&m);
    let af = ArithFlags::default;
    assert_eq!(c.arith(b"n", af()).code(), Code::Nf);
    let r = c.arith(
        b"n",
        ArithFlags {
            initial: Some(10),
            vivify_ttl: Some(0),
            return_value: true,
            ..af()
        },
    );
    assert_eq!((r.code(), r.data()), (Code::Va, &b"10"[..]));
    let r = c.arith(
        b"n",
        ArithFlags {
            delta: 5,
            return_value: true,
            return_cas: true,
            return_ttl: true,
            return_key: true,
            opaque: Some(6),
            ..af()
        },
    );
    assert!(
        matches!(&r, Owned::Meta { code: Code::Va, data, ttl: Some(-1), cas: Some(_), opaque: Some(6), key: Some(k), .. } if data == b"15" && k == b"n"),
        "{r:?}"
    );
    let cas = r.cas();
    let r = c.arith(
        b"n",
        ArithFlags {
            compare_cas: Some(cas + 1),
            ..af()
        },
    );
    assert_eq!(r.code(), Code::Ex);
    let r = c.arith(
        b"n",
        ArithFlags {
            mode: ArithMode::Decr,
            delta: 100,
            return_value: true,
            ttl: Some(500),
            return_ttl: true,
            ..af()
        },
    );
    assert!(
        matches!(&r, Owned::Meta { data, ttl: Some(500), .. } if data == b"0"),
        "{r:?}"
    );
    assert_eq!(c.arith(b"n", af()).code(), Code::Hd);
    // q hides HD, not NF.
    let q = ArithFlags {
        quiet: true,
        opaque: Some(1),
        ..af()
    };
    encode_arith(&mut c.out, b"n", &q).unwrap();
    encode_arith(&mut c.out, b"nothere", &q).unwrap();
    c.flush();
    let r = c.next();
    assert_eq!((r.code(), r.opaque()), (Code::Nf, Some(1)));
    c.noop();
    let r = c.arith(
        b"n",
        ArithFlags {
            return_value: true,
            ..af()
        },
    );
    assert_eq!(r.data(), b"3");
    // Wraps on increment.
    let r = c.arith(
        b"w",
        ArithFlags {
            initial: Some(u64::MAX),
            vivify_ttl: Some(0),
            return_value: true,
            ..af()
        },
    );
    assert_eq!(r.data(), u64::MAX.to_string().as_bytes());
    let r = c.arith(
        b"w",
        ArithFlags {
            return_value: true,
            ..af()
        },
    );
    assert_eq!(r.data(), b"0");
    // Not a number.
    assert_eq!(c.set(b"txt", b"ab", sf()).code(), Code::Hd);
    assert_eq!(
        c.arith(b"txt", af()),
        Owned::ClientError("cannot increment or decrement non-numeric value".into())
    );
}

#[test]
fn noop_debug_errors_and_text_lines() {
    let m = Memcached::start(&[]);
    let mut c = Conn::new(&m);
    c.noop();
    assert_eq!(c.set(b"foo", b"bar", sf()).code(), Code::Hd);
    encode_debug(&mut c.out, b"foo").unwrap();
    c.flush();
    let r = c.next();
    assert_eq!(r.code(), Code::Me);
    let text = String::from_utf8(r.data().to_vec()).unwrap();
    assert!(text.starts_with("foo exp=-1 la="), "{text}");
    assert!(text.contains(" cas=") && text.contains(" size="), "{text}");
    encode_debug(&mut c.out, b"nokey").unwrap();
    c.flush();
    assert_eq!(c.next().code(), Code::En);

    // Flags 1.6.18 rejects; the connection stays in step after each.
    for (line, msg) in [
        (&b"mg foo E5\r\n"[..], "invalid flag"),
        (b"mg foo x\r\n", "invalid flag"),
        (b"mg foo S1\r\n", "invalid flag"),
        (b"ms foo 3 Z\r\nbar\r\n", "invalid flag"),
        (b"mg foo v v\r\n", "duplicate flag"),
        (b"md foo x\r\n", "invalid or duplicate flag"),
        (b"ma foo D-1\r\n", "invalid or duplicate flag"),
        (b"ms foo 3 MX\r\nbar\r\n", "invalid mode for ms M token"),
        (
            b"mg foo O123456789012345678901234567890123\r\n",
            "opaque token too long",
        ),
        (b"mg nokey b\r\n", "error decoding key"),
    ] {
        c.send_raw(line);
        assert_eq!(c.next(), Owned::ClientError(msg.into()), "{line:?}");
        c.noop();
    }
    // A text command on the meta connection: not a meta reply.
    c.send_raw(b"version\r\n");
    match c.next() {
        Owned::Unexpected(line) => assert!(line.starts_with(b"VERSION "), "{line:?}"),
        other => panic!("{other:?}"),
    }
    c.send_raw(b"mg\r\n");
    assert_eq!(c.next(), Owned::Error);

    // Too large: the error comes after the whole block; q does not hide it.
    let huge = vec![b'x'; 2_000_000];
    let r = c.set(
        b"big",
        &huge,
        SetFlags {
            quiet: true,
            opaque: Some(5),
            ..sf()
        },
    );
    assert_eq!(r, Owned::ServerError("object too large for cache".into()));
    c.noop();
}

#[test]
fn base64_keys_round_trip() {
    let m = Memcached::start(&[]);
    let mut c = Conn::new(&m);
    let long: Vec<u8> = (0..186u32).map(|i| (i * 7) as u8).collect();
    let keys: [&[u8]; 5] = [
        b"a b\r\nc",
        b"\0",
        &[0xff, 0xfe, b' ', b'\n'],
        b"foo",
        &long,
    ];
    for (i, key) in keys.iter().enumerate() {
        let value = format!("value{i}");
        let r = c.set(
            key,
            value.as_bytes(),
            SetFlags {
                base64: true,
                return_key: true,
                opaque: Some(i as u32),
                ..sf()
            },
        );
        let Owned::Meta {
            code: Code::Hd,
            key: Some(k),
            b: true,
            ..
        } = &r
        else {
            panic!("{r:?}")
        };
        let mut dec = [0u8; 250];
        let n = decode_base64_key(k, &mut dec).unwrap();
        assert_eq!(&dec[..n], *key);
        let r = c.get(
            key,
            GetFlags {
                base64: true,
                value: true,
                key: true,
                opaque: Some(i as u32),
                ..gf()
            },
        );
        let Owned::Meta {
            code: Code::Va,
            key: Some(k),
            b: true,
            data,
            ..
        } = &r
        else {
            panic!("{r:?}")
        };
        assert_eq!(data, value.as_bytes());
        let n = decode_base64_key(k, &mut dec).unwrap();
        assert_eq!(&dec[..n], *key);
        encode_debug_base64(&mut c.out, key).unwrap();
        c.flush();
        assert_eq!(c.next().code(), Code::Me);
        let r = c.delete(
            key,
            DeleteFlags {
                base64: true,
                ..DeleteFlags::default()
            },
        );
        assert_eq!(r.code(), Code::Hd);
        let r = c.get(
            key,
            GetFlags {
                base64: true,
                key: true,
                ..gf()
            },
        );
        assert!(
            matches!(
                r,
                Owned::Meta {
                    code: Code::En,
                    b: true,
                    ..
                }
            ),
            "{r:?}"
        );
    }
    // "foo" stored as binary comes back base64 (with b) even to a text mg.
    let f = SetFlags {
        base64: true,
        ..sf()
    };
    assert_eq!(c.set(b"foo", b"bar", f).code(), Code::Hd);
    let r = c.get(b"foo", GetFlags { key: true, ..gf() });
    assert!(
        matches!(&r, Owned::Meta { key: Some(k), b: true, .. } if k == b"Zm9v"),
        "{r:?}"
    );
    // 1.6.18 quirk: an item vivified with a binary key is returned raw, without b (harmless
    // here, the key has no space or newline; with one the reply line breaks).
    let r = c.get(
        b"\x01\x02",
        GetFlags {
            base64: true,
            key: true,
            vivify: Some(30),
            ..gf()
        },
    );
    match &r {
        Owned::Meta {
            key: Some(k),
            b: false,
            won: true,
            ..
        } => assert_eq!(k, b"\x01\x02"),
        Owned::Meta {
            key: Some(k),
            b: true,
            won: true,
            ..
        } => assert_eq!(k, b"AQI="),
        other => panic!("{other:?}"),
    }
}
