//! Unit tests of the configuration language, and the differential replay of
//! `compat-tests/vectors/lmc-{config,servers}.txt` (the real libmemcached's output for
//! `compat-tests/{config,servers}-corpus.txt`, made by `compat-tests/run-config.sh`).
#![forbid(unsafe_code)]

use super::*;
use crate::ffi::libmemcached::server_list::servers_parse;

/// The fixtures of `compat-tests/config-files/` (paths as the corpus names them, relative to
/// the repository, where `run-config.sh` runs the real library); any other file is missing.
fn no_files(path: &[u8]) -> Result<Vec<u8>, String> {
    let data: &[u8] = match path {
        b"compat-tests/config-files/two.conf" => {
            include_bytes!("../../../compat-tests/config-files/two.conf")
        }
        b"compat-tests/config-files/empty.conf" => {
            include_bytes!("../../../compat-tests/config-files/empty.conf")
        }
        b"compat-tests/config-files/bad.conf" => {
            include_bytes!("../../../compat-tests/config-files/bad.conf")
        }
        b"compat-tests/config-files/hash.conf" => {
            include_bytes!("../../../compat-tests/config-files/hash.conf")
        }
        b"compat-tests/config-files/nested.conf" => {
            include_bytes!("../../../compat-tests/config-files/nested.conf")
        }
        b"compat-tests/config-files/nonl.conf" => {
            include_bytes!("../../../compat-tests/config-files/nonl.conf")
        }
        _ => return Err("No such file or directory".into()),
    };
    Ok(data.to_vec())
}

fn check(cfg: &str) -> Result<Model, String> {
    check_configuration(cfg.as_bytes(), &mut no_files)
        .map_err(|e| String::from_utf8_lossy(&e.message("PTR")).into_owned())
}

/// The corpus line format: `\n \t \r \\ \xHH` escapes.
fn unescape(line: &str) -> Vec<u8> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        match b[i] {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'x' => {
                let hex: String = b[i + 1..].iter().take(2).map(|&c| c as char).collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap_or(0));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn escape(s: &[u8]) -> String {
    let mut out = String::new();
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            c if !(0x20..0x7f).contains(&c) => out.push_str(&format!("\\x{c:02x}")),
            c => out.push(c as char),
        }
    }
    out
}

/// What `compat-tests/lmc_config.c config` prints for one case.
fn config_case(line: &str) -> String {
    let cfg = unescape(line);
    let mut out = format!("case {}\n", escape(line.as_bytes()));
    // The C strings stop at a NUL (the C program passes strlen-less lengths, so they do not).
    match check_configuration(&cfg, &mut no_files) {
        Ok(_) => out.push_str("check 0 \n"),
        Err(e) => {
            let text = if e.text.is_empty() && e.at.is_empty() {
                Vec::new()
            } else {
                e.message("PTR")
            };
            // error_buffer is a C string: it stops at the first NUL.
            let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
            out.push_str(&format!("check {} {}\n", e.rc, escape(text)));
        }
    }
    let m = match check_configuration(&cfg, &mut no_files) {
        Ok(m) => m,
        Err(_) => {
            out.push_str("memcached NULL\n");
            return out;
        }
    };
    out.push_str(&format!(
        "memcached ok servers={} weighted={}\n",
        m.servers.len(),
        u8::from(m.weighted)
    ));
    for s in &m.servers {
        let name = &s.hostname[..s
            .hostname
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(s.hostname.len())];
        out.push_str(&format!(
            "server {} {} {} {}\n",
            escape(name),
            s.port,
            s.weight,
            s.kind as u32
        ));
    }
    out.push_str("behaviors");
    for b in 0..behavior::MAX {
        out.push_str(&format!(" {}", m.behavior_get(b)));
    }
    out.push('\n');
    let ns = match &m.namespace {
        Some(n) => escape(n),
        None => "NULL".into(),
    };
    out.push_str(&format!(
        "fetch_version {} pool {} {} namespace {}\n",
        u8::from(m.fetch_version),
        m.pool_min,
        m.pool_max,
        ns
    ));
    out
}

fn servers_case(line: &str) -> String {
    let list = unescape(line);
    let mut out = format!("case {}\n", escape(line.as_bytes()));
    match servers_parse(&list) {
        None => out.push_str("parse NULL\n"),
        Some(v) => {
            out.push_str(&format!("parse count={}\n", v.len()));
            for s in v {
                out.push_str(&format!(
                    "server {} {} {} {}\n",
                    escape(&s.hostname),
                    s.port,
                    s.weight,
                    s.kind as u32
                ));
            }
        }
    }
    out
}

/// Splits the real program's output into cases (each starting with "case ").
fn split_cases(text: &str) -> Vec<String> {
    let mut cases: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("case ") || cases.is_empty() {
            cases.push(String::new());
        }
        cases.last_mut().unwrap().push_str(line);
    }
    cases
}

fn differential(corpus: &str, real: &str, ours: fn(&str) -> String, what: &str) {
    let lines: Vec<&str> = corpus.lines().collect();
    let real = split_cases(real);
    assert_eq!(
        lines.len(),
        real.len(),
        "{what}: corpus and vectors disagree in length"
    );
    let mut differing = 0;
    for (line, want) in lines.iter().zip(&real) {
        let got = ours(line);
        if &got != want {
            differing += 1;
            if differing <= 15 {
                eprintln!("--- {what} differs\nreal:\n{want}ours:\n{got}");
            }
        }
    }
    eprintln!("{what}: {differing} differing of {}", lines.len());
    assert_eq!(
        differing, 0,
        "{what}: {differing} cases differ from the real libmemcached"
    );
}

#[test]
fn config_corpus_matches_real_libmemcached() {
    differential(
        include_str!("../../../compat-tests/config-corpus.txt"),
        include_str!("../../../compat-tests/vectors/lmc-config.txt"),
        config_case,
        "config",
    );
}

#[test]
fn servers_corpus_matches_real_libmemcached() {
    differential(
        include_str!("../../../compat-tests/servers-corpus.txt"),
        include_str!("../../../compat-tests/vectors/lmc-servers.txt"),
        servers_case,
        "servers_parse",
    );
}

#[test]
fn directives_in_order() {
    let p = parse(b"--SERVER=10.0.0.1 --SERVER=cache.local:11212/?3 --DISTRIBUTION=consistent,md5 --HASH=CRC --NAMESPACE=\"ns\" --BINARY-PROTOCOL --POLL-TIMEOUT=5 RESET");
    assert_eq!(p.syntax_error, None);
    assert_eq!(
        p.directives,
        vec![
            Directive::AddServer {
                host: "10.0.0.1".into(),
                port: 11211,
                weight: 1
            },
            Directive::AddServer {
                host: "cache.local".into(),
                port: 11212,
                weight: 3
            },
            Directive::SetDistribution {
                distribution: distribution::CONSISTENT,
                hash: Some(1)
            },
            Directive::SetHash(2),
            Directive::Namespace(b"ns".to_vec()),
            Directive::SetBehavior {
                behavior: behavior::BINARY_PROTOCOL,
                value: 1,
                boolean: true
            },
            Directive::SetBehavior {
                behavior: behavior::POLL_TIMEOUT,
                value: 5,
                boolean: false
            },
            Directive::Reset,
        ]
    );
}

#[test]
fn error_texts() {
    assert_eq!(
        check("--SERVER=a").unwrap_err(),
        "(PTR) Error occured during parsing (syntax error, unexpected UNKNOWN, expecting IPADDRESS or HOSTNAME): last_token=SERVER(266) -> ./src/libmemcached/csl/context.cc:55"
    );
    assert_eq!(
        check("--HASH=MD5 --HASH=CRC").unwrap_err(),
        "(PTR) --HASH can only be set once -> ./src/libmemcached/csl/context.cc:25"
    );
    assert_eq!(
        check("--SERVER=abc ").unwrap_err(),
        "(PTR) Error occured during parsing (syntax error, unexpected end of file): last_token=\"end of file\"(0) -> ./src/libmemcached/csl/context.cc:55"
    );
    assert!(check("").is_err());
}

#[test]
fn weighted_depends_on_order() {
    let a =
        check("--SERVER=10.0.0.1 --SERVER=10.0.0.2:11212/?3 --DISTRIBUTION=consistent").unwrap();
    assert!(!a.weighted);
    let b =
        check("--DISTRIBUTION=consistent --SERVER=10.0.0.1 --SERVER=10.0.0.2:11212/?3").unwrap();
    assert!(b.weighted);
}

#[test]
fn end_ignores_the_rest() {
    let m = check("--SERVER=abc END !!garbage").unwrap();
    assert_eq!(m.servers.len(), 1);
}

/// What `compat-tests/lmc_config.c add` prints for one "host\tport\tweight" case.
fn add_case(line: &str) -> String {
    use crate::ffi::libmemcached::server_list::server_add_args;
    let raw = unescape(line);
    let mut out = format!("case {}\n", escape(line.as_bytes()));
    let f: Vec<&[u8]> = raw.split(|&b| b == b'\t').collect();
    let num = |b: &[u8]| String::from_utf8_lossy(b).parse::<u64>().unwrap_or(0);
    let host = if f[0] == b"NULL" { None } else { Some(f[0]) };
    match server_add_args(host, num(f[1]) as u16, num(f[2]) as u32) {
        Ok(s) => {
            out.push_str("add 0 servers=1\n");
            out.push_str(&format!(
                "server {} {} {} {}\n",
                escape(&s.hostname),
                s.port,
                s.weight,
                s.kind as u32
            ));
        }
        Err(_) => out.push_str("add 38 servers=0\n"),
    }
    out
}

#[test]
fn server_add_corpus_matches_real_libmemcached() {
    differential(
        include_str!("../../../compat-tests/add-corpus.txt"),
        include_str!("../../../compat-tests/vectors/lmc-add.txt"),
        add_case,
        "server_add",
    );
}
