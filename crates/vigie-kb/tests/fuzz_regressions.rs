//! Replays the knowledge-base update fuzz corpus and every crash input ever
//! found, so CI checks them without a fuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn update_fuzz_inputs_never_panic() {
    let kb = vigie_kb::KnowledgeBase::embedded().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in ["corpus/fuzz_kb_update", "regressions/fuzz_kb_update"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let bytes = std::fs::read(e.path()).unwrap();
            let mut copy = kb.clone();
            let before = copy.sources();
            if copy.load_update(&bytes).is_err() {
                assert_eq!(copy.sources(), before, "a refused update changed nothing");
            }
            n += 1;
        }
    }
    assert!(n > 0, "the seed corpus is missing");
}
