//! Our side of compat-tests/run-dist.sh: the server index of every key of the shared key set
//! (compat-tests/keymap_keys.h) through the engine's pure `ketama` layer, for the same
//! configuration lines that compat-tests/lmc_dist.c feeds to the real libmemcached.
//!
//! Usage: lmc_keymap_rs [-n COUNT] CONFIGS [LMC_OUTPUT]
//!   CONFIGS     lines "LABEL DIST HASH WEIGHTED SERVERLIST WEIGHTS BUCKETS" (tab-separated,
//!               see lmc_dist.c)
//!   LMC_OUTPUT  lmc_dist's output for CONFIGS. Given: prints "LABEL: D differing of COUNT"
//!               per configuration and exits 1 if any D > 0 (or a line is missing). Not given:
//!               prints our indexes in lmc_dist's format ("LABEL<TAB>i0 i1 ...").

use std::fs;
use std::process::ExitCode;

use omcache::hash::HashAlgorithm;
use omcache::ketama::{
    Continuum, Distribution, LibmemcachedConfig, LibmemcachedLayout, ServerName,
};

/// keymap_keys.h's generator, byte for byte.
fn keymap_key(i: u32) -> Vec<u8> {
    let mut st = i.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut next = move || {
        st = st.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        st >> 8
    };
    match i % 5 {
        0 => format!("key:{i}").into_bytes(),
        1 => {
            let len = 1 + next() % 250;
            (0..len).map(|_| (0x21 + next() % 94) as u8).collect()
        }
        2 => {
            let len = 1 + next() % 40;
            (0..len).map(|_| (1 + next() % 255) as u8).collect()
        }
        3 => format!("cl\u{e9}:{i}:\u{fc}n\u{ef}c\u{f8}d\u{e9}").into_bytes(),
        _ => {
            let len = 200 + next() % 51;
            (0..len).map(|_| next() as u8).collect()
        }
    }
}

/// One entry of a server list as `memcached_servers_parse` stores it (for the forms the
/// lists use): `[v6]` keeps its brackets, `host[:port]`, a leading '/' is a unix socket with
/// port 0, a missing port is 11211.
fn parse_server(entry: &str) -> Result<(String, u16), String> {
    let entry = entry.strip_prefix(' ').unwrap_or(entry);
    if entry.starts_with('/') {
        return Ok((entry.to_string(), 0));
    }
    let (host, port) = if entry.starts_with('[') {
        let end = entry.find(']').ok_or("unclosed [")? + 1;
        (&entry[..end], entry[end..].strip_prefix(':'))
    } else {
        match entry.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (entry, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("bad port in {entry:?}"))?,
        None => 11211,
    };
    Ok((host.to_string(), port))
}

fn u32_list(s: &str) -> Result<Vec<u32>, String> {
    if s == "-" {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|v| v.parse().map_err(|_| format!("bad number {v:?}")))
        .collect()
}

/// Our indexes for one configuration line; returns (label, indexes).
fn run(line: &str, keys: &[Vec<u8>]) -> Result<(String, Vec<u32>), String> {
    let f: Vec<&str> = line.split('\t').collect();
    let [label, dist, hash, weighted, servers, weights, buckets] = f[..] else {
        return Err(format!("expected 7 fields: {line:?}"));
    };
    let hash = hash
        .parse()
        .ok()
        .and_then(HashAlgorithm::from_c)
        .ok_or_else(|| format!("{label}: bad hash"))?;
    let layout = match dist {
        "modula" => LibmemcachedLayout::Modula,
        "consistent" | "ketama" | "weighted" => LibmemcachedLayout::Ketama,
        "spy" => LibmemcachedLayout::KetamaSpy,
        "vbucket" => LibmemcachedLayout::VirtualBucket,
        other => return Err(format!("{label}: unknown distribution {other}")),
    };
    let config = LibmemcachedConfig::new(layout, hash)
        .weighted(weighted == "1")
        .with_buckets(&u32_list(buckets)?);
    let list = servers
        .split(',')
        .map(parse_server)
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<ServerName<'_>> = list.iter().map(|(h, p)| ServerName::new(h, *p)).collect();
    let weights = u32_list(weights)?;
    let c = Continuum::build_with_weights(&names, &weights, &Distribution::Libmemcached(config));
    // libmemcached answers an index for every key; "none" shows up as a difference.
    let idx = keys
        .iter()
        .map(|k| c.server_for_key(k).map_or(u32::MAX, |i| i as u32))
        .collect();
    Ok((label.to_string(), idx))
}

/// One configuration compared with libmemcached's line for it: (passed, report lines).
fn compare(line: &str, theirs: Option<&str>, keys: &[Vec<u8>]) -> Result<(bool, String), String> {
    let (label, ours) = run(line, keys)?;
    let count = keys.len();
    let theirs: Option<Vec<u32>> = theirs.and_then(|l| {
        let (l_label, idx) = l.split_once('\t')?;
        (l_label == label).then(|| idx.split(' ').filter_map(|v| v.parse().ok()).collect())
    });
    let Some(theirs) = theirs.filter(|t: &Vec<u32>| t.len() == ours.len()) else {
        return Ok((
            false,
            format!("{label}: FAILED (no matching libmemcached line)\n"),
        ));
    };
    let diffs: Vec<usize> = (0..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
    if diffs.is_empty() {
        return Ok((true, format!("{label}: 0 differing of {count}\n")));
    }
    let mut out = format!("{label}: {} differing of {count}  FAILED\n", diffs.len());
    for &i in diffs.iter().take(3) {
        out += &format!(
            "    key {i}: libmemcached {}, ours {}\n",
            theirs[i], ours[i]
        );
    }
    Ok((false, out))
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut count = 10_000u32;
    if args.first().map(String::as_str) == Some("-n") && args.len() > 1 {
        count = args[1].parse().expect("-n COUNT");
        args.drain(..2);
    }
    if args.is_empty() || args.len() > 2 {
        eprintln!("usage: lmc_keymap_rs [-n COUNT] CONFIGS [LMC_OUTPUT]");
        return ExitCode::from(2);
    }
    let configs = fs::read_to_string(&args[0]).expect("read CONFIGS");
    let lines: Vec<&str> = configs
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let keys: Vec<Vec<u8>> = (0..count).map(keymap_key).collect();

    let Some(lmc_path) = args.get(1) else {
        for line in lines {
            match run(line, &keys) {
                Ok((label, ours)) => {
                    let text: Vec<String> = ours.iter().map(u32::to_string).collect();
                    println!("{label}\t{}", text.join(" "));
                }
                Err(e) => {
                    eprintln!("lmc_keymap_rs: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        return ExitCode::SUCCESS;
    };
    let theirs = fs::read_to_string(lmc_path).expect("read LMC_OUTPUT");
    let their_lines: Vec<&str> = theirs.lines().collect();

    // Configurations are independent: split them over the available cores, print in order.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = lines.len().div_ceil(threads).max(1);
    let results: Vec<Result<(bool, String), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let (keys, their_lines) = (&keys, &their_lines);
                s.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, line)| {
                            let theirs = their_lines.get(c * chunk + i).copied();
                            compare(line, theirs, keys)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker panicked"))
            .collect()
    });
    let (mut passed, mut failed) = (0u32, 0u32);
    for r in results {
        match r {
            Ok((ok, report)) => {
                print!("{report}");
                if ok {
                    passed += 1;
                } else {
                    failed += 1;
                }
            }
            Err(e) => {
                eprintln!("lmc_keymap_rs: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if their_lines.len() != lines.len() {
        println!(
            "FAILED: {} libmemcached lines for {} configurations",
            their_lines.len(),
            lines.len()
        );
        failed += 1;
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
