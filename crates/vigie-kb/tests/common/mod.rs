//! Shared test helpers: the embedded knowledge base is parsed once per test binary.

use std::sync::OnceLock;
use vigie_kb::KnowledgeBase;

pub fn kb() -> &'static KnowledgeBase {
    static KB: OnceLock<KnowledgeBase> = OnceLock::new();
    KB.get_or_init(|| {
        KnowledgeBase::embedded().unwrap_or_else(|e| panic!("embedded knowledge base: {e}"))
    })
}
