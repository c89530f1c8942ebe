//! Replays the HTML fuzz corpus and every crash input ever found, so CI
//! checks them without a fuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use vigie_watch::deface::{Baseline, DEFAULT_BANNED, normalize};

#[test]
fn html_fuzz_inputs_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in ["corpus/fuzz_html", "regressions/fuzz_html"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
            let page = normalize(&text);
            let _ = Baseline::learn(std::slice::from_ref(&page)).assess(&page, &[], DEFAULT_BANNED);
            n += 1;
        }
    }
    assert!(n > 0, "the seed corpus is missing");
}

#[test]
fn targets_file_fuzz_inputs_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in ["corpus/fuzz_targets_file", "regressions/fuzz_targets_file"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
            if let Ok(targets) = vigie_watch::target::parse_targets(&text, "corpus.csv") {
                for t in targets {
                    assert!(t.options.validate().is_ok(), "{t:?}");
                }
            }
            n += 1;
        }
    }
    assert!(n > 0, "the seed corpus is missing");
}
