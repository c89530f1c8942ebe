//! CSV exports read through vigie's default header recognition: a weekly
//! ConfigMgr report (England trusts), a daily Intune export of a GP IT
//! provider, and a weekly GLPI computer list with French headers.
//!
//! All are "one row per (device, third-party program)": the first row of a device
//! carries its identity, OS and updates, the following rows only its name
//! and one program each, as joined reports print them.

use super::local_iso;
use crate::fleet::{Machine, Snapshot};
use crate::os::{self, Family};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Sccm,
    Intune,
    GlpiFr,
}

pub(crate) fn header(layout: Layout) -> &'static [&'static str] {
    match layout {
        Layout::Sccm => &[
            "Computer Name",
            "Serial Number",
            "SMBIOS GUID",
            "Operating System",
            "OS Version",
            "IP Addresses",
            "MAC Addresses",
            "Installed KBs",
            "Site Code",
            "Last Hardware Scan",
            "Product Name",
            "Product Version",
            "Publisher",
        ],
        Layout::Intune => &[
            "Device name",
            "Serial number",
            "Operating system",
            "OS version",
            "IP address",
            "Site Code",
            "Last check-in",
            "Application",
            "Application version",
            "Publisher",
        ],
        Layout::GlpiFr => &[
            "Nom",
            "Numéro de série",
            "UUID",
            "Système d'exploitation",
            "Version du système",
            "Adresse IP",
            "Entité",
            "Dernier inventaire",
            "Correctifs",
            "Logiciel",
            "Version",
            "Éditeur",
        ],
    }
}

pub(crate) fn delimiter(layout: Layout) -> u8 {
    if layout == Layout::GlpiFr { b';' } else { b',' }
}

fn os_version(s: &Snapshot) -> String {
    let spec = os::spec(s.os);
    match (spec.family, s.ubr) {
        (Family::Windows, Some(ubr)) => format!("{}.{ubr}", spec.version),
        _ => spec.version.to_string(),
    }
}

/// The rows of one device.
pub(crate) fn device_rows(
    layout: Layout,
    m: &Machine,
    tag: Option<&str>,
    s: &Snapshot,
) -> Vec<Vec<String>> {
    let spec = os::spec(s.os);
    let when = local_iso(s.time, 0);
    let kbs: Vec<String> = s.hotfixes.iter().map(|k| k.id()).collect();
    let tag = tag.unwrap_or("").to_string();
    let os_name = match (layout, spec.family) {
        (Layout::Intune, Family::Windows) => "Windows".to_string(),
        (_, Family::Windows) => spec.product_name(m.pro),
        (_, _) => format!("{} {}", spec.name, spec.display),
    };
    let mut rows = Vec::with_capacity(s.software.len().max(1));
    // Reports list third-party software: Microsoft components and driver
    // packages are filtered out, as ConfigMgr/Intune/GLPI report filters do.
    let mut programs: Vec<(&str, &str, &str)> = s
        .software
        .iter()
        .filter(|sw| {
            sw.publisher != "Microsoft Corporation"
                && !sw.name.starts_with("Windows Driver Package")
        })
        .map(|sw| (sw.name, sw.version, sw.publisher))
        .collect();
    if programs.is_empty() {
        programs.push(("", "", ""));
    }
    for (i, (name, version, publisher)) in programs.into_iter().enumerate() {
        let first = i == 0;
        let full = |v: String| if first { v } else { String::new() };
        let row = match layout {
            Layout::Sccm => vec![
                m.hostname.clone(),
                full(m.serial.clone()),
                full(m.uuid.clone()),
                full(os_name.clone()),
                full(os_version(s)),
                full(m.ip.to_string()),
                full(m.mac.clone()),
                full(kbs.join(", ")),
                full(tag.clone()),
                full(when.clone()),
                name.to_string(),
                version.to_string(),
                publisher.to_string(),
            ],
            Layout::Intune => vec![
                m.hostname.clone(),
                full(m.serial.clone()),
                full(os_name.clone()),
                full(os_version(s)),
                full(m.ip.to_string()),
                full(tag.clone()),
                full(when.clone()),
                name.to_string(),
                version.to_string(),
                publisher.to_string(),
            ],
            Layout::GlpiFr => {
                let (day, h, mi, _) = super::civil(s.time);
                let (y, mo, d) = super::ymd(day);
                vec![
                    m.hostname.clone(),
                    full(m.serial.clone()),
                    full(m.uuid.clone()),
                    full(os_name.clone()),
                    full(os_version(s)),
                    full(m.ip.to_string()),
                    full(tag.clone()),
                    full(format!("{d:02}/{mo:02}/{y} {h:02}:{mi:02}")),
                    full(kbs.join(" ")),
                    name.to_string(),
                    version.to_string(),
                    publisher.to_string(),
                ]
            }
        };
        rows.push(row);
    }
    rows
}
