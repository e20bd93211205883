//! Configuration, read from the environment once at start, with defaults that run locally.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::domain::{HoldExtension, HoldLimit, HoldTtl, Invalid, ResetLifetime};
use crate::limits::RateLimits;
use crate::store::StoreSettings;

/// Where logs go and how they look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The shortest `JWT_SECRET` accepted: HS256 is only as strong as its key, and a short one can be
/// brute-forced offline from any token.
pub const JWT_SECRET_MIN_BYTES: usize = 32;

/// Everything ProEventa reads from its environment. `Debug` leaves the secrets out (and the
/// password of a `DATABASE_URL`), so a logged config never carries them.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://FILE` (default `sqlite://proeventa.db`), `postgres://...` or `dynamodb://TABLE`.
    pub database_url: String,
    /// HS256 signing secret; `None` only in local use, where `serve` makes and keeps one.
    pub jwt_secret: Option<String>,
    /// Lifetime of an access token, in seconds (default 3600).
    pub token_ttl_seconds: i64,
    pub hold_ttl: HoldTtl,
    /// `HOLD_EXTENSION_SECONDS`: what the one extension of a booking's hold adds (default 300,
    /// 30 to 1800).
    pub hold_extension: HoldExtension,
    /// `MAX_HELD_SEATS_PER_USER`: seats one user may hold at once per event (default 10).
    pub max_held_seats: HoldLimit,
    /// `PASSWORD_RESET_MINUTES`: how long a password reset link works (default 30, 1 to 1440).
    pub password_reset: ResetLifetime,
    /// `WAITLIST_OFFER_MINUTES`: how long seats offered to a waiting list's entry stay held for
    /// its buyer (default 30, 1 to 1440).
    pub waitlist_offer_minutes: u32,
    pub payment_window_seconds: u32,
    pub payment_provider: String,
    pub webhook_secret: Option<String>,
    /// `TICKET_SIGNING_KEY`: the Ed25519 seed (64 hex digits) that signs ticket codes; `None`
    /// only in local use, where `serve` makes and keeps one.
    pub ticket_signing_key: Option<String>,
    /// Origins allowed by CORS; `None` means the local site on `SITE_PORT`.
    pub cors_origins: Option<Vec<String>>,
    /// Address the local server binds (default 127.0.0.1).
    pub host: IpAddr,
    pub port: u16,
    pub site_port: u16,
    pub log_format: LogFormat,
    /// Where the booking site lives (default `booking`).
    pub site_dir: String,
    /// ReDoc's standalone bundle, served at `/redoc/redoc.standalone.js` by a build that does not
    /// carry it (cargo feature `redoc`, api-meta's) (default where `make vendor` puts it).
    pub redoc_js: String,
    /// How the store is opened: pool and in-flight limits.
    pub store: StoreSettings,
    /// Rate limits on signups, reserves and declined cards (the store counts them).
    pub limits: RateLimits,
    /// `MAIL_URL`: how the outbox's messages leave; `None` when unset (`serve` then writes them
    /// to a folder it names at start, anything else sends nothing).
    pub mail_url: Option<MailUrl>,
    /// `MAIL_FROM`: the sender of every mail, `Name <address>` or a bare address (SES: a
    /// verified identity) (default `ProEventa <tickets@proeventa.localhost>`).
    pub mail_from: String,
    /// `SITE_URL`: where the booking site lives, for the links in mails; `None` means the local
    /// site on `SITE_PORT`.
    pub site_url: Option<String>,
}

/// Where mail goes, as `MAIL_URL` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailUrl {
    /// `smtp://host:port` (port 25 when left out): STARTTLS when the server offers it.
    Smtp { host: String, port: u16 },
    /// `ses://`: Amazon SES v2 in the region the environment names.
    Ses,
    /// `file://DIR`: one `.eml` file per mail in `DIR`.
    File(PathBuf),
    /// `none`: no mail leaves; messages stay pending in the outbox until a transport is set.
    None,
}

impl MailUrl {
    /// The default sender address when `MAIL_FROM` is unset.
    pub const DEFAULT_FROM: &'static str = "ProEventa <tickets@proeventa.localhost>";

    pub fn parse(url: &str) -> Result<Self, Invalid> {
        let refused =
            |why: &str| Invalid::new("MAIL_URL", format!("{why}; use smtp://HOST:PORT, ses://, file://DIR or none"));
        if url == "none" {
            return Ok(MailUrl::None);
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(refused(&format!("`{url}` is not a mail URL")));
        };
        match scheme {
            "smtp" => {
                let authority = rest.trim_end_matches('/');
                if authority.is_empty() || authority.contains(['/', '@', '?']) {
                    return Err(refused("an SMTP URL names a host and a port only"));
                }
                let (host, port) = match authority.rsplit_once(':') {
                    Some((host, port)) => {
                        (host, port.parse().map_err(|_| refused(&format!("`{port}` is not a port number")))?)
                    }
                    None => (authority, 25),
                };
                Ok(MailUrl::Smtp { host: host.trim_matches(['[', ']']).to_owned(), port })
            }
            "ses" if rest.trim_end_matches('/').is_empty() => Ok(MailUrl::Ses),
            "ses" => Err(refused("`ses://` takes nothing after it (the region comes from AWS_REGION)")),
            "file" if !rest.is_empty() => Ok(MailUrl::File(PathBuf::from(rest))),
            "file" => Err(refused("`file://` needs a folder")),
            other => Err(refused(&format!("`{other}` is not a mail transport"))),
        }
    }
}

impl std::fmt::Display for MailUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailUrl::Smtp { host, port } => write!(f, "smtp://{host}:{port}"),
            MailUrl::Ses => f.write_str("ses://"),
            MailUrl::File(dir) => write!(f, "file://{}", dir.display()),
            MailUrl::None => f.write_str("none"),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |value: &Option<String>| if value.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Config")
            .field("database_url", &redacted_url(&self.database_url))
            .field("jwt_secret", &secret(&self.jwt_secret))
            .field("token_ttl_seconds", &self.token_ttl_seconds)
            .field("hold_ttl", &self.hold_ttl)
            .field("hold_extension", &self.hold_extension)
            .field("max_held_seats", &self.max_held_seats)
            .field("password_reset", &self.password_reset)
            .field("waitlist_offer_minutes", &self.waitlist_offer_minutes)
            .field("payment_window_seconds", &self.payment_window_seconds)
            .field("payment_provider", &self.payment_provider)
            .field("webhook_secret", &secret(&self.webhook_secret))
            .field("ticket_signing_key", &secret(&self.ticket_signing_key))
            .field("cors_origins", &self.cors_origins)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("site_port", &self.site_port)
            .field("log_format", &self.log_format)
            .field("site_dir", &self.site_dir)
            .field("redoc_js", &self.redoc_js)
            .field("store", &self.store)
            .field("limits", &self.limits)
            .field("mail_url", &self.mail_url)
            .field("mail_from", &self.mail_from)
            .field("site_url", &self.site_url)
            .finish()
    }
}

/// `WAITLIST_OFFER_MINUTES`, 1 minute to a day.
fn waitlist_offer_minutes(minutes: u64) -> Result<u32, Invalid> {
    u32::try_from(minutes)
        .ok()
        .filter(|minutes| (1..=24 * 60).contains(minutes))
        .ok_or_else(|| Invalid::new("WAITLIST_OFFER_MINUTES", "must be 1 to 1440 minutes (a day)"))
}

/// A URL with the password of its user part replaced by `***`, for logs and messages.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Invalid> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads configuration from any key lookup (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Invalid> {
        let get = |key: &str| lookup(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let number = |key: &'static str, default: u64| -> Result<u64, Invalid> {
            match get(key) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| Invalid::new(key, format!("must be a whole number, got `{v}`"))),
            }
        };
        let port = |key: &'static str, default: u16| -> Result<u16, Invalid> {
            u16::try_from(number(key, u64::from(default))?).map_err(|_| Invalid::new(key, "must be a port number"))
        };
        // A rate limit: how many attempts a window allows, at least one.
        let per_window = |key: &'static str, default: i64| -> Result<i64, Invalid> {
            let default = u64::try_from(default).unwrap_or(1);
            i64::try_from(number(key, default)?)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Invalid::new(key, "must be a positive whole number"))
        };
        let hold_seconds = u32::try_from(number("HOLD_TTL_SECONDS", 600)?)
            .map_err(|_| Invalid::new("HOLD_TTL_SECONDS", "is too large"))?;
        let max_held_seats = u32::try_from(number("MAX_HELD_SEATS_PER_USER", u64::from(HoldLimit::DEFAULT))?)
            .map_err(|_| Invalid::new("MAX_HELD_SEATS_PER_USER", format!("must be 1 to {}", HoldLimit::MAX)))
            .and_then(HoldLimit::new)?;
        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(Invalid::new("LOG_FORMAT", format!("must be `pretty` or `json`, got `{other}`")));
            }
        };
        let host = match get("HOST") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(v) => v.parse().map_err(|_| Invalid::new("HOST", format!("must be an IP address, got `{v}`")))?,
        };
        let payment_provider = get("PAYMENT_PROVIDER").unwrap_or_else(|| "simulated".into());
        if payment_provider != "simulated" {
            return Err(Invalid::new(
                "PAYMENT_PROVIDER",
                format!("`{payment_provider}` is not a known provider; use `simulated`"),
            ));
        }
        let token_ttl_seconds = i64::try_from(number("JWT_TTL_SECONDS", 3600)?)
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| Invalid::new("JWT_TTL_SECONDS", "must be positive"))?;
        let database_max_connections = match get("DATABASE_MAX_CONNECTIONS") {
            None => None,
            Some(_) => Some(
                u32::try_from(number("DATABASE_MAX_CONNECTIONS", 0)?)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Invalid::new("DATABASE_MAX_CONNECTIONS", "must be a positive whole number"))?,
            ),
        };
        let database_idle_timeout = match get("DATABASE_IDLE_TIMEOUT_SECONDS") {
            None => None,
            Some(_) => Some(
                Some(number("DATABASE_IDLE_TIMEOUT_SECONDS", 0)?)
                    .filter(|s| *s > 0)
                    .map(std::time::Duration::from_secs)
                    .ok_or_else(|| Invalid::new("DATABASE_IDLE_TIMEOUT_SECONDS", "must be a positive whole number"))?,
            ),
        };
        let dynamodb_max_in_flight = match get("DYNAMODB_MAX_IN_FLIGHT") {
            None => None,
            Some(_) => Some(
                usize::try_from(number("DYNAMODB_MAX_IN_FLIGHT", 0)?)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Invalid::new("DYNAMODB_MAX_IN_FLIGHT", "must be a positive whole number"))?,
            ),
        };
        let dynamodb_consumed_capacity = match get("DYNAMODB_CONSUMED_CAPACITY").as_deref() {
            None | Some("0" | "false" | "off" | "no") => false,
            Some("1" | "true" | "on" | "yes") => true,
            Some(_) => return Err(Invalid::new("DYNAMODB_CONSUMED_CAPACITY", "must be 1 (count) or 0 (do not count)")),
        };
        let jwt_secret = get("JWT_SECRET");
        if jwt_secret.as_ref().is_some_and(|secret| secret.len() < JWT_SECRET_MIN_BYTES) {
            return Err(Invalid::new(
                "JWT_SECRET",
                format!(
                    "must be at least {JWT_SECRET_MIN_BYTES} bytes: a shorter HS256 secret can be guessed offline from one \
                     token (make one with `openssl rand -hex 32`)"
                ),
            ));
        }
        let ticket_signing_key = get("TICKET_SIGNING_KEY");
        if let Some(key) = &ticket_signing_key {
            crate::tickets::check_secret(key)?;
        }
        let mail_url = get("MAIL_URL").map(|url| MailUrl::parse(&url)).transpose()?;
        let mail_from = get("MAIL_FROM").unwrap_or_else(|| MailUrl::DEFAULT_FROM.into());
        if !mail_from.contains('@') {
            return Err(Invalid::new("MAIL_FROM", "must be an e-mail address, optionally as `Name <address>`"));
        }
        let site_url = get("SITE_URL").map(|url| url.trim_end_matches('/').to_owned());
        if site_url.as_ref().is_some_and(|url| !(url.starts_with("https://") || url.starts_with("http://"))) {
            return Err(Invalid::new("SITE_URL", "must be an http:// or https:// address"));
        }
        Ok(Self {
            database_url: get("DATABASE_URL").unwrap_or_else(|| "sqlite://proeventa.db".into()),
            jwt_secret,
            token_ttl_seconds,
            hold_ttl: HoldTtl::from_seconds(hold_seconds)?,
            hold_extension: u32::try_from(number("HOLD_EXTENSION_SECONDS", u64::from(HoldExtension::DEFAULT_SECONDS))?)
                .ok()
                .map_or_else(|| HoldExtension::from_seconds(u32::MAX), HoldExtension::from_seconds)?,
            max_held_seats,
            password_reset: u32::try_from(number("PASSWORD_RESET_MINUTES", u64::from(ResetLifetime::DEFAULT_MINUTES))?)
                .map_or_else(|_| ResetLifetime::from_minutes(u32::MAX), ResetLifetime::from_minutes)?,
            waitlist_offer_minutes: waitlist_offer_minutes(number("WAITLIST_OFFER_MINUTES", 30)?)?,
            payment_window_seconds: u32::try_from(number("PAYMENT_WINDOW_SECONDS", 300)?)
                .map_err(|_| Invalid::new("PAYMENT_WINDOW_SECONDS", "is too large"))?,
            payment_provider,
            webhook_secret: get("WEBHOOK_SECRET"),
            ticket_signing_key,
            cors_origins: get("CORS_ORIGINS").map(|v| {
                v.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect()
            }),
            host,
            port: port("PORT", 8000)?,
            site_port: port("SITE_PORT", 8080)?,
            log_format,
            site_dir: get("SITE_DIR").unwrap_or_else(|| "booking".into()),
            redoc_js: get("REDOC_JS").unwrap_or_else(|| "vendor/redoc/bundles/redoc.standalone.js".into()),
            store: StoreSettings {
                database_max_connections,
                database_idle_timeout,
                dynamodb_max_in_flight,
                dynamodb_consumed_capacity,
            },
            limits: RateLimits::new(
                per_window("LOGIN_LIMIT_PER_ADDRESS", RateLimits::PASSWORD_GUESSES_PER_ADDRESS)?,
                per_window("SIGNUP_LIMIT_PER_HOUR", RateLimits::SIGNUPS_PER_ADDRESS_PER_HOUR)?,
                per_window("RESERVE_LIMIT_PER_MINUTE", RateLimits::RESERVES_PER_USER_PER_MINUTE)?,
                per_window("RESERVE_LIMIT_PER_ADDRESS_PER_MINUTE", RateLimits::RESERVES_PER_ADDRESS_PER_MINUTE)?,
                per_window("DECLINE_LIMIT_PER_HOUR", RateLimits::DECLINES_PER_USER_PER_HOUR)?,
            ),
            mail_url,
            mail_from,
            site_url,
        })
    }

    /// Where the booking site lives, for links in mails: `SITE_URL`, or the local site.
    pub fn site_url(&self) -> String {
        self.site_url.clone().unwrap_or_else(|| format!("http://127.0.0.1:{}", self.site_port))
    }

    /// The CORS origins in force: `CORS_ORIGINS`, or the local site on `site_port`.
    pub fn allowed_origins(&self, site_port: u16) -> Vec<String> {
        match &self.cors_origins {
            Some(list) => list.clone(),
            None => vec![format!("http://127.0.0.1:{site_port}"), format!("http://localhost:{site_port}")],
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, Invalid> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_run_locally() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://proeventa.db");
        assert_eq!((c.port, c.site_port), (8000, 8080));
        assert_eq!(c.hold_ttl, HoldTtl::from_seconds(600).unwrap());
        assert_eq!(c.max_held_seats.seats(), 10);
        assert_eq!(c.password_reset.minutes(), 30);
        assert_eq!(c.waitlist_offer_minutes, 30);
        assert_eq!(c.allowed_origins(8080), vec!["http://127.0.0.1:8080", "http://localhost:8080"]);
        assert_eq!(c.log_format, LogFormat::Pretty);
    }

    #[test]
    fn values_are_read_and_checked() {
        let c = config(&[
            ("PORT", "9000"),
            ("CORS_ORIGINS", "https://a.example/, https://b.example"),
            ("HOLD_TTL_SECONDS", "5"),
            ("MAX_HELD_SEATS_PER_USER", "4"),
        ])
        .unwrap();
        assert_eq!(c.max_held_seats, HoldLimit::new(4).unwrap());
        assert_eq!(c.port, 9000);
        assert_eq!(c.allowed_origins(1), vec!["https://a.example", "https://b.example"]);
        assert_eq!(c.hold_ttl, HoldTtl::from_seconds(5).unwrap());
        assert_eq!(config(&[("PORT", "99999")]).unwrap_err().field, "PORT");
        assert_eq!(config(&[("HOLD_TTL_SECONDS", "0")]).unwrap_err().field, "HOLD_TTL_SECONDS");
        assert_eq!(config(&[("LOG_FORMAT", "xml")]).unwrap_err().field, "LOG_FORMAT");
        assert_eq!(config(&[("PASSWORD_RESET_MINUTES", "15")]).unwrap().password_reset.minutes(), 15);
        assert_eq!(config(&[("WAITLIST_OFFER_MINUTES", "5")]).unwrap().waitlist_offer_minutes, 5);
        assert!(config(&[("WAITLIST_OFFER_MINUTES", "0")]).is_err());
        assert!(config(&[("WAITLIST_OFFER_MINUTES", "1441")]).is_err());
        for refused in ["0", "1441", "99999999999", "half an hour"] {
            let err = config(&[("PASSWORD_RESET_MINUTES", refused)]).unwrap_err();
            assert_eq!(err.field, "PASSWORD_RESET_MINUTES", "{refused}: {err}");
        }
        for refused in ["0", "1001", "99999999999", "ten"] {
            let err = config(&[("MAX_HELD_SEATS_PER_USER", refused)]).unwrap_err();
            assert_eq!(err.field, "MAX_HELD_SEATS_PER_USER", "{refused}: {err}");
        }
        assert_eq!(config(&[("DATABASE_MAX_CONNECTIONS", "0")]).unwrap_err().field, "DATABASE_MAX_CONNECTIONS");
        assert_eq!(config(&[("DYNAMODB_MAX_IN_FLIGHT", "many")]).unwrap_err().field, "DYNAMODB_MAX_IN_FLIGHT");
        assert_eq!(
            config(&[("DATABASE_IDLE_TIMEOUT_SECONDS", "0")]).unwrap_err().field,
            "DATABASE_IDLE_TIMEOUT_SECONDS"
        );
        let limits = config(&[
            ("DATABASE_MAX_CONNECTIONS", "8"),
            ("DATABASE_IDLE_TIMEOUT_SECONDS", "30"),
            ("DYNAMODB_MAX_IN_FLIGHT", "16"),
            ("DYNAMODB_CONSUMED_CAPACITY", "1"),
        ])
        .unwrap()
        .store;
        assert_eq!(
            limits,
            StoreSettings {
                database_max_connections: Some(8),
                database_idle_timeout: Some(std::time::Duration::from_secs(30)),
                dynamodb_max_in_flight: Some(16),
                dynamodb_consumed_capacity: true,
            }
        );
        assert!(!config(&[]).unwrap().store.dynamodb_consumed_capacity, "off unless asked for");
        assert!(!config(&[("DYNAMODB_CONSUMED_CAPACITY", "0")]).unwrap().store.dynamodb_consumed_capacity);
        assert_eq!(
            config(&[("DYNAMODB_CONSUMED_CAPACITY", "sometimes")]).unwrap_err().field,
            "DYNAMODB_CONSUMED_CAPACITY"
        );
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let err = config(&[("JWT_SECRET", "too-short-secret")]).unwrap_err();
        assert_eq!(err.field, "JWT_SECRET");
        assert!(err.message.contains("at least 32 bytes"), "{}", err.message);
        assert!(config(&[("JWT_SECRET", &"k".repeat(32))]).is_ok());
    }

    #[test]
    fn the_ticket_signing_key_is_64_hex_digits() {
        assert_eq!(config(&[]).unwrap().ticket_signing_key, None);
        let key = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        assert_eq!(config(&[("TICKET_SIGNING_KEY", key)]).unwrap().ticket_signing_key.as_deref(), Some(key));
        for refused in ["secret", &key[2..], &format!("{key}00"), &key.replace('9', "x")] {
            let err = config(&[("TICKET_SIGNING_KEY", refused)]).unwrap_err();
            assert_eq!(err.field, "TICKET_SIGNING_KEY", "{refused}");
            assert!(err.message.contains("64 hex digits"), "{}", err.message);
        }
    }

    #[test]
    fn mail_urls_are_parsed() {
        let smtp = |host: &str, port| Some(MailUrl::Smtp { host: host.into(), port });
        assert_eq!(config(&[]).unwrap().mail_url, None);
        assert_eq!(config(&[("MAIL_URL", "smtp://127.0.0.1:2525")]).unwrap().mail_url, smtp("127.0.0.1", 2525));
        assert_eq!(config(&[("MAIL_URL", "smtp://mail.example")]).unwrap().mail_url, smtp("mail.example", 25));
        assert_eq!(config(&[("MAIL_URL", "ses://")]).unwrap().mail_url, Some(MailUrl::Ses));
        assert_eq!(config(&[("MAIL_URL", "file://./mail")]).unwrap().mail_url, Some(MailUrl::File("./mail".into())));
        assert_eq!(config(&[("MAIL_URL", "none")]).unwrap().mail_url, Some(MailUrl::None));
        for refused in ["smtp://h:port", "smtp://", "smtp://u:p@h:25", "ses://eu-west-1", "file://", "imap://h", "h:25"]
        {
            let err = config(&[("MAIL_URL", refused)]).unwrap_err();
            assert_eq!(err.field, "MAIL_URL", "{refused}");
        }
        assert_eq!(config(&[("MAIL_FROM", "tickets")]).unwrap_err().field, "MAIL_FROM");
        assert_eq!(config(&[("SITE_URL", "ftp://x")]).unwrap_err().field, "SITE_URL");
        assert_eq!(config(&[("SITE_URL", "https://tickets.example/")]).unwrap().site_url(), "https://tickets.example");
        assert_eq!(config(&[]).unwrap().site_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(redacted_url("postgres://app:s3cret@db:5432/pe"), "postgres://app:***@db:5432/pe");
        assert_eq!(redacted_url("postgres://app@db:5432/pe"), "postgres://app@db:5432/pe");
        assert_eq!(redacted_url("sqlite://proeventa.db"), "sqlite://proeventa.db");
    }

    #[test]
    fn debug_output_leaves_secrets_out() {
        let c = config(&[
            ("DATABASE_URL", "postgres://app:hunter2-db@db.internal:5432/proeventa"),
            ("JWT_SECRET", "jwt-secret-that-must-not-be-logged-0123"),
            ("WEBHOOK_SECRET", "webhook-secret-not-for-logs"),
            ("TICKET_SIGNING_KEY", "0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        for secret in ["hunter2-db", "jwt-secret-that-must-not-be-logged", "webhook-secret-not-for-logs", "0badc0de"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains("postgres://app:***@db.internal:5432/proeventa"), "{shown}");
    }
}
