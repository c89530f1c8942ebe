//! Conformance suite on the real PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//!
//! Uses `VIGIE_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`)
//! to create a uniquely named database, runs the suite in it and drops it.
//! When the server is unreachable the test says so and passes, unless
//! `VIGIE_REQUIRE_POSTGRES=1` (set by `.ci/run`), which makes it fail.

use vigie_store::testdb::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conforms() {
    let Some(db) = TestDb::postgres("the conformance suite").await.unwrap() else {
        return;
    };
    let result = async {
        let store = db.open().await.map_err(|e| e.to_string())?;
        let mut r = vigie_store::testsuite::run_all(&store).await;
        if r.is_ok() {
            let other = db.open().await.map_err(|e| e.to_string())?;
            r = vigie_store::testsuite::run_two_handles(&store, &other).await;
            other.close().await;
        }
        store.close().await;
        r
    }
    .await;
    db.cleanup().await.unwrap();
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A PostgreSQL error names no line: the "line" PostgreSQL reports is one
/// of its own C source, which users read as a line of their input file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_errors_name_no_server_source_line() {
    use sqlx::Connection;
    let Some(db) = TestDb::postgres("error positions").await.unwrap() else {
        return;
    };
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let raw = sqlx::query("SELECT 1 / 0")
        .execute(&mut conn)
        .await
        .unwrap_err();
    // the driver's own text carries the server's source line
    assert!(raw.to_string().contains(" at line "), "{raw}");
    let shown = vigie_store::StoreError::from(raw).to_string();
    assert!(!shown.contains(" at line "), "{shown}");
    assert!(shown.contains("division by zero"), "{shown}");
    assert!(shown.contains("22012"), "{shown}");
    drop(conn);
    db.cleanup().await.unwrap();
}
