//! Listing every key of every server (libmemcached's `memcached_dump`, the `getAllKeys` of
//! other clients): a debugging aid, not a consistent snapshot.
//!
//! Each server is asked over a short-lived socket of its own, in the text protocol whatever
//! the client speaks (memcached tells the protocols apart per connection), so the engine's
//! connections and their request streams are never disturbed. The preferred way is
//! `lru_crawler metadump all` (memcached >= 1.4.31): every key of every LRU segment, with
//! its expiry, last access and CAS, without locking the cache. A server without it (`ERROR`
//! from an older server or a proxy, `CLIENT_ERROR lru crawler disabled`, `ERROR metadump not
//! allowed` from `memcached -X`, or a crawler still busy after a few retries) is walked the
//! old way instead: `stats items` for its slab classes, then `stats cachedump <class> 0` for
//! each. Since memcached 1.5 that lists only the COLD part of each LRU (and at most 2 MB of
//! lines per class), so keys written or read recently are missing: the report says which way
//! each server was listed.
//!
//! Servers are listed one after the other, in the list's order. A server that cannot be
//! reached, stops answering or refuses both ways is recorded in the [`DumpReport`] and the
//! dump goes on with the next server: a failure never ends the dump silently.
//!
//! Blocking std sockets with timeouts: this module and `connection`/`sys` are the only
//! places in the engine that do I/O.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::ops::ControlFlow;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::address::{AddressError, ServerAddr};
use crate::protocol::text::{self, Parsed, Reply};

use super::{Client, Failure};

/// How a server's keys are asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DumpMethod {
    /// `lru_crawler metadump all` where the server has it, the `stats cachedump` walk
    /// otherwise.
    #[default]
    Auto,
    /// `lru_crawler metadump all` only: every key, with expiry, last access and CAS.
    MetaDump,
    /// The `stats cachedump <class> 0` walk only (what libmemcached does): since memcached
    /// 1.5 only the COLD part of each LRU, at most 2 MB of lines per slab class; expiry only.
    CacheDump,
}

/// How a dump is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpOptions {
    /// Which way to ask.
    pub method: DumpMethod,
    /// The longest one server's listing may take, from the end of its connect (which has the
    /// client's `connect_timeout`) to its last key. A server that has not finished by then is
    /// reported with [`Failure::Timeout`] (the keys it listed so far were delivered).
    pub timeout: Duration,
}

impl Default for DumpOptions {
    /// [`DumpMethod::Auto`], 60 seconds per server.
    fn default() -> DumpOptions {
        DumpOptions {
            method: DumpMethod::Auto,
            timeout: Duration::from_secs(60),
        }
    }
}

/// One key as a server listed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpedKey<'a> {
    /// The key, decoded (metadump sends keys %-encoded).
    pub key: &'a [u8],
    /// When it expires, as a Unix time on the server's clock; -1: never. None when the server
    /// did not say.
    pub expiry: Option<i64>,
    /// Its CAS value (metadump only).
    pub cas: Option<u64>,
    /// When it was last accessed, a Unix time on the server's clock (metadump only).
    pub last_access: Option<u64>,
}

/// An owned [`DumpedKey`] with the index of its server, from [`Client::dump_keys`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnedDumpedKey {
    pub server: usize,
    pub key: Vec<u8>,
    pub expiry: Option<i64>,
    pub cas: Option<u64>,
    pub last_access: Option<u64>,
}

/// Why a server's keys are missing (or only partly listed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DumpError {
    /// The server list entry can never connect (see [`ServerAddr::defect`]).
    BadAddress(AddressError),
    /// The server could not be reached, closed the connection, sent what is not an answer,
    /// or did not finish within the dump timeout: [`Failure::ConnectRefused`],
    /// [`Failure::ConnectTimeout`], [`Failure::NameNotResolved`],
    /// [`Failure::ConnectionReset`], [`Failure::ProtocolError`] or [`Failure::Timeout`].
    Failed(Failure),
    /// The server refuses to list its keys every way that was tried (`memcached -X`): its
    /// last answer, e.g. `CLIENT_ERROR stats cachedump not allowed`.
    Refused(String),
}

impl DumpError {
    /// The neutral failure behind it: for an entry that can never connect
    /// [`Failure::NameNotResolved`] or [`Failure::ConnectRefused`]; for a refusal
    /// [`Failure::ProtocolError`] (the server answered, but not with keys).
    pub fn failure(&self) -> Failure {
        match self {
            DumpError::BadAddress(AddressError::EmptyHost(_))
            | DumpError::BadAddress(AddressError::UnclosedBracket(_))
            | DumpError::BadAddress(AddressError::BadHost(_)) => Failure::NameNotResolved,
            DumpError::BadAddress(_) => Failure::ConnectRefused,
            DumpError::Failed(f) => *f,
            DumpError::Refused(_) => Failure::ProtocolError,
        }
    }
}

impl std::fmt::Display for DumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DumpError::BadAddress(e) => write!(f, "bad server entry: {}", e.reason()),
            DumpError::Failed(failure) => f.write_str(failure.message()),
            DumpError::Refused(m) => write!(f, "server refuses to list its keys: {m}"),
        }
    }
}

impl std::error::Error for DumpError {}

/// What happened on one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerDump {
    /// Its index in the client's server list.
    pub server: usize,
    /// The way its keys were listed: [`DumpMethod::MetaDump`] or [`DumpMethod::CacheDump`];
    /// None when neither got an answer.
    pub method: Option<DumpMethod>,
    /// Keys handed to the callback.
    pub keys: u64,
    /// Why metadump was not used, in the server's words (`ERROR`, `CLIENT_ERROR lru crawler
    /// disabled`, `ERROR metadump not allowed`, `BUSY ...`); None when it was used or not
    /// tried.
    pub metadump_unavailable: Option<String>,
    /// Times metadump was asked again because the server's LRU crawler was busy (with an
    /// `lru_crawler crawl` or another client's metadump).
    pub busy_retries: u32,
    /// Why the listing is missing or was cut short; None when it ran to its end.
    pub error: Option<DumpError>,
}

impl ServerDump {
    fn new(server: usize) -> ServerDump {
        ServerDump {
            server,
            method: None,
            keys: 0,
            metadump_unavailable: None,
            busy_retries: 0,
            error: None,
        }
    }

    /// Listed to its end by metadump: every key the server held while it was crawled.
    /// (A cachedump walk is never complete on memcached >= 1.5.)
    pub fn is_complete(&self) -> bool {
        self.error.is_none() && self.method == Some(DumpMethod::MetaDump)
    }
}

/// The outcome of a dump, server by server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DumpReport {
    /// One entry per server visited, in the list's order. When the callback stopped the dump,
    /// the servers after the one it stopped on are absent.
    pub servers: Vec<ServerDump>,
    /// The callback returned `ControlFlow::Break`.
    pub stopped: bool,
}

impl DumpReport {
    /// The servers whose listing is missing or was cut short, and why.
    pub fn failures(&self) -> impl Iterator<Item = (usize, &DumpError)> + '_ {
        self.servers
            .iter()
            .filter_map(|s| s.error.as_ref().map(|e| (s.server, e)))
    }

    /// No server failed (some may still have been listed by the partial cachedump walk).
    pub fn is_ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Keys handed to the callback, over every server.
    pub fn keys(&self) -> u64 {
        self.servers.iter().map(|s| s.keys).sum()
    }
}

/// The keys of every server, collected, and the report: see [`Client::dump_keys`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DumpedKeys {
    pub keys: Vec<OwnedDumpedKey>,
    pub report: DumpReport,
}

impl DumpedKeys {
    pub fn iter(&self) -> std::slice::Iter<'_, OwnedDumpedKey> {
        self.keys.iter()
    }
}

impl IntoIterator for DumpedKeys {
    type Item = OwnedDumpedKey;
    type IntoIter = std::vec::IntoIter<OwnedDumpedKey>;
    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter()
    }
}

impl<'a> IntoIterator for &'a DumpedKeys {
    type Item = &'a OwnedDumpedKey;
    type IntoIter = std::slice::Iter<'a, OwnedDumpedKey>;
    fn into_iter(self) -> Self::IntoIter {
        self.keys.iter()
    }
}

impl Client {
    /// Lists every key of every server, calling `f(server_index, key)` for each, server after
    /// server in the list's order; `f` returns `ControlFlow::Break(())` to stop.
    ///
    /// A debugging aid: the listing is not a consistent snapshot. Keys written, read, evicted
    /// or expiring while a server is crawled may be missing or, rarely, listed twice; and a
    /// server without `lru_crawler metadump` lists only part of its keys (see the module
    /// documentation and [`ServerDump::method`]).
    ///
    /// Each server gets a socket of its own (the client's `connect_timeout`, then
    /// `opts.timeout` for its listing), closed before the next server; the client's own
    /// connections are not used. A server that fails is recorded in the report and the dump
    /// goes on: check [`DumpReport::failures`].
    ///
    /// Keep `f` quick: the server's crawler writes only as fast as keys are taken, and while
    /// it waits every other `lru_crawler` command to that server waits too (memcached 1.6.18
    /// holds the worker thread that received it, and with it that thread's other clients).
    /// For the same reason a dump started while another client's metadump is stalled gets no
    /// answer and ends in [`Failure::Timeout`] for that server; a crawler merely busy (an
    /// `lru_crawler crawl`) answers `BUSY` and is asked again a few times
    /// ([`ServerDump::busy_retries`]) before the server is walked with `stats cachedump`.
    pub fn dump<F>(&self, opts: &DumpOptions, mut f: F) -> DumpReport
    where
        F: FnMut(usize, DumpedKey<'_>) -> ControlFlow<()>,
    {
        let mut report = DumpReport::default();
        let connect_timeout = self.settings.connect_timeout;
        for server in 0..self.server_count() {
            let Some(addr) = self.server_addr(server) else {
                break;
            };
            let mut out = ServerDump::new(server);
            if self.settings.tls.is_some() && !addr.is_unix() {
                // The dump's own sockets speak no TLS: never list a TLS server in the clear.
                let failure = Failure::Tls(super::TlsFailure::Unsupported);
                out.error = Some(DumpError::Failed(failure));
                report.servers.push(out);
                continue;
            }
            let flow = dump_server(addr, connect_timeout, opts, &mut out, &mut |k| f(server, k));
            report.servers.push(out);
            if flow.is_break() {
                report.stopped = true;
                break;
            }
        }
        report
    }

    /// [`dump`](Self::dump), collecting every key (with its server index) into a vector:
    /// iterate over the result, and check its `report` for servers that failed.
    pub fn dump_keys(&self, opts: &DumpOptions) -> DumpedKeys {
        let mut keys = Vec::new();
        let report = self.dump(opts, |server, k| {
            keys.push(OwnedDumpedKey {
                server,
                key: k.key.to_vec(),
                expiry: k.expiry,
                cas: k.cas,
                last_access: k.last_access,
            });
            ControlFlow::Continue(())
        });
        DumpedKeys { keys, report }
    }
}

/// How many times a `BUSY` crawler is asked again (within the timeout), and the first wait.
const BUSY_RETRIES: u32 = 8;
const BUSY_SLEEP: Duration = Duration::from_millis(25);

/// Highest slab class walked when `stats items` does not say (ids >= 64 are illegal).
const MAX_SLAB_CLASS: u32 = 63;

type KeyFn<'f> = dyn FnMut(DumpedKey<'_>) -> ControlFlow<()> + 'f;

/// Lists one server into `f`, recording what happened in `out`. Break: the callback stopped.
fn dump_server(
    addr: &ServerAddr,
    connect_timeout: Duration,
    opts: &DumpOptions,
    out: &mut ServerDump,
    f: &mut KeyFn<'_>,
) -> ControlFlow<()> {
    if let Some(defect) = &addr.defect {
        out.error = Some(DumpError::BadAddress(defect.clone()));
        return ControlFlow::Continue(());
    }
    let mut conn = match Conn::open(addr, connect_timeout) {
        Ok(c) => c,
        Err(failure) => {
            out.error = Some(DumpError::Failed(failure));
            return ControlFlow::Continue(());
        }
    };
    conn.deadline = Instant::now() + opts.timeout;

    let result = match opts.method {
        DumpMethod::CacheDump => cachedump_walk(&mut conn, out, f),
        DumpMethod::MetaDump | DumpMethod::Auto => match metadump(&mut conn, out, f) {
            Ok(Step::Unavailable(why)) => {
                out.metadump_unavailable = Some(why.clone());
                if opts.method == DumpMethod::Auto {
                    cachedump_walk(&mut conn, out, f)
                } else {
                    Err(DumpError::Refused(why))
                }
            }
            other => other,
        },
    };
    match result {
        Ok(Step::Stopped) => return ControlFlow::Break(()),
        Ok(Step::Done) => {}
        Ok(Step::Unavailable(why)) => out.error = Some(DumpError::Refused(why)),
        Err(e) => out.error = Some(e),
    }
    ControlFlow::Continue(())
}

/// How one way of listing ended (errors are `Err(DumpError)`).
enum Step {
    /// Listed to its `END`.
    Done,
    /// The callback stopped the dump.
    Stopped,
    /// The server does not offer this way: its answer.
    Unavailable(String),
}

/// A reply line as the server sent it, for reports.
fn reply_text(reply: &Reply<'_>) -> String {
    let (word, msg): (&str, &[u8]) = match *reply {
        Reply::Error => ("ERROR", b""),
        Reply::ErrorMessage(m) => ("ERROR", m),
        Reply::ClientError(m) => ("CLIENT_ERROR", m),
        Reply::ServerError(m) => ("SERVER_ERROR", m),
        Reply::Busy(m) => ("BUSY", m),
        Reply::BadClass(m) => ("BADCLASS", m),
        Reply::NotStarted(m) => ("NOTSTARTED", m),
        _ => ("unexpected answer", b""),
    };
    if msg.is_empty() {
        word.to_string()
    } else {
        format!("{word} {}", String::from_utf8_lossy(msg))
    }
}

/// `lru_crawler metadump hash` (memcached >= 1.6: the hash table walked, so no key is missed
/// while the LRU maintainer moves items between segments, which a crawl of the LRUs can
/// miss: 1 of 10,000 fresh keys, seen under load), else `lru_crawler metadump all`.
fn metadump(conn: &mut Conn, out: &mut ServerDump, f: &mut KeyFn<'_>) -> Result<Step, DumpError> {
    match metadump_with(conn, out, f, text::encode_metadump_hash)? {
        Step::Unavailable(_) if out.method.is_none() => {
            metadump_with(conn, out, f, text::encode_metadump_all)
        }
        other => Ok(other),
    }
}

/// One kind of metadump, retried while the crawler is busy.
fn metadump_with(
    conn: &mut Conn,
    out: &mut ServerDump,
    f: &mut KeyFn<'_>,
    encode: fn(&mut Vec<u8>),
) -> Result<Step, DumpError> {
    let mut cmd = Vec::new();
    encode(&mut cmd);
    let mut key = Vec::new();
    let mut sleep = BUSY_SLEEP;
    'ask: loop {
        conn.send(&cmd)?;
        loop {
            let (reply, len) = conn.next_reply()?;
            match reply {
                Reply::MetaDumpLine(line) => {
                    out.method = Some(DumpMethod::MetaDump);
                    let item = text::parse_metadump_line(line)
                        .map_err(|_| DumpError::Failed(Failure::ProtocolError))?;
                    key.clear();
                    text::decode_metadump_key(item.key, &mut key)
                        .map_err(|_| DumpError::Failed(Failure::ProtocolError))?;
                    out.keys += 1;
                    let flow = f(DumpedKey {
                        key: &key,
                        expiry: item.exp,
                        cas: item.cas,
                        last_access: item.la,
                    });
                    conn.consume(len);
                    if flow.is_break() {
                        return Ok(Step::Stopped);
                    }
                }
                Reply::End => {
                    conn.consume(len);
                    out.method = Some(DumpMethod::MetaDump);
                    return Ok(Step::Done);
                }
                Reply::Busy(_) if out.method.is_none() => {
                    let why = reply_text(&reply);
                    conn.consume(len);
                    if out.busy_retries >= BUSY_RETRIES || Instant::now() + sleep >= conn.deadline {
                        return Ok(Step::Unavailable(why));
                    }
                    out.busy_retries += 1;
                    std::thread::sleep(sleep);
                    sleep = (sleep * 2).min(Duration::from_millis(500));
                    continue 'ask;
                }
                Reply::Error
                | Reply::ErrorMessage(_)
                | Reply::ClientError(_)
                | Reply::ServerError(_)
                | Reply::Busy(_)
                | Reply::BadClass(_)
                | Reply::NotStarted(_) => {
                    let why = reply_text(&reply);
                    conn.consume(len);
                    if out.method.is_some() {
                        // Cut short after some keys: falling back would list them again.
                        return Err(DumpError::Refused(why));
                    }
                    return Ok(Step::Unavailable(why));
                }
                _ => return Err(DumpError::Failed(Failure::ProtocolError)),
            }
        }
    }
}

/// The slab classes holding items, from `stats items` (`STAT items:<class>:number <n>`);
/// None when the server does not answer it with stats.
fn slab_classes(conn: &mut Conn) -> Result<Option<Vec<u32>>, DumpError> {
    let mut cmd = Vec::new();
    let r = text::encode_stats(&mut cmd, Some(b"items"));
    debug_assert!(r.is_ok());
    conn.send(&cmd)?;
    let mut classes = Vec::new();
    loop {
        let (reply, len) = conn.next_reply()?;
        match reply {
            Reply::Stat { name, value } => {
                let class = name
                    .strip_prefix(b"items:")
                    .and_then(|rest| rest.strip_suffix(b":number"))
                    .and_then(|id| std::str::from_utf8(id).ok()?.parse::<u32>().ok());
                let count = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if let (Some(class), Some(n)) = (class, count) {
                    if n > 0 && class <= MAX_SLAB_CLASS && !classes.contains(&class) {
                        classes.push(class);
                    }
                }
                conn.consume(len);
            }
            Reply::End => {
                conn.consume(len);
                classes.sort_unstable();
                return Ok(Some(classes));
            }
            Reply::Error
            | Reply::ErrorMessage(_)
            | Reply::ClientError(_)
            | Reply::ServerError(_) => {
                conn.consume(len);
                return Ok(None);
            }
            _ => return Err(DumpError::Failed(Failure::ProtocolError)),
        }
    }
}

/// libmemcached's walk: `stats cachedump <class> 0` for each slab class.
fn cachedump_walk(
    conn: &mut Conn,
    out: &mut ServerDump,
    f: &mut KeyFn<'_>,
) -> Result<Step, DumpError> {
    let classes = slab_classes(conn)?.unwrap_or_else(|| (0..=MAX_SLAB_CLASS).collect());
    let mut cmd = Vec::new();
    for class in classes {
        cmd.clear();
        text::encode_cachedump(&mut cmd, class, 0);
        conn.send(&cmd)?;
        loop {
            let (reply, len) = conn.next_reply()?;
            match reply {
                Reply::Item { key, rest } => {
                    out.method = Some(DumpMethod::CacheDump);
                    out.keys += 1;
                    let flow = f(DumpedKey {
                        key,
                        expiry: cachedump_expiry(rest),
                        cas: None,
                        last_access: None,
                    });
                    conn.consume(len);
                    if flow.is_break() {
                        return Ok(Step::Stopped);
                    }
                }
                Reply::End => {
                    conn.consume(len);
                    out.method = Some(DumpMethod::CacheDump);
                    break;
                }
                Reply::Error
                | Reply::ErrorMessage(_)
                | Reply::ClientError(_)
                | Reply::ServerError(_) => {
                    let why = reply_text(&reply);
                    conn.consume(len);
                    return Ok(Step::Unavailable(why));
                }
                _ => return Err(DumpError::Failed(Failure::ProtocolError)),
            }
        }
    }
    out.method.get_or_insert(DumpMethod::CacheDump);
    Ok(Step::Done)
}

/// The expiry in a cachedump item's `[<size> b; <exptime> s]`: a Unix time, 0 for never
/// (reported as -1, like metadump).
fn cachedump_expiry(rest: &[u8]) -> Option<i64> {
    let rest = std::str::from_utf8(rest).ok()?;
    let inner = rest.trim().strip_prefix('[')?.strip_suffix(']')?;
    let (_, exp) = inner.split_once(';')?;
    let exp: i64 = exp.trim().strip_suffix('s')?.trim().parse().ok()?;
    Some(if exp == 0 { -1 } else { exp })
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A blocking text-protocol socket to one server, with a deadline for the whole listing.
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed (parsed and handed out).
    start: usize,
    deadline: Instant,
}

const READ_CHUNK: usize = 64 * 1024;

impl Conn {
    fn open(addr: &ServerAddr, connect_timeout: Duration) -> Result<Conn, Failure> {
        let deadline = Instant::now() + connect_timeout;
        let stream = if addr.is_unix() {
            Stream::Unix(UnixStream::connect(&addr.host).map_err(|e| connect_failure(&e))?)
        } else {
            let addrs: Vec<_> = (addr.hostname(), addr.port)
                .to_socket_addrs()
                .map_err(|_| Failure::NameNotResolved)?
                .collect();
            if addrs.is_empty() {
                return Err(Failure::NameNotResolved);
            }
            let mut last = Failure::ConnectRefused;
            let mut connected = None;
            for a in addrs {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    last = Failure::ConnectTimeout;
                    break;
                }
                match TcpStream::connect_timeout(&a, left) {
                    Ok(s) => {
                        connected = Some(s);
                        break;
                    }
                    Err(e) => last = connect_failure(&e),
                }
            }
            let s = connected.ok_or(last)?;
            let _ = s.set_nodelay(true);
            Stream::Tcp(s)
        };
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            deadline,
        })
    }

    fn left(&self) -> Result<Duration, DumpError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(DumpError::Failed(Failure::Timeout))
        } else {
            Ok(left)
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), DumpError> {
        let left = self.left()?;
        let r = match &mut self.stream {
            Stream::Tcp(s) => s
                .set_write_timeout(Some(left))
                .and_then(|()| s.write_all(bytes)),
            Stream::Unix(s) => s
                .set_write_timeout(Some(left))
                .and_then(|()| s.write_all(bytes)),
        };
        r.map_err(|e| DumpError::Failed(io_failure(&e)))
    }

    /// Reads more bytes; an error on a close, a failure or the deadline.
    fn fill(&mut self) -> Result<(), DumpError> {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let left = self.left()?;
        let len = self.buf.len();
        self.buf.resize(len + READ_CHUNK, 0);
        let r = match &mut self.stream {
            Stream::Tcp(s) => s
                .set_read_timeout(Some(left))
                .and_then(|()| s.read(&mut self.buf[len..])),
            Stream::Unix(s) => s
                .set_read_timeout(Some(left))
                .and_then(|()| s.read(&mut self.buf[len..])),
        };
        match r {
            Ok(0) => {
                self.buf.truncate(len);
                Err(DumpError::Failed(Failure::ConnectionReset))
            }
            Ok(n) => {
                self.buf.truncate(len + n);
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(len);
                Err(DumpError::Failed(io_failure(&e)))
            }
        }
    }

    /// The next complete reply and its length; [`consume`](Self::consume) it once used.
    fn next_reply(&mut self) -> Result<(Reply<'_>, usize), DumpError> {
        loop {
            match text::parse_reply(&self.buf[self.start..]) {
                Ok(Parsed::Reply { len, .. }) => {
                    // Parsed again to return it borrowed from `self` (the loop's borrow
                    // must end before `fill`).
                    return match text::parse_reply(&self.buf[self.start..]) {
                        Ok(Parsed::Reply { reply, .. }) => Ok((reply, len)),
                        _ => Err(DumpError::Failed(Failure::ProtocolError)),
                    };
                }
                Ok(Parsed::Need(_)) => self.fill()?,
                Err(_) => return Err(DumpError::Failed(Failure::ProtocolError)),
            }
        }
    }

    fn consume(&mut self, len: usize) {
        self.start += len;
    }
}

fn connect_failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Failure::ConnectTimeout,
        _ => Failure::ConnectRefused,
    }
}

fn io_failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Failure::Timeout,
        _ => Failure::ConnectionReset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cachedump_expiries() {
        assert_eq!(cachedump_expiry(b"[5 b; 0 s]"), Some(-1));
        assert_eq!(cachedump_expiry(b"[1 b; 1796016824 s]"), Some(1796016824));
        assert_eq!(cachedump_expiry(b"garbage"), None);
    }
}
