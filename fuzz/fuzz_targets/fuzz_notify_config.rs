#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_notify::NotifyConfig;

// Notification settings are edited by hand: any text gives a configuration
// or an error naming a line, never a panic.
fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = NotifyConfig::from_toml_str(&text, "fuzz.toml");
});
