//! The ingest pipeline: one file (or stream) in, one database transaction out.
//!
//! ```text
//! bytes ─► detect ─► parse (own thread) ─► batches ─► attribute ─► resolve identities
//!       ─► load hosts ─► apply + merge + evaluate (rayon) ─► diff findings ─► store
//! ```
//!
//! A file is ingested entirely or not at all: a parse error anywhere rolls
//! the transaction back, so the database is exactly as it was before. The
//! file's content hash is recorded, so ingesting it again changes nothing.

pub mod identity;
mod pipeline;
mod softdict;

pub use pipeline::{AssessReport, FileReport, FileStatus, IngestError, IngestOptions, Pipeline};
