//! PostgreSQL backend: every store trait on one connection pool (the door's check-ins on a few
//! connections of their own, see `tickets.rs`), with the seat promise kept by the partial unique
//! index `reservations_active_seat_uq` and a hold placed by one SQL statement.
//!
//! This file opens the pool, runs the migrations and keeps what the transactions share: the lock
//! order every writer follows and the retry of a transaction that lost a deadlock. Each capability
//! has its own file: `users.rs` (accounts and their batched reads by id), `catalog.rs` (venues,
//! events, the seat map, canceling an event), `holds.rs` (a hold from its trait method down to its
//! SQL statement, reservations, bookings, cancels, expiry), `payments.rs` (checkout, confirm,
//! refunds, webhook events, idempotency keys), `limits.rs` (rate-limit counters), `tickets.rs`
//! (issued by the confirm, revoked by the cancels, admitted at the door); `rows.rs` maps rows to
//! domain values.

mod audit;
mod catalog;
mod codes;
mod hold_extension;
mod hold_refusals;
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

use std::future::Future;
use std::pin::Pin;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use sqlx::Connection;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::checkin_batch::{CheckInQueue, CheckIns};
use super::count_batch::{CountQueue, Counts};
use super::hold_batch::HoldQueue;
use super::read_batch::{ReadQueue, USER_READ_WORKERS};
use super::{Store, StoreError, StoreResult, StoreSettings};
use holds::{HOLD_WORKERS, PgHoldBatches};
use limits::{COUNT_WORKERS, PgCounts};
use tickets::{CHECK_IN_WORKERS, PgCheckIns, door_pool};
use users::PgUserReads;

/// Pool size unless `StoreSettings::database_max_connections` (`DATABASE_MAX_CONNECTIONS`) says otherwise.
const DEFAULT_MAX_CONNECTIONS: u32 = 32;
/// A request waits this long for a pooled connection before the store counts as unavailable.
const ACQUIRE_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// A confirm or cancel that lost a deadlock was rolled back whole, so it is tried again, this many times in all.
const TX_ATTEMPTS: usize = 3;
/// PostgreSQL's SQLSTATE for a transaction chosen as a deadlock victim.
const DEADLOCK_DETECTED: &str = "40P01";
/// How long a pooled connection may sit idle before it is pinged on its way out of the pool.
const PING_IF_IDLE_FOR: StdDuration = StdDuration::from_millis(500);

/// How every pooled connection plans, set once when it opens (one round trip).
///
/// - `plan_cache_mode = force_generic_plan`: every statement here is shaped to plan well without
///   its parameters' values. Left to choose, PostgreSQL re-plans the hold on every call (its custom
///   plan knows how many seats were asked for and so looks cheaper), which costs more than running
///   it and halved hold throughput when measured.
/// - `enable_seqscan = off`: a statement's plan must not depend on the statistics. After an
///   `ANALYZE` of an empty table (a new deployment) PostgreSQL believes the table has no rows, so a
///   sequential scan costs nothing to it; the generic plan made then is kept until the next
///   `ANALYZE`, and the hold's lapse update ran as a scan of `reservations` inside a loop (about
///   100 holds/s where 1,000s were expected). Statistics cannot be set ahead: any `ANALYZE`
///   rewrites them. Off, a sequential scan is only chosen where no index can serve a read (no hot
///   statement: `plan_tests.rs` proves each reads its tables through an index condition), and each
///   statement is written so that the index it should probe is the only one that fits (see
///   `holds.rs`).
///
/// Read first, set only when missing: behind RDS Proxy a `set_config` pins the client connection
/// to one database connection for good (the proxy cannot multiplex it any more), so a deployment
/// behind the proxy gives the database role these defaults (`ALTER ROLE … SET`, README
/// "PostgreSQL connections at Lambda scale") and no connection sends `SESSION_SETTINGS_SQL`.
const SESSION_SETTINGS_SQL: &str =
    "SELECT set_config('plan_cache_mode', 'force_generic_plan', false), set_config('enable_seqscan', 'off', false)";
/// Whether a new session already plans as `SESSION_SETTINGS_SQL` asks (the role's or the
/// database's defaults). Reading a setting changes no session state, so it does not pin.
const SESSION_SETTINGS_PRESENT_SQL: &str =
    "SELECT current_setting('plan_cache_mode') = 'force_generic_plan' AND current_setting('enable_seqscan') = 'off'";

/// Gives a new connection the session settings every pooled connection plans with (see
/// `SESSION_SETTINGS_SQL`), unless its role or database already gives them.
async fn apply_session_settings(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    let present: bool = sqlx::query_scalar(SESSION_SETTINGS_PRESENT_SQL).fetch_one(&mut *conn).await?;
    if !present {
        sqlx::query(SESSION_SETTINGS_SQL).execute(conn).await?;
    }
    Ok(())
}

pub struct PostgresStore {
    pool: PgPool,
    holds: HoldQueue,
    /// Account reads by id, answered together (see `PgUserReads`).
    users: ReadQueue<PgUserReads>,
    /// The door's scans, checked in together on connections of their own (see `PgCheckIns`).
    check_ins: CheckInQueue,
    /// Rate-limit attempts, counted together (see `count_batch`).
    counts: CountQueue,
}

impl PostgresStore {
    pub async fn connect(database_url: &str, settings: StoreSettings) -> StoreResult<Self> {
        let max_connections = settings.database_max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        let pool = pool_options(max_connections, settings.database_idle_timeout).connect(database_url).await.map_err(
            |err| match err {
                // A malformed URL is a configuration bug, not an outage.
                sqlx::Error::Configuration(_) => StoreError::from(err),
                // Refused, unknown database, bad credentials: the store cannot be reached as configured.
                other => StoreError::Unavailable(other.to_string()),
            },
        )?;
        let holds = HoldQueue::start(PgHoldBatches { pool: pool.clone() }, HOLD_WORKERS);
        let users = ReadQueue::start(PgUserReads { pool: pool.clone() }, USER_READ_WORKERS);
        let check_ins = CheckInQueue::start(CheckIns(PgCheckIns { door: door_pool(&pool) }), CHECK_IN_WORKERS);
        let counts = CountQueue::start(Counts(PgCounts { pool: pool.clone() }), COUNT_WORKERS);
        Ok(Self { pool, holds, users, check_ins, counts })
    }
}

/// The settings every pool of the store shares: its session settings on every new connection, no
/// connection opened ahead of need (`min_connections` 0: an execution environment that never
/// touches the database holds none), and idle ones closed after `idle_timeout` (sqlx's default,
/// ten minutes, when unset).
fn pool_options(max_connections: u32, idle_timeout: Option<StdDuration>) -> PgPoolOptions {
    let options = PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _| Box::pin(apply_session_settings(conn)));
    let options = match idle_timeout {
        Some(timeout) => options.idle_timeout(timeout),
        None => options,
    };
    options
        // sqlx pings every idle connection before handing it out: under load that is one more
        // round trip per statement. A connection used within `PING_IF_IDLE_FOR` is taken as
        // alive (HikariCP's bypass window is the same); a dead one fails its statement, which
        // answers 503, and is closed. One idle longer is pinged, and replaced if dead.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move { Ok(meta.idle_for < PING_IF_IDLE_FOR || conn.ping().await.is_ok()) })
        })
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../migrations/postgres").run(&self.pool).await.map_err(|err| match err {
            sqlx::migrate::MigrateError::Execute(err) | sqlx::migrate::MigrateError::ExecuteMigration(err, _) => {
                StoreError::from(err)
            }
            other => StoreError::Internal(other.to_string()),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Cancellations and their refunds, confirms and checkouts take their locks in one order, the order
// holds already take them in: the event row (holds and confirms share-lock it, a cancel of the
// event updates it), then a booking's reservations in id order, then its payment. Writers that
// meet then wait for each other instead of deadlocking; the rare deadlock left (a hold expiring
// lapsed rows in its own order) is retried, as the hold itself does.

fn is_deadlock(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(DEADLOCK_DETECTED))
}

/// Why one attempt at a transaction failed: it lost a deadlock (it was rolled back whole, so it
/// may simply run again), or it has an answer for the caller.
enum TxError {
    Deadlock,
    Store(StoreError),
}

impl From<sqlx::Error> for TxError {
    fn from(err: sqlx::Error) -> Self {
        if is_deadlock(&err) { TxError::Deadlock } else { TxError::Store(StoreError::from(err)) }
    }
}

impl From<StoreError> for TxError {
    fn from(err: StoreError) -> Self {
        TxError::Store(err)
    }
}

type TxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, TxError>> + Send + 'a>>;

/// Runs `attempt`, one whole transaction, again while it loses deadlocks, `TX_ATTEMPTS` times in
/// all; still `TxError::Deadlock` when every attempt lost.
async fn retry_deadlocks<'a, T>(mut attempt: impl FnMut() -> TxFuture<'a, T>) -> Result<T, TxError> {
    let mut outcome = attempt().await;
    for _ in 1..TX_ATTEMPTS {
        if !matches!(outcome, Err(TxError::Deadlock)) {
            break;
        }
        outcome = attempt().await;
    }
    outcome
}

/// The answer of a retried transaction, a deadlock on every attempt counting as unavailable.
fn settle<T>(outcome: Result<T, TxError>, what: &str) -> StoreResult<T> {
    match outcome {
        Ok(value) => Ok(value),
        Err(TxError::Store(err)) => Err(err),
        Err(TxError::Deadlock) => Err(kept_deadlocking(what)),
    }
}

/// A transaction that kept losing deadlocks changed nothing; the caller may try again shortly.
fn kept_deadlocking(what: &str) -> StoreError {
    StoreError::Unavailable(format!("{what} kept deadlocking with concurrent writes; try again"))
}
