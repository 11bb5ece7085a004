//! The TLS keywords both Python faces take (`tls`, `tls_ca_file`, `tls_cert`, `tls_key`,
//! `tls_server_name`) as the engine's [`TlsSettings`], checked when they are given rather than
//! at the first request: a missing file or a key without its certificate is a mistake in the
//! program, better reported where it was made.

use std::path::PathBuf;

use omcache::client::TlsSettings;

/// The keywords as given (paths already `os.fspath`-ed by PyO3).
pub struct TlsKeywords {
    /// None: on when any other option is given.
    pub enabled: Option<bool>,
    pub ca_file: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub server_name: Option<String>,
}

/// Why the keywords cannot be used.
pub enum TlsKeywordError {
    /// The keywords contradict each other (a ValueError).
    Usage(&'static str),
    /// A file cannot be read or holds nothing usable (the engine's words).
    Files(String),
}

impl TlsKeywords {
    /// The settings (None: plaintext), with the files read once to check them.
    pub fn settings(self) -> Result<Option<TlsSettings>, TlsKeywordError> {
        let any_option = self.ca_file.is_some()
            || self.cert.is_some()
            || self.key.is_some()
            || self.server_name.is_some();
        let enabled = match self.enabled {
            // Options without TLS would be ignored silently: a plaintext connection the
            // caller did not mean to make.
            Some(false) if any_option => {
                return Err(TlsKeywordError::Usage(
                    "tls_ca_file, tls_cert, tls_key and tls_server_name need tls=True",
                ))
            }
            Some(on) => on,
            None => any_option,
        };
        if !enabled {
            return Ok(None);
        }
        let mut settings = TlsSettings::new();
        if let Some(ca) = self.ca_file {
            settings = settings.with_ca_file(ca);
        }
        match (self.cert, self.key) {
            (None, Some(_)) => {
                return Err(TlsKeywordError::Usage("tls_key needs tls_cert"));
            }
            // As Python's ssl.SSLContext.load_cert_chain: without a key file the
            // certificate file holds the key too.
            (Some(cert), None) => settings = settings.with_client_cert(cert.clone(), cert),
            (Some(cert), Some(key)) => settings = settings.with_client_cert(cert, key),
            (None, None) => {}
        }
        if let Some(name) = self.server_name {
            if name.is_empty() {
                return Err(TlsKeywordError::Usage("tls_server_name is empty"));
            }
            settings = settings.with_server_name(name);
        }
        settings.client_config().map_err(TlsKeywordError::Files)?;
        Ok(Some(settings))
    }
}
