//! `omcache::protocol::parse_response` over arbitrary bytes, used as a stream the way the
//! engine uses it: take each complete frame off the front, stop at `Need` or an error.
//!
//! Checked for every step:
//! - a Frame's extras/key/value are exactly the header's lengths, add up to body_len, are the
//!   bytes right after the header (same addresses), and the frame fits in the buffer;
//! - every proper prefix of a frame asks for more bytes (`Need(n)` with prefix < n <= frame);
//! - `Need(n)` always has n > buf.len(); errors are justified by the header bytes;
//! - `parse_header` agrees with `parse_response`;
//! - parsing never allocates (the module promises "no allocation per frame").
#![no_main]

use libfuzzer_sys::fuzz_target;
use omcache::protocol::{
    parse_header, parse_response, ParseError, Parsed, HEADER_LEN, RESPONSE_MAGIC,
};
use omcache_fuzz::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// What the header bytes say, computed independently of the crate.
fn expected(buf: &[u8]) -> Result<(usize, usize, usize), ParseError> {
    if buf[0] != RESPONSE_MAGIC {
        return Err(ParseError::BadMagic(buf[0]));
    }
    if buf[5] != 0 {
        return Err(ParseError::BadDataType(buf[5]));
    }
    let key = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    let extras = buf[4] as usize;
    let body = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize;
    if key + extras > body {
        return Err(ParseError::BadLengths);
    }
    Ok((extras, key, body))
}

fn check_prefixes(frame: &[u8]) {
    let len = frame.len();
    // Every cut below the header, and a spread of cuts inside the body (all of them for small
    // frames) so the check stays linear in the input.
    let step = (len / 64).max(1);
    let cuts = (0..=HEADER_LEN.min(len - 1))
        .chain((HEADER_LEN..len).step_by(step))
        .chain(std::iter::once(len - 1));
    for cut in cuts {
        match parse_response(&frame[..cut]) {
            Ok(Parsed::Need(n)) => {
                assert!(n > cut, "Need({n}) for a {cut}-byte prefix");
                assert!(n <= len, "Need({n}) beyond the {len}-byte frame");
            }
            Ok(Parsed::Frame(_)) => panic!("frame from a {cut}-byte prefix of a {len}-byte frame"),
            Err(e) => panic!("{e:?} on a {cut}-byte prefix of a valid frame"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let allocs = CountingAlloc::count();
    let mut rest = data;
    let mut frames = 0usize;
    loop {
        let parsed = parse_response(rest);
        if rest.len() < HEADER_LEN {
            assert!(matches!(parsed, Ok(Parsed::Need(HEADER_LEN))), "{parsed:?}");
            break;
        }
        let want = expected(rest);
        assert_eq!(
            parse_header(rest).map(|h| h.frame_len()),
            want.map(|w| HEADER_LEN + w.2)
        );
        match parsed {
            Ok(Parsed::Frame(f)) => {
                let (extras, key, body) = want.expect("frame despite a bad header");
                let h = f.header;
                assert_eq!(parse_header(rest), Ok(h));
                assert_eq!(f.extras.len(), extras);
                assert_eq!(f.key.len(), key);
                assert_eq!(h.extras_len as usize, extras);
                assert_eq!(h.key_len as usize, key);
                assert_eq!(h.body_len as usize, body);
                assert_eq!(f.extras.len() + f.key.len() + f.value.len(), body);
                let len = h.frame_len();
                assert_eq!(len, HEADER_LEN + body);
                assert!(len <= rest.len());
                // The slices are the frame's own bytes, in order.
                let base = rest.as_ptr() as usize;
                assert_eq!(f.extras.as_ptr() as usize, base + HEADER_LEN);
                assert_eq!(f.key.as_ptr() as usize, base + HEADER_LEN + extras);
                assert_eq!(f.value.as_ptr() as usize, base + HEADER_LEN + extras + key);
                // Accessors never panic and agree with the bytes.
                let flags = f.flags();
                if extras >= 4 {
                    assert_eq!(flags.to_be_bytes(), f.extras[..4]);
                } else {
                    assert_eq!(flags, 0);
                }
                assert_eq!(f.counter().is_some(), f.value.len() == 8);
                check_prefixes(&rest[..len]);
                rest = &rest[len..];
                frames += 1;
            }
            Ok(Parsed::Need(n)) => {
                let (_, _, body) = want.expect("Need despite a bad header");
                assert!(
                    n > rest.len(),
                    "Need({n}) with {} bytes buffered",
                    rest.len()
                );
                assert_eq!(n, HEADER_LEN + body);
                break;
            }
            Err(e) => {
                assert_eq!(Err(e), want.map(|_| ()));
                break;
            }
        }
    }
    let _ = frames;
    assert_eq!(CountingAlloc::count(), allocs, "parse_response allocated");
});
