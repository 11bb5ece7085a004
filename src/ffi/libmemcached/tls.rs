//! TLS in the libmemcached face, which libmemcached itself never had: options of ours in
//! configuration strings (`--TLS`, `--TLS-CA-FILE="…"`, `--TLS-CERT="…"`, `--TLS-KEY="…"`,
//! `--TLS-SERVER-NAME=…`) and, for programs that cannot be changed, the same from the
//! environment (`OMCACHE_TLS`, `OMCACHE_TLS_CA_FILE`, `OMCACHE_TLS_CERT`, `OMCACHE_TLS_KEY`,
//! `OMCACHE_TLS_SERVER_NAME`), read whenever a handle is created (`memcached_create`,
//! `memcached()`, `memcached_reset`). Both end up as [`TlsOptions`] in the handle's settings
//! model, so `memcached_clone` carries them, and the engine gets them as its
//! [`TlsSettings`].
//!
//! A configuration string that names any TLS option decides alone (the environment is not
//! merged into it); one without TLS options takes the environment's. Without either, nothing
//! changes. A broken environment (a certificate without its key, an `OMCACHE_TLS` that is
//! neither on nor off) cannot be refused at `memcached_create`, which has no error to give:
//! the handle then has TLS settings that cannot be used, so every request fails with
//! INVALID_ARGUMENTS and the reason, and nothing is ever sent in plaintext.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use crate::client::TlsSettings;

/// The environment variables, as the README documents them.
pub const ENV_TLS: &str = "OMCACHE_TLS";
pub const ENV_CA_FILE: &str = "OMCACHE_TLS_CA_FILE";
pub const ENV_CERT: &str = "OMCACHE_TLS_CERT";
pub const ENV_KEY: &str = "OMCACHE_TLS_KEY";
pub const ENV_SERVER_NAME: &str = "OMCACHE_TLS_SERVER_NAME";

/// One TLS option of a configuration string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsOption {
    /// `--TLS`: TLS with the system's roots and each server entry's name.
    On,
    /// `--TLS-CA-FILE="path"`: the PEM file of the authorities to trust.
    CaFile(Vec<u8>),
    /// `--TLS-CERT="path"`: the client certificate chain (PEM); needs `--TLS-KEY`.
    Cert(Vec<u8>),
    /// `--TLS-KEY="path"`: its private key (PEM); needs `--TLS-CERT`.
    Key(Vec<u8>),
    /// `--TLS-SERVER-NAME=name`: the name every server certificate must be valid for.
    ServerName(Vec<u8>),
}

impl TlsOption {
    /// The option as written in a configuration string (for error texts).
    fn keyword(&self) -> &'static str {
        match self {
            TlsOption::On => "--TLS",
            TlsOption::CaFile(_) => "--TLS-CA-FILE",
            TlsOption::Cert(_) => "--TLS-CERT",
            TlsOption::Key(_) => "--TLS-KEY",
            TlsOption::ServerName(_) => "--TLS-SERVER-NAME",
        }
    }
}

/// A handle's TLS configuration (part of the settings model).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// TLS to every TCP server (any TLS option or variable turns it on).
    pub enabled: bool,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub server_name: Option<String>,
    /// Why these settings cannot be used (a broken environment): requests fail with it.
    pub unusable: Option<String>,
}

fn path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(bytes.to_vec()))
}

impl TlsOptions {
    /// Applies one option of a configuration string; Err(text of the parse error) for an
    /// option given twice or an empty value.
    pub fn set(&mut self, option: &TlsOption) -> Result<(), String> {
        let once = || format!("{} can only be given once", option.keyword());
        let value = |v: &[u8]| {
            if v.is_empty() {
                Err(format!("{} needs a value", option.keyword()))
            } else {
                Ok(())
            }
        };
        match option {
            TlsOption::On => {}
            TlsOption::CaFile(v) | TlsOption::Cert(v) | TlsOption::Key(v) => {
                value(v)?;
                let slot = match option {
                    TlsOption::CaFile(_) => &mut self.ca_file,
                    TlsOption::Cert(_) => &mut self.cert_file,
                    _ => &mut self.key_file,
                };
                if slot.is_some() {
                    return Err(once());
                }
                *slot = Some(path(v));
            }
            TlsOption::ServerName(v) => {
                value(v)?;
                if self.server_name.is_some() {
                    return Err(once());
                }
                let name = std::str::from_utf8(v)
                    .map_err(|_| format!("{}: not a valid name", option.keyword()))?;
                self.server_name = Some(name.to_string());
            }
        }
        self.enabled = true;
        Ok(())
    }

    /// The combination is usable: a client certificate comes with its key. Checked once the
    /// whole configuration has been read (the two may come in either order, or from an
    /// included file).
    pub fn check(&self) -> Result<(), String> {
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => Err("--TLS-CERT needs --TLS-KEY".to_string()),
            (None, Some(_)) => Err("--TLS-KEY needs --TLS-CERT".to_string()),
            _ => Ok(()),
        }
    }

    /// The engine's settings: None without TLS.
    pub fn settings(&self) -> Option<TlsSettings> {
        if !self.enabled {
            return None;
        }
        if self.unusable.is_some() {
            // A CA file that cannot exist: the engine refuses the settings (TlsFailure::Config)
            // before connecting, and `problem` gives the real reason.
            return Some(TlsSettings::new().with_ca_file(PathBuf::new()));
        }
        let mut tls = TlsSettings::new();
        tls.ca_file = self.ca_file.clone();
        tls.server_name = self.server_name.clone();
        if let (Some(cert), Some(key)) = (&self.cert_file, &self.key_file) {
            tls = tls.with_client_cert(cert, key);
        }
        Some(tls)
    }

    /// Why the engine refused these settings (an unreadable or broken CA, certificate or key
    /// file, or a broken environment), for the error message of a failed request.
    pub fn problem(&self) -> Option<String> {
        if let Some(why) = &self.unusable {
            return Some(why.clone());
        }
        self.settings()?.client_config().err()
    }

    /// The environment's TLS configuration (`getenv` gives each variable). None when no
    /// variable is set or `OMCACHE_TLS` turns TLS off. An empty `OMCACHE_TLS` counts as unset;
    /// an empty file or name variable makes the settings unusable (every request fails with
    /// the reason) unless `OMCACHE_TLS` turns TLS off: it was meant to name something (a
    /// shell variable that expanded to nothing, say), and TLS is never given up for plaintext
    /// on a guess.
    pub fn from_env_with(getenv: impl Fn(&str) -> Option<OsString>) -> Option<TlsOptions> {
        let get = |name: &str| getenv(name).filter(|v| !v.is_empty());
        let switch = get(ENV_TLS);
        let mut options = TlsOptions {
            enabled: true,
            ..TlsOptions::default()
        };
        let empty = [ENV_CA_FILE, ENV_CERT, ENV_KEY, ENV_SERVER_NAME]
            .into_iter()
            .find(|name| getenv(name).is_some_and(|v| v.is_empty()));
        let mut any = empty.is_some();
        for (name, slot) in [
            (ENV_CA_FILE, &mut options.ca_file),
            (ENV_CERT, &mut options.cert_file),
            (ENV_KEY, &mut options.key_file),
        ] {
            if let Some(v) = get(name) {
                *slot = Some(PathBuf::from(v));
                any = true;
            }
        }
        if let Some(v) = get(ENV_SERVER_NAME) {
            any = true;
            match v.into_string() {
                Ok(name) => options.server_name = Some(name),
                Err(_) => options.unusable = Some(format!("{ENV_SERVER_NAME}: not a valid name")),
            }
        }
        match switch
            .as_ref()
            .map(|v| v.to_string_lossy().to_ascii_lowercase())
        {
            None if !any => return None,
            None => {}
            Some(v) if matches!(v.as_str(), "1" | "yes" | "true" | "on") => {}
            Some(v) if matches!(v.as_str(), "0" | "no" | "false" | "off") => return None,
            Some(v) => {
                options.unusable = Some(format!("{ENV_TLS}={v}: expected 1 (on) or 0 (off)"));
            }
        }
        if let (None, Some(name)) = (&options.unusable, empty) {
            options.unusable = Some(format!("{name} is set but empty"));
        }
        if options.unusable.is_none() {
            options.unusable = match (&options.cert_file, &options.key_file) {
                (Some(_), None) => Some(format!("{ENV_CERT} is set without {ENV_KEY}")),
                (None, Some(_)) => Some(format!("{ENV_KEY} is set without {ENV_CERT}")),
                _ => None,
            };
        }
        Some(options)
    }

    /// The process environment's TLS configuration, or none.
    pub fn from_env() -> TlsOptions {
        TlsOptions::from_env_with(|name| std::env::var_os(name)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> Option<TlsOptions> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        TlsOptions::from_env_with(|name| map.get(name).cloned())
    }

    #[test]
    fn nothing_set_changes_nothing() {
        assert_eq!(env(&[]), None);
        assert_eq!(env(&[(ENV_TLS, "")]), None);
        assert_eq!(env(&[(ENV_TLS, "0"), (ENV_CA_FILE, "")]), None);
        assert_eq!(TlsOptions::default().settings(), None);
    }

    #[test]
    fn an_empty_file_or_name_never_means_plaintext() {
        for name in [ENV_CA_FILE, ENV_CERT, ENV_KEY, ENV_SERVER_NAME] {
            for switch in [None, Some(""), Some("1")] {
                let mut vars = vec![(name, "")];
                vars.extend(switch.map(|s| (ENV_TLS, s)));
                let options = env(&vars).expect("TLS stays asked for");
                assert!(options.enabled);
                let why = options.problem().expect("unusable");
                assert_eq!(why, format!("{name} is set but empty"));
            }
        }
    }

    #[test]
    fn the_switch_and_the_files() {
        let on = env(&[(ENV_TLS, "1")]).unwrap();
        assert_eq!(on.settings(), Some(TlsSettings::new()));
        let ca = env(&[(ENV_CA_FILE, "/ca.pem"), (ENV_SERVER_NAME, "mc")]).unwrap();
        assert_eq!(
            ca.settings(),
            Some(
                TlsSettings::new()
                    .with_ca_file("/ca.pem")
                    .with_server_name("mc")
            )
        );
        assert_eq!(env(&[(ENV_TLS, "0"), (ENV_CA_FILE, "/ca.pem")]), None);
        let mutual = env(&[(ENV_TLS, "yes"), (ENV_CERT, "/c"), (ENV_KEY, "/k")]).unwrap();
        assert_eq!(
            mutual.settings(),
            Some(TlsSettings::new().with_client_cert("/c", "/k"))
        );
    }

    #[test]
    fn a_broken_environment_fails_requests_with_its_reason() {
        let half = env(&[(ENV_CERT, "/c")]).unwrap();
        assert_eq!(
            half.problem().as_deref(),
            Some("OMCACHE_TLS_CERT is set without OMCACHE_TLS_KEY")
        );
        assert!(half.settings().unwrap().client_config().is_err());
        let bad = env(&[(ENV_TLS, "maybe")]).unwrap();
        assert!(bad
            .problem()
            .unwrap()
            .contains("expected 1 (on) or 0 (off)"));
        let missing = env(&[(ENV_CA_FILE, "/nonexistent/ca.pem")]).unwrap();
        assert!(missing.problem().unwrap().contains("/nonexistent/ca.pem"));
    }

    fn parse(cfg: &str) -> Result<TlsOptions, String> {
        let mut no_files = |_: &[u8]| Err("no files here".to_string());
        super::super::config::check_configuration(cfg.as_bytes(), &mut no_files)
            .map(|m| m.tls)
            .map_err(|e| String::from_utf8_lossy(&e.message("PTR")).into_owned())
    }

    #[test]
    fn configuration_strings() {
        assert_eq!(parse("--SERVER=localhost").unwrap(), TlsOptions::default());
        assert!(parse("--TLS").unwrap().enabled);
        let all = parse(
            "--TLS-CA-FILE=\"/etc/ca.pem\" --TLS-CERT=\"/c.pem\" --TLS-KEY=\"/k.pem\" \
             --TLS-SERVER-NAME=mc.example",
        )
        .unwrap();
        assert_eq!(
            all.settings(),
            Some(
                TlsSettings::new()
                    .with_ca_file("/etc/ca.pem")
                    .with_client_cert("/c.pem", "/k.pem")
                    .with_server_name("mc.example")
            )
        );
        let ip = parse("--TLS-SERVER-NAME=127.0.0.1").unwrap();
        assert_eq!(ip.server_name.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            parse("--TLS-CERT=\"/c\"").unwrap_err(),
            "(PTR) --TLS-CERT needs --TLS-KEY -> omcache-rs"
        );
        assert_eq!(
            parse("--TLS --TLS-KEY=\"/k\" RESET").unwrap(),
            TlsOptions::default()
        );
        assert!(parse("--TLS-CA-FILE=/etc/ca.pem")
            .unwrap_err()
            .contains("syntax error"));
        assert!(parse("--TLS=1").unwrap_err().contains("syntax error"));
    }

    #[test]
    fn options_once_and_in_pairs() {
        let mut o = TlsOptions::default();
        o.set(&TlsOption::CaFile(b"/ca".to_vec())).unwrap();
        assert!(o.enabled);
        assert_eq!(
            o.set(&TlsOption::CaFile(b"/ca".to_vec())),
            Err("--TLS-CA-FILE can only be given once".to_string())
        );
        assert_eq!(
            o.set(&TlsOption::Key(Vec::new())),
            Err("--TLS-KEY needs a value".to_string())
        );
        o.set(&TlsOption::Cert(b"/c".to_vec())).unwrap();
        assert_eq!(o.check(), Err("--TLS-CERT needs --TLS-KEY".to_string()));
        o.set(&TlsOption::Key(b"/k".to_vec())).unwrap();
        assert_eq!(o.check(), Ok(()));
    }
}
