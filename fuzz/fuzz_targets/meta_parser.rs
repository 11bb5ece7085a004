//! `omcache::protocol::meta::parse_reply` over arbitrary bytes, used as a stream the way the
//! engine uses it: take each complete reply off the front, stop at `Need` or an error (an
//! `Unexpected` line is skipped, as if the text parser had taken it).
//!
//! Checked for every step:
//! - a Reply occupies 1..=buf.len() bytes, ends in "\n", and `parse_head` agrees on its length;
//!   a VA's data is the bytes right after its line (same addresses), followed by "\r\n";
//!   borrowed keys and messages lie inside the reply's line;
//! - every proper prefix of a reply asks for more bytes (`Need(n)` with prefix < n <= len);
//! - `Need(n)` always has n > buf.len(); the stream loop always makes progress;
//! - `decode_base64_key` never panics and inverts the encoders' base64 (checked through
//!   `encode_get` on a binary key taken from the input);
//! - parsing never allocates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcache::protocol::meta::{
    decode_base64_key, encode_get, parse_head, parse_reply, Code, GetFlags, Parsed, ParsedHead,
    Reply, MAX_BINARY_KEY_LEN, MAX_LINE,
};
use omcache_fuzz::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn inside(part: &[u8], whole: &[u8]) -> bool {
    let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

fn check_prefixes(reply: &[u8]) {
    let len = reply.len();
    let step = (len / 64).max(1);
    let cuts = (0..len.min(MAX_LINE))
        .step_by(step)
        .chain(std::iter::once(len - 1));
    for cut in cuts {
        match parse_reply(&reply[..cut]) {
            Ok(Parsed::Need(n)) => {
                assert!(n > cut, "Need({n}) for a {cut}-byte prefix");
                assert!(n <= len, "Need({n}) beyond the {len}-byte reply");
            }
            other => panic!("{other:?} on a {cut}-byte prefix of a {len}-byte reply"),
        }
    }
}

fn base64_round_trip(data: &[u8]) {
    let key = &data[..data.len().min(MAX_BINARY_KEY_LEN)];
    if key.is_empty() {
        return;
    }
    let mut out = Vec::new();
    let f = GetFlags {
        base64: true,
        ..GetFlags::default()
    };
    encode_get(&mut out, key, &f).unwrap();
    let token = &out[3..out.len() - 4]; // "mg " <token> " b\r\n"
    assert!(token.len() <= 250);
    let mut dec = [0u8; 250];
    let n = decode_base64_key(token, &mut dec).expect("own encoding decodes");
    assert_eq!(&dec[..n], key);
}

fuzz_target!(|data: &[u8]| {
    base64_round_trip(data);
    let allocs = CountingAlloc::count();
    let mut dec = [0u8; 250];
    if let Some(n) = decode_base64_key(&data[..data.len().min(400)], &mut dec) {
        assert!(n <= 250);
    }
    let mut rest = data;
    loop {
        let before = rest.len();
        match parse_reply(rest) {
            Ok(Parsed::Reply { reply, len }) => {
                assert!(len >= 1 && len <= rest.len(), "len {len} of {}", rest.len());
                assert_eq!(rest[len - 1], b'\n');
                let Ok(ParsedHead::Head(h)) = parse_head(rest) else {
                    panic!("parse_head disagrees")
                };
                assert_eq!(h.total_len(), len);
                assert!(h.line_len <= MAX_LINE);
                let line = &rest[..h.line_len];
                assert!(line.ends_with(b"\r\n"));
                match reply {
                    Reply::Meta(m) => {
                        if m.code == Code::Va {
                            assert_eq!(m.data.len(), h.data_len);
                            assert_eq!(
                                m.data.as_ptr() as usize,
                                rest.as_ptr() as usize + h.line_len
                            );
                            assert_eq!(&rest[len - 2..len], b"\r\n");
                        } else if m.code == Code::Me {
                            assert_eq!(h.data_len, 0);
                            assert!(inside(m.data, line));
                        } else {
                            assert_eq!(h.data_len, 0);
                            assert!(m.data.is_empty());
                        }
                        if let Some(k) = m.flags.key {
                            assert!(inside(k, line));
                        }
                    }
                    Reply::ClientError(msg) | Reply::ServerError(msg) => {
                        assert!(inside(msg, line))
                    }
                    Reply::Error => {}
                }
                check_prefixes(&rest[..len]);
                rest = &rest[len..];
            }
            Ok(Parsed::Need(n)) => {
                assert!(n > rest.len(), "Need({n}) with {} bytes", rest.len());
                break;
            }
            Err(omcache::protocol::meta::ParseError::Unexpected) => {
                // The engine would hand this line to the text parser.
                match rest.iter().position(|&b| b == b'\n') {
                    Some(nl) => rest = &rest[nl + 1..],
                    None => panic!("Unexpected without a complete line"),
                }
            }
            Err(_) => break,
        }
        assert!(rest.len() < before, "no progress");
    }
    assert_eq!(CountingAlloc::count(), allocs, "parse_reply allocated");
});
