//! Rate limits: which attempts count against which keys, how many a window allows, and the answer
//! when one is used up. The counting is the store's (`LimitStore`), so every process on one store
//! shares each limit: on Lambda, every execution environment counts into the same counter.
//!
//! An attempt is counted *before* the work it limits (a password check, a hold, a card charge),
//! by one atomic increment per key, so a burst of N concurrent attempts gets counts 1..=N and only
//! the first `max` go ahead, whatever the concurrency. An attempt that turns out not to count (a
//! right password, a card that was not declined) is taken back afterwards, its own only.
//!
//! Keys have a fixed size whatever a client sends: a limit's name and a digest of an e-mail
//! address that parses, an account id or an IP address.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::{LimitStore, StoreError};

/// How many attempts one key may make in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The counter's name, the first part of every key it counts.
    pub name: &'static str,
    /// Attempts allowed per subject (an e-mail, an account) in a window.
    pub per_subject: i64,
    /// Attempts allowed per client address in a window.
    pub per_address: i64,
    pub window: Duration,
    /// What the client did too often, as the start of the 429's sentence.
    pub too_many: &'static str,
}

/// The rate limits in force, each counted per subject and per client address; the numbers a
/// deployment may change are read by `Config` (README, "Configuration").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Password checks, at login and as `PATCH /auth/me`'s `current_password`: 10 per e-mail
    /// address (or account) and `LOGIN_LIMIT_PER_ADDRESS` per client address, in 15 minutes.
    pub password_guesses: Limit,
    /// `POST /auth/signup`, per e-mail address and per client address, in an hour.
    pub signups: Limit,
    /// `POST /reservations/reservations/reserve`, per account and per client address, in a minute.
    pub reserves: Limit,
    /// Declined cards at confirm, per account (and per client address), in an hour.
    pub declines: Limit,
    /// `POST /auth/password-reset`, per e-mail address and per client address, in an hour: each
    /// one may send a mail, so a script must not turn it into a way to flood someone's inbox.
    pub password_resets: Limit,
    /// `POST /auth/password-reset/confirm`, per client address, in 15 minutes: each one costs a
    /// password hash, and a burst of made-up tokens gets no more than this.
    pub reset_confirms: Limit,
}

impl RateLimits {
    pub const PASSWORD_GUESSES_PER_SUBJECT: i64 = 10;
    pub const PASSWORD_GUESSES_PER_ADDRESS: i64 = 10;
    pub const SIGNUPS_PER_ADDRESS_PER_HOUR: i64 = 20;
    /// Several tries with one address are normal (a typo, a second device); more are a script.
    pub const SIGNUPS_PER_EMAIL_PER_HOUR: i64 = 5;
    pub const RESERVES_PER_USER_PER_MINUTE: i64 = 30;
    pub const RESERVES_PER_ADDRESS_PER_MINUTE: i64 = 300;
    pub const DECLINES_PER_USER_PER_HOUR: i64 = 10;
    /// A few asks are normal (a mail that is slow, a second try); more are a script.
    pub const PASSWORD_RESETS_PER_EMAIL_PER_HOUR: i64 = 5;
    pub const PASSWORD_RESETS_PER_ADDRESS_PER_HOUR: i64 = 20;
    pub const RESET_CONFIRMS_PER_ADDRESS: i64 = 20;

    /// The limits with the given numbers (see `Config`).
    pub fn new(
        password_guesses_per_address: i64,
        signups_per_address_per_hour: i64,
        reserves_per_user_per_minute: i64,
        reserves_per_address_per_minute: i64,
        declines_per_user_per_hour: i64,
    ) -> Self {
        Self {
            password_guesses: Limit {
                name: "password",
                per_subject: Self::PASSWORD_GUESSES_PER_SUBJECT,
                per_address: password_guesses_per_address,
                window: Duration::minutes(15),
                too_many: "Too many failed attempts",
            },
            signups: Limit {
                name: "signup",
                per_subject: Self::SIGNUPS_PER_EMAIL_PER_HOUR,
                per_address: signups_per_address_per_hour,
                window: Duration::hours(1),
                too_many: "Too many sign-ups",
            },
            reserves: Limit {
                name: "reserve",
                per_subject: reserves_per_user_per_minute,
                per_address: reserves_per_address_per_minute,
                window: Duration::minutes(1),
                too_many: "Too many reservation requests",
            },
            declines: Limit {
                name: "decline",
                per_subject: declines_per_user_per_hour,
                // Card testing from one address through many accounts is stopped here too.
                per_address: declines_per_user_per_hour.saturating_mul(3),
                window: Duration::hours(1),
                too_many: "Too many declined cards",
            },
            password_resets: Limit {
                name: "reset",
                per_subject: Self::PASSWORD_RESETS_PER_EMAIL_PER_HOUR,
                per_address: Self::PASSWORD_RESETS_PER_ADDRESS_PER_HOUR,
                window: Duration::hours(1),
                too_many: "Too many password reset requests",
            },
            reset_confirms: Limit {
                name: "reset-confirm",
                // Counted per client address only: a token names no subject until it is checked.
                per_subject: Self::RESET_CONFIRMS_PER_ADDRESS,
                per_address: Self::RESET_CONFIRMS_PER_ADDRESS,
                window: Duration::minutes(15),
                too_many: "Too many password reset attempts",
            },
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(
            Self::PASSWORD_GUESSES_PER_ADDRESS,
            Self::SIGNUPS_PER_ADDRESS_PER_HOUR,
            Self::RESERVES_PER_USER_PER_MINUTE,
            Self::RESERVES_PER_ADDRESS_PER_MINUTE,
            Self::DECLINES_PER_USER_PER_HOUR,
        )
    }
}

/// Who an attempt is counted against besides its client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// An e-mail address as a client typed it: counted only when it parses, by a digest of it.
    Email(&'a str),
    /// A signed-in account.
    Account(Uuid),
}

impl Subject<'_> {
    fn key_part(self) -> Option<String> {
        match self {
            Subject::Email(raw) => {
                let email = crate::domain::Email::parse(raw).ok()?;
                Some(format!("email:{}", crate::hex::encode(&Sha256::digest(email.as_str().as_bytes()))))
            }
            Subject::Account(id) => Some(format!("account:{id}")),
        }
    }
}

/// A used-up limit, or the store failing to count.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The limit is used up until the window ends.
    Limited {
        too_many: &'static str,
        retry_after_seconds: u64,
    },
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(err: StoreError) -> Self {
        Refusal::Store(err)
    }
}

/// An attempt that was counted and allowed; `take_back` uncounts it when it turned out not to count.
#[must_use = "an attempt that should not count must be taken back"]
#[derive(Debug)]
pub struct Attempt {
    counted: Vec<(String, DateTime<Utc>)>,
}

impl Limit {
    /// The keys an attempt counts against, with the most each allows.
    fn keys(&self, subject: Option<Subject<'_>>, addr: Option<IpAddr>) -> Vec<(String, i64)> {
        let mut keys = Vec::with_capacity(2);
        if let Some(part) = subject.and_then(Subject::key_part) {
            keys.push((format!("{}:{part}", self.name), self.per_subject));
        }
        if let Some(ip) = addr {
            keys.push((format!("{}:addr:{ip}", self.name), self.per_address));
        }
        keys
    }

    /// Counts one attempt against the subject and the client address, and lets it go ahead only
    /// when every count is within its limit. A refused attempt stays counted: it is one more try.
    pub async fn attempt(
        &self,
        store: &dyn LimitStore,
        subject: Option<Subject<'_>>,
        addr: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<Attempt, Refusal> {
        let keys = self.keys(subject, addr);
        if keys.is_empty() {
            return Ok(Attempt { counted: Vec::new() });
        }
        let names: Vec<String> = keys.iter().map(|(key, _)| key.clone()).collect();
        let counts = store.count_attempts(&names, self.window, now).await?;
        let wait = keys
            .iter()
            .zip(&counts)
            .filter(|((_, max), count)| count.attempts > *max)
            .map(|(_, count)| count.window_ends - now)
            .max();
        match wait {
            Some(left) => {
                crate::metrics::rate_limited(self.name);
                Err(Refusal::Limited {
                    too_many: self.too_many,
                    retry_after_seconds: u64::try_from(left.num_seconds()).unwrap_or(0).max(1),
                })
            }
            None => Ok(Attempt { counted: names.into_iter().zip(counts.into_iter().map(|c| c.window_ends)).collect() }),
        }
    }
}

impl Attempt {
    /// Uncounts this attempt (and only this one) from each key it was counted against.
    pub async fn take_back(self, store: &dyn LimitStore) -> Result<(), StoreError> {
        for (key, window_ends) in &self.counted {
            store.uncount_attempt(key, *window_ends).await?;
        }
        Ok(())
    }

    /// Keeps this attempt counted (a wrong password, a declined card): the default, said aloud.
    pub fn keep(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_a_fixed_size_and_only_parsable_emails_count() {
        let limit = RateLimits::default().password_guesses;
        assert_eq!(limit.keys(Some(Subject::Email("not an e-mail address")), None), vec![]);
        let garbage = format!("{}@example.com", "x".repeat(60_000));
        let keys = limit.keys(Some(Subject::Email(&garbage)), None);
        assert!(keys.iter().all(|(key, _)| key.len() < 100), "{keys:?}");
        assert_eq!(
            limit.keys(Some(Subject::Email("Ann@Example.com")), None),
            limit.keys(Some(Subject::Email("ann@example.com")), None),
            "an address counts once however it is capitalised"
        );
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(limit.keys(None, Some(ip)), vec![("password:addr:2001:db8::1".to_owned(), 10)]);
    }

    #[test]
    fn each_limit_counts_under_its_own_name() {
        let limits = RateLimits::default();
        let names = [
            limits.password_guesses.name,
            limits.signups.name,
            limits.reserves.name,
            limits.declines.name,
            limits.password_resets.name,
            limits.reset_confirms.name,
        ];
        let distinct: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
    }
}
