//! The memcached binary protocol as data: header layout, opcodes, status codes, request encoding
//! into a caller's buffer and incremental response parsing. No I/O and no allocation per frame.

/// Size of every request and response header.
pub const HEADER_LEN: usize = 24;
pub const REQUEST_MAGIC: u8 = 0x80;
pub const RESPONSE_MAGIC: u8 = 0x81;
/// The longest key memcached accepts.
pub const MAX_KEY_LEN: usize = 250;

/// Opcodes used by the OMcache API (binary-protocol.md).
pub mod opcode {
    pub const GET: u8 = 0x00;
    pub const SET: u8 = 0x01;
    pub const ADD: u8 = 0x02;
    pub const REPLACE: u8 = 0x03;
    pub const DELETE: u8 = 0x04;
    pub const INCREMENT: u8 = 0x05;
    pub const DECREMENT: u8 = 0x06;
    pub const QUIT: u8 = 0x07;
    pub const FLUSH: u8 = 0x08;
    pub const GETQ: u8 = 0x09;
    pub const NOOP: u8 = 0x0a;
    pub const VERSION: u8 = 0x0b;
    pub const GETK: u8 = 0x0c;
    pub const GETKQ: u8 = 0x0d;
    pub const APPEND: u8 = 0x0e;
    pub const PREPEND: u8 = 0x0f;
    pub const STAT: u8 = 0x10;
    pub const SETQ: u8 = 0x11;
    pub const ADDQ: u8 = 0x12;
    pub const REPLACEQ: u8 = 0x13;
    pub const DELETEQ: u8 = 0x14;
    pub const INCREMENTQ: u8 = 0x15;
    pub const DECREMENTQ: u8 = 0x16;
    pub const QUITQ: u8 = 0x17;
    pub const FLUSHQ: u8 = 0x18;
    pub const APPENDQ: u8 = 0x19;
    pub const PREPENDQ: u8 = 0x1a;
    pub const VERBOSITY: u8 = 0x1b;
    pub const TOUCH: u8 = 0x1c;
    pub const GAT: u8 = 0x1d;
    pub const GATQ: u8 = 0x1e;
    pub const SASL_LIST_MECHS: u8 = 0x20;
    pub const SASL_AUTH: u8 = 0x21;
    pub const SASL_STEP: u8 = 0x22;
    pub const GATK: u8 = 0x23;
    pub const GATKQ: u8 = 0x24;
}

/// Response status codes of the binary protocol.
pub mod status {
    pub const NO_ERROR: u16 = 0x0000;
    pub const KEY_NOT_FOUND: u16 = 0x0001;
    pub const KEY_EXISTS: u16 = 0x0002;
    pub const VALUE_TOO_LARGE: u16 = 0x0003;
    pub const INVALID_ARGUMENTS: u16 = 0x0004;
    pub const ITEM_NOT_STORED: u16 = 0x0005;
    pub const DELTA_BAD_VALUE: u16 = 0x0006;
    /// SASL: the credentials were refused (also the answer to any request on a connection
    /// not authenticated yet, when the server requires it).
    pub const AUTH_ERROR: u16 = 0x0020;
    /// SASL: the mechanism needs another step (never for PLAIN).
    pub const AUTH_CONTINUE: u16 = 0x0021;
    pub const UNKNOWN_COMMAND: u16 = 0x0081;
    pub const OUT_OF_MEMORY: u16 = 0x0082;
    pub const NOT_SUPPORTED: u16 = 0x0083;
    pub const INTERNAL_ERROR: u16 = 0x0084;
}

/// True for opcodes whose success (for gets: miss) produces no response at all.
pub fn is_quiet(op: u8) -> bool {
    use opcode::*;
    matches!(
        op,
        GETQ | GETKQ
            | SETQ
            | ADDQ
            | REPLACEQ
            | DELETEQ
            | INCREMENTQ
            | DECREMENTQ
            | QUITQ
            | FLUSHQ
            | APPENDQ
            | PREPENDQ
            | GATQ
            | GATKQ
    ) || (0x32..=0x3c).contains(&op) // the R*Q range commands
}

/// An increment or decrement, quiet or not: its success answer is the counter's value.
pub fn is_counter(op: u8) -> bool {
    use opcode::*;
    matches!(op, INCREMENT | INCREMENTQ | DECREMENT | DECREMENTQ)
}

/// Whether a command's successful answer is an item (carries its 4-byte flags as extras).
pub fn returns_item(op: u8) -> bool {
    use opcode::*;
    matches!(op, GET | GETQ | GETK | GETKQ | GAT | GATQ | GATK | GATKQ)
}

/// Whether a command changes what a server holds for its key (a store, a delete, a counter,
/// a touch): done on another server, it leaves the key's own server possibly stale.
pub fn changes_value(op: u8) -> bool {
    use opcode::*;
    matches!(
        op,
        SET | SETQ
            | ADD
            | ADDQ
            | REPLACE
            | REPLACEQ
            | APPEND
            | APPENDQ
            | PREPEND
            | PREPENDQ
            | DELETE
            | DELETEQ
            | INCREMENT
            | INCREMENTQ
            | DECREMENT
            | DECREMENTQ
            | TOUCH
            | GAT
            | GATQ
            | GATK
            | GATKQ
    )
}

/// Quiet variant of a command, for "fire and forget" (timeout 0) requests.
pub fn quiet_variant(op: u8) -> u8 {
    use opcode::*;
    match op {
        GET => GETQ,
        GETK => GETKQ,
        SET => SETQ,
        ADD => ADDQ,
        REPLACE => REPLACEQ,
        DELETE => DELETEQ,
        INCREMENT => INCREMENTQ,
        DECREMENT => DECREMENTQ,
        QUIT => QUITQ,
        FLUSH => FLUSHQ,
        APPEND => APPENDQ,
        PREPEND => PREPENDQ,
        GAT => GATQ,
        GATK => GATKQ,
        other => other,
    }
}

/// A request to encode. Borrowed parts; nothing is copied until `encode_request`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestParts<'a> {
    pub opcode: u8,
    pub opaque: u32,
    pub cas: u64,
    pub extras: &'a [u8],
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl RequestParts<'_> {
    /// Bytes of the body (extras, key, value). In u64, saturating: cannot wrap on 32-bit
    /// targets, nor for lengths near u64::MAX, so `check_request` sees every oversized body.
    pub fn body_len(&self) -> u64 {
        (self.extras.len() as u64)
            .saturating_add(self.key.len() as u64)
            .saturating_add(self.value.len() as u64)
    }

    /// Bytes this request occupies on the wire.
    pub fn wire_len(&self) -> u64 {
        (HEADER_LEN as u64).saturating_add(self.body_len())
    }
}

/// Request extras, in wire order. Expirations are memcached's: seconds from now up to 30
/// days, a Unix time beyond (a caller's `time_t` is truncated to the protocol's 32 bits).
pub mod extras {
    /// set / add / replace (and their quiet forms): flags, expiration.
    pub fn storage(flags: u32, expiration: u32) -> [u8; 8] {
        let mut e = [0u8; 8];
        e[..4].copy_from_slice(&flags.to_be_bytes());
        e[4..].copy_from_slice(&expiration.to_be_bytes());
        e
    }

    /// increment / decrement: delta, initial value, expiration (0xffffffff: do not create).
    pub fn delta(delta: u64, initial: u64, expiration: u32) -> [u8; 20] {
        let mut e = [0u8; 20];
        e[..8].copy_from_slice(&delta.to_be_bytes());
        e[8..16].copy_from_slice(&initial.to_be_bytes());
        e[16..].copy_from_slice(&expiration.to_be_bytes());
        e
    }

    /// touch, get-and-touch, flush (delay) and verbosity (level): one 32-bit field.
    pub fn expiration(expiration: u32) -> [u8; 4] {
        expiration.to_be_bytes()
    }
}

/// Why a request cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    KeyTooLong,
    ExtrasTooLong,
    BodyTooLarge,
}

/// Checks that the request's fields fit the header's fixed-width lengths.
pub fn check_request(req: &RequestParts<'_>) -> Result<(), EncodeError> {
    if req.key.len() > u16::MAX as usize {
        return Err(EncodeError::KeyTooLong);
    }
    if req.extras.len() > u8::MAX as usize {
        return Err(EncodeError::ExtrasTooLong);
    }
    if req.body_len() > u64::from(u32::MAX) {
        return Err(EncodeError::BodyTooLarge);
    }
    Ok(())
}

/// Writes the 24-byte request header for `req` (lengths must already be checked).
pub fn request_header(req: &RequestParts<'_>) -> [u8; HEADER_LEN] {
    let body = req.body_len() as u32;
    let mut h = [0u8; HEADER_LEN];
    h[0] = REQUEST_MAGIC;
    h[1] = req.opcode;
    h[2..4].copy_from_slice(&(req.key.len() as u16).to_be_bytes());
    h[4] = req.extras.len() as u8;
    // data type 0 (raw) and vbucket 0 are already zero
    h[8..12].copy_from_slice(&body.to_be_bytes());
    // The opaque is echoed untouched; we keep it in host order like OMcache did.
    h[12..16].copy_from_slice(&req.opaque.to_ne_bytes());
    h[16..24].copy_from_slice(&req.cas.to_be_bytes());
    h
}

/// Appends the encoded request to `out` (whose capacity is reused between calls).
// Inlined: on every request's path, where the call cost as much as the body.
#[inline(always)]
pub fn encode_request(out: &mut Vec<u8>, req: &RequestParts<'_>) -> Result<(), EncodeError> {
    check_request(req)?;
    // Fits in usize: the request's parts are in memory already.
    out.reserve(req.wire_len() as usize);
    out.extend_from_slice(&request_header(req));
    out.extend_from_slice(req.extras);
    out.extend_from_slice(req.key);
    out.extend_from_slice(req.value);
    Ok(())
}

/// A parsed response header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHeader {
    pub opcode: u8,
    pub key_len: u16,
    pub extras_len: u8,
    pub status: u16,
    pub body_len: u32,
    pub opaque: u32,
    pub cas: u64,
}

/// A response body beyond this is not a memcached item (its largest item size is 1 GiB): the
/// stream is corrupt. Rejected by the parser, so a frame length always fits a `usize`, even on
/// 32-bit targets.
pub const MAX_SANE_BODY: u32 = (1 << 30) + (1 << 20);

impl ResponseHeader {
    /// Header plus body. Cannot overflow: `parse_header` rejects bodies over `MAX_SANE_BODY`.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.body_len as usize
    }
}

/// One complete response frame borrowing from the receive buffer.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub header: ResponseHeader,
    pub extras: &'a [u8],
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl Frame<'_> {
    /// Item flags for get-like responses (4 bytes of extras); 0 otherwise.
    pub fn flags(&self) -> u32 {
        if self.extras.len() >= 4 {
            u32::from_be_bytes([
                self.extras[0],
                self.extras[1],
                self.extras[2],
                self.extras[3],
            ])
        } else {
            0
        }
    }

    /// New counter value of an increment/decrement response.
    pub fn counter(&self) -> Option<u64> {
        let v: [u8; 8] = self.value.try_into().ok()?;
        Some(u64::from_be_bytes(v))
    }
}

/// Why received bytes cannot be a response stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    BadMagic(u8),
    BadDataType(u8),
    /// Key and extras do not fit into the body length.
    BadLengths,
    /// A body length no memcached item can have (over `MAX_SANE_BODY`).
    BodyTooLarge(u32),
}

/// What `parse_response` found at the start of a buffer.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// At least this many bytes in total are needed before a frame can be returned.
    Need(usize),
    Frame(Frame<'a>),
}

/// Parses the header at the start of `buf` (which must hold at least 24 bytes).
pub fn parse_header(buf: &[u8]) -> Result<ResponseHeader, ParseError> {
    // One bounds check for the whole header instead of one per field.
    let h: &[u8; HEADER_LEN] = buf[..HEADER_LEN].try_into().expect("24 bytes");
    if h[0] != RESPONSE_MAGIC {
        return Err(ParseError::BadMagic(h[0]));
    }
    if h[5] != 0 {
        return Err(ParseError::BadDataType(h[5]));
    }
    let header = ResponseHeader {
        opcode: h[1],
        key_len: u16::from_be_bytes([h[2], h[3]]),
        extras_len: h[4],
        status: u16::from_be_bytes([h[6], h[7]]),
        body_len: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        opaque: u32::from_ne_bytes([h[12], h[13], h[14], h[15]]),
        cas: u64::from_be_bytes([h[16], h[17], h[18], h[19], h[20], h[21], h[22], h[23]]),
    };
    // In u64: no sum here can wrap, whatever the target's pointer width.
    if u64::from(header.key_len) + u64::from(header.extras_len) > u64::from(header.body_len) {
        return Err(ParseError::BadLengths);
    }
    if header.body_len > MAX_SANE_BODY {
        return Err(ParseError::BodyTooLarge(header.body_len));
    }
    Ok(header)
}

/// The frame in `buf` (exactly one frame) whose header `parse_header` accepted.
pub fn frame_from(header: ResponseHeader, buf: &[u8]) -> Frame<'_> {
    let ext_end = HEADER_LEN + header.extras_len as usize;
    let key_end = ext_end + header.key_len as usize;
    Frame {
        header,
        extras: &buf[HEADER_LEN..ext_end],
        key: &buf[ext_end..key_end],
        value: &buf[key_end..header.frame_len()],
    }
}

/// Looks at the start of `buf`: either one complete frame, or how many bytes are needed.
/// The caller decides whether a needed length exceeds its receive limit.
pub fn parse_response(buf: &[u8]) -> Result<Parsed<'_>, ParseError> {
    if buf.len() < HEADER_LEN {
        return Ok(Parsed::Need(HEADER_LEN));
    }
    let header = parse_header(buf)?;
    let total = header.frame_len();
    if buf.len() < total {
        return Ok(Parsed::Need(total));
    }
    Ok(Parsed::Frame(frame_from(header, &buf[..total])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(
        op: u8,
        status: u16,
        opaque: u32,
        extras: &[u8],
        key: &[u8],
        value: &[u8],
    ) -> Vec<u8> {
        let mut v = vec![RESPONSE_MAGIC, op];
        v.extend_from_slice(&(key.len() as u16).to_be_bytes());
        v.push(extras.len() as u8);
        v.push(0);
        v.extend_from_slice(&status.to_be_bytes());
        v.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
        v.extend_from_slice(&opaque.to_ne_bytes());
        v.extend_from_slice(&7u64.to_be_bytes());
        v.extend_from_slice(extras);
        v.extend_from_slice(key);
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn encodes_set() {
        let mut out = Vec::new();
        let extras = [0, 0, 0, 5, 0, 0, 0, 9];
        encode_request(
            &mut out,
            &RequestParts {
                opcode: opcode::SET,
                opaque: 1,
                cas: 3,
                extras: &extras,
                key: b"k",
                value: b"vv",
            },
        )
        .unwrap();
        assert_eq!(out.len(), 24 + 8 + 1 + 2);
        assert_eq!(&out[..8], &[0x80, 0x01, 0, 1, 8, 0, 0, 0]);
        assert_eq!(&out[8..12], &11u32.to_be_bytes());
        assert_eq!(&out[16..24], &3u64.to_be_bytes());
        assert_eq!(&out[32..], b"kvv");
    }

    #[test]
    fn parses_incrementally() {
        let bytes = response(opcode::GETK, 0, 42, &[0, 0, 0, 9], b"key", b"value");
        for cut in 0..bytes.len() {
            match parse_response(&bytes[..cut]).unwrap() {
                Parsed::Need(n) => assert!(n > cut),
                Parsed::Frame(_) => panic!("frame from {cut} bytes"),
            }
        }
        match parse_response(&bytes).unwrap() {
            Parsed::Frame(f) => {
                assert_eq!(f.header.opaque, 42);
                assert_eq!(f.flags(), 9);
                assert_eq!(f.key, b"key");
                assert_eq!(f.value, b"value");
                assert_eq!(f.header.cas, 7);
            }
            Parsed::Need(_) => panic!(),
        }
    }

    #[test]
    fn rejects_garbage() {
        let mut bytes = response(opcode::GET, 0, 1, &[], b"", b"");
        bytes[0] = 0x80;
        assert_eq!(
            parse_response(&bytes).unwrap_err(),
            ParseError::BadMagic(0x80)
        );
        let mut bytes = response(opcode::GET, 0, 1, &[1, 2, 3, 4], b"key", b"");
        bytes[11] = 2; // body shorter than key + extras
        assert_eq!(parse_response(&bytes).unwrap_err(), ParseError::BadLengths);
    }

    #[test]
    fn large_body_is_a_need_not_an_allocation() {
        let mut bytes = response(opcode::GET, 0, 1, &[], b"", b"");
        bytes[8..12].copy_from_slice(&MAX_SANE_BODY.to_be_bytes());
        match parse_response(&bytes).unwrap() {
            Parsed::Need(n) => assert_eq!(n, 24 + MAX_SANE_BODY as usize),
            Parsed::Frame(_) => panic!(),
        }
    }

    #[test]
    fn body_lengths_near_u32_max_are_rejected_without_overflow() {
        for body in [MAX_SANE_BODY + 1, u32::MAX - 24, u32::MAX - 1, u32::MAX] {
            let mut bytes = response(opcode::GET, 0, 1, &[], b"", b"");
            bytes[8..12].copy_from_slice(&body.to_be_bytes());
            assert_eq!(
                parse_response(&bytes).unwrap_err(),
                ParseError::BodyTooLarge(body)
            );
            // Key and extras lengths at their maxima with a huge body: still no wrap.
            bytes[2..4].copy_from_slice(&u16::MAX.to_be_bytes());
            bytes[4] = u8::MAX;
            assert_eq!(
                parse_response(&bytes).unwrap_err(),
                ParseError::BodyTooLarge(body)
            );
        }
        // Key + extras larger than a tiny body: BadLengths, computed without wrapping.
        let mut bytes = response(opcode::GET, 0, 1, &[], b"", b"");
        bytes[2..4].copy_from_slice(&u16::MAX.to_be_bytes());
        bytes[4] = u8::MAX;
        bytes[8..12].copy_from_slice(&(u16::MAX as u32).to_be_bytes());
        assert_eq!(parse_response(&bytes).unwrap_err(), ParseError::BadLengths);
    }

    #[test]
    fn quiet_variants_are_quiet() {
        for op in [
            opcode::GET,
            opcode::GETK,
            opcode::SET,
            opcode::DELETE,
            opcode::GAT,
            opcode::GATK,
        ] {
            assert!(!is_quiet(op));
            assert!(is_quiet(quiet_variant(op)));
        }
        assert!(!is_quiet(opcode::NOOP));
    }
}
