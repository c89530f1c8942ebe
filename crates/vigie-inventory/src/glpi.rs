//! GLPI Agent native JSON inventory (`glpi-agent --json`, GLPI's
//! `inventory_format` schema).
//!
//! One document per file, normally well under a megabyte, so the document
//! is read whole (up to [`ParseOptions::max_document_bytes`]) and then
//! deserialised into borrowed, typed structs. Several documents written one
//! after another in the same file are accepted.

use crate::ParseOptions;
use crate::error::{Location, ParseError};
use crate::json::{OptVal, Val, json_message};
use crate::os::OsInput;
use crate::software::{Classified, SoftwareEntry};
use crate::util::{
    dedup_hotfixes, deviceid_time, non_empty, normalise_mac, parse_offset, parse_timestamp,
    push_unique, useful_ip,
};
use serde::Deserialize;
use std::collections::VecDeque;
use std::io::{BufRead, Read};
use vigie_core::{Observation, OsFamily, Section, SourceKind};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Doc<'a> {
    #[serde(borrow)]
    deviceid: Option<Val<'a>>,
    #[serde(borrow)]
    tag: Option<Val<'a>>,
    #[serde(borrow)]
    itemtype: Option<Val<'a>>,
    #[serde(borrow)]
    content: Option<Content<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Content<'a> {
    #[serde(borrow)]
    accesslog: Option<AccessLog<'a>>,
    #[serde(borrow)]
    operatingsystem: Option<Os<'a>>,
    #[serde(borrow)]
    softwares: Option<Vec<Soft<'a>>>,
    #[serde(borrow)]
    hardware: Option<Hardware<'a>>,
    #[serde(borrow)]
    bios: Option<Bios<'a>>,
    #[serde(borrow)]
    networks: Option<Vec<Network<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AccessLog<'a> {
    #[serde(borrow)]
    logdate: Option<Val<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Os<'a> {
    #[serde(borrow)]
    name: Option<Val<'a>>,
    #[serde(borrow)]
    full_name: Option<Val<'a>>,
    #[serde(borrow)]
    version: Option<Val<'a>>,
    #[serde(borrow)]
    kernel_version: Option<Val<'a>>,
    #[serde(borrow)]
    kernel_name: Option<Val<'a>>,
    #[serde(borrow)]
    service_pack: Option<Val<'a>>,
    #[serde(borrow)]
    arch: Option<Val<'a>>,
    #[serde(borrow)]
    fqdn: Option<Val<'a>>,
    #[serde(borrow)]
    timezone: Option<TimeZone<'a>>,
}

/// `{"name": "CEST", "offset": "+0200"}`. Anything else in that slot is
/// ignored rather than failing the document.
#[derive(Debug, Default)]
struct TimeZone<'a> {
    offset: Option<Val<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for TimeZone<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TimeZone<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a timezone")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut tz = TimeZone::default();
                while let Some(k) = map.next_key::<Val<'de>>()? {
                    let v: Val<'de> = map.next_value()?;
                    if k.text().as_deref() == Some("offset") {
                        tz.offset = Some(v);
                    }
                }
                Ok(tz)
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(TimeZone::default())
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(TimeZone::default())
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Soft<'a> {
    #[serde(borrow)]
    name: Option<Val<'a>>,
    #[serde(borrow)]
    version: Option<Val<'a>>,
    #[serde(borrow)]
    publisher: Option<Val<'a>>,
    #[serde(borrow)]
    from: Option<Val<'a>>,
    #[serde(borrow)]
    system_category: Option<Val<'a>>,
    #[serde(borrow)]
    release_type: Option<Val<'a>>,
    #[serde(borrow)]
    comments: Option<Val<'a>>,
    #[serde(borrow)]
    install_date: Option<Val<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Hardware<'a> {
    #[serde(borrow)]
    name: Option<Val<'a>>,
    #[serde(borrow)]
    uuid: Option<Val<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Bios<'a> {
    #[serde(borrow)]
    ssn: Option<Val<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Network<'a> {
    #[serde(borrow)]
    ipaddress: Option<Val<'a>>,
    #[serde(borrow)]
    ipaddress6: Option<Val<'a>>,
    #[serde(borrow)]
    mac: Option<Val<'a>>,
    #[serde(borrow)]
    macaddr: Option<Val<'a>>,
}

fn to_observation(
    doc: Doc<'_>,
    opts: &ParseOptions,
    record: u64,
) -> Result<Option<Observation>, ParseError> {
    // Network devices, printers and phones use the same format; they carry
    // nothing vigie evaluates.
    if let Some(t) = doc.itemtype.text()
        && !t.eq_ignore_ascii_case("computer")
    {
        return Ok(None);
    }
    let content = doc.content.unwrap_or_default();
    let mut obs = Observation::new(SourceKind::GlpiJson);
    let os = content.operatingsystem.unwrap_or_default();
    let offset = os
        .timezone
        .as_ref()
        .and_then(|tz| tz.offset.text())
        .and_then(|o| parse_offset(&o));

    obs.observed_at = content
        .accesslog
        .as_ref()
        .and_then(|a| a.logdate.text())
        .and_then(|d| parse_timestamp(&d, offset, false))
        .or_else(|| doc.deviceid.text().and_then(|d| deviceid_time(&d, offset)));
    obs.establishment_hint = doc.tag.string();

    let hw = content.hardware.unwrap_or_default();
    obs.host.hostname = hw.name.string();
    obs.host.uuid = hw.uuid.string();
    obs.host.fqdn = os
        .fqdn
        .text()
        .filter(|f| f.contains('.'))
        .map(|f| f.into_owned());
    obs.host.serial = content.bios.and_then(|b| b.ssn.string());
    for net in content.networks.unwrap_or_default() {
        for ip in [&net.ipaddress, &net.ipaddress6] {
            if let Some(ip) = ip.text().and_then(|t| useful_ip(&t)) {
                push_unique(&mut obs.host.addresses, ip);
            }
        }
        if let Some(mac) = net
            .mac
            .text()
            .or(net.macaddr.text())
            .and_then(|m| normalise_mac(&m))
        {
            push_unique(&mut obs.host.macs, mac);
        }
    }

    let (name, full_name, version, kernel_version, kernel_name, service_pack, arch) = (
        os.name.text(),
        os.full_name.text(),
        os.version.text(),
        os.kernel_version.text(),
        os.kernel_name.text(),
        os.service_pack.text(),
        os.arch.text(),
    );
    obs.os = OsInput {
        name: full_name.as_deref(),
        short_name: name.as_deref(),
        version: version.as_deref(),
        kernel_version: kernel_version.as_deref(),
        kernel_name: kernel_name.as_deref(),
        service_pack: service_pack.as_deref(),
        arch: arch.as_deref(),
        ..OsInput::default()
    }
    .build();
    let windows = obs
        .os
        .as_ref()
        .is_some_and(|o| o.family == OsFamily::Windows);

    if let Some(softwares) = content.softwares {
        if softwares.len() > opts.max_items_per_host {
            return Err(ParseError::new(
                Location::Record(record),
                format!("more than {} software entries", opts.max_items_per_host),
            ));
        }
        let mut hotfixes = Vec::new();
        let mut software = Vec::with_capacity(softwares.len());
        for s in softwares {
            let entry = SoftwareEntry {
                name: s.name.string(),
                version: s.version.string(),
                publisher: s.publisher.string(),
                from: s.from.string(),
                category: s.system_category.string(),
                release_type: s.release_type.string(),
                comments: s.comments.string(),
                install_date: s.install_date.string(),
            };
            // GLPI normalises install_date to yyyy-mm-dd; older agents wrote
            // dd/mm/yyyy.
            match entry.classify(true) {
                Classified::Hotfix(h) => hotfixes.push(h),
                Classified::Software(s) => software.push(s),
                Classified::Skip => {}
            }
        }
        if windows || !hotfixes.is_empty() {
            dedup_hotfixes(&mut hotfixes);
            obs.hotfixes = Section::Full(hotfixes);
        }
        obs.software = Section::Full(software);
    }
    if obs.host.hostname.is_none() {
        obs.host.hostname = doc
            .deviceid
            .text()
            .and_then(|d| non_empty(&d).map(str::to_string))
            .filter(|d| deviceid_time(d, None).is_none());
    }
    Ok(Some(obs))
}

/// Parses every document of the input at the first call, then hands the
/// observations out one by one.
pub(crate) struct GlpiParser<R> {
    reader: Option<R>,
    opts: ParseOptions,
    ready: VecDeque<Result<Observation, ParseError>>,
}

impl<R: BufRead> GlpiParser<R> {
    pub(crate) fn new(reader: R, opts: ParseOptions) -> Self {
        GlpiParser {
            reader: Some(reader),
            opts,
            ready: VecDeque::new(),
        }
    }

    fn load(&mut self, mut reader: R) {
        if let Err(e) = crate::input::prepare(&mut reader) {
            self.ready.push_back(Err(e));
            return;
        }
        let cap = self.opts.max_document_bytes;
        let mut buf = Vec::new();
        let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
        if let Err(e) = reader.take(limit).read_to_end(&mut buf) {
            self.ready.push_back(Err(ParseError::new(
                Location::Byte(0),
                format!("read error: {e}"),
            )));
            return;
        }
        if buf.len() > cap {
            self.ready.push_back(Err(ParseError::new(
                Location::Byte(u64::try_from(cap).unwrap_or(u64::MAX)),
                format!("json document larger than {cap} bytes"),
            )));
            return;
        }
        // GLPI agents write UTF-8; a stray invalid byte is read as
        // Windows-1252 rather than replaced (replacing merges names).
        let text = crate::input::decode_text(&buf);
        let stream = serde_json::Deserializer::from_str(&text).into_iter::<Doc<'_>>();
        let mut record = 0;
        for doc in stream {
            record += 1;
            match doc {
                Ok(doc) => match to_observation(doc, &self.opts, record) {
                    Ok(Some(obs)) => self.ready.push_back(Ok(obs)),
                    Ok(None) => {}
                    Err(e) => {
                        self.ready.push_back(Err(e));
                        return;
                    }
                },
                Err(e) => {
                    let line = u64::try_from(e.line()).unwrap_or(0);
                    self.ready
                        .push_back(Err(ParseError::new(Location::Line(line), json_message(&e))));
                    return;
                }
            }
        }
        if record == 0 {
            self.ready.push_back(Err(ParseError::new(
                Location::Line(1),
                "empty input: no json document",
            )));
        }
    }
}

impl<R: BufRead> Iterator for GlpiParser<R> {
    type Item = Result<Observation, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(reader) = self.reader.take() {
            self.load(reader);
        }
        self.ready.pop_front()
    }
}
