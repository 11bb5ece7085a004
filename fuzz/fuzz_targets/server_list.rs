//! `omcache::address::parse_server_list` on arbitrary text, and `omcache_set_servers` (the C
//! entry point) on arbitrary bytes.
//!
//! Checked:
//! - no panic;
//! - for an Ok list: every entry's Display form re-parses (`parse_server`) to the same
//!   ServerAddr; the entries joined with "," re-parse to the same list; the list is sorted by
//!   (hostname, port as text) like OMcache 0.3's; port 0 exactly for unix sockets; a TCP host
//!   is a bracketed IPv6 address or a plain host name;
//! - each raw entry of an Ok list parses on its own, and an Err list has an entry that does
//!   not;
//! - the C API agrees: non-UTF-8 is OMCACHE_INVALID, UTF-8 is OMCACHE_OK exactly when the Rust
//!   parser accepts it, and `omcache_server_info` reports each entry's hostname and port.
#![no_main]

use std::ffi::{CStr, CString};
use std::net::Ipv6Addr;

use libfuzzer_sys::fuzz_target;
use omcache::address::{parse_server, parse_server_list, sort_like_omcache, ServerAddr};
use omcache::ffi::omcache as c;

/// OMCACHE_OK and OMCACHE_INVALID (omcache.h).
const OK: i32 = 0;
const INVALID: i32 = 0x1002;

fn sort_key(s: &ServerAddr) -> (&str, String) {
    (s.hostname(), s.port.to_string())
}

fn check_entry(s: &ServerAddr) {
    if s.is_unix() {
        assert_eq!(s.port, 0, "{s:?}");
    } else {
        assert_ne!(s.port, 0, "{s:?}");
        assert!(!s.host.is_empty());
        if let Some(inner) = s.host.strip_prefix('[') {
            let inner = inner.strip_suffix(']').expect("unclosed bracket in host");
            assert!(inner.parse::<Ipv6Addr>().is_ok(), "{s:?}");
            assert_eq!(s.hostname(), inner);
        } else {
            assert!(s.host.len() <= 253);
            assert!(s
                .host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
            assert_eq!(s.hostname(), s.host);
        }
    }
    let text = s.to_string();
    assert_eq!(
        parse_server(&text).as_ref(),
        Ok(s),
        "{s:?} displays as {text:?}"
    );
}

fn check_text(text: &str) {
    let result = parse_server_list(text);
    let entries: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    match &result {
        Ok(list) => {
            assert_eq!(list.len(), entries.len());
            // The caller's order is kept.
            for (e, s) in entries.iter().zip(list) {
                let one = parse_server(e).expect("entry of an accepted list rejected alone");
                assert_eq!(&one, s);
            }
            for s in list {
                check_entry(s);
            }
            let mut sorted = list.clone();
            sort_like_omcache(&mut sorted);
            for w in sorted.windows(2) {
                assert!(sort_key(&w[0]) <= sort_key(&w[1]), "unsorted: {sorted:?}");
            }
            let joined = list
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            assert_eq!(parse_server_list(&joined).as_ref(), Ok(list), "{joined:?}");
        }
        Err(_) => {
            assert!(
                entries.iter().any(|e| parse_server(e).is_err()),
                "list rejected though every entry parses: {text:?}"
            );
        }
    }
}

fn check_c_api(data: &[u8]) {
    let bytes: Vec<u8> = data.iter().copied().take_while(|&b| b != 0).collect();
    let text = std::str::from_utf8(&bytes).ok();
    let cstr = CString::new(bytes.clone()).unwrap();
    let mc = c::omcache_init();
    assert!(!mc.is_null());
    let rc = c::omcache_set_servers(mc, cstr.as_ptr());
    match text.map(parse_server_list) {
        None => assert_eq!(rc, INVALID, "non-UTF-8 accepted"),
        Some(Err(_)) => assert_eq!(rc, INVALID),
        Some(Ok(mut list)) => {
            assert_eq!(rc, OK);
            // The OMcache face orders its list like OMcache 0.3.
            sort_like_omcache(&mut list);
            for (i, s) in list.iter().enumerate() {
                let info = c::omcache_server_info(mc, i as i32);
                assert!(!info.is_null());
                // SAFETY: a non-NULL info from omcache_server_info, freed below.
                let (host, port) = unsafe {
                    (
                        CStr::from_ptr((*info).hostname)
                            .to_str()
                            .unwrap()
                            .to_owned(),
                        (*info).port,
                    )
                };
                assert_eq!(host, s.hostname());
                assert_eq!(port, i32::from(s.port));
                assert_eq!(c::omcache_server_info_free(mc, info), OK);
            }
            assert!(c::omcache_server_info(mc, list.len() as i32).is_null());
        }
    }
    assert_eq!(c::omcache_free(mc), OK);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_text(text);
    }
    check_c_api(data);
});
