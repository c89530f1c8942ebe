//! Replays the rule-parser fuzz corpus and every crash input ever found, so
//! CI checks them without a fuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn rule_fuzz_inputs_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in ["corpus/fuzz_rules", "regressions/fuzz_rules"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let bytes = std::fs::read(e.path()).unwrap();
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = vigie_posture::RuleSet::parse("fuzz.toml", text);
            }
            n += 1;
        }
    }
    assert!(n > 0, "the seed corpus is missing");
}
