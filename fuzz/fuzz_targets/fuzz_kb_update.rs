#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

// `vigie kb update` feeds downloaded bytes to the knowledge base: anything
// must be loaded or refused, never panic. The embedded base is parsed once.
fuzz_target!(|data: &[u8]| {
    static KB: OnceLock<Option<vigie_kb::KnowledgeBase>> = OnceLock::new();
    if let Some(kb) = KB.get_or_init(|| vigie_kb::KnowledgeBase::embedded().ok()) {
        let mut kb = kb.clone();
        let _ = kb.load_update(data);
    }
});
