//! The stores ProEventa's tests (and `make bench`) run against, each made from nothing and removed
//! again by a guard when it is dropped, also after a panic:
//!
//! - [`TempSqlite`]: a uniquely named SQLite file under the system temp dir;
//! - [`TempPostgres`]: a throw-away database on the PostgreSQL server at `TEST_DATABASE_URL`
//!   (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! - [`TempDynamoTable`]: a uniquely named table on DynamoDB Local, which is started once per
//!   process ([`dynamodb::endpoint`]).
//!
//! And for the mail tests, [`smtp::SmtpSink`]: a real SMTP server on a loopback port.
//!
//! A backend that cannot be had fails with a message saying how to get it; nothing is skipped.
//! The guards hand out URLs and names only, never a store: this crate does not depend on
//! `proeventa-core`, so the core's own unit tests can use it too.

pub mod dynamodb;
pub mod postgres;
pub mod smtp;
pub mod sqlite;

pub use dynamodb::TempDynamoTable;
pub use postgres::TempPostgres;
pub use sqlite::TempSqlite;

/// `<prefix>_<32 hex digits>`: a name no other test (or earlier run) uses, that still says whose
/// it is. Fits a PostgreSQL database name and a DynamoDB table name.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Runs `work` to completion on a new thread with its own runtime and waits for it. A guard's
/// `drop` runs inside the test's runtime, which must not be blocked on, and may run while that
/// runtime is shutting down after a panic.
fn run_detached<F>(work: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()>,
{
    let thread = std::thread::spawn(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(work()),
        Err(e) => eprintln!("proeventa-testkit: no runtime to clean up with: {e}"),
    });
    let _ = thread.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_keep_their_prefix_and_differ() {
        let (a, b) = (unique_name("proeventa_test"), unique_name("proeventa_test"));
        assert!(a.starts_with("proeventa_test_") && a.len() == "proeventa_test_".len() + 32, "{a}");
        assert_ne!(a, b);
    }
}
