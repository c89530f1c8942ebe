//! Throw-away databases for tests, on both backends: a SQLite file in a
//! temporary directory, or a uniquely named database on the PostgreSQL
//! server named by `VIGIE_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped by
//! [`TestDb::cleanup`]. When no PostgreSQL server answers, the PostgreSQL
//! half of a test says SKIPPED on standard error and is left out, unless
//! `VIGIE_REQUIRE_POSTGRES=1` (CI), which makes it an error.

use crate::{Result, SqlStore, StoreError};
use sqlx::Connection;
use std::sync::atomic::{AtomicU64, Ordering};

/// The server tests use by default.
pub const DEFAULT_TEST_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database made for one test.
pub struct TestDb {
    /// Its URL, for [`SqlStore::connect`] or a `--db` argument.
    pub url: String,
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
    /// (server URL, database name) to drop at the end.
    pg: Option<(String, String)>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    /// A fresh SQLite file.
    pub fn sqlite() -> Result<TestDb> {
        let dir = tempfile::tempdir()
            .map_err(|e| StoreError::Invalid(format!("temporary directory: {e}")))?;
        Ok(TestDb {
            url: format!("sqlite://{}", dir.path().join("vigie.db").display()),
            backend: "sqlite",
            _dir: Some(dir),
            pg: None,
        })
    }

    /// A fresh PostgreSQL database; `Ok(None)` when the server is
    /// unreachable and not required (the skip is printed, naming `case`).
    pub async fn postgres(case: &str) -> Result<Option<TestDb>> {
        sqlx::any::install_default_drivers();
        let server = std::env::var("VIGIE_TEST_PG").unwrap_or_else(|_| DEFAULT_TEST_PG.to_string());
        let required = std::env::var("VIGIE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let mut admin = match sqlx::AnyConnection::connect(&server).await {
            Ok(c) => c,
            Err(e) if !required => {
                // straight to the process's stderr: the harness captures
                // eprintln! of passing tests, and a skip must be seen
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED: {case} on PostgreSQL: cannot connect to {server}: {e}\n\
                     (set VIGIE_TEST_PG to a server URL; VIGIE_REQUIRE_POSTGRES=1 makes this a failure)\n"
                );
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() % 1_000_000_000)
            .unwrap_or(0);
        let name = format!(
            "vigie_test_{}_{}_{}",
            std::process::id(),
            nanos,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        let base = server
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .ok_or_else(|| StoreError::UnsupportedUrl(server.clone()))?;
        Ok(Some(TestDb {
            url: format!("{base}/{name}"),
            backend: "postgres",
            _dir: None,
            pg: Some((server, name)),
        }))
    }

    /// SQLite, then PostgreSQL when available.
    pub async fn both(case: &str) -> Result<Vec<TestDb>> {
        let mut v = vec![TestDb::sqlite()?];
        if let Some(pg) = TestDb::postgres(case).await? {
            v.push(pg);
        }
        Ok(v)
    }

    /// A new handle on the database, as another process would open it.
    pub async fn open(&self) -> Result<SqlStore> {
        SqlStore::connect(&self.url).await
    }

    /// Drops the PostgreSQL database (the SQLite file goes with the value).
    pub async fn cleanup(self) -> Result<()> {
        if let Some((server, name)) = &self.pg {
            let mut admin = sqlx::AnyConnection::connect(server).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
        }
        Ok(())
    }
}
