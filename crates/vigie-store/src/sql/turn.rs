//! Writers take turns, and wait for theirs instead of failing.
//!
//! SQLite has one writer at a time. A deferred transaction (`BEGIN`) that
//! reads and then writes cannot wait for the lock: when another connection
//! committed in between, its snapshot is stale and SQLite answers
//! `database is locked` at once, whatever the busy timeout. So every write
//! transaction here starts with `BEGIN IMMEDIATE`, which takes the write
//! lock first and honours the busy timeout; writers of one process queue on
//! an async mutex first (so they do not spin against each other), and a
//! writer of another process that holds the lock longer than the busy
//! timeout (a large ingest) is waited for again, up to [`WRITE_WAIT`].
//!
//! PostgreSQL writers wait on row locks by themselves. The ingest
//! transaction additionally takes a transaction-level advisory lock
//! ([`INGEST_LOCK`]): resolving a machine's identity keys and creating the
//! machine must happen under one lock, or two concurrent ingests of the
//! same new machines create each of them twice.

use super::{Dialect, SqlStore, qs};
use crate::{Result, StoreError};
use sqlx::{Any, AnyConnection, Transaction};
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};
use tokio::sync::OwnedMutexGuard;

/// How long a writer waits for its turn before giving up with
/// [`StoreError::Busy`]: long enough for the largest ingest of another
/// process to finish.
pub(crate) const WRITE_WAIT: Duration = Duration::from_secs(30 * 60);

/// The advisory lock key of ingest transactions on PostgreSQL ("vigie"
/// "ingest" in ASCII, an arbitrary constant shared by every process).
pub(crate) const INGEST_LOCK: i64 = 0x7669_6769_6569_6e67;

/// The advisory lock key held while migrations run on PostgreSQL.
pub(crate) const MIGRATION_LOCK: i64 = 0x7669_6769_656d_6967;

/// A write transaction that holds its turn until commit or drop (drop
/// rolls back). Dereferences to the connection, like sqlx's transaction.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED, with any extended code.
pub(crate) fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i64>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

impl SqlStore {
    /// Begins a write transaction once it is this writer's turn.
    pub(crate) async fn write(&self) -> Result<WriteTx> {
        match self.dialect {
            Dialect::Postgres => Ok(WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
            }),
            Dialect::Sqlite => {
                let turn = self.writer.clone().lock_owned().await;
                let started = Instant::now();
                let mut attempt: u32 = 0;
                loop {
                    match self.pool.begin_with("BEGIN IMMEDIATE").await {
                        Ok(tx) => {
                            return Ok(WriteTx {
                                tx,
                                _turn: Some(turn),
                            });
                        }
                        Err(e) if is_busy(&e) => {
                            let waited = started.elapsed();
                            if waited >= WRITE_WAIT {
                                return Err(StoreError::Busy {
                                    waited_seconds: waited.as_secs(),
                                });
                            }
                            attempt += 1;
                            tracing::info!(
                                attempt,
                                waited_seconds = waited.as_secs(),
                                "another process is writing: waiting for its turn"
                            );
                            // the busy timeout already waited; a short pause
                            // keeps a failing lock from spinning
                            tokio::time::sleep(Duration::from_millis(
                                50 * u64::from(attempt.min(20)),
                            ))
                            .await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }

    /// Begins the ingest transaction: a write transaction that, on
    /// PostgreSQL, also holds the ingest lock until it ends. The writers of
    /// one process queue on their turn first, so a process waits on the
    /// lock with one connection, not with every connection of its pool
    /// (the holder needs one too).
    pub(crate) async fn write_ingest(&self) -> Result<WriteTx> {
        if self.dialect != Dialect::Postgres {
            return self.write().await;
        }
        let turn = self.writer.clone().lock_owned().await;
        let mut tx = WriteTx {
            tx: self.pool.begin().await?,
            _turn: Some(turn),
        };
        qs("SELECT pg_advisory_xact_lock($1)")
            .bind(INGEST_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}
