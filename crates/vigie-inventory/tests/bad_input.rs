//! Hostile and broken inputs: every parser must return an error with a
//! location (or parse what it can), never panic, never hang.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufReader, Cursor, Read};
use std::path::PathBuf;
use vigie_inventory::{Format, Location, ParseError, ParseOptions, parse};

fn data(path: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(path),
    )
    .unwrap()
}

/// (format, a valid sample) pairs.
fn samples() -> Vec<(Format, Vec<u8>)> {
    vec![
        (Format::Osquery, data("osquery/windows7-snapshot.log")),
        (Format::GlpiJson, data("glpi/example_computer_1_linux.json")),
        (
            Format::FusionXml,
            data("fusion/fusioninventory_windows81_sample.xml"),
        ),
        (Format::OcsXml, data("ocs/windows7-fr.ocs")),
        (Format::Nmap, data("nmap/hospital-subnet.xml")),
        (Format::Csv, data("csv/sccm.csv")),
    ]
}

fn run(format: Format, bytes: &[u8], opts: &ParseOptions) -> (usize, Option<ParseError>) {
    let mut ok = 0;
    let mut iter = parse(
        format,
        BufReader::with_capacity(64, Cursor::new(bytes.to_vec())),
        opts,
    );
    for item in iter.by_ref() {
        match item {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(iter.next().is_none(), "iterator must stop after an error");
                return (ok, Some(e));
            }
        }
    }
    (ok, None)
}

fn expect_err(format: Format, bytes: &[u8], opts: &ParseOptions) -> ParseError {
    let (_, err) = run(format, bytes, opts);
    let err = err.unwrap_or_else(|| panic!("{format}: expected an error"));
    let first = err.message.chars().next().unwrap();
    assert!(!first.is_uppercase(), "messages start lowercase: {err}");
    err
}

#[test]
fn truncated_inputs_fail_with_a_location() {
    for (format, bytes) in samples() {
        if format == Format::Csv {
            continue; // a CSV cut between rows is still a valid CSV
        }
        for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 7] {
            let err = expect_err(format, &bytes[..cut], &ParseOptions::default());
            match (format, err.location) {
                (Format::Osquery | Format::GlpiJson, Location::Line(n)) => assert!(n >= 1),
                (Format::FusionXml | Format::OcsXml | Format::Nmap, Location::Byte(b)) => {
                    assert!(b <= cut as u64, "{err}")
                }
                (f, l) => panic!("{f}: unexpected location {l:?}"),
            }
        }
    }
    // A CSV cut inside a quoted field still parses or errors, without panic.
    let csv = data("csv/sccm.csv");
    let _ = run(Format::Csv, &csv[..csv.len() / 2], &ParseOptions::default());
}

#[test]
fn truncated_osquery_keeps_earlier_hosts() {
    let bytes = data("osquery/windows7-snapshot.log");
    // Cut inside the last line: the first host is complete and emitted.
    let (ok, err) = run(
        Format::Osquery,
        &bytes[..bytes.len() - 20],
        &ParseOptions::default(),
    );
    assert_eq!(ok, 1);
    let err = err.unwrap();
    assert_eq!(err.location, Location::Line(7));
    assert!(err.message.contains("json"), "{err}");
}

#[test]
fn garbage_is_rejected() {
    let garbage: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for format in Format::ALL {
        let (ok, err) = run(format, &garbage, &ParseOptions::default());
        assert_eq!(ok, 0, "{format}");
        assert!(err.is_some(), "{format}: garbage must not parse silently");
    }
}

#[test]
fn empty_input() {
    for format in Format::ALL {
        let (ok, err) = run(format, b"", &ParseOptions::default());
        assert_eq!(ok, 0, "{format}");
        match format {
            // An empty log has no lines: nothing to report.
            Format::Osquery => assert!(err.is_none()),
            _ => assert!(err.is_some(), "{format}"),
        }
    }
}

#[test]
fn overlong_lines_and_tokens_are_refused() {
    let opts = ParseOptions {
        max_line_bytes: 4096,
        max_document_bytes: 4096,
        ..ParseOptions::default()
    };
    let long = "x".repeat(100_000);

    let osq = format!("{{\"hostIdentifier\":\"{long}\",\"snapshot\":[]}}\n");
    let err = expect_err(Format::Osquery, osq.as_bytes(), &opts);
    assert_eq!(err.to_string(), "line 1: line longer than 4096 bytes");

    let err = expect_err(Format::GlpiJson, osq.as_bytes(), &opts);
    assert!(err.message.contains("larger than 4096"), "{err}");

    let xml =
        format!("<REQUEST><CONTENT><HARDWARE><NAME>{long}</NAME></HARDWARE></CONTENT></REQUEST>");
    let err = expect_err(Format::FusionXml, xml.as_bytes(), &opts);
    assert!(
        matches!(err.location, Location::Byte(_)) && err.message.contains("longer than 4096"),
        "{err}"
    );

    let xml = format!("<nmaprun><host><address addr=\"{long}\"/></host></nmaprun>");
    let err = expect_err(Format::Nmap, xml.as_bytes(), &opts);
    assert!(err.message.contains("longer than 4096"), "{err}");

    let csv = format!("hostname,os\npc1,{long}\n");
    let err = expect_err(Format::Csv, csv.as_bytes(), &opts);
    assert_eq!(err.location, Location::Line(2), "{err}");
    assert!(err.message.contains("longer than 4096"), "{err}");
}

#[test]
fn many_small_text_events_stay_bounded() {
    // Text split by comments resets the token counter; the value buffer has
    // its own cap.
    let mut xml = String::from("<REQUEST><CONTENT><HARDWARE><NAME>");
    for _ in 0..20_000 {
        xml.push_str("abcdefgh<!---->");
    }
    xml.push_str("</NAME></HARDWARE></CONTENT></REQUEST>");
    let obs: Vec<_> = parse(Format::FusionXml, xml.as_bytes(), &ParseOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(obs[0].host.hostname.as_ref().unwrap().len() <= 8 * 1024);
}

fn utf16le(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

#[test]
fn utf16_is_reported() {
    for (format, bytes) in samples() {
        let wide = utf16le(&bytes);
        assert_eq!(
            vigie_inventory::detect(&wide),
            Some(format),
            "utf-16 {format} is still recognised"
        );
        let err = expect_err(format, &wide, &ParseOptions::default());
        assert!(err.message.contains("utf-16"), "{format}: {err}");
        // Without a BOM too.
        let err = expect_err(format, &wide[2..], &ParseOptions::default());
        assert!(err.message.contains("utf-16"), "{format}: {err}");
    }
}

#[test]
fn latin1_bytes() {
    // Undeclared Latin-1 in XML: a clear error, not mojibake.
    let xml = b"<REQUEST><CONTENT><HARDWARE><NAME>caf\xe9</NAME></HARDWARE></CONTENT></REQUEST>";
    let err = expect_err(Format::FusionXml, xml, &ParseOptions::default());
    assert!(err.message.contains("utf-8"), "{err}");
    assert!(matches!(err.location, Location::Byte(b) if b > 0), "{err}");
    // Declared: transcoded.
    let declared = [
        b"<?xml version=\"1.0\" encoding=\"windows-1252\"?>".as_slice(),
        xml,
    ]
    .concat();
    let obs: Vec<_> = parse(
        Format::FusionXml,
        declared.as_slice(),
        &ParseOptions::default(),
    )
    .collect::<Result<_, _>>()
    .unwrap();
    assert_eq!(obs[0].host.hostname.as_deref(), Some("café"));
    // An encoding we do not read.
    let other = b"<?xml version=\"1.0\" encoding=\"shift_jis\"?><REQUEST/>";
    let err = expect_err(Format::FusionXml, other, &ParseOptions::default());
    assert!(err.message.contains("shift_jis"), "{err}");

    // JSON: a stray byte in a display string is replaced, the line still counts.
    let line = b"{\"hostIdentifier\":\"h\",\"unixTime\":1,\"name\":\"programs\",\"snapshot\":[{\"name\":\"Caf\xe9\",\"version\":\"1\",\"publisher\":\"x\"}]}\n";
    let obs: Vec<_> = parse(Format::Osquery, line.as_slice(), &ParseOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(obs.len(), 1);
    let doc = b"{\"itemtype\":\"Computer\",\"content\":{\"hardware\":{\"name\":\"caf\xe9\"}}}";
    let obs: Vec<_> = parse(Format::GlpiJson, doc.as_slice(), &ParseOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(obs[0].host.hostname.as_deref(), Some("caf\u{fffd}"));
}

/// A reader producing `<a>` forever (well, `n` times) without holding it.
struct Nested {
    open: &'static [u8],
    remaining: usize,
    pending: &'static [u8],
}

impl Read for Nested {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            if self.remaining == 0 {
                return Ok(0);
            }
            self.remaining -= 1;
            self.pending = self.open;
        }
        let n = self.pending.len().min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending = &self.pending[n..];
        Ok(n)
    }
}

#[test]
fn deep_nesting_is_refused() {
    for (format, open) in [
        (Format::FusionXml, b"<CONTENT>".as_slice()),
        (Format::OcsXml, b"<a>".as_slice()),
        (Format::Nmap, b"<table key=\"x\">".as_slice()),
    ] {
        let input = BufReader::new(Nested {
            open,
            remaining: 100_000,
            pending: b"",
        });
        let mut iter = parse(format, input, &ParseOptions::default());
        let err = iter.next().unwrap().unwrap_err();
        assert!(err.message.contains("deeper than 64"), "{format}: {err}");
        assert!(matches!(err.location, Location::Byte(_)));
        assert!(iter.next().is_none());
    }
}

#[test]
fn item_caps_apply() {
    let opts = ParseOptions {
        max_items_per_host: 10,
        ..ParseOptions::default()
    };
    let rows: Vec<String> = (0..20)
        .map(|i| format!("{{\"hotfix_id\":\"KB{}\"}}", 4_000_000 + i))
        .collect();
    let line = format!(
        "{{\"hostIdentifier\":\"h\",\"unixTime\":1,\"snapshot\":[{}]}}\n",
        rows.join(",")
    );
    let err = expect_err(Format::Osquery, line.as_bytes(), &opts);
    assert!(err.message.contains("more than 10"), "{err}");

    let mut xml = String::from("<REQUEST><CONTENT>");
    for i in 0..20 {
        xml.push_str(&format!("<SOFTWARES><NAME>s{i}</NAME></SOFTWARES>"));
    }
    xml.push_str("</CONTENT></REQUEST>");
    let err = expect_err(Format::FusionXml, xml.as_bytes(), &opts);
    assert!(err.message.contains("more than 10"), "{err}");

    let mut csv = String::from("hostname,software name\n");
    for i in 0..20 {
        csv.push_str(&format!("pc1,s{i}\n"));
    }
    let err = expect_err(Format::Csv, csv.as_bytes(), &opts);
    assert!(err.message.contains("more than 10"), "{err}");
}

#[test]
fn wrong_format_for_the_file() {
    let fusion = data("fusion/fusioninventory_windows81_sample.xml");
    let err = expect_err(Format::Nmap, &fusion, &ParseOptions::default());
    assert!(err.message.contains("nmaprun"), "{err}");
    let nmap = data("nmap/hospital-subnet.xml");
    let err = expect_err(Format::FusionXml, &nmap, &ParseOptions::default());
    assert!(err.message.contains("REQUEST"), "{err}");
    let err = expect_err(
        Format::Osquery,
        &data("glpi/example_computer_1_linux.json"),
        &ParseOptions::default(),
    );
    assert_eq!(err.location, Location::Line(1));
    let err = expect_err(
        Format::Csv,
        &data("osquery/linux-events.log"),
        &ParseOptions::default(),
    );
    assert_eq!(err.location, Location::Line(1));
}

#[test]
fn mismatched_xml_tags() {
    let xml = b"<REQUEST><CONTENT><HARDWARE><NAME>x</HARDWARE></CONTENT></REQUEST>";
    let err = expect_err(Format::FusionXml, xml, &ParseOptions::default());
    assert!(matches!(err.location, Location::Byte(b) if b > 0), "{err}");
}

#[test]
fn one_byte_reads_do_not_change_results() {
    for (format, bytes) in samples() {
        let whole: Vec<_> = parse(format, Cursor::new(bytes.clone()), &ParseOptions::default())
            .collect::<Result<_, _>>()
            .unwrap();
        let trickle: Vec<_> = parse(
            format,
            BufReader::with_capacity(1, Cursor::new(bytes)),
            &ParseOptions::default(),
        )
        .collect::<Result<_, _>>()
        .unwrap();
        assert_eq!(whole, trickle, "{format}");
    }
}
