//! The classic text (ASCII) protocol as data: key checks, request encoding into a caller's
//! buffer and incremental reply parsing. No I/O and no allocation per reply.
//!
//! Replies come in request order and carry no opaque: the caller pairs them with what it sent.
//! [`parse_reply`] looks at the start of a receive buffer and returns either
//! [`Parsed::Need`] (how many bytes, from the start of the buffer, are needed at least) or one
//! [`Reply`] with the number of bytes it occupies, borrowing from the buffer.
//!
//! Facts from memcached 1.6.18 the encoders and parser rely on (see the project's
//! `text-and-meta.md`):
//! - `get`/`gets` lines have no length limit; every other command line must stay within
//!   [`MAX_COMMAND_LINE`] bytes or the server closes the connection, so multi-key `gat`/`gats`
//!   are split into several lines ([`key_fits`]).
//! - A key repeated in one get line is answered once per copy.
//! - A `CLIENT_ERROR` answering a storage command leaves its data block unread and the server
//!   answers that block with a second `ERROR`: the stream is out of step, reset the connection.
//! - `lru_crawler metadump` lines end in `\n` only (just the final `END` in `\r\n`) and their
//!   keys are %-encoded ([`decode_metadump_key`], [`parse_metadump_line`]).

use super::binary::MAX_SANE_BODY;

/// The longest key memcached accepts.
pub const MAX_KEY_LEN: usize = 250;

/// The longest command line (including its `\r\n`) other than `get`/`gets` that is safe to
/// send: once memcached holds more than 2,048 bytes of a line without its `\n`, it closes the
/// connection. Storage commands' data blocks are not lines and are not limited by this.
pub const MAX_COMMAND_LINE: usize = 2048;

/// The longest reply line (including its `\n`) the parser waits for. memcached's longest lines
/// (a VALUE header, a metadump line with a fully %-encoded key, a STAT) are far shorter; a
/// longer run of bytes without `\n` is not a memcached reply stream.
pub const MAX_REPLY_LINE: usize = 8192;

/// True for a key memcached's text protocol accepts: 1 to 250 bytes, none of them a space or
/// a control character (0x00-0x20, 0x7f). Bytes >= 0x80 are allowed.
pub fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.iter().all(|&b| b > b' ' && b != 0x7f)
}

/// Why a request cannot be encoded. Nothing is appended to the buffer when an encoder fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A key (or stats group) that `valid_key` rejects.
    InvalidKey,
    /// The command line would exceed [`MAX_COMMAND_LINE`].
    LineTooLong,
}

/// Decimal digits of `n`, written into `buf`; returns the used tail.
fn digits(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Number of decimal digits of `n`.
fn digit_count(n: u64) -> usize {
    let mut buf = [0u8; 20];
    digits(n, &mut buf).len()
}

fn push_num(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(digits(n, &mut buf));
}

/// A command line assembled from words, measured before anything is written.
enum Word<'a> {
    Bytes(&'a [u8]),
    Num(u64),
}

impl Word<'_> {
    fn len(&self) -> usize {
        match self {
            Word::Bytes(b) => b.len(),
            Word::Num(n) => digit_count(*n),
        }
    }
}

/// Appends `words` separated by single spaces, then " noreply" if asked, then `\r\n`; fails
/// (appending nothing) when the line would exceed `MAX_COMMAND_LINE`.
fn push_line(out: &mut Vec<u8>, words: &[Word<'_>], noreply: bool) -> Result<(), EncodeError> {
    let mut len = words.iter().map(|w| w.len() + 1).sum::<usize>() + 1; // spaces, then "\r\n"
    if noreply {
        len += b" noreply".len();
    }
    if len > MAX_COMMAND_LINE {
        return Err(EncodeError::LineTooLong);
    }
    out.reserve(len);
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        match w {
            Word::Bytes(b) => out.extend_from_slice(b),
            Word::Num(n) => push_num(out, *n),
        }
    }
    if noreply {
        out.extend_from_slice(b" noreply");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn check_key(key: &[u8]) -> Result<(), EncodeError> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(EncodeError::InvalidKey)
    }
}

/// Retrieval commands. The `u32` is the new expiration time of `gat`/`gats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetKind {
    Get,
    Gets,
    Gat(u32),
    Gats(u32),
}

impl GetKind {
    /// True for `gat`/`gats`, whose lines must fit [`MAX_COMMAND_LINE`].
    pub fn line_limited(self) -> bool {
        matches!(self, GetKind::Gat(_) | GetKind::Gats(_))
    }
}

/// Starts a retrieval line (`get`, `gets`, `gat <exptime>`, `gats <exptime>`) without keys.
/// Returns the offset in `out` where the line starts: `out.len() - start` is the line's length
/// so far, what [`key_fits`] wants. Add keys with [`push_get_key`], finish with [`end_line`].
pub fn begin_get(out: &mut Vec<u8>, kind: GetKind) -> usize {
    let start = out.len();
    match kind {
        GetKind::Get => out.extend_from_slice(b"get"),
        GetKind::Gets => out.extend_from_slice(b"gets"),
        GetKind::Gat(exp) => {
            out.extend_from_slice(b"gat ");
            push_num(out, exp.into());
        }
        GetKind::Gats(exp) => {
            out.extend_from_slice(b"gats ");
            push_num(out, exp.into());
        }
    }
    start
}

/// Appends one space and `key` to a retrieval line. Length limits are the caller's: check
/// [`key_fits`] first for `gat`/`gats`.
pub fn push_get_key(out: &mut Vec<u8>, key: &[u8]) -> Result<(), EncodeError> {
    check_key(key)?;
    out.reserve(key.len() + 1);
    out.push(b' ');
    out.extend_from_slice(key);
    Ok(())
}

/// Ends a line with `\r\n`.
pub fn end_line(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n");
}

/// True when one more key of `key_len` bytes still fits a retrieval line of `kind` that is
/// `line_len` bytes long so far (without its `\r\n`): always for `get`/`gets`, for
/// `gat`/`gats` when the line with the key and `\r\n` stays within [`MAX_COMMAND_LINE`].
/// A line with a single valid key always fits; when this says false, end the line and begin
/// another.
pub fn key_fits(kind: GetKind, line_len: usize, key_len: usize) -> bool {
    !kind.line_limited()
        || line_len
            .checked_add(key_len)
            .and_then(|n| n.checked_add(3)) // " " before the key, "\r\n" after it
            .is_some_and(|n| n <= MAX_COMMAND_LINE)
}

/// Storage commands; `Cas` carries the unique value from `gets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreCmd {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas(u64),
}

/// Appends `<cmd> <key> <flags> <exptime> <bytes> [<cas>] [noreply]\r\n<value>\r\n`. The value
/// may be empty and may contain `\r\n`.
pub fn encode_store(
    out: &mut Vec<u8>,
    cmd: StoreCmd,
    key: &[u8],
    flags: u32,
    exptime: u32,
    value: &[u8],
    noreply: bool,
) -> Result<(), EncodeError> {
    check_key(key)?;
    let name: &[u8] = match cmd {
        StoreCmd::Set => b"set",
        StoreCmd::Add => b"add",
        StoreCmd::Replace => b"replace",
        StoreCmd::Append => b"append",
        StoreCmd::Prepend => b"prepend",
        StoreCmd::Cas(_) => b"cas",
    };
    let mut words = [
        Word::Bytes(name),
        Word::Bytes(key),
        Word::Num(flags.into()),
        Word::Num(exptime.into()),
        Word::Num(value.len() as u64),
        Word::Num(0),
    ];
    let n = if let StoreCmd::Cas(unique) = cmd {
        words[5] = Word::Num(unique);
        6
    } else {
        5
    };
    // One reservation for the line (under 300 bytes with a valid key) and the data block.
    out.reserve(value.len().saturating_add(300));
    push_line(out, &words[..n], noreply)?;
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends `incr <key> <delta> [noreply]\r\n`.
pub fn encode_incr(
    out: &mut Vec<u8>,
    key: &[u8],
    delta: u64,
    noreply: bool,
) -> Result<(), EncodeError> {
    check_key(key)?;
    push_line(
        out,
        &[Word::Bytes(b"incr"), Word::Bytes(key), Word::Num(delta)],
        noreply,
    )
}

/// Appends `decr <key> <delta> [noreply]\r\n` (memcached stops at 0).
pub fn encode_decr(
    out: &mut Vec<u8>,
    key: &[u8],
    delta: u64,
    noreply: bool,
) -> Result<(), EncodeError> {
    check_key(key)?;
    push_line(
        out,
        &[Word::Bytes(b"decr"), Word::Bytes(key), Word::Num(delta)],
        noreply,
    )
}

/// Appends `delete <key> [noreply]\r\n`.
pub fn encode_delete(out: &mut Vec<u8>, key: &[u8], noreply: bool) -> Result<(), EncodeError> {
    check_key(key)?;
    push_line(out, &[Word::Bytes(b"delete"), Word::Bytes(key)], noreply)
}

/// Appends `touch <key> <exptime> [noreply]\r\n`.
pub fn encode_touch(
    out: &mut Vec<u8>,
    key: &[u8],
    exptime: u32,
    noreply: bool,
) -> Result<(), EncodeError> {
    check_key(key)?;
    push_line(
        out,
        &[
            Word::Bytes(b"touch"),
            Word::Bytes(key),
            Word::Num(exptime.into()),
        ],
        noreply,
    )
}

/// Appends `flush_all [<delay>] [noreply]\r\n`.
pub fn encode_flush_all(out: &mut Vec<u8>, delay: Option<u32>, noreply: bool) {
    let r = match delay {
        Some(d) => push_line(
            out,
            &[Word::Bytes(b"flush_all"), Word::Num(d.into())],
            noreply,
        ),
        None => push_line(out, &[Word::Bytes(b"flush_all")], noreply),
    };
    debug_assert!(r.is_ok());
}

/// Appends `version\r\n`.
pub fn encode_version(out: &mut Vec<u8>) {
    out.extend_from_slice(b"version\r\n");
}

/// Appends `verbosity <level> [noreply]\r\n`.
pub fn encode_verbosity(out: &mut Vec<u8>, level: u32, noreply: bool) {
    let r = push_line(
        out,
        &[Word::Bytes(b"verbosity"), Word::Num(level.into())],
        noreply,
    );
    debug_assert!(r.is_ok());
}

/// Whether `group` can follow `stats` on a line: words like keys (no control bytes)
/// separated by spaces, at least one, 250 bytes at most in all (`items`, `detail dump`).
/// memcached splits the line at runs of spaces, as libmemcached sends the group as given.
pub fn stats_group_fits(group: &[u8]) -> bool {
    group.len() <= MAX_KEY_LEN
        && group.iter().any(|&b| b != b' ')
        && group
            .split(|&b| b == b' ')
            .all(|word| word.is_empty() || valid_key(word))
}

/// Appends `stats\r\n` or `stats <group>\r\n` (`items`, `slabs`, `settings`, `sizes`, `conns`,
/// `reset`, `detail on|off|dump`, ...); see [`stats_group_fits`].
pub fn encode_stats(out: &mut Vec<u8>, group: Option<&[u8]>) -> Result<(), EncodeError> {
    match group {
        None => push_line(out, &[Word::Bytes(b"stats")], false),
        Some(g) => {
            if !stats_group_fits(g) {
                return Err(EncodeError::InvalidKey);
            }
            push_line(out, &[Word::Bytes(b"stats"), Word::Bytes(g)], false)
        }
    }
}

/// Appends `stats cachedump <slab> <limit>\r\n` (limit 0: as many as fit the server's 2 MB
/// answer). Slab ids 64 and above answer `CLIENT_ERROR Illegal slab id`.
pub fn encode_cachedump(out: &mut Vec<u8>, slab: u32, limit: u32) {
    let r = push_line(
        out,
        &[
            Word::Bytes(b"stats cachedump"),
            Word::Num(slab.into()),
            Word::Num(limit.into()),
        ],
        false,
    );
    debug_assert!(r.is_ok());
}

/// Appends `lru_crawler metadump all\r\n`. memcached requires it to be the first command in
/// its read: send it alone, after every earlier reply arrived (otherwise it answers
/// `ERROR cannot pipeline other commands before metadump`).
pub fn encode_metadump_all(out: &mut Vec<u8>) {
    out.extend_from_slice(b"lru_crawler metadump all\r\n");
}

/// Appends `lru_crawler metadump hash\r\n`: the same lines, the hash table walked instead
/// of the LRUs (memcached 1.6: an item the LRU maintainer moves between segments meanwhile
/// is not missed).
pub fn encode_metadump_hash(out: &mut Vec<u8>) {
    out.extend_from_slice(b"lru_crawler metadump hash\r\n");
}

/// Appends `quit\r\n` (the server closes the connection without an answer).
pub fn encode_quit(out: &mut Vec<u8>) {
    out.extend_from_slice(b"quit\r\n");
}

/// Why received bytes cannot be a text reply stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// No `\n` within [`MAX_REPLY_LINE`] bytes.
    LineTooLong,
    /// A line that is no reply memcached sends (or misses its `\r` before `\n`).
    Unexpected,
    /// A numeric field that is empty, has a non-digit or overflows its type.
    BadNumber,
    /// A VALUE length over `MAX_SANE_BODY`: no memcached item is that large.
    ValueTooLarge(u64),
    /// A VALUE's data block is not followed by `\r\n`.
    BadDataEnd,
    /// A metadump key with a `%` not followed by two hex digits.
    BadEncoding,
}

/// One reply, borrowing from the receive buffer. Messages exclude the line's `\r\n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `VALUE <key> <flags> <bytes> [<cas>]` and its data block; `cas` only for gets/gats.
    Value {
        key: &'a [u8],
        flags: u32,
        cas: Option<u64>,
        data: &'a [u8],
    },
    /// `END`: the end of a retrieval, stats, cachedump or metadump answer.
    End,
    Stored,
    NotStored,
    Exists,
    NotFound,
    Deleted,
    Touched,
    /// `OK` (flush_all, verbosity).
    Ok,
    /// `RESET` (stats reset).
    Reset,
    /// The new value after incr/decr.
    Number(u64),
    /// `VERSION <version>`.
    Version(&'a [u8]),
    /// `STAT <name> <value>` (the value is the rest of the line, may contain spaces or be empty).
    Stat {
        name: &'a [u8],
        value: &'a [u8],
    },
    /// `ITEM <key> <rest>` from `stats cachedump`; rest is like `[5 b; 0 s]`.
    Item {
        key: &'a [u8],
        rest: &'a [u8],
    },
    /// One `lru_crawler metadump` line without its `\n`: `key=<%-encoded> exp=... la=... ...`.
    MetaDumpLine(&'a [u8]),
    /// `BUSY <message>` from lru_crawler: a crawl is already running.
    Busy(&'a [u8]),
    /// `BADCLASS <message>` from lru_crawler: an invalid class was named.
    BadClass(&'a [u8]),
    /// `NOTSTARTED <message>` from lru_crawler.
    NotStarted(&'a [u8]),
    /// A bare `ERROR`: an unknown command (or, after a `CLIENT_ERROR` to a storage command,
    /// its unread data block: the stream is out of step).
    Error,
    /// `ERROR <message>`, e.g. `metadump not allowed`, `cannot pipeline other commands before
    /// metadump`.
    ErrorMessage(&'a [u8]),
    ClientError(&'a [u8]),
    ServerError(&'a [u8]),
}

/// What `parse_reply` found at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// At least this many bytes in total (from the start of the buffer) are needed; always more
    /// than the buffer holds. For a line not complete yet that is one more byte; for a VALUE
    /// whose header line is complete it is the whole block (header, data, `\r\n`), which may be
    /// large: the caller decides whether it fits its receive limit (see [`value_header`]).
    Need(usize),
    /// One reply occupying the first `len` bytes of the buffer (`0 < len <= buf.len()`).
    Reply { reply: Reply<'a>, len: usize },
}

/// A VALUE header line, parsed on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueHeader<'a> {
    pub key: &'a [u8],
    pub flags: u32,
    pub cas: Option<u64>,
    /// Bytes of the header line including its `\r\n`.
    pub line_len: usize,
    /// Bytes of the data block (without its `\r\n`); at most `MAX_SANE_BODY`.
    pub data_len: usize,
}

impl ValueHeader<'_> {
    /// Header line, data and the data's `\r\n`. Cannot overflow, even on 32-bit targets: the
    /// line is at most `MAX_REPLY_LINE` and the data at most `MAX_SANE_BODY` bytes.
    pub fn frame_len(&self) -> usize {
        self.line_len + self.data_len + 2
    }
}

/// The first line of `buf` without its `\n` (and its length with it), `Ok(None)` when no `\n`
/// is there yet.
fn first_line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, ParseError> {
    let window = &buf[..buf.len().min(MAX_REPLY_LINE)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) => Ok(Some((&buf[..i], i + 1))),
        None if buf.len() >= MAX_REPLY_LINE => Err(ParseError::LineTooLong),
        None => Ok(None),
    }
}

/// Strips the `\r` every non-metadump line ends with.
fn strip_cr(line: &[u8]) -> Result<&[u8], ParseError> {
    match line.split_last() {
        Some((b'\r', body)) => Ok(body),
        _ => Err(ParseError::Unexpected),
    }
}

/// A decimal u64: 1 to 20 digits, no sign, no overflow.
fn parse_u64(s: &[u8]) -> Result<u64, ParseError> {
    if s.is_empty() || s.len() > 20 {
        return Err(ParseError::BadNumber);
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return Err(ParseError::BadNumber);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(ParseError::BadNumber)?;
    }
    Ok(n)
}

/// A decimal i64 with an optional leading `-` (metadump's `exp=-1`).
fn parse_i64(s: &[u8]) -> Result<i64, ParseError> {
    match s.split_first() {
        Some((b'-', digits)) => {
            let n = parse_u64(digits)?;
            if n > i64::MAX as u64 + 1 {
                return Err(ParseError::BadNumber);
            }
            Ok((n as i64).wrapping_neg())
        }
        _ => i64::try_from(parse_u64(s)?).map_err(|_| ParseError::BadNumber),
    }
}

/// `<first> <rest>` split at the first space; the rest is empty when there is none.
fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[]),
    }
}

/// A line that is `word` alone or `word <message>`: the message (empty for the bare word).
fn message<'a>(line: &'a [u8], word: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(word)?;
    if rest.is_empty() {
        Some(rest)
    } else {
        rest.strip_prefix(b" ")
    }
}

/// Parses a VALUE header line's body (without `\r\n`); `line_len` is the line's length with it.
fn value_fields(body: &[u8], line_len: usize) -> Result<ValueHeader<'_>, ParseError> {
    // One pass over "VALUE <key> <flags> <bytes>[ <cas>]": this line is parsed once per value
    // of every multi-get, so it avoids iterator adaptors and per-digit checked arithmetic
    // (20 digits always fit a u128).
    let rest = body.strip_prefix(b"VALUE ").ok_or(ParseError::Unexpected)?;
    let key_end = rest
        .iter()
        .position(|&b| b == b' ')
        .ok_or(ParseError::Unexpected)?;
    let key = &rest[..key_end];
    if key.is_empty() {
        return Err(ParseError::Unexpected);
    }
    let mut pos = key_end + 1;
    let mut number = |last: bool| -> Result<Option<u64>, ParseError> {
        if pos > rest.len() {
            return Ok(None);
        }
        let start = pos;
        let mut n: u128 = 0;
        while pos < rest.len() && rest[pos].is_ascii_digit() {
            n = n * 10 + u128::from(rest[pos] - b'0');
            pos += 1;
            if pos - start > 20 {
                return Err(ParseError::BadNumber);
            }
        }
        let digits = pos - start;
        let end_ok = pos == rest.len() || (!last && rest[pos] == b' ');
        if digits > 0 && last && rest.get(pos) == Some(&b' ') {
            // A word after the CAS: not a VALUE line memcached sends.
            return Err(ParseError::Unexpected);
        }
        if digits == 0 || !end_ok {
            return Err(ParseError::BadNumber);
        }
        pos += 1; // the space (or one past the end)
        u64::try_from(n)
            .map(Some)
            .map_err(|_| ParseError::BadNumber)
    };
    let flags = number(false)?.ok_or(ParseError::Unexpected)?;
    let flags = u32::try_from(flags).map_err(|_| ParseError::BadNumber)?;
    let bytes = number(false)?.ok_or(ParseError::Unexpected)?;
    let cas = number(true)?;
    if bytes > u64::from(MAX_SANE_BODY) {
        return Err(ParseError::ValueTooLarge(bytes));
    }
    Ok(ValueHeader {
        key,
        flags,
        cas,
        line_len,
        // Fits any usize: at most MAX_SANE_BODY.
        data_len: bytes as usize,
    })
}

/// When `buf` starts with a complete VALUE header line: its fields and lengths (`Ok(None)`
/// when the line is not complete yet or is not a VALUE line). For an engine that refuses values
/// over its receive limit: when `parse_reply` says `Need(n)` with `n` too large, this gives the
/// key (to fail that request) and [`ValueHeader::frame_len`], the number of bytes to discard
/// from the start of the stream (as they arrive) before parsing resumes with the next reply.
pub fn value_header(buf: &[u8]) -> Result<Option<ValueHeader<'_>>, ParseError> {
    if !buf.starts_with(b"VALUE ") {
        return Ok(None);
    }
    let Some((line, line_len)) = first_line(buf)? else {
        return Ok(None);
    };
    value_fields(strip_cr(line)?, line_len).map(Some)
}

/// Shorthand for [`value_header`]: the whole VALUE block's length, once its header line is in
/// `buf` (None otherwise, or when the header is malformed).
pub fn value_frame_len(buf: &[u8]) -> Option<usize> {
    value_header(buf).ok().flatten().map(|h| h.frame_len())
}

/// Looks at the start of `buf`: either one complete reply and its length, or how many bytes
/// (from the start of `buf`) are needed at least. Never allocates.
pub fn parse_reply(buf: &[u8]) -> Result<Parsed<'_>, ParseError> {
    // A multi-get's answer is mostly VALUE lines: the common form is read in one pass over its
    // bytes; anything else (errors included) takes the general parser below.
    if let Some(h) = value_line_fast(buf) {
        return value_reply(buf, h);
    }
    parse_reply_general(buf)
}

/// A VALUE header line in the form memcached sends ("VALUE <key> <flags> <bytes>[ <cas>]\r\n",
/// single spaces, no leading zeros needed, the key without control bytes), read in one pass,
/// or None for anything else (the line incomplete too): the general parser then decides,
/// errors included. Never accepts what the general parser would read differently
/// (`value_line_fast_agrees_with_the_general_parser`).
#[inline]
fn value_line_fast(buf: &[u8]) -> Option<ValueHeader<'_>> {
    // The header must end within the line limit, as the general parser's lines do.
    let line = &buf[..buf.len().min(MAX_REPLY_LINE)];
    let rest = line.strip_prefix(b"VALUE ")?;
    let key_len = rest.iter().position(|&b| b <= b' ')?;
    if key_len == 0 || rest[key_len] != b' ' {
        return None;
    }
    let key = &rest[..key_len];
    let (flags, rest) = leading_number(&rest[key_len + 1..], 10)?;
    let flags = u32::try_from(flags).ok()?;
    let (bytes, mut rest) = leading_number(rest.strip_prefix(b" ")?, 10)?;
    if bytes > u64::from(MAX_SANE_BODY) {
        return None;
    }
    let mut cas = None;
    if let Some(after) = rest.strip_prefix(b" ") {
        // 19 digits always fit a u64; a longer CAS takes the general path.
        let (c, after) = leading_number(after, 19)?;
        cas = Some(c);
        rest = after;
    }
    let rest = rest.strip_prefix(b"\r\n")?;
    Some(ValueHeader {
        key,
        flags,
        cas,
        line_len: line.len() - rest.len(),
        // At most MAX_SANE_BODY: fits any usize.
        data_len: bytes as usize,
    })
}

/// The decimal number (1 to `max` digits) at the start of `s`, and the bytes after it; None
/// when `s` starts with no digit or with more than `max`.
#[inline]
fn leading_number(s: &[u8], max: usize) -> Option<(u64, &[u8])> {
    let mut n: u64 = 0;
    let mut len = 0;
    while let Some(&b) = s.get(len) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        if len == max {
            return None;
        }
        n = n * 10 + u64::from(digit);
        len += 1;
    }
    (len > 0).then(|| (n, &s[len..]))
}

/// A complete VALUE answer at the start of `buf` in the form memcached sends (its header line,
/// its data block and the data's `\r\n` all there), or None: the caller then parses `buf` with
/// `parse_reply`, which reads anything else, incomplete answers and errors included. Never
/// accepts what `parse_reply` reads differently (`complete_value_agrees_with_parse_reply`).
#[inline]
pub fn complete_value(buf: &[u8]) -> Option<ValueHeader<'_>> {
    let h = value_line_fast(buf)?;
    let data_end = h.line_len + h.data_len;
    (buf.get(data_end..data_end + 2) == Some(&b"\r\n"[..])).then_some(h)
}

/// The reply of a parsed VALUE header: the whole value, or how many bytes it needs.
fn value_reply<'a>(buf: &'a [u8], h: ValueHeader<'a>) -> Result<Parsed<'a>, ParseError> {
    // No wrap, even on 32-bit targets: line_len <= MAX_REPLY_LINE and data_len <=
    // MAX_SANE_BODY.
    let line_len = h.line_len;
    let data_end = line_len + h.data_len;
    let total = h.frame_len();
    if buf.len() < total {
        // Reject a bad data terminator as soon as its first byte is there.
        if buf.len() > data_end && buf[data_end] != b'\r' {
            return Err(ParseError::BadDataEnd);
        }
        return Ok(Parsed::Need(total));
    }
    if &buf[data_end..total] != b"\r\n" {
        return Err(ParseError::BadDataEnd);
    }
    Ok(Parsed::Reply {
        reply: Reply::Value {
            key: h.key,
            flags: h.flags,
            cas: h.cas,
            data: &buf[line_len..data_end],
        },
        len: total,
    })
}

/// `parse_reply` without the VALUE fast path.
fn parse_reply_general(buf: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let Some((line, line_len)) = first_line(buf)? else {
        return Ok(Parsed::Need(buf.len() + 1));
    };
    let one = |reply| {
        Ok(Parsed::Reply {
            reply,
            len: line_len,
        })
    };

    // Metadump lines end in "\n" only; tolerate a "\r" before it all the same.
    if line.starts_with(b"key=") {
        let body = line.strip_suffix(b"\r").unwrap_or(line);
        return one(Reply::MetaDumpLine(body));
    }
    let body = strip_cr(line)?;

    if body.starts_with(b"VALUE ") {
        return value_reply(buf, value_fields(body, line_len)?);
    }

    let reply = match body {
        b"END" => Reply::End,
        b"STORED" => Reply::Stored,
        b"NOT_STORED" => Reply::NotStored,
        b"EXISTS" => Reply::Exists,
        b"NOT_FOUND" => Reply::NotFound,
        b"DELETED" => Reply::Deleted,
        b"TOUCHED" => Reply::Touched,
        b"OK" => Reply::Ok,
        b"RESET" => Reply::Reset,
        b"ERROR" => Reply::Error,
        _ if body.first().is_some_and(u8::is_ascii_digit) => Reply::Number(parse_u64(body)?),
        _ => {
            if let Some(m) = message(body, b"CLIENT_ERROR") {
                Reply::ClientError(m)
            } else if let Some(m) = message(body, b"SERVER_ERROR") {
                Reply::ServerError(m)
            } else if let Some(m) = body.strip_prefix(b"ERROR ") {
                Reply::ErrorMessage(m)
            } else if let Some(rest) = body.strip_prefix(b"STAT ") {
                let (name, value) = split_word(rest);
                if name.is_empty() {
                    return Err(ParseError::Unexpected);
                }
                Reply::Stat { name, value }
            } else if body.starts_with(b"PREFIX ") {
                // `stats detail dump`: `PREFIX <prefix> get <n> hit <n> set <n> del <n>`, a
                // row named PREFIX.
                let (name, value) = body.split_at(b"PREFIX".len());
                Reply::Stat {
                    name,
                    value: &value[1..],
                }
            } else if let Some(rest) = body.strip_prefix(b"ITEM ") {
                let (key, rest) = split_word(rest);
                if key.is_empty() {
                    return Err(ParseError::Unexpected);
                }
                Reply::Item { key, rest }
            } else if let Some(v) = message(body, b"VERSION") {
                Reply::Version(v)
            } else if let Some(m) = message(body, b"BUSY") {
                Reply::Busy(m)
            } else if let Some(m) = message(body, b"BADCLASS") {
                Reply::BadClass(m)
            } else if let Some(m) = message(body, b"NOTSTARTED") {
                Reply::NotStarted(m)
            } else {
                return Err(ParseError::Unexpected);
            }
        }
    };
    one(reply)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends the %-decoded form of a metadump key (`a%25b` → `a%b`) to `out`. On an error
/// (`%` not followed by two hex digits) `out` is left as it was.
pub fn decode_metadump_key(encoded: &[u8], out: &mut Vec<u8>) -> Result<(), ParseError> {
    let start = out.len();
    out.reserve(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        let b = encoded[i];
        if b == b'%' {
            let pair = encoded
                .get(i + 1..i + 3)
                .and_then(|p| Some((hex(p[0])?, hex(p[1])?)));
            let Some((hi, lo)) = pair else {
                out.truncate(start);
                return Err(ParseError::BadEncoding);
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(())
}

/// The value of field `name` (`key`, `exp`, `la`, `cas`, `fetch`, `cls`, `size`, ...) in a
/// metadump line (`key=a%25b exp=-1 la=1700000000 cas=1 ...`), if present.
pub fn metadump_field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    line.split(|&b| b == b' ').find_map(|field| {
        field
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(b"="))
    })
}

/// The fields a client uses from a metadump line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaDumpItem<'a> {
    /// Still %-encoded: see [`decode_metadump_key`].
    pub key: &'a [u8],
    /// Expiration as a Unix time; -1 for never.
    pub exp: Option<i64>,
    /// Last access, a Unix time.
    pub la: Option<u64>,
    pub cas: Option<u64>,
}

/// Pulls `key=` (required, non-empty), `exp=`, `la=` and `cas=` (each optional) from a
/// metadump line; a present field with a malformed number is an error.
pub fn parse_metadump_line(line: &[u8]) -> Result<MetaDumpItem<'_>, ParseError> {
    let key = metadump_field(line, b"key")
        .filter(|k| !k.is_empty())
        .ok_or(ParseError::Unexpected)?;
    Ok(MetaDumpItem {
        key,
        exp: metadump_field(line, b"exp").map(parse_i64).transpose()?,
        la: metadump_field(line, b"la").map(parse_u64).transpose()?,
        cas: metadump_field(line, b"cas").map(parse_u64).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The VALUE fast path accepts only what the general parser reads the same way, and
    /// `parse_reply` gives what the general parser gives, over VALUE lines of every shape:
    /// keys with spaces, control bytes and high bytes, numbers of 0 to 21 digits with leading
    /// zeros and overflows, missing or doubled spaces, bad terminators, the line and data cut
    /// at every length, lines near `MAX_REPLY_LINE`.
    #[test]
    fn value_line_fast_agrees_with_the_general_parser() {
        let keys: [&[u8]; 9] = [
            b"k",
            b"key-1",
            b"",
            b"a b",
            b"a\rb",
            b"a\tb",
            b"\xff\x80k",
            b"a\nb",
            b"kk ",
        ];
        let numbers: [&[u8]; 14] = [
            b"0",
            b"7",
            b"007",
            b"4294967295",
            b"4294967296",
            b"12345678901",
            b"1234567890123456789",
            b"18446744073709551615",
            b"18446744073709551616",
            b"123456789012345678901",
            b"",
            b"-1",
            b"1a",
            b"2147483648",
        ];
        let ends: [&[u8]; 5] = [b"\r\n", b"\n", b" \r\n", b"\r", b"\r\r\n"];
        let mut checked = 0usize;
        let mut fast = 0usize;
        let mut complete = 0usize;
        let mut check = |buf: &[u8]| {
            for cut in 0..=buf.len() {
                let b = &buf[..cut];
                let general = parse_reply_general(b);
                if let Some(h) = value_line_fast(b) {
                    fast += 1;
                    assert_eq!(
                        value_reply(b, h),
                        general,
                        "{:?}",
                        String::from_utf8_lossy(b)
                    );
                }
                assert_eq!(parse_reply(b), general, "{:?}", String::from_utf8_lossy(b));
                if let Some(h) = complete_value(b) {
                    let data = &b[h.line_len..h.line_len + h.data_len];
                    let reply = Reply::Value {
                        key: h.key,
                        flags: h.flags,
                        cas: h.cas,
                        data,
                    };
                    let len = h.frame_len();
                    assert_eq!(Ok(Parsed::Reply { reply, len }), general, "{b:?}");
                    complete += 1;
                }
                checked += 1;
            }
        };
        for key in keys {
            for flags in numbers {
                for bytes in [&b"3"[..], b"0", b"03", b"10", b"4294967296", b"x"] {
                    for cas in [None, Some(&b"5"[..]), Some(numbers[7]), Some(numbers[8])] {
                        for end in ends {
                            let mut line = b"VALUE ".to_vec();
                            line.extend_from_slice(key);
                            line.push(b' ');
                            line.extend_from_slice(flags);
                            line.push(b' ');
                            line.extend_from_slice(bytes);
                            if let Some(c) = cas {
                                line.push(b' ');
                                line.extend_from_slice(c);
                            }
                            line.extend_from_slice(end);
                            line.extend_from_slice(b"abc\r\nEND\r\n");
                            check(&line);
                        }
                    }
                }
            }
        }
        for cas in numbers {
            check(&[&b"VALUE k 1 3 "[..], cas, b"\r\nabc\r\n"].concat());
        }
        // Doubled spaces, other prefixes.
        for line in [
            &b"VALUE  k 0 3\r\nabc\r\n"[..],
            b"VALUE k  0 3\r\nabc\r\n",
            b"VALUE k 0  3\r\nabc\r\n",
            b"VALUE k 0 3  5\r\nabc\r\n",
            b"VALUEk 0 3\r\nabc\r\n",
            b"value k 0 3\r\nabc\r\n",
            b"VALUE k 0 3\r\nabcd\r\n",
            b"VALUE k 0 3\r\nab\r\n\r\n",
        ] {
            check(line);
        }
        // Near the line limit: a key making the line end just inside and just outside it.
        for extra in [0usize, 1, 2, 3] {
            let key = vec![b'k'; MAX_REPLY_LINE - b"VALUE  0 1\r\n".len() - 2 + extra];
            let line = [&b"VALUE "[..], &key, b" 0 1\r\nx\r\n"].concat();
            let b = &line[..];
            assert_eq!(parse_reply(b), parse_reply_general(b));
            if let Some(h) = value_line_fast(b) {
                assert_eq!(value_reply(b, h), parse_reply_general(b));
            }
        }
        assert!(fast > 1000, "the fast path took only {fast} of {checked}");
        assert!(
            complete > 100,
            "complete values: only {complete} of {checked}"
        );
    }

    fn bytes_of(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out);
        out
    }

    #[test]
    fn keys() {
        assert!(valid_key(b"a"));
        assert!(valid_key(&[b'k'; 250]));
        assert!(valid_key(&[0x80, 0xff, b'~', b'!']));
        assert!(!valid_key(b""));
        assert!(!valid_key(&[b'k'; 251]));
        for bad in [0u8, b'\t', b'\r', b'\n', b' ', 0x7f, 0x1f] {
            assert!(!valid_key(&[b'a', bad, b'b']), "{bad:#x}");
        }
    }

    #[test]
    fn encodes_storage() {
        let cases: [(StoreCmd, &[u8]); 6] = [
            (StoreCmd::Set, b"set"),
            (StoreCmd::Add, b"add"),
            (StoreCmd::Replace, b"replace"),
            (StoreCmd::Append, b"append"),
            (StoreCmd::Prepend, b"prepend"),
            (StoreCmd::Cas(u64::MAX), b"cas"),
        ];
        for (cmd, name) in cases {
            let out = bytes_of(|o| encode_store(o, cmd, b"k", 7, 30, b"hi", false).unwrap());
            let cas = if let StoreCmd::Cas(_) = cmd {
                " 18446744073709551615"
            } else {
                ""
            };
            let want = format!(
                "{} k 7 30 2{cas}\r\nhi\r\n",
                std::str::from_utf8(name).unwrap()
            );
            assert_eq!(out, want.as_bytes());
        }
        let out = bytes_of(|o| {
            encode_store(o, StoreCmd::Set, b"k", u32::MAX, u32::MAX, b"", true).unwrap()
        });
        assert_eq!(out, b"set k 4294967295 4294967295 0 noreply\r\n\r\n");
        let out =
            bytes_of(|o| encode_store(o, StoreCmd::Cas(0), b"k", 0, 0, b"a\r\nb", true).unwrap());
        assert_eq!(out, b"cas k 0 0 4 0 noreply\r\na\r\nb\r\n");
        let big = vec![b'x'; 1_000_000];
        let out = bytes_of(|o| encode_store(o, StoreCmd::Set, b"big", 0, 0, &big, false).unwrap());
        assert_eq!(&out[..24], b"set big 0 0 1000000\r\nxxx");
        assert_eq!(out.len(), 21 + 1_000_000 + 2);
        assert!(out.ends_with(b"x\r\n"));
    }

    #[test]
    fn encodes_other_commands() {
        let k: &[u8] = &[b'k', 0x80];
        let cases: Vec<(Vec<u8>, &[u8])> = vec![
            (
                bytes_of(|o| encode_incr(o, b"n", 1, false).unwrap()),
                b"incr n 1\r\n",
            ),
            (
                bytes_of(|o| encode_incr(o, b"n", u64::MAX, true).unwrap()),
                b"incr n 18446744073709551615 noreply\r\n",
            ),
            (
                bytes_of(|o| encode_decr(o, b"n", 0, false).unwrap()),
                b"decr n 0\r\n",
            ),
            (
                bytes_of(|o| encode_decr(o, b"n", 5, true).unwrap()),
                b"decr n 5 noreply\r\n",
            ),
            (
                bytes_of(|o| encode_delete(o, k, false).unwrap()),
                b"delete k\x80\r\n",
            ),
            (
                bytes_of(|o| encode_delete(o, b"d", true).unwrap()),
                b"delete d noreply\r\n",
            ),
            (
                bytes_of(|o| encode_touch(o, b"t", 10, false).unwrap()),
                b"touch t 10\r\n",
            ),
            (
                bytes_of(|o| encode_touch(o, b"t", 0, true).unwrap()),
                b"touch t 0 noreply\r\n",
            ),
            (
                bytes_of(|o| encode_flush_all(o, None, false)),
                b"flush_all\r\n",
            ),
            (
                bytes_of(|o| encode_flush_all(o, None, true)),
                b"flush_all noreply\r\n",
            ),
            (
                bytes_of(|o| encode_flush_all(o, Some(0), false)),
                b"flush_all 0\r\n",
            ),
            (
                bytes_of(|o| encode_flush_all(o, Some(9), true)),
                b"flush_all 9 noreply\r\n",
            ),
            (bytes_of(encode_version), b"version\r\n"),
            (
                bytes_of(|o| encode_verbosity(o, 1, false)),
                b"verbosity 1\r\n",
            ),
            (
                bytes_of(|o| encode_verbosity(o, 0, true)),
                b"verbosity 0 noreply\r\n",
            ),
            (bytes_of(|o| encode_stats(o, None).unwrap()), b"stats\r\n"),
            (
                bytes_of(|o| encode_stats(o, Some(b"slabs")).unwrap()),
                b"stats slabs\r\n",
            ),
            (
                bytes_of(|o| encode_stats(o, Some(b"detail dump")).unwrap()),
                b"stats detail dump\r\n",
            ),
            (
                bytes_of(|o| encode_cachedump(o, 1, 0)),
                b"stats cachedump 1 0\r\n",
            ),
            (
                bytes_of(|o| encode_cachedump(o, 63, 100)),
                b"stats cachedump 63 100\r\n",
            ),
            (
                bytes_of(encode_metadump_all),
                b"lru_crawler metadump all\r\n",
            ),
            (bytes_of(encode_quit), b"quit\r\n"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(want));
        }
    }

    #[test]
    fn encoders_append_and_reject_bad_keys() {
        let mut out = b"prefix".to_vec();
        let long = [b'k'; 251];
        let bad: [&[u8]; 4] = [b"", b"a b", b"a\r\nb", &long];
        for key in bad {
            assert_eq!(
                encode_store(&mut out, StoreCmd::Set, key, 0, 0, b"v", false),
                Err(EncodeError::InvalidKey)
            );
            assert_eq!(
                encode_incr(&mut out, key, 1, false),
                Err(EncodeError::InvalidKey)
            );
            assert_eq!(
                encode_decr(&mut out, key, 1, false),
                Err(EncodeError::InvalidKey)
            );
            assert_eq!(
                encode_delete(&mut out, key, false),
                Err(EncodeError::InvalidKey)
            );
            assert_eq!(
                encode_touch(&mut out, key, 1, false),
                Err(EncodeError::InvalidKey)
            );
            assert_eq!(push_get_key(&mut out, key), Err(EncodeError::InvalidKey));
        }
        // A stats group may be a few words ("detail dump"), each like a key.
        let bad_groups: [&[u8]; 6] = [b"", b"  ", b"a\tb", b"a\r\nb", b"a\0", &long];
        for group in bad_groups {
            assert_eq!(
                encode_stats(&mut out, Some(group)),
                Err(EncodeError::InvalidKey),
                "{:?}",
                String::from_utf8_lossy(group)
            );
        }
        assert_eq!(out, b"prefix");
        encode_version(&mut out);
        assert_eq!(out, b"prefixversion\r\n");
    }

    #[test]
    fn get_lines() {
        let mut out = Vec::new();
        for (kind, want) in [
            (GetKind::Get, &b"get a a \x80x a\r\n"[..]),
            (GetKind::Gets, b"gets a a \x80x a\r\n"),
            (GetKind::Gat(0), b"gat 0 a a \x80x a\r\n"),
            (
                GetKind::Gats(4294967295),
                b"gats 4294967295 a a \x80x a\r\n",
            ),
        ] {
            out.clear();
            out.extend_from_slice(b"xx");
            let start = begin_get(&mut out, kind);
            assert_eq!(start, 2);
            for key in [&b"a"[..], b"a", b"\x80x", b"a"] {
                push_get_key(&mut out, key).unwrap();
            }
            end_line(&mut out);
            assert_eq!(&out[2..], want);
        }
    }

    #[test]
    fn gat_lines_split_within_the_limit() {
        let key = [b'k'; 250];
        // get/gets: no limit.
        assert!(key_fits(GetKind::Get, 1 << 20, 250));
        assert!(key_fits(GetKind::Gets, usize::MAX, 250));
        assert!(!key_fits(GetKind::Gat(0), usize::MAX, usize::MAX));
        // The longest line with one key fits.
        assert!(key_fits(
            GetKind::Gats(u32::MAX),
            b"gats 4294967295".len(),
            250
        ));
        // Exactly at the limit: line + " " + key + "\r\n" == 2048.
        assert!(key_fits(GetKind::Gat(0), 2048 - 3 - 250, 250));
        assert!(!key_fits(GetKind::Gat(0), 2048 - 2 - 250, 250));

        let mut out = Vec::new();
        let kind = GetKind::Gat(100);
        let mut start = begin_get(&mut out, kind);
        let mut keys_in_line = 0;
        for _ in 0..100 {
            if keys_in_line > 0 && !key_fits(kind, out.len() - start, key.len()) {
                end_line(&mut out);
                start = begin_get(&mut out, kind);
                keys_in_line = 0;
            }
            push_get_key(&mut out, &key).unwrap();
            keys_in_line += 1;
        }
        end_line(&mut out);
        let lines: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
        assert_eq!(lines.len(), 13); // 8 keys of 251 bytes per line (7 + 8*251 + 2 = 2017)
        let mut keys = 0;
        for line in lines {
            assert!(line.len() <= MAX_COMMAND_LINE);
            assert!(line.starts_with(b"gat 100 k") && line.ends_with(b"k\r\n"));
            keys += line.split(|&b| b == b' ').count() - 2;
        }
        assert_eq!(keys, 100);
    }

    /// Checks every proper prefix of `bytes` asks for more, the whole is `want` occupying all
    /// of it, and trailing bytes change nothing.
    fn check_split(bytes: &[u8], want: Reply<'_>) {
        for cut in 0..bytes.len() {
            match parse_reply(&bytes[..cut]) {
                Ok(Parsed::Need(n)) => {
                    assert!(n > cut && n <= bytes.len(), "Need({n}) for {cut} bytes")
                }
                other => panic!("{other:?} from {cut} of {} bytes", bytes.len()),
            }
        }
        assert_eq!(
            parse_reply(bytes),
            Ok(Parsed::Reply {
                reply: want,
                len: bytes.len()
            })
        );
        let mut more = bytes.to_vec();
        more.extend_from_slice(b"END\r\nVALUE");
        assert_eq!(
            parse_reply(&more),
            Ok(Parsed::Reply {
                reply: want,
                len: bytes.len()
            })
        );
    }

    #[test]
    fn parses_every_reply_form_split_anywhere() {
        let cases: Vec<(&[u8], Reply<'_>)> = vec![
            (
                b"VALUE k 5 2\r\nhi\r\n",
                Reply::Value {
                    key: b"k",
                    flags: 5,
                    cas: None,
                    data: b"hi",
                },
            ),
            (
                b"VALUE k\x80\xff 4294967295 4 18446744073709551615\r\n\r\n\r\n\r\n",
                Reply::Value {
                    key: b"k\x80\xff",
                    flags: u32::MAX,
                    cas: Some(u64::MAX),
                    data: b"\r\n\r\n",
                },
            ),
            (
                b"VALUE e 0 0 7\r\n\r\n",
                Reply::Value {
                    key: b"e",
                    flags: 0,
                    cas: Some(7),
                    data: b"",
                },
            ),
            (b"END\r\n", Reply::End),
            (b"STORED\r\n", Reply::Stored),
            (b"NOT_STORED\r\n", Reply::NotStored),
            (b"EXISTS\r\n", Reply::Exists),
            (b"NOT_FOUND\r\n", Reply::NotFound),
            (b"DELETED\r\n", Reply::Deleted),
            (b"TOUCHED\r\n", Reply::Touched),
            (b"OK\r\n", Reply::Ok),
            (b"RESET\r\n", Reply::Reset),
            (b"0\r\n", Reply::Number(0)),
            (b"18446744073709551615\r\n", Reply::Number(u64::MAX)),
            (b"VERSION 1.6.18\r\n", Reply::Version(b"1.6.18")),
            (
                b"STAT pid 123\r\n",
                Reply::Stat {
                    name: b"pid",
                    value: b"123",
                },
            ),
            (
                b"PREFIX pfx get 2 hit 1 set 0 del 0\r\n",
                Reply::Stat {
                    name: b"PREFIX",
                    value: b"pfx get 2 hit 1 set 0 del 0",
                },
            ),
            (
                b"STAT libevent 2.1 stable x\r\n",
                Reply::Stat {
                    name: b"libevent",
                    value: b"2.1 stable x",
                },
            ),
            (
                b"STAT empty\r\n",
                Reply::Stat {
                    name: b"empty",
                    value: b"",
                },
            ),
            (
                b"ITEM a%b [2 b; 0 s]\r\n",
                Reply::Item {
                    key: b"a%b",
                    rest: b"[2 b; 0 s]",
                },
            ),
            (
                b"key=a%25b exp=-1 la=1796015350 cas=1 fetch=no cls=1 size=68\n",
                Reply::MetaDumpLine(b"key=a%25b exp=-1 la=1796015350 cas=1 fetch=no cls=1 size=68"),
            ),
            (
                b"BUSY currently processing crawler request\r\n",
                Reply::Busy(b"currently processing crawler request"),
            ),
            (
                b"BADCLASS invalid class id\r\n",
                Reply::BadClass(b"invalid class id"),
            ),
            (
                b"NOTSTARTED no items to crawl\r\n",
                Reply::NotStarted(b"no items to crawl"),
            ),
            (b"ERROR\r\n", Reply::Error),
            (
                b"ERROR cannot pipeline other commands before metadump\r\n",
                Reply::ErrorMessage(b"cannot pipeline other commands before metadump"),
            ),
            (
                b"CLIENT_ERROR bad command line format\r\n",
                Reply::ClientError(b"bad command line format"),
            ),
            (b"CLIENT_ERROR\r\n", Reply::ClientError(b"")),
            (
                b"SERVER_ERROR object too large for cache\r\n",
                Reply::ServerError(b"object too large for cache"),
            ),
        ];
        for (bytes, want) in cases {
            check_split(bytes, want);
        }
    }

    #[test]
    fn million_byte_value() {
        let mut bytes = b"VALUE big 1 1000000 9\r\n".to_vec();
        let header = bytes.len();
        bytes.extend((0..1_000_000u32).map(|i| if i % 1000 == 0 { b'\n' } else { b'v' }));
        bytes.extend_from_slice(b"\r\n");
        let total = bytes.len();
        for cut in 0..total {
            let want = if cut < header { cut + 1 } else { total };
            assert_eq!(parse_reply(&bytes[..cut]), Ok(Parsed::Need(want)), "{cut}");
        }
        match parse_reply(&bytes) {
            Ok(Parsed::Reply {
                reply:
                    Reply::Value {
                        key,
                        flags,
                        cas,
                        data,
                    },
                len,
            }) => {
                assert_eq!((key, flags, cas, len), (&b"big"[..], 1, Some(9), total));
                assert_eq!(data, &bytes[header..total - 2]);
            }
            other => panic!("{other:?}"),
        }
        let h = value_header(&bytes[..header]).unwrap().unwrap();
        assert_eq!(
            h,
            ValueHeader {
                key: b"big",
                flags: 1,
                cas: Some(9),
                line_len: header,
                data_len: 1_000_000
            }
        );
        assert_eq!(h.frame_len(), total);
        assert_eq!(value_frame_len(&bytes[..header]), Some(total));
        assert_eq!(value_frame_len(&bytes[..header - 1]), None);
        assert_eq!(value_frame_len(b"END\r\n"), None);
    }

    #[test]
    fn repeated_keys_and_a_stream() {
        let stream: &[u8] = b"VALUE t 0 1\r\n1\r\nVALUE t 0 1\r\n1\r\nVALUE t 0 1\r\n1\r\nEND\r\n\
            STORED\r\n42\r\nkey=x exp=-1\nkey=y exp=5\nEND\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n";
        let mut rest = stream;
        let mut got = Vec::new();
        while !rest.is_empty() {
            match parse_reply(rest).unwrap() {
                Parsed::Reply { reply, len } => {
                    got.push(reply);
                    rest = &rest[len..];
                }
                Parsed::Need(n) => panic!("Need({n}) with {} bytes", rest.len()),
            }
        }
        let t = Reply::Value {
            key: b"t",
            flags: 0,
            cas: None,
            data: b"1",
        };
        assert_eq!(
            got,
            [
                t,
                t,
                t,
                Reply::End,
                Reply::Stored,
                Reply::Number(42),
                Reply::MetaDumpLine(b"key=x exp=-1"),
                Reply::MetaDumpLine(b"key=y exp=5"),
                Reply::End,
                Reply::ClientError(b"bad command line format"),
                Reply::Error,
            ]
        );
        assert_eq!(parse_reply(b""), Ok(Parsed::Need(1)));
    }

    #[test]
    fn rejects_garbage() {
        use ParseError::*;
        let cases: [(&[u8], ParseError); 30] = [
            (b"FOO\r\n", Unexpected),
            (b"\r\n", Unexpected),
            (b"\n", Unexpected),
            (b"STORED\n", Unexpected),
            (b"STORED \r\n", Unexpected),
            (b"stored\r\n", Unexpected),
            (b"ERRORS\r\n", Unexpected),
            (b"CLIENT_ERRORx\r\n", Unexpected),
            (b"VERSION1\r\n", Unexpected),
            (b"STAT \r\n", Unexpected),
            (b"ITEM  [1 b; 0 s]\r\n", Unexpected),
            (b"12a\r\n", BadNumber),
            (b"18446744073709551616\r\n", BadNumber),
            (b"99999999999999999999999\r\n", BadNumber),
            (b"VALUE\r\n", Unexpected),
            (b"VALUE \r\n", Unexpected),
            (b"VALUE k\r\n", Unexpected),
            (b"VALUE k 0\r\n", Unexpected),
            (b"VALUE k 0 1 2 3\r\n", Unexpected),
            (b"VALUE k 0 1\n", Unexpected),
            (b"VALUE  0 1\r\n", Unexpected),
            (b"VALUE k 0 -1\r\n", BadNumber),
            (b"VALUE k 0 1x\r\n", BadNumber),
            (b"VALUE k 0 \r\n", BadNumber),
            (b"VALUE k 4294967296 1\r\n", BadNumber),
            (b"VALUE k 0 1 x\r\n", BadNumber),
            (b"VALUE k 0 4294967296\r\n", ValueTooLarge(1 << 32)),
            (b"VALUE k 0 4294967295\r\n", ValueTooLarge(u32::MAX as u64)),
            (
                b"VALUE k 0 18446744073709551615\r\n",
                ValueTooLarge(u64::MAX),
            ),
            (b"VALUE k 0 18446744073709551616\r\n", BadNumber),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                parse_reply(bytes),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // The data block must end in "\r\n"; a wrong byte is seen as soon as it arrives.
        assert_eq!(parse_reply(b"VALUE k 0 2\r\nabXY"), Err(BadDataEnd));
        assert_eq!(parse_reply(b"VALUE k 0 2\r\nab\rY"), Err(BadDataEnd));
        assert_eq!(parse_reply(b"VALUE k 0 2\r\nab\n"), Err(BadDataEnd));
        assert_eq!(parse_reply(b"VALUE k 0 2\r\nabc"), Err(BadDataEnd));
        assert_eq!(parse_reply(b"VALUE k 0 2\r\nabc\r\n"), Err(BadDataEnd));
        assert_eq!(parse_reply(b"VALUE k 0 2\r\na\r"), Ok(Parsed::Need(17)));
        assert_eq!(parse_reply(b"VALUE k 0 2\r\nab\r"), Ok(Parsed::Need(17)));
    }

    #[test]
    fn value_lengths_at_the_sane_maximum() {
        let line = format!("VALUE k 0 {MAX_SANE_BODY}\r\n");
        let want = line.len() + MAX_SANE_BODY as usize + 2;
        assert_eq!(parse_reply(line.as_bytes()), Ok(Parsed::Need(want)));
        assert_eq!(value_frame_len(line.as_bytes()), Some(want));
        let line = format!("VALUE k 0 {}\r\n", MAX_SANE_BODY + 1);
        assert_eq!(
            parse_reply(line.as_bytes()),
            Err(ParseError::ValueTooLarge(MAX_SANE_BODY as u64 + 1))
        );
        assert_eq!(
            value_header(line.as_bytes()),
            Err(ParseError::ValueTooLarge(MAX_SANE_BODY as u64 + 1))
        );
    }

    #[test]
    fn long_lines() {
        let mut line = b"STAT x ".to_vec();
        line.resize(MAX_REPLY_LINE - 1, b'v');
        assert_eq!(parse_reply(&line), Ok(Parsed::Need(MAX_REPLY_LINE)));
        let mut full = line.clone();
        full.push(b'\n');
        assert_eq!(parse_reply(&full), Err(ParseError::Unexpected)); // no "\r"
        full.truncate(MAX_REPLY_LINE - 2);
        full.extend_from_slice(b"\r\n");
        assert!(matches!(
            parse_reply(&full),
            Ok(Parsed::Reply {
                len: MAX_REPLY_LINE,
                ..
            })
        ));
        line.push(b'v');
        assert_eq!(parse_reply(&line), Err(ParseError::LineTooLong));
        line.push(b'\n');
        assert_eq!(parse_reply(&line), Err(ParseError::LineTooLong));
        assert_eq!(value_header(&line), Ok(None));
        let mut value = b"VALUE ".to_vec();
        value.resize(MAX_REPLY_LINE + 10, b'k');
        assert_eq!(value_header(&value), Err(ParseError::LineTooLong));
    }

    #[test]
    fn metadump_keys_and_fields() {
        let mut out = b"x".to_vec();
        decode_metadump_key(b"a%25b%20c%80%fF", &mut out).unwrap();
        assert_eq!(out, b"xa%b c\x80\xff");
        for bad in [&b"%"[..], b"a%2", b"%zz", b"%2g", b"ok%"] {
            let mut out = b"keep".to_vec();
            assert_eq!(
                decode_metadump_key(bad, &mut out),
                Err(ParseError::BadEncoding)
            );
            assert_eq!(out, b"keep");
        }
        let line: &[u8] = b"key=a%25b exp=-1 la=1796015350 cas=12 fetch=no cls=1 size=68";
        assert_eq!(metadump_field(line, b"fetch"), Some(&b"no"[..]));
        assert_eq!(metadump_field(line, b"size"), Some(&b"68"[..]));
        assert_eq!(metadump_field(line, b"k"), None);
        assert_eq!(metadump_field(line, b"nope"), None);
        assert_eq!(
            parse_metadump_line(line),
            Ok(MetaDumpItem {
                key: b"a%25b",
                exp: Some(-1),
                la: Some(1796015350),
                cas: Some(12),
            })
        );
        assert_eq!(
            parse_metadump_line(b"key=k exp=9223372036854775807 la=1"),
            Ok(MetaDumpItem {
                key: b"k",
                exp: Some(i64::MAX),
                la: Some(1),
                cas: None,
            })
        );
        assert_eq!(
            parse_metadump_line(b"key=k exp=-9223372036854775808").map(|m| m.exp),
            Ok(Some(i64::MIN))
        );
        for bad in [
            &b"key=k exp=-9223372036854775809"[..],
            b"key=k exp=9223372036854775808",
            b"key=k exp=--1",
            b"key=k exp=",
            b"key=k la=-1",
            b"key=k cas=x",
        ] {
            assert_eq!(parse_metadump_line(bad), Err(ParseError::BadNumber));
        }
        assert_eq!(parse_metadump_line(b"exp=1"), Err(ParseError::Unexpected));
        assert_eq!(
            parse_metadump_line(b"key= exp=1"),
            Err(ParseError::Unexpected)
        );
    }
}
