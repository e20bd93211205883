//! Identity: argon2id password hashing (on blocking threads) and HS256 access tokens (the limit on
//! password guesses is `crate::limits`, counted in the store). Nothing here knows HTTP: the extractors that use it live in `api::extract`, and
//! `AuthError` becomes an API error there (`api::error`).

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chrono::Utc;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
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
