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
    !kind.line_limited() || (line_len as u64) + 1 + (key_len as u64) + 2 <= MAX_COMMAND_LINE as u64
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

/// Appends `stats\r\n` or `stats <group>\r\n` (`items`, `slabs`, `settings`, `sizes`, `conns`,
/// `reset`, ...); the group is checked like a key.
pub fn encode_stats(out: &mut Vec<u8>, group: Option<&[u8]>) -> Result<(), EncodeError> {
    match group {
        None => push_line(out, &[Word::Bytes(b"stats")], false),
        Some(g) => {
            check_key(g)?;
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

fn parse_u32(s: &[u8]) -> Result<u32, ParseError> {
    u32::try_from(parse_u64(s)?).map_err(|_| ParseError::BadNumber)
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

/// Parses the fields of a VALUE header line body (without `\r\n`).
fn value_fields(body: &[u8]) -> Result<(&[u8], u32, u64, Option<u64>), ParseError> {
    let rest = body.strip_prefix(b"VALUE ").ok_or(ParseError::Unexpected)?;
    let mut words = rest.split(|&b| b == b' ');
    let key = words.next().unwrap_or(&[]);
    if key.is_empty() {
        return Err(ParseError::Unexpected);
    }
    let flags = parse_u32(words.next().ok_or(ParseError::Unexpected)?)?;
    let bytes = parse_u64(words.next().ok_or(ParseError::Unexpected)?)?;
    let cas = match words.next() {
        Some(c) => Some(parse_u64(c)?),
        None => None,
    };
    if words.next().is_some() {
        return Err(ParseError::Unexpected);
    }
    if bytes > u64::from(MAX_SANE_BODY) {
        return Err(ParseError::ValueTooLarge(bytes));
    }
    Ok((key, flags, bytes, cas))
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
    let (key, flags, bytes, cas) = value_fields(strip_cr(line)?)?;
    Ok(Some(ValueHeader {
        key,
        flags,
        cas,
        line_len,
        // Fits any usize: at most MAX_SANE_BODY (checked by value_fields).
        data_len: bytes as usize,
    }))
}

/// Shorthand for [`value_header`]: the whole VALUE block's length, once its header line is in
/// `buf` (None otherwise, or when the header is malformed).
pub fn value_frame_len(buf: &[u8]) -> Option<usize> {
    value_header(buf).ok().flatten().map(|h| h.frame_len())
}

/// Looks at the start of `buf`: either one complete reply and its length, or how many bytes
/// (from the start of `buf`) are needed at least. Never allocates.
pub fn parse_reply(buf: &[u8]) -> Result<Parsed<'_>, ParseError> {
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
        let (key, flags, bytes, cas) = value_fields(body)?;
        // u64: cannot wrap on 32-bit targets; bytes <= MAX_SANE_BODY so the total fits usize.
        let data_end = line_len as u64 + bytes;
        let total = data_end + 2;
        let data_end = data_end as usize;
        let total = total as usize;
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
        return Ok(Parsed::Reply {
            reply: Reply::Value {
                key,
                flags,
                cas,
                data: &buf[line_len..data_end],
            },
            len: total,
        });
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
