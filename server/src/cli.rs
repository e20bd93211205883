//! The command line: parses a subcommand, reads the configuration, opens the store, runs it.

use std::process::ExitCode;
use std::sync::Arc;

use proeventa_core::auth::hash_password;
use proeventa_core::config::{Config, redacted_url};
use proeventa_core::domain::{Email, NewUser, Password, Role};
use proeventa_core::logging::init_logging;
use proeventa_core::store::{self, Store};

use crate::demo;

const USAGE: &str = "\
usage: proeventa <command>

commands:
  serve [--demo]                         apply migrations, serve the API on PORT and the site on SITE_PORT
                                         (--demo: seed demo data first when the store is empty)
  migrate                                apply the schema migrations
  seed-demo                              add demo venues, events and accounts when the store is empty
  create-admin --email E --password P    create an admin account
  expire-holds                           mark every lapsed hold expired, once

configuration comes from the environment: DATABASE_URL, JWT_SECRET, HOLD_TTL_SECONDS, PORT,
SITE_PORT, CORS_ORIGINS, HOST, SITE_DIR, LOG_FORMAT, RUST_LOG (see README.md)";

enum Command {
    Serve { demo: bool },
    Migrate,
    SeedDemo,
    CreateAdmin { email: String, password: String },
    ExpireHolds,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["serve"] => Ok(Command::Serve { demo: false }),
        ["serve", "--demo"] => Ok(Command::Serve { demo: true }),
        ["migrate"] => Ok(Command::Migrate),
        ["seed-demo"] => Ok(Command::SeedDemo),
        ["expire-holds"] => Ok(Command::ExpireHolds),
        ["create-admin", rest @ ..] => {
            let flag =
                |name: &str| rest.iter().position(|a| *a == name).and_then(|i| rest.get(i + 1)).map(|v| v.to_string());
            match (flag("--email"), flag("--password"), rest.len()) {
                (Some(email), Some(password), 4) => Ok(Command::CreateAdmin { email, password }),
                _ => Err("create-admin needs --email E --password P".into()),
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
    let store = open_store(&config).await?;
    match command {
        Command::Serve { demo } => {
            if demo {
                demo::seed_if_empty(store.as_ref(), true).await?;
            }
            crate::serve::serve(config, store).await
        }
        Command::Migrate => {
            println!("migrations applied to {}", store.backend());
            Ok(())
        }
        Command::SeedDemo => demo::seed_if_empty(store.as_ref(), true).await,
        Command::CreateAdmin { email, password } => create_admin(store.as_ref(), &email, password).await,
        Command::ExpireHolds => {
            let expired = store.expire_lapsed_holds(chrono::Utc::now()).await.map_err(|e| e.to_string())?;
            println!("{expired} lapsed hold(s) marked expired");
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
        assert!(matches!(parse(&args(&["serve"])), Ok(Command::Serve { demo: false })));
        assert!(matches!(parse(&args(&["serve", "--demo"])), Ok(Command::Serve { demo: true })));
        assert!(matches!(
            parse(&args(&["create-admin", "--password", "p", "--email", "e"])),
            Ok(Command::CreateAdmin { email, password }) if email == "e" && password == "p"
        ));
        assert!(parse(&args(&["create-admin", "--email", "e"])).is_err());
        assert!(parse(&args(&["frobnicate"])).is_err());
    }
}
