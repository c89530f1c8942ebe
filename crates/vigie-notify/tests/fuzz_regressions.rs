//! Replays the notification-settings fuzz corpus and every crash input
//! ever found, so CI checks them without a fuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use vigie_notify::NotifyConfig;

#[test]
fn notify_config_fuzz_inputs_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in [
        "corpus/fuzz_notify_config",
        "regressions/fuzz_notify_config",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
            let _ = NotifyConfig::from_toml_str(&text, "corpus.toml");
            n += 1;
        }
    }
    assert!(n > 0, "the seed corpus is missing");
}
