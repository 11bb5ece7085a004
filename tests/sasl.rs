//! SASL PLAIN authentication (`Settings::sasl`): against the scripted fake memcached for what
//! a real server cannot be made to do (refuse, ask for another step, close or stall in the
//! middle of the handshake), then against a real `memcached -S` with its own sasldb (skipped,
//! with a message, only when saslpasswd2 or a SASL-enabled memcached is missing: Debian's
//! sasl2-bin and memcached).
mod common;
#[path = "scripted/mod.rs"]
mod scripted;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use omcache::client::{Failure, SaslCredentials, Status};
use omcache::protocol::{opcode, Protocol};
use omcache::Client;

use scripted::{answer, frame, value_for, Req, Server, Step};

const USER: &str = "omcache-user";
const PASS: &str = "pa55 word";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn sasl_client(list: &str, user: &str, pass: &str) -> Client {
    let mut c = Client::new();
    c.set_servers(list).unwrap();
    let s = c.settings_mut();
    s.connect_timeout = ms(500);
    s.reconnect_timeout = ms(100);
    s.dead_timeout = ms(5000);
    s.sasl = Some(SaslCredentials::new(user, pass));
    c
}

/// The answer a PLAIN-only SASL server gives to the credentials in `req`.
fn check_plain(req: &Req) -> u16 {
    let expected = format!("\0{USER}\0{PASS}");
    if req.key == b"PLAIN" && req.value == expected.as_bytes() {
        0
    } else {
        0x20
    }
}

/// Serves like memcached -S: SASL AUTH checked, every other request answered only once
/// authenticated (0x20 before).
fn sasl_serve() -> Step {
    let authed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    Step::Serve(Box::new(move |req: &Req| {
        use std::sync::atomic::Ordering;
        if req.opcode == opcode::SASL_AUTH {
            let status = check_plain(req);
            authed.store(status == 0, Ordering::SeqCst);
            let text: &[u8] = if status == 0 {
                b"Authenticated"
            } else {
                b"Auth failure"
            };
            frame(req.opcode, status, req.opaque, 0, &[], &[], text)
        } else if authed.load(Ordering::SeqCst) {
            answer(req)
        } else {
            frame(req.opcode, 0x20, req.opaque, 0, &[], &[], b"Auth failure")
        }
    }))
}

/// The opcodes each connection received, in order.
fn opcodes_by_connection(srv: &Server) -> Vec<Vec<u8>> {
    let log = srv.log.lock().unwrap();
    let mut out = vec![Vec::new(); log.connections];
    for (n, r) in &log.requests {
        out[*n].push(r.opcode);
    }
    out
}

/// An answer with this status to the SASL AUTH, then the connection stays open serving.
fn answer_auth_with(status: u16) -> Vec<Step> {
    vec![
        Step::ReadRequests(1),
        scripted::reply(move |rs| frame(rs[0].opcode, status, rs[0].opaque, 0, &[], &[], b"no")),
        Step::Serve(Box::new(answer)),
    ]
}

#[test]
fn authentication_goes_first_and_requests_follow_it() {
    let srv = Server::start(|_| vec![sasl_serve()]);
    let mut c = sasl_client(&srv.addr(), USER, PASS);
    // A batch queued before the connection exists: every request goes after the handshake.
    c.set(b"k1", b"v1", 0, 0).map(drop).unwrap();
    assert_eq!(
        c.get(b"k1").unwrap().map(|i| i.value),
        Some(value_for(b"k1"))
    );
    let got = c.get_multi(&[b"a", b"b", b"c"]).unwrap();
    assert_eq!(got.len(), 3);
    let conns = opcodes_by_connection(&srv);
    assert_eq!(conns.len(), 1, "one connection: {conns:?}");
    assert_eq!(conns[0][0], opcode::SASL_AUTH, "{conns:?}");
    assert_eq!(
        conns[0].iter().filter(|&&o| o == opcode::SASL_AUTH).count(),
        1
    );
}

#[test]
fn every_reconnect_authenticates_again() {
    // The first connection is closed by the server after one answered request.
    let srv = Server::start(|n| {
        if n == 0 {
            vec![
                Step::ReadRequests(1),
                scripted::reply(|rs| frame(rs[0].opcode, 0, rs[0].opaque, 0, &[], &[], b"")),
                Step::ReadRequests(1),
                scripted::reply(|rs| answer(&rs[1])),
                Step::Close,
            ]
        } else {
            vec![sasl_serve()]
        }
    });
    let mut c = sasl_client(&srv.addr(), USER, PASS);
    assert_eq!(c.set(b"r1", b"v", 0, 0).map(drop), Ok(()));
    // The server closed; the next request gets one reconnect (OMcache's failover policy),
    // which authenticates first.
    let start = Instant::now();
    let mut last = c.set(b"r2", b"v", 0, 0).map(drop);
    while last.is_err() && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(ms(20));
        last = c.set(b"r2", b"v", 0, 0).map(drop);
    }
    assert_eq!(last, Ok(()));
    let conns = opcodes_by_connection(&srv);
    assert!(conns.len() >= 2, "{conns:?}");
    for (n, ops) in conns.iter().enumerate() {
        if !ops.is_empty() {
            assert_eq!(ops[0], opcode::SASL_AUTH, "connection {n}: {conns:?}");
        }
    }
}

#[test]
fn failover_probe_authenticates_before_its_noop() {
    // Connection 0 authenticates, then the server closes it with a request in flight; the
    // immediate reconnect (1) is closed during its handshake: the server is ejected. Later
    // connections are served: the background probe brings it back.
    let srv = Server::start(|n| match n {
        0 => vec![
            Step::ReadRequests(1),
            scripted::reply(|rs| frame(rs[0].opcode, 0, rs[0].opaque, 0, &[], &[], b"")),
            Step::ReadRequests(1),
            Step::Close,
        ],
        1 => vec![Step::ReadRequests(1), Step::Close],
        _ => vec![sasl_serve()],
    });
    let mut c = sasl_client(&srv.addr(), USER, PASS);
    assert!(c.get(b"p").is_err());
    let start = Instant::now();
    let mut last = c.get(b"p");
    while last.is_err() && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(ms(20));
        last = c.get(b"p");
    }
    assert_eq!(last.map(|i| i.map(|i| i.value)), Ok(Some(value_for(b"p"))));
    let conns = opcodes_by_connection(&srv);
    assert!(conns.len() >= 3, "{conns:?}");
    for (n, ops) in conns.iter().enumerate() {
        assert_eq!(
            ops.first(),
            Some(&opcode::SASL_AUTH),
            "connection {n}: {conns:?}"
        );
    }
    assert!(
        conns[2..]
            .iter()
            .any(|ops| ops.get(1) == Some(&opcode::NOOP)),
        "a probe NOOP after the handshake: {conns:?}"
    );
}

#[test]
fn refused_credentials_fail_clearly_and_send_nothing_else() {
    let srv = Server::start(|_| vec![sasl_serve()]);
    let mut c = sasl_client(&srv.addr(), USER, "wrong");
    let mut reqs = [
        omcache::client::OwnedRequest::keyed(opcode::GETK, b"x1"),
        omcache::client::OwnedRequest::keyed(opcode::GETK, b"x2"),
    ];
    let (_, responses) = c.execute(&mut reqs, 2000);
    assert_eq!(responses.len(), 2, "{responses:?}");
    for (_, r) in &responses {
        assert_eq!(r.status, Status::Failed(Failure::AuthFailed));
    }
    // The server is out of service now (OMcache's policy ejects it: no server left).
    assert_eq!(
        c.get(b"x3"),
        Err(Status::Failed(Failure::NoServers)),
        "no silent retry"
    );
    let conns = opcodes_by_connection(&srv);
    assert_eq!(
        conns,
        vec![vec![opcode::SASL_AUTH]],
        "only the handshake was sent"
    );
}

#[test]
fn refused_credentials_with_libmemcached_policy_then_new_credentials() {
    let srv = Server::start(|_| vec![sasl_serve()]);
    let mut c = sasl_client(&srv.addr(), USER, "wrong");
    c.settings_mut().failover = omcache::client::FailoverPolicy::libmemcached(false, 2, None);
    c.settings_mut().reconnect_timeout = Duration::from_secs(30);
    assert_eq!(
        c.set(b"k", b"v", 0, 0).map(drop),
        Err(Status::Failed(Failure::AuthFailed))
    );
    // Out of service until its retry time: no new connection, no new handshake.
    assert_eq!(
        c.set(b"k", b"v", 0, 0).map(drop),
        Err(Status::Failed(Failure::ServerTemporarilyDisabled))
    );
    assert_eq!(srv.connections(), 1);
    // New credentials let it be tried again at once.
    c.set_sasl(Some(SaslCredentials::new(USER, PASS)));
    assert_eq!(c.set(b"k", b"v", 0, 0).map(drop), Ok(()));
    assert_eq!(srv.connections(), 2);
}

#[test]
fn auth_continue_is_a_failure_for_plain() {
    let srv = Server::start(|_| answer_auth_with(0x21));
    let mut c = sasl_client(&srv.addr(), USER, PASS);
    assert_eq!(c.get(b"k"), Err(Status::Failed(Failure::AuthFailed)));
    assert_eq!(opcodes_by_connection(&srv), vec![vec![opcode::SASL_AUTH]]);
}

#[test]
fn server_without_sasl_is_refused() {
    let srv = Server::start(|_| answer_auth_with(0x81));
    let mut c = sasl_client(&srv.addr(), USER, PASS);
    assert_eq!(c.get(b"k"), Err(Status::Failed(Failure::AuthUnsupported)));
    assert_eq!(opcodes_by_connection(&srv), vec![vec![opcode::SASL_AUTH]]);
}

#[test]
fn server_closing_mid_auth_is_bounded() {
    let srv = Server::start(|_| vec![Step::ReadRequests(1), Step::Close]);
    let mut c = sasl_client(&srv.addr(), USER, PASS);
    let start = Instant::now();
    let r = c.get(b"k");
    assert!(
        matches!(r, Err(Status::Failed(f)) if f.is_server_failure()),
        "{r:?}"
    );
    assert!(start.elapsed() < ms(2000), "{:?}", start.elapsed());
    // One immediate reconnect at most, then out of service: no retry loop.
    let n = srv.connections();
    assert!((1..=2).contains(&n), "{n} connections");
    assert_eq!(c.get(b"k"), Err(Status::Failed(Failure::NoServers)));
    for ops in opcodes_by_connection(&srv) {
        assert!(ops.iter().all(|&o| o == opcode::SASL_AUTH), "{ops:?}");
    }
}

#[test]
fn unanswered_auth_times_out_with_the_connect_timeout() {
    let srv = Server::start(|_| vec![Step::Silent]);
    let mut c = sasl_client(&srv.addr(), USER, PASS);
    c.settings_mut().connect_timeout = ms(300);
    // Not ejected: the request fails with the timeout instead of moving to another server
    // (there is none) as OMcache's policy does with requests that never left.
    c.settings_mut().failover = omcache::client::FailoverPolicy::libmemcached(false, 2, None);
    let start = Instant::now();
    let r = c.get(b"k");
    let took = start.elapsed();
    assert_eq!(r, Err(Status::Failed(Failure::Timeout)));
    assert!(
        took >= ms(250) && took < common::slack(ms(2000)),
        "took {took:?} (connect timeout 300 ms, dead timeout 5 s)"
    );
}

#[test]
fn sasl_needs_the_binary_protocol() {
    let srv = Server::start(|_| vec![sasl_serve()]);
    for protocol in [Protocol::Text, Protocol::Meta] {
        let before = srv.connections();
        let mut c = sasl_client(&srv.addr(), USER, PASS);
        c.settings_mut().reconnect_timeout = Duration::from_secs(30);
        c.set_protocol(protocol);
        assert_eq!(
            c.set(b"k", b"v", 0, 0).map(drop),
            Err(Status::Failed(Failure::SaslConfig))
        );
        // Then out of service until its retry time, as libmemcached 1.1.4 has it.
        assert_eq!(
            c.get(b"k"),
            Err(Status::Failed(Failure::ServerTemporarilyDisabled))
        );
        assert_eq!(srv.connections(), before, "nothing sent");
        // Back to binary: tried again at once, and it authenticates.
        c.set_protocol(Protocol::Binary);
        assert_eq!(c.set(b"k", b"v", 0, 0).map(drop), Ok(()));
    }
    let before = srv.connections();
    let mut c = sasl_client(&srv.addr(), "us\0er", PASS);
    assert_eq!(c.get(b"k"), Err(Status::Failed(Failure::SaslConfig)));
    assert_eq!(srv.connections(), before, "nothing sent");
}

#[test]
fn debug_never_shows_the_password() {
    let c = sasl_client("127.0.0.1:1", USER, "hunter2-secret");
    let shown = format!("{:?} {:?}", c, c.settings());
    assert!(shown.contains(USER), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

// ----- a real memcached -S --------------------------------------------------------------------

struct SaslMemcached {
    port: u16,
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for SaslMemcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn have_tool(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// memcached -S with its own sasldb holding USER/PASS, mech_list plain; None (with a message)
/// when saslpasswd2 or SASL support in memcached is missing.
fn start_sasl_memcached() -> Option<SaslMemcached> {
    let help = Command::new("memcached").arg("-h").output().ok()?;
    let has_sasl = String::from_utf8_lossy(&help.stdout).contains("--enable-sasl");
    if !have_tool("saslpasswd2") || !has_sasl {
        eprintln!(
            "SKIP real SASL memcached tests: need saslpasswd2 (Debian: apt-get install sasl2-bin) and memcached with SASL"
        );
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "omcache-sasl-{}-{}",
        std::process::id(),
        common::free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("sasldb2");
    let mut p = Command::new("saslpasswd2")
        .args(["-a", "memcached", "-c", "-p", "-f"])
        .arg(&db)
        .arg(USER)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    p.stdin.take().unwrap().write_all(PASS.as_bytes()).unwrap();
    assert!(p.wait().unwrap().success(), "saslpasswd2 failed");
    std::fs::write(
        dir.join("memcached.conf"),
        format!("mech_list: plain\nsasldb_path: {}\n", db.display()),
    )
    .unwrap();
    let root = is_root();
    if root {
        // memcached drops to nobody before it opens the sasldb.
        let _ = Command::new("chown").arg("nobody").arg(&db).status();
        let _ = Command::new("chmod").arg("755").arg(&dir).status();
    }
    for _ in 0..20 {
        let port = common::free_port();
        let mut cmd = Command::new("memcached");
        cmd.env("SASL_CONF_PATH", &dir).args([
            "-S",
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-t",
            "1",
        ]);
        if root {
            cmd.args(["-u", "nobody"]);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + common::slack(Duration::from_secs(5));
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(SaslMemcached { port, child, dir });
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(ms(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("memcached -S did not start");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[test]
fn real_sasl_memcached() {
    let Some(server) = start_sasl_memcached() else {
        return;
    };
    let addr = format!("127.0.0.1:{}", server.port);

    let mut c = sasl_client(&addr, USER, PASS);
    c.settings_mut().connect_timeout = common::slack(ms(2000));
    assert_eq!(c.set(b"sasl-key", b"sasl-value", 0, 42).map(drop), Ok(()));
    let item = c.get(b"sasl-key").unwrap().unwrap();
    assert_eq!(
        (item.value.as_slice(), item.flags),
        (&b"sasl-value"[..], 42)
    );
    assert_eq!(c.increment(b"sasl-n", 5, 10, 0), Ok(10));
    assert_eq!(c.increment(b"sasl-n", 5, 10, 0), Ok(15));
    let got = c
        .get_multi(&[b"sasl-key", b"sasl-n", b"sasl-miss"])
        .unwrap();
    assert_eq!(got.len(), 2);
    let stats = c.stats(0, None).unwrap();
    assert!(stats.iter().any(|(k, _)| k == "pid"));
    assert_eq!(c.delete(b"sasl-key"), Ok(true));
    // After the connection is dropped, the next request authenticates again.
    c.reset_buffers();
    c.set_servers("127.0.0.1:1").unwrap();
    c.set_servers(&addr).unwrap();
    assert_eq!(
        c.get(b"sasl-n").map(|i| i.map(|i| i.value)),
        Ok(Some(b"15".to_vec()))
    );

    // Wrong password, unknown user: AuthFailed.
    for (user, pass) in [(USER, "wrong"), ("nobody-here", PASS)] {
        let mut bad = sasl_client(&addr, user, pass);
        assert_eq!(
            bad.get(b"sasl-n"),
            Err(Status::Failed(Failure::AuthFailed)),
            "{user}"
        );
    }

    // No credentials: the server answers every request with its authentication error.
    let mut none = Client::new();
    none.set_servers(&addr).unwrap();
    assert_eq!(none.get(b"sasl-n"), Err(Status::ServerError(0x20)));
}
