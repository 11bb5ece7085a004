//! UDP as libmemcached 1.1.4 does it (MEMCACHED_BEHAVIOR_USE_UDP=1, then the normal
//! `memcached_server_add*`): every write goes out as one datagram with noreply (text:
//! `noreply`; binary: the quiet opcode) behind memcached's 8-byte UDP frame header, and
//! nothing is read back. Measured on Debian's 1.1.4 against `memcached -U PORT`:
//! - set/add/replace/append/prepend/cas, delete, increment/decrement (binary also
//!   `_with_initial`) and flush answer SUCCESS; a counter's value is UINT64_MAX;
//! - get, mget, exist, version and stat answer NOT_SUPPORTED and send nothing; touch answers
//!   NOT_SUPPORTED but is sent all the same (text: without noreply; binary: plain TOUCH);
//! - verbosity goes over TCP, with its answer, as without UDP (instance.rs does that);
//! - the frame header is request id (per socket, from 1), sequence 0, 1 datagram, reserved
//!   (1.1.4 leaves garbage in the reserved bytes over binary; we send 0, memcached ignores it);
//! - a datagram of any size up to the UDP maximum is sent whole (memcached on loopback takes a
//!   3,000-byte set); one the kernel refuses (over 65,507 bytes) is WRITE_FAILURE, and the
//!   server is then SERVER_TEMPORARILY_DISABLED until RETRY_TIMEOUT has passed; so is one
//!   whose name does not resolve (HOST_LOOKUP_FAILURE first);
//! - a unix-socket server gets nothing that reaches the cache, and the call answers SUCCESS
//!   (ERRNO when nothing listens there).
//!
//! Ours only: with TLS on (our configuration options or the OMCACHE_TLS* environment), UDP
//! sends nothing and answers NOT_SUPPORTED: memcached's datagrams cannot be encrypted, and
//! TLS is never given up for plaintext.
//!
//! The sockets are made at a server's first datagram, never at create or server_add (a
//! program such as PostgreSQL forks after creating its handles), and are not shared by a
//! clone (memcached_clone builds a new handle; 1.1.4 starts its request ids at 1 again).

use std::ffi::c_int;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use super::keys::Counted;
use super::memc::Lmc;
use super::rc;
use super::types::memcached_st;
use crate::protocol::text::{self as text_codec, StoreCmd};
use crate::protocol::{opcode, quiet_variant, RequestParts};

/// MEMCACHED_ERRNO: a system call failed.
const ERRNO: c_int = 26;

/// memcached's UDP frame header: request id, sequence number, datagram count, reserved.
const FRAME_HEADER_LEN: usize = 8;

/// One server's socket.
struct Endpoint {
    /// The server it was made for (host as the engine names it, port).
    server: (String, u16),
    socket: UdpSocket,
    next_request_id: u16,
}

/// The UDP sockets of a handle, by server index; made on first use.
#[derive(Default)]
pub(super) struct UdpSockets {
    endpoints: Vec<Option<Endpoint>>,
    /// Servers a refused datagram disabled, and until when.
    disabled: Vec<(String, u16, Instant)>,
    /// The datagram being built (its capacity is reused).
    buf: Vec<u8>,
}

/// Why a datagram was not sent.
enum SendError {
    /// The request cannot be written in this protocol (e.g. a key the text protocol refuses).
    Encode,
    /// The server's address did not resolve or the socket could not be made.
    Connect,
    /// The kernel refused the datagram.
    Write,
    /// A refused datagram disabled this server for a while.
    Disabled,
}

/// Encodes one request for the text protocol, as the engine's text connection does.
fn encode_text(out: &mut Vec<u8>, parts: &RequestParts<'_>, noreply: bool) -> Result<(), ()> {
    use opcode::*;
    let be32 = |b: &[u8]| {
        b.get(..4)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let be64 = |b: &[u8]| {
        b.get(..8).map_or(0, |b| {
            u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        })
    };
    let key = parts.key;
    let r = match parts.opcode {
        SET | SETQ | ADD | ADDQ | REPLACE | REPLACEQ | APPEND | APPENDQ | PREPEND | PREPENDQ => {
            let cmd = match parts.opcode {
                _ if parts.cas != 0 => StoreCmd::Cas(parts.cas),
                SET | SETQ => StoreCmd::Set,
                ADD | ADDQ => StoreCmd::Add,
                REPLACE | REPLACEQ => StoreCmd::Replace,
                APPEND | APPENDQ => StoreCmd::Append,
                _ => StoreCmd::Prepend,
            };
            let flags = be32(parts.extras);
            let exptime = be32(parts.extras.get(4..).unwrap_or(&[]));
            text_codec::encode_store(out, cmd, key, flags, exptime, parts.value, noreply)
        }
        DELETE | DELETEQ => text_codec::encode_delete(out, key, noreply),
        INCREMENT | INCREMENTQ => text_codec::encode_incr(out, key, be64(parts.extras), noreply),
        DECREMENT | DECREMENTQ => text_codec::encode_decr(out, key, be64(parts.extras), noreply),
        TOUCH => text_codec::encode_touch(out, key, be32(parts.extras), noreply),
        FLUSH | FLUSHQ => {
            // 1.1.4 writes no delay for 0 (`flush_all  noreply`); memcached reads both alike.
            let delay = Some(be32(parts.extras)).filter(|&d| d != 0);
            text_codec::encode_flush_all(out, delay, noreply);
            Ok(())
        }
        _ => return Err(()),
    };
    r.map_err(|_| ())
}

/// Replaces `buf` with a datagram for one request: room for the frame header (zeros), then
/// the request. `quiet`: with noreply (text) / as the quiet opcode (binary).
fn encode_datagram(
    buf: &mut Vec<u8>,
    binary: bool,
    parts: &RequestParts<'_>,
    quiet: bool,
) -> Result<(), ()> {
    buf.clear();
    buf.resize(FRAME_HEADER_LEN, 0);
    if !binary {
        return encode_text(buf, parts, quiet);
    }
    let mut p = *parts;
    // 1.1.4 sends a binary cas as a replace (the same check on the server).
    if p.opcode == opcode::SET && p.cas != 0 {
        p.opcode = opcode::REPLACE;
    }
    if quiet {
        p.opcode = quiet_variant(p.opcode);
    }
    crate::protocol::encode_request(buf, &p).map_err(|_| ())
}

/// memcached's frame header: request `id`, sequence 0, 1 datagram, reserved 0.
fn write_frame_header(frame: &mut [u8], id: u16) {
    frame[0..2].copy_from_slice(&id.to_be_bytes());
    frame[2..4].copy_from_slice(&0u16.to_be_bytes());
    frame[4..6].copy_from_slice(&1u16.to_be_bytes());
    frame[6..8].copy_from_slice(&0u16.to_be_bytes());
}

impl UdpSockets {
    /// Sends one request to server `index` at `addr` as one datagram. `quiet`: with noreply
    /// (text) / as the quiet opcode (binary).
    fn send(
        &mut self,
        index: usize,
        addr: (&str, u16),
        binary: bool,
        parts: &RequestParts<'_>,
        quiet: bool,
        retry: Duration,
    ) -> Result<(), SendError> {
        let now = Instant::now();
        self.disabled.retain(|(_, _, until)| *until > now);
        if self
            .disabled
            .iter()
            .any(|(h, p, _)| h == addr.0 && *p == addr.1)
        {
            return Err(SendError::Disabled);
        }
        let mut buf = std::mem::take(&mut self.buf);
        let encoded = encode_datagram(&mut buf, binary, parts, quiet);
        let result = match encoded {
            Err(()) => Err(SendError::Encode),
            Ok(()) => self.send_frame(index, addr, &mut buf),
        };
        if matches!(result, Err(SendError::Write | SendError::Connect)) {
            self.disabled.push((addr.0.to_owned(), addr.1, now + retry));
        }
        self.buf = buf;
        result
    }

    /// Fills in the frame header of `frame` and sends it on the server's socket.
    fn send_frame(
        &mut self,
        index: usize,
        addr: (&str, u16),
        frame: &mut [u8],
    ) -> Result<(), SendError> {
        if self.endpoints.len() <= index {
            self.endpoints.resize_with(index + 1, || None);
        }
        let slot = &mut self.endpoints[index];
        let stale = slot
            .as_ref()
            .is_some_and(|e| e.server.0 != addr.0 || e.server.1 != addr.1);
        if stale || slot.is_none() {
            *slot = Some(Endpoint {
                server: (addr.0.to_owned(), addr.1),
                socket: connect(addr).ok_or(SendError::Connect)?,
                next_request_id: 1,
            });
        }
        let Some(ep) = slot.as_mut() else {
            return Err(SendError::Connect);
        };
        let id = ep.next_request_id;
        ep.next_request_id = id.wrapping_add(1);
        write_frame_header(frame, id);
        match ep.socket.send(frame) {
            Ok(n) if n == frame.len() => Ok(()),
            _ => Err(SendError::Write),
        }
    }
}

/// A UDP socket connected to the server (the first address its name resolves to).
fn connect(addr: (&str, u16)) -> Option<UdpSocket> {
    let target: SocketAddr = addr.to_socket_addrs().ok()?.next()?;
    let local: SocketAddr = if target.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).ok()?;
    socket.connect(target).ok()?;
    Some(socket)
}

impl Lmc {
    /// A keyed request under USE_UDP (called by `run_routed` once the key and the servers
    /// were checked): writes go out as one noreply datagram and succeed; reads are
    /// NOT_SUPPORTED (a touch is sent all the same).
    pub(super) fn run_udp(
        &mut self,
        memc: *const memcached_st,
        server: Option<usize>,
        parts: &RequestParts<'_>,
        mut sink: Counted,
    ) -> (c_int, Counted) {
        use opcode::*;
        let (quiet, supported) = match parts.opcode {
            SET | ADD | REPLACE | APPEND | PREPEND | DELETE | INCREMENT | DECREMENT => (true, true),
            TOUCH => (false, false),
            _ => return (self.record(rc::NOT_SUPPORTED, memc, None), sink),
        };
        sink.delta_value = u64::MAX;
        let Some(index) = server else {
            return (self.record(rc::NO_SERVERS, memc, None), sink);
        };
        let code = self.send_udp(memc, index, parts, quiet);
        let code = if code == rc::SUCCESS && !supported {
            self.record(rc::NOT_SUPPORTED, memc, None)
        } else {
            code
        };
        (code, sink)
    }

    /// `memcached_flush` under USE_UDP: flush_all with noreply to every server.
    pub(super) fn flush_udp(&mut self, memc: *const memcached_st, expiration: u32) -> c_int {
        if self.model.tls.enabled && self.client.server_count() > 0 {
            // Refused for every server alike (see `send_udp`): that reason, not SOME_ERRORS.
            let why = "TLS asked for, UDP carries none: nothing was sent";
            return self.record_detail(rc::NOT_SUPPORTED, memc, why);
        }
        let extras = crate::protocol::extras::expiration(expiration);
        let parts = RequestParts {
            opcode: opcode::FLUSH,
            extras: &extras,
            ..Default::default()
        };
        let mut result = rc::SUCCESS;
        for index in 0..self.client.server_count() {
            let code = self.send_udp(memc, index, &parts, true);
            if code != rc::SUCCESS && result == rc::SUCCESS {
                result = code;
            }
        }
        if result == rc::SUCCESS {
            self.record(rc::SUCCESS, memc, None)
        } else {
            rc::SOME_ERRORS
        }
    }

    /// Sends one request to server `index`; its outcome as a recorded libmemcached code.
    fn send_udp(
        &mut self,
        memc: *const memcached_st,
        index: usize,
        parts: &RequestParts<'_>,
        quiet: bool,
    ) -> c_int {
        let Some(addr) = self.client.server_addr(index) else {
            return self.record(rc::NO_SERVERS, memc, None);
        };
        if addr.is_unix() {
            // No datagrams on a unix stream socket: 1.1.4 connects and writes the framed
            // request into the stream, which memcached refuses as an unknown command, and
            // answers SUCCESS (ERRNO when the connect fails). The same answers here, with
            // nothing sent.
            let path = addr.hostname().to_owned();
            return match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => self.record(rc::SUCCESS, memc, None),
                Err(_) => self.record(ERRNO, memc, Some(index)),
            };
        }
        if self.model.tls.enabled {
            // memcached's datagrams have no TLS: with TLS asked for (configuration string or
            // environment), a request that would go out in the clear is not sent at all.
            let why = "TLS asked for, UDP carries none: nothing was sent";
            return self.record_detail(rc::NOT_SUPPORTED, memc, why);
        }
        let host = addr.hostname().to_owned();
        let port = addr.port;
        let retry = Duration::from_secs(u64::try_from(self.model.retry_timeout).unwrap_or(2));
        let binary = self.model.binary_protocol;
        match self
            .udp
            .send(index, (&host, port), binary, parts, quiet, retry)
        {
            Ok(()) => self.record(rc::SUCCESS, memc, None),
            Err(SendError::Encode) => self.record(rc::BAD_KEY_PROVIDED, memc, None),
            Err(SendError::Connect) => self.record(rc::HOST_LOOKUP_FAILURE, memc, Some(index)),
            Err(SendError::Write) => self.record(rc::WRITE_FAILURE, memc, Some(index)),
            Err(SendError::Disabled) => {
                self.record(rc::SERVER_TEMPORARILY_DISABLED, memc, Some(index))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::extras;

    fn datagram(binary: bool, parts: RequestParts<'_>, quiet: bool) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_datagram(&mut buf, binary, &parts, quiet).expect("encodes");
        write_frame_header(&mut buf, 0x0102);
        buf
    }

    #[test]
    fn text_writes_carry_noreply_behind_the_frame_header() {
        let ex = extras::storage(11, 0);
        let set = RequestParts {
            opcode: opcode::SET,
            key: b"k",
            extras: &ex,
            value: b"v",
            ..Default::default()
        };
        assert_eq!(
            datagram(false, set, true),
            b"\x01\x02\0\0\0\x01\0\0set k 11 0 1 noreply\r\nv\r\n"
        );
        let ex = extras::delta(5, 0, 0xffff_ffff);
        let incr = RequestParts {
            opcode: opcode::INCREMENT,
            key: b"n",
            extras: &ex,
            ..Default::default()
        };
        assert_eq!(&datagram(false, incr, true)[8..], b"incr n 5 noreply\r\n");
        let ex = extras::expiration(0);
        let flush = RequestParts {
            opcode: opcode::FLUSH,
            extras: &ex,
            ..Default::default()
        };
        assert_eq!(&datagram(false, flush, true)[8..], b"flush_all noreply\r\n");
        let ex = extras::expiration(7);
        let touch = RequestParts {
            opcode: opcode::TOUCH,
            key: b"t",
            extras: &ex,
            ..Default::default()
        };
        assert_eq!(&datagram(false, touch, false)[8..], b"touch t 7\r\n");
    }

    #[test]
    fn binary_writes_use_the_quiet_opcodes_and_cas_goes_as_replace() {
        let ex = extras::storage(0, 0);
        let cas = RequestParts {
            opcode: opcode::SET,
            key: b"k",
            extras: &ex,
            value: b"v",
            cas: 9,
            ..Default::default()
        };
        let d = datagram(true, cas, true);
        assert_eq!(&d[..8], b"\x01\x02\0\0\0\x01\0\0");
        assert_eq!(d[8], 0x80);
        assert_eq!(d[9], opcode::REPLACEQ);
        assert_eq!(d.len(), 8 + 24 + 8 + 1 + 1);
        let del = RequestParts {
            opcode: opcode::DELETE,
            key: b"k",
            ..Default::default()
        };
        assert_eq!(datagram(true, del, true)[9], opcode::DELETEQ);
    }

    #[test]
    fn reads_are_not_encoded_for_udp() {
        let get = RequestParts {
            opcode: opcode::GETK,
            key: b"k",
            ..Default::default()
        };
        assert!(encode_datagram(&mut Vec::new(), false, &get, true).is_err());
    }
}
