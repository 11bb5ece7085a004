//! `omcache::address::parse_server_list` on arbitrary text, and `omcache_set_servers` (the C
//! entry point) on arbitrary bytes.
//!
//! Checked (issue 13: a bad entry costs that entry, never the whole list):
//! - no panic;
//! - every non-empty trimmed entry is a server, in the caller's order, equal to
//!   `parse_entry` of that entry alone;
//! - a usable entry (no defect): its Display form re-parses (`parse_server`) to the same
//!   ServerAddr; port 0 exactly for unix sockets; a TCP host is a bracketed IPv6 address or a
//!   plain host name;
//! - an entry with a defect: `parse_server` rejects it with that defect, which keeps the
//!   entry as given; it displays as given; it is named on the ring as libmemcached names it
//!   (`libmemcached_name`, never port 0) and reported as OMcache 0.3 reported it
//!   (`omcache_split`, `atoi` of the port text);
//! - the entries joined with "," re-parse to the same list; `sort_like_omcache` orders by
//!   (host, port as text) as given;
//! - the C API agrees: every string is OMCACHE_OK (bytes that are not UTF-8 are replaced and
//!   cost only their entry), and `omcache_server_info` reports each entry of the sorted list
//!   as given.
#![no_main]

use std::ffi::{CStr, CString};
use std::net::Ipv6Addr;

use libfuzzer_sys::fuzz_target;
use omcache::address::{
    libmemcached_name, omcache_split, parse_entry, parse_server, parse_server_list,
    sort_like_omcache, ServerAddr,
};
use omcache::ffi::omcache as c;

/// OMCACHE_OK (omcache.h).
const OK: i32 = 0;

/// OMcache 0.3's order: host, then port as text, both as given.
fn sort_key(s: &ServerAddr) -> (String, String) {
    match &s.defect {
        Some(d) => {
            let (host, port) = omcache_split(d.entry());
            (host.to_string(), port.to_string())
        }
        None => (s.hostname().to_string(), s.port.to_string()),
    }
}

/// C's atoi for the digits the fuzzer can produce (glibc saturates through strtol).
fn atoi(text: &str) -> i32 {
    let t = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    (if neg { -v } else { v }) as i32
}

fn check_entry(entry: &str, s: &ServerAddr) {
    assert_eq!(&parse_entry(entry), s, "{entry:?}");
    if let Some(d) = &s.defect {
        assert_eq!(d.entry(), entry);
        assert_eq!(parse_server(entry).as_ref(), Err(d), "{entry:?}");
        assert_eq!(s.to_string(), entry);
        assert!(!s.is_unix());
        let (host, port) = libmemcached_name(entry);
        assert_eq!((s.host.as_str(), s.port), (host, port), "{entry:?}");
        assert_ne!(s.port, 0);
        let (host, port) = omcache_split(entry);
        assert_eq!((s.given_host(), s.given_port()), (host, atoi(port)));
        return;
    }
    assert_eq!(parse_server(entry).as_ref(), Ok(s), "{entry:?}");
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
    assert_eq!((s.given_host(), s.given_port()), (s.hostname(), i32::from(s.port)));
    let text = s.to_string();
    assert_eq!(parse_server(&text).as_ref(), Ok(s), "{s:?} displays as {text:?}");
}

fn check_text(text: &str) {
    let list = parse_server_list(text);
    let entries: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    assert_eq!(list.len(), entries.len(), "{text:?}");
    // The caller's order is kept; a bad entry costs only itself.
    for (e, s) in entries.iter().zip(&list) {
        check_entry(e, s);
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
    assert_eq!(parse_server_list(&joined), list, "{joined:?}");
}

fn check_c_api(data: &[u8]) {
    let bytes: Vec<u8> = data.iter().copied().take_while(|&b| b != 0).collect();
    let cstr = CString::new(bytes.clone()).unwrap();
    let mc = c::omcache_init();
    assert!(!mc.is_null());
    let rc = c::omcache_set_servers(mc, cstr.as_ptr());
    assert_eq!(rc, OK, "{bytes:?}");
    let mut list = parse_server_list(&String::from_utf8_lossy(&bytes));
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
        assert_eq!(host, s.given_host());
        assert_eq!(port, s.given_port());
        assert_eq!(c::omcache_server_info_free(mc, info), OK);
    }
    assert!(c::omcache_server_info(mc, list.len() as i32).is_null());
    assert_eq!(c::omcache_free(mc), OK);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_text(text);
    }
    check_c_api(data);
});
