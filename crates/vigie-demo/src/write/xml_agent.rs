//! FusionInventory agent XML and OCS Inventory NG agent XML (`.ocs`), one
//! `<REQUEST>` per machine per inventory.

use super::glpi::agent_os;
use super::osquery::{fqdn, vendor_name};
use super::{device_id, fr_date, local_iso, local_offset, netmask, xml_el, xml_text};
use crate::fleet::{Machine, Snapshot};
use crate::os::{self, Family};
use crate::sector::Site;

fn open(out: &mut String, indent: usize, tag: &str) {
    for _ in 0..indent {
        out.push_str("  ");
    }
    out.push('<');
    out.push_str(tag);
    out.push_str(">\n");
}

fn close(out: &mut String, indent: usize, tag: &str) {
    for _ in 0..indent {
        out.push_str("  ");
    }
    out.push_str("</");
    out.push_str(tag);
    out.push_str(">\n");
}

fn head(out: &mut String) {
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<REQUEST>\n  <CONTENT>\n");
}

fn tail(out: &mut String, device: &str) {
    out.push_str("  </CONTENT>\n");
    xml_el(out, 1, "DEVICEID", device);
    xml_el(out, 1, "QUERY", "INVENTORY");
    out.push_str("</REQUEST>\n");
}

fn account_tag(out: &mut String, tag: Option<&str>) {
    if let Some(tag) = tag {
        open(out, 2, "ACCOUNTINFO");
        xml_el(out, 3, "KEYNAME", "TAG");
        xml_el(out, 3, "KEYVALUE", tag);
        close(out, 2, "ACCOUNTINFO");
    }
}

fn networks(out: &mut String, m: &Machine) {
    open(out, 2, "NETWORKS");
    xml_el(
        out,
        3,
        "DESCRIPTION",
        "Intel(R) Ethernet Connection I219-LM",
    );
    xml_el(out, 3, "IPADDRESS", &m.ip.to_string());
    xml_el(out, 3, "IPMASK", &netmask(m.mask_len).to_string());
    xml_el(out, 3, "MACADDR", &m.mac);
    xml_el(out, 3, "STATUS", "Up");
    xml_el(out, 3, "TYPE", "ethernet");
    close(out, 2, "NETWORKS");
}

fn bios(out: &mut String, m: &Machine) {
    open(out, 2, "BIOS");
    xml_el(out, 3, "SMANUFACTURER", vendor_name(m.vendor));
    xml_el(out, 3, "SMODEL", m.model);
    xml_el(out, 3, "SSN", &m.serial);
    close(out, 2, "BIOS");
}

/// FusionInventory agent inventory.
pub(crate) fn fusion(m: &Machine, site: &Site, tag: Option<&str>, s: &Snapshot) -> String {
    let (offset, offset_text, tz_name) = local_offset(s.time, m.french);
    let mut out = String::with_capacity(32 * 1024);
    head(&mut out);
    open(&mut out, 2, "ACCESSLOG");
    xml_el(&mut out, 3, "LOGDATE", &local_iso(s.time, offset));
    xml_el(&mut out, 3, "USERID", "N/A");
    close(&mut out, 2, "ACCESSLOG");
    account_tag(&mut out, tag);
    bios(&mut out, m);
    let os = agent_os(m, s);
    open(&mut out, 2, "HARDWARE");
    xml_el(&mut out, 3, "NAME", &m.hostname);
    xml_el(&mut out, 3, "UUID", &m.uuid);
    xml_el(&mut out, 3, "OSNAME", &os.full_name);
    xml_el(&mut out, 3, "OSVERSION", &os.kernel_version);
    xml_el(&mut out, 3, "PROCESSORT", m.cpu);
    xml_el(&mut out, 3, "WORKGROUP", &site.domain);
    close(&mut out, 2, "HARDWARE");
    networks(&mut out, m);
    open(&mut out, 2, "OPERATINGSYSTEM");
    xml_el(&mut out, 3, "ARCH", "64-bit");
    xml_el(&mut out, 3, "FQDN", &fqdn(m, site));
    xml_el(&mut out, 3, "FULL_NAME", &os.full_name);
    xml_el(&mut out, 3, "KERNEL_NAME", os.kernel_name);
    xml_el(&mut out, 3, "KERNEL_VERSION", &os.kernel_version);
    xml_el(&mut out, 3, "NAME", os.name);
    if !os.service_pack.is_empty() {
        xml_el(&mut out, 3, "SERVICE_PACK", &os.service_pack);
    }
    open(&mut out, 3, "TIMEZONE");
    xml_el(&mut out, 4, "NAME", tz_name);
    xml_el(&mut out, 4, "OFFSET", offset_text);
    close(&mut out, 3, "TIMEZONE");
    xml_el(&mut out, 3, "VERSION", &os.version);
    close(&mut out, 2, "OPERATINGSYSTEM");
    for kb in &s.hotfixes {
        open(&mut out, 2, "SOFTWARES");
        xml_el(&mut out, 3, "FROM", "WMI");
        xml_el(&mut out, 3, "INSTALLDATE", &fr_date(kb.installed));
        xml_el(&mut out, 3, "NAME", &kb.id());
        xml_el(&mut out, 3, "PUBLISHER", "Microsoft Corporation");
        xml_el(
            &mut out,
            3,
            "RELEASE_TYPE",
            if kb.security {
                "Security Update"
            } else {
                "Update"
            },
        );
        close(&mut out, 2, "SOFTWARES");
    }
    let spec = os::spec(s.os);
    let from = match spec.family {
        Family::Windows => "registry",
        Family::Linux if spec.is_rpm() => "rpm",
        Family::Linux => "deb",
        Family::Macos => "system_profiler",
    };
    for sw in &s.software {
        open(&mut out, 2, "SOFTWARES");
        xml_el(&mut out, 3, "FROM", from);
        xml_el(&mut out, 3, "NAME", sw.name);
        if !sw.publisher.is_empty() {
            xml_el(&mut out, 3, "PUBLISHER", sw.publisher);
        }
        xml_el(&mut out, 3, "VERSION", sw.version);
        close(&mut out, 2, "SOFTWARES");
    }
    xml_el(&mut out, 2, "VERSIONCLIENT", "FusionInventory-Agent_v2.6");
    tail(&mut out, &device_id(&m.hostname, s.time + offset));
    out
}

/// OCS Inventory NG agent inventory: only `HARDWARE` carries the OS, the
/// log date is written in UTC, updates are registry entries named
/// "Security Update for … (KB…)".
pub(crate) fn ocs(m: &Machine, site: &Site, tag: Option<&str>, s: &Snapshot) -> String {
    let spec = os::spec(s.os);
    let windows = spec.is_windows();
    let mut out = String::with_capacity(32 * 1024);
    head(&mut out);
    open(&mut out, 2, "ACCESSLOG");
    xml_el(&mut out, 3, "LOGDATE", &local_iso(s.time, 0));
    xml_el(&mut out, 3, "USERID", "N/A");
    close(&mut out, 2, "ACCESSLOG");
    account_tag(&mut out, tag);
    bios(&mut out, m);
    open(&mut out, 2, "HARDWARE");
    xml_el(&mut out, 3, "NAME", &m.hostname);
    xml_el(&mut out, 3, "WORKGROUP", &site.domain);
    let (osname, osversion, comments) = match spec.family {
        Family::Windows => (
            spec.product_name(m.pro),
            spec.version.to_string(),
            spec.service_pack.to_string(),
        ),
        Family::Linux | Family::Macos => (
            format!("{} {}", spec.name, spec.display),
            spec.version.to_string(),
            String::new(),
        ),
    };
    xml_el(&mut out, 3, "OSNAME", &osname);
    xml_el(&mut out, 3, "OSVERSION", &osversion);
    xml_el(&mut out, 3, "OSCOMMENTS", &comments);
    xml_el(&mut out, 3, "PROCESSORT", m.cpu);
    xml_el(&mut out, 3, "IPADDR", &m.ip.to_string());
    xml_el(
        &mut out,
        3,
        "ARCH",
        if windows { "64-bit" } else { "x86_64" },
    );
    xml_el(&mut out, 3, "UUID", &m.uuid);
    xml_el(
        &mut out,
        3,
        "VMSYSTEM",
        if m.model.starts_with("VMware") {
            "VMware"
        } else {
            "Physical"
        },
    );
    close(&mut out, 2, "HARDWARE");
    networks(&mut out, m);
    let os_label = match spec.nt_major_minor() {
        "5.1" => "Windows XP",
        "6.1" if spec.server => "Windows Server 2008 R2",
        "6.1" => "Windows 7",
        "6.3" if spec.server => "Windows Server 2012 R2",
        "6.3" => "Windows 8.1",
        _ if spec.server => "Microsoft server operating system version 21H2",
        _ => "Microsoft Windows",
    };
    for kb in &s.hotfixes {
        open(&mut out, 2, "SOFTWARES");
        xml_el(&mut out, 3, "PUBLISHER", "Microsoft Corporation");
        let kind = if kb.security {
            "Security Update"
        } else {
            "Update"
        };
        let name = format!("{kind} for {os_label} ({})", kb.id());
        out.push_str("      <NAME>");
        xml_text(&mut out, &name);
        out.push_str("</NAME>\n");
        xml_el(&mut out, 3, "COMMENTS", kind);
        let (y, mo, d) = super::ymd(kb.installed);
        xml_el(
            &mut out,
            3,
            "INSTALLDATE",
            &format!("{y:04}/{mo:02}/{d:02}"),
        );
        close(&mut out, 2, "SOFTWARES");
    }
    for sw in &s.software {
        open(&mut out, 2, "SOFTWARES");
        if !sw.publisher.is_empty() {
            xml_el(&mut out, 3, "PUBLISHER", sw.publisher);
        }
        xml_el(&mut out, 3, "NAME", sw.name);
        xml_el(&mut out, 3, "VERSION", sw.version);
        close(&mut out, 2, "SOFTWARES");
    }
    if windows {
        xml_el(
            &mut out,
            2,
            "VERSIONCLIENT",
            "OCS-NG_WINDOWS_AGENT_v2.11.0.1",
        );
    } else {
        xml_el(
            &mut out,
            2,
            "VERSIONCLIENT",
            "OCS-NG_unified_unix_agent_v2.10.2",
        );
    }
    tail(&mut out, &device_id(&m.hostname, s.time));
    out
}
