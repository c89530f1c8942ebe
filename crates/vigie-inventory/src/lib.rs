//! Streaming parsers that turn inventory files into [`Observation`]s.
//!
//! Supported: osquery result logs, GLPI Agent JSON, FusionInventory/GLPI
//! and OCS Inventory NG XML, nmap XML, and CSV exports through a column
//! mapping. See `docs/formats.md` for what each format yields.
//!
//! ```no_run
//! use std::io::{BufRead, BufReader};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut input = BufReader::new(std::fs::File::open("inventory.xml")?);
//! let format = vigie_inventory::detect(input.fill_buf()?).ok_or("unknown format")?;
//! for observation in vigie_inventory::parse(format, input, &Default::default()) {
//!     let observation = observation?;
//!     println!("{:?}", observation.host.hostname);
//! }
//! # Ok(()) }
//! ```
//!
//! Guarantees: parsers never panic on any input; memory stays bounded by
//! [`ParseOptions`] whatever the file size; after the first error the
//! iterator ends; every string handed out has its control characters
//! escaped and is within the limit of its kind of field
//! ([`MAX_IDENTIFIER_BYTES`], [`MAX_NAME_BYTES`], [`MAX_VERSION_BYTES`],
//! [`MAX_HOTFIX_ID_BYTES`]), changes counted in `Observation::adjusted`.

mod csv_inventory;
mod detect;
mod error;
mod glpi;
mod input;
mod json;
mod limits;
mod nmap;
mod org_csv;
mod os;
mod osquery;
mod software;
mod util;
mod xml_inventory;
mod xmlio;

pub use csv_inventory::CsvMapping;
pub use detect::{DETECT_BYTES, detect};
pub use error::{CsvMappingError, Location, OrgCsvError, ParseError};
pub use limits::{MAX_HOTFIX_ID_BYTES, MAX_IDENTIFIER_BYTES, MAX_NAME_BYTES, MAX_VERSION_BYTES};
pub use org_csv::parse_org_csv;

use std::io::BufRead;
use vigie_core::{Observation, SourceKind};

/// An inventory file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// osquery result log (JSON lines, filesystem logger).
    Osquery,
    /// GLPI Agent native JSON inventory.
    GlpiJson,
    /// FusionInventory / GLPI Agent XML inventory.
    FusionXml,
    /// OCS Inventory NG XML (`.ocs`).
    OcsXml,
    /// nmap XML output (`-oX`).
    Nmap,
    /// CSV export read through a [`CsvMapping`].
    Csv,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Osquery,
        Format::GlpiJson,
        Format::FusionXml,
        Format::OcsXml,
        Format::Nmap,
        Format::Csv,
    ];

    /// The same names as [`SourceKind`]: "osquery", "glpi-json", …
    pub fn as_str(self) -> &'static str {
        self.source_kind().as_str()
    }

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The source kind observations of this format usually carry. For
    /// Fusion/OCS XML the parser decides from the content.
    pub fn source_kind(self) -> SourceKind {
        match self {
            Format::Osquery => SourceKind::Osquery,
            Format::GlpiJson => SourceKind::GlpiJson,
            Format::FusionXml => SourceKind::FusionXml,
            Format::OcsXml => SourceKind::OcsXml,
            Format::Nmap => SourceKind::Nmap,
            Format::Csv => SourceKind::Csv,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Limits and settings for parsing. The defaults suit real inventories and
/// keep memory bounded on hostile ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Column mapping for CSV; `None` recognises common export headers.
    pub csv_mapping: Option<CsvMapping>,
    /// Longest JSON line, CSV line, or XML tag/text run (default 16 MiB).
    pub max_line_bytes: usize,
    /// Deepest XML nesting accepted (default 64; real inventories use < 10).
    pub max_xml_depth: usize,
    /// Largest GLPI JSON document, read whole (default 64 MiB).
    pub max_document_bytes: usize,
    /// Most list items (software, hotfixes, features, addresses, ports)
    /// gathered for one host (default 200,000).
    pub max_items_per_host: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            csv_mapping: None,
            max_line_bytes: 16 * 1024 * 1024,
            max_xml_depth: 64,
            max_document_bytes: 64 * 1024 * 1024,
            max_items_per_host: 200_000,
        }
    }
}

/// The observations of one input, produced lazily.
pub struct Observations<R: BufRead> {
    inner: Inner<R>,
}

enum Inner<R: BufRead> {
    Osquery(Box<osquery::OsqueryParser<R>>),
    Glpi(Box<glpi::GlpiParser<R>>),
    Xml(Box<xml_inventory::XmlInventoryParser<R>>),
    Nmap(Box<nmap::NmapParser<R>>),
    Csv(Box<csv_inventory::CsvParser<R>>),
}

impl<R: BufRead> Iterator for Observations<R> {
    type Item = Result<Observation, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut item = match &mut self.inner {
            Inner::Osquery(p) => p.next(),
            Inner::Glpi(p) => p.next(),
            Inner::Xml(p) => p.next(),
            Inner::Nmap(p) => p.next(),
            Inner::Csv(p) => p.next(),
        };
        // one place for every format: control characters and length limits
        if let Some(Ok(obs)) = &mut item {
            limits::enforce(obs);
        }
        item
    }
}

/// Parses `reader` as `format`, one observation at a time.
///
/// The reader is consumed as the iterator advances; wrap files in a
/// `BufReader`. The options are copied, so the iterator only borrows what
/// `R` borrows (and is `Send` when `R` is).
pub fn parse<R: BufRead>(format: Format, reader: R, opts: &ParseOptions) -> Observations<R> {
    let opts = opts.clone();
    let inner = match format {
        Format::Osquery => Inner::Osquery(Box::new(osquery::OsqueryParser::new(reader, opts))),
        Format::GlpiJson => Inner::Glpi(Box::new(glpi::GlpiParser::new(reader, opts))),
        Format::FusionXml | Format::OcsXml => Inner::Xml(Box::new(
            xml_inventory::XmlInventoryParser::new(reader, opts),
        )),
        Format::Nmap => Inner::Nmap(Box::new(nmap::NmapParser::new(reader, opts))),
        Format::Csv => Inner::Csv(Box::new(csv_inventory::CsvParser::new(reader, opts))),
    };
    Observations { inner }
}
