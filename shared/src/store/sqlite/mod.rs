//! The SQLite backend: one file in WAL mode, one writer connection taking the write lock up front
//! (`BEGIN IMMEDIATE`) and a few reader connections; the partial unique index
//! `reservations_active_seat_uq` is the only referee of who holds a seat.
//!
//! This file opens the store (its pools, pragmas and WAL checkpointer) and runs the migrations.
//! `rows` turns values and rows into domain types; each capability has its own file: `users`
//! (accounts, read by id in batches), `catalog` (venues, events, seat maps), `holds` (holds placed
//! in batches on the writer, reservations, bookings, cancels, expiry) and `payments` (payments,
//! refunds, webhook events, idempotency records), `limits` (rate-limit counters) and `tickets`
//! (issued by the confirm, revoked by the cancels, admitted at the door).

mod audit;
mod catalog;
mod codes;
mod hold_extension;
mod holds;
mod limits;
mod messages;
mod password_resets;
mod payments;
#[cfg(test)]
mod plan_tests;
mod queue;
mod reports;
mod rows;
#[cfg(test)]
mod search_plan_tests;
#[cfg(test)]
mod tests;
mod tickets;
mod users;
mod waitlist;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::checkin_batch::{CheckInQueue, CheckIns};
use super::count_batch::{CountQueue, Counts};
use super::hold_batch::HoldQueue;
use super::read_batch::{ReadQueue, USER_READ_WORKERS};
use super::{Store, StoreError, StoreResult};
use holds::SqliteHoldBatches;
use limits::SqliteCounts;
use tickets::SqliteCheckIns;
use users::SqliteUserReads;

/// How long a statement waits for another connection (or process) to release the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Reader connections; WAL lets them read while the writer writes.
const READ_CONNECTIONS: u32 = 4;
/// How often the checkpointer copies committed pages from the WAL into the database file. Often,
/// so each copy (and its fsync) is small. Measured at 64 clients (~10,500 holds/s): hold p99
/// 13.6 ms every 5 ms, 16.5-19.7 ms every 10 ms, 26.6-28.1 ms every 20 ms, 31-34 ms every 40 ms
/// (which also cost 7-20 % of the rate); every 200 ms let it reach 54 ms in an earlier version.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(10);
/// How often a checkpoint failure that lasts is logged again.
const CHECKPOINT_WARN_EVERY: Duration = Duration::from_secs(60);
/// The writer checkpoints by itself only past this many WAL pages (4 KiB each): a backstop for
/// when the checkpointer falls behind (SQLite's default is 1,000).
const WRITER_AUTOCHECKPOINT_PAGES: &str = "10000";

/// Storage in one SQLite file.
pub struct SqliteStore {
    /// The only connection that writes, so writers queue here instead of failing on a busy lock.
    writer: SqlitePool,
    /// Holds go through batches on the writer (see `SqliteHoldBatches`).
    holds: HoldQueue,
    /// Scans go through batches on the writer too (see `SqliteCheckIns`).
    check_ins: CheckInQueue,
    /// Rate-limit attempts are counted in batches on the writer too (see `SqliteCounts`).
    counts: CountQueue,
    /// Readers; the same pool as `writer` for an in-memory database, which exists per connection set.
    reader: SqlitePool,
    /// Account reads by id, answered together on the readers (see `SqliteUserReads`).
    users: ReadQueue<SqliteUserReads>,
    /// The WAL checkpointer of a database file (none in memory).
    _checkpoints: Option<Checkpoints>,
}

impl SqliteStore {
    /// Opens (and creates, if missing) the database file named by a `sqlite://FILE` URL.
    pub async fn connect(database_url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // A multi-row statement inside a transaction keeps its undo pages (the statement
            // journal) in memory instead of a temp file.
            .pragma("temp_store", "memory");
        let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
        // The writer opens first: it creates the file and switches it to WAL before anyone reads.
        // Every write waits for this one connection, so copying the WAL into the database file
        // is left to the checkpointer, off the writer's path, on the other core.
        let writer_options = if in_memory {
            options.clone()
        } else {
            options.clone().pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)
        };
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(writer_options).await?;
        let (reader, checkpoints) = if in_memory {
            (writer.clone(), None)
        } else {
            let reader = SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options.clone().pragma("query_only", "ON"))
                .await?;
            let checkpointer = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
            (reader, Some(Checkpoints::start(checkpointer)))
        };
        // One worker: the writer is one connection, so a second batch could only wait for it.
        let holds = HoldQueue::start(SqliteHoldBatches { writer: writer.clone() }, 1);
        // One worker here too: a second, whose update could overlap the first's read-back of its
        // refused tickets, measured no faster (64 gates, six runs each).
        let check_ins =
            CheckInQueue::start(CheckIns(SqliteCheckIns { writer: writer.clone(), reader: reader.clone() }), 1);
        let users = ReadQueue::start(SqliteUserReads { reader: reader.clone() }, USER_READ_WORKERS);
        let counts = CountQueue::start(Counts(SqliteCounts { writer: writer.clone() }), 1);
        Ok(Self { writer, reader, holds, check_ins, counts, users, _checkpoints: checkpoints })
    }
}

/// The task that checkpoints the WAL every `CHECKPOINT_EVERY`; stopped with the store.
struct Checkpoints(tokio::task::JoinHandle<()>);

impl Checkpoints {
    fn start(checkpointer: SqlitePool) -> Self {
        Self(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // A failure that lasts is logged once a minute, not a hundred times a second.
            // `Some` while checkpoints fail: when the last warning was logged.
            let mut warned_at: Option<tokio::time::Instant> = None;
            loop {
                ticks.tick().await;
                // PASSIVE never blocks the writer or a reader: it copies what it can now.
                match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&checkpointer).await {
                    Ok(_) => {
                        if warned_at.take().is_some() {
                            tracing::info!("SQLite checkpoints work again");
                        }
                    }
                    Err(err) => {
                        let now = tokio::time::Instant::now();
                        if warned_at.is_none_or(|at| now.duration_since(at) >= CHECKPOINT_WARN_EVERY) {
                            warned_at = Some(now);
                            tracing::warn!(error = %err, "SQLite checkpoint failed (the writer's backstop applies)");
                        }
                    }
                }
            }
        }))
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn migrate_error(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
        other => StoreError::Internal(other.to_string()),
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../migrations/sqlite").run(&self.writer).await.map_err(migrate_error)
    }
}
