//! Typed errors. Every parse error names where in the input it happened so an
//! operator can open the file at that spot.

use std::fmt;

/// Where in the input an error was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// 1-based line number (JSON lines, CSV, and JSON documents).
    Line(u64),
    /// 0-based byte offset (XML).
    Byte(u64),
    /// 1-based record number (one record = one observation or CSV row).
    Record(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Byte(n) => write!(f, "byte {n}"),
            Location::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// A parse failure. Parsers stop after the first one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ParseError {
    pub location: Location,
    pub message: String,
}

impl ParseError {
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        ParseError {
            location,
            message: message.into(),
        }
    }
}

/// An error in the organisation directory CSV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct OrgCsvError {
    pub line: u64,
    pub message: String,
}

/// An invalid CSV column mapping (TOML file or `key=column` flags).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("csv mapping: {message}")]
pub struct CsvMappingError {
    pub message: String,
}
