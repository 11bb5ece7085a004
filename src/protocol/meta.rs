//! The meta protocol (memcached >= 1.6) as data: request encoding into a caller's buffer and
//! incremental reply parsing ("need more bytes" or one reply borrowing from the buffer). No I/O
//! and no allocation (encoders only append to the caller's `Vec`, which may grow).
//!
//! # What memcached 1.6.18 really does (measured; it wins over protocol.txt)
//!
//! - `ms <key> <datalen> <flags>*`: the length is positional; protocol.txt's `S` flag for ms is
//!   stale (`ms x S1 T0` → `CLIENT_ERROR bad command line format`).
//! - `EN` carries the requested `k`/`O` flags (`mg nokey k O1 v` → `EN knokey O1`), and `b` too
//!   for a base64 key (`EN kbm9rZXk= b O2`). `me` on a miss answers a bare `EN`.
//! - `q` hides only `EN` on mg and only `HD` on ms/md/ma; `NS`/`NF`/`EX` and error lines are
//!   always sent (`ms big 2000000 q` + 2,000,000 bytes → `SERVER_ERROR object too large for
//!   cache`, sent only once the whole data block has been read and discarded).
//! - Flags the server rejects: any letter it does not know for the command (`E`, `S`, `x`, `Z`
//!   on mg/ms → `CLIENT_ERROR invalid flag`; on md/ma → `CLIENT_ERROR invalid or duplicate
//!   flag`), a repeated flag (`mg foo v v` → `CLIENT_ERROR duplicate flag`), a bad number (`ma
//!   x D-1`, `Dabc`, `D18446744073709551616` → `CLIENT_ERROR invalid or duplicate flag`), an
//!   opaque over 32 bytes (`CLIENT_ERROR opaque token too long`), a bad ms mode (`MX` →
//!   `CLIENT_ERROR invalid mode for ms M token`), a key that is not base64 with `b`
//!   (`CLIENT_ERROR error decoding key`). For ms with a parsable length the data block is
//!   swallowed; with a bad line (`ms foo bar`, a 251-byte key) the data block is then answered
//!   by a second `ERROR` line: the stream is out of step, reset the connection.
//! - A key token over 250 bytes is `CLIENT_ERROR bad command line format` — with `b` the limit
//!   applies to the *encoded* token, so a binary key is at most 186 bytes
//!   ([`MAX_BINARY_KEY_LEN`]).
//! - The `k` return flag shows the key as the item stores it: an item stored with `ms ... b` is
//!   returned base64 with a `b` flag even to an `mg` without `b`. **But an item created by
//!   vivify (`mg <b64> b N<ttl>`) is returned raw**, without `b`, on that and every later hit:
//!   `VA 0 ka b\r\nc O4 W` for the key bytes "a b\r\nc" — the reply line is broken. Do not ask
//!   for `k` together with `b` when vivify may be used; match replies by opaque.
//! - Return flags come in the order requested; `W` / `X` / `Z` follow them (`VA 3 c9 t30 X W`,
//!   `VA 0 c3 knewk Z`). `mn` ignores flags (`mn O1` → `MN`). `mg` with no key → `ERROR`; `me`
//!   with no key → `CLIENT_ERROR bad command line format`.
//! - `ma` wraps on increment (`J18446744073709551615` then `ma x v` → `0`), stops at 0 on
//!   decrement, answers `CLIENT_ERROR cannot increment or decrement non-numeric value` for a
//!   non-number, `EX` for a CAS mismatch, `NF` on a miss without `N`.
//! - A text command on a meta connection is answered in text (`version` → `VERSION 1.6.18`):
//!   [`parse_reply`] returns [`ParseError::Unexpected`] for such a line; the engine can hand the
//!   buffer to the text parser then.
//! - A server older than 1.6 answers every meta command with `ERROR` ([`Reply::Error`]).

use super::binary::MAX_SANE_BODY;

/// The longest key token memcached accepts (with `b`, the encoded token).
pub const MAX_KEY_LEN: usize = 250;
/// The longest binary key sent with `b`: its base64 form (4 * ceil(n / 3)) must fit 250 bytes.
pub const MAX_BINARY_KEY_LEN: usize = 186;
/// A reply line longer than this (including "\r\n") is not memcached's: [`ParseError::LineTooLong`].
pub const MAX_LINE: usize = 8192;

/// Why a request cannot be encoded. Nothing is appended to the buffer then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    EmptyKey,
    /// Over 250 bytes, or over [`MAX_BINARY_KEY_LEN`] in base64 mode.
    KeyTooLong,
    /// A space or control character in a key sent as text (use base64 mode for such keys).
    BadKeyByte(u8),
}

/// Flags of `mg`. Every field off by default (then a hit answers `HD`, a miss `EN`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetFlags {
    /// `v`: return the value (`VA <len>` + data instead of `HD`).
    pub value: bool,
    /// `k`: return the key (see the module notes on `b` + vivify).
    pub key: bool,
    /// `f`: return the client flags.
    pub client_flags: bool,
    /// `c`: return the CAS.
    pub cas: bool,
    /// `t`: return the remaining TTL (-1: never expires).
    pub ttl: bool,
    /// `s`: return the value's size.
    pub size: bool,
    /// `h`: return whether the item was hit before (0/1).
    pub hit_before: bool,
    /// `l`: return the seconds since the last access.
    pub last_access: bool,
    /// `u`: do not bump the item in the LRU.
    pub no_lru_bump: bool,
    /// `T<ttl>`: touch (update the TTL) on a hit.
    pub touch: Option<u32>,
    /// `N<ttl>`: vivify on a miss (creates an empty item, answers with `W`).
    pub vivify: Option<u32>,
    /// `R<ttl>`: win the recache (`W`) if the remaining TTL is below this.
    pub recache: Option<u32>,
    /// `q`: no `EN` on a miss.
    pub quiet: bool,
    /// `O<opaque>`: echoed in the reply.
    pub opaque: Option<u32>,
    /// `b`: the key is binary; it is sent base64-encoded.
    pub base64: bool,
}

/// `M<mode>` of `ms`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SetMode {
    #[default]
    Set,
    Add,
    Append,
    Prepend,
    Replace,
}

/// Flags of `ms`. Defaults: set, client flags 0, TTL 0 (never expires); those defaults are not
/// written to the line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetFlags {
    /// `M<E|A|P|R>` (nothing for Set).
    pub mode: SetMode,
    /// `F<flags>` (nothing for 0).
    pub client_flags: u32,
    /// `T<ttl>` (nothing for 0).
    pub ttl: u32,
    /// `C<cas>`: store only if the item's CAS is this.
    pub compare_cas: Option<u64>,
    /// `I`: with `C`, an older CAS stores the item as stale instead of failing.
    pub invalidate: bool,
    /// `c`: return the new CAS.
    pub return_cas: bool,
    /// `k`: return the key.
    pub return_key: bool,
    /// `q`: no `HD` on success.
    pub quiet: bool,
    pub opaque: Option<u32>,
    pub base64: bool,
}

/// Flags of `md`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteFlags {
    /// `C<cas>`: delete only if the item's CAS is this.
    pub compare_cas: Option<u64>,
    /// `I`: mark stale (new CAS) instead of removing.
    pub invalidate: bool,
    /// `T<ttl>`: with `I`, the stale item's new TTL.
    pub ttl: Option<u32>,
    pub return_key: bool,
    /// `q`: no `HD` on success.
    pub quiet: bool,
    pub opaque: Option<u32>,
    pub base64: bool,
}

/// `M<mode>` of `ma`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArithMode {
    #[default]
    Incr,
    Decr,
}

/// Flags of `ma`. The default increments by 1 (`D1` is always written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArithFlags {
    /// `MD` for Decr (nothing for Incr, the server's default).
    pub mode: ArithMode,
    /// `D<delta>`.
    pub delta: u64,
    /// `J<initial>`: the value created on a miss (only with `vivify_ttl`).
    pub initial: Option<u64>,
    /// `N<ttl>`: create the item on a miss.
    pub vivify_ttl: Option<u32>,
    /// `T<ttl>`: update the TTL on success.
    pub ttl: Option<u32>,
    /// `C<cas>`.
    pub compare_cas: Option<u64>,
    /// `v`: return the new value (`VA <len>` + decimal digits).
    pub return_value: bool,
    /// `c`.
    pub return_cas: bool,
    /// `t`.
    pub return_ttl: bool,
    /// `k`.
    pub return_key: bool,
    /// `q`: no `HD` on success.
    pub quiet: bool,
    pub opaque: Option<u32>,
    pub base64: bool,
}

impl Default for ArithFlags {
    fn default() -> Self {
        ArithFlags {
            mode: ArithMode::Incr,
            delta: 1,
            initial: None,
            vivify_ttl: None,
            ttl: None,
            compare_cas: None,
            return_value: false,
            return_cas: false,
            return_ttl: false,
            return_key: false,
            quiet: false,
            opaque: None,
            base64: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Checks a key; returns the length of its token on the line.
fn check_key(key: &[u8], base64: bool) -> Result<usize, EncodeError> {
    if key.is_empty() {
        return Err(EncodeError::EmptyKey);
    }
    if base64 {
        if key.len() > MAX_BINARY_KEY_LEN {
            return Err(EncodeError::KeyTooLong);
        }
        return Ok(key.len().div_ceil(3) * 4);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(EncodeError::KeyTooLong);
    }
    match key.iter().find(|&&b| b <= b' ' || b == 0x7f) {
        Some(&b) => Err(EncodeError::BadKeyByte(b)),
        None => Ok(key.len()),
    }
}

/// Standard base64 with `=` padding, appended to `out`.
fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let quad = [
            B64[(b0 >> 2) as usize],
            B64[(((b0 & 0x03) << 4) | (b1 >> 4)) as usize],
            if chunk.len() > 1 {
                B64[(((b1 & 0x0f) << 2) | (b2 >> 6)) as usize]
            } else {
                b'='
            },
            if chunk.len() > 2 {
                B64[(b2 & 0x3f) as usize]
            } else {
                b'='
            },
        ];
        out.extend_from_slice(&quad);
    }
}

/// Appends `n` in decimal, without allocating.
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// " <letter>".
fn push_flag(out: &mut Vec<u8>, letter: u8, on: bool) {
    if on {
        out.extend_from_slice(&[b' ', letter]);
    }
}

/// " <letter><n>".
fn push_num(out: &mut Vec<u8>, letter: u8, n: Option<u64>) {
    if let Some(n) = n {
        out.extend_from_slice(&[b' ', letter]);
        push_u64(out, n);
    }
}

/// "<cmd> <key>[ b]": the key checked before anything is written.
fn push_head(out: &mut Vec<u8>, cmd: &[u8; 2], key: &[u8], base64: bool, extra: usize) {
    // Room for the command, the key token and up to 16 flags with 20 digits each.
    out.reserve(3 + key.len().div_ceil(3) * 4 + 2 + extra + 16 * 22 + 2);
    out.extend_from_slice(cmd);
    out.push(b' ');
    if base64 {
        push_base64(out, key);
    } else {
        out.extend_from_slice(key);
    }
}

/// `mg <key> <flags>*\r\n`. Flags are written in the order b v k f c t s h l u T N R q O.
pub fn encode_get(out: &mut Vec<u8>, key: &[u8], f: &GetFlags) -> Result<(), EncodeError> {
    check_key(key, f.base64)?;
    push_head(out, b"mg", key, f.base64, 0);
    push_flag(out, b'b', f.base64);
    push_flag(out, b'v', f.value);
    push_flag(out, b'k', f.key);
    push_flag(out, b'f', f.client_flags);
    push_flag(out, b'c', f.cas);
    push_flag(out, b't', f.ttl);
    push_flag(out, b's', f.size);
    push_flag(out, b'h', f.hit_before);
    push_flag(out, b'l', f.last_access);
    push_flag(out, b'u', f.no_lru_bump);
    push_num(out, b'T', f.touch.map(u64::from));
    push_num(out, b'N', f.vivify.map(u64::from));
    push_num(out, b'R', f.recache.map(u64::from));
    push_flag(out, b'q', f.quiet);
    push_num(out, b'O', f.opaque.map(u64::from));
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `ms <key> <datalen> <flags>*\r\n<data>\r\n`. Flags in the order b M F T C I c k q O.
pub fn encode_set(
    out: &mut Vec<u8>,
    key: &[u8],
    value: &[u8],
    f: &SetFlags,
) -> Result<(), EncodeError> {
    check_key(key, f.base64)?;
    push_head(out, b"ms", key, f.base64, value.len() + 2);
    out.push(b' ');
    push_u64(out, value.len() as u64);
    push_flag(out, b'b', f.base64);
    let mode = match f.mode {
        SetMode::Set => None,
        SetMode::Add => Some(b'E'),
        SetMode::Append => Some(b'A'),
        SetMode::Prepend => Some(b'P'),
        SetMode::Replace => Some(b'R'),
    };
    if let Some(m) = mode {
        out.extend_from_slice(&[b' ', b'M', m]);
    }
    push_num(
        out,
        b'F',
        (f.client_flags != 0).then_some(u64::from(f.client_flags)),
    );
    push_num(out, b'T', (f.ttl != 0).then_some(u64::from(f.ttl)));
    push_num(out, b'C', f.compare_cas);
    push_flag(out, b'I', f.invalidate);
    push_flag(out, b'c', f.return_cas);
    push_flag(out, b'k', f.return_key);
    push_flag(out, b'q', f.quiet);
    push_num(out, b'O', f.opaque.map(u64::from));
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `md <key> <flags>*\r\n`. Flags in the order b C I T k q O.
pub fn encode_delete(out: &mut Vec<u8>, key: &[u8], f: &DeleteFlags) -> Result<(), EncodeError> {
    check_key(key, f.base64)?;
    push_head(out, b"md", key, f.base64, 0);
    push_flag(out, b'b', f.base64);
    push_num(out, b'C', f.compare_cas);
    push_flag(out, b'I', f.invalidate);
    push_num(out, b'T', f.ttl.map(u64::from));
    push_flag(out, b'k', f.return_key);
    push_flag(out, b'q', f.quiet);
    push_num(out, b'O', f.opaque.map(u64::from));
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `ma <key> <flags>*\r\n`. Flags in the order b MD D J N T C v c t k q O.
pub fn encode_arith(out: &mut Vec<u8>, key: &[u8], f: &ArithFlags) -> Result<(), EncodeError> {
    check_key(key, f.base64)?;
    push_head(out, b"ma", key, f.base64, 0);
    push_flag(out, b'b', f.base64);
    if f.mode == ArithMode::Decr {
        out.extend_from_slice(b" MD");
    }
    push_num(out, b'D', Some(f.delta));
    push_num(out, b'J', f.initial);
    push_num(out, b'N', f.vivify_ttl.map(u64::from));
    push_num(out, b'T', f.ttl.map(u64::from));
    push_num(out, b'C', f.compare_cas);
    push_flag(out, b'v', f.return_value);
    push_flag(out, b'c', f.return_cas);
    push_flag(out, b't', f.return_ttl);
    push_flag(out, b'k', f.return_key);
    push_flag(out, b'q', f.quiet);
    push_num(out, b'O', f.opaque.map(u64::from));
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `mn\r\n`: answered by `MN`, after everything sent before it (closes a quiet pipeline).
pub fn encode_noop(out: &mut Vec<u8>) {
    out.extend_from_slice(b"mn\r\n");
}

/// `me <key>\r\n`: answered by `ME <key> exp=.. la=.. cas=.. fetch=.. cls=.. size=..` or `EN`.
pub fn encode_debug(out: &mut Vec<u8>, key: &[u8]) -> Result<(), EncodeError> {
    check_key(key, false)?;
    push_head(out, b"me", key, false, 0);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `me <base64 key> b\r\n` for a binary key (the `ME` line shows the key base64-encoded).
pub fn encode_debug_base64(out: &mut Vec<u8>, key: &[u8]) -> Result<(), EncodeError> {
    check_key(key, true)?;
    push_head(out, b"me", key, true, 0);
    out.extend_from_slice(b" b\r\n");
    Ok(())
}

/// Decodes a key returned base64-encoded (`k` with `b`) into `out`; returns its length, or
/// None if `encoded` is not base64 (standard alphabet, padding optional) or decodes to more than
/// 250 bytes.
pub fn decode_base64_key(encoded: &[u8], out: &mut [u8; MAX_KEY_LEN]) -> Option<usize> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    // Strip up to two '=' of padding, which must then complete a 4-character group.
    let mut data = encoded;
    let mut pad = 0;
    while pad < 2 && data.last() == Some(&b'=') {
        data = &data[..data.len() - 1];
        pad += 1;
    }
    if pad > 0 && encoded.len() % 4 != 0 {
        return None;
    }
    if data.len() % 4 == 1 {
        return None;
    }
    let len = data.len() / 4 * 3 + (data.len() % 4).saturating_sub(1);
    if len > MAX_KEY_LEN {
        return None;
    }
    let mut n = 0;
    for chunk in data.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | value(c)?;
        }
        acc <<= 6 * (4 - chunk.len() as u32);
        let bytes = acc.to_be_bytes();
        let produce = chunk.len() - 1;
        // Bits below the produced bytes must be zero (canonical encoding).
        if produce < 3 && bytes[1 + produce..].iter().any(|&b| b != 0) {
            return None;
        }
        out[n..n + produce].copy_from_slice(&bytes[1..1 + produce]);
        n += produce;
    }
    Some(n)
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// The two-letter code of a meta reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// `VA <len>`: a value follows (mg with `v`, ma with `v`).
    Va,
    /// Success without a value (stored, deleted, hit without `v`, counter updated).
    Hd,
    /// Miss (mg, me).
    En,
    /// Not stored (ms add/replace/append/prepend, ma auto-create failed).
    Ns,
    /// CAS mismatch.
    Ex,
    /// Not found (ms with C, md, ma).
    Nf,
    /// Answer to `mn`.
    Mn,
    /// Answer to `me`: the line's text is in `data`.
    Me,
}

/// Flags returned on a meta reply line. Unknown flags are skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReturnFlags<'a> {
    /// `O`: the opaque sent (only numeric opaques are parsed; see [`ParseError::BadFlag`]).
    pub opaque: Option<u32>,
    /// `k`: the key as the server shows it; base64 if `key_is_base64`.
    pub key: Option<&'a [u8]>,
    /// `b`: `key` is base64 ([`decode_base64_key`]).
    pub key_is_base64: bool,
    /// `c`.
    pub cas: Option<u64>,
    /// `f`.
    pub client_flags: Option<u32>,
    /// `t`: seconds left, -1 = never expires.
    pub ttl: Option<i64>,
    /// `s`.
    pub size: Option<u64>,
    /// `h`: hit before.
    pub hit_before: Option<bool>,
    /// `l`: seconds since the last access.
    pub last_access: Option<u64>,
    /// `W`: this client won the right to recache.
    pub won: bool,
    /// `X`: the item is stale.
    pub stale: bool,
    /// `Z`: another client already won.
    pub lost: bool,
}

/// A reply with a two-letter code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaReply<'a> {
    pub code: Code,
    /// VA: the value (without its "\r\n"); ME: the rest of the line after "ME "; else empty.
    pub data: &'a [u8],
    pub flags: ReturnFlags<'a>,
}

/// One reply line (and its data block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    Meta(MetaReply<'a>),
    /// `ERROR` (unknown command, e.g. a server without meta commands; also a data block the
    /// server read as a command after a CLIENT_ERROR). Any text after "ERROR " is dropped.
    Error,
    /// `CLIENT_ERROR <msg>`: the message. Carries no opaque or key.
    ClientError(&'a [u8]),
    /// `SERVER_ERROR <msg>`: the message. Carries no opaque or key.
    ServerError(&'a [u8]),
}

/// Why received bytes cannot be a meta reply stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// [`MAX_LINE`] bytes without "\n".
    LineTooLong,
    /// A line ending in "\n" without "\r".
    BadLineEnd,
    /// A line that is not a meta reply nor ERROR / CLIENT_ERROR / SERVER_ERROR: possibly a
    /// text-protocol answer (`VERSION 1.6.18`, `STORED`, `END`, ...) — try the text parser.
    Unexpected,
    /// `VA` without a decimal length (digits only).
    BadLength,
    /// `VA` with a length over `MAX_SANE_BODY` (saturated at u64::MAX).
    BodyTooLarge(u64),
    /// A VA data block not followed by "\r\n".
    BadDataEnd,
    /// A known return flag (the letter) with a malformed number.
    BadFlag(u8),
}

/// What `parse_reply` found at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// At least this many bytes in total (from the start of the buffer) are needed; always more
    /// than the buffer holds.
    Need(usize),
    /// One reply occupying the first `len` bytes.
    Reply { reply: Reply<'a>, len: usize },
}

/// A reply's line, parsed without its data block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head<'a> {
    /// The reply; for VA, `data` is empty.
    pub reply: Reply<'a>,
    /// Bytes of the line including "\r\n".
    pub line_len: usize,
    /// VA: bytes of the value (not counting its "\r\n"); otherwise 0.
    pub data_len: usize,
}

impl Head<'_> {
    /// Bytes the whole reply occupies: the line, and for VA the value and its "\r\n". Cannot
    /// overflow, even on 32-bit targets: lines are at most 8 KiB and values at most
    /// `MAX_SANE_BODY`.
    pub fn total_len(&self) -> usize {
        match self.reply {
            Reply::Meta(MetaReply { code: Code::Va, .. }) => self.line_len + self.data_len + 2,
            _ => self.line_len,
        }
    }
}

/// What `parse_head` found at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParsedHead<'a> {
    /// More bytes are needed for the line (at least this many in total).
    Need(usize),
    Head(Head<'a>),
}

/// Parses only the reply line at the start of `buf`. This is how the engine deals with a value
/// larger than its receive limit: `parse_reply` answers `Need(n)` with n over the limit; then
/// `parse_head` gives the reply's flags (opaque, key) and `total_len()`; the engine reports the
/// reply as too large and discards `total_len()` bytes as they arrive, without buffering them.
pub fn parse_head(buf: &[u8]) -> Result<ParsedHead<'_>, ParseError> {
    let window = &buf[..buf.len().min(MAX_LINE)];
    let nl = match window.iter().position(|&b| b == b'\n') {
        Some(nl) => nl,
        None if buf.len() >= MAX_LINE => return Err(ParseError::LineTooLong),
        None => return Ok(ParsedHead::Need(buf.len() + 1)),
    };
    if nl == 0 || buf[nl - 1] != b'\r' {
        return Err(ParseError::BadLineEnd);
    }
    let line = &buf[..nl - 1];
    let line_len = nl + 1;
    let (code, rest) = match line.iter().position(|&b| b == b' ') {
        Some(sp) => (&line[..sp], &line[sp + 1..]),
        None => (line, &line[line.len()..]),
    };
    let code = match code {
        b"VA" => Code::Va,
        b"HD" => Code::Hd,
        b"EN" => Code::En,
        b"NS" => Code::Ns,
        b"EX" => Code::Ex,
        b"NF" => Code::Nf,
        b"MN" => Code::Mn,
        b"ME" => Code::Me,
        b"ERROR" => return Ok(head(Reply::Error, line_len)),
        b"CLIENT_ERROR" => return Ok(head(Reply::ClientError(rest), line_len)),
        b"SERVER_ERROR" => return Ok(head(Reply::ServerError(rest), line_len)),
        _ => return Err(ParseError::Unexpected),
    };
    if code == Code::Me {
        let reply = MetaReply {
            code,
            data: rest,
            flags: ReturnFlags::default(),
        };
        return Ok(head(Reply::Meta(reply), line_len));
    }
    let (data_len, flags) = if code == Code::Va {
        let (len, flags) = match rest.iter().position(|&b| b == b' ') {
            Some(sp) => (&rest[..sp], &rest[sp + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let len = parse_length(len)?;
        (len, flags)
    } else {
        (0, rest)
    };
    let reply = MetaReply {
        code,
        data: &[],
        flags: parse_flags(flags)?,
    };
    Ok(ParsedHead::Head(Head {
        reply: Reply::Meta(reply),
        line_len,
        data_len,
    }))
}

fn head(reply: Reply<'_>, line_len: usize) -> ParsedHead<'_> {
    ParsedHead::Head(Head {
        reply,
        line_len,
        data_len: 0,
    })
}

/// Looks at the start of `buf`: either one complete reply (line and, for VA, data and "\r\n"),
/// or how many bytes are needed in total. The caller decides whether a needed length exceeds
/// its receive limit (see [`parse_head`] to skip such a value).
///
/// Returns [`ParseError::Unexpected`] for a line it does not know (e.g. `VERSION 1.6.18`
/// answering a text `version` on the same connection): the engine may try the text parser.
pub fn parse_reply(buf: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let h = match parse_head(buf)? {
        ParsedHead::Need(n) => return Ok(Parsed::Need(n)),
        ParsedHead::Head(h) => h,
    };
    let len = h.total_len();
    let reply = match h.reply {
        Reply::Meta(mut m) if m.code == Code::Va => {
            if buf.len() < len {
                return Ok(Parsed::Need(len));
            }
            if &buf[len - 2..len] != b"\r\n" {
                return Err(ParseError::BadDataEnd);
            }
            m.data = &buf[h.line_len..len - 2];
            Reply::Meta(m)
        }
        other => other,
    };
    Ok(Parsed::Reply { reply, len })
}

/// A VA length: 1 to 20 digits, at most `MAX_SANE_BODY`.
fn parse_length(token: &[u8]) -> Result<usize, ParseError> {
    if token.is_empty() || !token.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadLength);
    }
    let n = token.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    if n > u64::from(MAX_SANE_BODY) {
        return Err(ParseError::BodyTooLarge(n));
    }
    // At most MAX_SANE_BODY (< 2^31): fits a usize on every target.
    Ok(n as usize)
}

/// Unsigned decimal, digits only, no overflow.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn parse_i64(token: &[u8]) -> Option<i64> {
    match token.split_first() {
        Some((b'-', digits)) => {
            let n = parse_u64(digits)?;
            // -(2^63) is the only magnitude above i64::MAX that fits.
            0i64.checked_sub_unsigned(n)
        }
        _ => i64::try_from(parse_u64(token)?).ok(),
    }
}

fn parse_flags(tokens: &[u8]) -> Result<ReturnFlags<'_>, ParseError> {
    let mut f = ReturnFlags::default();
    for token in tokens.split(|&b| b == b' ') {
        let Some((&letter, arg)) = token.split_first() else {
            continue; // doubled space
        };
        let bad = ParseError::BadFlag(letter);
        match letter {
            // A second id or key would make the answer fit two requests: refused.
            b'O' if f.opaque.is_none() => {
                f.opaque = Some(parse_u64(arg).and_then(|n| n.try_into().ok()).ok_or(bad)?)
            }
            b'k' if f.key.is_none() => f.key = Some(arg),
            b'O' | b'k' => return Err(bad),
            b'b' if arg.is_empty() => f.key_is_base64 = true,
            b'c' => f.cas = Some(parse_u64(arg).ok_or(bad)?),
            b'f' => {
                f.client_flags = Some(parse_u64(arg).and_then(|n| n.try_into().ok()).ok_or(bad)?)
            }
            b't' => f.ttl = Some(parse_i64(arg).ok_or(bad)?),
            b's' => f.size = Some(parse_u64(arg).ok_or(bad)?),
            b'h' => {
                f.hit_before = Some(match arg {
                    b"0" => false,
                    b"1" => true,
                    _ => return Err(bad),
                })
            }
            b'l' => f.last_access = Some(parse_u64(arg).ok_or(bad)?),
            b'W' if arg.is_empty() => f.won = true,
            b'X' if arg.is_empty() => f.stale = true,
            b'Z' if arg.is_empty() => f.lost = true,
            _ => {} // unknown: skipped
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        out
    }

    fn meta(bytes: &[u8]) -> (MetaReply<'_>, usize) {
        match parse_reply(bytes).unwrap() {
            Parsed::Reply {
                reply: Reply::Meta(m),
                len,
            } => (m, len),
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(bytes)),
        }
    }

    /// Every proper prefix asks for more bytes (Need(n), prefix < n <= whole); the whole is one
    /// reply of exactly its length, also with trailing bytes of a next reply.
    fn check_split(bytes: &[u8]) -> Reply<'_> {
        let total = bytes.len();
        let step = if total > 100_000 { 997 } else { 1 };
        let cuts = (0..total)
            .step_by(step)
            .chain(total.saturating_sub(20)..total);
        for cut in cuts {
            match parse_reply(&bytes[..cut]) {
                Ok(Parsed::Need(n)) => assert!(n > cut && n <= total, "Need({n}) at {cut}/{total}"),
                other => panic!("{other:?} for a {cut}-byte prefix of {total}"),
            }
        }
        let mut longer = bytes.to_vec();
        longer.extend_from_slice(b"MN\r\n");
        match parse_reply(&longer) {
            Ok(Parsed::Reply { len, .. }) => assert_eq!(len, total),
            other => panic!("{other:?}"),
        }
        match parse_reply(bytes) {
            Ok(Parsed::Reply { reply, len }) => {
                assert_eq!(len, total);
                reply
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn encodes_get() {
        assert_eq!(
            enc(|o| encode_get(o, b"foo", &GetFlags::default())),
            b"mg foo\r\n"
        );
        let all = GetFlags {
            value: true,
            key: true,
            client_flags: true,
            cas: true,
            ttl: true,
            size: true,
            hit_before: true,
            last_access: true,
            no_lru_bump: true,
            touch: Some(30),
            vivify: Some(0),
            recache: Some(5),
            quiet: true,
            opaque: Some(u32::MAX),
            base64: false,
        };
        assert_eq!(
            enc(|o| encode_get(o, b"foo", &all)),
            b"mg foo v k f c t s h l u T30 N0 R5 q O4294967295\r\n"
        );
        let b = GetFlags {
            value: true,
            base64: true,
            opaque: Some(0),
            ..GetFlags::default()
        };
        assert_eq!(
            enc(|o| encode_get(o, &[0, 1, 2, 255], &b)),
            b"mg AAEC/w== b v O0\r\n"
        );
    }

    #[test]
    fn encodes_set() {
        assert_eq!(
            enc(|o| encode_set(o, b"k", b"hello", &SetFlags::default())),
            b"ms k 5\r\nhello\r\n"
        );
        for (mode, m) in [
            (SetMode::Add, "ME"),
            (SetMode::Append, "MA"),
            (SetMode::Prepend, "MP"),
            (SetMode::Replace, "MR"),
        ] {
            let f = SetFlags {
                mode,
                ..SetFlags::default()
            };
            let want = format!("ms k 0 {m}\r\n\r\n");
            assert_eq!(enc(|o| encode_set(o, b"k", b"", &f)), want.as_bytes());
        }
        let f = SetFlags {
            mode: SetMode::Replace,
            client_flags: 7,
            ttl: 100,
            compare_cas: Some(u64::MAX),
            invalidate: true,
            return_cas: true,
            return_key: true,
            quiet: true,
            opaque: Some(12),
            base64: true,
        };
        assert_eq!(
            enc(|o| encode_set(o, b"a b\r\nc", b"x\r\ny", &f)),
            b"ms YSBiDQpj 4 b MR F7 T100 C18446744073709551615 I c k q O12\r\nx\r\ny\r\n"
        );
    }

    #[test]
    fn encodes_delete_arith_noop_debug() {
        assert_eq!(
            enc(|o| encode_delete(o, b"k", &DeleteFlags::default())),
            b"md k\r\n"
        );
        let f = DeleteFlags {
            compare_cas: Some(9),
            invalidate: true,
            ttl: Some(30),
            return_key: true,
            quiet: true,
            opaque: Some(3),
            base64: true,
        };
        assert_eq!(
            enc(|o| encode_delete(o, b"foo", &f)),
            b"md Zm9v b C9 I T30 k q O3\r\n"
        );
        assert_eq!(
            enc(|o| encode_arith(o, b"n", &ArithFlags::default())),
            b"ma n D1\r\n"
        );
        let f = ArithFlags {
            mode: ArithMode::Decr,
            delta: 0,
            initial: Some(10),
            vivify_ttl: Some(60),
            ttl: Some(70),
            compare_cas: Some(1),
            return_value: true,
            return_cas: true,
            return_ttl: true,
            return_key: true,
            quiet: true,
            opaque: Some(8),
            base64: false,
        };
        assert_eq!(
            enc(|o| encode_arith(o, b"n", &f)),
            b"ma n MD D0 J10 N60 T70 C1 v c t k q O8\r\n"
        );
        let mut out = b"xx".to_vec();
        encode_noop(&mut out);
        assert_eq!(out, b"xxmn\r\n");
        assert_eq!(enc(|o| encode_debug(o, b"foo")), b"me foo\r\n");
        assert_eq!(enc(|o| encode_debug_base64(o, b"foo")), b"me Zm9v b\r\n");
    }

    #[test]
    fn numbers_are_formatted() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            12345,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn bad_keys_are_refused_and_nothing_is_written() {
        let long = [b'a'; 251];
        let cases: [(&[u8], bool, EncodeError); 8] = [
            (b"", false, EncodeError::EmptyKey),
            (b"", true, EncodeError::EmptyKey),
            (&long, false, EncodeError::KeyTooLong),
            (&long[..187], true, EncodeError::KeyTooLong),
            (b"a b", false, EncodeError::BadKeyByte(b' ')),
            (b"a\r\n", false, EncodeError::BadKeyByte(b'\r')),
            (b"\x7f", false, EncodeError::BadKeyByte(0x7f)),
            (b"a\0", false, EncodeError::BadKeyByte(0)),
        ];
        for (key, base64, err) in cases {
            let mut out = b"keep".to_vec();
            let g = GetFlags {
                base64,
                ..GetFlags::default()
            };
            assert_eq!(encode_get(&mut out, key, &g), Err(err));
            let s = SetFlags {
                base64,
                ..SetFlags::default()
            };
            assert_eq!(encode_set(&mut out, key, b"v", &s), Err(err));
            let d = DeleteFlags {
                base64,
                ..DeleteFlags::default()
            };
            assert_eq!(encode_delete(&mut out, key, &d), Err(err));
            let a = ArithFlags {
                base64,
                ..ArithFlags::default()
            };
            assert_eq!(encode_arith(&mut out, key, &a), Err(err));
            if !base64 {
                assert_eq!(encode_debug(&mut out, key), Err(err));
            }
            assert_eq!(out, b"keep");
        }
        // Limits themselves are fine; UTF-8 and binary keys work (binary via base64).
        let mut out = Vec::new();
        encode_get(&mut out, &long[..250], &GetFlags::default()).unwrap();
        encode_get(&mut out, "clé".as_bytes(), &GetFlags::default()).unwrap();
        let g = GetFlags {
            base64: true,
            ..GetFlags::default()
        };
        encode_get(&mut out, &[b' '; 186], &g).unwrap();
        let line = &out[out.len() - 3 - 248 - 4..];
        assert!(line.starts_with(b"mg "));
        assert!(line.ends_with(b" b\r\n"));
    }

    #[test]
    fn base64_round_trips() {
        let mut dec = [0u8; MAX_KEY_LEN];
        for (raw, b64) in [
            (&b"foo"[..], &b"Zm9v"[..]),
            (&[0, 1, 2, 255], b"AAEC/w=="),
            (b"a b\r\nc", b"YSBiDQpj"),
            (b"nokey", b"bm9rZXk="),
            (&[0xfb, 0xff], b"+/8="),
        ] {
            let mut out = Vec::new();
            push_base64(&mut out, raw);
            assert_eq!(out, b64);
            let n = decode_base64_key(b64, &mut dec).unwrap();
            assert_eq!(&dec[..n], raw);
        }
        // Every length up to 187, with all byte values; padding optional when decoding.
        let bytes: Vec<u8> = (0..=255u8).cycle().skip(7).take(187).collect();
        for len in 0..=187 {
            let mut out = Vec::new();
            push_base64(&mut out, &bytes[..len]);
            assert_eq!(out.len(), len.div_ceil(3) * 4);
            let n = decode_base64_key(&out, &mut dec).unwrap();
            assert_eq!(&dec[..n], &bytes[..len]);
            while out.last() == Some(&b'=') {
                out.pop();
            }
            let n = decode_base64_key(&out, &mut dec).unwrap();
            assert_eq!(&dec[..n], &bytes[..len]);
        }
        // 250 decoded bytes fit, 251 do not.
        let mut out = Vec::new();
        push_base64(&mut out, &[0xaa; 251]);
        assert_eq!(decode_base64_key(&out, &mut dec), None);
        out.clear();
        push_base64(&mut out, &[0xaa; 250]);
        assert_eq!(decode_base64_key(&out, &mut dec), Some(250));
        for bad in [
            &b"A"[..],
            b"AAAAA",
            b"A===",
            b"AA=",
            b"AAA==",
            b"AAAA====",
            b"AA==AAAA",
            b"Zm9v!",
            b"Zm 9v",
            b"AB==",
            b"AAB=",
        ] {
            assert_eq!(decode_base64_key(bad, &mut dec), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_value_with_flags() {
        let bytes = b"VA 3 kfoo f5 c1 t-1 s3 O1 h1 l42 W X Z b\r\nbar\r\n";
        let reply = check_split(bytes);
        let Reply::Meta(m) = reply else { panic!() };
        assert_eq!(m.code, Code::Va);
        assert_eq!(m.data, b"bar");
        assert_eq!(
            m.flags,
            ReturnFlags {
                opaque: Some(1),
                key: Some(b"foo"),
                key_is_base64: true,
                cas: Some(1),
                client_flags: Some(5),
                ttl: Some(-1),
                size: Some(3),
                hit_before: Some(true),
                last_access: Some(42),
                won: true,
                stale: true,
                lost: true,
            }
        );
        // The data slice borrows the value's bytes in place.
        assert_eq!(m.data.as_ptr(), bytes[bytes.len() - 5..].as_ptr());
    }

    #[test]
    fn parses_every_code() {
        let cases: [(&[u8], Code); 9] = [
            (b"HD\r\n", Code::Hd),
            (b"HD c11 kZm9v b O4294967295\r\n", Code::Hd),
            (b"EN\r\n", Code::En),
            (b"EN knokey O1\r\n", Code::En),
            (b"NS knokey2 O7\r\n", Code::Ns),
            (b"EX O3\r\n", Code::Ex),
            (b"NF O2 knokey4\r\n", Code::Nf),
            (b"MN\r\n", Code::Mn),
            (
                b"ME foo exp=-1 la=1 cas=1 fetch=yes cls=1 size=69\r\n",
                Code::Me,
            ),
        ];
        for (bytes, code) in cases {
            let Reply::Meta(m) = check_split(bytes) else {
                panic!()
            };
            assert_eq!(m.code, code);
            if code == Code::Me {
                assert_eq!(m.data, b"foo exp=-1 la=1 cas=1 fetch=yes cls=1 size=69");
            } else {
                assert!(m.data.is_empty());
            }
        }
        let (m, _) = meta(b"EN knokey O1\r\n");
        assert_eq!(m.flags.key, Some(&b"nokey"[..]));
        assert_eq!(m.flags.opaque, Some(1));
        let (m, _) = meta(b"HD c11 kZm9v b O4294967295\r\n");
        assert_eq!(m.flags.cas, Some(11));
        assert!(m.flags.key_is_base64);
        assert_eq!(m.flags.opaque, Some(u32::MAX));
        let (m, _) = meta(b"ME\r\n");
        assert_eq!((m.code, m.data), (Code::Me, &b""[..]));

        assert_eq!(check_split(b"ERROR\r\n"), Reply::Error);
        assert_eq!(
            check_split(b"ERROR cannot pipeline other commands before metadump\r\n"),
            Reply::Error
        );
        assert_eq!(
            check_split(b"CLIENT_ERROR invalid flag\r\n"),
            Reply::ClientError(b"invalid flag")
        );
        assert_eq!(check_split(b"CLIENT_ERROR\r\n"), Reply::ClientError(b""));
        assert_eq!(
            check_split(b"SERVER_ERROR object too large for cache\r\n"),
            Reply::ServerError(b"object too large for cache")
        );
    }

    #[test]
    fn values_empty_large_and_with_crlf_inside() {
        let Reply::Meta(m) = check_split(b"VA 0 W\r\n\r\n") else {
            panic!()
        };
        assert_eq!((m.data, m.flags.won), (&b""[..], true));
        let Reply::Meta(m) = check_split(b"VA 7 O9\r\n\r\nx\r\n\r\n\r\n") else {
            panic!()
        };
        assert_eq!(m.data, b"\r\nx\r\n\r\n");
        let mut big = b"VA 1000000 s1000000\r\n".to_vec();
        let start = big.len();
        big.extend((0..1_000_000u32).map(|i| (i % 251) as u8));
        big.extend_from_slice(b"\r\n");
        assert_eq!(parse_reply(&big[..start]), Ok(Parsed::Need(big.len())));
        assert_eq!(parse_reply(&big[..start + 5]), Ok(Parsed::Need(big.len())));
        let Reply::Meta(m) = check_split(&big) else {
            panic!()
        };
        assert_eq!(m.data.len(), 1_000_000);
        assert_eq!(m.data, &big[start..big.len() - 2]);
        assert_eq!(m.flags.size, Some(1_000_000));
    }

    #[test]
    fn a_stream_of_replies() {
        let stream = b"VA 2 O1\r\nhi\r\nHD O2\r\nEN O3\r\nCLIENT_ERROR bad\r\nMN\r\n";
        let mut rest = &stream[..];
        let mut codes = Vec::new();
        while !rest.is_empty() {
            let Parsed::Reply { reply, len } = parse_reply(rest).unwrap() else {
                panic!()
            };
            codes.push(match reply {
                Reply::Meta(m) => format!("{:?}{:?}", m.code, m.flags.opaque),
                other => format!("{other:?}"),
            });
            rest = &rest[len..];
        }
        assert_eq!(
            codes,
            [
                "VaSome(1)",
                "HdSome(2)",
                "EnSome(3)",
                "ClientError([98, 97, 100])",
                "MnNone"
            ]
        );
        assert_eq!(parse_reply(b""), Ok(Parsed::Need(1)));
    }

    #[test]
    fn unknown_flags_are_skipped() {
        let (m, len) = meta(b"HD Q5 zz  c1 bogus= W7 b64 O2 \r\n");
        assert_eq!(len, 32);
        assert_eq!(m.flags.cas, Some(1));
        assert_eq!(m.flags.opaque, Some(2));
        assert!(!m.flags.won && !m.flags.key_is_base64);
        // The key token is taken as is, whatever its bytes (an empty key too).
        let (m, _) = meta(b"HD k\xff\x00\r\n");
        assert_eq!(m.flags.key, Some(&b"\xff\x00"[..]));
        let (m, _) = meta(b"HD k\r\n");
        assert_eq!(m.flags.key, Some(&b""[..]));
    }

    #[test]
    fn text_lines_are_unexpected() {
        for line in [
            &b"VERSION 1.6.18\r\n"[..],
            b"VALUE foo 0 3\r\nbar\r\nEND\r\n",
            b"END\r\n",
            b"STORED\r\n",
            b"HDX\r\n",
            b"hd\r\n",
            b"\r\n",
            b" HD\r\n",
            b"ERRORS\r\n",
            b"123\r\n",
            b"\0\r\n",
        ] {
            assert_eq!(parse_reply(line), Err(ParseError::Unexpected), "{line:?}");
        }
    }

    #[test]
    fn garbage_and_truncation() {
        use ParseError::*;
        let cases: [(&[u8], ParseError); 18] = [
            (b"HD\n", BadLineEnd),
            (b"\n", BadLineEnd),
            (b"VA\r\n", BadLength),
            (b"VA \r\n", BadLength),
            (b"VA x\r\n", BadLength),
            (b"VA -1\r\n", BadLength),
            (b"VA +1\r\n", BadLength),
            (b"VA 1x\r\n", BadLength),
            (b"VA 3\r\nbarXX", BadDataEnd),
            (b"VA 3\r\nbar\n\r", BadDataEnd),
            (b"HD c12x\r\n", BadFlag(b'c')),
            (b"HD Oabc\r\n", BadFlag(b'O')),
            (b"HD O4294967296\r\n", BadFlag(b'O')),
            (b"HD f4294967296\r\n", BadFlag(b'f')),
            (b"HD t9223372036854775808\r\n", BadFlag(b't')),
            (b"HD s18446744073709551616\r\n", BadFlag(b's')),
            (b"HD h2\r\n", BadFlag(b'h')),
            (b"EN l\r\n", BadFlag(b'l')),
        ];
        for (bytes, err) in cases {
            assert_eq!(parse_reply(bytes), Err(err), "{bytes:?}");
        }
        let (m, _) = meta(b"HD t-9223372036854775808 t-1\r\n");
        assert_eq!(m.flags.ttl, Some(-1));
        let (m, _) = meta(b"HD t-9223372036854775808\r\n");
        assert_eq!(m.flags.ttl, Some(i64::MIN));
        assert_eq!(
            parse_reply(b"HD t-9223372036854775809\r\n"),
            Err(BadFlag(b't'))
        );
    }

    #[test]
    fn huge_lengths() {
        let max = u64::from(MAX_SANE_BODY);
        let line = format!("VA {max} O1\r\n");
        let want = line.len() + max as usize + 2;
        assert_eq!(parse_reply(line.as_bytes()), Ok(Parsed::Need(want)));
        let ParsedHead::Head(h) = parse_head(line.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(h.total_len(), want);
        assert_eq!((h.line_len, h.data_len), (line.len(), max as usize));
        let Reply::Meta(m) = h.reply else { panic!() };
        assert_eq!(m.flags.opaque, Some(1));
        for n in [
            max + 1,
            u64::from(u32::MAX) - 1,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let line = format!("VA {n}\r\n");
            assert_eq!(
                parse_reply(line.as_bytes()),
                Err(ParseError::BodyTooLarge(n))
            );
        }
        assert_eq!(
            parse_reply(b"VA 99999999999999999999999999\r\n"),
            Err(ParseError::BodyTooLarge(u64::MAX))
        );
        assert_eq!(
            parse_reply(b"VA 0000000000000000000000000000000003\r\nabc\r\n")
                .map(|p| matches!(p, Parsed::Reply { len: 44, .. })),
            Ok(true)
        );
    }

    #[test]
    fn long_lines() {
        let mut line = vec![b'H'; MAX_LINE - 1];
        assert_eq!(parse_reply(&line), Ok(Parsed::Need(MAX_LINE)));
        line.push(b'D');
        assert_eq!(parse_reply(&line), Err(ParseError::LineTooLong));
        line.extend_from_slice(b"\r\n");
        assert_eq!(parse_reply(&line), Err(ParseError::LineTooLong));
        // The longest accepted line: 8192 bytes with its "\r\n".
        let mut line = b"HD k".to_vec();
        line.resize(MAX_LINE - 2, b'a');
        line.extend_from_slice(b"\r\n");
        let (m, len) = meta(&line);
        assert_eq!(len, MAX_LINE);
        assert_eq!(m.flags.key.map(<[u8]>::len), Some(MAX_LINE - 6));
        line.insert(4, b'a');
        assert_eq!(parse_reply(&line), Err(ParseError::LineTooLong));
    }
}
