//! nmap XML (`nmap -oX`) of a weekly SMB scan of an establishment's subnet:
//! `-p22,135,139,445,3389 --script smb-protocols,smb-vuln-ms17-010,smb-os-discovery`.
//!
//! As with real nmap, `smb-os-discovery` and `smb-vuln-ms17-010` only
//! answer over SMBv1: hosts that no longer offer it show their dialects and
//! their reverse-DNS name, nothing more.

use super::osquery::fqdn;
use super::xml_text;
use crate::fleet::{Machine, Snapshot};
use crate::os::{self, Family};
use crate::sector::Site;
use std::fmt::Write as _;

pub(crate) fn header(out: &mut String, site: &Site, start: i64) {
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner=\"nmap\" args=\"nmap -sS -Pn -p22,135,139,445,3389 --script smb-protocols,smb-vuln-ms17-010,smb-os-discovery -oX - {net}\" start=\"{start}\" startstr=\"{startstr}\" version=\"7.94\" xmloutputversion=\"1.05\">\n<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"5\" services=\"22,135,139,445,3389\"/>\n<verbose level=\"0\"/>\n<debugging level=\"0\"/>\n",
        net = site.subnet,
        startstr = super::calendar_time(start).trim_end_matches(" UTC"),
    );
}

pub(crate) fn footer(out: &mut String, end: i64, up: u64, total: u64) {
    let _ = write!(
        out,
        "<runstats><finished time=\"{end}\" timestr=\"{ts}\" summary=\"Nmap done; {total} IP addresses ({up} hosts up)\" elapsed=\"{el}\" exit=\"success\"/><hosts up=\"{up}\" down=\"{down}\" total=\"{total}\"/>\n</runstats>\n</nmaprun>\n",
        ts = super::calendar_time(end).trim_end_matches(" UTC"),
        el = 60 + up,
        down = total.saturating_sub(up),
    );
}

fn port(out: &mut String, id: u16, open: bool, service: &str) {
    let (state, reason) = if open {
        ("open", "syn-ack")
    } else {
        ("closed", "reset")
    };
    let _ = writeln!(
        out,
        "<port protocol=\"tcp\" portid=\"{id}\"><state state=\"{state}\" reason=\"{reason}\" reason_ttl=\"128\"/><service name=\"{service}\" method=\"table\" conf=\"3\"/></port>"
    );
}

fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    xml_text(&mut out, s);
    out.replace('\n', "&#xa;")
}

/// One `<host>` element; `time` is when the host was probed.
pub(crate) fn host(out: &mut String, m: &Machine, site: &Site, s: &Snapshot, time: i64) {
    let spec = os::spec(s.os);
    let _ = write!(
        out,
        "<host starttime=\"{time}\" endtime=\"{end}\"><status state=\"up\" reason=\"arp-response\" reason_ttl=\"0\"/>\n<address addr=\"{ip}\" addrtype=\"ipv4\"/>\n<address addr=\"{mac}\" addrtype=\"mac\"/>\n<hostnames>\n",
        end = time + 12,
        ip = m.ip,
        mac = m.mac,
    );
    if !m.rogue {
        let _ = writeln!(
            out,
            "<hostname name=\"{}\" type=\"PTR\"/>",
            attr(&fqdn(m, site))
        );
    }
    out.push_str("</hostnames>\n<ports>");
    let windows = spec.is_windows();
    port(out, 22, !windows, "ssh");
    port(out, 135, windows, "msrpc");
    port(out, 139, windows, "netbios-ssn");
    port(
        out,
        445,
        windows || spec.family == Family::Macos,
        "microsoft-ds",
    );
    port(out, 3389, windows, "ms-wbt-server");
    out.push_str("</ports>\n");
    if !windows {
        let guess = match spec.family {
            Family::Macos => "Apple macOS 12 (Monterey) - 14 (Sonoma) (Darwin 21.1.0 - 23.6.0)",
            _ => "Linux 4.15 - 5.19",
        };
        let _ = writeln!(
            out,
            "<os><osmatch name=\"{guess}\" accuracy=\"96\" line=\"70000\"></osmatch></os>"
        );
        if spec.family == Family::Macos {
            out.push_str("<hostscript><script id=\"smb-protocols\" output=\"&#xa;  dialects: &#xa;    2:0:2&#xa;    2:1:0&#xa;    3:0:0&#xa;    3:0:2&#xa;    3:1:1\"><table key=\"dialects\">\n<elem>2:0:2</elem>\n<elem>2:1:0</elem>\n<elem>3:0:0</elem>\n<elem>3:0:2</elem>\n<elem>3:1:1</elem>\n</table>\n</script></hostscript>");
        }
        out.push_str("</host>\n");
        return;
    }
    let nt = spec.nt_major_minor();
    let mut dialects: Vec<&str> = Vec::new();
    if s.smb1 {
        dialects.push("NT LM 0.12 (SMBv1) [dangerous, but default]");
    }
    if nt != "5.1" {
        dialects.extend(["2:0:2", "2:1:0"]);
        if nt == "6.3" || nt == "10.0" {
            dialects.extend(["3:0:0", "3:0:2"]);
        }
        if nt == "10.0" {
            dialects.push("3:1:1");
        }
    }
    out.push_str("<hostscript>");
    if s.smb1 {
        let netbios = m.hostname.to_uppercase();
        let domain = site.domain.as_str();
        let workgroup = domain.split('.').next().unwrap_or(domain).to_uppercase();
        let fq = format!("{netbios}.{domain}");
        let output = format!(
            "\n  OS: {} ({})\n  Computer name: {netbios}\n  NetBIOS computer name: {netbios}\\x00\n  Domain name: {domain}\n  FQDN: {fq}\n",
            spec.smb_os, spec.lanmanager
        );
        let _ = write!(
            out,
            "<script id=\"smb-os-discovery\" output=\"{}\"><elem key=\"os\">{}</elem>\n<elem key=\"lanmanager\">{}</elem>\n<elem key=\"server\">{}\\x00</elem>\n<elem key=\"fqdn\">{}</elem>\n<elem key=\"domain_dns\">{}</elem>\n<elem key=\"workgroup\">{}\\x00</elem>\n</script>",
            attr(&output),
            attr(spec.smb_os),
            attr(spec.lanmanager),
            attr(&netbios),
            attr(&fq),
            attr(domain),
            attr(&workgroup),
        );
    }
    let list: String = dialects.iter().map(|d| format!("&#xa;    {d}")).collect();
    let _ = writeln!(
        out,
        "<script id=\"smb-protocols\" output=\"&#xa;  dialects: {list}\"><table key=\"dialects\">"
    );
    for d in &dialects {
        let _ = writeln!(out, "<elem>{d}</elem>");
    }
    out.push_str("</table>\n</script>");
    if s.smb1 {
        let vulnerable = spec.ms17_affected() && !s.ms17_fixed;
        if vulnerable {
            out.push_str("<script id=\"smb-vuln-ms17-010\" output=\"&#xa;  VULNERABLE:&#xa;  Remote Code Execution vulnerability in Microsoft SMBv1 servers (ms17-010)&#xa;    State: VULNERABLE&#xa;    IDs:  CVE:CVE-2017-0143&#xa;    Risk factor: HIGH&#xa;\"><table key=\"CVE-2017-0143\">\n<elem key=\"title\">Remote Code Execution vulnerability in Microsoft SMBv1 servers (ms17-010)</elem>\n<elem key=\"state\">VULNERABLE</elem>\n<table key=\"ids\">\n<elem>CVE:CVE-2017-0143</elem>\n</table>\n<elem key=\"risk\">HIGH</elem>\n</table>\n</script>");
        } else {
            out.push_str("<script id=\"smb-vuln-ms17-010\" output=\"&#xa;  NOT VULNERABLE:&#xa;  Remote Code Execution vulnerability in Microsoft SMBv1 servers (ms17-010)&#xa;    State: NOT VULNERABLE&#xa;\"><table key=\"NS\">\n<elem key=\"title\">Remote Code Execution vulnerability in Microsoft SMBv1 servers (ms17-010)</elem>\n<elem key=\"state\">NOT VULNERABLE</elem>\n</table>\n</script>");
        }
    }
    out.push_str("</hostscript>\n</host>\n");
}
