//! `make run`'s mail (issue 17): `proeventa serve --demo` with no `MAIL_URL` names its mail
//! folder at start (`./mail`, by its absolute path), and the demo's paid bookings, confirmed by the
//! store's own confirm, reach that folder as confirmation mails of the demo buyer's tickets,
//! written by the sender that `serve` runs. The real binary, in a folder of its own, on SQLite.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proeventa_testkit::TempSqlite;

/// Starting includes migrations, the demo's accounts (argon2) and its purchases; mail goes out at
/// the sender's next tick (every 2 s) after that.
const BOUND: Duration = Duration::from_secs(90);
/// The demo's purchases (server/src/demo.rs, `DEMO_PURCHASES`): three bookings.
const DEMO_BOOKINGS: usize = 3;

/// The server, killed and reaped when dropped (also on a panic), with its folder removed.
struct Demo {
    child: Child,
    dir: PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn mails_in(folder: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}

#[test]
fn serve_demo_names_its_mail_folder_and_mails_the_demo_purchases_there() {
    let store = TempSqlite::new("proeventa_demo_mail");
    let dir = std::env::temp_dir().join(format!("proeventa-demo-mail-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a folder for the server");
    let mut child = Command::new(env!("CARGO_BIN_EXE_proeventa"))
        .args(["serve", "--demo"])
        .current_dir(&dir)
        .env_remove("MAIL_URL")
        .env("DATABASE_URL", store.url())
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("SITE_PORT", "0")
        .env("JWT_SECRET", "demo-mail-test-secret-0123456789abcdef0123456789")
        .env("TICKET_SIGNING_KEY", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        .env("WEBHOOK_SECRET", "demo-mail-webhook-secret")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the proeventa binary");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo { child, dir: dir.clone() };

    // The folder as `serve` names it: the line "  mail     <folder>  (one .eml file per mail; …)".
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("mail") {
                let _ = tx.send(rest.trim().split("  ").next().unwrap_or_default().to_owned());
            }
        }
    });
    let named = rx.recv_timeout(BOUND).expect("serve --demo prints its mail folder at start");
    let folder = PathBuf::from(&named);
    assert!(folder.is_absolute(), "the folder is named by its absolute path: {named}");
    assert_eq!(
        folder.canonicalize().ok(),
        dir.join("mail").canonicalize().ok(),
        "with no MAIL_URL, mail goes to ./mail: {named}"
    );

    let started = Instant::now();
    let confirmations = loop {
        let confirmations: Vec<String> =
            mails_in(&folder).into_iter().filter(|mail| mail.contains("Subject: Your tickets for")).collect();
        if confirmations.len() >= DEMO_BOOKINGS || started.elapsed() > BOUND {
            break confirmations;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(confirmations.len(), DEMO_BOOKINGS, "one confirmation per demo booking in {named}");
    for mail in &confirmations {
        assert!(mail.contains("ben@proeventa.test"), "to the demo buyer");
        assert!(mail.contains("application/pdf"), "the tickets are attached as PDFs");
        assert!(mail.contains("text/calendar"), "with a calendar file");
    }
    let subjects: Vec<&str> =
        confirmations.iter().filter_map(|mail| mail.lines().find(|l| l.starts_with("Subject:"))).collect();
    for show in ["Hamlet", "Northern Lights Tour", "The Last Lighthouse"] {
        assert!(subjects.iter().any(|s| s.contains(show)), "a confirmation for {show}: {subjects:?}");
    }
    drop(demo);
}
