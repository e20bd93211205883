//! Password resets ("forgot password"): the token a reset mail carries, the digest the store keeps
//! of it, how long it lives, and the secret an outbox message holds until it is sent.
//!
//! A token is 32 random bytes from the operating system, URL-safe base64 without padding (43
//! characters). The store keeps only its SHA-256 digest (`ResetDigest`): whoever reads the store
//! cannot follow a link. The plain token reaches the mail through the outbox message's `secret`,
//! which the store erases once the message is settled (see `MessageSecret`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use super::{Email, Invalid};

/// The plain token of a reset link. Printed as `***` by `Debug`, so it never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct ResetToken(String);

impl ResetToken {
    /// Random bytes in a token: 256 bits, beyond any guessing.
    pub const BYTES: usize = 32;
    /// Its length as text (URL-safe base64 without padding).
    pub const CHARS: usize = 43;

    /// A new token from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; Self::BYTES];
        // The kernel's generator failing is not something a caller could recover from.
        getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token as a client sent it back; `None` when it cannot be one of ours (wrong length or
    /// alphabet), which the caller answers exactly as it answers an unknown token.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let ours = raw.len() == Self::CHARS && raw.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        ours.then(|| Self(raw.to_owned()))
    }

    /// What the store keeps and looks the token up by.
    pub fn digest(&self) -> ResetDigest {
        ResetDigest(crate::hex::encode(&Sha256::digest(self.0.as_bytes())))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetToken(***)")
    }
}

/// The SHA-256 digest of a reset token, 64 lowercase hex digits: the only form the store keeps.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResetDigest(String);

impl ResetDigest {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a reset link works: `PASSWORD_RESET_MINUTES`, 1 minute to a day, 30 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetLifetime(u32);

impl ResetLifetime {
    pub const DEFAULT_MINUTES: u32 = 30;
    pub const MAX_MINUTES: u32 = 24 * 60;

    pub fn from_minutes(minutes: u32) -> Result<Self, Invalid> {
        if !(1..=Self::MAX_MINUTES).contains(&minutes) {
            return Err(Invalid::new(
                "PASSWORD_RESET_MINUTES",
                format!("must be 1 to {} minutes (a day)", Self::MAX_MINUTES),
            ));
        }
        Ok(Self(minutes))
    }

    pub fn minutes(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::minutes(i64::from(self.0))
    }
}

impl Default for ResetLifetime {
    fn default() -> Self {
        Self(Self::DEFAULT_MINUTES)
    }
}

/// A reset asked for: the address as typed (parsed), the new token and when it stops working.
#[derive(Debug, Clone)]
pub struct ResetRequest {
    pub email: Email,
    pub token: ResetToken,
    pub expires_at: DateTime<Utc>,
}

/// What an outbox message carries besides its facts, only until it is settled: the plain token of
/// a reset mail. Never serialized (neither into an admin's listing nor into the facts), printed
/// as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageSecret(String);

impl MessageSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MessageSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageSecret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (ResetToken::generate(), ResetToken::generate());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), ResetToken::CHARS);
        assert_eq!(ResetToken::parse(a.expose()), Some(a.clone()));
        assert_eq!(a.digest().as_str().len(), 64);
        assert_ne!(a.digest(), b.digest());
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn anything_else_is_not_a_token() {
        let good = ResetToken::generate();
        for bad in ["", "short", &format!("{}x", good.expose()), &good.expose().replace(|_| true, "+")[..43]] {
            assert_eq!(ResetToken::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_lifetime_is_a_minute_to_a_day() {
        assert_eq!(ResetLifetime::default().minutes(), 30);
        assert!(ResetLifetime::from_minutes(0).is_err());
        assert!(ResetLifetime::from_minutes(24 * 60 + 1).is_err());
        assert_eq!(ResetLifetime::from_minutes(5).unwrap().duration(), Duration::minutes(5));
    }
}
