//! A throw-away PostgreSQL database: created on the server at `TEST_DATABASE_URL` (default
//! [`DEFAULT_SERVER_URL`]) under a unique name, and dropped `WITH (FORCE)` (whoever is still
//! connected) when the guard is dropped, also after a panic. URLs in messages have their password
//! hidden. An unreachable server fails with a message saying how to start it.

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

/// The server the tests use when `TEST_DATABASE_URL` is not set: the local one `make services`
/// starts, as its superuser (trust authentication).
pub const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long connecting to the server may take before the test fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server test databases are made on: `TEST_DATABASE_URL`, else [`DEFAULT_SERVER_URL`].
pub fn server_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => DEFAULT_SERVER_URL.to_owned(),
    }
}

/// The URL with its password hidden, for messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

/// The same server URL, naming another database (query parameters kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

async fn connect(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("timed out after {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

/// One statement on a fresh connection to `server_url`.
async fn execute_on(server_url: &str, sql: &str) -> Result<(), String> {
    let mut conn = connect(server_url).await?;
    let result = conn.execute(sql).await.map(|_| ()).map_err(|e| e.to_string());
    let _ = conn.close().await;
    result
}

/// A fresh, empty database, dropped when this guard is dropped (even after a panic). Drop
/// whatever is connected to it first, or let `WITH (FORCE)` end those connections.
#[derive(Debug)]
pub struct TempPostgres {
    server_url: String,
    name: String,
    url: String,
}

impl TempPostgres {
    /// A database named `<prefix>_<unique>` on the server at `TEST_DATABASE_URL`; panics with
    /// how to start PostgreSQL when the server cannot be reached.
    pub async fn create(prefix: &str) -> Self {
        Self::create_on(&server_url(), prefix).await.unwrap_or_else(|why| panic!("{why}"))
    }

    /// A database named `<prefix>_<unique>` on the server at `server_url`, or why not.
    pub async fn create_on(server_url: &str, prefix: &str) -> Result<Self, String> {
        let mut admin = connect(server_url).await.map_err(|e| {
            format!(
                "PostgreSQL is not reachable at {} ({e}). Start the local server with \
                 `pg_ctlcluster --skip-systemctl-redirect <version> main start` (the version is the folder \
                 in /etc/postgresql; `make services` does this), or set TEST_DATABASE_URL to a server where \
                 this user may create databases.",
                redacted(server_url)
            )
        })?;
        let name = crate::unique_name(prefix);
        let created = admin.execute(format!(r#"CREATE DATABASE "{name}""#).as_str()).await;
        let _ = admin.close().await;
        created.map_err(|e| format!("could not create test database {name} on {}: {e}", redacted(server_url)))?;
        let url = with_database(server_url, &name);
        Ok(Self { server_url: server_url.to_owned(), name, url })
    }

    /// The database's URL, to open a store on.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `url()` with the password hidden, for messages.
    pub fn redacted_url(&self) -> String {
        redacted(&self.url)
    }

    /// The database's name (for `pg_stat_activity` and the like).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's URL as given (its maintenance database): where to act on this database from.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// Drops the database now, `WITH (FORCE)`, while the test still runs (to watch a store lose
    /// it); panics when that fails.
    pub async fn drop_now(&self) {
        execute_on(&self.server_url, &format!(r#"DROP DATABASE "{}" WITH (FORCE)"#, self.name))
            .await
            .unwrap_or_else(|e| panic!("could not drop test database {}: {e}", self.name));
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        crate::run_detached(move || async move {
            let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
            if let Err(e) = execute_on(&server_url, &sql).await {
                eprintln!("could not drop test database {name}: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_nothing_else_is() {
        assert_eq!(redacted("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redacted(DEFAULT_SERVER_URL), DEFAULT_SERVER_URL);
        assert_eq!(redacted("not a url"), "not a url");
    }

    #[test]
    fn another_database_on_the_same_server() {
        assert_eq!(with_database(DEFAULT_SERVER_URL, "t1"), "postgres://postgres@127.0.0.1:5432/t1");
        assert_eq!(with_database("postgres://h:5432", "t1"), "postgres://h:5432/t1");
        assert_eq!(with_database("postgres://h/db?sslmode=disable", "t1"), "postgres://h/t1?sslmode=disable");
    }

    #[tokio::test]
    async fn a_database_is_there_until_dropped() {
        let db = TempPostgres::create("proeventa_testkit").await;
        assert!(db.name().starts_with("proeventa_testkit_") && db.url().ends_with(db.name()), "{db:?}");
        let conn = connect(db.url()).await.expect("connect to the new database");
        let exists = "SELECT COUNT(*) FROM pg_database WHERE datname = $1";
        let (server, name) = (db.server_url().to_owned(), db.name().to_owned());
        // The guard drops the database although a connection to it is still open.
        drop(db);
        let _ = conn.close().await;
        let mut admin = connect(&server).await.expect("connect to the server");
        let left: i64 = sqlx::query_scalar(exists).bind(&name).fetch_one(&mut admin).await.expect("count");
        assert_eq!(left, 0, "{name} is still there");
    }

    #[tokio::test]
    async fn an_unreachable_server_says_how_to_start_one() {
        // Port 1 on loopback: nothing listens there.
        let why = TempPostgres::create_on("postgres://postgres:pw@127.0.0.1:1/postgres", "proeventa_testkit")
            .await
            .expect_err("nothing listens on port 1");
        assert!(why.contains("pg_ctlcluster --skip-systemctl-redirect <version> main start"), "{why}");
        assert!(why.contains("TEST_DATABASE_URL") && why.contains("postgres:***@127.0.0.1:1"), "{why}");
        assert!(!why.contains("pw@"), "the password leaks: {why}");
    }
}
