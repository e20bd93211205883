//! The waiting room's signed tokens (issue 20): the queue ticket a join hands out (it names the
//! place: event and account, never a bearer of the account) and the admission token a buyer gets
//! when let through (valid for the session), which `reserve` checks without a store read.
//!
//! Both are HS256 JWTs with their own key id (`kid`), signed with a key derived from `JWT_SECRET`
//! for this use alone (HMAC-SHA256 of a label), so an access token never verifies here, a queue
//! token never verifies as an access token, and a queue ticket is never an admission token (each
//! kind has its own audience).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

/// The key id both kinds of token carry in their header.
pub const QUEUE_KEY_ID: &str = "queue-1";
const TICKET_AUDIENCE: &str = "proeventa-queue-ticket";
const ADMISSION_AUDIENCE: &str = "proeventa-admission";
/// What the signing key is derived for: another label is another key.
const KEY_LABEL: &[u8] = b"proeventa waiting room tokens v1";

/// What a queue token says: whose place, in which event's queue, until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueClaims {
    /// The account.
    pub sub: Uuid,
    /// The event.
    pub evt: Uuid,
    pub exp: i64,
}

/// Why a queue token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueTokenError {
    /// Signed by us, but past its `exp`.
    Expired,
    /// Not ours, altered, of the other kind, or for another event or account.
    Invalid,
}

/// Signs and checks queue tickets and admission tokens.
pub struct QueueTokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for QueueTokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueTokenKeys { .. }")
    }
}

impl QueueTokenKeys {
    /// The keys derived from `secret` (`JWT_SECRET`).
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(KEY_LABEL);
        let key = mac.finalize().into_bytes();
        Self { encoding: EncodingKey::from_secret(&key), decoding: DecodingKey::from_secret(&key) }
    }

    /// The queue ticket of `user_id`'s place in `event_id`'s queue, valid until `expires_at`.
    pub fn ticket(&self, event_id: Uuid, user_id: Uuid, expires_at: DateTime<Utc>) -> String {
        self.sign(TICKET_AUDIENCE, event_id, user_id, expires_at)
    }

    /// The admission token of a buyer let through, valid until its session ends.
    pub fn admission(&self, event_id: Uuid, user_id: Uuid, session_ends_at: DateTime<Utc>) -> String {
        self.sign(ADMISSION_AUDIENCE, event_id, user_id, session_ends_at)
    }

    /// The claims of a queue ticket (any account's: the ticket names the place).
    pub fn verify_ticket(&self, token: &str) -> Result<QueueClaims, QueueTokenError> {
        self.verify(TICKET_AUDIENCE, token)
    }

    /// Checks an admission token for this event and this account: signature, kind and expiry,
    /// and nothing read from the store.
    pub fn verify_admission(&self, token: &str, event_id: Uuid, user_id: Uuid) -> Result<QueueClaims, QueueTokenError> {
        let claims = self.verify(ADMISSION_AUDIENCE, token)?;
        if claims.evt != event_id || claims.sub != user_id {
            return Err(QueueTokenError::Invalid);
        }
        Ok(claims)
    }

    fn sign(&self, audience: &str, event_id: Uuid, user_id: Uuid, expires_at: DateTime<Utc>) -> String {
        #[derive(Serialize)]
        struct Signed<'a> {
            sub: Uuid,
            evt: Uuid,
            aud: &'a str,
            exp: i64,
        }
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(QUEUE_KEY_ID.to_owned());
        let claims = Signed { sub: user_id, evt: event_id, aud: audience, exp: expires_at.timestamp() };
        // HS256 over a serializable struct cannot fail.
        jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap_or_default()
    }

    fn verify(&self, audience: &str, token: &str) -> Result<QueueClaims, QueueTokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| QueueTokenError::Invalid)?;
        if header.kid.as_deref() != Some(QUEUE_KEY_ID) {
            return Err(QueueTokenError::Invalid);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        match jsonwebtoken::decode::<QueueClaims>(token, &self.decoding, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(QueueTokenError::Expired),
            Err(_) => Err(QueueTokenError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::auth::TokenKeys;
    use crate::domain::{Role, User};

    #[test]
    fn an_admission_token_is_valid_for_its_event_and_account_until_it_expires() {
        let keys = QueueTokenKeys::new(b"secret");
        let (event, user) = (Uuid::new_v4(), Uuid::new_v4());
        let token = keys.admission(event, user, Utc::now() + Duration::minutes(10));
        let claims = keys.verify_admission(&token, event, user).expect("valid");
        assert_eq!((claims.evt, claims.sub), (event, user));
        assert_eq!(keys.verify_admission(&token, Uuid::new_v4(), user), Err(QueueTokenError::Invalid), "another event");
        assert_eq!(
            keys.verify_admission(&token, event, Uuid::new_v4()),
            Err(QueueTokenError::Invalid),
            "another account"
        );
        let expired = keys.admission(event, user, Utc::now() - Duration::seconds(1));
        assert_eq!(keys.verify_admission(&expired, event, user), Err(QueueTokenError::Expired));
        let foreign = QueueTokenKeys::new(b"other").admission(event, user, Utc::now() + Duration::minutes(10));
        assert_eq!(keys.verify_admission(&foreign, event, user), Err(QueueTokenError::Invalid), "another key");
        assert_eq!(keys.verify_admission("garbage", event, user), Err(QueueTokenError::Invalid));
    }

    #[test]
    fn the_kinds_of_token_never_stand_for_each_other() {
        let keys = QueueTokenKeys::new(b"secret");
        let (event, user) = (Uuid::new_v4(), Uuid::new_v4());
        let later = Utc::now() + Duration::minutes(10);
        let ticket = keys.ticket(event, user, later);
        assert_eq!(keys.verify_ticket(&ticket).map(|c| (c.evt, c.sub)), Ok((event, user)));
        assert_eq!(
            keys.verify_admission(&ticket, event, user),
            Err(QueueTokenError::Invalid),
            "a ticket admits nobody"
        );
        let admission = keys.admission(event, user, later);
        assert_eq!(keys.verify_ticket(&admission), Err(QueueTokenError::Invalid));

        // Same secret as the access tokens, yet neither verifies as the other.
        let access = TokenKeys::new(b"secret", 3600);
        let account = User {
            id: user,
            email: "a@example.com".into(),
            name: String::new(),
            role: Role::Customer,
            disabled: false,
            created_at: Utc::now(),
            token_version: 0,
        };
        let bearer = access.issue(&account).expect("an access token");
        assert_eq!(keys.verify_admission(&bearer, event, user), Err(QueueTokenError::Invalid));
        assert!(access.verify(&admission).is_err(), "an admission token is no bearer of the account");
        assert!(access.verify(&ticket).is_err(), "a queue ticket is no bearer of the account");
    }
}
