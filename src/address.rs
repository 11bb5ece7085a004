//! Server strings: `host`, `host:port`, `[v6]`, `[v6]:port`, bare IPv6 addresses and
//! `/unix/socket/path`, in comma-separated lists. Pure parsing; nothing is resolved here
//! except a port given as a service name (`getservbyname_r` through the system's resolver, see
//! `sys::tcp_service_port`): its number is what the ring and `omcache_server_info` see.

use std::fmt;
use std::net::Ipv6Addr;

pub const DEFAULT_PORT: u16 = 11211;

/// One configured server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddr {
    /// The host as the ring names it: IPv6 addresses keep their brackets (libmemcached 1.1.4
    /// hashes `"[::1]:11212-3"`); a unix socket's host is its path.
    pub host: String,
    /// TCP port; 0 for a unix socket.
    pub port: u16,
}

impl ServerAddr {
    pub fn is_unix(&self) -> bool {
        self.host.starts_with('/')
    }

    /// The host without IPv6 brackets: what is resolved and what `omcache_server_info` reports.
    pub fn hostname(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }

    /// OMcache 0.3 ordered its server list by host, then by the port as text.
    fn sort_key(&self) -> (&str, String) {
        (self.hostname(), self.port.to_string())
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unix() {
            f.write_str(&self.host)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What is wrong with a server string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressError {
    EmptyHost(String),
    BadPort(String),
    UnclosedBracket(String),
    BadHost(String),
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::EmptyHost(s) => write!(f, "server entry {s:?} has no host"),
            AddressError::BadPort(s) => write!(f, "server entry {s:?} has an invalid port"),
            AddressError::UnclosedBracket(s) => write!(f, "server entry {s:?} has an unclosed '['"),
            AddressError::BadHost(s) => write!(f, "server entry {s:?} has an invalid host name"),
        }
    }
}

impl std::error::Error for AddressError {}

/// Parses a comma-separated list. Whitespace around entries is ignored and empty entries are
/// skipped; any malformed entry rejects the whole list (so a typo never silently drops a
/// server and re-shards its keys). The entries keep the caller's order.
pub fn parse_server_list(list: &str) -> Result<Vec<ServerAddr>, AddressError> {
    let mut servers = Vec::new();
    for entry in list.split(',') {
        let entry = entry.trim();
        if !entry.is_empty() {
            servers.push(parse_server(entry)?);
        }
    }
    Ok(servers)
}

/// Orders a list as OMcache 0.3 did (by host, then by the port as text): its ring, and so
/// its key -> server mapping, depends on that order.
pub fn sort_like_omcache(list: &mut [ServerAddr]) {
    list.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Parses one entry.
pub fn parse_server(entry: &str) -> Result<ServerAddr, AddressError> {
    if entry.starts_with('/') {
        return Ok(ServerAddr {
            host: entry.to_string(),
            port: 0,
        });
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
            Some(p) => parse_port(p).ok_or_else(|| AddressError::BadPort(entry.into()))?,
            None if after.is_empty() => DEFAULT_PORT,
            None => return Err(AddressError::BadHost(entry.into())),
        };
        (format!("[{inner}]"), port)
    } else if entry.parse::<Ipv6Addr>().is_ok() {
        // A bare IPv6 address; named with brackets so that ring points match libmemcached's.
        (format!("[{entry}]"), DEFAULT_PORT)
    } else if let Some((host, port)) = entry.split_once(':') {
        let port = parse_port(port).ok_or_else(|| AddressError::BadPort(entry.into()))?;
        (host.to_string(), port)
    } else {
        (entry.to_string(), DEFAULT_PORT)
    };
    if host.is_empty() {
        return Err(AddressError::EmptyHost(entry.into()));
    }
    if !host.starts_with('[') && !valid_hostname(&host) {
        return Err(AddressError::BadHost(entry.into()));
    }
    Ok(ServerAddr { host, port })
}

fn valid_hostname(host: &str) -> bool {
    host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u16>().ok().filter(|&p| p != 0);
    }
    service_port(text)
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
        assert_eq!(
            one("localhost"),
            ServerAddr {
                host: "localhost".into(),
                port: 11211
            }
        );
        assert_eq!(
            one("10.0.0.1:11300"),
            ServerAddr {
                host: "10.0.0.1".into(),
                port: 11300
            }
        );
        assert_eq!(
            one("[::1]:11212"),
            ServerAddr {
                host: "[::1]".into(),
                port: 11212
            }
        );
        assert_eq!(
            one("[::1]"),
            ServerAddr {
                host: "[::1]".into(),
                port: 11211
            }
        );
        assert_eq!(
            one("::1"),
            ServerAddr {
                host: "[::1]".into(),
                port: 11211
            }
        );
        assert_eq!(
            one("/tmp/mc.sock"),
            ServerAddr {
                host: "/tmp/mc.sock".into(),
                port: 0
            }
        );
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
        }
        assert!(parse_server_list("a,b:x,c").is_err());
    }

    #[test]
    fn list_is_trimmed_in_order_and_sorts_like_omcache() {
        let mut list = parse_server_list(" b:2 ,, a:11300 ,a:9999,  ").unwrap();
        let names = |l: &[ServerAddr]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&list), ["b:2", "a:11300", "a:9999"]);
        // ports compare as text, like OMcache 0.3
        sort_like_omcache(&mut list);
        assert_eq!(names(&list), ["a:11300", "a:9999", "b:2"]);
        assert!(parse_server_list("").unwrap().is_empty());
    }
}
