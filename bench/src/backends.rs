//! The three storage backends, each prepared from nothing and torn down afterwards: a temp
//! SQLite file, a fresh uniquely named PostgreSQL database, an in-memory DynamoDB Local.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::procs::{self, Guarded};
use crate::util::{Context, Res};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Dynamodb,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Dynamodb];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Dynamodb => "dynamodb",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The targets for holds are set for the SQL stores; DynamoDB Local (a Java emulator) is
    /// measured and shown, not judged.
    pub fn holds_are_judged(self) -> bool {
        matches!(self, Backend::Sqlite | Backend::Postgres)
    }

    /// Makes an empty store and returns what the server needs to reach it.
    pub fn prepare(self, run_id: &str) -> Res<Prepared> {
        match self {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("proeventa-bench-{run_id}.db"));
                let file = TempDb(path.clone());
                file.remove();
                Ok(Prepared {
                    env: vec![("DATABASE_URL".into(), format!("sqlite://{}", path.display()))],
                    _sqlite: Some(file),
                    _postgres: None,
                    _dynamo: None,
                })
            }
            Backend::Postgres => {
                let url = std::env::var("BENCH_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let (admin_url, base) = split_database(&url)?;
                let name = format!("proeventa_bench_{run_id}");
                psql(&admin_url, &format!("CREATE DATABASE {name}"))?;
                Ok(Prepared {
                    env: vec![("DATABASE_URL".into(), format!("{base}/{name}"))],
                    _sqlite: None,
                    _postgres: Some(PgDb { admin_url, name }),
                    _dynamo: None,
                })
            }
            Backend::Dynamodb => {
                let dir = std::env::var("DYNAMODB_LOCAL_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|_| PathBuf::from(".tools/dynamodb-local"));
                if !dir.join("DynamoDBLocal.jar").is_file() {
                    return Err(format!(
                        "DynamoDB Local is not installed in {} (run `make dynamodb-local`)",
                        dir.display()
                    ));
                }
                let port = procs::free_port()?;
                let mut java = Command::new("java");
                java.current_dir(&dir)
                    .args(["-Xmx512m", "-Djava.library.path=DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar"])
                    .args(["-inMemory", "-port", &port.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                let mut process = Guarded::spawn(java, "DynamoDB Local (java)")?;
                procs::wait_port(SocketAddr::from(([127, 0, 0, 1], port)), &mut process, Duration::from_secs(60))
                    .context("DynamoDB Local did not start")?;
                Ok(Prepared {
                    env: vec![
                        ("DATABASE_URL".into(), "dynamodb://proeventa-bench".into()),
                        ("AWS_ENDPOINT_URL".into(), format!("http://127.0.0.1:{port}")),
                        ("AWS_ACCESS_KEY_ID".into(), "local".into()),
                        ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
                        ("AWS_REGION".into(), "us-east-1".into()),
                    ],
                    _sqlite: None,
                    _postgres: None,
                    _dynamo: Some(process),
                })
            }
        }
    }
}

/// A prepared store: its environment for the server, and the guards that remove it.
pub struct Prepared {
    pub env: Vec<(String, String)>,
    _sqlite: Option<TempDb>,
    _postgres: Option<PgDb>,
    _dynamo: Option<Guarded>,
}

/// The SQLite file and its WAL companions, removed when dropped.
struct TempDb(PathBuf);

impl TempDb {
    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A bench database, dropped (connections closed by force) when dropped.
struct PgDb {
    admin_url: String,
    name: String,
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Err(e) = psql(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("bench: could not drop the database {}: {e}", self.name);
        }
    }
}

/// `postgres://u@h:p/db` → (that URL, `postgres://u@h:p`).
fn split_database(url: &str) -> Res<(String, String)> {
    let after_scheme = url.find("://").context(format!("not a URL: {url}"))? + 3;
    let base = match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    };
    Ok((url.to_owned(), base.to_owned()))
}

/// One statement through `psql` (no PostgreSQL client library in the bench).
fn psql(url: &str, sql: &str) -> Res<()> {
    let output = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null())
        .output()
        .context("cannot run psql")?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!("psql `{sql}`: {}", stderr.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_split_off_the_url() {
        let (admin, base) = split_database("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
        assert_eq!(admin, "postgres://postgres@127.0.0.1:5432/postgres");
        assert_eq!(base, "postgres://postgres@127.0.0.1:5432");
    }
}
