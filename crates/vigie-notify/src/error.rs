//! Typed errors.

use std::fmt;
use std::path::PathBuf;

/// A configuration problem, naming the source (file name) and, when known,
/// the line: `notify.toml line 12: unknown channel "x"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub source_name: String,
    /// 1-based line number in the source, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {}: {}", self.source_name, line, self.message),
            None => write!(f, "{}: {}", self.source_name, self.message),
        }
    }
}

/// Errors building a [`crate::Notifier`] or resolving its configuration.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "channel \"{channel}\": the {what} is not resolved (call NotifyConfig::resolve_secrets first)"
    )]
    UnresolvedSecret { channel: String, what: &'static str },
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("HTTP client: {0}")]
    HttpClient(String),
    #[error("SMTP channel \"{channel}\": {message}")]
    Smtp { channel: String, message: String },
}
