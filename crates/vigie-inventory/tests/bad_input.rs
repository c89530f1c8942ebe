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

    // JSON: a stray byte is read as Windows-1252 (never replaced by U+FFFD),
    // the line still counts.
    let line = b"{\"hostIdentifier\":\"h\",\"unixTime\":1,\"name\":\"programs\",\"snapshot\":[{\"name\":\"Caf\xe9\",\"version\":\"1\",\"publisher\":\"x\"}]}\n";
    let obs: Vec<_> = parse(Format::Osquery, line.as_slice(), &ParseOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(obs.len(), 1);
    let doc = b"{\"itemtype\":\"Computer\",\"content\":{\"hardware\":{\"name\":\"caf\xe9\"}}}";
    let obs: Vec<_> = parse(Format::GlpiJson, doc.as_slice(), &ParseOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(obs[0].host.hostname.as_deref(), Some("café"));
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

// ------------------------------------------------ text values and clocks

/// One host named `host` with one program, in each format: the same facts
/// whatever the format, so one check covers every parser. `time` is the
/// observation time as that format writes it (Unix seconds for osquery and
/// nmap, text elsewhere).
fn one_host(format: Format, host: &[u8], program: &[u8], time: &str) -> Vec<u8> {
    let parts: Vec<&[u8]> = match format {
        Format::Osquery => vec![
            b"{\"hostIdentifier\":\"",
            host,
            b"\",\"unixTime\":",
            time.as_bytes(),
            b",\"name\":\"programs\",\"snapshot\":[{\"name\":\"",
            program,
            b"\",\"version\":\"1.0\",\"publisher\":\"",
            program,
            b"\"}]}\n",
        ],
        Format::GlpiJson => vec![
            b"{\"itemtype\":\"Computer\",\"content\":{\"hardware\":{\"name\":\"",
            host,
            b"\"},\"accesslog\":{\"logdate\":\"",
            time.as_bytes(),
            b"\"},\"softwares\":[{\"name\":\"",
            program,
            b"\",\"version\":\"1.0\",\"publisher\":\"",
            program,
            b"\"}]}}",
        ],
        Format::FusionXml | Format::OcsXml => vec![
            b"<REQUEST><CONTENT><HARDWARE><NAME>",
            host,
            b"</NAME></HARDWARE><ACCESSLOG><LOGDATE>",
            time.as_bytes(),
            b"</LOGDATE></ACCESSLOG><SOFTWARES><NAME>",
            program,
            b"</NAME><VERSION>1.0</VERSION><PUBLISHER>",
            program,
            b"</PUBLISHER></SOFTWARES></CONTENT></REQUEST>",
        ],
        Format::Nmap => vec![
            b"<nmaprun start=\"",
            time.as_bytes(),
            b"\"><host><status state=\"up\"/><address addr=\"10.0.0.1\" addrtype=\"ipv4\"/><hostnames><hostname name=\"",
            host,
            b"\" type=\"user\"/></hostnames><hostscript><script id=\"smb-os-discovery\"><elem key=\"os\">",
            program,
            b"</elem></script></hostscript></host></nmaprun>",
        ],
        Format::Csv => vec![
            b"Computer Name,Software Name,Publisher,Software Version,Last Inventory\n\"",
            host,
            b"\",\"",
            program,
            b"\",\"",
            program,
            b"\",1.0,",
            time.as_bytes(),
            b"\n",
        ],
    };
    parts.concat()
}

fn time_in(format: Format) -> &'static str {
    match format {
        Format::Osquery | Format::Nmap => "1706695200",
        _ => "2024-01-31 10:00:00",
    }
}

fn only(format: Format, bytes: &[u8]) -> vigie_core::Observation {
    let obs: Vec<_> = parse(
        format,
        BufReader::with_capacity(64, Cursor::new(bytes.to_vec())),
        &ParseOptions::default(),
    )
    .collect::<Result<_, _>>()
    .unwrap_or_else(|e| panic!("{format}: {e}"));
    assert_eq!(obs.len(), 1, "{format}");
    obs.into_iter().next().unwrap()
}

/// Every string of an observation, through its JSON form.
fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn long_values_are_cut_to_their_field_limit_in_every_format() {
    use vigie_inventory::{MAX_IDENTIFIER_BYTES, MAX_NAME_BYTES};
    // a 1 MiB host name and program name (the report: a 40 MB
    // hardware.name was stored and served everywhere)
    let long = |c: u8| vec![c; 1 << 20];
    for format in Format::ALL {
        let obs = only(
            format,
            &one_host(format, &long(b'A'), &long(b'P'), time_in(format)),
        );
        let name = obs.host.hostname.clone().unwrap();
        assert!(
            name.len() <= MAX_IDENTIFIER_BYTES,
            "{format}: {}",
            name.len()
        );
        assert!(name.starts_with("AAAA") && name.contains('…'), "{format}");
        let mut all = Vec::new();
        strings(&serde_json::to_value(&obs).unwrap(), &mut all);
        assert!(
            all.iter().all(|s| s.len() <= MAX_NAME_BYTES),
            "{format}: a value longer than any limit"
        );
        // host name, and the program's name and publisher (nmap: its OS)
        let expected = if format == Format::Nmap { 2 } else { 3 };
        assert_eq!(obs.adjusted.truncated, expected, "{format}: {obs:?}");
        // a host name that differs only past the limit is another machine
        let other = only(
            format,
            &one_host(
                format,
                &[long(b'A'), b"B".to_vec()].concat(),
                b"P",
                time_in(format),
            ),
        );
        if !matches!(format, Format::FusionXml | Format::OcsXml) {
            // (XML keeps 8 KiB of a text value while reading, so these
            // two are the same there: both are cut before that point)
            assert_ne!(other.host.hostname, obs.host.hostname, "{format}");
        }
    }
}

#[test]
fn control_characters_are_escaped_in_every_format() {
    for format in Format::ALL {
        // a raw NUL and ESC; JSON writes them as \u escapes, XML as
        // character references, CSV raw
        let (host, program): (&[u8], &[u8]) = match format {
            Format::Osquery | Format::GlpiJson => (b"SRV-\\u0000A", b"Tool\\u001b[31m"),
            Format::FusionXml | Format::OcsXml | Format::Nmap => (b"SRV-&#0;A", b"Tool&#x1b;[31m"),
            Format::Csv => (b"SRV-\0A", b"Tool\x1b[31m"),
        };
        let obs = only(format, &one_host(format, host, program, time_in(format)));
        assert_eq!(
            obs.host.hostname.as_deref(),
            Some("SRV-\\u{0}A"),
            "{format}"
        );
        let mut all = Vec::new();
        strings(&serde_json::to_value(&obs).unwrap(), &mut all);
        assert!(
            all.iter()
                .all(|s| !s.chars().any(|c| c.is_control() && c != '\t')),
            "{format}: {all:?}"
        );
        assert!(
            all.iter().any(|s| s == "Tool\\u{1b}[31m"),
            "{format}: {all:?}"
        );
        assert!(obs.adjusted.escaped >= 2, "{format}: {:?}", obs.adjusted);
        // a tab is text, kept
        let tab: &[u8] = match format {
            Format::Osquery | Format::GlpiJson => b"SRV\\tA",
            // (an attribute: XML turns a raw tab into a space)
            Format::Nmap => b"SRV&#9;A",
            _ => b"SRV\tA",
        };
        let tab = only(format, &one_host(format, tab, b"P", time_in(format)));
        assert_eq!(tab.host.hostname.as_deref(), Some("SRV\tA"), "{format}");
        assert_eq!(tab.adjusted.escaped, 0, "{format}");
    }
    // raw control bytes in XML text (not well-formed XML, read anyway)
    let obs = only(
        Format::FusionXml,
        &one_host(Format::FusionXml, b"SRV-\0A", b"P", "2024-01-31"),
    );
    assert_eq!(obs.host.hostname.as_deref(), Some("SRV-\\u{0}A"));
    // a reference to no character at all is kept as written
    for format in [Format::FusionXml, Format::Nmap] {
        let obs = only(format, &one_host(format, b"SRV-&#xD800;A", b"P", "0"));
        assert_eq!(
            obs.host.hostname.as_deref(),
            Some("SRV-&#xD800;A"),
            "{format}"
        );
    }
}

#[test]
fn names_differing_only_in_invalid_bytes_stay_distinct() {
    for format in Format::ALL {
        let e9 = one_host(format, b"SRV-\xe9TAGE1", b"P", time_in(format));
        let e8 = one_host(format, b"SRV-\xe8TAGE1", b"P", time_in(format));
        match format {
            // XML: undeclared non-UTF-8 is refused, with its offset
            Format::FusionXml | Format::OcsXml | Format::Nmap => {
                for bytes in [&e9, &e8] {
                    let err = expect_err(format, bytes, &ParseOptions::default());
                    assert!(err.message.contains("utf-8"), "{format}: {err}");
                    assert!(matches!(err.location, Location::Byte(_)), "{err}");
                }
            }
            // JSON and CSV: the byte is read as Windows-1252
            _ => {
                let a = only(format, &e9).host.hostname;
                let b = only(format, &e8).host.hostname;
                assert_eq!(a.as_deref(), Some("SRV-éTAGE1"), "{format}");
                assert_eq!(b.as_deref(), Some("SRV-èTAGE1"), "{format}");
            }
        }
    }
}

#[test]
fn out_of_range_times_are_kept_saturated_never_dropped() {
    use jiff::Timestamp;
    let cases: &[(Format, &str, Timestamp)] = &[
        (Format::Osquery, "9223372036854775807", Timestamp::MAX),
        (Format::Osquery, "\"99999999999999999999\"", Timestamp::MAX),
        (Format::Osquery, "1e300", Timestamp::MAX),
        (Format::Osquery, "253402300800", Timestamp::MAX), // 10000-01-01
        (Format::Osquery, "-9223372036854775808", Timestamp::MIN),
        (Format::Nmap, "99999999999999999999", Timestamp::MAX),
        (Format::Nmap, "-99999999999999", Timestamp::MIN),
        (Format::GlpiJson, "10000-01-01 00:00:00", Timestamp::MAX),
        (Format::FusionXml, "10000-01-01T00:00:00Z", Timestamp::MAX),
        (Format::Csv, "99999999999999", Timestamp::MAX),
        (Format::Csv, "-99999999999999", Timestamp::MIN),
    ];
    for &(format, time, expected) in cases {
        let obs = only(format, &one_host(format, b"H", b"P", time));
        assert_eq!(obs.observed_at, Some(expected), "{format} {time}");
    }
    // text that is no time at all is no time
    let obs = only(Format::Csv, &one_host(Format::Csv, b"H", b"P", "soon"));
    assert_eq!(obs.observed_at, None);
    // plausible or not, representable times are read as written: the
    // ingest decides what is plausible
    for (format, time) in [(Format::Osquery, "-5"), (Format::Nmap, "0")] {
        let obs = only(format, &one_host(format, b"H", b"P", time));
        assert!(
            obs.observed_at.is_some_and(|t| t.as_second() <= 0),
            "{format}"
        );
    }
}
