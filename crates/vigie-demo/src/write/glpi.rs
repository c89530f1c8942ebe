//! GLPI Agent native JSON inventory (`glpi-agent --json`), one document per
//! machine per inventory.

use super::osquery::{fqdn, product_code, vendor_name};
use super::{device_id, json_kv, json_str, local_iso, local_offset, netmask};
use crate::fleet::{Machine, Snapshot};
use crate::os::{self, Family};
use crate::sector::Site;

fn obj(out: &mut String, pairs: &[(&str, &str)]) {
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        json_kv(out, i == 0, k, v);
    }
    out.push('}');
}

/// The operating-system fields GLPI agents print.
pub(crate) struct AgentOs {
    pub name: &'static str,
    pub full_name: String,
    pub version: String,
    pub kernel_name: &'static str,
    pub kernel_version: String,
    pub service_pack: String,
}

pub(crate) fn agent_os(m: &Machine, s: &Snapshot) -> AgentOs {
    let spec = os::spec(s.os);
    match spec.family {
        Family::Windows => {
            let nt10 = matches!(spec.servicing, os::Servicing::Nt10 { .. });
            AgentOs {
                name: "Windows",
                full_name: spec.product_name(m.pro),
                version: spec.display.to_string(),
                kernel_name: "MSWin32",
                kernel_version: spec.version.to_string(),
                // GLPI agents put "build.UBR" in service_pack on Windows 10+.
                service_pack: match (nt10, s.ubr) {
                    (true, Some(ubr)) => format!("{}.{ubr}", spec.nt_build()),
                    _ => spec.service_pack.to_string(),
                },
            }
        }
        Family::Linux => AgentOs {
            name: spec.name,
            full_name: format!("{} {}", spec.name, spec.display),
            version: spec.display.to_string(),
            kernel_name: "linux",
            kernel_version: spec.kernel.to_string(),
            service_pack: String::new(),
        },
        Family::Macos => AgentOs {
            name: "MacOSX",
            full_name: format!("macOS {}", spec.version),
            version: spec.version.to_string(),
            kernel_name: "darwin",
            kernel_version: spec.kernel.to_string(),
            service_pack: String::new(),
        },
    }
}

pub(crate) fn document(m: &Machine, site: &Site, tag: Option<&str>, s: &Snapshot) -> String {
    let (offset, offset_text, tz_name) = local_offset(s.time, m.french);
    let local = s.time + offset;
    let mut out = String::with_capacity(24 * 1024);
    out.push_str("{\n  \"action\": \"inventory\",\n  \"content\": {\n    \"accesslog\": ");
    obj(
        &mut out,
        &[("logdate", &local_iso(s.time, offset)), ("userid", "N/A")],
    );
    out.push_str(",\n    \"bios\": ");
    obj(
        &mut out,
        &[
            ("smanufacturer", vendor_name(m.vendor)),
            ("smodel", m.model),
            ("ssn", &m.serial),
        ],
    );
    out.push_str(",\n    \"hardware\": ");
    obj(
        &mut out,
        &[
            ("name", &m.hostname),
            ("uuid", &m.uuid),
            ("workgroup", &site.domain),
            (
                "vmsystem",
                if m.model.starts_with("VMware") {
                    "VMware"
                } else {
                    "Physical"
                },
            ),
        ],
    );
    out.push_str(",\n    \"networks\": [");
    obj(
        &mut out,
        &[
            ("description", "Ethernet"),
            ("ipaddress", &m.ip.to_string()),
            ("ipmask", &netmask(m.mask_len).to_string()),
            ("macaddr", &m.mac),
            ("status", "Up"),
            ("type", "ethernet"),
        ],
    );
    out.push_str("],\n    \"operatingsystem\": {");
    let os = agent_os(m, s);
    json_kv(&mut out, true, "arch", "64-bit");
    json_kv(&mut out, false, "fqdn", &fqdn(m, site));
    json_kv(&mut out, false, "full_name", &os.full_name);
    json_kv(&mut out, false, "kernel_name", os.kernel_name);
    json_kv(&mut out, false, "kernel_version", &os.kernel_version);
    json_kv(&mut out, false, "name", os.name);
    if !os.service_pack.is_empty() {
        json_kv(&mut out, false, "service_pack", &os.service_pack);
    }
    out.push_str(",\"timezone\":");
    obj(&mut out, &[("name", tz_name), ("offset", offset_text)]);
    json_kv(&mut out, false, "version", &os.version);
    out.push_str("},\n    \"softwares\": [");
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("\n      ");
    };
    for kb in &s.hotfixes {
        sep(&mut out);
        obj(
            &mut out,
            &[
                ("from", "WMI"),
                ("install_date", &kb.installed.to_string()),
                ("name", &kb.id()),
                ("publisher", "Microsoft Corporation"),
                (
                    "release_type",
                    if kb.security {
                        "Security Update"
                    } else {
                        "Update"
                    },
                ),
                ("system_category", "system_component"),
            ],
        );
    }
    let spec = os::spec(s.os);
    let from = match spec.family {
        Family::Windows => "registry",
        Family::Linux if spec.is_rpm() => "rpm",
        Family::Linux => "deb",
        Family::Macos => "system_profiler",
    };
    for sw in &s.software {
        sep(&mut out);
        let mut pairs: Vec<(&str, &str)> = vec![
            ("from", from),
            ("name", sw.name),
            ("system_category", "application"),
            ("version", sw.version),
        ];
        if !sw.publisher.is_empty() {
            pairs.push(("publisher", sw.publisher));
        }
        let guid;
        if spec.is_windows() {
            guid = product_code(sw.name);
            pairs.push(("guid", &guid));
        }
        obj(&mut out, &pairs);
    }
    out.push_str("\n    ],\n    \"versionclient\": \"GLPI-Agent_v1.11\"\n  },\n  \"deviceid\": ");
    json_str(&mut out, &device_id(&m.hostname, local));
    out.push_str(",\n  \"itemtype\": \"Computer\",\n  \"partial\": false");
    if let Some(tag) = tag {
        out.push_str(",\n  \"tag\": ");
        json_str(&mut out, tag);
    }
    out.push_str("\n}\n");
    out
}
