//! Server strings: `host`, `host:port`, `[v6]`, `[v6]:port`, bare IPv6 addresses and
//! `/unix/socket/path`, in comma-separated lists. Pure parsing; nothing is resolved here
//! except a port given as a service name (`getservbyname_r` through the system's resolver, see
//! `sys::tcp_service_port`): its number is what the ring and `omcache_server_info` see.
//!
//! A list never fails as a whole: every non-empty entry is a server and keeps its place. An
//! entry that can never connect (no host, a host name that cannot be one, a port that is not
//! a number in 1..=65535 nor a known service) is kept with its [`AddressError`] as
//! [`ServerAddr::defect`]; the engine treats it as a server dead from the start. It is named
//! on the ring as libmemcached 1.1.4's `memcached_servers_parse` would name it, so that its
//! points — and the keys that walk past them to the next live server — are libmemcached's.

use std::fmt;
use std::net::Ipv6Addr;

pub const DEFAULT_PORT: u16 = 11211;

/// One configured server.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    /// The host as the ring names it: IPv6 addresses keep their brackets (libmemcached 1.1.4
    /// hashes `"[::1]:11212-3"`); a unix socket's host is its path.
    pub host: String,
    /// TCP port; 0 for a unix socket. For an entry with a defect: the port libmemcached 1.1.4
    /// reads from its text (`strtoul` cut to 16 bits, 0 meaning 11211), used only on the ring.
    pub port: u16,
    /// Why this entry can never connect; None for a usable address. The error keeps the
    /// entry as it was given.
    pub defect: Option<AddressError>,
}

impl ServerAddr {
    /// A usable address (`host` as the ring names it: IPv6 in brackets, a unix socket's path
    /// with port 0).
    pub fn new(host: impl Into<String>, port: u16) -> ServerAddr {
        ServerAddr {
            host: host.into(),
            port,
            defect: None,
        }
    }

    pub fn is_unix(&self) -> bool {
        self.defect.is_none() && self.host.starts_with('/')
    }

    /// The host without IPv6 brackets: what is resolved and what `omcache_server_info` reports.
    pub fn hostname(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }

    /// The host as the entry gave it, as OMcache 0.3 reported it (`omcache_server_info`):
    /// without IPv6 brackets. For a usable address this is [`hostname`](Self::hostname).
    pub fn given_host(&self) -> &str {
        match &self.defect {
            Some(d) => omcache_split(d.entry()).0,
            None => self.hostname(),
        }
    }

    /// The port as OMcache 0.3 reported it: for an entry with a defect, C's `atoi` of the
    /// port text (a name or garbage gives 0, `99999` gives 99999); otherwise the port number
    /// (a service name's number, 0 for a unix socket).
    pub fn given_port(&self) -> i32 {
        match &self.defect {
            Some(d) => atoi(omcache_split(d.entry()).1),
            None => i32::from(self.port),
        }
    }

    /// OMcache 0.3 ordered its server list by host, then by the port as text.
    fn sort_key(&self) -> (&str, String) {
        match &self.defect {
            Some(d) => {
                let (host, port) = omcache_split(d.entry());
                (host, port.to_string())
            }
            None => (self.hostname(), self.port.to_string()),
        }
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.defect {
            f.write_str(d.entry())
        } else if self.is_unix() {
            f.write_str(&self.host)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Why a server entry can never connect. Each variant carries the entry as given (trimmed).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AddressError {
    /// `":11211"`: nothing before the port.
    EmptyHost(String),
    /// The port is empty, or neither a number nor a known TCP service name.
    BadPort(String),
    /// A numeric port outside 1..=65535.
    PortOutOfRange(String),
    /// `"[2001:db8::1"`.
    UnclosedBracket(String),
    /// Characters no host name has, a bracketed text that is no IPv6 address, or text after
    /// the closing bracket.
    BadHost(String),
}

impl AddressError {
    /// Why the entry can never connect, in a few words.
    pub fn reason(&self) -> &'static str {
        match self {
            AddressError::EmptyHost(_) => "no host",
            AddressError::BadPort(_) => "the port is neither a number nor a known service",
            AddressError::PortOutOfRange(_) => "the port is outside 1-65535",
            AddressError::UnclosedBracket(_) => "unclosed '['",
            AddressError::BadHost(_) => "invalid host name",
        }
    }

    /// The entry as given.
    pub fn entry(&self) -> &str {
        match self {
            AddressError::EmptyHost(s)
            | AddressError::BadPort(s)
            | AddressError::PortOutOfRange(s)
            | AddressError::UnclosedBracket(s)
            | AddressError::BadHost(s) => s,
        }
    }
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server entry {:?}: {}", self.entry(), self.reason())
    }
}

impl std::error::Error for AddressError {}

/// Parses a comma-separated list. Whitespace around entries is ignored and empty entries are
/// skipped; every other entry is a server, in the caller's order — one that can never connect
/// carries its [`ServerAddr::defect`] (a bad entry costs that entry, never the list).
pub fn parse_server_list(list: &str) -> Vec<ServerAddr> {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(parse_entry)
        .collect()
}

/// Orders a list as OMcache 0.3 did (by host, then by the port as text): its ring, and so
/// its key -> server mapping, depends on that order. Entries with a defect sort by their
/// text as given, as OMcache 0.3 sorted them.
pub fn sort_like_omcache(list: &mut [ServerAddr]) {
    list.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Parses one (trimmed, non-empty) entry; never fails: an entry that can never connect comes
/// back with its defect, named on the ring as libmemcached 1.1.4 names it.
pub fn parse_entry(entry: &str) -> ServerAddr {
    parse_server(entry).unwrap_or_else(|defect| {
        let (host, port) = libmemcached_name(entry);
        ServerAddr {
            host: host.to_string(),
            port,
            defect: Some(defect),
        }
    })
}

/// Parses one entry, strictly: an entry that can never connect is an error.
pub fn parse_server(entry: &str) -> Result<ServerAddr, AddressError> {
    if entry.starts_with('/') {
        return Ok(ServerAddr::new(entry, 0));
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| AddressError::UnclosedBracket(entry.into()))?;
        let inner = &rest[..close];
        if inner.parse::<Ipv6Addr>().is_err() {
            return Err(AddressError::BadHost(entry.into()));
        }
        let after = &rest[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => parse_port(p, entry)?,
            None if after.is_empty() => DEFAULT_PORT,
            None => return Err(AddressError::BadHost(entry.into())),
        };
        (format!("[{inner}]"), port)
    } else if entry.parse::<Ipv6Addr>().is_ok() {
        // A bare IPv6 address; named with brackets so that ring points match libmemcached's.
        (format!("[{entry}]"), DEFAULT_PORT)
    } else if let Some((host, port)) = entry.split_once(':') {
        if host.is_empty() {
            return Err(AddressError::EmptyHost(entry.into()));
        }
        (host.to_string(), parse_port(port, entry)?)
    } else {
        (entry.to_string(), DEFAULT_PORT)
    };
    if host.is_empty() {
        return Err(AddressError::EmptyHost(entry.into()));
    }
    if !host.starts_with('[') && !valid_hostname(&host) {
        return Err(AddressError::BadHost(entry.into()));
    }
    Ok(ServerAddr::new(host, port))
}

/// OMcache 0.3's split of an entry into host and port text (omcache-behavior.md §4.1): the
/// text between `[` and `]` (port after `]:`, else "11211"); else at the first `:`; else the
/// whole entry with port "11211".
pub fn omcache_split(entry: &str) -> (&str, &str) {
    const DEFAULT: &str = "11211";
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some(close) = rest.find(']') {
            let port = rest[close + 1..].strip_prefix(':').unwrap_or(DEFAULT);
            return (&rest[..close], port);
        }
    }
    entry.split_once(':').unwrap_or((entry, DEFAULT))
}

/// How libmemcached 1.1.4 names an entry on its ring (`memcached_servers_parse`, then
/// `memcached_server_push`): after a leading `[` and its `]`, the host runs to the next `:`
/// (brackets kept); otherwise to the first `:`; an empty host becomes "localhost". The port
/// is `strtoul` of the rest cut to 16 bits; 0 (no port, or no digits) means 11211.
pub fn libmemcached_name(entry: &str) -> (&str, u16) {
    let split = match entry.find(']') {
        Some(close) if entry.starts_with('[') => entry[close..].find(':').map(|c| close + c),
        _ => entry.find(':'),
    };
    let (host, port) = match split {
        Some(at) => (&entry[..at], strtoul(&entry[at + 1..]) as u16),
        None => (entry, 0),
    };
    let host = if host.is_empty() { "localhost" } else { host };
    (host, if port == 0 { DEFAULT_PORT } else { port })
}

/// C's `strtoul(text, NULL, 10)`: leading whitespace, an optional sign, digits; overflow
/// gives `ULONG_MAX`; a minus negates (modulo 2^64).
fn strtoul(text: &str) -> u64 {
    let text = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value: u64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
        {
            Some(v) => value = v,
            None => return u64::MAX,
        }
    }
    if negative {
        value.wrapping_neg()
    } else {
        value
    }
}

/// C's `atoi`: leading whitespace, an optional sign, digits (wrapping like glibc's `strtol`
/// cast to int; only the reported port of a bad entry uses it).
fn atoi(text: &str) -> i32 {
    let text = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    (if negative { -value } else { value }) as i32
}

fn valid_hostname(host: &str) -> bool {
    host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

fn parse_port(text: &str, entry: &str) -> Result<u16, AddressError> {
    if text.is_empty() {
        return Err(AddressError::BadPort(entry.into()));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| AddressError::PortOutOfRange(entry.into()));
    }
    service_port(text).ok_or_else(|| AddressError::BadPort(entry.into()))
}

/// A TCP service name's port through the system's resolver (`getservbyname_r(name, "tcp")`,
/// so NSS decides: /etc/services or whatever `services:` in /etc/nsswitch.conf names).
fn service_port(name: &str) -> Option<u16> {
    crate::sys::tcp_service_port(name).filter(|&p| p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> ServerAddr {
        parse_server(s).unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(one("localhost"), ServerAddr::new("localhost", 11211));
        assert_eq!(one("10.0.0.1:11300"), ServerAddr::new("10.0.0.1", 11300));
        assert_eq!(one("[::1]:11212"), ServerAddr::new("[::1]", 11212));
        assert_eq!(one("[::1]"), ServerAddr::new("[::1]", 11211));
        assert_eq!(one("::1"), ServerAddr::new("[::1]", 11211));
        assert_eq!(one("/tmp/mc.sock"), ServerAddr::new("/tmp/mc.sock", 0));
        assert_eq!(one("[::1]:11212").hostname(), "::1");
        assert_eq!(one("[::1]:11212").to_string(), "[::1]:11212");
    }

    /// Whether /etc/services lists `name` for TCP (what the resolver is expected to find).
    fn etc_services_has(name: &str, port: u16) -> bool {
        let Ok(text) = std::fs::read_to_string("/etc/services") else {
            return false;
        };
        text.lines().any(|line| {
            let mut fields = line.split('#').next().unwrap_or("").split_whitespace();
            let (Some(service), Some(port_proto)) = (fields.next(), fields.next()) else {
                return false;
            };
            port_proto == format!("{port}/tcp") && (service == name || fields.any(|a| a == name))
        })
    }

    #[test]
    fn service_names() {
        for (name, port) in [("memcache", 11211), ("http", 80), ("www", 80)] {
            if etc_services_has(name, port) {
                assert_eq!(one(&format!("host:{name}")).port, port, "{name}");
                assert_eq!(crate::sys::tcp_service_port(name), Some(port), "{name}");
            } else {
                eprintln!("skipped: /etc/services has no {name} {port}/tcp");
            }
        }
    }

    #[test]
    fn unknown_service_names_are_errors() {
        for bad in ["no-such-service-x7q", "memcache\0", "h:ttp", ""] {
            assert_eq!(crate::sys::tcp_service_port(bad), None, "{bad:?}");
            let entry = format!("host:{bad}");
            assert_eq!(
                parse_server(&entry),
                Err(AddressError::BadPort(entry.clone())),
                "{entry}"
            );
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "host:",
            "host:99999",
            "host:0",
            ":11211",
            "[2001:db8::1",
            "[zz]:1",
            "[::1]x",
            "a b",
            "h:nosuchservice",
        ] {
            assert!(parse_server(bad).is_err(), "{bad}");
            assert_eq!(parse_entry(bad).defect, parse_server(bad).err(), "{bad}");
        }
        assert_eq!(
            parse_server("host:99999"),
            Err(AddressError::PortOutOfRange("host:99999".into()))
        );
        assert_eq!(
            parse_server(":asdf"),
            Err(AddressError::EmptyHost(":asdf".into()))
        );
    }

    /// A bad entry costs that entry: it stays in its place, with its defect, named on the
    /// ring as libmemcached 1.1.4 names it, reported as OMcache 0.3 reported it.
    #[test]
    fn bad_entries_keep_their_place() {
        let list = parse_server_list("127.0.0.1:1, 127.0.0.1:22, 127.0.0.foobar:asdf,,,");
        assert_eq!(list.len(), 3);
        assert!(list[0].defect.is_none() && list[1].defect.is_none());
        let bad = &list[2];
        assert_eq!(
            bad.defect,
            Some(AddressError::BadPort("127.0.0.foobar:asdf".into()))
        );
        assert_eq!((bad.host.as_str(), bad.port), ("127.0.0.foobar", 11211));
        assert_eq!((bad.given_host(), bad.given_port()), ("127.0.0.foobar", 0));
        assert_eq!(bad.to_string(), "127.0.0.foobar:asdf");
        assert!(!bad.is_unix());
        // (entry, libmemcached's ring name, OMcache's reported host and port), the ring
        // names as Debian's libmemcached 1.1.4 memcached_servers_parse stores them.
        for (entry, ring, given) in [
            ("h:99999", ("h", 34463), ("h", 99999)),
            ("h:0", ("h", 11211), ("h", 0)),
            ("h:65536", ("h", 11211), ("h", 65536)),
            ("h:-1", ("h", 65535), ("h", -1)),
            ("h:12abc", ("h", 12), ("h", 12)),
            ("h:", ("h", 11211), ("h", 0)),
            (":11211", ("localhost", 11211), ("", 11211)),
            ("[::1]x", ("[::1]x", 11211), ("::1", 11211)),
            ("[::1]x:5", ("[::1]x", 5), ("::1", 11211)),
            ("[2001:db8::1", ("[2001", 11211), ("[2001", 0)),
            ("[zz]:1", ("[zz]", 1), ("zz", 1)),
            ("a b", ("a b", 11211), ("a b", 11211)),
            ("h:99999999999999999999", ("h", 65535), ("h", -1)),
        ] {
            let a = parse_entry(entry);
            assert!(a.defect.is_some(), "{entry}");
            assert_eq!((a.host.as_str(), a.port), ring, "{entry}");
            assert_eq!((a.given_host(), a.given_port()), given, "{entry}");
            assert_eq!(a.to_string(), entry);
        }
        // Good entries report what they are.
        let good = parse_entry("[::1]:11212");
        assert_eq!((good.given_host(), good.given_port()), ("::1", 11212));
    }

    #[test]
    fn list_is_trimmed_in_order_and_sorts_like_omcache() {
        let mut list = parse_server_list(" b:2 ,, a:11300 ,a:9999,  ");
        let names = |l: &[ServerAddr]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&list), ["b:2", "a:11300", "a:9999"]);
        // ports compare as text, like OMcache 0.3
        sort_like_omcache(&mut list);
        assert_eq!(names(&list), ["a:11300", "a:9999", "b:2"]);
        assert!(parse_server_list("").is_empty());
        assert!(parse_server_list(" , ,, ").is_empty());
        // Bad entries sort by their text as given, as OMcache 0.3 sorted them.
        let mut list = parse_server_list("b:2,a:asdf,a:99999,a:11300");
        sort_like_omcache(&mut list);
        assert_eq!(names(&list), ["a:11300", "a:99999", "a:asdf", "b:2"]);
    }
}
