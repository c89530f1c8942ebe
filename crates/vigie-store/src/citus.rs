//! The Citus layout: how each table is placed when one PostgreSQL server is
//! outgrown. Machine, finding and daily tables are distributed by
//! establishment (`est_id`) and co-located, so that every per-machine write
//! and every per-establishment read goes to one shard; the directory, the
//! dictionaries and the accounts are reference tables (replicated on every
//! node); `host_keys` is distributed by its own key (an identity key may
//! name a machine of any establishment).
//!
//! [`SqlStore::distribute_for_citus`] applies it to a coordinator; the
//! documentation shows [`statements`], and a test checks that every table
//! the migrations create has its place here.

use crate::sql::SqlStore;
use crate::{Result, StoreError};

/// Where a table goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Replicated on every node.
    Reference,
    /// Sharded by `est_id`, co-located with `hosts`.
    ByEstablishment,
    /// Sharded by this column, in a co-location group of its own.
    ByColumn(&'static str),
}

/// Every table of the schema, in the order they are distributed (the first
/// table of the establishment group anchors its co-location).
pub const LAYOUT: &[(&str, Placement)] = &[
    ("regions", Placement::Reference),
    ("establishments", Placement::Reference),
    ("software", Placement::Reference),
    ("evidence", Placement::Reference),
    ("id_alloc", Placement::Reference),
    ("kb_updates", Placement::Reference),
    ("ingested_files", Placement::Reference),
    ("org_version", Placement::Reference),
    ("vigie_migrations", Placement::Reference),
    ("assessments", Placement::Reference),
    ("hosts", Placement::ByEstablishment),
    ("host_sources", Placement::ByEstablishment),
    ("findings", Placement::ByEstablishment),
    ("daily_hosts", Placement::ByEstablishment),
    ("daily_findings", Placement::ByEstablishment),
    ("est_ids", Placement::ByEstablishment),
    ("host_keys", Placement::ByColumn("key")),
    // exposure watch
    ("watch_target_names", Placement::Reference),
    ("watch_notices", Placement::Reference),
    ("watch_incidents", Placement::Reference),
    ("watch_incident_members", Placement::Reference),
    ("watch_incident_deliveries", Placement::Reference),
    ("watch_targets", Placement::ByEstablishment),
    ("watch_state", Placement::ByEstablishment),
    ("watch_samples", Placement::ByEstablishment),
    ("watch_events", Placement::ByEstablishment),
    ("watch_daily", Placement::ByEstablishment),
    // accounts and perimeters
    ("users", Placement::Reference),
    ("api_tokens", Placement::Reference),
    ("sessions", Placement::Reference),
    ("audit_log", Placement::Reference),
    ("installation_secrets", Placement::Reference),
];

/// The statements that distribute a freshly migrated schema, one per
/// table, as an operator would type them on the coordinator.
pub fn statements() -> Vec<String> {
    LAYOUT
        .iter()
        .map(|(table, placement)| match placement {
            Placement::Reference => format!("SELECT create_reference_table('{table}');"),
            Placement::ByEstablishment if *table == "hosts" => {
                format!("SELECT create_distributed_table('{table}', 'est_id');")
            }
            Placement::ByEstablishment => format!(
                "SELECT create_distributed_table('{table}', 'est_id', colocate_with => 'hosts');"
            ),
            Placement::ByColumn(col) => format!(
                "SELECT create_distributed_table('{table}', '{col}', colocate_with => 'none');"
            ),
        })
        .collect()
}

impl SqlStore {
    /// Distributes the schema on a Citus coordinator (the extension created
    /// and the workers added first): every table of [`LAYOUT`] not yet
    /// distributed, then the rows already written are moved to the shards
    /// (`truncate_local_data_after_distributing_table`). Run once, after
    /// the first connection created the schema; running it again changes
    /// nothing. Refuses a server without Citus and a schema holding a table
    /// the layout does not place.
    pub async fn distribute_for_citus(&self) -> Result<Vec<String>> {
        if !self.is_postgres() {
            return Err(StoreError::Invalid(
                "Citus distributes PostgreSQL databases only".into(),
            ));
        }
        let mut done = Vec::new();
        let tables = self.schema_tables().await?;
        if let Some(t) = tables
            .iter()
            .find(|t| !LAYOUT.iter().any(|(name, _)| name == t))
        {
            return Err(StoreError::Invalid(format!(
                "table {t} has no place in the Citus layout (vigie_store::citus::LAYOUT)"
            )));
        }
        let already = self.citus_tables().await?;
        for ((table, _), stmt) in LAYOUT.iter().zip(statements()) {
            if already.iter().any(|t| t == table) || !tables.iter().any(|t| t == table) {
                continue;
            }
            self.execute_admin(stmt.trim_end_matches(';')).await?;
            self.execute_admin(&format!(
                "SELECT truncate_local_data_after_distributing_table('{table}')"
            ))
            .await?;
            done.push((*table).to_string());
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table the PostgreSQL migrations create is placed, once.
    #[test]
    fn every_migrated_table_has_a_place() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let mut created = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let sql = std::fs::read_to_string(e.unwrap().path()).unwrap();
            for part in sql.split("CREATE TABLE ").skip(1) {
                let name: String = part
                    .trim_start_matches("IF NOT EXISTS ")
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                created.push(name);
            }
        }
        created.push("vigie_migrations".into());
        created.sort();
        let mut placed: Vec<String> = LAYOUT.iter().map(|(t, _)| t.to_string()).collect();
        placed.sort();
        assert_eq!(created, placed);
    }
}

#[cfg(test)]
mod doc_tests {
    /// docs/architecture.md shows exactly the statements `db distribute` runs.
    #[test]
    fn the_documented_statements_are_the_ones_run() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/architecture.md"),
        )
        .unwrap();
        let marker = "<!-- citus-statements:";
        let after = &doc[doc.find(marker).unwrap()..];
        let block = after.split("```sql\n").nth(1).unwrap();
        let block = block.split("```").next().unwrap();
        let documented: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(documented, super::statements());
    }
}
