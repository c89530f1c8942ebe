//! osquery results log (filesystem logger): one JSON object per line.
//!
//! Every report of a host logs, at the same unix time: `os_version`,
//! `system_info` and `interface_addresses` as snapshots (the heartbeat that
//! says "seen today", and the address that attributes untagged machines),
//! then `patches`, `programs` (or `deb_packages`,
//! `rpm_packages`, `apps`) and `windows_optional_features`: as snapshots on
//! the host's first report of the history, as differential results
//! (`diffResults` with `added`/`removed`) afterwards — which is what a real
//! osquery pack with differential queries writes, and why the files stay
//! small.

use super::{calendar_time, compact_date, json_kv, json_str, netmask, us_date};
use crate::fleet::{Kb, Machine, Snapshot, Sw, Vendor};
use crate::os::{self, Family};
use crate::rng::hash_str;
use crate::sector::Site;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::hash::Hash;
use vigie_core::Day;

/// The fixed part of every line of one host report.
fn line_head(m: &Machine, tag: Option<&str>, time: i64, counter: u64) -> String {
    let mut h = String::with_capacity(256);
    h.push_str(",\"hostIdentifier\":");
    json_str(&mut h, &m.hostname);
    h.push_str(",\"calendarTime\":");
    json_str(&mut h, &calendar_time(time));
    let _ = write!(
        h,
        ",\"unixTime\":{time},\"epoch\":0,\"counter\":{counter},\"numerics\":false,\"decorations\":{{"
    );
    json_kv(&mut h, true, "host_uuid", &m.uuid);
    json_kv(&mut h, false, "hostname", &m.hostname);
    if let Some(tag) = tag {
        json_kv(&mut h, false, "establishment", tag);
    }
    h.push('}');
    h
}

fn row(pairs: &[(&str, &str)]) -> String {
    let mut r = String::with_capacity(160);
    r.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        json_kv(&mut r, i == 0, k, v);
    }
    r.push('}');
    r
}

fn snapshot_line(out: &mut String, query: &str, head: &str, rows: &[String]) {
    out.push_str("{\"name\":");
    json_str(out, query);
    out.push_str(head);
    out.push_str(",\"snapshot\":[");
    out.push_str(&rows.join(","));
    out.push_str("],\"action\":\"snapshot\"}\n");
}

/// Writes the table as a snapshot, or as the difference from `prev`.
/// Differences are computed on facts, and only changed rows are formatted.
fn table<T: Eq + Hash>(
    out: &mut String,
    query: &str,
    head: &str,
    rows: &[T],
    prev: Option<&[T]>,
    format: impl Fn(&T) -> String,
) {
    let Some(prev) = prev else {
        let formatted: Vec<String> = rows.iter().map(&format).collect();
        snapshot_line(out, query, head, &formatted);
        return;
    };
    let before: HashSet<&T> = prev.iter().collect();
    let now: HashSet<&T> = rows.iter().collect();
    let added: Vec<String> = rows
        .iter()
        .filter(|r| !before.contains(r))
        .map(&format)
        .collect();
    let removed: Vec<String> = prev
        .iter()
        .filter(|r| !now.contains(r))
        .map(&format)
        .collect();
    if added.is_empty() && removed.is_empty() {
        return;
    }
    out.push_str("{\"name\":");
    json_str(out, query);
    out.push_str(head);
    out.push_str(",\"diffResults\":{\"added\":[");
    out.push_str(&added.join(","));
    out.push_str("],\"removed\":[");
    out.push_str(&removed.join(","));
    out.push_str("]}}\n");
}

pub(crate) fn vendor_name(v: Vendor) -> &'static str {
    match v {
        Vendor::Hp => "HP",
        Vendor::Dell => "Dell Inc.",
        Vendor::Lenovo => "LENOVO",
        Vendor::Vmware => "VMware, Inc.",
        Vendor::Apple => "Apple Inc.",
    }
}

pub(crate) fn fqdn(m: &Machine, site: &Site) -> String {
    if m.rogue {
        m.hostname.clone()
    } else {
        format!("{}.{}", m.hostname.to_lowercase(), site.domain)
    }
}

fn os_row(m: &Machine, s: &Snapshot) -> String {
    let spec = os::spec(s.os);
    match spec.family {
        Family::Windows => {
            let name = spec.product_name(m.pro);
            let (major, minor) = spec.nt_major_minor().split_once('.').unwrap_or(("", ""));
            let ubr = s.ubr.map(|u| u.to_string()).unwrap_or_default();
            row(&[
                ("name", &name),
                ("version", spec.version),
                ("major", major),
                ("minor", minor),
                ("build", spec.nt_build()),
                ("platform", "windows"),
                ("arch", "64-bit"),
                ("revision", &ubr),
            ])
        }
        Family::Linux => {
            let (platform, like) = match spec.key {
                k if k.starts_with("ubuntu") => ("ubuntu", "debian"),
                k if k.starts_with("rhel") => ("rhel", "fedora"),
                _ => ("debian", ""),
            };
            let mut parts = spec.version.split('.');
            let major = parts.next().unwrap_or("");
            let minor = parts.next().unwrap_or("0").trim_start_matches('0');
            row(&[
                ("name", spec.name),
                ("version", spec.display),
                ("major", major),
                ("minor", if minor.is_empty() { "0" } else { minor }),
                ("patch", "0"),
                ("build", ""),
                ("platform", platform),
                ("platform_like", like),
                ("codename", spec.codename),
                ("arch", "x86_64"),
            ])
        }
        Family::Macos => {
            let mut parts = spec.version.split('.');
            row(&[
                ("name", spec.name),
                ("version", spec.version),
                ("major", parts.next().unwrap_or("")),
                ("minor", parts.next().unwrap_or("0")),
                ("patch", parts.next().unwrap_or("0")),
                ("build", spec.codename),
                ("platform", "darwin"),
                ("platform_like", "darwin"),
                ("codename", ""),
                ("arch", "arm64"),
            ])
        }
    }
}

/// GUID-like product code, stable per name.
pub(crate) fn product_code(name: &str) -> String {
    let h = hash_str(name);
    let g = hash_str(&format!("{name}#"));
    format!(
        "{{{:08X}-{:04X}-{:04X}-{:04X}-{:012X}}}",
        h >> 32,
        (h >> 16) & 0xFFFF,
        h & 0xFFFF,
        g >> 48,
        g & 0xFFFF_FFFF_FFFF
    )
}

fn software_query(s: &Snapshot) -> &'static str {
    let spec = os::spec(s.os);
    match spec.family {
        Family::Windows => "pack_vigie_programs",
        Family::Linux if spec.is_rpm() => "pack_vigie_rpm_packages",
        Family::Linux => "pack_vigie_deb_packages",
        Family::Macos => "pack_vigie_apps",
    }
}

fn software_row(query: &str, sw: &Sw) -> String {
    match query {
        "pack_vigie_programs" => {
            let date =
                Day::from_number(19_000 + i32::try_from(hash_str(sw.version) % 1500).unwrap_or(0));
            row(&[
                ("name", sw.name),
                ("version", sw.version),
                ("publisher", sw.publisher),
                ("install_date", &compact_date(date)),
            ])
        }
        "pack_vigie_rpm_packages" => {
            let (version, release) = sw.version.split_once('-').unwrap_or((sw.version, ""));
            row(&[
                ("name", sw.name),
                ("version", version),
                ("release", release),
                ("vendor", sw.publisher),
                ("arch", "x86_64"),
            ])
        }
        "pack_vigie_deb_packages" => row(&[
            ("name", sw.name),
            ("version", sw.version),
            ("arch", "amd64"),
            ("maintainer", sw.publisher),
            ("status", "install ok installed"),
        ]),
        _ => {
            let app = format!("{}.app", sw.name);
            row(&[
                ("name", &app),
                ("path", &format!("/Applications/{app}")),
                ("bundle_identifier", sw.bundle),
                ("bundle_name", sw.name),
                ("bundle_short_version", sw.version),
                ("display_name", sw.name),
            ])
        }
    }
}

fn hotfix_row(m: &Machine, kb: &Kb) -> String {
    row(&[
        ("hotfix_id", &kb.id()),
        (
            "description",
            if kb.security {
                "Security Update"
            } else {
                "Update"
            },
        ),
        ("installed_on", &us_date(kb.installed)),
        ("csname", &m.hostname),
    ])
}

/// Windows optional features, where Windows exposes SMB 1.0 as one
/// (8.1 / 2012 R2 and later).
fn feature_rows(s: &Snapshot) -> Option<Vec<String>> {
    let spec = os::spec(s.os);
    let smb1_feature = spec.is_windows()
        && !matches!(spec.servicing, os::Servicing::Xp)
        && spec.nt_major_minor() != "6.1";
    if !smb1_feature {
        return None;
    }
    let state = |on: bool| {
        if on {
            ("1", "Enabled")
        } else {
            ("2", "Disabled")
        }
    };
    let features = [
        ("SMB1Protocol", "SMB 1.0/CIFS File Sharing Support", s.smb1),
        ("SMB1Protocol-Client", "SMB 1.0/CIFS Client", s.smb1),
        ("SMB1Protocol-Server", "SMB 1.0/CIFS Server", s.smb1),
        ("TelnetClient", "Telnet Client", false),
        (
            "NetFx3",
            ".NET Framework 3.5 (includes .NET 2.0 and 3.0)",
            true,
        ),
        (
            "Printing-PrintToPDFServices-Features",
            "Microsoft Print to PDF",
            true,
        ),
        (
            "MicrosoftWindowsPowerShellV2Root",
            "Windows PowerShell 2.0",
            true,
        ),
    ];
    Some(
        features
            .iter()
            .map(|(name, caption, on)| {
                let (st, stn) = state(*on);
                row(&[
                    ("name", name),
                    ("caption", caption),
                    ("state", st),
                    ("statename", stn),
                ])
            })
            .collect(),
    )
}

/// Appends one host report (several lines) to `out`.
pub(crate) fn host_report(
    out: &mut String,
    m: &Machine,
    site: &Site,
    tag: Option<&str>,
    cur: &Snapshot,
    prev: Option<&Snapshot>,
    counter: u64,
) {
    let head = line_head(m, tag, cur.time, counter);
    snapshot_line(out, "pack_vigie_os_version", &head, &[os_row(m, cur)]);
    let system = row(&[
        ("hostname", &fqdn(m, site)),
        ("uuid", &m.uuid),
        ("hardware_vendor", vendor_name(m.vendor)),
        ("hardware_model", m.model),
        ("hardware_serial", &m.serial),
        ("computer_name", &m.hostname),
    ]);
    snapshot_line(out, "pack_vigie_system_info", &head, &[system]);
    let ip = m.ip.to_string();
    let mask = netmask(m.mask_len).to_string();
    let iface = row(&[
        ("interface", "Ethernet"),
        ("address", &ip),
        ("mask", &mask),
        ("type", "dhcp"),
    ]);
    // A snapshot every time: untagged machines are attributed by address.
    snapshot_line(out, "pack_vigie_interface_addresses", &head, &[iface]);

    if os::spec(cur.os).is_windows() {
        let before = prev.map(|p| &p.hotfixes[..]);
        table(
            out,
            "pack_vigie_patches",
            &head,
            &cur.hotfixes,
            before,
            |kb| hotfix_row(m, kb),
        );
    }
    let query = software_query(cur);
    // A new package table (the OS changed family) starts over.
    let before = prev
        .filter(|p| software_query(p) == query)
        .map(|p| &p.software[..]);
    table(out, query, &head, &cur.software, before, |sw| {
        software_row(query, sw)
    });
    if let Some(now) = feature_rows(cur) {
        let before = prev.and_then(feature_rows);
        table(
            out,
            "pack_vigie_windows_features",
            &head,
            &now,
            before.as_deref(),
            String::clone,
        );
    }
}
