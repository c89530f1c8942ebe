//! Replays the fuzz seed corpora and every crash input ever found through
//! detection and every parser, so CI checks them without a fuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use vigie_inventory::{CsvMapping, Format, ParseOptions, detect, parse, parse_org_csv};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path
            .file_name()
            .is_some_and(|n| n != ".gitkeep" && n != "README.md")
        {
            out.push(path);
        }
    }
}

fn replay(bytes: &[u8]) {
    let small = ParseOptions {
        max_line_bytes: 4096,
        max_document_bytes: 1 << 16,
        max_xml_depth: 16,
        max_items_per_host: 256,
        ..ParseOptions::default()
    };
    let mapped = ParseOptions {
        csv_mapping: CsvMapping::from_pairs([
            "hostname=a",
            "hotfixes=b",
            "observed_at=c",
            "delimiter=;",
        ])
        .ok(),
        ..small.clone()
    };
    let _ = detect(bytes);
    for opts in [&ParseOptions::default(), &small, &mapped] {
        for format in Format::ALL {
            for item in parse(format, bytes, opts) {
                if item.is_err() {
                    break;
                }
            }
        }
    }
    let _ = parse_org_csv(bytes);
}

#[test]
fn replay_fuzz_corpora_and_regressions() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    files_under(&fuzz.join("corpus"), &mut files);
    files_under(&fuzz.join("regressions"), &mut files);
    files.sort();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| replay(&bytes));
        assert!(outcome.is_ok(), "panic on {}", path.display());
    }
    // The seeds are committed with the fuzz project; finding none means the
    // path is wrong, not that there is nothing to check.
    assert!(
        files.len() >= 6,
        "no fuzz inputs found under {}",
        fuzz.display()
    );
}
