//! Password resets on DynamoDB: one item per reset, `RESET#<digest of the token>` (never the
//! token), bound to the account's `token_version` when it was issued. Issuing puts it in one
//! `TransactWriteItems` with the reset mail (which holds the plain token until it is settled).
//! Consuming is one transaction of two conditional updates: the reset item marked `used` only where
//! it is unused and unexpired (of two confirms at once exactly one commits), and the account's new
//! password hash with its version bumped, only where the version is still the one the reset was
//! issued at and the account is enabled. A refused condition writes nothing.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::items::*;
use super::messages::reset_message_put;
use super::{Budget, DynamoStore, TxItem};
use crate::domain::{ResetDigest, ResetRequest, User};
use crate::store::{PasswordResetStore, StoreError, StoreResult, UserStore};

#[async_trait]
impl PasswordResetStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn issue_password_reset(&self, request: &ResetRequest, now: DateTime<Utc>) -> StoreResult<bool> {
        let Some(pointer) = self.get(email_key(request.email.as_str())).await? else {
            return Ok(false);
        };
        let Some(item) = self.get(user_key(get_uuid(&pointer, "uid")?)).await? else {
            return Ok(false);
        };
        let user = user_from(&item)?;
        if user.disabled {
            return Ok(false);
        }
        // The version read here is what the reset is bound to: if the account changes its password
        // before this commits, the reset is simply refused at confirm.
        let digest = request.token.digest();
        let mut reset = password_reset_key(digest.as_str());
        reset.extend([
            ("uid".to_owned(), s(user.id.to_string())),
            ("tv".to_owned(), n(user.token_version)),
            ("created".to_owned(), n(ms(now))),
            ("expires".to_owned(), n(ms(request.expires_at))),
            // Tidied by DynamoDB's TTL a day after it stopped working.
            ("ttl".to_owned(), n((request.expires_at + Duration::days(1)).timestamp())),
        ]);
        let items = vec![
            TxItem::put(&self.table, reset, Some("attribute_not_exists(#pk)"), vec![])?,
            reset_message_put(&self.table, user.id, &request.token, request.expires_at, now)?,
        ];
        match self.transact(&mut Budget::new(), items).await? {
            Ok(()) => Ok(true),
            Err(canceled) => Err(StoreError::Internal(format!("issuing a password reset was refused: {canceled:?}"))),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn reset_password(
        &self,
        token: &ResetDigest,
        password_hash: String,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        let now_ms = ms(now);
        // Read to learn the account and version; the transaction's conditions decide.
        let Some(reset) = self.get(password_reset_key(token.as_str())).await? else {
            return Err(StoreError::ResetTokenInvalid);
        };
        if reset.contains_key("used") || get_n(&reset, "expires")? <= now_ms {
            return Err(StoreError::ResetTokenInvalid);
        }
        let user_id = get_uuid(&reset, "uid")?;
        let version = get_n(&reset, "tv")?;
        let consume = TxItem::update(
            &self.table,
            password_reset_key(token.as_str()),
            "SET #used = :now",
            Some("attribute_exists(#pk) AND attribute_not_exists(#used) AND #expires > :now"),
            vec![(":now", n(now_ms))],
        )?;
        // An account that never changed its password has no `tv` yet: version 0.
        let same_version = if version == 0 { "(attribute_not_exists(#tv) OR #tv = :tv)" } else { "#tv = :tv" };
        let condition = format!("attribute_exists(#pk) AND #disabled = :enabled AND {same_version}");
        let set_password = TxItem::update(
            &self.table,
            user_key(user_id),
            "SET #pw = :pw, #tv = if_not_exists(#tv, :zero) + :one",
            Some(&condition),
            vec![
                (":pw", s(password_hash)),
                (":zero", n(0)),
                (":one", n(1)),
                (":enabled", b(false)),
                (":tv", n(version)),
            ],
        )?;
        match self.transact(&mut Budget::new(), vec![consume, set_password]).await? {
            Ok(()) => {}
            // Used or expired meanwhile (another confirm won), or the account changed its password
            // or was disabled since the reset was issued.
            Err(canceled) if canceled.any_condition_failed() => return Err(StoreError::ResetTokenInvalid),
            Err(canceled) => {
                return Err(StoreError::Internal(format!("a password reset was refused: {canceled:?}")));
            }
        }
        self.user(user_id).await?.ok_or_else(|| corrupt("account", "gone after its password reset"))
    }
}
