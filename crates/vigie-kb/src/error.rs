//! Errors raised while parsing knowledge-base data.

/// Why a knowledge-base source could not be loaded. Messages are lowercase and
/// name the source and the place (JSON line/column or field path) at fault.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// The bytes are not valid JSON, or not the JSON shape of the source.
    #[error("{file}: invalid json at line {line}, column {column}: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The JSON parsed but a value is unusable (bad date, duplicate id, wrong count…).
    #[error("{file}: {path}: {message}")]
    Invalid {
        file: String,
        path: String,
        message: String,
    },
    /// `load_update` could not tell which source the bytes belong to.
    #[error(
        "unrecognised update: {detail} (expected a cisa kev catalog, a kev-affected.json, an endoflife.date product file or api v1 product, microsoft-lifecycle.json, a windows build history buildnumbers.json, windows-legacy-rollups.json or an msrc cvrf monthly document in json)"
    )]
    Unrecognised { detail: String },
}

impl KbError {
    pub(crate) fn json(file: &str, e: &serde_json::Error) -> KbError {
        // serde_json appends " at line L column C"; the fields carry those already.
        let text = e.to_string();
        let message = text.split(" at line ").next().unwrap_or(&text).to_string();
        KbError::Json {
            file: file.to_string(),
            line: e.line(),
            column: e.column(),
            message,
        }
    }

    pub(crate) fn invalid(
        file: &str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> KbError {
        KbError::Invalid {
            file: file.to_string(),
            path: path.into(),
            message: message.into(),
        }
    }
}
