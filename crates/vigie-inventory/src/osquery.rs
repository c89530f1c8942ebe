//! osquery result logs (filesystem logger, one JSON object per line).
//!
//! Three line shapes exist: snapshot (`"snapshot": [rows]`), differential
//! event (`"columns": {row}, "action": "added"|"removed"`) and batched
//! differential (`"diffResults": {"added": [...], "removed": [...]}`). Query
//! names are chosen by whoever wrote the osquery pack, so the table a row
//! comes from is recognised by its columns; the name is only a tie-breaker.
//!
//! Consecutive lines with the same host identifier and unix time are one
//! observation: osquery logs every query of a scheduled pack at the same
//! second for a host.
//!
//! Rows are converted to owned facts while serde walks the array
//! ([`each`]), so a snapshot of a thousand programs never exists as a
//! `Vec` of intermediate rows, and strings without escapes are borrowed from
//! the line buffer until the final `String` is made.

use crate::ParseOptions;
use crate::error::{Location, ParseError};
use crate::input::{LineError, prepare, read_line_capped};
use crate::json::{OptVal, Val, each, json_message};
use crate::os::OsInput;
use crate::util::{
    looks_like_uuid, non_empty, parse_date, push_unique, timestamp_from_seconds, useful_ip,
};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;
use std::io::BufRead;
use std::net::IpAddr;
use vigie_core::{Feature, Hotfix, Observation, OsFacts, Section, Software, SourceKind};

macro_rules! row_struct {
    (values: $($field:ident),* ; seen: $($flag:ident),* $(,)?) => {
        /// The union of the columns we read from any table. Serde ignores
        /// the others. Columns only used to recognise the table are
        /// [`Seen`]: skipped without copying or unescaping their text.
        #[derive(Debug, Default, Deserialize)]
        #[serde(default)]
        pub(crate) struct Row<'a> {
            $( #[serde(borrow)] $field: Option<Val<'a>>, )*
            $( $flag: Option<Seen>, )*
        }
    };
}

/// A column that exists in a row; its value is skipped.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Seen;

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Seen)
    }
}

row_struct!(
    values:
    // os_version
    name, version, build, platform, arch, revision,
    // system_info
    hostname, computer_name, local_hostname, uuid, hardware_serial,
    // patches
    hotfix_id, installed_on, install_date,
    // programs, deb_packages, rpm_packages, apps
    publisher, maintainer, vendor, release, bundle_short_version, bundle_name, display_name,
    // windows_optional_features
    state, statename,
    // interface_addresses
    address;
    seen:
    major, minor, patch, platform_like, codename, hardware_vendor, hardware_model, cpu_brand,
    caption, description, csname,
    install_location, identifying_number, uninstall_string, install_source,
    source, status, priority, section, admindir, package_group, install_time, epoch,
    bundle_identifier,
    arguments, path, device,
    interface, mask, broadcast,
);

#[derive(Debug, Default, Clone)]
pub(crate) struct OsRow {
    name: Option<String>,
    version: Option<String>,
    build: Option<String>,
    revision: Option<String>,
    platform: Option<String>,
    arch: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct SystemRow {
    hostname: Option<String>,
    computer_name: Option<String>,
    uuid: Option<String>,
    serial: Option<String>,
}

/// What one row says, already owned.
#[derive(Debug, Clone)]
pub(crate) enum RowFacts {
    Os(OsRow),
    System(SystemRow),
    Kernel(String),
    Hotfix(Hotfix),
    Software(Software),
    Feature(Feature),
    Address(IpAddr),
    /// A `name`/`version` row that could be software or an OS; the query
    /// name decides.
    Ambiguous(Software),
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hotfix,
    Software,
    Feature,
    Os,
}

fn hint_kind(query_name: &str) -> Option<Kind> {
    let n = query_name.to_ascii_lowercase();
    if n.contains("patch") || n.contains("hotfix") || n.contains("qfe") {
        Some(Kind::Hotfix)
    } else if n.contains("feature") {
        Some(Kind::Feature)
    } else if [
        "program",
        "software",
        "package",
        "deb",
        "rpm",
        "apps",
        "application",
    ]
    .iter()
    .any(|k| n.contains(k))
    {
        Some(Kind::Software)
    } else if n.contains("os_version") || n.contains("osversion") || n.contains("os version") {
        Some(Kind::Os)
    } else {
        None
    }
}

fn classify(row: Row<'_>) -> RowFacts {
    if let Some(id) = row.hotfix_id.text() {
        let Some(id) = Hotfix::kb_in(&id) else {
            return RowFacts::Other;
        };
        // WMI prints InstalledOn in the US shape (M/D/YYYY) on most systems.
        let installed_on = [&row.installed_on, &row.install_date]
            .into_iter()
            .find_map(|v| v.text().and_then(|t| parse_date(&t, false)));
        return RowFacts::Hotfix(Hotfix { id, installed_on });
    }
    if row.platform.is_some() || row.major.is_some() || row.codename.is_some() {
        return RowFacts::Os(OsRow {
            name: row.name.string(),
            version: row.version.string(),
            build: row.build.string(),
            revision: row.revision.string(),
            platform: row.platform.string(),
            arch: row.arch.string(),
        });
    }
    if row.hardware_serial.is_some()
        || row.computer_name.is_some()
        || row.cpu_brand.is_some()
        || (row.hostname.is_some() && row.uuid.is_some())
    {
        return RowFacts::System(SystemRow {
            hostname: row.hostname.string(),
            computer_name: row.computer_name.string().or(row.local_hostname.string()),
            uuid: row.uuid.string(),
            serial: row.hardware_serial.string(),
        });
    }
    if row.state.is_some() && (row.statename.is_some() || row.caption.is_some()) {
        let Some(name) = row.name.string() else {
            return RowFacts::Other;
        };
        let enabled = row.state.as_ref().and_then(Val::as_i64) == Some(1)
            || row
                .statename
                .text()
                .is_some_and(|s| s.eq_ignore_ascii_case("enabled"));
        return RowFacts::Feature(Feature { name, enabled });
    }
    if row.arguments.is_some() && row.version.is_some() && row.path.is_some() {
        return row
            .version
            .string()
            .map_or(RowFacts::Other, RowFacts::Kernel);
    }
    if row.address.is_some() && (row.interface.is_some() || row.mask.is_some()) {
        return row
            .address
            .text()
            .and_then(|a| useful_ip(&a))
            .map_or(RowFacts::Other, RowFacts::Address);
    }
    let name = row
        .name
        .string()
        .or(row.bundle_name.string())
        .or(row.display_name.string());
    let Some(name) = name else {
        return RowFacts::Other;
    };
    let is_package = row.publisher.is_some()
        || row.install_location.is_some()
        || row.identifying_number.is_some()
        || row.uninstall_string.is_some()
        || row.maintainer.is_some()
        || row.priority.is_some()
        || row.section.is_some()
        || row.admindir.is_some()
        || row.release.is_some()
        || row.vendor.is_some()
        || row.package_group.is_some()
        || row.bundle_identifier.is_some();
    let mut version = row.version.string().or(row.bundle_short_version.string());
    // rpm splits "version-release"; rules compare the full string.
    if let (Some(v), Some(rel)) = (version.as_mut(), row.release.text()) {
        v.push('-');
        v.push_str(&rel);
    }
    let software = Software {
        name,
        version,
        publisher: row
            .publisher
            .string()
            .or(row.maintainer.string())
            .or(row.vendor.string()),
    };
    if is_package {
        RowFacts::Software(software)
    } else if row.version.is_some() {
        RowFacts::Ambiguous(software)
    } else {
        RowFacts::Other
    }
}

/// Identity and establishment facts from the `decorations` object.
#[derive(Debug, Default)]
struct Decorations {
    hostname: Option<String>,
    fqdn: Option<String>,
    uuid: Option<String>,
    serial: Option<String>,
    establishment: Option<String>,
}

impl<'de> Deserialize<'de> for Decorations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Decorations;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Decorations, E> {
                Ok(Decorations::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decorations, A::Error> {
                let mut out = Decorations::default();
                while let Some(key) = map.next_key::<Val<'de>>()? {
                    let value: Val<'de> = map.next_value()?;
                    let Some(key) = key.text().map(|k| k.to_ascii_lowercase()) else {
                        continue;
                    };
                    let slot = match key.as_str() {
                        "hostname" | "computer_name" | "host_name" => &mut out.hostname,
                        "fqdn" => &mut out.fqdn,
                        "uuid" | "host_uuid" | "system_uuid" | "hardware_uuid" => &mut out.uuid,
                        "serial" | "hardware_serial" | "serial_number" => &mut out.serial,
                        "establishment" | "establishment_code" | "site" | "tag" | "entity" => {
                            &mut out.establishment
                        }
                        _ => continue,
                    };
                    if slot.is_none() {
                        *slot = value.string();
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

/// Everything a line says, borrowing from the line buffer. Rows go straight
/// into the vectors the seed was given.
#[derive(Debug, Default)]
struct LineOut<'a> {
    name: Option<Val<'a>>,
    host: Option<Val<'a>>,
    unix_time: Option<Val<'a>>,
    action: Option<Val<'a>>,
    has_rows: bool,
    decorations: Option<Decorations>,
}

struct LineSeed<'s> {
    snapshot: &'s mut Vec<RowFacts>,
    added: &'s mut Vec<RowFacts>,
    removed: &'s mut Vec<RowFacts>,
    event: &'s mut Option<RowFacts>,
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_> {
    type Value = LineOut<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<LineOut<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_> {
    type Value = LineOut<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an osquery result object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LineOut<'de>, A::Error> {
        let mut out = LineOut::default();
        while let Some(key) = map.next_key::<Val<'de>>()? {
            match key.text().as_deref() {
                Some("name") => out.name = Some(map.next_value()?),
                Some("hostIdentifier") => out.host = Some(map.next_value()?),
                Some("unixTime") => out.unix_time = Some(map.next_value()?),
                Some("action") => out.action = Some(map.next_value()?),
                Some("decorations") => out.decorations = Some(map.next_value()?),
                Some("snapshot") => {
                    out.has_rows = true;
                    let sink = &mut *self.snapshot;
                    map.next_value_seed(each(|row: Row<'de>| sink.push(classify(row))))?;
                }
                Some("columns") => {
                    out.has_rows = true;
                    let row: Row<'de> = map.next_value()?;
                    *self.event = Some(classify(row));
                }
                Some("diffResults") => {
                    out.has_rows = true;
                    map.next_value_seed(DiffSeed {
                        added: self.added,
                        removed: self.removed,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

struct DiffSeed<'s> {
    added: &'s mut Vec<RowFacts>,
    removed: &'s mut Vec<RowFacts>,
}

impl<'de> DeserializeSeed<'de> for DiffSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DiffSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with added and removed rows")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Val<'de>>()? {
            let sink: &mut Vec<RowFacts> = match key.text().as_deref() {
                Some("added") => &mut *self.added,
                Some("removed") => &mut *self.removed,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            map.next_value_seed(each(|row: Row<'de>| sink.push(classify(row))))?;
        }
        Ok(())
    }
}

/// One host at one time, being accumulated.
///
/// Lists are gathered as plain vectors and turned into sections once, at
/// the end: merging a section per line would rescan the growing list on
/// every line of a long differential burst.
struct Group {
    host_key: String,
    time_key: Option<i64>,
    obs: Observation,
    items: usize,
    first_line: u64,
    /// Snapshot rows (complete lists), per kind seen.
    full: Lists,
    /// Differential rows.
    plus: Lists,
    minus: Lists,
}

/// Lists a line contributes, per kind.
#[derive(Default)]
struct Lists {
    hotfixes: Vec<Hotfix>,
    software: Vec<Software>,
    features: Vec<Feature>,
    kinds: Vec<Kind>,
}

impl Lists {
    fn len(&self) -> usize {
        self.hotfixes.len() + self.software.len() + self.features.len()
    }

    fn append(&mut self, mut other: Lists) {
        self.hotfixes.append(&mut other.hotfixes);
        self.software.append(&mut other.software);
        self.features.append(&mut other.features);
        for k in other.kinds {
            if !self.kinds.contains(&k) {
                self.kinds.push(k);
            }
        }
    }
}

/// Builds a section from complete and differential lists.
fn section<T: Eq + std::hash::Hash + Clone>(
    kind: Kind,
    full: &mut Lists,
    plus: Vec<T>,
    minus: Vec<T>,
    take: fn(&mut Lists) -> Vec<T>,
) -> Section<T> {
    let mut s = if full.kinds.contains(&kind) {
        Section::Full(take(full))
    } else {
        Section::Unknown
    };
    if !plus.is_empty() || !minus.is_empty() {
        s.merge(Section::Delta {
            added: plus,
            removed: minus,
        });
    }
    s
}

impl Group {
    fn new(host_key: &str, time_key: Option<i64>, line: u64) -> Self {
        let mut obs = Observation::new(SourceKind::Osquery);
        obs.observed_at = time_key.map(timestamp_from_seconds);
        Group {
            host_key: host_key.to_string(),
            time_key,
            obs,
            items: 0,
            first_line: line,
            full: Lists::default(),
            plus: Lists::default(),
            minus: Lists::default(),
        }
    }

    fn apply_os(&mut self, row: OsRow) {
        let windows = row
            .platform
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("windows"))
            || row
                .name
                .as_deref()
                .is_some_and(|n| n.to_ascii_lowercase().contains("windows"));
        let release = row.version.as_deref().map(|v| {
            if windows {
                v
            } else {
                // "22.04.4 LTS (Jammy Jellyfish)" → "22.04.4"; "12 (bookworm)" → "12".
                v.split_whitespace().next().unwrap_or(v)
            }
        });
        let input = OsInput {
            name: row.name.as_deref(),
            short_name: row.platform.as_deref(),
            version: release,
            kernel_name: windows.then_some("MSWin32"),
            arch: row.arch.as_deref(),
            build: row.build.as_deref(),
            ubr: row.revision.as_deref(),
            ..OsInput::default()
        };
        if let Some(new) = input.build() {
            let kernel = self.obs.os.as_mut().and_then(|o| o.kernel.take());
            self.obs.os = Some(OsFacts {
                kernel: new.kernel.clone().or(kernel),
                ..new
            });
        }
    }

    fn apply_system(&mut self, row: SystemRow) {
        let id = &mut self.obs.host;
        let host = row.hostname.as_deref().and_then(non_empty);
        if id.fqdn.is_none() {
            id.fqdn = host.filter(|h| h.contains('.')).map(str::to_string);
        }
        if id.hostname.is_none() {
            id.hostname = row.computer_name.or_else(|| host.map(str::to_string));
        }
        if id.uuid.is_none() {
            id.uuid = row.uuid;
        }
        if id.serial.is_none() {
            id.serial = row.serial;
        }
    }

    /// Sorts row facts into lists; scalar facts (OS, identity) apply at once.
    fn sort_rows(&mut self, rows: &mut Vec<RowFacts>, hint: Option<Kind>, lists: &mut Lists) {
        for fact in rows.drain(..) {
            let kind = match fact {
                RowFacts::Hotfix(h) => {
                    lists.hotfixes.push(h);
                    Kind::Hotfix
                }
                RowFacts::Software(s) => {
                    lists.software.push(s);
                    Kind::Software
                }
                RowFacts::Feature(f) => {
                    lists.features.push(f);
                    Kind::Feature
                }
                RowFacts::Ambiguous(s) => match hint {
                    Some(Kind::Software) => {
                        lists.software.push(s);
                        Kind::Software
                    }
                    Some(Kind::Os) => {
                        self.apply_os(OsRow {
                            name: Some(s.name),
                            version: s.version,
                            ..OsRow::default()
                        });
                        continue;
                    }
                    _ => continue,
                },
                RowFacts::Os(o) => {
                    self.apply_os(o);
                    continue;
                }
                RowFacts::System(s) => {
                    self.apply_system(s);
                    continue;
                }
                RowFacts::Kernel(k) => {
                    if let Some(os) = self.obs.os.as_mut() {
                        os.kernel = Some(k);
                    } else {
                        self.obs.os = Some(OsFacts {
                            kernel: Some(k),
                            ..OsFacts::default()
                        });
                    }
                    continue;
                }
                RowFacts::Address(a) => {
                    push_unique(&mut self.obs.host.addresses, a);
                    continue;
                }
                RowFacts::Other => continue,
            };
            if !lists.kinds.contains(&kind) {
                lists.kinds.push(kind);
            }
        }
    }

    fn finish(mut self) -> Observation {
        let full = &mut self.full;
        self.obs.hotfixes = section(
            Kind::Hotfix,
            full,
            std::mem::take(&mut self.plus.hotfixes),
            std::mem::take(&mut self.minus.hotfixes),
            |l| std::mem::take(&mut l.hotfixes),
        );
        self.obs.software = section(
            Kind::Software,
            full,
            std::mem::take(&mut self.plus.software),
            std::mem::take(&mut self.minus.software),
            |l| std::mem::take(&mut l.software),
        );
        self.obs.features = section(
            Kind::Feature,
            full,
            std::mem::take(&mut self.plus.features),
            std::mem::take(&mut self.minus.features),
            |l| std::mem::take(&mut l.features),
        );
        let key = self.host_key.trim();
        if !key.is_empty() {
            if looks_like_uuid(key) {
                if self.obs.host.uuid.is_none() {
                    self.obs.host.uuid = Some(key.to_string());
                }
            } else {
                if self.obs.host.hostname.is_none() {
                    self.obs.host.hostname = Some(key.to_string());
                }
                if self.obs.host.fqdn.is_none()
                    && key.contains('.')
                    && key.parse::<IpAddr>().is_err()
                {
                    self.obs.host.fqdn = Some(key.to_string());
                }
            }
        }
        self.obs
    }
}

pub(crate) struct OsqueryParser<R> {
    reader: R,
    opts: ParseOptions,
    line_no: u64,
    buf: Vec<u8>,
    group: Option<Group>,
    started: bool,
    done: bool,
    snapshot: Vec<RowFacts>,
    added: Vec<RowFacts>,
    removed: Vec<RowFacts>,
}

impl<R: BufRead> OsqueryParser<R> {
    pub(crate) fn new(reader: R, opts: ParseOptions) -> Self {
        OsqueryParser {
            reader,
            opts,
            line_no: 0,
            buf: Vec::new(),
            group: None,
            started: false,
            done: false,
            snapshot: Vec::new(),
            added: Vec::new(),
            removed: Vec::new(),
        }
    }

    fn fail(
        &mut self,
        location: Location,
        message: impl Into<String>,
    ) -> Option<Result<Observation, ParseError>> {
        self.done = true;
        self.group = None;
        Some(Err(ParseError::new(location, message)))
    }

    /// Parses one line; returns a finished observation when the line starts
    /// a new host/time group.
    fn line(&mut self, text: &str) -> Result<Option<Observation>, ParseError> {
        let line = self.line_no;
        self.snapshot.clear();
        self.added.clear();
        self.removed.clear();
        let mut event = None;
        let mut de = serde_json::Deserializer::from_str(text);
        let seed = LineSeed {
            snapshot: &mut self.snapshot,
            added: &mut self.added,
            removed: &mut self.removed,
            event: &mut event,
        };
        let out = seed
            .deserialize(&mut de)
            .and_then(|out| de.end().map(|()| out))
            .map_err(|e| ParseError::new(Location::Line(line), json_message(&e)))?;
        if !out.has_rows {
            return Err(ParseError::new(
                Location::Line(line),
                "not an osquery result line (no snapshot, columns or diffResults)",
            ));
        }
        let host_text = out.host.as_ref().and_then(Val::text);
        let host_key = host_text.as_deref().unwrap_or("");
        let time_key = out.unix_time.as_ref().and_then(Val::as_seconds);
        let same = self
            .group
            .as_ref()
            .is_some_and(|g| g.host_key == host_key && g.time_key == time_key);
        let finished = if same {
            None
        } else {
            self.group.take().map(Group::finish)
        };
        let group = self
            .group
            .get_or_insert_with(|| Group::new(host_key, time_key, line));

        if let Some(d) = out.decorations {
            let id = &mut group.obs.host;
            id.hostname = id.hostname.take().or(d.hostname);
            id.fqdn = id.fqdn.take().or(d.fqdn);
            id.uuid = id.uuid.take().or(d.uuid);
            id.serial = id.serial.take().or(d.serial);
            group.obs.establishment_hint = group.obs.establishment_hint.take().or(d.establishment);
        }

        let name = out.name.as_ref().and_then(Val::text);
        let hint = name.as_deref().and_then(hint_kind);
        let action = out.action.as_ref().and_then(Val::text);
        match (event, action.as_deref()) {
            (Some(row), Some("removed")) => self.removed.push(row),
            (Some(row), _) => self.added.push(row),
            (None, _) => {}
        }

        let rows_empty =
            self.snapshot.is_empty() && self.added.is_empty() && self.removed.is_empty();
        let mut full = Lists::default();
        group.sort_rows(&mut self.snapshot, hint, &mut full);
        if rows_empty && !is_delta_action(out.action.as_ref()) {
            // An empty snapshot still says "this table has no rows"; only the
            // query name can say which table.
            if let Some(kind) = hint.filter(|k| *k != Kind::Os) {
                full.kinds.push(kind);
            }
        }
        let mut plus = Lists::default();
        let mut minus = Lists::default();
        group.sort_rows(&mut self.added, hint, &mut plus);
        // Removed OS or identity rows describe the old state; only list
        // removals matter.
        for fact in self.removed.drain(..) {
            match fact {
                RowFacts::Hotfix(h) => minus.hotfixes.push(h),
                RowFacts::Software(s) => minus.software.push(s),
                RowFacts::Ambiguous(s) if hint == Some(Kind::Software) => minus.software.push(s),
                RowFacts::Feature(f) => minus.features.push(f),
                _ => {}
            }
        }

        group.items = group
            .items
            .saturating_add(full.len() + plus.len() + minus.len());
        if group.items > self.opts.max_items_per_host {
            return Err(ParseError::new(
                Location::Line(line),
                format!(
                    "more than {} list items for host {:?} (group started at line {})",
                    self.opts.max_items_per_host, group.host_key, group.first_line
                ),
            ));
        }
        group.full.append(full);
        group.plus.append(plus);
        group.minus.append(minus);
        Ok(finished)
    }
}

fn is_delta_action(action: Option<&Val<'_>>) -> bool {
    action.and_then(Val::text).is_some_and(|a| a != "snapshot")
}

impl<R: BufRead> Iterator for OsqueryParser<R> {
    type Item = Result<Observation, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            if let Err(e) = prepare(&mut self.reader) {
                self.done = true;
                return Some(Err(e));
            }
        }
        loop {
            self.line_no += 1;
            let mut buf = std::mem::take(&mut self.buf);
            let read = read_line_capped(&mut self.reader, &mut buf, self.opts.max_line_bytes);
            let result = match read {
                Ok(false) => {
                    self.done = true;
                    self.buf = buf;
                    return self.group.take().map(|g| Ok(g.finish()));
                }
                Err(LineError::TooLong) => {
                    let max = self.opts.max_line_bytes;
                    self.buf = buf;
                    return self.fail(
                        Location::Line(self.line_no),
                        format!("line longer than {max} bytes"),
                    );
                }
                Err(LineError::Io(e)) => {
                    self.buf = buf;
                    return self.fail(Location::Line(self.line_no), format!("read error: {e}"));
                }
                Ok(true) => {
                    // osquery on Windows can pass through registry strings that are
                    // not UTF-8: those bytes are read as Windows-1252, never
                    // replaced (replacing would merge distinct names).
                    let text = crate::input::decode_text(&buf);
                    if text.trim().is_empty() {
                        Ok(None)
                    } else {
                        self.line(&text)
                    }
                }
            };
            // Keep the allocation for the next line, but do not let one huge
            // line pin memory for the rest of the file.
            if buf.capacity() <= 1 << 20 {
                self.buf = buf;
            }
            match result {
                Ok(Some(obs)) => return Some(Ok(obs)),
                Ok(None) => continue,
                Err(e) => {
                    self.done = true;
                    self.group = None;
                    return Some(Err(e));
                }
            }
        }
    }
}
