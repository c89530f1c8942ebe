//! Per-format tests on real and hand-written samples (see tests/data/README.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufReader, Cursor};
use std::path::PathBuf;
use vigie_core::{Observation, OsFamily, Section, SourceKind};
use vigie_inventory::{CsvMapping, Format, ParseOptions, detect, parse};

fn data(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn parse_all(format: Format, bytes: &[u8]) -> Vec<Observation> {
    parse_with(format, bytes, &ParseOptions::default())
}

fn parse_with(format: Format, bytes: &[u8], opts: &ParseOptions) -> Vec<Observation> {
    // A small BufReader capacity exercises reads that split tokens.
    parse(
        format,
        BufReader::with_capacity(97, Cursor::new(bytes.to_vec())),
        opts,
    )
    .collect::<Result<Vec<_>, _>>()
    .unwrap()
}

fn detected(path: &str) -> (Format, Vec<u8>) {
    let bytes = data(path);
    let format = detect(&bytes).unwrap_or_else(|| panic!("{path}: not detected"));
    (format, bytes)
}

fn hotfix_ids(obs: &Observation) -> Vec<String> {
    match &obs.hotfixes {
        Section::Full(list) => list.iter().map(|h| h.id.clone()).collect(),
        other => panic!("hotfixes not a full list: {other:?}"),
    }
}

fn software_names(obs: &Observation) -> Vec<String> {
    match &obs.software {
        Section::Full(list) => list.iter().map(|s| s.name.clone()).collect(),
        other => panic!("software not a full list: {other:?}"),
    }
}

fn ts(obs: &Observation) -> String {
    obs.observed_at.map(|t| t.to_string()).unwrap_or_default()
}

// ---------------------------------------------------------------- Fusion / OCS

#[test]
fn fusion_windows81_sample() {
    let (format, bytes) = detected("fusion/fusioninventory_windows81_sample.xml");
    assert_eq!(format, Format::FusionXml);
    let obs = parse_all(format, &bytes);
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.source, SourceKind::FusionXml);
    assert_eq!(o.host.hostname.as_deref(), Some("pc-arg-23"));
    assert_eq!(o.host.fqdn.as_deref(), Some("pc-arg-23.cedre.local"));
    assert_eq!(o.host.serial.as_deref(), Some("CZC0479792"));
    assert_eq!(
        o.host.uuid.as_deref(),
        Some("33E737A8-F827-11DF-9297-47C0A301005A")
    );
    assert_eq!(o.establishment_hint.as_deref(), Some("3923"));
    assert!(o.host.addresses.contains(&"10.253.6.55".parse().unwrap()));
    assert!(o.host.macs.contains(&"68:b5:99:e6:84:eb".to_string()));
    // LOGDATE 2017-05-15 18:38:07 at the OS offset +0200.
    assert_eq!(ts(o), "2017-05-15T16:38:07Z");
    let os = o.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Windows);
    assert_eq!(
        os.name.as_deref(),
        Some("Microsoft Windows 8.1 Professionnel")
    );
    assert_eq!(os.version.as_deref(), Some("6.3.9600"));
    assert_eq!(os.build, Some(9600));
    assert_eq!(os.ubr, None);
    assert_eq!(os.arch.as_deref(), Some("64-bit"));
    assert_eq!(os.edition.as_deref(), Some("Professional"));
    let kbs = hotfix_ids(o);
    assert!(kbs.contains(&"KB4019215".to_string()), "{kbs:?}");
    let Section::Full(hotfixes) = &o.hotfixes else {
        unreachable!()
    };
    let kb = hotfixes.iter().find(|h| h.id == "KB4019215").unwrap();
    assert_eq!(
        kb.installed_on.map(|d| d.to_string()).as_deref(),
        Some("2017-05-11")
    );
    let names = software_names(o);
    assert!(names.iter().any(|n| n == "CCleaner"));
    assert!(
        !names.iter().any(|n| n == "KB4019215"),
        "hotfixes are not software"
    );
}

#[test]
fn fusion_debian_host_generated() {
    let (format, bytes) = detected("fusion/debian-host.xml");
    assert_eq!(format, Format::FusionXml);
    let obs = parse_all(format, &bytes);
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.source, SourceKind::FusionXml);
    assert_eq!(o.host.hostname.as_deref(), Some("vm"));
    assert_eq!(o.establishment_hint.as_deref(), Some("RBH"));
    assert_eq!(ts(o), "2026-11-22T08:34:33Z");
    let os = o.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Linux);
    assert_eq!(os.name.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
    assert_eq!(os.version.as_deref(), Some("12.11"));
    assert_eq!(os.kernel.as_deref(), Some("6.18.44-fc-v657"));
    assert_eq!(os.build, None);
    assert_eq!(o.hotfixes, Section::Unknown, "no KB list on linux");
    let names = software_names(o);
    assert!(names.len() > 500, "{}", names.len());
    assert!(names.iter().any(|n| n == "nmap"));
    assert!(o.host.addresses.contains(&"192.0.2.2".parse().unwrap()));
}

#[test]
fn ocs_debian_host_generated() {
    let bytes = data("ocs/debian-host.ocs");
    // The unix OCS agent writes no VERSIONCLIENT; the parser still knows.
    let obs = parse_all(Format::OcsXml, &bytes);
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.source, SourceKind::OcsXml);
    assert_eq!(o.host.hostname.as_deref(), Some("vm"));
    assert_eq!(o.establishment_hint.as_deref(), Some("RBH"));
    // No ACCESSLOG: the time comes from the DEVICEID suffix.
    assert_eq!(ts(o), "2026-11-22T08:34:35Z");
    let os = o.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Linux);
    assert_eq!(os.name.as_deref(), Some("Debian GNU/Linux 12"));
    assert_eq!(os.version.as_deref(), Some("12"));
    assert!(software_names(o).len() > 500);
    // Parsing it as Fusion gives the same observation: the content decides.
    assert_eq!(parse_all(Format::FusionXml, &bytes), obs);
}

#[test]
fn ocs_windows7_french() {
    let (format, bytes) = detected("ocs/windows7-fr.ocs");
    assert_eq!(format, Format::OcsXml);
    let obs = parse_all(format, &bytes);
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.source, SourceKind::OcsXml);
    assert_eq!(o.host.hostname.as_deref(), Some("CHUN-ACC-017"));
    assert_eq!(o.host.serial.as_deref(), Some("CZC2031XYZ"));
    assert_eq!(
        o.host.uuid.as_deref(),
        Some("6F3A1B2C-9D8E-11E1-8C4B-3C4A92A1B2C3")
    );
    assert_eq!(o.establishment_hint.as_deref(), Some("CHU-NORD"));
    assert_eq!(ts(o), "2017-06-01T10:12:33Z");
    assert_eq!(
        o.host.addresses,
        vec!["10.40.12.17".parse::<std::net::IpAddr>().unwrap()]
    );
    let os = o.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Windows);
    assert_eq!(
        os.name.as_deref(),
        Some("Microsoft Windows 7 Professionnel")
    );
    assert_eq!(os.version.as_deref(), Some("6.1.7601"));
    assert_eq!(os.build, Some(7601));
    assert_eq!(os.service_pack.as_deref(), Some("Service Pack 1"));
    assert_eq!(os.edition.as_deref(), Some("Professional"));
    assert_eq!(hotfix_ids(o), vec!["KB4012212", "KB4019264", "KB976902"]);
    let Section::Full(h) = &o.hotfixes else {
        unreachable!()
    };
    assert_eq!(
        h[0].installed_on.map(|d| d.to_string()).as_deref(),
        Some("2017-03-15")
    );
    let names = software_names(o);
    assert_eq!(
        names,
        vec!["Adobe Reader XI (11.0.20) - Français", "Java 8 Update 121"]
    );
}

#[test]
fn ocs_latin1_declared_encoding_is_transcoded() {
    let utf8 = parse_all(Format::OcsXml, &data("ocs/windows7-fr.ocs"));
    let latin1 = parse_all(Format::OcsXml, &data("ocs/windows7-fr-latin1.ocs"));
    assert_eq!(utf8, latin1);
}

// ---------------------------------------------------------------- GLPI JSON

#[test]
fn glpi_windows10_iot_ltsc() {
    let (format, bytes) = detected("glpi/example_computer_windows10_iot_ltsc.json");
    assert_eq!(format, Format::GlpiJson);
    let obs = parse_all(format, &bytes);
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.source, SourceKind::GlpiJson);
    assert_eq!(o.host.hostname.as_deref(), Some("ARN2032"));
    assert_eq!(o.host.serial.as_deref(), Some("df56dfg-dfg41f5g1f-df4fdg"));
    assert_eq!(
        o.observed_at, None,
        "no logdate and a deviceid without time"
    );
    let os = o.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Windows);
    assert_eq!(
        os.name.as_deref(),
        Some("Microsoft Windows 10 IoT Enterprise LTSC")
    );
    assert_eq!(os.version.as_deref(), Some("10.0.19044"));
    assert_eq!((os.build, os.ubr), (Some(19044), Some(5854)));
    assert_eq!(os.display_version.as_deref(), Some("21H2"));
    assert_eq!(os.edition.as_deref(), Some("IoT Enterprise LTSC"));
    assert_eq!(os.service_pack, None);
    assert_eq!(o.hotfixes, Section::Full(vec![]));
    assert_eq!(software_names(o), vec!["Teclib Software Software"]);
}

#[test]
fn glpi_linux_example() {
    let (format, bytes) = detected("glpi/example_computer_1_linux.json");
    assert_eq!(format, Format::GlpiJson);
    let obs = parse_all(format, &bytes);
    let o = &obs[0];
    assert_eq!(o.host.hostname.as_deref(), Some("glpixps"));
    assert_eq!(o.host.serial.as_deref(), Some("640HP72"));
    assert_eq!(
        o.host.uuid.as_deref(),
        Some("4c4c4544-0034-3010-8048-b6c04f503732")
    );
    assert_eq!(o.establishment_hint.as_deref(), Some("000005"));
    // logdate 2020-06-12 14:19:54 at +0200.
    assert_eq!(ts(o), "2020-06-12T12:19:54Z");
    let os = o.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Linux);
    assert_eq!(os.name.as_deref(), Some("Fedora 31 (Workstation Edition)"));
    assert_eq!(os.kernel.as_deref(), Some("5.6.15-200.fc31.x86_64"));
    assert_eq!(os.version.as_deref(), Some("31"));
    assert!(o.host.addresses.contains(&"192.168.1.142".parse().unwrap()));
    assert!(!o.host.addresses.iter().any(|a| a.is_loopback()));
    assert_eq!(o.hotfixes, Section::Unknown);
    assert_eq!(software_names(o).len(), 6);
}

#[test]
fn glpi_hotfixes_and_deviceid_time() {
    let doc = r#"{"action":"inventory","deviceid":"PC-7-2024-01-31-10-00-00","itemtype":"Computer","tag":"RBH",
      "content":{"hardware":{"name":"PC-7"},
        "operatingsystem":{"name":"Windows","full_name":"Microsoft Windows 7 Professionnel","kernel_version":"6.1.7601","service_pack":"Service Pack 1","arch":"64-bit"},
        "softwares":[{"name":"KB4012212","from":"WMI","release_type":"Security Update","install_date":"2017-03-15"},
                     {"name":"Mise à jour de sécurité pour Windows (KB4019264)","from":"registry"},
                     {"name":"KB4012212","from":"registry","system_category":"security_update"},
                     {"name":"Notepad++","version":"8.6","publisher":"Notepad++ Team"}]}}"#;
    let obs = parse_all(Format::GlpiJson, doc.as_bytes());
    let o = &obs[0];
    assert_eq!(ts(o), "2024-01-31T10:00:00Z");
    assert_eq!(o.establishment_hint.as_deref(), Some("RBH"));
    assert_eq!(hotfix_ids(o), vec!["KB4012212", "KB4019264"]);
    let os = o.os.as_ref().unwrap();
    assert_eq!(os.service_pack.as_deref(), Some("Service Pack 1"));
    assert_eq!(os.version.as_deref(), Some("6.1.7601"));
    assert_eq!(software_names(o), vec!["Notepad++"]);
}

#[test]
fn glpi_non_computer_items_are_skipped() {
    let doc = br#"{"deviceid":"sw-1","itemtype":"NetworkEquipment","content":{}}"#;
    assert!(parse_all(Format::GlpiJson, doc).is_empty());
}

// ---------------------------------------------------------------- osquery

#[test]
fn osquery_windows7_snapshot_groups_queries() {
    let (format, bytes) = detected("osquery/windows7-snapshot.log");
    assert_eq!(format, Format::Osquery);
    let obs = parse_all(format, &bytes);
    assert_eq!(obs.len(), 2, "two hosts");
    let o = &obs[0];
    assert_eq!(o.source, SourceKind::Osquery);
    assert_eq!(o.host.hostname.as_deref(), Some("RBH-PC042"));
    assert_eq!(o.host.fqdn.as_deref(), Some("RBH-PC042.rbh.nhs.uk"));
    assert_eq!(o.host.serial.as_deref(), Some("CZC1234ABC"));
    assert_eq!(
        o.host.uuid.as_deref(),
        Some("4C4C4544-0042-3510-8056-B4C04F4A4E31")
    );
    assert_eq!(o.establishment_hint.as_deref(), Some("RBH"));
    assert_eq!(ts(o), "2024-01-31T10:00:00Z");
    let os = o.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Windows);
    assert_eq!(os.version.as_deref(), Some("6.1.7601"));
    assert_eq!(os.build, Some(7601));
    assert_eq!(os.edition.as_deref(), Some("Professional"));
    assert_eq!(hotfix_ids(o), vec!["KB4012212", "KB4019264", "KB976902"]);
    let Section::Full(h) = &o.hotfixes else {
        unreachable!()
    };
    assert_eq!(
        h[0].installed_on.map(|d| d.to_string()).as_deref(),
        Some("2017-03-15")
    );
    assert_eq!(
        software_names(o),
        vec!["Mozilla Firefox (x64 fr)", "7-Zip 9.20 (x64 edition)"]
    );
    let Section::Full(features) = &o.features else {
        panic!("features: {:?}", o.features)
    };
    assert!(
        features
            .iter()
            .any(|f| f.name == "SMB1Protocol" && f.enabled)
    );
    assert!(
        features
            .iter()
            .any(|f| f.name == "TelnetClient" && !f.enabled)
    );

    let o = &obs[1];
    assert_eq!(o.host.hostname.as_deref(), Some("RBH-PC043"));
    assert_eq!(
        o.os.as_ref().unwrap().edition.as_deref(),
        Some("Enterprise")
    );
    // An empty patches snapshot says "no hotfixes", known from the query name.
    assert_eq!(o.hotfixes, Section::Full(vec![]));
    assert_eq!(o.software, Section::Unknown);
}

#[test]
fn osquery_windows10_batched_diffs() {
    let obs = parse_all(Format::Osquery, &data("osquery/windows10-batched.log"));
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(
        o.host.uuid.as_deref(),
        Some("0f9c1c84-6b1e-4a8e-9e65-3f0f0c8d9a11")
    );
    assert_eq!(o.host.hostname.as_deref(), Some("CHU-LT-0001"));
    assert_eq!(o.host.serial.as_deref(), Some("5CG1234XYZ"));
    assert_eq!(o.establishment_hint.as_deref(), Some("CHU33"));
    let os = o.os.as_ref().unwrap();
    assert_eq!(os.version.as_deref(), Some("10.0.19044"));
    assert_eq!((os.build, os.ubr), (Some(19044), Some(3803)));
    assert_eq!(os.edition.as_deref(), Some("Enterprise LTSC"));
    let Section::Delta { added, removed } = &o.hotfixes else {
        panic!("{:?}", o.hotfixes)
    };
    assert_eq!(
        added.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        vec!["KB5034122"]
    );
    assert_eq!(
        removed.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        vec!["KB5033372"]
    );
    let Section::Delta { added, removed } = &o.software else {
        panic!("{:?}", o.software)
    };
    assert_eq!(added[0].version.as_deref(), Some("121.0.6167.85"));
    assert_eq!(removed[0].version.as_deref(), Some("120.0.6099.217"));
}

#[test]
fn osquery_linux_events() {
    let obs = parse_all(Format::Osquery, &data("osquery/linux-events.log"));
    assert_eq!(obs.len(), 2, "two unix times");
    let o = &obs[0];
    assert_eq!(o.host.hostname.as_deref(), Some("srv-pacs-01.example.org"));
    assert_eq!(o.host.short_hostname().as_deref(), Some("srv-pacs-01"));
    assert_eq!(o.establishment_hint.as_deref(), Some("GHT-SUD"));
    let os = o.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Linux);
    assert_eq!(os.version.as_deref(), Some("12"));
    let Section::Delta { added, removed } = &o.software else {
        panic!("{:?}", o.software)
    };
    assert_eq!(added.len(), 2);
    assert!(removed.is_empty());
    assert!(
        added[1]
            .publisher
            .as_deref()
            .unwrap()
            .starts_with("Matthias Klose")
    );
    let o = &obs[1];
    assert_eq!(ts(o), "2024-02-02T13:00:00Z");
    let Section::Delta { added, removed } = &o.software else {
        panic!("{:?}", o.software)
    };
    assert_eq!(added[0].version.as_deref(), Some("3.0.13-1~deb12u1"));
    assert_eq!(removed[0].version.as_deref(), Some("3.0.11-1~deb12u2"));
}

// ---------------------------------------------------------------- nmap

#[test]
fn nmap_real_samba_with_smbv1() {
    let (format, bytes) = detected("nmap/samba-localhost.xml");
    assert_eq!(format, Format::Nmap);
    let obs = parse_all(format, &bytes);
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.source, SourceKind::Nmap);
    assert_eq!(
        o.host.addresses,
        vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(o.host.hostname.as_deref(), Some("VIGIESMB"));
    assert_eq!(ts(o), "2026-11-22T08:34:52Z");
    assert_eq!(o.os, None, "samba is not windows");
    let net = o.network.as_ref().unwrap();
    assert_eq!(net.smbv1_offered, Some(true));
    assert_eq!(
        net.smb_dialects,
        vec!["NT LM 0.12", "2.0.2", "2.1.0", "3.0.0", "3.0.2", "3.1.1"]
    );
    assert_eq!(net.ms17_010_vulnerable, None, "the script printed nothing");
    assert_eq!(net.open_tcp_ports, vec![445]);
    assert_eq!(net.os_guess.as_deref(), Some("Samba 4.17.12-Debian"));
}

#[test]
fn nmap_real_samba_smb2_only() {
    let obs = parse_all(Format::Nmap, &data("nmap/samba-localhost-smb2only.xml"));
    let net = obs[0].network.as_ref().unwrap();
    assert_eq!(net.smbv1_offered, Some(false));
    assert_eq!(net.smb_dialects, vec!["2.1.0", "3.0.0", "3.0.2", "3.1.1"]);
    assert_eq!(net.open_tcp_ports, vec![445]);
}

#[test]
fn nmap_subnet_scan() {
    let obs = parse_all(Format::Nmap, &data("nmap/hospital-subnet.xml"));
    assert_eq!(obs.len(), 3, "the down host is skipped");
    let win7 = &obs[0];
    assert_eq!(win7.host.hostname.as_deref(), Some("CHUN-ACC-017"));
    assert_eq!(
        win7.host.fqdn.as_deref(),
        Some("CHUN-ACC-017.chu-nord.local")
    );
    assert_eq!(win7.host.macs, vec!["3c:4a:92:a1:b2:c3"]);
    let os = win7.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Windows);
    assert_eq!(os.build, Some(7601));
    assert_eq!(os.version.as_deref(), Some("6.1.7601"));
    assert_eq!(os.service_pack.as_deref(), Some("Service Pack 1"));
    let net = win7.network.as_ref().unwrap();
    assert_eq!(net.smbv1_offered, Some(true));
    assert_eq!(net.ms17_010_vulnerable, Some(true));
    assert_eq!(net.open_tcp_ports, vec![139, 445, 3389]);
    assert_eq!(net.smb_dialects, vec!["NT LM 0.12", "2.0.2", "2.1.0"]);

    let linux = &obs[1];
    let net = linux.network.as_ref().unwrap();
    assert_eq!(
        net.os_guess.as_deref(),
        Some("Linux 5.0 - 5.4"),
        "most accurate osmatch"
    );
    assert_eq!(net.smbv1_offered, None);
    assert_eq!(net.ms17_010_vulnerable, None);
    assert_eq!(linux.os, None);

    let patched = &obs[2];
    assert_eq!(patched.host.hostname.as_deref(), Some("srv-fic"));
    let net = patched.network.as_ref().unwrap();
    assert_eq!(net.smbv1_offered, Some(false));
    assert_eq!(net.ms17_010_vulnerable, Some(false));
    assert_eq!(ts(patched), "2024-02-01T09:30:22Z");
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_sccm_default_mapping() {
    let (format, bytes) = detected("csv/sccm.csv");
    assert_eq!(format, Format::Csv);
    let obs = parse_all(format, &bytes);
    assert_eq!(obs.len(), 3);
    let o = &obs[0];
    assert_eq!(o.source, SourceKind::Csv);
    assert_eq!(o.host.hostname.as_deref(), Some("RBH-PC042"));
    assert_eq!(o.host.serial.as_deref(), Some("CZC1234ABC"));
    assert_eq!(o.establishment_hint.as_deref(), Some("RBH"));
    assert_eq!(
        o.host.addresses,
        vec!["10.1.2.42".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(hotfix_ids(o), vec!["KB4012212", "KB4019264", "KB976902"]);
    assert_eq!(ts(o), "2024-01-31T10:00:00Z");
    let os = o.os.as_ref().unwrap();
    assert_eq!((os.family, os.build), (OsFamily::Windows, Some(7601)));
    let os = obs[1].os.as_ref().unwrap();
    assert_eq!(
        (os.version.as_deref(), os.build, os.ubr),
        (Some("10.0.19044"), Some(19044), Some(3803))
    );
    assert_eq!(os.edition.as_deref(), Some("Enterprise LTSC"));
    let srv = &obs[2];
    assert_eq!(srv.hotfixes, Section::Unknown, "an empty cell says nothing");
    assert_eq!(srv.observed_at, None);
    assert_eq!(
        srv.os.as_ref().unwrap().edition.as_deref(),
        Some("Server Standard")
    );
}

#[test]
fn csv_french_latin1_one_row_per_software() {
    let (format, bytes) = detected("csv/intune-fr-latin1.csv");
    assert_eq!(format, Format::Csv);
    let obs = parse_all(format, &bytes);
    assert_eq!(obs.len(), 2, "rows of one host are merged");
    let o = &obs[0];
    assert_eq!(o.host.hostname.as_deref(), Some("CHUN-ACC-017"));
    assert_eq!(o.host.serial.as_deref(), Some("CZC2031XYZ"));
    assert_eq!(ts(o), "2024-02-01T09:15:00Z", "day first");
    let Section::Full(sw) = &o.software else {
        panic!()
    };
    assert_eq!(sw.len(), 2);
    assert_eq!(sw[1].name, "Logiciel de télétransmission");
    assert_eq!(sw[1].publisher.as_deref(), Some("Éditeur Santé"));
    let os = o.os.as_ref().unwrap();
    assert_eq!((os.build, os.ubr), (Some(19045), Some(3803)));
    assert_eq!(os.edition.as_deref(), Some("Enterprise"));
    assert_eq!(ts(&obs[1]), "2024-01-31T17:40:00Z");
}

#[test]
fn csv_explicit_mapping() {
    let text = "Asset|Where|Patches\nPC1|SITE9|KB5034122 KB5033372\n";
    let mapping = CsvMapping::from_pairs([
        "hostname=asset",
        "establishment=Where",
        "hotfixes=Patches",
        "delimiter=|",
    ])
    .unwrap();
    let opts = ParseOptions {
        csv_mapping: Some(mapping),
        ..ParseOptions::default()
    };
    let obs = parse_with(Format::Csv, text.as_bytes(), &opts);
    assert_eq!(obs[0].host.hostname.as_deref(), Some("PC1"));
    assert_eq!(obs[0].establishment_hint.as_deref(), Some("SITE9"));
    assert_eq!(hotfix_ids(&obs[0]), vec!["KB5034122", "KB5033372"]);

    let toml = "hostname = \"Asset\"\nauto_detect = false\n";
    let opts = ParseOptions {
        csv_mapping: Some(CsvMapping::from_toml_str(toml).unwrap()),
        ..ParseOptions::default()
    };
    let obs = parse_with(Format::Csv, text.as_bytes(), &opts);
    assert_eq!(obs[0].establishment_hint, None, "auto-detection is off");

    let opts = ParseOptions {
        csv_mapping: Some(CsvMapping::from_pairs(["hostname=Missing"]).unwrap()),
        ..ParseOptions::default()
    };
    let err = parse(Format::Csv, text.as_bytes(), &opts)
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.location, vigie_inventory::Location::Line(1));
    assert!(err.message.contains("\"Missing\""), "{err}");
}

#[test]
fn every_fixture_is_detected_as_its_format() {
    for (path, format) in [
        (
            "fusion/fusioninventory_windows81_sample.xml",
            Format::FusionXml,
        ),
        ("fusion/debian-host.xml", Format::FusionXml),
        ("ocs/windows7-fr.ocs", Format::OcsXml),
        ("ocs/windows7-fr-latin1.ocs", Format::OcsXml),
        ("glpi/example_computer_1_linux.json", Format::GlpiJson),
        (
            "glpi/example_computer_windows10_iot_ltsc.json",
            Format::GlpiJson,
        ),
        ("osquery/windows7-snapshot.log", Format::Osquery),
        ("osquery/windows10-batched.log", Format::Osquery),
        ("osquery/linux-events.log", Format::Osquery),
        ("nmap/samba-localhost.xml", Format::Nmap),
        ("nmap/hospital-subnet.xml", Format::Nmap),
        ("csv/sccm.csv", Format::Csv),
        ("csv/intune-fr-latin1.csv", Format::Csv),
    ] {
        assert_eq!(detect(&data(path)), Some(format), "{path}");
    }
}
