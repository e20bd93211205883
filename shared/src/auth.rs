//! Identity: argon2id password hashing (on blocking threads), HS256 access tokens and the login
//! failure limiter. Nothing here knows HTTP: the extractors that use it live in `api::extract`, and
//! `AuthError` becomes an API error there (`api::error`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chrono::Utc;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::{Password, Role, User};

/// A failure of the machinery (a hashing task, token signing), never of the caller's input: the
/// API answers it as a 500 with the cause logged, the CLI prints it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// At most one argon2id computation per core at a time: each takes 19 MiB, and a burst of logins
/// would otherwise start a blocking thread (and its memory) per request without finishing sooner.
async fn hashing_permit() -> Result<tokio::sync::SemaphorePermit<'static>, AuthError> {
    static PERMITS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    PERMITS
        .get_or_init(|| tokio::sync::Semaphore::new(cores))
        .acquire()
        .await
        .map_err(|e| AuthError(format!("hashing permits closed: {e}")))
}

/// The argon2id cost in force (`Argon2::default()`): memory in KiB, passes, lanes; `make bench` prints it.
pub const ARGON2_COST: (u32, u32, u32) =
    (argon2::Params::DEFAULT_M_COST, argon2::Params::DEFAULT_T_COST, argon2::Params::DEFAULT_P_COST);

/// Hashes a password with argon2id (19 MiB, t=2, p=1: OWASP's recommendation) off the async threads.
pub async fn hash_password(password: &Password) -> Result<String, AuthError> {
    let password = password.clone();
    let _permit = hashing_permit().await?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| AuthError(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AuthError(format!("hashing task failed: {e}")))?
}

/// Checks a password against a stored hash, off the async threads. With no hash (unknown
/// account) it checks against a fixed dummy hash, so both answers take about as long.
pub async fn verify_password(password: &str, hash: Option<String>) -> Result<bool, AuthError> {
    let password = password.to_owned();
    let _permit = hashing_permit().await?;
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let matches = Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok();
        known && matches
    })
    .await
    .map_err(|e| AuthError(format!("verification task failed: {e}")))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default().hash_password(b"no account has this password").map(|h| h.to_string()).unwrap_or_default()
    })
}

/// A random signing secret of 64 hex digits: what `proeventa serve` keeps when `JWT_SECRET` is
/// unset, and what a function that checks no token (the gateway) signs with, so no token of
/// anyone else's verifies there.
pub fn random_secret() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    /// The account's `token_version` when the token was issued (0 for tokens from before it).
    #[serde(default)]
    pub ver: i64,
}

/// Why a bearer token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

/// Issues and verifies HS256 access tokens; nothing else is accepted.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_seconds: i64,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl_seconds: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_seconds,
        }
    }

    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    pub fn issue(&self, user: &User) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims =
            Claims { sub: user.id, role: user.role, iat: now, exp: now + self.ttl_seconds, ver: user.token_version };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError(format!("token signing failed: {e}")))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
            Err(_) => Err(TokenError::Invalid),
        }
    }
}

/// Counts failed password checks per subject (an e-mail address that parses, or an account) and
/// per client address in a sliding window, in memory. Keys have a fixed size whatever a client
/// sends (a digest of the e-mail, an account id, an IP address), and their number is bounded.
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub const MAX_FAILURES: usize = 10;
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    /// Above this many tracked keys, stale ones are swept.
    const SWEEP_ABOVE: usize = 10_000;
    /// Never more keys than this: past it, the least recently failed are forgotten first.
    const MAX_KEYS: usize = 100_000;

    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    /// The subject a login counts against: a SHA-256 of the e-mail address, and only for one that
    /// parses as an address (any other text is counted by the client's address alone).
    pub fn email_subject(raw: &str) -> Option<String> {
        let email = crate::domain::Email::parse(raw).ok()?;
        Some(format!("email:{}", crate::hex::encode(&Sha256::digest(email.as_str().as_bytes()))))
    }

    /// The subject a password check of a signed-in account counts against (`PATCH /auth/me`).
    pub fn account_subject(user_id: Uuid) -> String {
        format!("account:{user_id}")
    }

    fn keys(subject: Option<&str>, addr: Option<IpAddr>) -> Vec<String> {
        let mut keys: Vec<String> = subject.map(str::to_owned).into_iter().collect();
        if let Some(ip) = addr {
            keys.push(format!("addr:{ip}"));
        }
        keys
    }

    /// `Err(seconds)` when the subject or the address has used up its failures.
    pub fn check(&self, subject: Option<&str>, addr: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = None::<Duration>;
        for key in Self::keys(subject, addr) {
            if let Some(times) = failures.get_mut(&key) {
                while times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                    times.pop_front();
                }
                if times.len() >= self.max_failures
                    && let Some(oldest) = times.front()
                {
                    let left = self.window.saturating_sub(now.duration_since(*oldest));
                    wait = Some(wait.map_or(left, |w| w.max(left)));
                }
            }
        }
        match wait {
            Some(left) => Err(left.as_secs().max(1)),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, subject: Option<&str>, addr: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > Self::SWEEP_ABOVE {
            let window = self.window;
            failures.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        if failures.len() >= Self::MAX_KEYS {
            let mut last_failures: Vec<Instant> = failures.values().filter_map(|times| times.back().copied()).collect();
            last_failures.sort_unstable();
            let keep_after = last_failures[last_failures.len() / 2];
            failures.retain(|_, times| times.back().is_some_and(|t| *t > keep_after));
        }
        for key in Self::keys(subject, addr) {
            let times = failures.entry(key).or_default();
            times.push_back(now);
            // Only the newest `max_failures` matter for the limit.
            while times.len() > self.max_failures {
                times.pop_front();
            }
        }
    }

    /// A successful check clears the subject's failures (not the address's).
    pub fn record_success(&self, subject: Option<&str>) {
        if let Some(subject) = subject {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            failures.remove(subject);
        }
    }

    /// How many keys are tracked now (for the memory bound's test).
    pub fn tracked_keys(&self) -> usize {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(Self::MAX_FAILURES, Self::WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> User {
        User {
            id: Uuid::new_v4(),
            email: "a@example.com".into(),
            name: String::new(),
            role,
            disabled: false,
            created_at: Utc::now(),
            token_version: 0,
        }
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let keys = TokenKeys::new(b"secret", 3600);
        let u = user(Role::Admin);
        let claims = keys.verify(&keys.issue(&u).unwrap()).unwrap();
        assert_eq!((claims.sub, claims.role), (u.id, Role::Admin));
        let expired = TokenKeys::new(b"secret", -10);
        assert_eq!(keys.verify(&expired.issue(&u).unwrap()).unwrap_err(), TokenError::Expired);
        assert_eq!(TokenKeys::new(b"other", 60).verify(&keys.issue(&u).unwrap()).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn limiter_blocks_after_ten_failures_per_email_or_address() {
        let limiter = LoginLimiter::default();
        let addr = Some(IpAddr::from([10, 0, 0, 1]));
        let (a, b) = (LoginLimiter::email_subject("a@x.io"), LoginLimiter::email_subject("b@x.io"));
        for _ in 0..10 {
            assert!(limiter.check(a.as_deref(), addr).is_ok());
            limiter.record_failure(a.as_deref(), addr);
        }
        let wait = limiter.check(a.as_deref(), None).unwrap_err();
        assert!(wait > 0 && wait <= 900);
        // The same address is blocked for another e-mail too; another address is not.
        assert!(limiter.check(b.as_deref(), addr).is_err());
        assert!(limiter.check(b.as_deref(), Some(IpAddr::from([10, 0, 0, 2]))).is_ok());
    }

    #[test]
    fn limiter_keys_have_a_fixed_size_and_only_parsable_emails_count() {
        let huge = format!("{}@example.com", "a".repeat(60_000));
        assert_eq!(LoginLimiter::email_subject("not an e-mail address"), None);
        let subject = LoginLimiter::email_subject("Ann@Example.com").unwrap();
        assert_eq!(subject.len(), "email:".len() + 64, "a SHA-256 in hex");
        assert_eq!(
            LoginLimiter::email_subject("ann@example.com").as_deref(),
            Some(subject.as_str()),
            "one key per address"
        );
        let limiter = LoginLimiter::default();
        for i in 0..250 {
            let garbage = format!("{huge}{i}");
            limiter.record_failure(LoginLimiter::email_subject(&garbage).as_deref(), None);
        }
        let stored: usize = limiter.failures.lock().unwrap().keys().map(String::len).sum();
        assert!(stored <= 250 * 70, "keys are digests, not the text sent: {stored} bytes");
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let pw = Password::parse("correct horse".into()).unwrap();
        let hash = hash_password(&pw).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse", Some(hash.clone())).await.unwrap());
        assert!(!verify_password("wrong horse!", Some(hash)).await.unwrap());
        assert!(!verify_password("correct horse", None).await.unwrap());
    }
}
