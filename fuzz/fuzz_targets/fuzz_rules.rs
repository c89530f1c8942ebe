#![no_main]

use libfuzzer_sys::fuzz_target;

// The rule compiler reads user-written TOML: any text must give rules or a
// line-numbered error, never a panic.
fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vigie_posture::RuleSet::parse("fuzz.toml", text);
    }
});
