//! A scripted fake memcached for fault injection (never a stand-in for memcached in normal
//! tests): a TCP listener on 127.0.0.1 (a free port) whose every connection runs a script of
//! steps: read binary-protocol requests, reply with bytes computed from them (at once or in
//! pieces with delays, so frames are split anywhere), stall, half-close, close, or serve
//! every request forever. Dropping the server stops it and every connection.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Req {
    pub opcode: u8,
    /// Exactly the 4 bytes received, echoed back by the reply builders.
    pub opaque: [u8; 4],
    pub extras: Vec<u8>,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

impl Req {
    pub fn opaque_u32(&self) -> u32 {
        u32::from_be_bytes(self.opaque)
    }
}

/// Bytes to send, computed from every request read so far on this connection.
pub type ReplyFn = Box<dyn Fn(&[Req]) -> Vec<u8> + Send>;
/// The answer to one request (empty: no answer).
pub type ServeFn = Box<dyn Fn(&Req) -> Vec<u8> + Send>;

pub enum Step {
    /// Reads this many requests (the connection ends if the peer closes first).
    ReadRequests(usize),
    /// Sends the bytes at once.
    Reply(ReplyFn),
    /// Sends the bytes as `first` bytes, then pieces of `piece` bytes, `delay` between writes.
    ReplyInPieces {
        reply: ReplyFn,
        first: usize,
        piece: usize,
        delay: Duration,
    },
    /// Sends fixed bytes (garbage, a truncated frame...).
    Send(Vec<u8>),
    Stall(Duration),
    /// Shuts down our sending side (FIN) and reads and discards until the peer closes.
    HalfClose,
    /// Closes the connection (also what happens at the end of a script).
    Close,
    /// Forever: reads a request, sends its answer.
    Serve(ServeFn),
    /// Forever: reads and discards, never answers.
    Silent,
}

/// What the server saw: connections accepted, and every request with its connection's number.
#[derive(Default)]
pub struct Log {
    pub connections: usize,
    pub requests: Vec<(usize, Req)>,
}

pub struct Server {
    pub port: u16,
    pub log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server whose `n`th connection (from 0) runs `script(n)`.
    pub fn start(script: impl Fn(usize) -> Vec<Step> + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Log::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let n = {
                            let mut l = log2.lock().unwrap();
                            l.connections += 1;
                            l.connections - 1
                        };
                        let steps = script(n);
                        let mut c = Conn {
                            stream,
                            n,
                            reqs: Vec::new(),
                            log: log2.clone(),
                            stop: stop2.clone(),
                        };
                        conns.push(std::thread::spawn(move || {
                            let _ = c.run(steps);
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        Server {
            port,
            log,
            stop,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn connections(&self) -> usize {
        self.log.lock().unwrap().connections
    }

    /// The connection each request with this key arrived on, in order.
    pub fn connections_of(&self, key: &[u8]) -> Vec<usize> {
        let l = self.log.lock().unwrap();
        l.requests
            .iter()
            .filter(|(_, r)| r.key == key)
            .map(|(n, _)| *n)
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Conn {
    stream: TcpStream,
    n: usize,
    reqs: Vec<Req>,
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
}

/// The connection ends (peer closed, server stopped, write failed).
struct End;

impl Conn {
    fn run(&mut self, steps: Vec<Step>) -> Result<(), End> {
        self.stream.set_nonblocking(false).map_err(|_| End)?;
        self.stream.set_nodelay(true).map_err(|_| End)?;
        self.stream
            .set_read_timeout(Some(Duration::from_millis(5)))
            .map_err(|_| End)?;
        for step in steps {
            match step {
                Step::ReadRequests(n) => {
                    for _ in 0..n {
                        self.read_request()?;
                    }
                }
                Step::Reply(f) => {
                    let bytes = f(&self.reqs);
                    self.write(&bytes)?;
                }
                Step::ReplyInPieces {
                    reply,
                    first,
                    piece,
                    delay,
                } => {
                    let bytes = reply(&self.reqs);
                    let (head, mut rest) = bytes.split_at(first.min(bytes.len()));
                    self.write(head)?;
                    while !rest.is_empty() {
                        self.sleep(delay)?;
                        let (p, r) = rest.split_at(piece.max(1).min(rest.len()));
                        self.write(p)?;
                        rest = r;
                    }
                }
                Step::Send(bytes) => self.write(&bytes)?,
                Step::Stall(d) => self.sleep(d)?,
                Step::HalfClose => {
                    let _ = self.stream.shutdown(Shutdown::Write);
                    self.drain()?;
                }
                Step::Close => return Ok(()),
                Step::Serve(f) => loop {
                    self.read_request()?;
                    let bytes = f(self.reqs.last().unwrap());
                    self.write(&bytes)?;
                },
                Step::Silent => self.drain()?,
            }
        }
        Ok(())
    }

    fn stopped(&self) -> Result<(), End> {
        if self.stop.load(Ordering::SeqCst) {
            Err(End)
        } else {
            Ok(())
        }
    }

    fn sleep(&self, d: Duration) -> Result<(), End> {
        let until = std::time::Instant::now() + d;
        loop {
            self.stopped()?;
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(Duration::from_millis(5)));
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), End> {
        self.stopped()?;
        self.stream.write_all(bytes).map_err(|_| End)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), End> {
        let mut got = 0;
        while got < buf.len() {
            self.stopped()?;
            match self.stream.read(&mut buf[got..]) {
                Ok(0) => return Err(End),
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(End),
            }
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), End> {
        let mut buf = [0u8; 4096];
        loop {
            self.stopped()?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(End),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(End),
            }
        }
    }

    fn read_request(&mut self) -> Result<(), End> {
        let mut h = [0u8; 24];
        self.read_exact(&mut h)?;
        assert_eq!(h[0], 0x80, "scripted server: not a binary request");
        let key_len = u16::from_be_bytes([h[2], h[3]]) as usize;
        let extras_len = h[4] as usize;
        let body_len = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
        let mut body = vec![0u8; body_len];
        self.read_exact(&mut body)?;
        let req = Req {
            opcode: h[1],
            opaque: [h[12], h[13], h[14], h[15]],
            extras: body[..extras_len].to_vec(),
            key: body[extras_len..extras_len + key_len].to_vec(),
            value: body[extras_len + key_len..].to_vec(),
        };
        self.log
            .lock()
            .unwrap()
            .requests
            .push((self.n, req.clone()));
        self.reqs.push(req);
        Ok(())
    }
}

// ----- response builders ---------------------------------------------------------------------

pub const NOOP: u8 = 0x0a;
pub const GETK: u8 = 0x0c;
pub const GETKQ: u8 = 0x0d;
pub const GATK: u8 = 0x23;

/// A binary response frame: magic 0x81, the opaque bytes as given.
pub fn frame(
    opcode: u8,
    status: u16,
    opaque: [u8; 4],
    cas: u64,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
) -> Vec<u8> {
    let body_len = (extras.len() + key.len() + value.len()) as u32;
    let mut f = Vec::with_capacity(24 + body_len as usize);
    f.push(0x81);
    f.push(opcode);
    f.extend_from_slice(&(key.len() as u16).to_be_bytes());
    f.push(extras.len() as u8);
    f.push(0); // datatype
    f.extend_from_slice(&status.to_be_bytes());
    f.extend_from_slice(&body_len.to_be_bytes());
    f.extend_from_slice(&opaque);
    f.extend_from_slice(&cas.to_be_bytes());
    f.extend_from_slice(extras);
    f.extend_from_slice(key);
    f.extend_from_slice(value);
    f
}

/// A header alone that announces `body_len` bytes of body (which never come).
pub fn header_only(opcode: u8, opaque: [u8; 4], body_len: u32) -> Vec<u8> {
    let mut f = frame(opcode, 0, opaque, 0, &[], &[], &[]);
    f[8..12].copy_from_slice(&body_len.to_be_bytes());
    f
}

/// The value every served key has: "v:" + key.
pub fn value_for(key: &[u8]) -> Vec<u8> {
    let mut v = b"v:".to_vec();
    v.extend_from_slice(key);
    v
}

fn is_get(op: u8) -> bool {
    matches!(op, 0x00 | 0x09 | 0x0c | 0x0d | 0x1d | 0x1e | 0x23 | 0x24)
}

fn has_key(op: u8) -> bool {
    matches!(op, 0x0c | 0x0d | 0x23 | 0x24)
}

/// A get hit answering `req` (same opcode and opaque) with `key` and `value`, flags 0x1234.
pub fn hit_as(req: &Req, key: &[u8], value: &[u8]) -> Vec<u8> {
    let key = if has_key(req.opcode) { key } else { &[] };
    frame(
        req.opcode,
        0,
        req.opaque,
        7,
        &0x1234u32.to_be_bytes(),
        key,
        value,
    )
}

/// The right answer to a get: its own key with `value_for(key)`.
pub fn hit(req: &Req) -> Vec<u8> {
    hit_as(req, &req.key, &value_for(&req.key))
}

/// Another key's answer with `req`'s opaque: key "z" + key[1..], value `value_for` of it.
pub fn foreign_hit(req: &Req) -> Vec<u8> {
    let mut other = req.key.clone();
    other[0] = if other[0] == b'z' { b'y' } else { b'z' };
    hit_as(req, &other, &value_for(&other))
}

/// A stale answer: `req`'s key with `value`, but an opaque that was never outstanding.
pub fn stale_hit(req: &Req, value: &[u8]) -> Vec<u8> {
    let stale = Req {
        opaque: (req.opaque_u32() ^ 0x4000_0000).to_be_bytes(),
        ..req.clone()
    };
    hit_as(&stale, &req.key, value)
}

/// The right answer to `req` as memcached gives it: gets hit with `value_for(key)`, other
/// requests succeed with an empty body, quiet non-gets get no answer.
pub fn answer(req: &Req) -> Vec<u8> {
    if is_get(req.opcode) {
        hit(req)
    } else if matches!(req.opcode, 0x11..=0x1a) {
        Vec::new()
    } else {
        frame(req.opcode, 0, req.opaque, 0, &[], &[], &[])
    }
}

/// Serves every request right, forever.
pub fn serve() -> Step {
    Step::Serve(Box::new(answer))
}

pub fn reply(f: impl Fn(&[Req]) -> Vec<u8> + Send + 'static) -> Step {
    Step::Reply(Box::new(f))
}

/// Bytes that are no memcached response (bad magic).
pub fn garbage() -> Vec<u8> {
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec()
}
