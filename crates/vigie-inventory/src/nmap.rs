//! nmap XML output (`nmap -oX`): one observation per host that is up.
//!
//! What vigie needs from a scan is SMB evidence: the dialects a host offers
//! (`smb-protocols`: SMBv1 when "NT LM 0.12" is among them), the result of
//! `smb-vuln-ms17-010`, and the OS an SMB server announces
//! (`smb-os-discovery`). Addresses are kept so the caller can attribute the
//! host by subnet.

use crate::ParseOptions;
use crate::error::{Location, ParseError};
use crate::input::GuardedInput;
use crate::os::{edition_hint, nt_for_build};
use crate::util::{normalise_mac, parse_seconds, push_unique, timestamp_from_seconds};
use crate::xmlio::{self, attr};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::io::BufRead;
use std::net::IpAddr;
use vigie_core::{NetworkFacts, Observation, OsFacts, OsFamily, SourceKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    NmapRun,
    Host,
    Port,
    Script,
    Table,
    Elem,
    Other,
}

fn tag_of(name: &str) -> Tag {
    match name {
        "nmaprun" => Tag::NmapRun,
        "host" => Tag::Host,
        "port" => Tag::Port,
        "script" => Tag::Script,
        "table" => Tag::Table,
        "elem" => Tag::Elem,
        _ => Tag::Other,
    }
}

#[derive(Debug, Default)]
struct SmbOs {
    os: Option<String>,
    lanmanager: Option<String>,
    server: Option<String>,
    fqdn: Option<String>,
}

#[derive(Debug, Default)]
struct HostState {
    up: Option<bool>,
    start: Option<i64>,
    end: Option<i64>,
    addresses: Vec<IpAddr>,
    macs: Vec<String>,
    /// (name, type) as listed under `<hostnames>`.
    hostnames: Vec<(String, String)>,
    ports: Vec<u16>,
    /// The `<port>` being read: (is tcp, number).
    port: Option<(bool, u16)>,
    smb_protocols_seen: bool,
    dialects: Vec<String>,
    ms17_010: Option<bool>,
    smb_os: SmbOs,
    osmatch: Option<(String, u32)>,
    items: usize,
}

/// The `<script>` being read.
#[derive(Debug, Default)]
struct ScriptState {
    id: String,
    /// `key` attributes of the enclosing `<table>`s.
    tables: Vec<Option<String>>,
    elem_key: Option<String>,
}

/// "NT LM 0.12 (SMBv1) [dangerous, but default]" → "NT LM 0.12";
/// "2:0:2", "2.02", "202" → "2.0.2".
pub(crate) fn normalise_dialect(s: &str) -> String {
    let t = s.trim();
    if t.to_ascii_uppercase().contains("NT LM 0.12") {
        return "NT LM 0.12".to_string();
    }
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    let only_digits_and_separators = t
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ':');
    let mut chars = digits.chars();
    match (
        only_digits_and_separators,
        chars.next(),
        chars.next(),
        chars.next(),
        chars.next(),
    ) {
        (true, Some(a), Some(b), Some(c), None) => format!("{a}.{b}.{c}"),
        _ => t.to_string(),
    }
}

fn offers_smbv1(dialect: &str) -> bool {
    let d = dialect.to_ascii_uppercase();
    d.contains("NT LM 0.12") || d.contains("SMBV1")
}

/// What smb-vuln-ms17-010 says in a state value or its text output.
fn ms17_verdict(text: &str) -> Option<bool> {
    let t = text.to_ascii_uppercase();
    if t.contains("NOT VULNERABLE") {
        Some(false)
    } else if t.contains("VULNERABLE") {
        Some(true)
    } else {
        None
    }
}

/// Build number and service pack from "Windows 7 Professional 7601 Service
/// Pack 1" or "Windows Server 2008 R2 Standard 7601 Service Pack 1": the
/// last number of four or more digits that is not a product year.
fn smb_os_facts(os: &str) -> OsFacts {
    let words: Vec<&str> = os.split_whitespace().collect();
    let mut build = None;
    for (i, w) in words.iter().enumerate() {
        let after_server = i > 0
            && words
                .get(i - 1)
                .is_some_and(|p| p.eq_ignore_ascii_case("server") || p.eq_ignore_ascii_case("(r)"));
        // "Windows XP (Windows 2000 LAN Manager)": 2000 names the LAN
        // Manager generation, not a build
        let lan_manager = words
            .get(i + 1)
            .is_some_and(|n| n.eq_ignore_ascii_case("lan"));
        if w.len() >= 4
            && w.len() <= 6
            && w.bytes().all(|b| b.is_ascii_digit())
            && !after_server
            && !lan_manager
        {
            build = w.parse::<u32>().ok();
        }
    }
    let lower = os.to_ascii_lowercase();
    let service_pack = lower.find("service pack").and_then(|at| {
        let tail = os.get(at..)?;
        let n: String = tail
            .get("service pack".len()..)?
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (!n.is_empty()).then(|| format!("Service Pack {n}"))
    });
    OsFacts {
        family: OsFamily::Windows,
        name: Some(os.to_string()),
        version: build.and_then(|b| nt_for_build(b).map(|nt| format!("{nt}.{b}"))),
        build,
        service_pack,
        edition: edition_hint(os),
        ..OsFacts::default()
    }
}

/// nmap prints NetBIOS names with a literal "\x00" terminator.
fn clean_netbios(s: &str) -> Option<String> {
    let t = s.replace("\\x00", "");
    let t = t.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!t.is_empty()).then(|| t.to_string())
}

impl HostState {
    fn into_observation(self, run_start: Option<i64>) -> Observation {
        let mut obs = Observation::new(SourceKind::Nmap);
        obs.observed_at = [self.end, self.start, run_start]
            .into_iter()
            .flatten()
            .next()
            .map(timestamp_from_seconds);
        obs.host.addresses = self.addresses;
        obs.host.macs = self.macs;
        let smb = self.smb_os;
        let named = |kind: &str| {
            self.hostnames
                .iter()
                .find(|(_, t)| t.eq_ignore_ascii_case(kind))
                .map(|(n, _)| n.clone())
        };
        let first_name = named("user")
            .or_else(|| named("PTR"))
            .or_else(|| self.hostnames.first().map(|h| h.0.clone()));
        obs.host.hostname = smb.server.as_deref().and_then(clean_netbios).or(first_name);
        obs.host.fqdn = smb
            .fqdn
            .as_deref()
            .and_then(clean_netbios)
            .filter(|f| f.contains('.'))
            .or_else(|| {
                self.hostnames
                    .iter()
                    .map(|h| h.0.clone())
                    .find(|n| n.contains('.'))
            });

        let samba = smb
            .lanmanager
            .as_deref()
            .is_some_and(|l| l.to_ascii_lowercase().contains("samba"));
        let os_guess = match (&smb.os, &smb.lanmanager) {
            // Samba announces itself as "Windows 6.1"; the lanmanager string
            // says what it really is.
            (_, Some(lm)) if samba => Some(lm.clone()),
            (Some(os), _) => Some(os.clone()),
            _ => self.osmatch.map(|(name, _)| name),
        };
        if let Some(os) = smb
            .os
            .as_deref()
            .filter(|o| !samba && OsFamily::guess(o) == OsFamily::Windows)
        {
            obs.os = Some(smb_os_facts(os));
        }
        let mut ports = self.ports;
        ports.sort_unstable();
        ports.dedup();
        obs.network = Some(NetworkFacts {
            smbv1_offered: self
                .smb_protocols_seen
                .then(|| self.dialects.iter().any(|d| offers_smbv1(d))),
            smb_dialects: self.dialects.iter().map(|d| normalise_dialect(d)).fold(
                Vec::new(),
                |mut v, d| {
                    push_unique(&mut v, d);
                    v
                },
            ),
            ms17_010_vulnerable: self.ms17_010,
            os_guess,
            open_tcp_ports: ports,
        });
        obs
    }
}

pub(crate) struct NmapParser<R: BufRead> {
    reader: Option<Reader<GuardedInput<R>>>,
    pending: Option<R>,
    opts: ParseOptions,
    buf: Vec<u8>,
    path: Vec<Tag>,
    text: String,
    run_start: Option<i64>,
    host: Option<HostState>,
    script: Option<ScriptState>,
    seen_root: bool,
    done: bool,
}

impl<R: BufRead> NmapParser<R> {
    pub(crate) fn new(reader: R, opts: ParseOptions) -> Self {
        NmapParser {
            reader: None,
            pending: Some(reader),
            opts,
            buf: Vec::new(),
            path: Vec::new(),
            text: String::new(),
            run_start: None,
            host: None,
            script: None,
            seen_root: false,
            done: false,
        }
    }

    /// Handles an opening (or empty) element. Returns whether it was a
    /// `<script>` start that needs a matching end.
    fn open(&mut self, e: &BytesStart<'_>, empty: bool) {
        let name = e.name();
        let name = name.as_ref();
        match name {
            "nmaprun" => {
                self.seen_root = true;
                self.run_start = attr(e, "start").and_then(|s| parse_seconds(&s));
            }
            "host" => {
                self.host = Some(HostState {
                    start: attr(e, "starttime").and_then(|s| parse_seconds(&s)),
                    end: attr(e, "endtime").and_then(|s| parse_seconds(&s)),
                    ..HostState::default()
                });
            }
            _ => {}
        }
        let Some(host) = self.host.as_mut() else {
            return;
        };
        match name {
            "status" => host.up = attr(e, "state").map(|s| s == "up"),
            "address" => {
                let addr = attr(e, "addr").unwrap_or_default();
                match attr(e, "addrtype").as_deref() {
                    Some("mac") => {
                        if let Some(mac) = normalise_mac(&addr) {
                            push_unique(&mut host.macs, mac);
                        }
                    }
                    _ => {
                        if let Ok(ip) = addr.trim().parse::<IpAddr>() {
                            push_unique(&mut host.addresses, ip);
                        }
                    }
                }
                host.items += 1;
            }
            "hostname" => {
                if let Some(n) = attr(e, "name").filter(|n| !n.trim().is_empty()) {
                    host.hostnames
                        .push((n, attr(e, "type").unwrap_or_default()));
                    host.items += 1;
                }
            }
            "port" => {
                let tcp = attr(e, "protocol").as_deref() == Some("tcp");
                host.port = attr(e, "portid")
                    .and_then(|p| p.parse().ok())
                    .map(|p| (tcp, p));
            }
            "state" => {
                if let Some((true, port)) = host.port
                    && attr(e, "state").as_deref() == Some("open")
                {
                    host.ports.push(port);
                    host.items += 1;
                }
            }
            "osmatch" => {
                let accuracy = attr(e, "accuracy")
                    .and_then(|a| a.parse::<u32>().ok())
                    .unwrap_or(0);
                if let Some(n) = attr(e, "name")
                    && host.osmatch.as_ref().is_none_or(|(_, a)| accuracy > *a)
                {
                    host.osmatch = Some((n, accuracy));
                }
            }
            "script" => {
                let id = attr(e, "id").unwrap_or_default();
                let interesting = matches!(
                    id.as_str(),
                    "smb-protocols" | "smb-vuln-ms17-010" | "smb-os-discovery"
                );
                if interesting {
                    // The text output is a fallback for old nmap versions
                    // that wrote no structured elements.
                    let output = attr(e, "output").unwrap_or_default();
                    match id.as_str() {
                        "smb-protocols" => {
                            host.smb_protocols_seen = true;
                            if output.to_ascii_uppercase().contains("NT LM 0.12") {
                                push_unique(&mut host.dialects, "NT LM 0.12".to_string());
                            }
                        }
                        "smb-vuln-ms17-010" => {
                            let verdict = output
                                .lines()
                                .find(|l| l.trim_start().to_ascii_lowercase().starts_with("state:"))
                                .and_then(ms17_verdict);
                            if verdict.is_some() {
                                host.ms17_010 = verdict;
                            }
                        }
                        _ => {}
                    }
                }
                if !empty {
                    self.script = Some(ScriptState {
                        id,
                        ..ScriptState::default()
                    });
                }
            }
            "table" => {
                if let Some(s) = self.script.as_mut()
                    && !empty
                {
                    s.tables.push(attr(e, "key"));
                }
            }
            "elem" => {
                if let Some(s) = self.script.as_mut() {
                    s.elem_key = attr(e, "key");
                }
            }
            _ => {}
        }
    }

    fn elem_value(&mut self, value: &str) {
        let (Some(host), Some(script)) = (self.host.as_mut(), self.script.as_ref()) else {
            return;
        };
        let table = script.tables.last().cloned().flatten();
        let key = script.elem_key.as_deref();
        match script.id.as_str() {
            "smb-protocols" if table.as_deref() == Some("dialects") => {
                push_unique(&mut host.dialects, value.trim().to_string());
            }
            "smb-vuln-ms17-010" if key == Some("state") => {
                if let Some(v) = ms17_verdict(value) {
                    // One vulnerable table is enough.
                    host.ms17_010 = Some(host.ms17_010.unwrap_or(false) || v);
                }
            }
            "smb-os-discovery" if script.tables.is_empty() => {
                let slot = match key {
                    Some("os") => &mut host.smb_os.os,
                    Some("lanmanager") => &mut host.smb_os.lanmanager,
                    Some("server") => &mut host.smb_os.server,
                    Some("fqdn") => &mut host.smb_os.fqdn,
                    _ => return,
                };
                let v = value.trim();
                if !v.is_empty() {
                    *slot = Some(v.to_string());
                }
            }
            _ => {}
        }
    }

    fn step(&mut self) -> Result<Option<Observation>, ParseError> {
        // The event borrows the buffer while the handlers borrow `self`.
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.step_with(&mut buf);
        self.buf = buf;
        result
    }

    fn step_with(&mut self, buf: &mut Vec<u8>) -> Result<Option<Observation>, ParseError> {
        loop {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            buf.clear();
            let event = match reader.read_event_into(buf) {
                Ok(ev) => ev,
                Err(e) => return Err(xmlio::error(reader, &e)),
            };
            let pos = reader.buffer_position();
            match event {
                Event::Start(e) => {
                    if self.path.len() >= self.opts.max_xml_depth {
                        return Err(ParseError::new(
                            Location::Byte(pos),
                            format!(
                                "xml nested deeper than {} elements",
                                self.opts.max_xml_depth
                            ),
                        ));
                    }
                    self.path.push(tag_of(e.name().as_ref()));
                    self.text.clear();
                    self.open(&e, false);
                }
                Event::Empty(e) => self.open(&e, true),
                Event::Text(t) => {
                    if self.path.last() == Some(&Tag::Elem) {
                        xmlio::push_text(&mut self.text, &t);
                    }
                }
                Event::CData(t) => {
                    if self.path.last() == Some(&Tag::Elem) {
                        xmlio::push_text(&mut self.text, &t);
                    }
                }
                Event::GeneralRef(r) => {
                    if self.path.last() == Some(&Tag::Elem)
                        && let Some(s) = xmlio::resolve_ref(&r)
                    {
                        xmlio::push_text(&mut self.text, &s);
                    }
                }
                Event::End(_) => {
                    let Some(tag) = self.path.pop() else {
                        return Err(ParseError::new(
                            Location::Byte(pos),
                            "unexpected closing tag",
                        ));
                    };
                    match tag {
                        Tag::Elem => {
                            let value = std::mem::take(&mut self.text);
                            self.elem_value(&value);
                            if let Some(s) = self.script.as_mut() {
                                s.elem_key = None;
                            }
                        }
                        Tag::Table => {
                            if let Some(s) = self.script.as_mut() {
                                s.tables.pop();
                            }
                        }
                        Tag::Script => self.script = None,
                        Tag::Port => {
                            if let Some(h) = self.host.as_mut() {
                                h.port = None;
                            }
                        }
                        Tag::Host => {
                            self.script = None;
                            if let Some(host) = self.host.take()
                                && host.up != Some(false)
                            {
                                return Ok(Some(host.into_observation(self.run_start)));
                            }
                        }
                        Tag::NmapRun | Tag::Other => {}
                    }
                    if let Some(h) = self.host.as_ref()
                        && h.items > self.opts.max_items_per_host
                    {
                        return Err(ParseError::new(
                            Location::Byte(pos),
                            format!(
                                "more than {} addresses, names and ports for one host",
                                self.opts.max_items_per_host
                            ),
                        ));
                    }
                }
                Event::Eof => {
                    xmlio::check_end(
                        pos,
                        self.path.len(),
                        self.seen_root,
                        "no <nmaprun> element: not an nmap xml file",
                    )?;
                    return Ok(None);
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            }
        }
    }
}

impl<R: BufRead> xmlio::XmlSteps<R> for NmapParser<R> {
    fn io(&mut self) -> xmlio::Io<'_, R> {
        (
            &mut self.done,
            &mut self.pending,
            &mut self.reader,
            &self.opts,
        )
    }

    fn step(&mut self) -> Result<Option<Observation>, ParseError> {
        NmapParser::step(self)
    }
}

impl<R: BufRead> Iterator for NmapParser<R> {
    type Item = Result<Observation, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        xmlio::XmlSteps::next_observation(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_normalise() {
        assert_eq!(
            normalise_dialect("NT LM 0.12 (SMBv1) [dangerous, but default]"),
            "NT LM 0.12"
        );
        assert_eq!(normalise_dialect("2:0:2"), "2.0.2");
        assert_eq!(normalise_dialect("311"), "3.1.1");
        assert_eq!(normalise_dialect("2.02"), "2.0.2");
        assert_eq!(normalise_dialect("weird"), "weird");
    }

    #[test]
    fn smb_os_build() {
        let os = smb_os_facts("Windows Server 2008 R2 Standard 7601 Service Pack 1");
        assert_eq!(os.build, Some(7601));
        assert_eq!(os.version.as_deref(), Some("6.1.7601"));
        assert_eq!(os.service_pack.as_deref(), Some("Service Pack 1"));
        let os = smb_os_facts("Windows Server 2016 Standard 14393");
        assert_eq!(os.build, Some(14393));
        let os = smb_os_facts("Windows 6.1");
        assert_eq!(os.build, None);
        // regression: the LAN Manager generation is not a build
        let os = smb_os_facts("Windows XP (Windows 2000 LAN Manager)");
        assert_eq!(os.build, None);
        assert_eq!(
            os.name.as_deref(),
            Some("Windows XP (Windows 2000 LAN Manager)")
        );
        let os = smb_os_facts("Windows Server 2003 3790 Service Pack 2");
        assert_eq!(os.build, Some(3790));
    }
}
