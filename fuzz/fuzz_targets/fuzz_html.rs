#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_watch::deface::{Baseline, DEFAULT_BANNED, normalize};

// Watched pages come from the internet: normalising and assessing any bytes
// must never panic.
fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let page = normalize(&text);
    let baseline = Baseline::learn(std::slice::from_ref(&page));
    let _ = baseline.assess(&normalize(&text.to_uppercase()), &["x".to_string()], DEFAULT_BANNED);
});
