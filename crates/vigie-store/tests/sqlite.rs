//! Conformance suite on SQLite (a file in a temporary directory).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vigie.db").display());
    let store = vigie_store::SqlStore::connect(&url).await.unwrap();
    if let Err(e) = vigie_store::testsuite::run_all(&store).await {
        panic!("{e}");
    }
    // a second handle on the same file, as another process would open it
    let other = vigie_store::SqlStore::connect(&url).await.unwrap();
    if let Err(e) = vigie_store::testsuite::run_two_handles(&store, &other).await {
        panic!("{e}");
    }
}
