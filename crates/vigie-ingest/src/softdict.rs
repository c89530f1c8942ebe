//! In-memory cache of the software dictionary, kept consistent with the
//! database transaction: entries interned in a transaction become visible to
//! later files only once it commits.

use std::collections::HashMap;
use vigie_core::Software;

// foldhash: fast and seeded per process, so crafted inventories cannot
// aim for collisions the way they could with an unseeded fast hash.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Most entries kept before the cache is dropped (bounded memory).
const LIMIT: usize = 2_000_000;

#[derive(Default)]
pub struct SoftwareDict {
    by_value: Map<Software, u32>,
    by_id: Map<u32, Software>,
    pending: Vec<(u32, Software)>,
}

impl SoftwareDict {
    pub fn id(&self, s: &Software) -> Option<u32> {
        self.by_value.get(s).copied()
    }

    pub fn get(&self, id: u32) -> Option<&Software> {
        self.by_id.get(&id)
    }

    /// Records entries read or written in the current transaction.
    pub fn insert_pending(&mut self, id: u32, s: Software) {
        self.by_value.insert(s.clone(), id);
        self.by_id.insert(id, s.clone());
        self.pending.push((id, s));
    }

    pub fn commit(&mut self) {
        self.pending.clear();
        if self.by_id.len() > LIMIT {
            self.by_id.clear();
            self.by_value.clear();
        }
    }

    /// Forgets what the rolled-back transaction added: its ids no longer exist.
    pub fn rollback(&mut self) {
        for (id, s) in self.pending.drain(..) {
            self.by_id.remove(&id);
            self.by_value.remove(&s);
        }
    }
}
