//! The three storage backends, each prepared from nothing and torn down afterwards by
//! `proeventa-testkit`'s guards: a temp SQLite file, a fresh uniquely named PostgreSQL database, a
//! fresh table on an in-memory DynamoDB Local.

use proeventa_testkit::{TempDynamoTable, TempPostgres, TempSqlite, postgres};

use crate::util::Res;

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

    /// Makes an empty store and returns what the server needs to reach it. PostgreSQL is the
    /// server at `BENCH_POSTGRES_URL`, else the tests' (`TEST_DATABASE_URL`, else the local one).
    pub async fn prepare(self, run_id: &str) -> Res<Prepared> {
        let prefix = format!("proeventa_bench_{run_id}");
        match self {
            Backend::Sqlite => {
                let file = TempSqlite::new(&prefix);
                Ok(Prepared { env: vec![("DATABASE_URL".into(), file.url())], _store: Box::new(file) })
            }
            Backend::Postgres => {
                let server = std::env::var("BENCH_POSTGRES_URL").unwrap_or_else(|_| postgres::server_url());
                let database = TempPostgres::create_on(&server, &prefix).await?;
                Ok(Prepared {
                    env: vec![("DATABASE_URL".into(), database.url().to_owned())],
                    _store: Box::new(database),
                })
            }
            Backend::Dynamodb => {
                // The emulator is started once, on first use, and stopped when the bench exits;
                // the table (created by `proeventa migrate`) is deleted after the run.
                let table = TempDynamoTable::try_new(&prefix)?;
                Ok(Prepared {
                    env: vec![
                        ("DATABASE_URL".into(), format!("dynamodb://{}", table.name())),
                        ("AWS_ENDPOINT_URL".into(), table.endpoint().to_owned()),
                        ("AWS_ACCESS_KEY_ID".into(), "local".into()),
                        ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
                        ("AWS_REGION".into(), "us-east-1".into()),
                    ],
                    _store: Box::new(table),
                })
            }
        }
    }
}

/// A prepared store: its environment for the server, and the guard that removes it when dropped.
pub struct Prepared {
    pub env: Vec<(String, String)>,
    _store: Box<dyn Send>,
}
