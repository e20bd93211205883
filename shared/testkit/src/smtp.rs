//! A real SMTP server for the mail tests: `tools/mail/smtp_sink.py` (aiosmtpd, from the project
//! venv, `make venv`) on a loopback port, keeping each mail it accepts as a `.eml` file in a
//! folder. It refuses `refused-…@…` recipients for good (550) and `busy-…@…` for now (451).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The SMTP server, stopped when dropped (also on a panic).
pub struct SmtpSink {
    child: Child,
}

impl SmtpSink {
    /// Starts the server on `127.0.0.1:port`, keeping mails in `folder`, and waits until it
    /// accepts connections.
    pub fn start(port: u16, folder: &Path) -> Self {
        let python = workspace().join(".venv/bin/python");
        assert!(python.is_file(), "{} is missing: run `make venv`", python.display());
        let mut child = Command::new(python)
            .arg(workspace().join("tools/mail/smtp_sink.py"))
            .arg(port.to_string())
            .arg(folder)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("its stdout");
        BufReader::new(stdout).read_line(&mut line).expect("the SMTP server says it is ready");
        assert_eq!(line.trim(), "ready", "aiosmtpd did not start (is it in the venv? `make venv`)");
        Self { child }
    }

    /// Stops the server now (a mail server that went down).
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port()
}

/// The workspace root (this crate is `shared/testkit`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
