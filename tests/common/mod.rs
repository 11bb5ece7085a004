//! Test harness: real memcached servers on free loopback ports, killed when dropped.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The factor every upper time bound the tests assert is multiplied by:
/// `$OMCACHE_TEST_SLACK` (a number >= 1, default 1.0), read once. A slow or heavily loaded
/// machine sets more; timeouts handed to the library are not scaled, only the limits the
/// tests check against.
pub fn slack_factor() -> f64 {
    static FACTOR: OnceLock<f64> = OnceLock::new();
    *FACTOR.get_or_init(|| match std::env::var("OMCACHE_TEST_SLACK") {
        Err(_) => 1.0,
        Ok(s) if s.trim().is_empty() => 1.0,
        Ok(s) => match s.trim().parse::<f64>() {
            Ok(f) if (1.0..=1000.0).contains(&f) => f,
            _ => panic!("OMCACHE_TEST_SLACK={s:?}: expected a number from 1 to 1000"),
        },
    })
}

/// An upper time bound scaled by [`slack_factor`].
pub fn slack(d: Duration) -> Duration {
    d.mul_f64(slack_factor())
}

pub struct Memcached {
    pub port: u16,
    child: Child,
}

impl Memcached {
    /// Starts one server on 127.0.0.1 and waits until it accepts connections.
    pub fn start(extra_args: &[&str]) -> Memcached {
        Memcached::start_on("127.0.0.1", extra_args)
    }

    /// Starts one server listening on `host` (127.0.0.1 or ::1).
    pub fn start_on(host: &str, extra_args: &[&str]) -> Memcached {
        for _ in 0..20 {
            if let Some(m) = Memcached::try_start(host, free_port(), extra_args) {
                return m;
            }
        }
        panic!("could not start memcached");
    }

    /// Starts one server on a given port of 127.0.0.1 (e.g. to bring a "dead" server back).
    pub fn start_at(port: u16) -> Memcached {
        for _ in 0..50 {
            if let Some(m) = Memcached::try_start("127.0.0.1", port, &[]) {
                return m;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("could not start memcached on port {port}");
    }

    fn try_start(host: &str, port: u16, extra_args: &[&str]) -> Option<Memcached> {
        {
            let mut cmd = Command::new("memcached");
            let port_arg = port.to_string();
            cmd.args(["-l", host, "-p", &port_arg, "-U", "0", "-t", "1"]);
            // memcached refuses to run as root without -u.
            if is_root() {
                cmd.args(["-u", "nobody"]);
            }
            cmd.args(extra_args)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut child = spawn(&mut cmd);
            let deadline = Instant::now() + slack(Duration::from_secs(5));
            while Instant::now() < deadline {
                if answers_version(host, port) && matches!(child.try_wait(), Ok(None)) {
                    return Some(Memcached { port, child });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken meanwhile
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        None
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A memcached listening only on a unix socket.
pub struct UnixMemcached {
    pub path: std::path::PathBuf,
    child: Child,
}

impl UnixMemcached {
    pub fn start() -> UnixMemcached {
        let dir = std::env::temp_dir();
        let path = dir.join(format!(
            "omcache-test-{}-{}.sock",
            std::process::id(),
            free_port()
        ));
        let mut cmd = Command::new("memcached");
        cmd.args([
            "-s",
            path.to_str().unwrap(),
            "-a",
            "0666",
            "-U",
            "0",
            "-t",
            "1",
        ]);
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let mut child = spawn(cmd.stdout(Stdio::null()).stderr(Stdio::null()));
        let deadline = Instant::now() + slack(Duration::from_secs(5));
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                return UnixMemcached { path, child };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("could not start memcached on a unix socket");
    }
}

impl Drop for UnixMemcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts memcached; a missing binary is reported as such (the tests need it on PATH).
fn spawn(cmd: &mut Command) -> Child {
    cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run memcached ({e}); the tests need it on PATH (apt-get install memcached)")
    })
}

/// True when a memcached answers on the port. A bare connect is not enough: the port may
/// belong to someone else, or a connect to a port nobody listens on can connect to itself.
fn answers_version(host: &str, port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect((host, port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 64];
    s.write_all(b"version\r\n").is_ok()
        && s.read(&mut buf)
            .map(|n| buf[..n].starts_with(b"VERSION "))
            .unwrap_or(false)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A loopback port that refuses connections for as long as the value lives: a socket bound to
/// it that does not listen. A port merely found free (`free_port`) may be taken meanwhile by
/// another test running in parallel, whose listener then accepts and resets the connection.
pub struct RefusingPort {
    _socket: socket2::Socket,
    pub port: u16,
}

impl RefusingPort {
    pub fn new() -> RefusingPort {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket
            .bind(
                &"127.0.0.1:0"
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
                    .into(),
            )
            .unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port();
        RefusingPort {
            _socket: socket,
            port,
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `n` servers and returns them with their comma-separated list.
pub fn cluster(n: usize) -> (Vec<Memcached>, String) {
    let servers: Vec<Memcached> = (0..n).map(|_| Memcached::start(&[])).collect();
    let list = servers
        .iter()
        .map(|s| s.addr())
        .collect::<Vec<_>>()
        .join(",");
    (servers, list)
}

/// twemproxy (Debian's `nutcracker`) in front of memcached servers, on a free loopback port;
/// killed when dropped. Text protocol only (it closes the connection on binary requests).
pub struct Twemproxy {
    pub port: u16,
    child: Child,
    config: std::path::PathBuf,
}

impl Twemproxy {
    /// None when nutcracker is not installed (the caller skips, saying so).
    #[allow(dead_code)]
    pub fn start(servers: &[&Memcached]) -> Option<Twemproxy> {
        Self::start_hashing(servers, "fnv1a_64")
    }

    /// With the key hash `hash` (nutcracker's ketama with fnv1a_64 may put every short key on
    /// one server, depending on the servers' ports; md5 spreads them).
    pub fn start_hashing(servers: &[&Memcached], hash: &str) -> Option<Twemproxy> {
        let binary = ["/usr/sbin/nutcracker", "/usr/bin/nutcracker"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())?;
        for _ in 0..20 {
            let (port, stats_port) = (free_port(), free_port());
            let config = std::env::temp_dir().join(format!(
                "omcache-twemproxy-{}-{port}.yml",
                std::process::id()
            ));
            let list: Vec<String> = servers
                .iter()
                .map(|s| format!("    - 127.0.0.1:{}:1", s.port))
                .collect();
            std::fs::write(
                &config,
                format!(
                    "pool:\n  listen: 127.0.0.1:{port}\n  hash: {hash}\n  distribution: ketama\n  \
                     auto_eject_hosts: false\n  timeout: 2000\n  servers:\n{}\n",
                    list.join("\n")
                ),
            )
            .unwrap();
            let mut child = Command::new(binary)
                .args([
                    "-c",
                    config.to_str().unwrap(),
                    "-s",
                    &stats_port.to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run nutcracker");
            let deadline = Instant::now() + slack(Duration::from_secs(5));
            while Instant::now() < deadline {
                if answers_version("127.0.0.1", port) && matches!(child.try_wait(), Ok(None)) {
                    return Some(Twemproxy {
                        port,
                        child,
                        config,
                    });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&config);
        }
        panic!("could not start nutcracker");
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Twemproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}

/// SIGCONT to `pid` (a process `stop_process` stopped).
#[allow(dead_code)]
pub fn resume_process(pid: u32) {
    let ok = Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -CONT {pid}");
}

/// SIGSTOP to `pid`, and wait until every thread of the process has stopped: kill(2) returns
/// before that, and meanwhile memcached's worker thread can still answer a request (on a
/// loaded machine, long enough for a test's next request).
#[allow(dead_code)]
pub fn stop_process(pid: u32) {
    let ok = Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -STOP {pid}");
    let start = Instant::now();
    loop {
        let tasks: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .map(|t| t.unwrap().path())
            .collect();
        assert!(!tasks.is_empty(), "no threads in /proc/{pid}/task");
        let stopped = tasks.iter().all(|t| {
            // "pid (comm) S ...": the state follows the last ')'
            std::fs::read_to_string(t.join("stat"))
                .map(|s| {
                    s.rsplit_once(") ")
                        .is_some_and(|(_, rest)| rest.starts_with('T'))
                })
                .unwrap_or(false)
        });
        if stopped {
            return;
        }
        assert!(
            start.elapsed() < slack(Duration::from_secs(5)),
            "memcached {pid} did not stop"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
