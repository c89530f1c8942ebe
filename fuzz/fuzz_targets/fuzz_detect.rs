#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_inventory::{ParseOptions, detect, parse};

fuzz_target!(|data: &[u8]| {
    // What the CLI does: sniff, then parse with the detected format.
    let Some(format) = detect(data) else {
        return;
    };
    let opts = ParseOptions { max_line_bytes: 4096, max_document_bytes: 1 << 16, ..ParseOptions::default() };
    for item in parse(format, data, &opts) {
        if item.is_err() {
            break;
        }
    }
});
