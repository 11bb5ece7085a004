//! `memcached_servers_parse()` and the argument rules of `memcached_server_add*()`, as the
//! real libmemcached 1.1.4 applies them (measured against Debian's build with
//! `compat-tests/lmc_config.c`, see `compat-tests/run-config.sh`).
//!
//! `memcached_servers_parse(list)`:
//! * the list is cut at every ','; after an entry, one character is skipped if it is a C
//!   `isspace` character (space, `\t`, `\n`, `\v`, `\f`, `\r`), so `"a, b"` gives "a" and "b"
//!   but `"a,  b"` gives "a" and " b". A trailing ',' adds nothing; an empty string gives no
//!   list at all (NULL); an empty entry (`",a"`, `"a,,b"`) is a server named "".
//! * the port separator is the first ':' after a `[...]` pair if the entry has one (the
//!   stored hostname keeps the brackets: `"[::1]:11212"` → `"[::1]"`), else the first ':'.
//! * the port is C `strtoul(…, 10)` of the text after that ':' (leading white space and a
//!   sign allowed, stops at the first non-digit: "asdf" → 0, "-1" → 65535), truncated to
//!   16 bits ("99999" → 34463); a value beyond `ULONG_MAX` (ERANGE) makes the whole call
//!   return NULL.
//! * the weight is `strtoul` of the text after the first ' ' following the ':' or, if there
//!   is none, after the first ':' following it (`"h1:1 3"` → 3, `"h4:6:7"` → 7), truncated
//!   to 32 bits; ERANGE → NULL. Without a ':' there is no weight and the whole entry is the
//!   hostname (`"h5 0"` → "h5 0").
//! * hostname starting with '/' → unix socket, port 0; else port 0 → 11211. Weight 0 (or
//!   none) → 1 in the returned `memcached_server_st` (measured).
//! * a hostname of 1025 bytes or more without a ':' crashes the real library (stack buffer
//!   overflow); here it is cut to 1024 bytes.
//!
//! `memcached_server_add_with_weight(memc, host, port, weight)` ([`server_add_args`]):
//! port 0 → 11211; NULL or "" host → "localhost"; a hostname of 1025 bytes or more
//! (`NI_MAXHOST`) fails with MEMCACHED_INVALID_ARGUMENTS "Invalid hostname provided"; a
//! leading '/' makes it a unix socket, with the port as given (so 11211 for port 0: the real
//! instance of `memcached_server_add(memc, "/tmp/s", 0)` reports port 11211, type
//! UNIX_SOCKET); weight 0 → 1; a weight above 1 makes the ring weighted only if the
//! distribution is consistent at that moment. Nothing else about the name is checked
//! (`"h:1"`, `"h 1"`, `"::1"` are all accepted as given).
#![forbid(unsafe_code)]

/// `MEMCACHED_DEFAULT_PORT`.
pub const DEFAULT_PORT: u16 = 11211;
/// `NI_MAXHOST`: the size of the hostname buffers.
pub const NI_MAXHOST: usize = 1025;

/// `memcached_connection_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ConnectionType {
    Tcp = 0,
    Udp = 1,
    UnixSocket = 2,
}

/// One element of the array `memcached_servers_parse` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedServer {
    /// As stored (brackets kept; at most `NI_MAXHOST - 1` bytes, longer names are cut).
    pub hostname: Vec<u8>,
    /// `in_port_t` as stored: 11211 for a TCP entry given port 0, 0 for a unix socket.
    pub port: u16,
    /// As stored in the list: 1 when the text gave 0 or nothing.
    pub weight: u32,
    pub kind: ConnectionType,
}

/// C `isspace` in the "C" locale.
pub fn c_isspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `strtoul(s, NULL, 10)` on a 64-bit target: None when errno would be ERANGE.
pub fn strtoul(s: &[u8]) -> Option<u64> {
    let mut i = 0;
    while i < s.len() && c_isspace(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    while i < s.len() && s[i].is_ascii_digit() {
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(s[i] - b'0')))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if overflow {
        return None;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

fn find(s: &[u8], b: u8) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

/// Parses one entry; None means the whole list is NULL.
fn parse_entry(entry: &[u8]) -> Option<ParsedServer> {
    // The C code works on a NUL-terminated copy: bytes after a NUL are invisible.
    let entry = &entry[..find(entry, 0).unwrap_or(entry.len())];
    let open = find(entry, b'[');
    let close = open.and_then(|o| find(&entry[o + 1..], b']').map(|c| o + 1 + c));
    let colon = match close {
        Some(c) => find(&entry[c + 1..], b':').map(|p| c + 1 + p),
        None => find(entry, b':'),
    };
    let mut port: u16 = 0;
    let mut weight: u32 = 0;
    let hostname = match colon {
        None => entry,
        Some(c) => {
            let rest = &entry[c + 1..];
            port = strtoul(rest)? as u16;
            let sep = find(rest, b' ').or_else(|| find(rest, b':'));
            if let Some(s) = sep {
                weight = strtoul(&rest[s + 1..])? as u32;
            }
            &entry[..c]
        }
    };
    Some(make_list_entry(hostname, port, weight))
}

/// `memcached_server_list_append_with_weight` as `memcached_servers_parse` calls it.
fn make_list_entry(hostname: &[u8], port: u16, weight: u32) -> ParsedServer {
    let unix = hostname.first() == Some(&b'/');
    let port = if unix {
        0
    } else if port == 0 {
        DEFAULT_PORT
    } else {
        port
    };
    let mut hostname = hostname.to_vec();
    hostname.truncate(NI_MAXHOST - 1);
    ParsedServer {
        hostname,
        port,
        weight: weight.max(1),
        kind: if port == 0 {
            ConnectionType::UnixSocket
        } else {
            ConnectionType::Tcp
        },
    }
}

/// `memcached_servers_parse(list)`: None where the real function returns NULL (an empty
/// string, or a port or weight beyond `ULONG_MAX`). The list is read up to its first NUL.
pub fn servers_parse(list: &[u8]) -> Option<Vec<ParsedServer>> {
    let list = &list[..find(list, 0).unwrap_or(list.len())];
    let mut out = Vec::new();
    let mut begin = 0;
    while begin != list.len() {
        let (entry, next) = match find(&list[begin..], b',') {
            Some(c) => (&list[begin..begin + c], begin + c + 1),
            None => (&list[begin..], list.len()),
        };
        out.push(parse_entry(entry)?);
        begin = next;
        if begin < list.len() && c_isspace(list[begin]) {
            begin += 1;
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

/// What `memcached_server_add_with_weight` (and `memcached_server_add`, weight 0) adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerToAdd {
    pub hostname: Vec<u8>,
    pub port: u16,
    pub weight: u32,
    pub kind: ConnectionType,
}

/// Why `memcached_server_add*` refused: MEMCACHED_INVALID_ARGUMENTS with this message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidServer(pub &'static str);

/// Argument rules of `memcached_server_add_with_weight(memc, host, port, weight)`.
pub fn server_add_args(
    host: Option<&[u8]>,
    port: u16,
    weight: u32,
) -> Result<ServerToAdd, InvalidServer> {
    let port = if port == 0 { DEFAULT_PORT } else { port };
    let host: &[u8] = match host {
        Some(h) if !h.is_empty() => h,
        _ => b"localhost",
    };
    if host.len() >= NI_MAXHOST {
        return Err(InvalidServer("Invalid hostname provided"));
    }
    let kind = if host[0] == b'/' {
        ConnectionType::UnixSocket
    } else {
        ConnectionType::Tcp
    };
    Ok(ServerToAdd {
        hostname: host.to_vec(),
        port,
        weight: weight.max(1),
        kind,
    })
}

/// Argument rules of `memcached_server_add_unix_socket_with_weight(memc, path, weight)`:
/// port 0, weight 0 → 1; an empty path or one of `NI_MAXHOST` bytes or more fails.
pub fn socket_add_args(path: &[u8], weight: u32) -> Result<ServerToAdd, InvalidServer> {
    if path.is_empty() || path.len() >= NI_MAXHOST {
        return Err(InvalidServer("Invalid filename for socket provided"));
    }
    Ok(ServerToAdd {
        hostname: path.to_vec(),
        port: 0,
        weight: weight.max(1),
        kind: ConnectionType::UnixSocket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> (String, u16, u32) {
        let v = servers_parse(s.as_bytes()).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        (
            String::from_utf8(v[0].hostname.clone()).unwrap(),
            v[0].port,
            v[0].weight,
        )
    }

    #[test]
    fn spec_examples() {
        assert_eq!(one("h1:1 3"), ("h1".into(), 1, 3));
        assert_eq!(one("h4:6:7"), ("h4".into(), 6, 7));
        assert_eq!(one("h5 0"), ("h5 0".into(), 11211, 1));
        assert_eq!(one("[::1]:11212"), ("[::1]".into(), 11212, 1));
        assert_eq!(one("[::1]"), ("[::1]".into(), 11211, 1));
        assert_eq!(one("h:asdf"), ("h".into(), 11211, 1));
        assert_eq!(one("h:99999"), ("h".into(), 34463, 1));
        assert_eq!(one("h:-1"), ("h".into(), 65535, 1));
        let s = &servers_parse(b"/tmp/sock").unwrap()[0];
        assert_eq!((s.port, s.kind), (0, ConnectionType::UnixSocket));
        assert_eq!(servers_parse(b""), None);
        assert_eq!(servers_parse(b"h:99999999999999999999999"), None);
        assert_eq!(servers_parse(b"h:1 99999999999999999999999"), None);
    }

    #[test]
    fn list_splitting() {
        let v = servers_parse(b"a, b,  c,,d,").unwrap();
        let names: Vec<&[u8]> = v.iter().map(|s| &s.hostname[..]).collect();
        assert_eq!(names, [&b"a"[..], b"b", b" c", b"", b"d"]);
    }

    #[test]
    fn strtoul_like_c() {
        assert_eq!(strtoul(b" +12x"), Some(12));
        assert_eq!(strtoul(b"-0"), Some(0));
        assert_eq!(strtoul(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(strtoul(b"18446744073709551616"), None);
        assert_eq!(strtoul(b""), Some(0));
    }

    #[test]
    fn server_add_rules() {
        let a = server_add_args(None, 0, 0).unwrap();
        assert_eq!(
            (&a.hostname[..], a.port, a.weight),
            (&b"localhost"[..], 11211, 1)
        );
        let a = server_add_args(Some(b""), 5, 3).unwrap();
        assert_eq!(
            (&a.hostname[..], a.port, a.weight),
            (&b"localhost"[..], 5, 3)
        );
        let a = server_add_args(Some(b"/s"), 0, 1).unwrap();
        assert_eq!(a.kind, ConnectionType::UnixSocket);
        assert!(server_add_args(Some(&[b'a'; 1025]), 1, 1).is_err());
        assert!(server_add_args(Some(&[b'a'; 1024]), 1, 1).is_ok());
    }
}
