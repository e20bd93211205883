//! The SQL backends' (SQLite, PostgreSQL) errors as `StoreError`s: a broken connection is
//! `Unavailable`, a unique index that decided a domain conflict is that conflict, the rest is
//! `Internal`. Only built with one of those backends.

use super::StoreError;

/// (constraint name, SQLite's column list, the domain error it means).
type UniqueConstraint = (&'static str, &'static str, fn() -> StoreError);

/// The unique constraints whose violation is a domain conflict, by name (PostgreSQL reports the
/// name) and by columns (SQLite reports `table.column, ...`). The one place that maps them.
const UNIQUE_CONSTRAINTS: &[UniqueConstraint] = &[
    ("users_email_key", "users.email", || StoreError::EmailTaken),
    ("reservations_active_seat_uq", "reservations.event_id, reservations.seat_id", || {
        StoreError::SeatsUnavailable(Vec::new())
    }),
    ("payments_booking_open_uq", "payments.booking_id", || StoreError::payment_already_open()),
    ("codes_code_uq", "codes.code", || StoreError::CodeTaken),
];

fn is_connection_failure(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_)
    )
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_connection_failure(&err) {
            return StoreError::Unavailable(err.to_string());
        }
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                let message = db.message();
                let known = UNIQUE_CONSTRAINTS.iter().find(|(name, columns, _)| match db.constraint() {
                    Some(constraint) => constraint == *name,
                    None => message.ends_with(columns),
                });
                if let Some((_, _, conflict)) = known {
                    return conflict();
                }
            }
            // PostgreSQL: the server is shutting down or refusing connections (class 57, 08, 53).
            if let Some(code) = db.code()
                && (code.starts_with("57") || code.starts_with("08") || code.starts_with("53"))
            {
                return StoreError::Unavailable(db.message().to_owned());
            }
            // SQLite: database locked past the busy timeout.
            if db.message().contains("database is locked") {
                return StoreError::Unavailable(db.message().to_owned());
            }
        }
        StoreError::Internal(err.to_string())
    }
}
