//! Property tests: no input makes a parser panic or loop, and facts written
//! in a format come back out of its parser.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use vigie_core::Section;
use vigie_inventory::{Format, ParseOptions, detect, parse};

/// Runs every parser on `bytes`; the iterators must end.
fn run_all(bytes: &[u8]) {
    let _ = detect(bytes);
    let opts = ParseOptions {
        max_line_bytes: 1 << 16,
        max_document_bytes: 1 << 16,
        ..ParseOptions::default()
    };
    for format in Format::ALL {
        let mut n = 0;
        for item in parse(format, bytes, &opts) {
            n += 1;
            assert!(n < 100_000, "{format}: runaway iterator");
            if item.is_err() {
                break;
            }
        }
    }
}

/// Prefixes that get random bytes past each parser's first checks.
const PREFIXES: &[&str] = &[
    "",
    "<?xml version=\"1.0\"?><REQUEST><CONTENT>",
    "<REQUEST><CONTENT><SOFTWARES><NAME>",
    "<nmaprun><host><status state=\"up\"/><hostscript><script id=\"smb-protocols\"><table key=\"dialects\"><elem>",
    "{\"hostIdentifier\":\"h\",\"unixTime\":1,\"snapshot\":[{\"",
    "{\"content\":{\"operatingsystem\":{\"",
    "hostname,os,hotfixes\n",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        run_all(&bytes);
    }

    #[test]
    fn arbitrary_tails_never_panic(
        prefix in proptest::sample::select(PREFIXES),
        tail in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        let mut bytes = prefix.as_bytes().to_vec();
        bytes.extend(tail);
        run_all(&bytes);
    }

    #[test]
    fn structured_text_never_panics(text in "[<>/a-zA-Z0-9 =\"{}:,\\[\\]&;#\n]{0,600}") {
        run_all(text.as_bytes());
        let with_root = format!("<REQUEST><CONTENT>{text}");
        run_all(with_root.as_bytes());
    }

    #[test]
    fn osquery_hotfixes_round_trip(
        kbs in proptest::collection::vec(4_000_000u32..5_999_999, 0..40),
        programs in proptest::collection::vec("[a-zA-Z0-9 ()._\"\\\\é-]{1,30}", 0..20),
        host in "[a-zA-Z][a-zA-Z0-9-]{0,20}",
        time in 0i64..4_000_000_000,
    ) {
        let patch_rows: Vec<_> = kbs
            .iter()
            .map(|k| serde_json::json!({"hotfix_id": format!("KB{k}"), "description": "Update", "installed_on": "1/2/2024"}))
            .collect();
        let program_rows: Vec<_> = programs
            .iter()
            .map(|p| serde_json::json!({"name": p, "version": "1.0", "publisher": "X", "install_location": ""}))
            .collect();
        let line = |name: &str, rows: Vec<serde_json::Value>| {
            serde_json::json!({"name": name, "hostIdentifier": host, "unixTime": time.to_string(), "snapshot": rows, "action": "snapshot"}).to_string()
        };
        let log = format!("{}\n{}\n", line("patches", patch_rows), line("programs", program_rows));
        let obs: Vec<_> = parse(Format::Osquery, log.as_bytes(), &ParseOptions::default())
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(obs.len(), 1);
        let Section::Full(hotfixes) = &obs[0].hotfixes else { panic!("{:?}", obs[0].hotfixes) };
        let got: Vec<String> = hotfixes.iter().map(|h| h.id.clone()).collect();
        let want: Vec<String> = kbs.iter().map(|k| format!("KB{k}")).collect();
        prop_assert_eq!(got, want);
        let want: Vec<&str> = programs.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect();
        match &obs[0].software {
            Section::Full(software) => {
                let got: Vec<&str> = software.iter().map(|s| s.name.as_str()).collect();
                prop_assert_eq!(got, want);
            }
            // Rows without a name are not software; with none left, the
            // snapshot says nothing recognisable.
            Section::Unknown => prop_assert!(want.is_empty() && !programs.is_empty()),
            other => panic!("{other:?}"),
        }
        prop_assert_eq!(obs[0].observed_at.map(|t| t.as_second()), Some(time));
    }

    #[test]
    fn fusion_xml_round_trip(
        kbs in proptest::collection::btree_set(4_000_000u32..5_999_999, 0..30),
        names in proptest::collection::vec("[a-zA-Z0-9 <>&'\"é]{1,20}", 0..10),
        host in "[a-zA-Z][a-zA-Z0-9-]{0,15}",
    ) {
        fn esc(s: &str) -> String {
            s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
        }
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><REQUEST><CONTENT><HARDWARE><NAME>{host}</NAME></HARDWARE>\
             <OPERATINGSYSTEM><NAME>Windows</NAME><FULL_NAME>Microsoft Windows 10 Pro</FULL_NAME><KERNEL_VERSION>10.0.19045</KERNEL_VERSION></OPERATINGSYSTEM>"
        );
        for k in &kbs {
            xml.push_str(&format!("<SOFTWARES><FROM>WMI</FROM><NAME>KB{k}</NAME></SOFTWARES>"));
        }
        for n in &names {
            xml.push_str(&format!("<SOFTWARES><FROM>registry</FROM><NAME>{}</NAME></SOFTWARES>", esc(n)));
        }
        xml.push_str("<VERSIONCLIENT>GLPI-Agent_v1.7</VERSIONCLIENT></CONTENT><QUERY>INVENTORY</QUERY></REQUEST>");
        let obs: Vec<_> = parse(Format::FusionXml, xml.as_bytes(), &ParseOptions::default())
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(obs[0].host.hostname.as_deref(), Some(host.as_str()));
        // A Windows inventory with a software list has a complete hotfix list.
        if kbs.is_empty() && names.is_empty() {
            prop_assert_eq!(&obs[0].hotfixes, &Section::Unknown);
            return Ok(());
        }
        let Section::Full(hotfixes) = &obs[0].hotfixes else { panic!() };
        let got: Vec<String> = hotfixes.iter().map(|h| h.id.clone()).collect();
        let want: Vec<String> = kbs.iter().map(|k| format!("KB{k}")).collect();
        prop_assert_eq!(got, want);
        let Section::Full(software) = &obs[0].software else { panic!() };
        let want: Vec<&str> = names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).collect();
        let got: Vec<&str> = software.iter().map(|s| s.name.as_str()).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn csv_hotfix_cells_round_trip(kbs in proptest::collection::btree_set(100_000u32..99_999_999, 1..20), sep in "[,; |]") {
        let cell = kbs.iter().map(|k| format!("KB{k}")).collect::<Vec<_>>().join(&sep);
        let csv = format!("hostname\tinstalled kbs\npc1\t\"{cell}\"\n");
        let obs: Vec<_> = parse(Format::Csv, csv.as_bytes(), &ParseOptions::default())
            .collect::<Result<_, _>>()
            .unwrap();
        let Section::Full(hotfixes) = &obs[0].hotfixes else { panic!() };
        prop_assert_eq!(hotfixes.len(), kbs.len());
    }
}
