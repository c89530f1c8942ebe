//! The conformance suite on a Citus cluster, with the tables distributed
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! as `vigie_store::citus::LAYOUT` says.
//!
//! Runs when `VIGIE_TEST_CITUS` names a database on a Citus coordinator
//! whose workers are added (docs/architecture.md says how to build one on
//! loopback); otherwise it says SKIPPED. Each run works in a schema of its
//! own, dropped at the end. Citus is not packaged in Debian, so CI does not
//! run this; docs/architecture.md records the runs made on a cluster built
//! from source.

use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citus_conforms() {
    sqlx::any::install_default_drivers();
    let Ok(base) = std::env::var("VIGIE_TEST_CITUS") else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED: the conformance suite on Citus: set VIGIE_TEST_CITUS to a coordinator's database URL\n"
        );
        return;
    };
    let schema = format!(
        "vigie_citus_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let mut admin = sqlx::AnyConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");
    let result = async {
        let store = vigie_store::SqlStore::connect(&url)
            .await
            .map_err(|e| e.to_string())?;
        let placed = store
            .distribute_for_citus()
            .await
            .map_err(|e| format!("distributing: {e}"))?;
        if placed.len() != vigie_store::citus::LAYOUT.len() {
            return Err(format!("distributed {placed:?}"));
        }
        // a second time changes nothing
        let again = store
            .distribute_for_citus()
            .await
            .map_err(|e| e.to_string())?;
        if !again.is_empty() {
            return Err(format!("distributed twice: {again:?}"));
        }
        let mut r = vigie_store::testsuite::run_all(&store).await;
        if r.is_ok() {
            let other = vigie_store::SqlStore::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            r = vigie_store::testsuite::run_two_handles(&store, &other).await;
            other.close().await;
        }
        store.close().await;
        r
    }
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(e) = result {
        panic!("{e}");
    }
}
