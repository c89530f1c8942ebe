#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_inventory::{Format, ParseOptions, parse};

fuzz_target!(|data: &[u8]| {
    // Small limits so the fuzzer reaches the limit paths quickly.
    let opts = ParseOptions {
        max_line_bytes: 4096,
        max_document_bytes: 1 << 16,
        max_xml_depth: 16,
        max_items_per_host: 256,
        ..ParseOptions::default()
    };
    for item in parse(Format::FusionXml, data, &opts) {
        if item.is_err() {
            break;
        }
    }
});
