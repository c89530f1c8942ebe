//! CSV exports (SCCM/ConfigMgr reports, Intune device exports, GLPI lists,
//! hand-made spreadsheets) read through a column mapping.
//!
//! One row is one host, or one (host, software) pair: consecutive rows that
//! name the same host are merged into one observation, which covers both
//! "one row per device" and "one row per installed product" exports.

use crate::ParseOptions;
use crate::error::{CsvMappingError, Location, ParseError};
use crate::input::{GuardedInput, decode_text, prepare, token_too_long};
use crate::os::OsInput;
use crate::util::{kbs_in, non_empty, normalise_mac, parse_timestamp, push_unique, useful_ip};
use serde::Deserialize;
use std::io::BufRead;
use vigie_core::{Hotfix, Observation, OsFacts, Section, Software, SourceKind};

/// Which CSV column holds which fact. Column names match headers
/// case-insensitively. Fields left `None` are found through well-known
/// header names (SCCM, Intune, GLPI, French and English) unless
/// `auto_detect` is `false`.
///
/// As TOML:
/// ```toml
/// hostname = "Device name"
/// os_version = "OS version"
/// hotfixes = "Installed updates"
/// delimiter = ";"
/// day_first = true
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvMapping {
    pub hostname: Option<String>,
    pub fqdn: Option<String>,
    pub serial: Option<String>,
    pub uuid: Option<String>,
    /// Addresses; several per cell may be separated by `,`, `;`, `|` or spaces.
    pub ip: Option<String>,
    pub mac: Option<String>,
    pub os_name: Option<String>,
    /// "10.0.19045", "10.0.19045.3803", "6.1 (7601)", "22.04"…
    pub os_version: Option<String>,
    pub os_build: Option<String>,
    /// Installed updates: every "KB1234567" in the cell is read, whatever the
    /// separator; bare 6–8 digit numbers are read as KB numbers too.
    pub hotfixes: Option<String>,
    pub software_name: Option<String>,
    pub software_version: Option<String>,
    pub software_publisher: Option<String>,
    /// Establishment code or tag.
    pub establishment: Option<String>,
    /// When the row's facts were collected (last inventory, last check-in).
    pub observed_at: Option<String>,
    /// Field delimiter; sniffed from the header line when absent.
    pub delimiter: Option<char>,
    /// Read ambiguous dates such as 03/04/2024 as day/month (default `true`).
    pub day_first: Option<bool>,
    /// Find unmapped fields by well-known header names (default `true`).
    pub auto_detect: Option<bool>,
}

/// The mapping keys, for error messages and `key=column` flags.
const KEYS: &[&str] = &[
    "hostname",
    "fqdn",
    "serial",
    "uuid",
    "ip",
    "mac",
    "os_name",
    "os_version",
    "os_build",
    "hotfixes",
    "software_name",
    "software_version",
    "software_publisher",
    "establishment",
    "observed_at",
    "delimiter",
    "day_first",
    "auto_detect",
];

impl CsvMapping {
    pub fn from_toml_str(text: &str) -> Result<Self, CsvMappingError> {
        toml::from_str(text).map_err(|e| CsvMappingError {
            message: e.message().to_lowercase(),
        })
    }

    /// Builds a mapping from `key=column` pairs, as given on a command line
    /// (`--column hostname="Device name"`).
    pub fn from_pairs<I, S>(pairs: I) -> Result<Self, CsvMappingError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut m = CsvMapping::default();
        for pair in pairs {
            let pair = pair.as_ref();
            let Some((key, value)) = pair.split_once('=') else {
                return Err(CsvMappingError {
                    message: format!("{pair:?} is not key=column"),
                });
            };
            let key = key.trim().to_ascii_lowercase().replace('-', "_");
            let value = value.trim().trim_matches('"').to_string();
            let bool_value = || match value.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(true),
                "false" | "no" | "0" => Ok(false),
                _ => Err(CsvMappingError {
                    message: format!("{key} must be true or false, not {value:?}"),
                }),
            };
            let slot = match key.as_str() {
                "hostname" => &mut m.hostname,
                "fqdn" => &mut m.fqdn,
                "serial" => &mut m.serial,
                "uuid" => &mut m.uuid,
                "ip" => &mut m.ip,
                "mac" => &mut m.mac,
                "os_name" => &mut m.os_name,
                "os_version" => &mut m.os_version,
                "os_build" => &mut m.os_build,
                "hotfixes" => &mut m.hotfixes,
                "software_name" => &mut m.software_name,
                "software_version" => &mut m.software_version,
                "software_publisher" => &mut m.software_publisher,
                "establishment" => &mut m.establishment,
                "observed_at" => &mut m.observed_at,
                "delimiter" => {
                    let value = if value == "\\t" || value.eq_ignore_ascii_case("tab") {
                        "\t".to_string()
                    } else {
                        value
                    };
                    let mut chars = value.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) if c.is_ascii() => m.delimiter = Some(c),
                        _ => {
                            return Err(CsvMappingError {
                                message: format!(
                                    "delimiter must be one ascii character, not {value:?}"
                                ),
                            });
                        }
                    }
                    continue;
                }
                "day_first" => {
                    m.day_first = Some(bool_value()?);
                    continue;
                }
                "auto_detect" => {
                    m.auto_detect = Some(bool_value()?);
                    continue;
                }
                _ => {
                    return Err(CsvMappingError {
                        message: format!(
                            "unknown key {key:?}; expected one of {}",
                            KEYS.join(", ")
                        ),
                    });
                }
            };
            if value.is_empty() {
                return Err(CsvMappingError {
                    message: format!("empty column name for {key}"),
                });
            }
            *slot = Some(value);
        }
        Ok(m)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Hostname,
    Fqdn,
    Serial,
    Uuid,
    Ip,
    Mac,
    OsName,
    OsVersion,
    OsBuild,
    Hotfixes,
    SoftwareName,
    SoftwareVersion,
    SoftwarePublisher,
    Establishment,
    ObservedAt,
}

const FIELDS: [Field; 15] = [
    Field::Hostname,
    Field::Fqdn,
    Field::Serial,
    Field::Uuid,
    Field::Ip,
    Field::Mac,
    Field::OsName,
    Field::OsVersion,
    Field::OsBuild,
    Field::Hotfixes,
    Field::SoftwareName,
    Field::SoftwareVersion,
    Field::SoftwarePublisher,
    Field::Establishment,
    Field::ObservedAt,
];

impl Field {
    fn explicit(self, m: &CsvMapping) -> Option<&str> {
        match self {
            Field::Hostname => m.hostname.as_deref(),
            Field::Fqdn => m.fqdn.as_deref(),
            Field::Serial => m.serial.as_deref(),
            Field::Uuid => m.uuid.as_deref(),
            Field::Ip => m.ip.as_deref(),
            Field::Mac => m.mac.as_deref(),
            Field::OsName => m.os_name.as_deref(),
            Field::OsVersion => m.os_version.as_deref(),
            Field::OsBuild => m.os_build.as_deref(),
            Field::Hotfixes => m.hotfixes.as_deref(),
            Field::SoftwareName => m.software_name.as_deref(),
            Field::SoftwareVersion => m.software_version.as_deref(),
            Field::SoftwarePublisher => m.software_publisher.as_deref(),
            Field::Establishment => m.establishment.as_deref(),
            Field::ObservedAt => m.observed_at.as_deref(),
        }
    }

    fn key(self) -> &'static str {
        KEYS.get(self as usize).copied().unwrap_or("?")
    }

    /// Normalised header names (see [`normalise_header`]) recognised by
    /// default, most specific first.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Hostname => &[
                "devicename",
                "computername",
                "hostname",
                "machinename",
                "netbiosname",
                "name",
                "nomdelappareil",
                "nomdelordinateur",
                "nomdupc",
                "nom",
                "computer",
                "device",
                "host",
                "systemname",
                "resourcename",
            ],
            Field::Fqdn => &[
                "fqdn",
                "dnsname",
                "dnshostname",
                "fullyqualifieddomainname",
                "fulldomainname",
            ],
            Field::Serial => &[
                "serialnumber",
                "serial",
                "biosserialnumber",
                "systemserialnumber",
                "numerodeserie",
                "ssn",
            ],
            Field::Uuid => &[
                "uuid",
                "smbiosuuid",
                "smbiosguid",
                "systemuuid",
                "hardwareuuid",
                "biosuuid",
            ],
            Field::Ip => &[
                "ipaddress",
                "ipaddresses",
                "ipv4address",
                "ipaddressv4",
                "ip",
                "lastipaddress",
                "adresseip",
                "adressesip",
            ],
            Field::Mac => &[
                "macaddress",
                "macaddresses",
                "mac",
                "ethernetmacaddress",
                "adressemac",
            ],
            Field::OsName => &[
                "operatingsystem",
                "operatingsystemnameandversion",
                "osname",
                "os",
                "systemedexploitation",
                "caption",
            ],
            Field::OsVersion => &[
                "osversion",
                "operatingsystemversion",
                "versiondusysteme",
                "versiondelos",
                "osversionnumber",
            ],
            Field::OsBuild => &["osbuild", "buildnumber", "osbuildnumber", "build"],
            Field::Hotfixes => &[
                "hotfixes",
                "hotfix",
                "installedkbs",
                "kbs",
                "installedupdates",
                "installedhotfixes",
                "hotfixid",
                "articleid",
                "patches",
                "kb",
                "correctifs",
            ],
            Field::SoftwareName => &[
                "softwarename",
                "productname",
                "applicationname",
                "application",
                "software",
                "programname",
                "program",
                "logiciel",
                "displayname",
            ],
            Field::SoftwareVersion => &[
                "softwareversion",
                "productversion",
                "applicationversion",
                "displayversion",
                "programversion",
                "version",
            ],
            Field::SoftwarePublisher => &["publisher", "softwarepublisher", "vendor", "editeur"],
            Field::Establishment => &[
                "establishment",
                "establishmentcode",
                "etablissement",
                "entity",
                "entite",
                "site",
                "sitecode",
                "tag",
            ],
            Field::ObservedAt => &[
                "observedat",
                "lastinventory",
                "lastinventoryupdate",
                "lastseen",
                "lastcheckin",
                "lastcheckindatetime",
                "lastsynctime",
                "lastsyncdatetime",
                "lastcontact",
                "lastactivetime",
                "lasthardwarescan",
                "derniercontact",
                "derniereremontee",
                "dernierinventaire",
                "lastupdate",
                "date",
            ],
        }
    }
}

/// Lowercase, accents folded, only letters and digits: "Numéro de série" →
/// "numerodeserie", "OS version" → "osversion".
fn normalise_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| {
            Some(match c {
                'à' | 'â' | 'ä' | 'á' => 'a',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'î' | 'ï' | 'í' => 'i',
                'ô' | 'ö' | 'ó' => 'o',
                'ù' | 'û' | 'ü' | 'ú' => 'u',
                'ç' => 'c',
                c if c.is_ascii_alphanumeric() => c,
                _ => return None,
            })
        })
        .collect()
}

/// Column index per field.
#[derive(Debug, Default)]
struct Columns([Option<usize>; 15]);

impl Columns {
    fn get(&self, f: Field) -> Option<usize> {
        self.0.get(f as usize).copied().flatten()
    }

    fn resolve(mapping: &CsvMapping, headers: &[String]) -> Result<Columns, String> {
        let norm: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
        let mut cols = Columns::default();
        let mut used = vec![false; headers.len()];
        for f in FIELDS {
            if let Some(name) = f.explicit(mapping) {
                let wanted = normalise_header(name);
                let lower = name.trim().to_lowercase();
                let found = headers
                    .iter()
                    .position(|h| h.trim().to_lowercase() == lower)
                    .or_else(|| norm.iter().position(|h| *h == wanted));
                let Some(i) = found else {
                    return Err(format!(
                        "column {name:?} (mapped to {}) is not in the header; columns are: {}",
                        f.key(),
                        headers.join(", ")
                    ));
                };
                if let (Some(slot), Some(u)) = (cols.0.get_mut(f as usize), used.get_mut(i)) {
                    *slot = Some(i);
                    *u = true;
                }
            }
        }
        if mapping.auto_detect.unwrap_or(true) {
            for f in FIELDS {
                if cols.get(f).is_some() {
                    continue;
                }
                'aliases: for alias in f.aliases() {
                    for (i, h) in norm.iter().enumerate() {
                        if h == alias && !used.get(i).copied().unwrap_or(true) {
                            if let (Some(slot), Some(u)) =
                                (cols.0.get_mut(f as usize), used.get_mut(i))
                            {
                                *slot = Some(i);
                                *u = true;
                            }
                            break 'aliases;
                        }
                    }
                }
            }
        }
        let identity = [
            Field::Hostname,
            Field::Fqdn,
            Field::Serial,
            Field::Uuid,
            Field::Ip,
        ];
        if identity.iter().all(|f| cols.get(*f).is_none()) {
            return Err(format!(
                "no column identifies the host (hostname, fqdn, serial, uuid or ip); columns are: {}",
                headers.join(", ")
            ));
        }
        Ok(cols)
    }
}

/// The header line decides the delimiter when the mapping does not.
fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0), (b'|', 0)];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if *d == b {
                    *n += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(d, _)| *d)
}

/// One host being accumulated from consecutive rows.
struct Group {
    key: String,
    obs: Observation,
    os_name: Option<String>,
    os_version: Option<String>,
    os_build: Option<String>,
    hotfixes: Vec<Hotfix>,
    software: Vec<Software>,
    saw_hotfix_cell: bool,
    saw_software: bool,
    items: usize,
}

impl Group {
    fn finish(mut self) -> Observation {
        let os = OsInput {
            name: self.os_name.as_deref(),
            version: self.os_version.as_deref(),
            build: self.os_build.as_deref(),
            ..OsInput::default()
        }
        .build();
        self.obs.os = os.or_else(|| {
            self.os_build
                .as_deref()
                .and_then(|b| b.trim().parse().ok())
                .map(|build| OsFacts {
                    build: Some(build),
                    ..OsFacts::default()
                })
        });
        if self.saw_hotfix_cell {
            let mut seen = std::collections::HashSet::new();
            self.hotfixes.retain(|h| seen.insert(h.id.clone()));
            self.obs.hotfixes = Section::Full(self.hotfixes);
        }
        if self.saw_software {
            self.obs.software = Section::Full(self.software);
        }
        self.obs
    }
}

fn set_once(slot: &mut Option<String>, value: Option<&str>) {
    if slot.is_none() {
        *slot = value.and_then(non_empty).map(str::to_string);
    }
}

/// KB ids in a hotfix cell: "KB…" anywhere, or bare article numbers.
fn hotfix_ids(cell: &str) -> Vec<String> {
    let found = kbs_in(cell);
    if !found.is_empty() {
        return found;
    }
    cell.split([',', ';', '|', ' ', '\t', '\n'])
        .map(str::trim)
        .filter(|t| (6..=8).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
        .map(|t| format!("KB{t}"))
        .collect()
}

pub(crate) struct CsvParser<R: BufRead> {
    pending: Option<R>,
    reader: Option<csv::Reader<GuardedInput<R>>>,
    opts: ParseOptions,
    mapping: CsvMapping,
    columns: Columns,
    record: csv::ByteRecord,
    group: Option<Group>,
    done: bool,
}

impl<R: BufRead> CsvParser<R> {
    pub(crate) fn new(reader: R, opts: ParseOptions) -> Self {
        let mapping = opts.csv_mapping.clone().unwrap_or_default();
        CsvParser {
            pending: Some(reader),
            reader: None,
            opts,
            mapping,
            columns: Columns::default(),
            record: csv::ByteRecord::new(),
            group: None,
            done: false,
        }
    }

    fn start(&mut self, mut input: R) -> Result<(), ParseError> {
        prepare(&mut input)?;
        let delimiter = match self.mapping.delimiter {
            Some(c) => u8::try_from(u32::from(c)).map_err(|_| {
                ParseError::new(
                    Location::Line(1),
                    "csv delimiter must be an ascii character",
                )
            })?,
            None => match input.fill_buf() {
                Ok(head) => sniff_delimiter(head),
                Err(e) => {
                    return Err(ParseError::new(
                        Location::Line(1),
                        format!("read error: {e}"),
                    ));
                }
            },
        };
        // Cap the distance between newlines so one endless field cannot
        // grow the record buffer without bound.
        let guarded = GuardedInput::with_delimiters(input, self.opts.max_line_bytes, b"\n");
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(guarded);
        let mut header = csv::ByteRecord::new();
        match reader.read_byte_record(&mut header) {
            Ok(true) => {}
            Ok(false) => {
                return Err(ParseError::new(
                    Location::Line(1),
                    "empty csv: no header line",
                ));
            }
            Err(e) => return Err(csv_error(&e, 1, self.opts.max_line_bytes)),
        }
        let headers: Vec<String> = header
            .iter()
            .map(|h| decode_text(h).trim().to_string())
            .collect();
        self.columns = Columns::resolve(&self.mapping, &headers)
            .map_err(|m| ParseError::new(Location::Line(1), m))?;
        self.reader = Some(reader);
        Ok(())
    }

    fn cell(&self, f: Field) -> Option<std::borrow::Cow<'_, str>> {
        let i = self.columns.get(f)?;
        let raw = self.record.get(i)?;
        let text = decode_text(raw);
        (!text.trim().is_empty()).then_some(text)
    }

    fn step(&mut self) -> Result<Option<Observation>, ParseError> {
        loop {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(self.group.take().map(Group::finish));
            };
            let line = reader.position().line();
            match reader.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.reader = None;
                    return Ok(self.group.take().map(Group::finish));
                }
                Err(e) => return Err(csv_error(&e, line, self.opts.max_line_bytes)),
            }
            let line = self.record.position().map_or(line, csv::Position::line);
            if self
                .record
                .iter()
                .all(|f| f.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            let ident = [
                Field::Hostname,
                Field::Serial,
                Field::Uuid,
                Field::Fqdn,
                Field::Ip,
            ]
            .into_iter()
            .find_map(|f| self.cell(f).map(|c| c.trim().to_lowercase()));
            let Some(key) = ident else {
                return Err(ParseError::new(
                    Location::Line(line),
                    "row names no host (hostname, serial, uuid, fqdn and ip are all empty)",
                ));
            };
            let finished = match &self.group {
                Some(g) if g.key == key => None,
                _ => self.group.take().map(Group::finish),
            };
            let mut group = self.group.take().unwrap_or_else(|| Group {
                key,
                obs: Observation::new(SourceKind::Csv),
                os_name: None,
                os_version: None,
                os_build: None,
                hotfixes: Vec::new(),
                software: Vec::new(),
                saw_hotfix_cell: false,
                saw_software: false,
                items: 0,
            });
            self.apply_row(&mut group, line)?;
            self.group = Some(group);
            if let Some(obs) = finished {
                return Ok(Some(obs));
            }
        }
    }

    fn apply_row(&self, g: &mut Group, line: u64) -> Result<(), ParseError> {
        let day_first = self.mapping.day_first.unwrap_or(true);
        let host = &mut g.obs.host;
        set_once(&mut host.hostname, self.cell(Field::Hostname).as_deref());
        set_once(&mut host.fqdn, self.cell(Field::Fqdn).as_deref());
        set_once(&mut host.serial, self.cell(Field::Serial).as_deref());
        set_once(&mut host.uuid, self.cell(Field::Uuid).as_deref());
        if let Some(ips) = self.cell(Field::Ip) {
            for part in ips.split([',', ';', '|', ' ']) {
                if let Some(ip) = useful_ip(part) {
                    push_unique(&mut host.addresses, ip);
                }
            }
        }
        if let Some(macs) = self.cell(Field::Mac) {
            for part in macs.split([',', ';', '|', ' ']) {
                if let Some(mac) = normalise_mac(part) {
                    push_unique(&mut host.macs, mac);
                }
            }
        }
        set_once(
            &mut g.obs.establishment_hint,
            self.cell(Field::Establishment).as_deref(),
        );
        if let Some(ts) = self
            .cell(Field::ObservedAt)
            .and_then(|t| parse_timestamp(&t, None, day_first))
        {
            // Rows of one host may come from several scans: the latest wins.
            if g.obs.observed_at.is_none_or(|prev| ts > prev) {
                g.obs.observed_at = Some(ts);
            }
        }
        set_once(&mut g.os_name, self.cell(Field::OsName).as_deref());
        set_once(&mut g.os_version, self.cell(Field::OsVersion).as_deref());
        set_once(&mut g.os_build, self.cell(Field::OsBuild).as_deref());
        if self.columns.get(Field::Hotfixes).is_some()
            && let Some(cell) = self.cell(Field::Hotfixes)
        {
            g.saw_hotfix_cell = true;
            let ids = hotfix_ids(&cell);
            g.items += ids.len();
            g.hotfixes.extend(ids.into_iter().map(|id| Hotfix {
                id,
                installed_on: None,
            }));
        }
        if let Some(name) = self.cell(Field::SoftwareName) {
            g.saw_software = true;
            g.items += 1;
            g.software.push(Software {
                name: name.trim().to_string(),
                version: self
                    .cell(Field::SoftwareVersion)
                    .map(|v| v.trim().to_string()),
                publisher: self
                    .cell(Field::SoftwarePublisher)
                    .map(|v| v.trim().to_string()),
            });
        }
        if g.items > self.opts.max_items_per_host {
            return Err(ParseError::new(
                Location::Line(line),
                format!(
                    "more than {} list items for host {:?}",
                    self.opts.max_items_per_host, g.key
                ),
            ));
        }
        Ok(())
    }
}

fn csv_error(e: &csv::Error, line: u64, max: usize) -> ParseError {
    let line = e.position().map_or(line, csv::Position::line);
    let message = match e.kind() {
        csv::ErrorKind::Io(io) if token_too_long(io).is_some() => {
            format!("line longer than {max} bytes")
        }
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        _ => format!("invalid csv: {}", e.to_string().to_lowercase()),
    };
    ParseError::new(Location::Line(line.max(1)), message)
}

impl<R: BufRead> Iterator for CsvParser<R> {
    type Item = Result<Observation, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(input) = self.pending.take()
            && let Err(e) = self.start(input)
        {
            self.done = true;
            return Some(Err(e));
        }
        match self.step() {
            Ok(Some(obs)) => Some(Ok(obs)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                self.group = None;
                self.reader = None;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_normalise() {
        assert_eq!(normalise_header("Numéro de série"), "numerodeserie");
        assert_eq!(normalise_header(" OS version "), "osversion");
        assert_eq!(normalise_header("\u{feff}Device name"), "devicename");
    }

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter(b"a;b;\"c,d\"\n1,2"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n"), b'\t');
        assert_eq!(sniff_delimiter(b"abc"), b',');
    }

    #[test]
    fn mapping_from_pairs_and_toml() {
        let m = CsvMapping::from_pairs(["hostname=Device name", "delimiter=;", "day_first=false"])
            .unwrap();
        assert_eq!(m.hostname.as_deref(), Some("Device name"));
        assert_eq!(m.delimiter, Some(';'));
        assert_eq!(m.day_first, Some(false));
        assert!(CsvMapping::from_pairs(["nope=x"]).is_err());
        assert!(CsvMapping::from_pairs(["hostname"]).is_err());
        let t = CsvMapping::from_toml_str("hostname = \"Computer\"\ndelimiter = \";\"\n").unwrap();
        assert_eq!(t.hostname.as_deref(), Some("Computer"));
        assert_eq!(t.delimiter, Some(';'));
        let err = CsvMapping::from_toml_str("hostnme = \"x\"").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn hotfix_cells() {
        assert_eq!(
            hotfix_ids("KB4012212, KB4019215"),
            vec!["KB4012212", "KB4019215"]
        );
        assert_eq!(
            hotfix_ids("4012212;4019215"),
            vec!["KB4012212", "KB4019215"]
        );
        assert!(hotfix_ids("none").is_empty());
    }
}
