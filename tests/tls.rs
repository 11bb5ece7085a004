//! TLS (`Settings::tls`) against real `memcached -Z` servers on loopback, with a throwaway CA
//! and certificates made by Debian's `openssl` (the tests are skipped, with a message, when
//! `openssl` or a TLS-enabled memcached is missing), plus fake listeners for what a real
//! server does not do (a handshake that stalls; recording what the client sends).
mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use omcache::client::{Failure, Status, TlsFailure, TlsSettings, Wait};
use omcache::protocol::Protocol;
use omcache::Client;

use common::{free_port, slack};

// ----- certificates ---------------------------------------------------------------------------

struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const CA_CONF: &str = "\
[ca]
default_ca = test_ca
[test_ca]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
default_days = 30
[any_name]
commonName = supplied
[server]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost
[other_name]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
";

/// Makes (once per test process) two CAs and, signed by the first: a server certificate for
/// 127.0.0.1 and localhost, the same expired, one for another name, and a client certificate.
/// None when openssl or TLS support in memcached is missing.
fn pki() -> Option<&'static Pki> {
    static PKI: OnceLock<Option<Pki>> = OnceLock::new();
    PKI.get_or_init(|| {
        let has_openssl = Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        let help = Command::new("memcached").arg("-h").output().ok()?;
        let has_tls = String::from_utf8_lossy(&help.stdout).contains("enable-ssl");
        if !has_openssl || !has_tls {
            eprintln!(
                "SKIP TLS tests: need openssl (Debian: apt-get install openssl) and memcached \
                 built with TLS (Debian's is)"
            );
            return None;
        }
        remove_stale_pki_dirs();
        let dir = std::env::temp_dir().join(format!("omcache-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.cnf"), CA_CONF).unwrap();
        std::fs::write(dir.join("index.txt"), "").unwrap();
        std::fs::write(dir.join("serial"), "1000\n").unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let (key, crt, subj) = (
                format!("{ca}.key"),
                format!("{ca}.crt"),
                format!("/CN=omcache test {ca}"),
            );
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend([
                "-keyout",
                &key,
                "-out",
                &crt,
                "-days",
                "30",
                "-subj",
                &subj,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(&dir, &args);
        }
        let issue = |name: &str, cn: &str, ext: &str, dates: &[&str]| {
            let (key, csr, crt) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
            );
            let subj = format!("/CN={cn}");
            let mut args = vec!["req"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
            openssl(&dir, &args);
            let mut args = vec![
                "ca",
                "-batch",
                "-notext",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.crt",
                "-keyfile",
                "ca.key",
                "-extensions",
                ext,
                "-in",
                &csr,
                "-out",
                &crt,
            ];
            args.extend(dates);
            openssl(&dir, &args);
        };
        issue("server", "127.0.0.1", "server", &[]);
        issue(
            "expired",
            "127.0.0.1",
            "server",
            &[
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200201000000Z",
            ],
        );
        issue("other", "other.example", "other_name", &[]);
        issue("client", "omcache test client", "client", &[]);
        // memcached runs as nobody.
        Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(&dir)
            .status()
            .unwrap();
        Some(Pki { dir })
    })
    .as_ref()
}

/// The certificates live as long as the test process (a static cannot clean up): each run
/// removes those of earlier runs that have ended.
fn remove_stale_pki_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("omcache-tls-") {
            if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

// ----- servers --------------------------------------------------------------------------------

struct TlsMemcached {
    port: u16,
    child: Child,
    host: &'static str,
}

impl TlsMemcached {
    /// `memcached -Z` with this certificate (`server`, `expired`, `other`) on a free port;
    /// `verify_client`: requires a client certificate signed by the test CA.
    fn start(pki: &Pki, cert: &str, verify_client: bool) -> TlsMemcached {
        TlsMemcached::start_sasl(pki, cert, verify_client, None)
    }

    /// With `sasl_conf` (a directory with memcached.conf): `-S` too.
    fn start_sasl(
        pki: &Pki,
        cert: &str,
        verify_client: bool,
        sasl_conf: Option<&Path>,
    ) -> TlsMemcached {
        for _ in 0..20 {
            let port = free_port();
            let started =
                TlsMemcached::try_start(pki, cert, verify_client, port, sasl_conf, "127.0.0.1", "");
            if let Some(m) = started {
                return m;
            }
        }
        panic!("could not start memcached -Z");
    }

    fn start_at(pki: &Pki, cert: &str, port: u16) -> TlsMemcached {
        for _ in 0..50 {
            if let Some(m) = TlsMemcached::try_start(pki, cert, false, port, None, "127.0.0.1", "")
            {
                return m;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("could not start memcached -Z on port {port}");
    }

    fn try_start(
        pki: &Pki,
        cert: &str,
        verify_client: bool,
        port: u16,
        sasl_conf: Option<&Path>,
        host: &'static str,
        extra_opts: &str,
    ) -> Option<TlsMemcached> {
        let mut opts = format!(
            "ssl_chain_cert={},ssl_key={}",
            pki.path(&format!("{cert}.crt")).display(),
            pki.path(&format!("{cert}.key")).display()
        );
        if verify_client {
            opts += &format!(
                ",ssl_ca_cert={},ssl_verify_mode=2",
                pki.path("ca.crt").display()
            );
        }
        // memcached resumes sessions only with its session cache on.
        opts += ",ssl_session_cache";
        opts += extra_opts;
        let mut cmd = Command::new("memcached");
        cmd.args(["-Z", "-o", &opts, "-l", host, "-p", &port.to_string()]);
        cmd.args(["-U", "0", "-t", "1"]);
        if let Some(dir) = sasl_conf {
            cmd.arg("-S").env("SASL_CONF_PATH", dir);
        }
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + slack(Duration::from_secs(5));
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return None; // the port was taken meanwhile
            }
            if std::net::TcpStream::connect((host, port)).is_ok() {
                return Some(TlsMemcached { port, child, host });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    fn addr(&self) -> String {
        match self.host {
            "::1" => format!("[::1]:{}", self.port),
            host => format!("{host}:{}", self.port),
        }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for TlsMemcached {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

// ----- clients --------------------------------------------------------------------------------

type Log = Arc<Mutex<Vec<String>>>;

fn tls_client(list: &str, tls: TlsSettings, connect_timeout: Duration) -> (Client, Log) {
    let mut c = Client::new();
    c.set_servers(list).unwrap();
    c.settings_mut().connect_timeout = connect_timeout;
    c.settings_mut().tls = Some(tls);
    let log: Log = Arc::default();
    let sink = log.clone();
    c.set_log(
        7,
        Some(Box::new(move |_, line: &str| {
            sink.lock().unwrap().push(line.to_string())
        })),
    );
    (c, log)
}

fn test_ca(pki: &Pki) -> TlsSettings {
    TlsSettings::new().with_ca_file(pki.path("ca.crt"))
}

fn logged(log: &Log, what: &str) -> bool {
    log.lock().unwrap().iter().any(|l| l.contains(what))
}

fn value(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| b'a' + ((i + j) % 26) as u8).collect()
}

// ----- tests ----------------------------------------------------------------------------------

#[test]
fn get_set_multiget_over_tls_in_each_protocol() {
    let Some(pki) = pki() else { return };
    let srv = TlsMemcached::start(pki, "server", false);
    for protocol in [Protocol::Binary, Protocol::Text, Protocol::Meta] {
        let (mut c, log) = tls_client(&srv.addr(), test_ca(pki), Duration::from_secs(5));
        c.set_protocol(protocol);
        let tag = format!("{protocol:?}");
        c.set(format!("{tag}-k").as_bytes(), b"v1", 0, 7).unwrap();
        let item = c.get(format!("{tag}-k").as_bytes()).unwrap().unwrap();
        assert_eq!(
            (item.value.as_slice(), item.flags),
            (&b"v1"[..], 7),
            "{tag}"
        );
        assert_eq!(c.get(format!("{tag}-missing").as_bytes()).unwrap(), None);
        // 100 keys in one pipelined batch, values spanning many TLS records.
        let keys: Vec<Vec<u8>> = (0..100)
            .map(|i| format!("{tag}-multi-{i}").into_bytes())
            .collect();
        for (i, k) in keys.iter().enumerate() {
            c.set(k, &value(i, 1 + i * 700), 0, 0).unwrap();
        }
        let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        let got = c.get_multi(&refs).unwrap();
        assert_eq!(got.len(), 100, "{tag}");
        for (k, item) in got {
            let i = keys.iter().position(|x| *x == k).unwrap();
            assert_eq!(item.value, value(i, 1 + i * 700), "{tag}");
        }
        // One value larger than the receive buffer's first allocation and many records.
        let big = value(3, 600_000);
        c.set(format!("{tag}-big").as_bytes(), &big, 0, 0).unwrap();
        assert_eq!(
            c.get(format!("{tag}-big").as_bytes())
                .unwrap()
                .unwrap()
                .value,
            big
        );
        assert!(
            logged(&log, "TLS established"),
            "{tag}: {:?}",
            log.lock().unwrap()
        );
    }
}

#[test]
fn a_session_the_server_closed_while_idle_is_replaced_before_the_next_request() {
    // memcached's idle_timeout ends an idle TLS session with a close_notify: the look at the
    // idle connection read it and took it for "nothing to read", so over binary the next get
    // failed on the closed session (found by an outside tester); text looked elsewhere.
    let Some(pki) = pki() else { return };
    let srv = (0..20)
        .find_map(|_| {
            let port = free_port();
            TlsMemcached::try_start(
                pki,
                "server",
                false,
                port,
                None,
                "127.0.0.1",
                ",idle_timeout=1",
            )
        })
        .expect("memcached -Z");
    let mut clients = Vec::new();
    for protocol in [Protocol::Binary, Protocol::Text, Protocol::Meta] {
        let (mut c, _log) = tls_client(&srv.addr(), test_ca(pki), Duration::from_secs(5));
        c.set_protocol(protocol);
        let key = format!("idle-{protocol:?}");
        c.set(key.as_bytes(), b"v", 0, 0).unwrap();
        clients.push((protocol, key, c));
    }
    // Three idle periods (an outside tester saw the second fail): a get first, then a quiet
    // set that only queues (it looks at the connection too), then a get again.
    for round in 0..3 {
        // memcached closes idle connections within a second or two of idle_timeout.
        std::thread::sleep(Duration::from_millis(3500));
        for (protocol, key, c) in &mut clients {
            let what = format!("{protocol:?} round {round}");
            if round == 1 {
                let mut quiet = [omcache::client::OwnedRequest {
                    extras: vec![0; 8],
                    value: b"w".to_vec(),
                    ..omcache::client::OwnedRequest::keyed(
                        omcache::protocol::opcode::SETQ,
                        key.as_bytes(),
                    )
                }];
                assert_eq!(c.execute(&mut quiet, 0).0, Status::Buffered, "{what}");
            }
            let want: &[u8] = if round == 0 { b"v" } else { b"w" };
            let got = c.get(key.as_bytes());
            assert_eq!(
                got.map(|i| i.map(|i| i.value)),
                Ok(Some(want.to_vec())),
                "{what}"
            );
        }
    }
}

#[test]
fn host_names_are_verified_with_sni() {
    let Some(pki) = pki() else { return };
    let srv = TlsMemcached::start(pki, "server", false);
    let (mut c, _) = tls_client(
        &format!("localhost:{}", srv.port),
        test_ca(pki),
        Duration::from_secs(5),
    );
    c.set(b"by-name", b"ok", 0, 0).unwrap();
    assert_eq!(c.get(b"by-name").unwrap().unwrap().value, b"ok");
    // The certificate names localhost, not "other.example": an explicit name must match too.
    let tls = test_ca(pki).with_server_name("localhost");
    let (mut c, _) = tls_client(&srv.addr(), tls, Duration::from_secs(5));
    assert_eq!(c.get(b"by-name").unwrap().unwrap().value, b"ok");
}

/// A request that must fail with `want` within the connect timeout, nothing stored.
fn assert_tls_failure(c: &mut Client, log: &Log, want: &[TlsFailure], timeout: Duration) {
    let start = Instant::now();
    let r = c.set(b"secret-key", b"secret-value", 0, 0);
    let took = start.elapsed();
    let failure = match r {
        Err(Status::Failed(Failure::Tls(f))) => f,
        other => panic!(
            "expected a TLS failure {want:?}, got {other:?}; log {:?}",
            log.lock().unwrap()
        ),
    };
    assert!(
        want.contains(&failure),
        "got {failure:?}, expected {want:?}"
    );
    assert!(
        took < slack(timeout + Duration::from_millis(500)),
        "took {took:?}"
    );
    assert!(logged(log, "TLS"), "{:?}", log.lock().unwrap());
    eprintln!("{failure:?} in {took:?}: {}", failure.message());
}

#[test]
fn unknown_ca_name_mismatch_and_expired_fail_with_their_reason() {
    let Some(pki) = pki() else { return };
    let timeout = Duration::from_secs(2);
    let srv = TlsMemcached::start(pki, "server", false);
    let tls = TlsSettings::new().with_ca_file(pki.path("other-ca.crt"));
    let (mut c, log) = tls_client(&srv.addr(), tls, timeout);
    assert_tls_failure(&mut c, &log, &[TlsFailure::UnknownCa], timeout);
    // The system's roots (Debian's ca-certificates) do not know the test CA either.
    if Path::new(omcache::client::SYSTEM_CA_FILE).exists()
        && std::env::var_os("SSL_CERT_FILE").is_none()
    {
        let (mut c, log) = tls_client(&srv.addr(), TlsSettings::new(), timeout);
        assert_tls_failure(&mut c, &log, &[TlsFailure::UnknownCa], timeout);
    } else {
        eprintln!("SKIP system roots: no {}", omcache::client::SYSTEM_CA_FILE);
    }

    let other = TlsMemcached::start(pki, "other", false);
    let (mut c, log) = tls_client(&other.addr(), test_ca(pki), timeout);
    assert_tls_failure(&mut c, &log, &[TlsFailure::NameMismatch], timeout);

    let expired = TlsMemcached::start(pki, "expired", false);
    let (mut c, log) = tls_client(&expired.addr(), test_ca(pki), timeout);
    assert_tls_failure(&mut c, &log, &[TlsFailure::Expired], timeout);

    // Nothing reached any of them: a plain look from a trusting client finds no key.
    for s in [&srv, &other, &expired] {
        let tls = test_ca(pki).with_server_name(if s.port == other.port {
            "other.example"
        } else {
            "localhost"
        });
        let mut trusted = tls_client(&s.addr(), tls, timeout).0;
        if s.port != expired.port {
            assert_eq!(trusted.get(b"secret-key").unwrap(), None);
        }
    }
}

#[test]
fn mutual_tls() {
    let Some(pki) = pki() else { return };
    let timeout = Duration::from_secs(2);
    let srv = TlsMemcached::start(pki, "server", true);
    let tls = test_ca(pki).with_client_cert(pki.path("client.crt"), pki.path("client.key"));
    let (mut c, _) = tls_client(&srv.addr(), tls, timeout);
    c.set(b"mtls", b"yes", 0, 0).unwrap();
    assert_eq!(c.get(b"mtls").unwrap().unwrap().value, b"yes");
    let (mut c, _) = tls_client(&srv.addr(), tls_with_client(pki), timeout);
    let keys: Vec<&[u8]> = vec![b"mtls", b"nope"];
    assert_eq!(c.get_multi(&keys).unwrap().len(), 1);

    // Without a client certificate: the server refuses (TLS 1.3 says so after our Finished,
    // so the failure comes with the first answer), and the key was not stored.
    let (mut c, log) = tls_client(&srv.addr(), test_ca(pki), timeout);
    assert_tls_failure(
        &mut c,
        &log,
        &[TlsFailure::Refused, TlsFailure::NotTls],
        timeout,
    );
    let (mut c, _) = tls_client(&srv.addr(), tls_with_client(pki), timeout);
    assert_eq!(c.get(b"secret-key").unwrap(), None);
}

fn tls_with_client(pki: &Pki) -> TlsSettings {
    test_ca(pki).with_client_cert(pki.path("client.crt"), pki.path("client.key"))
}

#[test]
fn a_plaintext_server_is_never_spoken_to_in_clear() {
    let Some(pki) = pki() else { return };
    let timeout = Duration::from_millis(1500);
    let plain = common::Memcached::start(&[]);
    let (mut c, log) = tls_client(&plain.addr(), test_ca(pki), timeout);
    // memcached answers ERROR to a ClientHello that happens to hold a newline byte, else
    // waits for the rest of the "line": not TLS, or no handshake within the timeout.
    assert_tls_failure(
        &mut c,
        &log,
        &[TlsFailure::NotTls, TlsFailure::HandshakeTimeout],
        timeout,
    );
    let mut plain_client = Client::new();
    plain_client.set_servers(&plain.addr()).unwrap();
    assert_eq!(plain_client.get(b"secret-key").unwrap(), None);
}

/// A listener that accepts, records what it receives and never answers.
fn stalling_listener() -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<u8>>> = Arc::default();
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let sink = sink.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
    });
    (port, got)
}

#[test]
fn a_stalled_handshake_times_out_within_connect_timeout() {
    let Some(pki) = pki() else { return };
    let timeout = Duration::from_millis(400);
    let (port, got) = stalling_listener();
    let (mut c, log) = tls_client(&format!("127.0.0.1:{port}"), test_ca(pki), timeout);
    // dead_timeout far away: the handshake's own deadline must fire.
    c.settings_mut().dead_timeout = Duration::from_secs(30);
    let start = Instant::now();
    assert_tls_failure(&mut c, &log, &[TlsFailure::HandshakeTimeout], timeout);
    assert!(start.elapsed() >= timeout, "{:?}", start.elapsed());
    let sent = got.lock().unwrap().clone();
    // A TLS handshake record (ClientHello), and neither the key nor the value in clear.
    assert_eq!(&sent[..2], &[0x16, 0x03], "{sent:?}");
    assert!(!sent.windows(10).any(|w| w == b"secret-key"));
    assert!(!sent.windows(12).any(|w| w == b"secret-value"));
}

/// A proxy to `upstream` that passes what the client sends and only the first `limit` bytes
/// of what the server sends, then closes both connections (a TLS server stopping, or a
/// middlebox cutting the connection, in the middle of the handshake).
fn cutting_proxy(upstream: u16, limit: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { return };
            let Ok(mut server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let (mut client_in, mut server_out) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = client_in.read(&mut buf) {
                    if n == 0 || server_out.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
            std::thread::spawn(move || {
                // The server's first bytes are awaited even with a limit of 0: they come
                // once the ClientHello is through, so the client sees a close, not a reset
                // of what it was still writing.
                let mut buf = [0u8; 4096];
                let mut passed = 0;
                while let Ok(n) = server.read(&mut buf) {
                    let n = n.min(limit - passed);
                    if n == 0 || client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    passed += n;
                    if passed == limit {
                        break;
                    }
                }
                let _ = client.shutdown(std::net::Shutdown::Both);
                let _ = server.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}

#[test]
fn a_handshake_cut_short_is_told_from_a_server_without_tls() {
    let Some(pki) = pki() else { return };
    let timeout = Duration::from_millis(1500);
    let srv = TlsMemcached::start(pki, "server", false);
    // Part of the server's first flight, then the close: not "does not speak TLS" (found
    // by outside tester U, whose proxy cut the handshake after 0, 100 and 1,000 bytes; this
    // test certificate's whole first flight fits in 1,000).
    for limit in [100, 300] {
        let proxy = cutting_proxy(srv.port, limit);
        let (mut c, log) = tls_client(&format!("127.0.0.1:{proxy}"), test_ca(pki), timeout);
        assert_tls_failure(&mut c, &log, &[TlsFailure::ClosedInHandshake], timeout);
    }
    // Nothing back before the close: a server that does not speak TLS, as far as anyone
    // can tell.
    let proxy = cutting_proxy(srv.port, 0);
    let (mut c, log) = tls_client(&format!("127.0.0.1:{proxy}"), test_ca(pki), timeout);
    assert_tls_failure(&mut c, &log, &[TlsFailure::NotTls], timeout);
    // The server itself is fine.
    let (mut direct, _) = tls_client(&srv.addr(), test_ca(pki), timeout);
    direct.set(b"cut-key", b"v", 0, 0).unwrap();
    assert_eq!(direct.get(b"cut-key").unwrap().unwrap().value, b"v");
}

#[test]
fn unusable_settings_fail_at_once() {
    let Some(pki) = pki() else { return };
    let srv = TlsMemcached::start(pki, "server", false);
    let tls = TlsSettings::new().with_ca_file("/nonexistent/ca.pem");
    let (mut c, log) = tls_client(&srv.addr(), tls, Duration::from_secs(2));
    let r = c.get(b"k");
    assert_eq!(r, Err(Status::Failed(Failure::Tls(TlsFailure::Config))));
    assert!(
        logged(&log, "/nonexistent/ca.pem"),
        "{:?}",
        log.lock().unwrap()
    );
    // Fixed settings work at once.
    c.settings_mut().tls = Some(test_ca(pki));
    assert_eq!(c.get(b"k").unwrap(), None);
}

#[test]
fn unix_sockets_stay_plain() {
    let Some(pki) = pki() else { return };
    let unix = common::UnixMemcached::start();
    let (mut c, log) = tls_client(
        unix.path.to_str().unwrap(),
        test_ca(pki),
        Duration::from_secs(2),
    );
    c.set(b"local", b"plain", 0, 0).unwrap();
    assert_eq!(c.get(b"local").unwrap().unwrap().value, b"plain");
    assert!(!logged(&log, "TLS established"));
}

#[test]
fn kill_and_restart_keys_move_and_come_back_with_resumption() {
    let Some(pki) = pki() else { return };
    let mut servers: Vec<TlsMemcached> = (0..3)
        .map(|_| TlsMemcached::start(pki, "server", false))
        .collect();
    let list = servers
        .iter()
        .map(|s| s.addr())
        .collect::<Vec<_>>()
        .join(",");
    let (mut c, log) = tls_client(&list, test_ca(pki), Duration::from_secs(2));
    c.settings_mut().reconnect_timeout = Duration::from_millis(300);
    let keys: Vec<Vec<u8>> = (0..60)
        .map(|i| format!("failover-{i}").into_bytes())
        .collect();
    for k in &keys {
        c.set(k, k, 0, 0).unwrap();
    }
    let victim = 1;
    let on_victim: Vec<&Vec<u8>> = keys
        .iter()
        .filter(|k| c.server_index_for_key(k) == Some(victim))
        .collect();
    assert!(!on_victim.is_empty());
    let port = servers[victim].port;
    servers[victim].kill9();

    // The first request for a key of the dead server fails (it was in flight), then its keys
    // live elsewhere; every other key stays where it was.
    let _ = c.get(on_victim[0]);
    for k in &on_victim {
        assert_eq!(c.get(k).unwrap(), None, "moved key found before being set");
        c.set(k, b"moved", 0, 0).unwrap();
        assert_ne!(c.server_index_for_key(k), Some(victim));
    }
    for k in keys.iter().filter(|k| !on_victim.contains(k)) {
        assert_eq!(c.get(k).unwrap().unwrap().value, *k);
    }

    // Back on the same port (empty): after the retry time the probe brings it back.
    servers[victim] = TlsMemcached::start_at(pki, "server", port);
    log.lock().unwrap().clear();
    let deadline = Instant::now() + slack(Duration::from_secs(5));
    while c.server_index_for_key(on_victim[0]) != Some(victim) {
        assert!(
            Instant::now() < deadline,
            "server not taken back: {:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
        let _ = c.get(b"tick");
    }
    for k in &on_victim {
        assert_eq!(c.get(k).unwrap(), None, "the restarted server is empty");
    }
    // Every server keeps its own sessions (one IP address, several ports): a reconnect to
    // each live one resumes.
    for server in 0..3 {
        force_reconnect(&mut c, server);
        let resumed = c.tls_resumed(server);
        // The restarted server has new session keys: a full handshake the first time.
        if server != victim {
            assert_eq!(
                resumed,
                Some(true),
                "server {server}: {:?}",
                log.lock().unwrap()
            );
        }
    }
    for k in &on_victim {
        c.set(k, b"back", 0, 0).unwrap();
        assert_eq!(c.get(k).unwrap().unwrap().value, b"back");
    }
}

#[test]
fn a_reconnect_resumes_the_session() {
    let Some(pki) = pki() else { return };
    let srv = TlsMemcached::start(pki, "server", false);
    let (mut c, log) = tls_client(&srv.addr(), test_ca(pki), Duration::from_secs(2));
    c.set(b"resume", b"1", 0, 0).unwrap();
    assert_eq!(c.tls_resumed(0), Some(false));
    for _ in 0..3 {
        force_reconnect(&mut c, 0);
        assert_eq!(c.tls_resumed(0), Some(true), "{:?}", log.lock().unwrap());
        assert_eq!(c.get(b"resume").unwrap().unwrap().value, b"1");
    }
    // Off: every reconnect is a full handshake.
    c.settings_mut().tls.as_mut().unwrap().resume_sessions = false;
    for _ in 0..2 {
        force_reconnect(&mut c, 0);
        assert_eq!(c.tls_resumed(0), Some(false));
    }
}

/// Closes one server's connection (a NOOP after a reset would reuse it): a server-side close
/// via `quit` is not available in binary, so drop the client's socket by switching protocol
/// and back, then talk to it.
fn force_reconnect(c: &mut Client, server: usize) {
    c.set_protocol(Protocol::Text);
    c.set_protocol(Protocol::Binary);
    c.noop(server).unwrap();
}

#[test]
fn sasl_over_tls() {
    let Some(pki) = pki() else { return };
    let help = Command::new("memcached").arg("-h").output().unwrap();
    let has_sasl = String::from_utf8_lossy(&help.stdout).contains("--enable-sasl");
    let has_saslpasswd = Command::new("sh")
        .args(["-c", "command -v saslpasswd2"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_sasl || !has_saslpasswd {
        eprintln!(
            "SKIP sasl_over_tls: need saslpasswd2 (Debian: sasl2-bin) and memcached with SASL"
        );
        return;
    }
    let dir = pki.path(&format!("sasl-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("sasldb2");
    let mut p = Command::new("saslpasswd2")
        .args(["-a", "memcached", "-c", "-p", "-f"])
        .arg(&db)
        .arg("tlsuser")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut p.stdin.take().unwrap(), b"tlspass").unwrap();
    assert!(p.wait().unwrap().success());
    let conf = format!("mech_list: plain\nsasldb_path: {}\n", db.display());
    std::fs::write(dir.join("memcached.conf"), conf).unwrap();
    if is_root() {
        // memcached drops to nobody before it opens the sasldb.
        Command::new("chown")
            .arg("nobody")
            .arg(&db)
            .status()
            .unwrap();
        Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(&dir)
            .status()
            .unwrap();
    }
    let srv = TlsMemcached::start_sasl(pki, "server", false, Some(&dir));
    let (mut c, log) = tls_client(&srv.addr(), test_ca(pki), Duration::from_secs(2));
    c.settings_mut().sasl = Some(omcache::client::SaslCredentials::new("tlsuser", "tlspass"));
    c.set(b"sasl-tls", b"both", 0, 0).unwrap();
    assert_eq!(c.get(b"sasl-tls").unwrap().unwrap().value, b"both");
    force_reconnect(&mut c, 0);
    assert_eq!(c.tls_resumed(0), Some(true));
    assert_eq!(c.get(b"sasl-tls").unwrap().unwrap().value, b"both");
    assert!(logged(&log, "TLS established"));
    // Wrong password over TLS: the authentication failure, as without TLS.
    let (mut bad, _) = tls_client(&srv.addr(), test_ca(pki), Duration::from_secs(2));
    bad.settings_mut().sasl = Some(omcache::client::SaslCredentials::new("tlsuser", "nope"));
    assert_eq!(
        bad.get(b"sasl-tls"),
        Err(Status::Failed(Failure::AuthFailed))
    );
}

#[test]
fn a_silent_tls_server_is_found_dead_within_dead_timeout() {
    let Some(pki) = pki() else { return };
    let srv = TlsMemcached::start(pki, "server", false);
    let (mut c, _) = tls_client(&srv.addr(), test_ca(pki), Duration::from_secs(2));
    let dead_timeout = Duration::from_millis(400);
    c.settings_mut().dead_timeout = dead_timeout;
    c.set(b"alive", b"1", 0, 0).unwrap();
    let pid = srv.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    // SIGSTOP takes effect asynchronously; a moment makes sure the worker thread is stopped.
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let r = c.get(b"alive");
    let took = start.elapsed();
    let _ = Command::new("kill").args(["-CONT", &pid]).status();
    assert_eq!(r, Err(Status::Failed(Failure::Timeout)));
    assert!(
        took >= dead_timeout && took < slack(dead_timeout + Duration::from_millis(400)),
        "{took:?}"
    );
}

#[test]
fn the_key_dump_refuses_tls_servers_instead_of_speaking_in_clear() {
    let Some(pki) = pki() else { return };
    let (port, got) = stalling_listener();
    let (c, _) = tls_client(
        &format!("127.0.0.1:{port}"),
        test_ca(pki),
        Duration::from_secs(1),
    );
    let report = c.dump(&omcache::client::DumpOptions::default(), |_, _| {
        std::ops::ControlFlow::Continue(())
    });
    let failures: Vec<_> = report.failures().map(|(i, e)| (i, e.failure())).collect();
    assert_eq!(failures, [(0, Failure::Tls(TlsFailure::Unsupported))]);
    std::thread::sleep(Duration::from_millis(50));
    assert!(got.lock().unwrap().is_empty(), "nothing sent");
}

#[test]
fn set_tls_closes_plaintext_connections() {
    let Some(pki) = pki() else { return };
    let plain = common::Memcached::start(&[]);
    let tls_srv = TlsMemcached::start(pki, "server", false);
    let mut c = Client::new();
    c.set_servers(&plain.addr()).unwrap();
    c.settings_mut().connect_timeout = Duration::from_secs(1);
    c.set(b"k", b"plain", 0, 0).unwrap();
    // Turned on with a connection open: it does not go on in clear.
    c.set_tls(Some(test_ca(pki)));
    let r = c.get(b"k");
    assert!(matches!(r, Err(Status::Failed(Failure::Tls(_)))), "{r:?}");
    c.set_servers(&tls_srv.addr()).unwrap();
    c.set(b"k", b"tls", 0, 0).unwrap();
    assert_eq!(c.tls_resumed(0), Some(false));
    // And off again: plaintext to a plaintext server.
    c.set_tls(None);
    c.set_servers(&plain.addr()).unwrap();
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"plain");
}

#[test]
fn non_blocking_calls_and_an_external_poll_loop_over_tls() {
    let Some(pki) = pki() else { return };
    let servers: Vec<TlsMemcached> = (0..2)
        .map(|_| TlsMemcached::start(pki, "server", false))
        .collect();
    let list = servers
        .iter()
        .map(|s| s.addr())
        .collect::<Vec<_>>()
        .join(",");
    let (mut c, _) = tls_client(&list, test_ca(pki), Duration::from_secs(2));
    // 200 sets with values of 1..20 KB, started without waiting: the handshakes, the sends
    // and the answers all progress through poll_fds + io(NoWait).
    let mut reqs: Vec<omcache::client::OwnedRequest> = (0..200)
        .map(|i| omcache::client::OwnedRequest {
            extras: vec![0; 8],
            value: value(i, 1 + (i * 97) % 20_000),
            ..omcache::client::OwnedRequest::keyed(
                omcache::protocol::opcode::SET,
                format!("nb-{i}").as_bytes(),
            )
        })
        .collect();
    let (mut status, mut responses) = c.execute(&mut reqs, Wait::NoWait);
    let deadline = Instant::now() + slack(Duration::from_secs(5));
    let mut rounds = 0;
    while matches!(status, Status::Again | Status::Buffered) {
        assert!(Instant::now() < deadline, "not done after {rounds} rounds");
        // An event loop would poll these descriptors (no unsafe poll here: a short sleep
        // within the timeout the client asks for).
        let (fds, timeout) = c.poll_fds();
        assert!(!fds.is_empty() || timeout == 0);
        std::thread::sleep(Duration::from_millis(timeout.clamp(0, 2) as u64));
        let (s, more) = c.execute_more(&mut reqs, Wait::NoWait);
        status = s;
        responses.extend(more);
        rounds += 1;
    }
    assert_eq!(status, Status::Ok);
    assert_eq!(responses.len(), 200);
    assert!(responses.iter().all(|(_, r)| r.status == Status::Ok));
    assert!(
        rounds > 1,
        "the handshakes cannot finish within one non-blocking call"
    );
    // Buffered requests go out with one flush.
    c.settings_mut().buffering = true;
    for i in 0..50 {
        let _ = c.execute(
            &mut [omcache::client::OwnedRequest {
                extras: vec![0; 8],
                value: b"buffered".to_vec(),
                ..omcache::client::OwnedRequest::keyed(
                    omcache::protocol::opcode::SETQ,
                    format!("buf-{i}").as_bytes(),
                )
            }],
            Wait::NoWait,
        );
    }
    assert_eq!(c.flush_buffers(Wait::Forever), Status::Ok);
    c.settings_mut().buffering = false;
    let keys: Vec<Vec<u8>> = (0..50).map(|i| format!("buf-{i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    assert_eq!(c.get_multi(&refs).unwrap().len(), 50);
    for i in (0..200).step_by(37) {
        let want = value(i, 1 + (i * 97) % 20_000);
        assert_eq!(
            c.get(format!("nb-{i}").as_bytes()).unwrap().unwrap().value,
            want
        );
    }
}

#[test]
fn ipv6_addresses_are_verified_as_ip_names() {
    let Some(pki) = pki() else { return };
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIP ipv6_addresses_are_verified_as_ip_names: no ::1");
        return;
    }
    let start_v6 = |cert: &str| {
        (0..20)
            .find_map(|_| TlsMemcached::try_start(pki, cert, false, free_port(), None, "::1", ""))
            .expect("memcached -Z on ::1")
    };
    let srv = start_v6("server");
    let (mut c, _) = tls_client(&srv.addr(), test_ca(pki), Duration::from_secs(2));
    c.set(b"v6", b"yes", 0, 0).unwrap();
    assert_eq!(c.get(b"v6").unwrap().unwrap().value, b"yes");
    // The other certificate names neither address.
    let other = start_v6("other");
    let (mut c, log) = tls_client(&other.addr(), test_ca(pki), Duration::from_secs(2));
    assert_tls_failure(
        &mut c,
        &log,
        &[TlsFailure::NameMismatch],
        Duration::from_secs(2),
    );
}

/// A text server over TLS (rustls, the test CA's `server` certificate) on a free loopback
/// port: answers each `get` with `val-<key>` for every key. On its first connection only,
/// 50 ms after the first get's answer, it sends `unasked` as application data, or when that
/// is empty a TLS 1.3 key update (a handshake message: bytes, but no plaintext). Returns the
/// address and the connection count.
fn unasked_tls_server(pki: &Pki, unasked: &'static [u8]) -> (String, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki.path("server.crt"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(pki.path("server.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let first = count.fetch_add(1, Ordering::SeqCst) == 0;
            let session = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(session, stream);
            let mut unasked = first.then_some(unasked);
            std::thread::spawn(move || {
                let mut input = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Some(end) = input.windows(2).position(|w| w == b"\r\n") else {
                        match tls.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => input.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let line = String::from_utf8_lossy(&input[..end]).into_owned();
                    input.drain(..end + 2);
                    let words: Vec<&str> = line.split_whitespace().collect();
                    let mut reply = Vec::new();
                    match words.first().copied() {
                        Some("get" | "gets") => {
                            for key in &words[1..] {
                                let value = format!("val-{key}");
                                reply.extend_from_slice(
                                    format!("VALUE {key} 0 {}\r\n{value}\r\n", value.len())
                                        .as_bytes(),
                                );
                            }
                            reply.extend_from_slice(b"END\r\n");
                        }
                        Some("version") => reply.extend_from_slice(b"VERSION 1.6.18\r\n"),
                        _ => reply.extend_from_slice(b"ERROR\r\n"),
                    }
                    if tls.write_all(&reply).and_then(|_| tls.flush()).is_err() {
                        return;
                    }
                    if let Some(bytes) = unasked.filter(|_| words.first() == Some(&"get")) {
                        std::thread::sleep(Duration::from_millis(50));
                        if bytes.is_empty() {
                            // Handshake bytes on the idle connection, no plaintext: a TLS 1.3
                            // key update, which asks the client for one in return.
                            tls.conn.refresh_traffic_keys().unwrap();
                            let _ = tls.flush();
                        } else {
                            let _ = tls.write_all(bytes).and_then(|_| tls.flush());
                        }
                        unasked = None;
                    }
                }
            });
        }
    });
    (addr, connections)
}

/// Over TLS as over plaintext: a VALUE the server sends ahead of the get for its key is not
/// that get's answer (the idle connection is read through the session before the request is
/// queued: plaintext closes it). A key update the server sends while the connection is idle
/// closes nothing: every get goes on the first connection.
#[test]
fn text_over_tls_unasked_values_are_not_answers_and_key_updates_no_reason_to_reconnect() {
    let Some(pki) = pki() else { return };
    let get = |c: &mut Client, key: &[u8]| c.get(key).unwrap().map(|item| item.value);
    for (unasked, connections_after) in [
        (&b"VALUE keyB 0 10\r\nINJECTED-B\r\nEND\r\n"[..], 2),
        (&b""[..], 1),
    ] {
        let (addr, connections) = unasked_tls_server(pki, unasked);
        let (mut c, log) = tls_client(&addr, test_ca(pki), Duration::from_secs(5));
        c.set_protocol(Protocol::Text);
        c.set_text_cas(false);
        assert_eq!(get(&mut c, b"keyA").as_deref(), Some(&b"val-keyA"[..]));
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(get(&mut c, b"keyB").as_deref(), Some(&b"val-keyB"[..]));
        assert_eq!(get(&mut c, b"keyC").as_deref(), Some(&b"val-keyC"[..]));
        assert_eq!(
            connections.load(Ordering::SeqCst),
            connections_after,
            "{:?}",
            log.lock().unwrap()
        );
    }
}
