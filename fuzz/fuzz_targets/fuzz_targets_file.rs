#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_watch::target::parse_targets;

// Targets files come from establishments' exports: any bytes give targets
// or an error naming a line, never a panic.
fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(targets) = parse_targets(&text, "fuzz.csv") {
        for t in targets {
            assert!(t.options.validate().is_ok());
        }
    }
});
