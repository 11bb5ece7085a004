//! The configuration-string language of `memcached(cfg, len)` and
//! `libmemcached_check_configuration(cfg, len, buf, size)` (libmemcached 1.1.4's flex scanner
//! and bison grammar, `src/libmemcached/csl`), reproduced token for token so that both the
//! accepted strings and the error texts match the real library (checked by
//! `compat-tests/run-config.sh` on a corpus; the real program wins over the spec).
//!
//! [`parse`] turns a string into the ordered [`Directive`]s the real parser would apply, and
//! the syntax error (if any) that stops it; [`Model`] applies them to a pure model of the
//! state they touch, giving the real library's semantic errors (`--NAMESPACE` twice, an
//! invalid namespace, `--VERIFY-KEY` after `--BINARY-PROTOCOL`, …). A semantic error met
//! before a later syntax error wins, as the real parser runs each action as it goes.
//!
//! # The scanner (case-insensitive, longest match, ties to the earlier rule)
//! 1. `=` `,` and the space are tokens; `\t` `\r` `\n` are skipped (so `"a\tb"` joins).
//! 2. NUMBER `[0-9]+` (C `atoi`: wraps to 32 bits, saturating first at 64); PORT
//!    `:[0-9]{1,5}`; WEIGHT_START `/?[0-9]{1,5}`.
//! 3. COMMENT `^#.*$`: only at the start of a line *and followed by a newline* (a final
//!    comment without `\n` is an error).
//! 4. the option keywords (`--SERVER=`, `--SOCKET=`, `--BINARY-PROTOCOL`, …, `--POOL-MIN=`,
//!    `--NAMESPACE=`, `--FETCH-VERSION`), the statements `INCLUDE RESET DEBUG SERVERS END
//!    CSL_ERROR TRUE FALSE`; any other `--[alnum]*` is UNKNOWN_OPTION.
//! 5. `CONSISTENT MODULA RANDOM` and the nine hash names (`MD5` … `JENKINS`) are reserved
//!    words everywhere (`--SERVER=md5` is an error).
//! 6. IPADDRESS `([0-9]{1,3}\.){3}[0-9]{1,3}`; a word `[alnum][alnum."_-]+[alnum]` (3 bytes
//!    or more; `"` allowed inside!) is HOSTNAME right after `--SERVER=` and STRING elsewhere;
//!    QUOTED_STRING `L?"(\\.|[^\\"])*"` (escapes kept verbatim; with the `L` prefix the value
//!    keeps the opening quote: `L"x"` → `"x`).
//! 7. any other byte is UNKNOWN.
//!
//! # Differences from the spec (README §4.6), the real program wins
//! * the ERROR statement is spelled `CSL_ERROR`; `ERROR` is a plain STRING (syntax error).
//! * `--TCP-KEEPIDLE` is a boolean option (sets TCP_KEEPIDLE to 1); `--TCP-KEEPIDLE=5` fails.
//! * statements are separated by exactly one space: two spaces, a leading or a trailing space
//!   are syntax errors; a tab or newline between options joins them (error).
//! * `--SERVER` takes no IPv6 (`[::1]` is an error); a host name needs 3 characters or more
//!   (`--SERVER=ab` fails) and may not be a reserved word (`md5`, `end`, `consistent`, …);
//!   `--SERVER=1.2.3.4.5` and `--SERVER=a"b"c` are accepted as host names.
//! * a `--CONFIGURE-FILE` that exists but is empty makes the check return
//!   MEMCACHED_INVALID_ARGUMENTS with the error text "SUCCESS" (and `memcached()` NULL).
//! * `RESET` also forgets a `--CONFIGURE-FILE` given before it.
//! * `--HASH=HSIEH` fails with "--HASH can only be set once" (Debian has no HSIEH), and
//!   `--DISTRIBUTION=x,HSIEH` with "Unable to set the hash for the DISTRIBUTION requested".
//! * `--HASH` "once" is per parse: `RESET` does not re-allow it.
//! * `END` stops parsing: everything after it is ignored, even garbage.
//! * `--POOL-MIN=-1`, `--CONNECT-TIMEOUT=-5`: no negative numbers (syntax error).
//!
//! # Ours: TLS
//! `--TLS`, `--TLS-CA-FILE="path"`, `--TLS-CERT="path"`, `--TLS-KEY="path"` and
//! `--TLS-SERVER-NAME=name` (tls.rs) are keywords the real library does not have (it fails
//! them as UNKNOWN_OPTION); their errors end in ` -> omcache-rs`.
#![forbid(unsafe_code)]

use super::server_list::{self, ConnectionType, NI_MAXHOST};
use super::tls::{TlsOption, TlsOptions};
use crate::hash::HashAlgorithm;

/// `memcached_behavior_t` numbers used by the language.
pub mod behavior {
    pub const NO_BLOCK: u32 = 0;
    pub const TCP_NODELAY: u32 = 1;
    pub const HASH: u32 = 2;
    pub const KETAMA: u32 = 3;
    pub const SOCKET_SEND_SIZE: u32 = 4;
    pub const SOCKET_RECV_SIZE: u32 = 5;
    pub const CACHE_LOOKUPS: u32 = 6;
    pub const SUPPORT_CAS: u32 = 7;
    pub const POLL_TIMEOUT: u32 = 8;
    pub const DISTRIBUTION: u32 = 9;
    pub const BUFFER_REQUESTS: u32 = 10;
    pub const USER_DATA: u32 = 11;
    pub const SORT_HOSTS: u32 = 12;
    pub const VERIFY_KEY: u32 = 13;
    pub const CONNECT_TIMEOUT: u32 = 14;
    pub const RETRY_TIMEOUT: u32 = 15;
    pub const KETAMA_WEIGHTED: u32 = 16;
    pub const KETAMA_HASH: u32 = 17;
    pub const BINARY_PROTOCOL: u32 = 18;
    pub const SND_TIMEOUT: u32 = 19;
    pub const RCV_TIMEOUT: u32 = 20;
    pub const SERVER_FAILURE_LIMIT: u32 = 21;
    pub const IO_MSG_WATERMARK: u32 = 22;
    pub const IO_BYTES_WATERMARK: u32 = 23;
    pub const IO_KEY_PREFETCH: u32 = 24;
    pub const HASH_WITH_PREFIX_KEY: u32 = 25;
    pub const NOREPLY: u32 = 26;
    pub const USE_UDP: u32 = 27;
    pub const AUTO_EJECT_HOSTS: u32 = 28;
    pub const NUMBER_OF_REPLICAS: u32 = 29;
    pub const RANDOMIZE_REPLICA_READ: u32 = 30;
    pub const CORK: u32 = 31;
    pub const TCP_KEEPALIVE: u32 = 32;
    pub const TCP_KEEPIDLE: u32 = 33;
    pub const LOAD_FROM_FILE: u32 = 34;
    pub const REMOVE_FAILED_SERVERS: u32 = 35;
    pub const DEAD_TIMEOUT: u32 = 36;
    pub const SERVER_TIMEOUT_LIMIT: u32 = 37;
    pub const MAX: u32 = 38;

    /// `libmemcached_string_behavior()` for the behaviors the language sets.
    pub fn name(b: u32) -> &'static str {
        match b {
            TCP_NODELAY => "MEMCACHED_BEHAVIOR_TCP_NODELAY",
            SUPPORT_CAS => "MEMCACHED_BEHAVIOR_SUPPORT_CAS",
            BUFFER_REQUESTS => "MEMCACHED_BEHAVIOR_BUFFER_REQUESTS",
            SORT_HOSTS => "MEMCACHED_BEHAVIOR_SORT_HOSTS",
            VERIFY_KEY => "MEMCACHED_BEHAVIOR_VERIFY_KEY",
            BINARY_PROTOCOL => "MEMCACHED_BEHAVIOR_BINARY_PROTOCOL",
            HASH_WITH_PREFIX_KEY => "MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY",
            NOREPLY => "MEMCACHED_BEHAVIOR_NOREPLY",
            USE_UDP => "MEMCACHED_BEHAVIOR_USE_UDP",
            RANDOMIZE_REPLICA_READ => "MEMCACHED_BEHAVIOR_RANDOMIZE_REPLICA_READ",
            TCP_KEEPALIVE => "MEMCACHED_BEHAVIOR_TCP_KEEPALIVE",
            TCP_KEEPIDLE => "MEMCACHED_BEHAVIOR_TCP_KEEPIDLE",
            _ => "",
        }
    }
}

/// `memcached_server_distribution_t` values the language can name.
pub mod distribution {
    pub const MODULA: u32 = 0;
    pub const CONSISTENT: u32 = 1;
    pub const CONSISTENT_KETAMA: u32 = 2;
    pub const RANDOM: u32 = 3;
    pub const CONSISTENT_KETAMA_SPY: u32 = 4;
    pub const CONSISTENT_WEIGHTED: u32 = 5;
}

/// One action of the real parser, in the order it runs. Effects are those of the real
/// library on the `memcached_st` being configured (the face applies them; [`Model`] is the
/// reference).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Directive {
    /// `--SERVER=host[:port][/?weight]`: `memcached_server_add_with_weight(host, port as
    /// in_port_t, weight)`: port is the raw text value (0..=99999; truncated to 16 bits, 0 →
    /// 11211), weight 0 → 1; a weight > 1 makes the ring weighted if the distribution is
    /// consistent now. Fails for a host of `NI_MAXHOST` bytes or more: "Failed to add
    /// server: HOST:PORT" (raw port).
    AddServer {
        host: String,
        port: u32,
        weight: u32,
    },
    /// `--SOCKET="path"[/?weight]`: `memcached_server_add_unix_socket_with_weight`. Fails
    /// ("Failed to add socket: PATH") for a path of `NI_MAXHOST` bytes or more.
    AddSocket { path: Vec<u8>, weight: u32 },
    /// `memcached_behavior_set(behavior, value)`: booleans (`boolean`, value 1) and the
    /// numeric options (value = C `atoi` sign-extended to 64 bits). A failure aborts with
    /// "Could not set: MEMCACHED_BEHAVIOR_…" (boolean) or "Unable to set behavior".
    SetBehavior {
        behavior: u32,
        value: u64,
        boolean: bool,
    },
    /// `--DISTRIBUTION=d[,hash]`: `memcached_behavior_set(DISTRIBUTION, d)` (CONSISTENT
    /// resets the weighted flag; rebuilds the ring), then with a hash
    /// `memcached_behavior_set_distribution_hash(hash)` (fails for HSIEH: "Unable to set the
    /// hash for the DISTRIBUTION requested").
    SetDistribution {
        distribution: u32,
        hash: Option<u32>,
    },
    /// `--HASH=h`: the key hash (`MEMCACHED_BEHAVIOR_HASH`); a second one in the same parse,
    /// or an unavailable algorithm (HSIEH), aborts with "--HASH can only be set once".
    SetHash(u32),
    /// `--NAMESPACE=s`: `memcached_set_namespace`; aborts if a namespace is already set
    /// ("--NAMESPACE can only be called once") or the namespace is refused (its error text,
    /// nested).
    Namespace(Vec<u8>),
    /// `--FETCH-VERSION`: sets the is_fetching_version flag (versions fetched on connect).
    FetchVersion,
    /// `--USER-DATA`: nothing.
    UserData,
    /// `--POOL-MIN=n`: `memc->configure.initial_pool_size = n` (32-bit).
    PoolMin(u32),
    /// `--POOL-MAX=n`: `memc->configure.max_pool_size = n`.
    PoolMax(u32),
    /// `--CONFIGURE-FILE=path`: remembers the file (LOAD_FROM_FILE reads 1); `memcached()`
    /// and the check parse it, line by line, after the whole string parsed. An unreadable
    /// file fails there with MEMCACHED_ERRNO (26) "SYSTEM ERROR(strerror), path".
    ConfigureFile(Vec<u8>),
    /// `INCLUDE "file"`: parses the file now, line by line (each line its own parse, empty
    /// lines skipped); any failure aborts with "Failed to parse configuration file".
    Include(Vec<u8>),
    /// `RESET`: `memcached_reset`: back to `memcached_create` defaults (servers, behaviors,
    /// namespace, pool sizes dropped); the parse continues.
    Reset,
    /// `DEBUG`: turns on bison's trace (process-wide, to stderr) for every later parse.
    Debug,
    /// `END`: stops parsing with success; the rest of the string is ignored.
    End,
    /// `CSL_ERROR`: fails with MEMCACHED_PARSE_ERROR "ERROR called directly".
    Error,
    /// Ours, not libmemcached's: `--TLS`, `--TLS-CA-FILE=`, `--TLS-CERT=`, `--TLS-KEY=`,
    /// `--TLS-SERVER-NAME=` (tls.rs). Given twice or empty: "--TLS-… can only be given once",
    /// "--TLS-… needs a value"; a certificate without its key fails after the whole parse.
    Tls(TlsOption),
}

/// Where the real library reports a parser error from (the ` -> file:line` suffix).
pub const AT_ABORT: &str = "./src/libmemcached/csl/context.cc:25";
/// … and a syntax error.
pub const AT_SYNTAX: &str = "./src/libmemcached/csl/context.cc:55";
/// Where the TLS options (ours) report their errors from.
pub const AT_TLS: &str = "omcache-rs";

/// `memcached_return_t` values the configuration language returns.
pub const MEMCACHED_ERRNO: u32 = 26;
pub const MEMCACHED_INVALID_ARGUMENTS: u32 = 38;
pub const MEMCACHED_PARSE_ERROR: u32 = 43;

/// A failed configuration: the return code and the text of `memcached_last_error_message`,
/// which the real library formats as `"(%p) " + text + " -> " + at` (the pointer is the
/// `memcached_st` being configured). `text` may itself hold a nested message with
/// [`PTR_MARK`] where the same pointer goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub rc: u32,
    pub text: Vec<u8>,
    pub at: &'static str,
}

/// Stands for the `memcached_st` pointer inside a nested message.
pub const PTR_MARK: &str = "\u{0}PTR\u{0}";

impl ConfigError {
    fn syntax(text: String) -> ConfigError {
        ConfigError {
            rc: MEMCACHED_PARSE_ERROR,
            text: text.into_bytes(),
            at: AT_SYNTAX,
        }
    }

    fn tls(text: String) -> ConfigError {
        ConfigError {
            rc: MEMCACHED_PARSE_ERROR,
            text: text.into_bytes(),
            at: AT_TLS,
        }
    }

    fn abort(text: impl Into<Vec<u8>>) -> ConfigError {
        ConfigError {
            rc: MEMCACHED_PARSE_ERROR,
            text: text.into(),
            at: AT_ABORT,
        }
    }

    /// The real `memcached_last_error_message()` text, with `ptr` as `%p` prints it (e.g.
    /// "0x55d0c0a0b2a0").
    /// A `ConfigError` without a location is not a recorded error: its text is what the
    /// real library shows verbatim ("" for an empty string, "SUCCESS" for an empty file).
    pub fn message(&self, ptr: &str) -> Vec<u8> {
        if self.at.is_empty() {
            return self.text.clone();
        }
        let mut out = format!("({ptr}) ").into_bytes();
        let mark = PTR_MARK.as_bytes();
        let mut i = 0;
        while i < self.text.len() {
            if self.text[i..].starts_with(mark) {
                out.extend_from_slice(ptr.as_bytes());
                i += mark.len();
            } else {
                out.push(self.text[i]);
                i += 1;
            }
        }
        out.extend_from_slice(format!(" -> {}", self.at).as_bytes());
        out
    }
}

// ---------------------------------------------------------------------------------------
// Scanner

/// Bison token kinds (external numbers as the real parser prints them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
enum Tok {
    Eof,
    Space,
    Comma,
    Equals,
    Comment,
    End,
    CslError,
    Reset,
    ParserDebug,
    Include,
    ConfigureFile,
    Server,
    CslSocket,
    Servers,
    UnknownOption,
    Unknown,
    /// An option keyword that is a behavior: (token number, behavior, is boolean).
    Behavior(u32, u32, bool),
    Distribution,
    Hash,
    UserData,
    FetchVersion,
    Namespace,
    PoolMin,
    PoolMax,
    /// `--TLS` and the TLS options with a value (ours; token numbers after bison's).
    Tls,
    TlsCaFile,
    TlsCert,
    TlsKey,
    TlsServerName,
    /// A hash name: (token number, memcached_hash_t).
    HashName(u32, u32),
    /// A distribution name: (token number, distribution).
    DistName(u32, u32),
    True,
    False,
    Number(i64),
    Port(u32),
    WeightStart(u32),
    IpAddress,
    Hostname,
    Str,
    QuotedStr,
}

impl Tok {
    /// (bison's name, external token number).
    fn name(self) -> (&'static str, u32) {
        match self {
            Tok::Eof => ("end of file", 0),
            Tok::Space => ("' '", 32),
            Tok::Comma => ("','", 44),
            Tok::Equals => ("'='", 61),
            Tok::Comment => ("COMMENT", 258),
            Tok::End => ("END", 259),
            Tok::CslError => ("CSL_ERROR", 260),
            Tok::Reset => ("RESET", 261),
            Tok::ParserDebug => ("PARSER_DEBUG", 262),
            Tok::Include => ("INCLUDE", 263),
            Tok::ConfigureFile => ("CONFIGURE_FILE", 264),
            Tok::Server => ("SERVER", 266),
            Tok::CslSocket => ("CSL_SOCKET", 267),
            Tok::Servers => ("SERVERS", 268),
            Tok::UnknownOption => ("UNKNOWN_OPTION", 270),
            Tok::Unknown => ("UNKNOWN", 271),
            Tok::Behavior(n, _, _) => (token_name(n), n),
            Tok::Distribution => ("DISTRIBUTION", 275),
            Tok::Hash => ("HASH", 276),
            Tok::UserData => ("USER_DATA", 295),
            Tok::FetchVersion => ("FETCH_VERSION", 301),
            Tok::Namespace => ("NAMESPACE", 302),
            Tok::PoolMin => ("POOL_MIN", 303),
            Tok::PoolMax => ("POOL_MAX", 304),
            Tok::Tls => ("TLS", 327),
            Tok::TlsCaFile => ("TLS_CA_FILE", 328),
            Tok::TlsCert => ("TLS_CERT", 329),
            Tok::TlsKey => ("TLS_KEY", 330),
            Tok::TlsServerName => ("TLS_SERVER_NAME", 331),
            Tok::HashName(n, _) | Tok::DistName(n, _) => (token_name(n), n),
            Tok::True => ("CSL_TRUE", 317),
            Tok::False => ("CSL_FALSE", 318),
            Tok::Number(_) => ("NUMBER", 320),
            Tok::Port(_) => ("PORT", 321),
            Tok::WeightStart(_) => ("WEIGHT_START", 322),
            Tok::IpAddress => ("IPADDRESS", 323),
            Tok::Hostname => ("HOSTNAME", 324),
            Tok::Str => ("STRING", 325),
            Tok::QuotedStr => ("QUOTED_STRING", 326),
        }
    }

    /// `last_token` as the error message prints it (the end-of-file name keeps its quotes).
    fn last_token_name(self) -> String {
        let (n, num) = self.name();
        if self == Tok::Eof {
            format!("\"{n}\"({num})")
        } else {
            format!("{n}({num})")
        }
    }

    /// Keyword tokens update the scanner's `previous_token`.
    fn is_keyword(self) -> bool {
        matches!(
            self,
            Tok::End
                | Tok::CslError
                | Tok::Reset
                | Tok::ParserDebug
                | Tok::Include
                | Tok::ConfigureFile
                | Tok::Server
                | Tok::CslSocket
                | Tok::Servers
                | Tok::Behavior(..)
                | Tok::Distribution
                | Tok::Hash
                | Tok::UserData
                | Tok::FetchVersion
                | Tok::Namespace
                | Tok::PoolMin
                | Tok::PoolMax
                | Tok::Tls
                | Tok::TlsCaFile
                | Tok::TlsCert
                | Tok::TlsKey
                | Tok::TlsServerName
                | Tok::True
                | Tok::False
        )
    }
}

fn token_name(n: u32) -> &'static str {
    match n {
        272 => "BINARY_PROTOCOL",
        273 => "BUFFER_REQUESTS",
        274 => "CONNECT_TIMEOUT",
        277 => "HASH_WITH_NAMESPACE",
        278 => "IO_BYTES_WATERMARK",
        279 => "IO_KEY_PREFETCH",
        280 => "IO_MSG_WATERMARK",
        283 => "NOREPLY",
        284 => "NUMBER_OF_REPLICAS",
        285 => "POLL_TIMEOUT",
        286 => "RANDOMIZE_REPLICA_READ",
        287 => "RCV_TIMEOUT",
        288 => "REMOVE_FAILED_SERVERS",
        289 => "RETRY_TIMEOUT",
        290 => "SND_TIMEOUT",
        291 => "SOCKET_RECV_SIZE",
        292 => "SOCKET_SEND_SIZE",
        293 => "SORT_HOSTS",
        294 => "SUPPORT_CAS",
        296 => "USE_UDP",
        297 => "VERIFY_KEY",
        298 => "_TCP_KEEPALIVE",
        299 => "_TCP_KEEPIDLE",
        300 => "_TCP_NODELAY",
        305 => "MD5",
        306 => "CRC",
        307 => "FNV1_64",
        308 => "FNV1A_64",
        309 => "FNV1_32",
        310 => "FNV1A_32",
        311 => "HSIEH",
        312 => "MURMUR",
        313 => "JENKINS",
        314 => "CONSISTENT",
        315 => "MODULA",
        316 => "RANDOM",
        _ => "",
    }
}

/// The literal rules, in the scanner's order (earlier wins a tie).
const KEYWORDS: &[(&str, Tok)] = {
    use behavior as b;
    &[
        ("--SERVER=", Tok::Server),
        ("--SOCKET=", Tok::CslSocket),
        (
            "--BINARY-PROTOCOL",
            Tok::Behavior(272, b::BINARY_PROTOCOL, true),
        ),
        (
            "--BUFFER-REQUESTS",
            Tok::Behavior(273, b::BUFFER_REQUESTS, true),
        ),
        ("--CONFIGURE-FILE=", Tok::ConfigureFile),
        (
            "--CONNECT-TIMEOUT=",
            Tok::Behavior(274, b::CONNECT_TIMEOUT, false),
        ),
        ("--DISTRIBUTION=", Tok::Distribution),
        (
            "--HASH-WITH-NAMESPACE",
            Tok::Behavior(277, b::HASH_WITH_PREFIX_KEY, true),
        ),
        ("--HASH=", Tok::Hash),
        (
            "--IO-BYTES-WATERMARK=",
            Tok::Behavior(278, b::IO_BYTES_WATERMARK, false),
        ),
        (
            "--IO-KEY-PREFETCH=",
            Tok::Behavior(279, b::IO_KEY_PREFETCH, false),
        ),
        (
            "--IO-MSG-WATERMARK=",
            Tok::Behavior(280, b::IO_MSG_WATERMARK, false),
        ),
        ("--NOREPLY", Tok::Behavior(283, b::NOREPLY, true)),
        (
            "--NUMBER-OF-REPLICAS=",
            Tok::Behavior(284, b::NUMBER_OF_REPLICAS, false),
        ),
        (
            "--POLL-TIMEOUT=",
            Tok::Behavior(285, b::POLL_TIMEOUT, false),
        ),
        (
            "--RANDOMIZE-REPLICA-READ",
            Tok::Behavior(286, b::RANDOMIZE_REPLICA_READ, true),
        ),
        ("--RCV-TIMEOUT=", Tok::Behavior(287, b::RCV_TIMEOUT, false)),
        (
            "--REMOVE-FAILED-SERVERS=",
            Tok::Behavior(288, b::REMOVE_FAILED_SERVERS, false),
        ),
        (
            "--RETRY-TIMEOUT=",
            Tok::Behavior(289, b::RETRY_TIMEOUT, false),
        ),
        ("--SND-TIMEOUT=", Tok::Behavior(290, b::SND_TIMEOUT, false)),
        (
            "--SOCKET-RECV-SIZE=",
            Tok::Behavior(291, b::SOCKET_RECV_SIZE, false),
        ),
        (
            "--SOCKET-SEND-SIZE=",
            Tok::Behavior(292, b::SOCKET_SEND_SIZE, false),
        ),
        ("--SORT-HOSTS", Tok::Behavior(293, b::SORT_HOSTS, true)),
        ("--SUPPORT-CAS", Tok::Behavior(294, b::SUPPORT_CAS, true)),
        (
            "--TCP-KEEPALIVE",
            Tok::Behavior(298, b::TCP_KEEPALIVE, true),
        ),
        ("--TCP-KEEPIDLE", Tok::Behavior(299, b::TCP_KEEPIDLE, true)),
        ("--TCP-NODELAY", Tok::Behavior(300, b::TCP_NODELAY, true)),
        ("--USE-UDP", Tok::Behavior(296, b::USE_UDP, true)),
        ("--USER-DATA", Tok::UserData),
        ("--VERIFY-KEY", Tok::Behavior(297, b::VERIFY_KEY, true)),
        ("--POOL-MIN=", Tok::PoolMin),
        ("--POOL-MAX=", Tok::PoolMax),
        ("--NAMESPACE=", Tok::Namespace),
        ("--FETCH-VERSION", Tok::FetchVersion),
        ("--TLS", Tok::Tls),
        ("--TLS-CA-FILE=", Tok::TlsCaFile),
        ("--TLS-CERT=", Tok::TlsCert),
        ("--TLS-KEY=", Tok::TlsKey),
        ("--TLS-SERVER-NAME=", Tok::TlsServerName),
        ("INCLUDE", Tok::Include),
        ("RESET", Tok::Reset),
        ("DEBUG", Tok::ParserDebug),
        ("SERVERS", Tok::Servers),
        ("END", Tok::End),
        ("CSL_ERROR", Tok::CslError),
        ("TRUE", Tok::True),
        ("FALSE", Tok::False),
    ]
};

/// The reserved words after `--[alnum]*` in the scanner's order.
const WORDS: &[(&str, Tok)] = &[
    ("CONSISTENT", Tok::DistName(314, distribution::CONSISTENT)),
    ("MODULA", Tok::DistName(315, distribution::MODULA)),
    ("RANDOM", Tok::DistName(316, distribution::RANDOM)),
    ("MD5", Tok::HashName(305, 1)),
    ("CRC", Tok::HashName(306, 2)),
    ("FNV1_64", Tok::HashName(307, 3)),
    ("FNV1A_64", Tok::HashName(308, 4)),
    ("FNV1_32", Tok::HashName(309, 5)),
    ("FNV1A_32", Tok::HashName(310, 6)),
    ("HSIEH", Tok::HashName(311, 7)),
    ("MURMUR", Tok::HashName(312, 8)),
    ("JENKINS", Tok::HashName(313, 9)),
];

struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
    /// At the beginning of a line (flex's `^`).
    bol: bool,
    /// Set by `--SERVER=`, cleared when the server is added: words are HOSTNAMEs meanwhile.
    is_server: bool,
    /// The last keyword token scanned (starts as END).
    previous: Tok,
    /// The text of the last STRING/QUOTED_STRING/HOSTNAME/IPADDRESS.
    text: Vec<u8>,
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn host_class(b: u8) -> bool {
    is_alnum(b) || matches!(b, b'.' | b'"' | b'_' | b'-')
}

fn starts_with_ci(s: &[u8], lit: &str) -> bool {
    s.len() >= lit.len() && s[..lit.len()].eq_ignore_ascii_case(lit.as_bytes())
}

fn digits(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// C `atoi` (strtol saturating at the 64-bit limits, then truncated to `int`).
fn atoi(d: &[u8]) -> i64 {
    let mut v: i64 = 0;
    for &c in d {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(c - b'0')))
            .unwrap_or(i64::MAX);
    }
    i64::from(v as i32)
}

impl<'a> Scanner<'a> {
    fn new(s: &'a [u8]) -> Self {
        Scanner {
            s,
            pos: 0,
            bol: true,
            is_server: false,
            previous: Tok::End,
            text: Vec::new(),
        }
    }

    fn ip_len(r: &[u8]) -> usize {
        let mut i = 0;
        for _ in 0..3 {
            let d = digits(&r[i..]);
            if d == 0 || d > 3 || r.get(i + d) != Some(&b'.') {
                return 0;
            }
            i += d + 1;
        }
        let d = digits(&r[i..]).min(3);
        if d == 0 {
            0
        } else {
            i + d
        }
    }

    fn host_len(r: &[u8]) -> usize {
        if r.is_empty() || !is_alnum(r[0]) {
            return 0;
        }
        let run = 1 + r[1..].iter().take_while(|&&b| host_class(b)).count();
        (2..run)
            .rev()
            .find(|&q| is_alnum(r[q]))
            .map_or(0, |q| q + 1)
    }

    fn quoted_len(r: &[u8]) -> usize {
        let start = usize::from(matches!(r.first(), Some(b'L' | b'l')));
        if r.get(start) != Some(&b'"') {
            return 0;
        }
        let mut i = start + 1;
        while i < r.len() {
            match r[i] {
                b'"' => return i + 1,
                b'\\' => {
                    if i + 1 < r.len() && r[i + 1] != b'\n' {
                        i += 2;
                    } else {
                        return 0;
                    }
                }
                _ => i += 1,
            }
        }
        0
    }

    fn next(&mut self) -> Tok {
        loop {
            let r = &self.s[self.pos..];
            if r.is_empty() {
                return Tok::Eof;
            }
            // Candidates in rule order; keep the longest, the earliest on a tie.
            let mut best: (usize, Option<Tok>) = (0, None);
            let mut offer = |len: usize, tok: Option<Tok>| {
                if len > best.0 {
                    best = (len, tok);
                }
            };
            match r[0] {
                b'=' => offer(1, Some(Tok::Equals)),
                b',' => offer(1, Some(Tok::Comma)),
                b' ' => offer(1, Some(Tok::Space)),
                _ => {}
            }
            let d = digits(r);
            if d > 0 {
                offer(d, Some(Tok::Number(atoi(&r[..d]))));
            }
            if r[0] == b':' {
                let d = digits(&r[1..]).min(5);
                if d > 0 {
                    offer(1 + d, Some(Tok::Port(atoi(&r[1..1 + d]) as u32)));
                }
            }
            if r.starts_with(b"/?") {
                let d = digits(&r[2..]).min(5);
                if d > 0 {
                    offer(2 + d, Some(Tok::WeightStart(atoi(&r[2..2 + d]) as u32)));
                }
            }
            if matches!(r[0], b'\t' | b'\r' | b'\n') {
                offer(1, None);
            }
            if self.bol && r[0] == b'#' {
                if let Some(nl) = r.iter().position(|&b| b == b'\n') {
                    offer(nl, Some(Tok::Comment));
                }
            }
            for &(lit, tok) in KEYWORDS {
                if starts_with_ci(r, lit) {
                    offer(lit.len(), Some(tok));
                }
            }
            if r.starts_with(b"--") {
                offer(
                    2 + r[2..].iter().take_while(|&&b| is_alnum(b)).count(),
                    Some(Tok::UnknownOption),
                );
            }
            for &(lit, tok) in WORDS {
                if starts_with_ci(r, lit) {
                    offer(lit.len(), Some(tok));
                }
            }
            offer(Self::ip_len(r), Some(Tok::IpAddress));
            let word = if self.is_server {
                Tok::Hostname
            } else {
                Tok::Str
            };
            offer(Self::host_len(r), Some(word));
            offer(Self::quoted_len(r), Some(Tok::QuotedStr));
            if r[0] != b'\n' {
                offer(1, Some(Tok::Unknown));
            }
            let (len, tok) = best;
            let lexeme = &r[..len];
            self.pos += len;
            self.bol = lexeme.last() == Some(&b'\n');
            let Some(tok) = tok else { continue };
            match tok {
                Tok::Server => self.is_server = true,
                Tok::IpAddress | Tok::Hostname | Tok::Str => self.text = lexeme.to_vec(),
                // The real scanner drops the first and the last byte, even after an `L`.
                Tok::QuotedStr => self.text = lexeme[1..len - 1].to_vec(),
                _ => {}
            }
            if tok.is_keyword() {
                self.previous = tok;
            }
            return tok;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parser

/// What [`parse`] found: the directives in order and, if the string is malformed, the
/// syntax error that stopped the parser after them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub directives: Vec<Directive>,
    pub syntax_error: Option<ConfigError>,
}

struct Parser<'a> {
    sc: Scanner<'a>,
    out: Vec<Directive>,
}

impl Parser<'_> {
    fn error(&self, found: Tok, expected: &[&str]) -> ConfigError {
        let mut msg = format!("syntax error, unexpected {}", found.name().0);
        if !expected.is_empty() {
            msg.push_str(", expecting ");
            msg.push_str(&expected.join(" or "));
        }
        let last = if found == Tok::Unknown {
            if self.sc.previous == Tok::End {
                Tok::Unknown
            } else {
                self.sc.previous
            }
        } else {
            found
        };
        ConfigError::syntax(format!(
            "Error occured during parsing ({msg}): last_token={}",
            last.last_token_name()
        ))
    }

    fn string(&mut self) -> Result<Vec<u8>, ConfigError> {
        match self.sc.next() {
            Tok::Str | Tok::QuotedStr => Ok(self.sc.text.clone()),
            t => Err(self.error(t, &["STRING", "QUOTED_STRING"])),
        }
    }

    fn number(&mut self) -> Result<i64, ConfigError> {
        match self.sc.next() {
            Tok::Number(n) => Ok(n),
            t => Err(self.error(t, &["NUMBER"])),
        }
    }

    /// One statement; Ok(Some(lookahead)) if it read the token after itself, Ok(None) if
    /// not; Err(None) on END (accept).
    fn statement(&mut self) -> Result<Option<Tok>, Option<ConfigError>> {
        let t = self.sc.next();
        let d = match t {
            Tok::Comment => return Ok(None),
            Tok::End => {
                self.out.push(Directive::End);
                return Err(None);
            }
            Tok::CslError => {
                self.out.push(Directive::Error);
                return Err(None);
            }
            Tok::Reset => Directive::Reset,
            Tok::ParserDebug => Directive::Debug,
            Tok::Include => match self.sc.next() {
                Tok::Space => Directive::Include(self.string()?),
                t => return Err(Some(self.error(t, &["' '"]))),
            },
            Tok::Server => {
                let host = match self.sc.next() {
                    Tok::Hostname | Tok::IpAddress => self.sc.text.clone(),
                    t => return Err(Some(self.error(t, &["IPADDRESS", "HOSTNAME"]))),
                };
                let mut port = u32::from(server_list::DEFAULT_PORT);
                let mut weight = 1;
                let mut la = self.sc.next();
                if let Tok::Port(p) = la {
                    port = p;
                    la = self.sc.next();
                }
                let la = if let Tok::WeightStart(w) = la {
                    weight = w;
                    None
                } else {
                    Some(la)
                };
                self.sc.is_server = false;
                let host = String::from_utf8_lossy(&host).into_owned();
                self.out.push(Directive::AddServer { host, port, weight });
                return Ok(la);
            }
            Tok::CslSocket => {
                let path = self.string()?;
                let la = self.sc.next();
                let (weight, la) = match la {
                    Tok::WeightStart(w) => (w, None),
                    la => (1, Some(la)),
                };
                self.out.push(Directive::AddSocket { path, weight });
                return Ok(la);
            }
            Tok::ConfigureFile => Directive::ConfigureFile(self.string()?),
            Tok::PoolMin => Directive::PoolMin(self.number()? as u32),
            Tok::PoolMax => Directive::PoolMax(self.number()? as u32),
            Tok::Namespace => Directive::Namespace(self.string()?),
            Tok::FetchVersion => Directive::FetchVersion,
            Tok::UserData => Directive::UserData,
            Tok::Tls => Directive::Tls(TlsOption::On),
            Tok::TlsCaFile => Directive::Tls(TlsOption::CaFile(self.string()?)),
            Tok::TlsCert => Directive::Tls(TlsOption::Cert(self.string()?)),
            Tok::TlsKey => Directive::Tls(TlsOption::Key(self.string()?)),
            // A name, quoted or not, or an IP address.
            Tok::TlsServerName => match self.sc.next() {
                Tok::Str | Tok::QuotedStr | Tok::IpAddress => {
                    Directive::Tls(TlsOption::ServerName(self.sc.text.clone()))
                }
                t => {
                    return Err(Some(
                        self.error(t, &["STRING", "QUOTED_STRING", "IPADDRESS"]),
                    ))
                }
            },
            Tok::Distribution => {
                let dist = match self.sc.next() {
                    Tok::DistName(_, d) => d,
                    t => return Err(Some(self.error(t, &["CONSISTENT", "MODULA", "RANDOM"]))),
                };
                let la = self.sc.next();
                if la != Tok::Comma {
                    self.out.push(Directive::SetDistribution {
                        distribution: dist,
                        hash: None,
                    });
                    return Ok(Some(la));
                }
                match self.sc.next() {
                    Tok::HashName(_, h) => Directive::SetDistribution {
                        distribution: dist,
                        hash: Some(h),
                    },
                    t => return Err(Some(self.error(t, &[]))),
                }
            }
            Tok::Hash => match self.sc.next() {
                Tok::HashName(_, h) => Directive::SetHash(h),
                t => return Err(Some(self.error(t, &[]))),
            },
            Tok::Behavior(_, b, true) => Directive::SetBehavior {
                behavior: b,
                value: 1,
                boolean: true,
            },
            Tok::Behavior(_, b, false) => {
                let n = self.number()?;
                Directive::SetBehavior {
                    behavior: b,
                    value: n as u64,
                    boolean: false,
                }
            }
            t => return Err(Some(self.error(t, &[]))),
        };
        self.out.push(d);
        Ok(None)
    }

    fn run(&mut self) -> Option<ConfigError> {
        loop {
            let la = match self.statement() {
                Ok(la) => la,
                Err(e) => return e,
            };
            match la.unwrap_or_else(|| self.sc.next()) {
                Tok::Space => continue,
                Tok::Eof => return None,
                t => return Some(self.error(t, &["end of file", "' '"])),
            }
        }
    }
}

/// Parses a configuration string as the real `memcached_parse_configuration` does (the
/// whole of `cfg`, NUL bytes included; the callers refuse an empty string before: see
/// [`check_configuration`]).
pub fn parse(cfg: &[u8]) -> Parsed {
    let mut p = Parser {
        sc: Scanner::new(cfg),
        out: Vec::new(),
    };
    let syntax_error = p.run();
    Parsed {
        directives: p.out,
        syntax_error,
    }
}

// ---------------------------------------------------------------------------------------
// Reference model

/// One server of the model (as `memcached_server_instance_by_position` shows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelServer {
    pub hostname: Vec<u8>,
    pub port: u16,
    pub weight: u32,
    pub kind: ConnectionType,
}

/// The parts of a `memcached_st` the configuration language touches, as
/// `memcached_create()` leaves them, with the real library's setters. Used as the reference
/// for the face and by the differential test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    pub servers: Vec<ModelServer>,
    pub distribution: u32,
    pub weighted: bool,
    pub hash: u32,
    /// The key hash when the continuum was last built: 1.1.4 builds it (`run_distribution`)
    /// when the servers or the distribution change, not when only HASH does, and hashes its
    /// points (unweighted) with the key hash of that moment. A HASH set after the servers and
    /// the distribution moves the keys, not the points.
    pub points_hash: u32,
    pub distribution_hash: u32,
    /// The caller's functions behind `hash` / `distribution_hash` = CUSTOM (11), given with
    /// `memcached_set_hashkit`.
    pub custom_hash: Option<crate::ffi::libhashkit::HashFunction>,
    pub custom_distribution_hash: Option<crate::ffi::libhashkit::HashFunction>,
    pub binary_protocol: bool,
    pub buffer_requests: bool,
    pub hash_with_namespace: bool,
    pub no_block: bool,
    pub reply: bool,
    pub randomize_replica_read: bool,
    pub support_cas: bool,
    pub tcp_nodelay: bool,
    pub sort_hosts: bool,
    pub use_udp: bool,
    pub verify_key: bool,
    pub tcp_keepalive: bool,
    pub auto_eject_hosts: bool,
    pub fetch_version: bool,
    pub snd_timeout: i32,
    pub rcv_timeout: i32,
    pub server_failure_limit: u32,
    pub server_timeout_limit: u32,
    pub io_msg_watermark: u32,
    pub io_bytes_watermark: u32,
    pub io_key_prefetch: u32,
    pub tcp_keepidle: u32,
    pub poll_timeout: i32,
    pub connect_timeout: i32,
    pub retry_timeout: i32,
    pub dead_timeout: i32,
    pub send_size: i32,
    pub recv_size: i32,
    pub number_of_replicas: u32,
    pub namespace: Option<Vec<u8>>,
    pub pool_min: u32,
    pub pool_max: u32,
    pub configure_file: Option<Vec<u8>>,
    pub debug: bool,
    /// `memcached_bucket_set`'s host map (server index per virtual bucket); empty without one.
    pub buckets: Vec<u32>,
    /// TLS (ours: options of the string, or the environment's; tls.rs).
    pub tls: TlsOptions,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            servers: Vec::new(),
            distribution: distribution::MODULA,
            weighted: false,
            hash: 0,
            points_hash: 0,
            distribution_hash: 0,
            custom_hash: None,
            custom_distribution_hash: None,
            binary_protocol: false,
            buffer_requests: false,
            hash_with_namespace: false,
            no_block: false,
            reply: true,
            randomize_replica_read: false,
            support_cas: false,
            tcp_nodelay: false,
            sort_hosts: false,
            use_udp: false,
            verify_key: false,
            tcp_keepalive: false,
            auto_eject_hosts: false,
            fetch_version: false,
            snd_timeout: 0,
            rcv_timeout: 0,
            server_failure_limit: 5,
            server_timeout_limit: 0,
            io_msg_watermark: 500,
            io_bytes_watermark: 65536 + 1024,
            io_key_prefetch: 0,
            tcp_keepidle: 0,
            poll_timeout: 5000,
            connect_timeout: 4000,
            retry_timeout: 2,
            dead_timeout: 0,
            send_size: -1,
            recv_size: -1,
            number_of_replicas: 0,
            namespace: None,
            pool_min: 1,
            pool_max: 1,
            configure_file: None,
            debug: false,
            buckets: Vec::new(),
            tls: TlsOptions::default(),
        }
    }
}

/// A setter of the real library refused the value (it returns an error code there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused;

/// Reads a configuration file for INCLUDE / CONFIGURE-FILE: its bytes, or the C
/// `strerror(errno)` text of the failure.
pub type FileReader<'a> = dyn FnMut(&[u8]) -> Result<Vec<u8>, String> + 'a;

fn is_consistent(d: u32) -> bool {
    matches!(
        d,
        distribution::CONSISTENT
            | distribution::CONSISTENT_KETAMA
            | distribution::CONSISTENT_KETAMA_SPY
            | distribution::CONSISTENT_WEIGHTED
    )
}

impl Model {
    /// The engine's server list for this model: in order, with weights (0 counts as 1).
    pub fn engine_servers(&self) -> Vec<crate::client::Server> {
        self.servers
            .iter()
            .map(|s| {
                crate::client::Server::weighted(
                    crate::address::ServerAddr {
                        host: String::from_utf8_lossy(&s.hostname).into_owned(),
                        port: s.port,
                        defect: None,
                    },
                    s.weight.max(1),
                )
            })
            .collect()
    }

    /// The engine's timeouts and failover as the model's behaviors mean them in libmemcached.
    pub fn apply_timeouts(&self, s: &mut crate::client::Settings) {
        use std::time::Duration;
        let ms = |v: i32, default: u64| Duration::from_millis(u64::try_from(v).unwrap_or(default));
        s.connect_timeout = ms(self.connect_timeout, 4000);
        // libmemcached waits for an answer up to POLL_TIMEOUT, and never puts a server out of
        // service for a timeout. Ours does once it has made no progress for two of them: a
        // call that times out alone (a fetch whose mget was written a moment before it
        // started waiting included) leaves a server that answers by the next call in service
        // (found by an outside tester: a frozen server's timed-out fetch disabled it for
        // RETRY_TIMEOUT after it thawed), while a server frozen longer stops costing every
        // call the whole poll timeout.
        let poll = ms(self.poll_timeout, 5000).max(Duration::from_millis(1));
        s.dead_timeout = poll.saturating_mul(2);
        s.reconnect_timeout = Duration::from_secs(u64::try_from(self.retry_timeout).unwrap_or(2));
        let dead = u64::try_from(self.dead_timeout).unwrap_or(0);
        s.failover = crate::client::FailoverPolicy::libmemcached(
            self.auto_eject_hosts,
            self.server_failure_limit,
            (dead > 0).then(|| Duration::from_secs(dead)),
        );
    }

    /// `memcached_behavior_set` for the behaviors the language sets: Err(Refused) where the real
    /// call fails.
    pub fn behavior_set(&mut self, b: u32, v: u64) -> Result<(), Refused> {
        use behavior as k;
        let on = v != 0;
        match b {
            k::NUMBER_OF_REPLICAS => self.number_of_replicas = v as u32,
            k::IO_MSG_WATERMARK => self.io_msg_watermark = v as u32,
            k::IO_BYTES_WATERMARK => self.io_bytes_watermark = v as u32,
            k::IO_KEY_PREFETCH => self.io_key_prefetch = v as u32,
            k::SND_TIMEOUT => self.snd_timeout = v as i32,
            k::RCV_TIMEOUT => self.rcv_timeout = v as i32,
            k::REMOVE_FAILED_SERVERS | k::AUTO_EJECT_HOSTS => self.auto_eject_hosts = on,
            k::BINARY_PROTOCOL => {
                if on {
                    self.verify_key = false;
                }
                self.binary_protocol = on;
            }
            k::SUPPORT_CAS => self.support_cas = on,
            k::BUFFER_REQUESTS => {
                if self.use_udp {
                    return Err(Refused);
                }
                self.buffer_requests = on;
            }
            k::USE_UDP => {
                self.use_udp = on;
                self.reply = !on;
                if on {
                    self.buffer_requests = false;
                }
            }
            k::TCP_NODELAY => self.tcp_nodelay = on,
            k::TCP_KEEPALIVE => self.tcp_keepalive = on,
            k::VERIFY_KEY => {
                if self.binary_protocol {
                    return Err(Refused);
                }
                self.verify_key = on;
            }
            k::SORT_HOSTS => {
                self.sort_hosts = on;
                self.run_distribution();
            }
            k::POLL_TIMEOUT => self.poll_timeout = v as i32,
            k::CONNECT_TIMEOUT => self.connect_timeout = v as i32,
            k::RETRY_TIMEOUT => self.retry_timeout = v as i32,
            k::SOCKET_SEND_SIZE => self.send_size = v as i32,
            k::SOCKET_RECV_SIZE => self.recv_size = v as i32,
            k::TCP_KEEPIDLE => self.tcp_keepidle = v as u32,
            k::HASH_WITH_PREFIX_KEY => self.hash_with_namespace = on,
            k::NOREPLY => {
                if self.use_udp && !on {
                    return Err(Refused);
                }
                self.reply = !on;
            }
            k::RANDOMIZE_REPLICA_READ => self.randomize_replica_read = on,
            k::DISTRIBUTION => return self.set_distribution(v),
            k::HASH => return self.set_hash(v),
            k::NO_BLOCK => self.no_block = on,
            // KETAMA=1: consistent ketama (unweighted; hashes unchanged); 0: modula.
            k::KETAMA => {
                let d = if on {
                    distribution::CONSISTENT_KETAMA
                } else {
                    distribution::MODULA
                };
                return self.set_distribution(u64::from(d));
            }
            // KETAMA_WEIGHTED=1: MD5 keys and points, weighted; 0 means KETAMA=1.
            k::KETAMA_WEIGHTED => {
                if on {
                    self.set_hash(1)?;
                    self.set_distribution_hash(1)?;
                    return self.set_distribution(u64::from(distribution::CONSISTENT_WEIGHTED));
                }
                return self.set_distribution(u64::from(distribution::CONSISTENT_KETAMA));
            }
            k::KETAMA_HASH => {
                return self.set_distribution_hash(u32::try_from(v).map_err(|_| Refused)?)
            }
            k::SERVER_FAILURE_LIMIT => {
                if v == 0 {
                    return Err(Refused);
                }
                self.server_failure_limit = v as u32;
            }
            k::DEAD_TIMEOUT => self.dead_timeout = v as i32,
            k::SERVER_TIMEOUT_LIMIT => self.server_timeout_limit = v as u32,
            _ => return Err(Refused),
        }
        Ok(())
    }

    fn set_distribution(&mut self, d: u64) -> Result<(), Refused> {
        let d = u32::try_from(d).map_err(|_| Refused)?;
        match d {
            distribution::CONSISTENT | distribution::CONSISTENT_KETAMA => self.weighted = false,
            distribution::CONSISTENT_WEIGHTED => self.weighted = true,
            0..=6 => {}
            _ => return Err(Refused),
        }
        self.distribution = d;
        self.run_distribution();
        Ok(())
    }

    fn set_hash(&mut self, h: u64) -> Result<(), Refused> {
        match u32::try_from(h).ok().and_then(HashAlgorithm::from_c) {
            Some(a) if a.is_available() => {
                self.hash = a as u32;
                Ok(())
            }
            _ => Err(Refused),
        }
    }

    fn set_distribution_hash(&mut self, h: u32) -> Result<(), Refused> {
        match HashAlgorithm::from_c(h) {
            Some(a) if a.is_available() => {
                self.distribution_hash = h;
                Ok(())
            }
            _ => Err(Refused),
        }
    }

    /// `memcached_behavior_get` (SOCKET_SEND/RECV_SIZE: the stored value, −1 when unset,
    /// where the real call would connect to the first server).
    pub fn behavior_get(&self, b: u32) -> u64 {
        use behavior as k;
        fn f<T: Into<u64>>(x: T) -> u64 {
            x.into()
        }
        match b {
            k::NO_BLOCK => f(self.no_block),
            k::TCP_NODELAY => f(self.tcp_nodelay),
            k::HASH => f(self.hash),
            k::KETAMA => f(is_consistent(self.distribution)),
            k::SOCKET_SEND_SIZE => self.send_size as i64 as u64,
            k::SOCKET_RECV_SIZE => self.recv_size as i64 as u64,
            k::CACHE_LOOKUPS => 1,
            k::SUPPORT_CAS => f(self.support_cas),
            k::POLL_TIMEOUT => self.poll_timeout as i64 as u64,
            k::DISTRIBUTION => f(self.distribution),
            k::BUFFER_REQUESTS => f(self.buffer_requests),
            k::USER_DATA => 0,
            k::SORT_HOSTS => f(self.sort_hosts),
            k::VERIFY_KEY => f(self.verify_key),
            k::CONNECT_TIMEOUT => self.connect_timeout as i64 as u64,
            k::RETRY_TIMEOUT => self.retry_timeout as i64 as u64,
            k::KETAMA_WEIGHTED => f(is_consistent(self.distribution) && self.weighted),
            k::KETAMA_HASH => f(self.distribution_hash),
            k::BINARY_PROTOCOL => f(self.binary_protocol),
            k::SND_TIMEOUT => self.snd_timeout as i64 as u64,
            k::RCV_TIMEOUT => self.rcv_timeout as i64 as u64,
            k::SERVER_FAILURE_LIMIT => f(self.server_failure_limit),
            k::IO_MSG_WATERMARK => f(self.io_msg_watermark),
            k::IO_BYTES_WATERMARK => f(self.io_bytes_watermark),
            k::IO_KEY_PREFETCH => f(self.io_key_prefetch),
            k::HASH_WITH_PREFIX_KEY => f(self.hash_with_namespace),
            k::NOREPLY => f(!self.reply),
            k::USE_UDP => f(self.use_udp),
            k::AUTO_EJECT_HOSTS | k::REMOVE_FAILED_SERVERS => f(self.auto_eject_hosts),
            k::NUMBER_OF_REPLICAS => f(self.number_of_replicas),
            k::RANDOMIZE_REPLICA_READ => f(self.randomize_replica_read),
            k::CORK => 1,
            k::TCP_KEEPALIVE => f(self.tcp_keepalive),
            k::TCP_KEEPIDLE => f(self.tcp_keepidle),
            k::LOAD_FROM_FILE => f(self.configure_file.is_some()),
            k::DEAD_TIMEOUT => self.dead_timeout as i64 as u64,
            k::SERVER_TIMEOUT_LIMIT => f(self.server_timeout_limit),
            _ => 0,
        }
    }

    /// `memcached_set_namespace`: Err(nested error text) where the real call refuses.
    fn set_namespace(&mut self, ns: &[u8]) -> Result<(), Vec<u8>> {
        if ns.is_empty() {
            return Err(nested(
                "INVALID ARGUMENTS, Invalid namespace, namespace string had value but length was 0",
                "./src/libmemcached/namespace.cc:23",
            ));
        }
        if !self.binary_protocol && ns.iter().any(|&c| !c.is_ascii_graphic()) {
            return Err(nested(
                "A BAD KEY WAS PROVIDED/CHARACTERS OUT OF RANGE, Key provided had invalid character.",
                "./src/libmemcached/key.cc:73",
            ));
        }
        if ns.len() >= 128 {
            return Err(nested(
                "KEY RETURNED FROM SERVER WAS TOO LARGE",
                "./src/libmemcached/namespace.cc:41",
            ));
        }
        self.namespace = Some(ns.to_vec());
        Ok(())
    }

    fn add_server(&mut self, s: server_list::ServerToAdd) {
        if s.weight > 1 && is_consistent(self.distribution) {
            self.weighted = true;
        }
        self.servers.push(ModelServer {
            hostname: s.hostname,
            port: s.port,
            weight: s.weight,
            kind: s.kind,
        });
        self.run_distribution();
    }

    /// POLL_TIMEOUT as a duration (a negative one, "forever" to libmemcached, is taken as
    /// 5 seconds).
    pub fn poll_wait(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::try_from(self.poll_timeout).unwrap_or(5000))
    }

    /// What 1.1.4's `run_distribution()` (after every server list change and distribution
    /// set) does to the model: with SORT_HOSTS the server list is sorted (by hostname bytes,
    /// then port), and the continuum's points take the key hash of this moment.
    pub fn run_distribution(&mut self) {
        self.points_hash = self.hash;
        if self.sort_hosts {
            self.servers
                .sort_by(|a, b| (&a.hostname, a.port).cmp(&(&b.hostname, b.port)));
        }
    }

    /// Applies the result of [`parse`] as `memcached_parse_configuration` does: each
    /// directive in order (the first failure wins), then the syntax error if any.
    pub fn apply(
        &mut self,
        parsed: &Parsed,
        files: &mut FileReader<'_>,
    ) -> Result<(), ConfigError> {
        let mut has_hash = false;
        for d in &parsed.directives {
            match d {
                Directive::AddServer { host, port, weight } => {
                    let mut h = host.as_bytes().to_vec();
                    h.truncate(NI_MAXHOST);
                    match server_list::server_add_args(Some(&h), *port as u16, *weight) {
                        Ok(s) => self.add_server(s),
                        Err(_) => {
                            let mut msg = b"Failed to add server: ".to_vec();
                            msg.extend_from_slice(&h);
                            msg.extend_from_slice(format!(":{port}").as_bytes());
                            msg.truncate(1023);
                            return Err(ConfigError::abort(msg));
                        }
                    }
                }
                Directive::AddSocket { path, weight } => {
                    match server_list::socket_add_args(path, *weight) {
                        Ok(s) => self.add_server(s),
                        Err(_) => {
                            let mut msg = b"Failed to add socket: ".to_vec();
                            msg.extend_from_slice(path);
                            msg.truncate(1023);
                            return Err(ConfigError::abort(msg));
                        }
                    }
                }
                Directive::SetBehavior {
                    behavior,
                    value,
                    boolean,
                } => {
                    if self.behavior_set(*behavior, *value).is_err() {
                        return Err(ConfigError::abort(if *boolean {
                            format!("Could not set: {}", behavior::name(*behavior))
                        } else {
                            "Unable to set behavior".to_string()
                        }));
                    }
                }
                Directive::SetDistribution { distribution, hash } => {
                    if self.set_distribution(u64::from(*distribution)).is_err() {
                        return Err(ConfigError::abort("--DISTRIBUTION can only be called once"));
                    }
                    if let Some(h) = hash {
                        if self.set_distribution_hash(*h).is_err() {
                            return Err(ConfigError::abort(
                                "Unable to set the hash for the DISTRIBUTION requested",
                            ));
                        }
                    }
                }
                Directive::SetHash(h) => {
                    if has_hash || self.set_hash(u64::from(*h)).is_err() {
                        return Err(ConfigError::abort("--HASH can only be set once"));
                    }
                    has_hash = true;
                }
                Directive::Namespace(ns) => {
                    if self.namespace.is_some() {
                        return Err(ConfigError::abort("--NAMESPACE can only be called once"));
                    }
                    if let Err(inner) = self.set_namespace(ns) {
                        return Err(ConfigError::abort(inner));
                    }
                }
                Directive::FetchVersion => self.fetch_version = true,
                Directive::UserData => {}
                Directive::PoolMin(n) => self.pool_min = *n,
                Directive::PoolMax(n) => self.pool_max = *n,
                Directive::ConfigureFile(p) => self.configure_file = Some(p.clone()),
                Directive::Include(p) => {
                    if self.parse_file(p, files).is_err() {
                        return Err(ConfigError::abort("Failed to parse configuration file"));
                    }
                }
                Directive::Reset => {
                    let debug = self.debug;
                    *self = Model {
                        debug,
                        ..Model::default()
                    };
                }
                Directive::Debug => self.debug = true,
                Directive::End => return Ok(()),
                Directive::Error => {
                    return Err(ConfigError::abort("ERROR called directly"));
                }
                Directive::Tls(option) => {
                    if let Err(text) = self.tls.set(option) {
                        return Err(ConfigError::tls(text));
                    }
                }
            }
        }
        match &parsed.syntax_error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// A configuration file: each line (up to `BUFSIZ` − 1 bytes at a time, as `fgets`
    /// reads) is its own parse; lines that are just "\n" are skipped. An empty file fails
    /// with MEMCACHED_INVALID_ARGUMENTS.
    pub fn parse_file(
        &mut self,
        path: &[u8],
        files: &mut FileReader<'_>,
    ) -> Result<(), ConfigError> {
        let data = match files(path) {
            Ok(d) => d,
            Err(strerror) => {
                let mut text = format!("SYSTEM ERROR({strerror}), ").into_bytes();
                text.extend_from_slice(path);
                return Err(ConfigError {
                    rc: MEMCACHED_ERRNO,
                    text,
                    at: "./src/libmemcached/options.cc:34",
                });
            }
        };
        // No line at all: MEMCACHED_INVALID_ARGUMENTS with no error recorded, which
        // memcached_last_error_message shows as "SUCCESS".
        let mut result = Err(ConfigError {
            rc: MEMCACHED_INVALID_ARGUMENTS,
            text: b"SUCCESS".to_vec(),
            at: "",
        });
        for line in data
            .split_inclusive(|&b| b == b'\n')
            .flat_map(|l| l.chunks(8191))
        {
            if line == b"\n" {
                continue;
            }
            let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
            result = self.apply(&parse(line), files);
            if result.is_err() {
                break;
            }
        }
        result
    }
}

fn nested(text: &str, at: &str) -> Vec<u8> {
    format!("({PTR_MARK}) {text} -> {at}").into_bytes()
}

/// `libmemcached_check_configuration(cfg, len, …)`: the model it leaves (for the
/// differential test) or the error; an empty string is MEMCACHED_INVALID_ARGUMENTS with
/// no text. A `--CONFIGURE-FILE` is read (through `files`) after a successful parse, as the
/// real check and `memcached()` do.
pub fn check_configuration(cfg: &[u8], files: &mut FileReader<'_>) -> Result<Model, ConfigError> {
    if cfg.is_empty() {
        return Err(ConfigError {
            rc: MEMCACHED_INVALID_ARGUMENTS,
            text: Vec::new(),
            at: "",
        });
    }
    let mut model = Model::default();
    model.apply(&parse(cfg), files)?;
    if let Some(path) = model.configure_file.clone() {
        model.parse_file(&path, files)?;
    }
    model.tls.check().map_err(ConfigError::tls)?;
    Ok(model)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
