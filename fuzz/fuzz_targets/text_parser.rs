//! `omcache::protocol::text::parse_reply` over arbitrary bytes, used as a stream the way an
//! engine uses it: take each complete reply off the front, stop at `Need` or an error.
//!
//! Checked for every step:
//! - a Reply occupies `0 < len <= buf.len()` bytes, and its slices lie inside those bytes;
//! - parsing exactly those `len` bytes gives the same reply (trailing bytes change nothing);
//! - every proper prefix of a reply asks for more bytes (`Need(n)` with prefix < n <= len);
//! - `Need(n)` always has n > buf.len(); a VALUE's `Need` is its whole block, and
//!   `value_header`/`value_frame_len` agree with it;
//! - the stream loop terminates (each reply consumes at least one byte);
//! - parsing never allocates (the module promises "no allocation per reply");
//! - the metadump helpers never panic on the lines the parser returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcache::protocol::text::{
    decode_metadump_key, metadump_field, parse_metadump_line, parse_reply, value_frame_len,
    value_header, Parsed, Reply, MAX_REPLY_LINE,
};
use omcache_fuzz::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// True when `part` lies inside `whole`.
fn inside(part: &[u8], whole: &[u8]) -> bool {
    let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

fn slices<'a>(r: &Reply<'a>) -> [&'a [u8]; 2] {
    match *r {
        Reply::Value { key, data, .. } => [key, data],
        Reply::Version(m)
        | Reply::MetaDumpLine(m)
        | Reply::Busy(m)
        | Reply::BadClass(m)
        | Reply::NotStarted(m)
        | Reply::ErrorMessage(m)
        | Reply::ClientError(m)
        | Reply::ServerError(m) => [m, &[]],
        Reply::Stat { name, value } => [name, value],
        Reply::Item { key, rest } => [key, rest],
        _ => [&[], &[]],
    }
}

fn check_prefixes(reply: &[u8]) {
    let len = reply.len();
    // Every cut in the first line's range, and a spread of cuts beyond (all of them for small
    // replies) so the check stays linear in the input.
    let step = (len / 64).max(1);
    let cuts = (0..len.min(MAX_REPLY_LINE + 1))
        .chain((0..len).step_by(step))
        .chain(len.checked_sub(2))
        .chain(len.checked_sub(1));
    for cut in cuts.filter(|&c| c < len) {
        match parse_reply(&reply[..cut]) {
            Ok(Parsed::Need(n)) => {
                assert!(n > cut, "Need({n}) for a {cut}-byte prefix");
                assert!(n <= len, "Need({n}) beyond the {len}-byte reply");
            }
            other => panic!("{other:?} from a {cut}-byte prefix of a {len}-byte reply"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut dump_lines = Vec::new();
    let mut steps = 0usize;
    loop {
        let allocs = CountingAlloc::count();
        let parsed = parse_reply(rest);
        assert_eq!(CountingAlloc::count(), allocs, "parse_reply allocated");
        match parsed {
            Ok(Parsed::Reply { reply, len }) => {
                assert!(len > 0 && len <= rest.len(), "len {len} of {}", rest.len());
                let own = &rest[..len];
                for s in slices(&reply) {
                    assert!(s.is_empty() || inside(s, own), "slice outside the reply");
                }
                assert_eq!(parse_reply(own), Ok(Parsed::Reply { reply, len }));
                match reply {
                    Reply::Value {
                        key,
                        flags,
                        cas,
                        data,
                    } => {
                        let h = value_header(rest).unwrap().expect("VALUE header");
                        assert_eq!((h.key, h.flags, h.cas), (key, flags, cas));
                        assert_eq!(h.data_len, data.len());
                        assert_eq!(h.frame_len(), len);
                        assert_eq!(value_frame_len(rest), Some(len));
                        assert!(!key.is_empty());
                        assert!(own.ends_with(b"\r\n"));
                    }
                    Reply::MetaDumpLine(line) => {
                        assert!(line.starts_with(b"key="));
                        assert!(own.ends_with(b"\n"));
                        let allocs = CountingAlloc::count();
                        let _ = parse_metadump_line(line);
                        let _ = metadump_field(line, b"exp");
                        assert_eq!(CountingAlloc::count(), allocs);
                        if let Some(key) = metadump_field(line, b"key") {
                            let before = dump_lines.len();
                            match decode_metadump_key(key, &mut dump_lines) {
                                Ok(()) => assert!(dump_lines.len() - before <= key.len()),
                                Err(_) => assert_eq!(dump_lines.len(), before),
                            }
                        }
                    }
                    _ => assert!(own.ends_with(b"\r\n")),
                }
                check_prefixes(own);
                rest = &rest[len..];
                steps += 1;
                assert!(steps <= data.len(), "more replies than bytes");
            }
            Ok(Parsed::Need(n)) => {
                assert!(
                    n > rest.len(),
                    "Need({n}) with {} bytes buffered",
                    rest.len()
                );
                if let Some(total) = value_frame_len(rest) {
                    assert_eq!(n, total);
                } else {
                    assert_eq!(n, rest.len() + 1);
                }
                break;
            }
            Err(_) => break,
        }
    }
});
