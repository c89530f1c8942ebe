//! FusionInventory / GLPI Agent XML and OCS Inventory NG XML (`.ocs`).
//!
//! Both agents speak the same protocol: `<REQUEST><CONTENT>sections…
//! </CONTENT><DEVICEID/><QUERY>INVENTORY</QUERY></REQUEST>`, one host per
//! document. They differ in details that matter here:
//!
//! * Fusion/GLPI agents add an `OPERATINGSYSTEM` section (with the NT
//!   version in `KERNEL_VERSION`) and `VERSIONCLIENT` "FusionInventory-…" or
//!   "GLPI-Agent…"; on Linux their `HARDWARE/OSVERSION` is the kernel.
//! * OCS agents have only `HARDWARE`: `OSVERSION` is the NT version on
//!   Windows and the release on Unix, `OSCOMMENTS` the service pack on
//!   Windows. The Windows agent sets `VERSIONCLIENT` "OCS-NG…"; the Unix
//!   agent sets none.
//!
//! The source kind is therefore decided from the content, not from the
//! format the caller guessed.
//!
//! The document is read as a stream of events with one reused buffer;
//! only the few values we keep are copied out.

use crate::ParseOptions;
use crate::error::{Location, ParseError};
use crate::input::GuardedInput;
use crate::os::OsInput;
use crate::software::{Classified, SoftwareEntry};
use crate::util::{
    dedup_hotfixes, deviceid_host, deviceid_time, non_empty, normalise_mac, parse_offset,
    parse_timestamp, push_unique, useful_ip,
};
use crate::xmlio;
use quick_xml::Reader;
use quick_xml::events::Event;
use std::io::BufRead;
use vigie_core::{Hotfix, Observation, OsFamily, Section, Software, SourceKind};

/// The element names we act on. Everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum El {
    Request,
    Content,
    AccessLog,
    LogDate,
    AccountInfo,
    KeyName,
    KeyValue,
    Hardware,
    Bios,
    Networks,
    OperatingSystem,
    Softwares,
    TimeZone,
    Name,
    Uuid,
    OsName,
    OsVersion,
    OsComments,
    IpAddr,
    Ssn,
    IpAddress,
    IpAddress6,
    MacAddr,
    FullName,
    Version,
    KernelVersion,
    KernelName,
    ServicePack,
    Arch,
    Fqdn,
    Offset,
    Publisher,
    From,
    SystemCategory,
    ReleaseType,
    InstallDate,
    Comments,
    VersionClient,
    DeviceId,
    Tag,
    Other,
}

impl El {
    fn of(name: &str) -> El {
        match name {
            "REQUEST" => El::Request,
            "CONTENT" => El::Content,
            "ACCESSLOG" => El::AccessLog,
            "LOGDATE" => El::LogDate,
            "ACCOUNTINFO" => El::AccountInfo,
            "KEYNAME" => El::KeyName,
            "KEYVALUE" => El::KeyValue,
            "HARDWARE" => El::Hardware,
            "BIOS" => El::Bios,
            "NETWORKS" => El::Networks,
            "OPERATINGSYSTEM" => El::OperatingSystem,
            "SOFTWARES" => El::Softwares,
            "TIMEZONE" => El::TimeZone,
            "NAME" => El::Name,
            "UUID" => El::Uuid,
            "OSNAME" => El::OsName,
            "OSVERSION" => El::OsVersion,
            "OSCOMMENTS" => El::OsComments,
            "IPADDR" => El::IpAddr,
            "SSN" => El::Ssn,
            "IPADDRESS" => El::IpAddress,
            "IPADDRESS6" => El::IpAddress6,
            "MACADDR" => El::MacAddr,
            "FULL_NAME" => El::FullName,
            "VERSION" => El::Version,
            "KERNEL_VERSION" => El::KernelVersion,
            "KERNEL_NAME" => El::KernelName,
            "SERVICE_PACK" => El::ServicePack,
            "ARCH" => El::Arch,
            "FQDN" => El::Fqdn,
            "OFFSET" => El::Offset,
            "PUBLISHER" => El::Publisher,
            "FROM" => El::From,
            "SYSTEM_CATEGORY" => El::SystemCategory,
            "RELEASE_TYPE" => El::ReleaseType,
            "INSTALLDATE" => El::InstallDate,
            "COMMENTS" => El::Comments,
            "VERSIONCLIENT" => El::VersionClient,
            "DEVICEID" => El::DeviceId,
            "TAG" => El::Tag,
            _ => El::Other,
        }
    }
}

/// Values collected from one `<REQUEST>`.
#[derive(Debug, Default)]
struct Doc {
    logdate: Option<String>,
    deviceid: Option<String>,
    versionclient: Option<String>,
    tag: Option<String>,
    account_key: Option<String>,
    account_value: Option<String>,
    hw_name: Option<String>,
    hw_uuid: Option<String>,
    hw_osname: Option<String>,
    hw_osversion: Option<String>,
    hw_oscomments: Option<String>,
    hw_ipaddr: Option<String>,
    ssn: Option<String>,
    saw_os_section: bool,
    os_name: Option<String>,
    os_full_name: Option<String>,
    os_version: Option<String>,
    os_kernel_version: Option<String>,
    os_kernel_name: Option<String>,
    os_service_pack: Option<String>,
    os_arch: Option<String>,
    os_fqdn: Option<String>,
    tz_offset: Option<String>,
    net_ip: Option<String>,
    net_ip6: Option<String>,
    net_mac: Option<String>,
    addresses: Vec<std::net::IpAddr>,
    macs: Vec<String>,
    sw: SoftwareEntry,
    saw_softwares: bool,
    software: Vec<Software>,
    hotfixes: Vec<Hotfix>,
}

impl Doc {
    fn set(&mut self, section: El, grand: El, leaf: El, value: String) {
        let slot = match (section, leaf) {
            (El::AccessLog, El::LogDate) => &mut self.logdate,
            (El::Request, El::DeviceId) | (El::Content, El::DeviceId) => &mut self.deviceid,
            (El::Content, El::VersionClient) => &mut self.versionclient,
            (El::Request | El::Content, El::Tag) => &mut self.tag,
            (El::AccountInfo, El::KeyName) => &mut self.account_key,
            (El::AccountInfo, El::KeyValue) => &mut self.account_value,
            (El::Hardware, El::Name) => &mut self.hw_name,
            (El::Hardware, El::Uuid) => &mut self.hw_uuid,
            (El::Hardware, El::OsName) => &mut self.hw_osname,
            (El::Hardware, El::OsVersion) => &mut self.hw_osversion,
            (El::Hardware, El::OsComments) => &mut self.hw_oscomments,
            (El::Hardware, El::IpAddr) => &mut self.hw_ipaddr,
            (El::Bios, El::Ssn) => &mut self.ssn,
            (El::Networks, El::IpAddress) => &mut self.net_ip,
            (El::Networks, El::IpAddress6) => &mut self.net_ip6,
            (El::Networks, El::MacAddr) => &mut self.net_mac,
            (El::OperatingSystem, El::Name) => &mut self.os_name,
            (El::OperatingSystem, El::FullName) => &mut self.os_full_name,
            (El::OperatingSystem, El::Version) => &mut self.os_version,
            (El::OperatingSystem, El::KernelVersion) => &mut self.os_kernel_version,
            (El::OperatingSystem, El::KernelName) => &mut self.os_kernel_name,
            (El::OperatingSystem, El::ServicePack) => &mut self.os_service_pack,
            (El::OperatingSystem, El::Arch) => &mut self.os_arch,
            (El::OperatingSystem, El::Fqdn) => &mut self.os_fqdn,
            (El::TimeZone, El::Offset) if grand == El::OperatingSystem => &mut self.tz_offset,
            (El::Softwares, El::Name) => &mut self.sw.name,
            (El::Softwares, El::Version) => &mut self.sw.version,
            (El::Softwares, El::Publisher) => &mut self.sw.publisher,
            (El::Softwares, El::From) => &mut self.sw.from,
            (El::Softwares, El::SystemCategory) => &mut self.sw.category,
            (El::Softwares, El::ReleaseType) => &mut self.sw.release_type,
            (El::Softwares, El::Comments) => &mut self.sw.comments,
            (El::Softwares, El::InstallDate) => &mut self.sw.install_date,
            _ => return,
        };
        if slot.is_none() {
            *slot = non_empty(&value).map(str::to_string);
        }
    }

    /// Called at the end of a repeated section.
    fn close(&mut self, section: El) {
        match section {
            El::Networks => {
                for ip in [self.net_ip.take(), self.net_ip6.take()]
                    .into_iter()
                    .flatten()
                {
                    // Some agents join several addresses with '/'.
                    for part in ip.split('/') {
                        if let Some(ip) = useful_ip(part) {
                            push_unique(&mut self.addresses, ip);
                        }
                    }
                }
                if let Some(mac) = self.net_mac.take().as_deref().and_then(normalise_mac) {
                    push_unique(&mut self.macs, mac);
                }
            }
            El::Softwares => {
                self.saw_softwares = true;
                // FusionInventory prints INSTALLDATE as dd/mm/yyyy.
                match std::mem::take(&mut self.sw).classify(true) {
                    Classified::Hotfix(h) => self.hotfixes.push(h),
                    Classified::Software(s) => self.software.push(s),
                    Classified::Skip => {}
                }
            }
            El::AccountInfo => {
                let key = self.account_key.take();
                let value = self.account_value.take();
                if key
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case("tag"))
                    && self.tag.is_none()
                {
                    self.tag = value;
                }
            }
            _ => {}
        }
    }

    fn items(&self) -> usize {
        self.software.len() + self.hotfixes.len() + self.addresses.len() + self.macs.len()
    }

    fn source(&self) -> SourceKind {
        let client = self
            .versionclient
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        if client.contains("fusion") || client.contains("glpi") {
            SourceKind::FusionXml
        } else if client.contains("ocs") {
            SourceKind::OcsXml
        } else if self.saw_os_section {
            SourceKind::FusionXml
        } else {
            SourceKind::OcsXml
        }
    }

    fn into_observation(mut self) -> Observation {
        let mut obs = Observation::new(self.source());
        let offset = self.tz_offset.as_deref().and_then(parse_offset);
        obs.observed_at = self
            .logdate
            .as_deref()
            .and_then(|d| parse_timestamp(d, offset, true))
            .or_else(|| {
                self.deviceid
                    .as_deref()
                    .and_then(|d| deviceid_time(d, offset))
            });
        obs.establishment_hint = self.tag.take();
        obs.host.hostname = self.hw_name.take();
        obs.host.uuid = self.hw_uuid.take();
        obs.host.serial = self.ssn.take();
        obs.host.fqdn = self.os_fqdn.take().filter(|f| f.contains('.'));
        if self.addresses.is_empty() {
            for part in self.hw_ipaddr.as_deref().unwrap_or("").split('/') {
                if let Some(ip) = useful_ip(part) {
                    push_unique(&mut self.addresses, ip);
                }
            }
        }
        obs.host.addresses = std::mem::take(&mut self.addresses);
        obs.host.macs = std::mem::take(&mut self.macs);

        let fusion_layout = self.saw_os_section;
        let mut input = OsInput {
            name: self.os_full_name.as_deref().or(self.hw_osname.as_deref()),
            short_name: self.os_name.as_deref(),
            kernel_name: self.os_kernel_name.as_deref(),
            arch: self.os_arch.as_deref(),
            ..OsInput::default()
        };
        let windows = input.family() == OsFamily::Windows;
        if windows {
            input.kernel_version = self
                .os_kernel_version
                .as_deref()
                .or(self.hw_osversion.as_deref());
            input.version = self.os_version.as_deref();
            // OSCOMMENTS holds "Service Pack 1" on Windows (both agents).
            let sp_comment = self
                .hw_oscomments
                .as_deref()
                .filter(|c| c.to_ascii_lowercase().contains("service pack") || c.starts_with("SP"));
            input.service_pack = self.os_service_pack.as_deref().or(sp_comment);
        } else if fusion_layout {
            input.version = self.os_version.as_deref();
            input.kernel_version = self.os_kernel_version.as_deref();
            input.service_pack = self.os_service_pack.as_deref();
        } else {
            input.version = self.hw_osversion.as_deref();
        }
        obs.os = input.build();
        if !self.hotfixes.is_empty() || (windows && self.saw_softwares) {
            dedup_hotfixes(&mut self.hotfixes);
            obs.hotfixes = Section::Full(std::mem::take(&mut self.hotfixes));
        }
        if self.saw_softwares {
            obs.software = Section::Full(std::mem::take(&mut self.software));
        }
        if obs.host.hostname.is_none() {
            obs.host.hostname = self.deviceid.as_deref().and_then(deviceid_host);
        }
        obs
    }
}

pub(crate) struct XmlInventoryParser<R: BufRead> {
    reader: Option<Reader<GuardedInput<R>>>,
    pending: Option<R>,
    opts: ParseOptions,
    buf: Vec<u8>,
    path: Vec<El>,
    text: String,
    doc: Option<Doc>,
    seen_request: bool,
    done: bool,
}

impl<R: BufRead> XmlInventoryParser<R> {
    pub(crate) fn new(reader: R, opts: ParseOptions) -> Self {
        XmlInventoryParser {
            reader: None,
            pending: Some(reader),
            opts,
            buf: Vec::new(),
            path: Vec::new(),
            text: String::new(),
            doc: None,
            seen_request: false,
            done: false,
        }
    }

    fn step(&mut self) -> Result<Option<Observation>, ParseError> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        loop {
            self.buf.clear();
            let event = match reader.read_event_into(&mut self.buf) {
                Ok(ev) => ev,
                Err(e) => return Err(xmlio::error(reader, &e)),
            };
            let pos = reader.buffer_position();
            match event {
                Event::Start(e) => {
                    let tag = El::of(e.name().as_ref());
                    if self.path.len() >= self.opts.max_xml_depth {
                        return Err(ParseError::new(
                            Location::Byte(pos),
                            format!(
                                "xml nested deeper than {} elements",
                                self.opts.max_xml_depth
                            ),
                        ));
                    }
                    if tag == El::Request && self.path.is_empty() {
                        self.seen_request = true;
                        self.doc = Some(Doc::default());
                    }
                    if tag == El::OperatingSystem
                        && let Some(doc) = self.doc.as_mut()
                    {
                        doc.saw_os_section = true;
                    }
                    self.path.push(tag);
                    self.text.clear();
                }
                Event::Empty(e) => {
                    // `<SERVICE_PACK/>`: an empty value, nothing to record;
                    // an empty repeated section still closes.
                    let tag = El::of(e.name().as_ref());
                    if let Some(doc) = self.doc.as_mut() {
                        if tag == El::OperatingSystem {
                            doc.saw_os_section = true;
                        }
                        if self.path.last() == Some(&El::Content) {
                            doc.close(tag);
                        }
                    }
                }
                Event::Text(t) => xmlio::push_text(&mut self.text, &t),
                Event::CData(t) => xmlio::push_text(&mut self.text, &t),
                Event::GeneralRef(r) => {
                    if let Some(s) = xmlio::resolve_ref(&r) {
                        xmlio::push_text(&mut self.text, &s);
                    }
                }
                Event::End(_) => {
                    let Some(leaf) = self.path.pop() else {
                        return Err(ParseError::new(
                            Location::Byte(pos),
                            "unexpected closing tag",
                        ));
                    };
                    let parent = self.path.last().copied().unwrap_or(El::Other);
                    let grand = self
                        .path
                        .len()
                        .checked_sub(2)
                        .and_then(|i| self.path.get(i))
                        .copied();
                    if let Some(doc) = self.doc.as_mut() {
                        if leaf == El::Request {
                            let obs = self.doc.take().map(Doc::into_observation);
                            return Ok(obs);
                        }
                        if parent == El::Content {
                            doc.close(leaf);
                        } else if leaf != El::Other {
                            let value = std::mem::take(&mut self.text);
                            doc.set(parent, grand.unwrap_or(El::Other), leaf, value);
                        }
                        if doc.items() > self.opts.max_items_per_host {
                            return Err(ParseError::new(
                                Location::Byte(pos),
                                format!(
                                    "more than {} list items in one inventory",
                                    self.opts.max_items_per_host
                                ),
                            ));
                        }
                    }
                    self.text.clear();
                }
                Event::Eof => {
                    xmlio::check_end(
                        pos,
                        self.path.len(),
                        self.seen_request,
                        "no <REQUEST> element: not a fusioninventory/ocs inventory",
                    )?;
                    return Ok(None);
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            }
        }
    }
}

impl<R: BufRead> xmlio::XmlSteps<R> for XmlInventoryParser<R> {
    fn io(&mut self) -> xmlio::Io<'_, R> {
        (
            &mut self.done,
            &mut self.pending,
            &mut self.reader,
            &self.opts,
        )
    }

    fn step(&mut self) -> Result<Option<Observation>, ParseError> {
        XmlInventoryParser::step(self)
    }
}

impl<R: BufRead> Iterator for XmlInventoryParser<R> {
    type Item = Result<Observation, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        xmlio::XmlSteps::next_observation(self)
    }
}
