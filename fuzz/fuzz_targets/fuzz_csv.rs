#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_inventory::{CsvMapping, Format, ParseOptions, parse, parse_org_csv};

fuzz_target!(|data: &[u8]| {
    // The first byte picks between the default mapping and an explicit one.
    let (mapping, body) = match data.split_first() {
        Some((b, rest)) if b % 2 == 1 => (
            CsvMapping::from_pairs(["hostname=a", "hotfixes=b", "observed_at=c", "delimiter=;"]).ok(),
            rest,
        ),
        _ => (None, data),
    };
    let opts = ParseOptions { csv_mapping: mapping, max_line_bytes: 4096, max_items_per_host: 256, ..ParseOptions::default() };
    for item in parse(Format::Csv, body, &opts) {
        if item.is_err() {
            break;
        }
    }
    let _ = parse_org_csv(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = CsvMapping::from_toml_str(text);
        let _ = CsvMapping::from_pairs(text.lines());
    }
});
