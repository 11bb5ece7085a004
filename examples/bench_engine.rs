//! The benchmark workloads of `benches/` driven through the Rust engine itself
//! (`Client::command` / `Client::io` with a counting sink: no allocation per request), in any
//! of the three protocols. What `make bench` runs for its text and meta tables:
//!
//! ```text
//! cargo build --release --example bench_engine
//! BENCH_PROTOCOL=binary|text|meta bench_engine populate|get|set|multiget|buffered SERVERS N
//! ```
//!
//! Same workloads, keys, values and output line ("WORKLOAD N SECONDS OPS_PER_SECOND") as
//! `benches/bench_omcache.c` (see `benches/bench_common.h`); `BENCH_BATCH` sets the buffered
//! batch size (default 100). `BENCH_TLS=CA_FILE` speaks TLS (verified against that CA) to
//! `memcached -Z` servers; `BENCH_TLS_RESUME=0` turns session resumption off, which the
//! `reconnect` workload (close, connect, one NOOP, per server) measures. The measured part is the function `run_workload_engine`, which
//! callgrind singles out with `--toggle-collect=run_workload_engine`.

use std::process::ExitCode;
use std::time::Instant;

use omcache::client::{IoOutcome, Request, Requests, Response, ResponseSink, Status, Wait};
use omcache::protocol::{extras, opcode, Protocol, RequestParts};
use omcache::Client;

const KEYS: usize = 1000;
const VALUE_SIZE: usize = 100;
const MULTI_KEYS: usize = 100;
const DEFAULT_BATCH: u64 = 100;

/// Counts the answers to the caller's requests; keeps nothing.
#[derive(Default)]
struct Count {
    /// OK answers carrying a value of the expected size (gets) or none (stores).
    ok: u64,
    /// Anything else for a batch member: a miss, an error, a wrong size.
    bad: u64,
    /// The first bad status seen, for the error message.
    first_bad: Option<Status>,
}

impl ResponseSink for Count {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if batch_index.is_none() {
            return false;
        }
        let get_like = matches!(resp.opcode, opcode::GETK | opcode::GETKQ);
        if resp.status == Status::Ok && (!get_like || resp.data.len() == VALUE_SIZE) {
            self.ok += 1;
        } else {
            self.bad += 1;
            self.first_bad.get_or_insert(resp.status);
        }
        false
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    Populate,
    Get,
    Set,
    Multiget,
    Buffered,
    /// Every round closes every connection and sends one NOOP to each server: the cost of
    /// a connect (and, with TLS, a handshake).
    Reconnect,
}

struct Bench {
    client: Client,
    workload: Workload,
    n: u64,
    batch: u64,
    keys: Vec<Vec<u8>>,
    value: [u8; VALUE_SIZE],
    sink: Count,
    errors: u64,
}

/// "bench-set:<i>" into `buf`, formatted by hand as in bench_common.h.
fn set_key(buf: &mut [u8; 32], mut i: u64) -> usize {
    const PREFIX: &[u8] = b"bench-set:";
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (i % 10) as u8;
        n += 1;
        i /= 10;
        if i == 0 {
            break;
        }
    }
    let mut len = PREFIX.len();
    while n > 0 {
        n -= 1;
        buf[len] = digits[n];
        len += 1;
    }
    len
}

impl Bench {
    fn fail(&mut self, what: &str, i: u64, status: Status) {
        if self.errors < 5 {
            eprintln!("bench_engine: {what} #{i}: {status:?}");
        }
        self.errors += 1;
    }

    /// One request, waited for; its own outcome (the response's status when one came).
    fn one(&mut self, parts: RequestParts<'_>, wait: Wait) -> Status {
        let (ok, bad) = (self.sink.ok, self.sink.bad);
        let mut reqs = [Request::keyed(parts)];
        let status = self
            .client
            .command(&mut Requests(&mut reqs), &mut self.sink, wait);
        if status != Status::Ok {
            return status;
        }
        if self.sink.ok == ok + 1 && self.sink.bad == bad {
            Status::Ok
        } else {
            self.sink.first_bad.take().unwrap_or(Status::NotFound)
        }
    }

    fn populate(&mut self) {
        let storage = extras::storage(0, 0);
        let value = self.value;
        let keys = std::mem::take(&mut self.keys);
        for (i, key) in keys.iter().enumerate() {
            let status = self.one(
                RequestParts {
                    opcode: opcode::SET,
                    key,
                    extras: &storage,
                    value: &value,
                    ..Default::default()
                },
                Wait::Forever,
            );
            if status != Status::Ok {
                self.fail("populate", i as u64, status);
            }
        }
        self.keys = keys;
    }

    fn reconnect(&mut self) {
        let protocol = self.client.protocol();
        let other = if protocol == Protocol::Text {
            Protocol::Binary
        } else {
            Protocol::Text
        };
        for i in 0..self.n {
            // A protocol switch closes every connection.
            self.client.set_protocol(other);
            self.client.set_protocol(protocol);
            for s in 0..self.client.server_count() {
                if let Err(status) = self.client.noop(s) {
                    self.fail("reconnect", i, status);
                }
            }
        }
    }

    fn get(&mut self) {
        let keys = std::mem::take(&mut self.keys);
        for i in 0..self.n {
            let status = self.one(
                RequestParts {
                    opcode: opcode::GETK,
                    key: &keys[(i % KEYS as u64) as usize],
                    ..Default::default()
                },
                Wait::Forever,
            );
            if status != Status::Ok {
                self.fail("get", i, status);
            }
        }
        self.keys = keys;
    }

    fn set(&mut self) {
        let storage = extras::storage(0, 0);
        let value = self.value;
        let mut key = [0u8; 32];
        for i in 0..self.n {
            let len = set_key(&mut key, i % 100_000);
            let status = self.one(
                RequestParts {
                    opcode: opcode::SET,
                    key: &key[..len],
                    extras: &storage,
                    value: &value,
                    ..Default::default()
                },
                Wait::Forever,
            );
            if status != Status::Ok {
                self.fail("set", i, status);
            }
        }
    }

    fn multiget(&mut self) {
        let keys = std::mem::take(&mut self.keys);
        for i in 0..self.n {
            let base = i as usize * MULTI_KEYS;
            let mut reqs: [Request<'_>; MULTI_KEYS] = std::array::from_fn(|j| {
                Request::keyed(RequestParts {
                    opcode: opcode::GETKQ,
                    key: &keys[(base + j) % KEYS],
                    ..Default::default()
                })
            });
            let ok = self.sink.ok;
            let mut set = Requests(&mut reqs);
            let mut status = self.client.command(&mut set, &mut self.sink, Wait::Forever);
            while status == Status::Again {
                status = match self.client.io(Some(&set), &mut self.sink, Wait::Forever) {
                    IoOutcome::Done => Status::Ok,
                    _ => Status::Again,
                };
            }
            if status != Status::Ok {
                self.fail("multiget", i, status);
            } else if self.sink.ok - ok != MULTI_KEYS as u64 {
                self.fail("multiget", i, Status::NotFound);
            }
        }
        self.keys = keys;
    }

    /// Quiet sets queued without waiting (buffering mode); after each batch an `io` that
    /// writes what the sockets take without waiting (libmemcached's memcached_flush_buffers);
    /// one waiting `io` at the end, inside the measured time. As bench_omcache.c does.
    fn buffered(&mut self) {
        let storage = extras::storage(0, 0);
        let value = self.value;
        let mut key = [0u8; 32];
        for i in 0..self.n {
            let len = set_key(&mut key, i % 1_000_000);
            let mut reqs = [Request::keyed(RequestParts {
                opcode: opcode::SETQ,
                key: &key[..len],
                extras: &storage,
                value: &value,
                ..Default::default()
            })];
            let status =
                self.client
                    .command(&mut Requests(&mut reqs), &mut self.sink, Wait::NoWait);
            if status != Status::Buffered {
                self.fail("buffered set", i, status);
            }
            if (i + 1) % self.batch == 0 && i + 1 < self.n {
                self.client.io(None, &mut self.sink, Wait::NoWait);
            }
        }
        if self.client.io(None, &mut self.sink, Wait::Forever) != IoOutcome::Done {
            self.fail("final flush", self.n, Status::Again);
        }
        if self.sink.bad > 0 {
            let status = self.sink.first_bad.unwrap_or(Status::NotFound);
            self.fail("buffered set answers", self.sink.bad, status);
        }
    }
}

/// The measured part (callgrind: `--toggle-collect=run_workload_engine`).
#[no_mangle]
#[inline(never)]
fn run_workload_engine(b: &mut Bench) {
    match b.workload {
        Workload::Get => b.get(),
        Workload::Set => b.set(),
        Workload::Multiget => b.multiget(),
        Workload::Buffered => b.buffered(),
        Workload::Populate => b.populate(),
        Workload::Reconnect => b.reconnect(),
    }
}

fn usage(prog: &str) -> ExitCode {
    eprintln!(
        "usage: [BENCH_PROTOCOL=binary|text|meta] [BENCH_TLS=CA_FILE [BENCH_TLS_RESUME=0]] {prog} populate|get|set|multiget|buffered|reconnect SERVERS N"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.first().map_or("bench_engine", String::as_str);
    if args.len() != 4 {
        return usage(prog);
    }
    let workload = match args[1].as_str() {
        "populate" => Workload::Populate,
        "get" => Workload::Get,
        "set" => Workload::Set,
        "multiget" => Workload::Multiget,
        "buffered" => Workload::Buffered,
        "reconnect" => Workload::Reconnect,
        _ => return usage(prog),
    };
    let n: u64 = args[3].parse().unwrap_or(0);
    let protocol = match std::env::var("BENCH_PROTOCOL").as_deref() {
        Ok("binary") | Ok("") | Err(_) => Protocol::Binary,
        Ok("text") => Protocol::Text,
        Ok("meta") => Protocol::Meta,
        Ok(other) => {
            eprintln!("bench_engine: BENCH_PROTOCOL={other}: binary, text or meta");
            return ExitCode::from(2);
        }
    };
    let batch = std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|b| b.parse::<u64>().ok())
        .filter(|&b| b > 0)
        .unwrap_or(DEFAULT_BATCH);

    let mut client = Client::new();
    if let Err(e) = client.set_servers(&args[2]) {
        eprintln!("bench_engine: cannot set up the client: {e:?}");
        return ExitCode::from(1);
    }
    client.set_protocol(protocol);
    // Configured as the libmemcached it is compared with (no SUPPORT_CAS): text gets go out
    // as `get`, without CAS uniques.
    client.set_text_cas(false);
    if let Some(ca) = std::env::var_os("BENCH_TLS").filter(|v| !v.is_empty()) {
        let mut tls = omcache::client::TlsSettings::new().with_ca_file(ca);
        tls.resume_sessions = std::env::var("BENCH_TLS_RESUME").as_deref() != Ok("0");
        client.settings_mut().tls = Some(tls);
    }
    let mut b = Bench {
        client,
        workload,
        n,
        batch,
        keys: (0..KEYS)
            .map(|i| format!("bench:{i}").into_bytes())
            .collect(),
        value: std::array::from_fn(|i| b'a' + (i % 26) as u8),
        sink: Count::default(),
        errors: 0,
    };

    if workload == Workload::Populate {
        run_workload_engine(&mut b);
        return if b.errors > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        };
    }
    if workload == Workload::Buffered {
        b.client.settings_mut().buffering = true;
    }
    // Connect to every server before the clock starts.
    for s in 0..b.client.server_count() {
        let mut noop = [Request::to_server(
            s,
            RequestParts {
                opcode: opcode::NOOP,
                ..Default::default()
            },
        )];
        let mut sink = Count::default();
        let saved = b.client.settings().buffering;
        b.client.settings_mut().buffering = false;
        let status = b
            .client
            .command(&mut Requests(&mut noop), &mut sink, Wait::Forever);
        b.client.settings_mut().buffering = saved;
        if status != Status::Ok {
            eprintln!("bench_engine: server {s} does not answer: {status:?}");
            return ExitCode::from(1);
        }
    }

    let start = Instant::now();
    run_workload_engine(&mut b);
    let secs = start.elapsed().as_secs_f64();

    if workload == Workload::Buffered {
        // Spot check: the last key stored.
        b.client.settings_mut().buffering = false;
        let mut key = [0u8; 32];
        let len = set_key(&mut key, (n.max(1) - 1) % 1_000_000);
        let status = b.one(
            RequestParts {
                opcode: opcode::GETK,
                key: &key[..len],
                ..Default::default()
            },
            Wait::Forever,
        );
        if status != Status::Ok {
            b.fail("check get", n.max(1) - 1, status);
        }
    }
    println!(
        "{} {} {:.6} {:.1}",
        args[1],
        n,
        secs,
        if secs > 0.0 { n as f64 / secs } else { 0.0 }
    );
    if b.errors > 0 {
        eprintln!("bench_engine: {} errors", b.errors);
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
