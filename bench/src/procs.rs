//! The processes the bench starts (`proeventa serve`, `proeventa migrate`): each is owned by a
//! guard that stops it when dropped, also when a phase fails. (DynamoDB Local is
//! `proeventa-testkit`'s, stopped when the bench exits.)

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Context, Res};

/// A child process stopped (SIGTERM, then SIGKILL after a grace period) when dropped.
pub struct Guarded {
    child: Option<Child>,
    what: String,
    /// Taken just before the process was created: start-up time counts from here.
    pub spawned_at: Instant,
}

impl Guarded {
    pub fn spawn(mut command: Command, what: &str) -> Res<Self> {
        let spawned_at = Instant::now();
        let child = command.spawn().context(format!("cannot start {what}"))?;
        Ok(Self { child: Some(child), what: what.to_owned(), spawned_at })
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `Some(status)` once the process has ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Asks the process to stop and waits for it (killed after `grace`).
    #[allow(unsafe_code)] // kill(2) is a C call; see SAFETY below.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else { return };
        if let Ok(None) = child.try_wait() {
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill(2) with a pid this process spawned and has not reaped yet.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            eprintln!("bench: {} did not stop in {grace:?}; killing it", self.what);
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// A free loopback port: bound and released at once (another process could take it meanwhile,
/// which only makes that run fail with a clear message).
pub fn free_port() -> Res<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(listener.local_addr().context("free port address")?.port())
}

/// Where `proeventa` is and how every server is configured.
#[derive(Clone)]
pub struct ServerSpec {
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
    pub log_dir: PathBuf,
}

/// Variables of the parent that would change the server under measurement: set explicitly or not at all.
const CLEARED: &[&str] = &[
    "DATABASE_URL",
    "PORT",
    "SITE_PORT",
    "HOST",
    "CORS_ORIGINS",
    "HOLD_TTL_SECONDS",
    "MAX_HELD_SEATS_PER_USER",
    "JWT_TTL_SECONDS",
    "DATABASE_MAX_CONNECTIONS",
    "LOGIN_LIMIT_PER_ADDRESS",
    "SIGNUP_LIMIT_PER_HOUR",
    "RESERVE_LIMIT_PER_MINUTE",
    "RESERVE_LIMIT_PER_ADDRESS_PER_MINUTE",
    "DECLINE_LIMIT_PER_HOUR",
    "RUST_LOG",
    "LOG_FORMAT",
    "METRICS_HOST",
    "METRICS_PORT",
    "DYNAMODB_CONSUMED_CAPACITY",
];

impl ServerSpec {
    fn command(&self, args: &[&str], log: &Path) -> Res<Command> {
        let mut command = Command::new(&self.binary);
        command.args(args);
        for key in CLEARED {
            command.env_remove(key);
        }
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .context(format!("opening {}", log.display()))?;
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file);
        Ok(command)
    }

    /// Runs a one-shot subcommand (`migrate`, `create-admin`); its failure message is the error.
    pub fn run(&self, args: &[&str], log_name: &str) -> Res<()> {
        let log = self.log_dir.join(log_name);
        let _ = std::fs::remove_file(&log);
        let mut command = self.command(args, &log)?;
        let status = command.status().context(format!("cannot run {}", self.binary.display()))?;
        if status.success() {
            return Ok(());
        }
        Err(last_message(&log).unwrap_or_else(|| format!("`proeventa {}` failed ({status})", args.join(" "))))
    }

    /// Starts `proeventa serve` on `port`, not waiting for it to answer.
    pub fn spawn(&self, port: u16, log_name: &str) -> Res<Guarded> {
        let log = self.log_dir.join(log_name);
        let mut command = self.command(&["serve"], &log)?;
        command.env("PORT", port.to_string()).env("SITE_PORT", "0").env("HOST", "127.0.0.1");
        Guarded::spawn(command, "proeventa serve")
    }

    /// Starts `proeventa serve` and waits (up to `timeout`) for its first 200 from `/health`.
    pub fn start(&self, log_name: &str, timeout: Duration) -> Res<Server> {
        let port = free_port()?;
        let mut process = self.spawn(port, log_name)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = self.log_dir.join(log_name);
        let ready = wait_healthy(addr, &mut process, timeout);
        ready.map_err(|e| last_message(&log).map_or(e.clone(), |m| format!("{e}: {m}")))?;
        Ok(Server { process, addr, log })
    }
}

/// A running server.
pub struct Server {
    pub process: Guarded,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

/// Polls `/health` with a tight connect loop until it answers 200 (blocking; the caller has
/// nothing else to do meanwhile, and a loop with a 100 µs pause measures start-up finely).
pub fn wait_healthy(addr: SocketAddr, process: &mut Guarded, timeout: Duration) -> Res<Duration> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if let Some(status) = process.exited() {
            return Err(format!("the server exited ({status}) before answering"));
        }
        if health_is_ok(addr) {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    Err(format!("no 200 from http://{addr}/health within {timeout:?}"))
}

fn health_is_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_nodelay(true);
    if stream.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// The last line a failed `proeventa` wrote to stderr (its one-sentence reason).
pub fn last_message(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| strip_ansi(l).trim_start_matches("proeventa: ").to_owned())
}

/// Lines of a server log at WARN or ERROR (the bench runs servers with `RUST_LOG=warn`).
pub fn log_problems(log: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(log) else { return Vec::new() };
    text.lines().map(strip_ansi).filter(|l| l.contains("WARN") || l.contains("ERROR")).collect()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// VmRSS and VmHWM of a process, in MB (10^6 bytes, the unit of the yardstick).
pub fn memory_mb(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024.0 / 1e6)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
