//! The command line: parses a subcommand, reads the configuration, opens the store, runs it.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;

use proeventa_core::auth::hash_password;
use proeventa_core::config::{Config, redacted_url};
use proeventa_core::domain::{Email, NewUser, Password, Role};
use proeventa_core::logging::init_logging;
use proeventa_core::mail;
use proeventa_core::store::{self, Store};
use proeventa_core::tickets::TicketKeys;

use crate::demo;

const USAGE: &str = "\
usage: proeventa <command>

commands:
  serve [--demo [--public]]              apply migrations, serve the API on PORT and the site on SITE_PORT
                                         (--demo: seed demo data first when the store is empty; its
                                         accounts have published passwords, so it binds a loopback
                                         HOST only, unless --public says otherwise)
  migrate                                apply the schema migrations
  seed-demo                              add demo venues, events and accounts when the store is empty
  create-admin --email E                 create an admin account; the password is read from
                                         ADMIN_PASSWORD, else from standard input (one line),
                                         so it stays out of `ps` and the shell's history
                                         (--password P still works, with a warning)
  expire-holds                           mark every lapsed hold expired, once
  send-mail                              deliver every due message of the outbox, once, through
                                         MAIL_URL (default file://./mail), and say what it did

configuration comes from the environment: DATABASE_URL, JWT_SECRET, HOLD_TTL_SECONDS, PORT,
SITE_PORT, METRICS_PORT, METRICS_HOST, CORS_ORIGINS, HOST, SITE_DIR, MAIL_URL, MAIL_FROM, SITE_URL,
LOG_FORMAT, RUST_LOG (see README.md)";

enum Command {
    Serve {
        demo: bool,
        public: bool,
    },
    Migrate,
    SeedDemo,
    /// `password` only when given on the command line (`--password`, kept for old scripts).
    CreateAdmin {
        email: String,
        password: Option<String>,
    },
    ExpireHolds,
    SendMail,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["serve"] => Ok(Command::Serve { demo: false, public: false }),
        ["serve", "--demo"] => Ok(Command::Serve { demo: true, public: false }),
        ["serve", "--demo", "--public"] => Ok(Command::Serve { demo: true, public: true }),
        ["migrate"] => Ok(Command::Migrate),
        ["seed-demo"] => Ok(Command::SeedDemo),
        ["expire-holds"] => Ok(Command::ExpireHolds),
        ["send-mail"] => Ok(Command::SendMail),
        ["create-admin", rest @ ..] => {
            let flag =
                |name: &str| rest.iter().position(|a| *a == name).and_then(|i| rest.get(i + 1)).map(|v| v.to_string());
            match (flag("--email"), flag("--password"), rest.len()) {
                (Some(email), None, 2) => Ok(Command::CreateAdmin { email, password: None }),
                (Some(email), Some(password), 4) => Ok(Command::CreateAdmin { email, password: Some(password) }),
                _ => Err("create-admin needs --email E (the password from ADMIN_PASSWORD or standard input)".into()),
            }
        }
        [] | ["help"] | ["--help"] | ["-h"] => Err(String::new()),
        [other, ..] => Err(format!("unknown command or arguments: {other}")),
    }
}

pub async fn run(args: Vec<String>) -> ExitCode {
    let command = match parse(&args) {
        Ok(command) => command,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("proeventa: {problem}\n");
            }
            eprintln!("{USAGE}");
            return if problem.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    match execute(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("proeventa: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command) -> Result<(), String> {
    let config = Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    init_logging(config.log_format);
    if let Command::Serve { demo: true, public } = command {
        demo_may_listen_on(config.host, public)?;
    }
    let store = open_store(&config).await?;
    // One provider for the process: the demo's purchases and the server's refunds of them.
    let payments = proeventa_core::payments::provider(&config.payment_provider, config.webhook_secret.as_deref())
        .ok_or_else(|| format!("unknown payment provider {}", config.payment_provider))?;
    match command {
        Command::Serve { demo, .. } => {
            if demo {
                demo::seed_if_empty(store.as_ref(), true, payments.as_ref()).await?;
            }
            crate::serve::serve(config, store, payments).await
        }
        Command::Migrate => {
            println!("migrations applied to {}", store.backend());
            Ok(())
        }
        Command::SeedDemo => demo::seed_if_empty(store.as_ref(), true, payments.as_ref()).await,
        Command::CreateAdmin { email, password } => {
            let password = admin_password(password, std::env::var("ADMIN_PASSWORD").ok(), std::io::stdin().lock())?;
            create_admin(store.as_ref(), &email, password).await
        }
        Command::ExpireHolds => {
            let expired = store.expire_lapsed_holds(chrono::Utc::now()).await.map_err(|e| e.to_string())?;
            println!("{expired} lapsed hold(s) marked expired");
            Ok(())
        }
        Command::SendMail => {
            let mail_url = crate::serve::local_mail_url(&config);
            let secret = crate::serve::LOCAL_TICKET_KEY.or_set(config.ticket_signing_key.as_deref())?;
            let tickets = Arc::new(TicketKeys::from_secret(&secret).map_err(|e| e.to_string())?);
            let Some(sender) = mail::sender_for(&config, &mail_url, store, tickets).await? else {
                println!("MAIL_URL is none: nothing sent, messages wait in the outbox");
                return Ok(());
            };
            let drained = sender.drain().await.map_err(|e| e.to_string())?;
            println!("{drained} (MAIL_URL {mail_url})");
            Ok(())
        }
    }
}

/// Opens the store named by `DATABASE_URL` and applies its migrations.
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, String> {
    let store = store::connect_with(&config.database_url, config.store)
        .await
        .map_err(|e| format!("cannot open the store at DATABASE_URL ({}): {e}", redacted_url(&config.database_url)))?;
    store.migrate().await.map_err(|e| format!("migrations failed: {e}"))?;
    Ok(store)
}

/// `serve --demo` creates accounts whose passwords are published (README, the site's login
/// page), so it listens on a loopback address only, unless `--public` says otherwise.
fn demo_may_listen_on(host: std::net::IpAddr, public: bool) -> Result<(), String> {
    if public || host.is_loopback() {
        return Ok(());
    }
    Err(format!(
        "serve --demo creates accounts with published passwords, so it listens on a loopback HOST only \
         (HOST is {host}); use `serve --demo --public` to serve it on that address anyway"
    ))
}

/// The new admin's password: `--password` (with a warning: it shows in `ps` and the shell's
/// history), else `ADMIN_PASSWORD`, else the first line of `input`.
fn admin_password(given: Option<String>, from_env: Option<String>, input: impl BufRead) -> Result<String, String> {
    if let Some(password) = given {
        eprintln!(
            "proeventa: warning: --password shows the password to every user of this machine (ps) and keeps it \
             in the shell's history; set ADMIN_PASSWORD or type it on standard input instead"
        );
        return Ok(password);
    }
    if let Some(password) = from_env.filter(|p| !p.is_empty()) {
        return Ok(password);
    }
    let mut line = String::new();
    input.take(4096).read_line(&mut line).map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("no password: set ADMIN_PASSWORD or give it on standard input (one line)".into());
    }
    Ok(password)
}

async fn create_admin(store: &dyn Store, email: &str, password: String) -> Result<(), String> {
    let email = Email::parse(email).map_err(|e| e.to_string())?;
    let password = Password::parse(password).map_err(|e| e.to_string())?;
    let password_hash = hash_password(&password).await.map_err(|e| e.to_string())?;
    let user = store
        .create_user(NewUser { email, name: "Administrator".into(), password_hash, role: Role::Admin })
        .await
        .map_err(|e| e.to_string())?;
    println!("admin {} created (id {})", user.email, user.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn subcommands_parse() {
        assert!(matches!(parse(&args(&["serve"])), Ok(Command::Serve { demo: false, public: false })));
        assert!(matches!(parse(&args(&["serve", "--demo"])), Ok(Command::Serve { demo: true, public: false })));
        assert!(matches!(
            parse(&args(&["serve", "--demo", "--public"])),
            Ok(Command::Serve { demo: true, public: true })
        ));
        assert!(matches!(
            parse(&args(&["create-admin", "--password", "p", "--email", "e"])),
            Ok(Command::CreateAdmin { email, password: Some(password) }) if email == "e" && password == "p"
        ));
        assert!(matches!(
            parse(&args(&["create-admin", "--email", "e"])),
            Ok(Command::CreateAdmin { email, password: None }) if email == "e"
        ));
        assert!(parse(&args(&["create-admin", "--password", "p"])).is_err());
        assert!(matches!(parse(&args(&["send-mail"])), Ok(Command::SendMail)));
        assert!(parse(&args(&["frobnicate"])).is_err());
    }

    #[test]
    fn the_demo_listens_on_loopback_unless_told_otherwise() {
        assert!(demo_may_listen_on([127, 0, 0, 1].into(), false).is_ok());
        assert!(demo_may_listen_on(std::net::Ipv6Addr::LOCALHOST.into(), false).is_ok());
        let refused = demo_may_listen_on([0, 0, 0, 0].into(), false).unwrap_err();
        assert!(refused.contains("--public"), "{refused}");
        assert!(demo_may_listen_on([0, 0, 0, 0].into(), true).is_ok());
    }

    #[test]
    fn the_admin_password_comes_from_the_environment_or_standard_input() {
        let no_input = std::io::empty();
        assert_eq!(admin_password(None, Some("from-env-pw".into()), no_input).unwrap(), "from-env-pw");
        assert_eq!(admin_password(None, None, &b"typed-pw\nrest"[..]).unwrap(), "typed-pw");
        assert_eq!(admin_password(Some("flag-pw".into()), Some("env".into()), &b""[..]).unwrap(), "flag-pw");
        assert!(admin_password(None, None, &b"\n"[..]).is_err());
    }
}
