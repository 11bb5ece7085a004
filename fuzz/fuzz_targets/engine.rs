//! The engine end to end on a hostile server: a `Client` sends a batch of 1-8 requests to a
//! unix-socket "server" in this process, which answers with the fuzz input's bytes and then
//! closes its sending side. Everything runs in one thread (unix sockets are synchronous, so a
//! run is deterministic).
//!
//! Input: [request count (bits 0-2), protocol (bits 3-4)] [opcode choice × count] [receive limit] [pin mask] [server bytes…]
//! Request ids are fixed: the batch's opaques are 0x11, 0x12, … (host byte order on the wire,
//! as OMcache sends them), a trailing NOOP after quiet requests gets the next one.
//!
//! Checked: no panic; `io` finishes (Done) once the server has closed; every request of the
//! batch gets exactly one final response (STAT rows aside; a quiet request at most one), with
//! an index inside the batch;
//! no delivered value is larger than the receive limit; no allocation beyond 8 MiB.
#![no_main]

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixListener;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use omcache::client::{IoOutcome, Request, Requests, Response, ResponseSink, Route, Status};
use omcache::protocol::{is_quiet, opcode, Protocol, RequestParts};
use omcache::Client;
use omcache_fuzz::{Bytes, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The request ids of a batch start right after this.
const BASE_ID: u32 = 0x10;
/// Server bytes beyond this are ignored (they must fit in the socket buffer without blocking).
const MAX_SERVER_BYTES: usize = 48 * 1024;
const MAX_ALLOCATION: usize = 8 << 20;

const KEYS: [&[u8]; 8] = [b"k0", b"k1", b"k2", b"k3", b"k4", b"k5", b"k6", b"k7"];
const SET_EXTRAS: [u8; 8] = [0, 0, 0, 9, 0, 0, 0, 0];
const DELTA_EXTRAS: [u8; 20] = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const GAT_EXTRAS: [u8; 4] = [0, 0, 0, 60];

fn listener() -> &'static (UnixListener, String) {
    static L: OnceLock<(UnixListener, String)> = OnceLock::new();
    L.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("omcache-fuzz-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).expect("bind the fake server");
        l.set_nonblocking(true).unwrap();
        (l, path.to_str().unwrap().to_owned())
    })
}

/// OMCACHE_FUZZ_TRACE=1 prints every log line and response (to see which paths a corpus
/// reaches: `OMCACHE_FUZZ_TRACE=1 …/engine -runs=0 corpus/engine 2>&1 | grep trace:`).
fn trace() -> bool {
    static T: OnceLock<bool> = OnceLock::new();
    *T.get_or_init(|| std::env::var_os("OMCACHE_FUZZ_TRACE").is_some())
}

fn request(choice: u8, i: usize) -> Request<'static> {
    let key = KEYS[i];
    let (opcode, extras, value): (u8, &[u8], &[u8]) = match choice % 14 {
        0 => (opcode::GET, &[], &[]),
        1 => (opcode::GETK, &[], &[]),
        2 => (opcode::GETQ, &[], &[]),
        3 => (opcode::GETKQ, &[], &[]),
        4 => (opcode::SET, &SET_EXTRAS, b"value"),
        5 => (opcode::SETQ, &SET_EXTRAS, b"value"),
        6 => (opcode::DELETE, &[], &[]),
        7 => (opcode::INCREMENT, &DELTA_EXTRAS, &[]),
        8 => (opcode::DECREMENTQ, &DELTA_EXTRAS, &[]),
        9 => (opcode::GAT, &GAT_EXTRAS, &[]),
        10 => (opcode::GATKQ, &GAT_EXTRAS, &[]),
        11 => (opcode::APPEND, &[], b"tail"),
        12 => (opcode::NOOP, &[], &[]),
        _ => (opcode::STAT, &[], &[]),
    };
    // Keyless requests go to server 0 explicitly (key routing needs a key).
    let keyless = opcode == opcode::NOOP || opcode == opcode::STAT;
    let key: &[u8] = if keyless { &[] } else { key };
    Request {
        route: if keyless {
            Route::Server(0)
        } else {
            Route::Key
        },
        parts: RequestParts {
            opcode,
            extras,
            key,
            value,
            ..Default::default()
        },
    }
}

struct Sink {
    finals: Vec<u32>,
    recv_max: usize,
    pin_mask: u8,
    seen: u32,
}

impl ResponseSink for Sink {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        assert!(
            resp.data.len() <= self.recv_max,
            "{} byte value",
            resp.data.len()
        );
        assert!(resp.key.len() <= self.recv_max.max(250));
        if let Some(i) = batch_index {
            assert!(
                i < self.finals.len(),
                "batch index {i} of {}",
                self.finals.len()
            );
            let stat_row =
                resp.opcode == opcode::STAT && resp.status == Status::Ok && !resp.key.is_empty();
            if !stat_row {
                self.finals[i] += 1;
                assert_eq!(
                    self.finals[i], 1,
                    "request {i} answered twice ({:?})",
                    resp.status
                );
            }
        }
        if trace() {
            eprintln!(
                "trace: response {:?} op {:#04x} to {batch_index:?}",
                resp.status, resp.opcode
            );
        }
        self.seen += 1;
        // Sometimes keep the value: pins the receive buffer until the next engine call.
        self.pin_mask >> (self.seen % 8) & 1 == 1
    }
}

fuzz_target!(|data: &[u8]| {
    let (listener, path) = listener();
    let mut input = Bytes::new(data);
    let first = input.u8();
    let n = 1 + first as usize % 8;
    // Bits 3-4 choose the protocol (0 and 3: binary, so older corpus entries stay binary).
    let protocol = match (first >> 3) % 4 {
        1 => Protocol::Text,
        2 => Protocol::Meta,
        _ => Protocol::Binary,
    };
    let mut reqs: Vec<Request<'static>> = (0..n).map(|i| request(input.u8(), i)).collect();
    let recv_max = match input.u8() {
        0 => 1024 * (1024 + 32), // the default
        b => 24 + usize::from(b) * 8,
    };
    let pin_mask = input.u8();
    let server_bytes = input.take(MAX_SERVER_BYTES);

    CountingAlloc::reset_largest();
    let mut client = Client::new();
    client.settings_mut().recv_buffer_max = recv_max;
    client.set_log(
        7,
        Some(Box::new(|_, msg: &str| {
            assert!(!msg.is_empty());
            if trace() {
                eprintln!("trace: log {msg}");
            }
        })),
    );
    client.set_servers(path).unwrap();
    client.set_protocol(protocol);
    client.set_last_request_id(BASE_ID);
    let mut sink = Sink {
        finals: vec![0; n],
        recv_max,
        pin_mask,
        seen: 0,
    };

    let status = client.command(&mut Requests(&mut reqs), &mut sink, 0);
    assert_eq!(status, Status::Buffered);

    // The client connected (unix sockets connect at once) and sent the batch.
    let (mut stream, _) = listener.accept().expect("client did not connect");
    stream.set_nonblocking(true).unwrap();
    let mut scratch = [0u8; 4096];
    while matches!(stream.read(&mut scratch), Ok(k) if k > 0) {}
    let mut written = 0;
    while written < server_bytes.len() {
        match stream.write(&server_bytes[written..]) {
            Ok(k) => written += k,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("fake server write: {e}"),
        }
    }
    stream.shutdown(Shutdown::Write).unwrap();

    // A pinned, full receive buffer makes `io` return Again after as little as one frame; each
    // call unpins it again, so every call consumes at least one 24-byte header.
    let mut outcome = IoOutcome::Again;
    // Text and meta answers can be 4 bytes ("HD\r\n"): allow for one per call.
    let smallest = if protocol == Protocol::Binary { 24 } else { 4 };
    for _ in 0..16 + written / smallest * 2 {
        outcome = client.io(Some(&Requests(&mut reqs)), &mut sink, 2000);
        if outcome == IoOutcome::Done {
            break;
        }
    }
    assert_eq!(
        outcome,
        IoOutcome::Done,
        "io never finished after the server closed"
    );
    assert_eq!(client.batch_remaining(), 0);
    for (i, &f) in sink.finals.iter().enumerate() {
        // A quiet request's miss or success completes it without an answer.
        let op = reqs[i].parts.opcode;
        if !is_quiet(op) {
            assert_eq!(f, 1, "request {i} ({op:#04x}) got {f} final answers");
        }
    }
    drop(client);
    drop(stream);
    // Reconnects the engine made after the server closed are still queued: drop them.
    while listener.accept().is_ok() {}
    assert!(
        CountingAlloc::largest() <= MAX_ALLOCATION,
        "{} byte allocation",
        CountingAlloc::largest()
    );
});
