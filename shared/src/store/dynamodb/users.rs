//! Accounts and idempotency records on DynamoDB: an account and its `EMAIL#` item are written in one
//! transaction (the e-mail item's `attribute_not_exists` is the unique index), and an idempotency
//! key is claimed by a conditional put that only a missing or day-old record lets through.

use async_trait::async_trait;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::audit::audit_put;
use super::holds::kept_conflicting;
use super::items::*;
use super::messages::message_put;
use super::{
    Budget, DynamoStore, OPTIMISTIC_ATTEMPTS, Query, Returned, TxItem, Values, is_condition_failure, names_in,
    sdk_error, values_map,
};
use crate::domain::{Actor, AuditAction, AuditRecord, Email, MessageFacts, NewUser, Page, Role, User, UserChanges};
use crate::store::{IDEMPOTENCY_TTL_HOURS, IdempotencyClaim, IdempotencyStore, StoreError, StoreResult, UserStore};
use crate::store::{StoredIdempotency, claim_answer, idempotency_cutoff};

/// Where every account is listed, oldest first.
const USERS_INDEX: &str = "USERS";

/// `page` of `items`, as `LIMIT … OFFSET …` would cut it.
pub(super) fn paged<T>(items: Vec<T>, page: crate::domain::Page) -> Vec<T> {
    let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(page.limit).unwrap_or(0);
    items.into_iter().skip(offset).take(limit).collect()
}

#[async_trait]
impl UserStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let id = Uuid::new_v4();
        let created = Utc::now();
        let created_ms = ms(created);
        let mut item = user_key(id);
        item.extend([
            ("id".to_owned(), s(id.to_string())),
            ("email".to_owned(), s(user.email.as_str())),
            ("name".to_owned(), s(&user.name)),
            ("pw".to_owned(), s(&user.password_hash)),
            ("role".to_owned(), s(user.role.as_str())),
            ("disabled".to_owned(), b(false)),
            ("created".to_owned(), n(created_ms)),
            ("gsi1pk".to_owned(), s(USERS_INDEX)),
            ("gsi1sk".to_owned(), s(time_key(created_ms, &id.to_string()))),
        ]);
        let mut email = email_key(user.email.as_str());
        email.insert("uid".to_owned(), s(id.to_string()));
        let items = vec![
            TxItem::put(&self.table, item, Some("attribute_not_exists(pk)"), vec![])?,
            TxItem::put(&self.table, email, Some("attribute_not_exists(pk)"), vec![])?,
            message_put(&self.table, Some(id), MessageFacts::AccountCreated, from_ms(created_ms)?)?,
        ];
        match self.transact(&mut Budget::new(), items).await? {
            Ok(()) => {}
            Err(canceled) if canceled.condition_failed(1) => return Err(StoreError::EmailTaken),
            Err(canceled) => {
                return Err(StoreError::Internal(format!("creating an account was refused: {canceled:?}")));
            }
        }
        Ok(User {
            id,
            email: user.email.as_str().to_owned(),
            name: user.name,
            role: user.role,
            disabled: false,
            created_at: from_ms(created_ms)?,
            token_version: 0,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.get(user_key(id)).await?.as_ref().map(user_from).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user_with_password_hash(&self, email: &Email) -> StoreResult<Option<(User, String)>> {
        let Some(pointer) = self.get(email_key(email.as_str())).await? else {
            return Ok(None);
        };
        let Some(item) = self.get(user_key(get_uuid(&pointer, "uid")?)).await? else {
            return Ok(None);
        };
        Ok(Some((user_from(&item)?, get_s(&item, "pw")?.to_owned())))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>> {
        let item = self.get(user_key(id)).await?;
        item.map(|item| get_s(&item, "pw").map(str::to_owned)).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_user(&self, id: Uuid, changes: UserChanges) -> StoreResult<Option<User>> {
        let mut sets = Vec::new();
        let mut values = Vec::new();
        // Empty text is left out of the item (see `without_empty_text`), so clearing it removes it.
        let mut removes = Vec::new();
        match changes.name {
            Some(name) if name.is_empty() => removes.push("#name"),
            Some(name) => {
                sets.push("#name = :name");
                values.push((":name", s(name)));
            }
            None => {}
        }
        if let Some(hash) = changes.password_hash {
            sets.push("#pw = :pw");
            values.push((":pw", s(hash)));
            // Tokens issued before this change stop working (see `User::token_version`).
            sets.push("#tv = if_not_exists(#tv, :zero) + :one");
            values.push((":zero", n(0)));
            values.push((":one", n(1)));
        }
        if let Some(role) = changes.role {
            sets.push("#role = :role");
            values.push((":role", s(Role::as_str(role))));
        }
        if let Some(disabled) = changes.disabled {
            sets.push("#disabled = :disabled");
            values.push((":disabled", b(disabled)));
        }
        if sets.is_empty() && removes.is_empty() {
            return self.user(id).await;
        }
        let mut clauses = Vec::new();
        if !sets.is_empty() {
            clauses.push(format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            clauses.push(format!("REMOVE {}", removes.join(", ")));
        }
        let update = clauses.join(" ");
        if let Some(actor) = &changes.actor {
            return self.update_user_audited(id, (&update, values), (changes.role, changes.disabled), actor).await;
        }
        let condition = "attribute_exists(#pk)";
        let updated = self.update_if(user_key(id), &update, condition, values, Returned::New).await?;
        updated.written_item("an account's update")?.as_ref().map(user_from).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_users(&self, query: Option<&str>, page: Page) -> StoreResult<Vec<User>> {
        // One index partition holds every account: fine for a back office's few thousand.
        let items = self.query_all(Query::gsi1(USERS_INDEX)).await?;
        let mut users = items.iter().map(user_from).collect::<StoreResult<Vec<_>>>()?;
        users.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        if let Some(text) = query {
            let needle = text.to_lowercase();
            users.retain(|u| u.email.to_lowercase().contains(&needle) || u.name.to_lowercase().contains(&needle));
        }
        Ok(paged(users, page))
    }
}

impl DynamoStore {
    /// An admin's change of an account (role, disabled) with its audit entry, in one transaction
    /// conditioned on the role and the disabled flag read (read again and retried when another
    /// change came between), so the entry's "before" is what the change replaced.
    async fn update_user_audited(
        &self,
        id: Uuid,
        (update, values): (&str, Values),
        (role, disabled): (Option<Role>, Option<bool>),
        actor: &Actor,
    ) -> StoreResult<Option<User>> {
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some(item) = self.get(user_key(id)).await? else {
                return Ok(None);
            };
            let before = user_from(&item)?;
            let mut values = values.clone();
            values.push((":was_role", s(before.role.as_str())));
            let condition = match item.get("disabled") {
                Some(was) => {
                    values.push((":was_disabled", was.clone()));
                    "attribute_exists(#pk) AND #role = :was_role AND #disabled = :was_disabled"
                }
                None => "attribute_exists(#pk) AND #role = :was_role AND attribute_not_exists(#disabled)",
            };
            let after = User {
                role: role.unwrap_or(before.role),
                disabled: disabled.unwrap_or(before.disabled),
                ..before.clone()
            };
            let mut writes = vec![TxItem::update(&self.table, user_key(id), update, Some(condition), values)?];
            if let Some(record) = AuditRecord::change(actor, AuditAction::UserUpdated, id, &before, &after, Utc::now())
            {
                writes.push(audit_put(&self.table, &record)?);
            }
            match self.transact(&mut budget, writes).await? {
                Ok(()) => return self.user(id).await,
                Err(canceled) if canceled.condition_failed(0) => continue,
                Err(canceled) => {
                    return Err(StoreError::Internal(format!("changing an account was refused: {canceled:?}")));
                }
            }
        }
        Err(kept_conflicting("changing the account"))
    }
}

fn ttl_seconds(created: DateTime<Utc>) -> i64 {
    (created + Duration::hours(IDEMPOTENCY_TTL_HOURS + 1)).timestamp()
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn claim_idempotency_key(
        &self,
        user_id: Uuid,
        key_text: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyClaim> {
        let mut item = idempotency_key(user_id, key_text);
        item.extend([
            ("hash".to_owned(), s(request_hash)),
            ("created".to_owned(), n(ms(now))),
            ("ttl".to_owned(), n(ttl_seconds(now))),
        ]);
        // A record older than a day counts as absent (TTL only tidies, later): the put replaces it.
        let condition = "attribute_not_exists(#pk) OR #created < :cutoff";
        let cutoff = ms(idempotency_cutoff(now));
        let slot = self.slots.take().await?;
        let claimed = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(without_empty_text(item)))
            .condition_expression(condition)
            .set_expression_attribute_names(names_in(&[condition]))
            .set_expression_attribute_values(values_map(vec![(":cutoff", n(cutoff))]))
            .send()
            .await;
        drop(slot);
        match claimed {
            Ok(_) => return Ok(IdempotencyClaim::Claimed),
            Err(err) if is_condition_failure(&err) => {}
            Err(err) => return Err(sdk_error(err)),
        }
        let record = match self.get(idempotency_key(user_id, key_text)).await? {
            None => None,
            Some(item) => Some(StoredIdempotency {
                request_hash: text(&item, "hash"),
                status: opt_n(&item, "code")?,
                body: opt_s(&item, "body"),
            }),
        };
        claim_answer(record, request_hash)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn complete_idempotency_key(
        &self,
        user_id: Uuid,
        key_text: &str,
        status: u16,
        body: &str,
    ) -> StoreResult<()> {
        // An empty body is left out (DynamoDB Local refuses empty strings); it reads back as empty.
        let mut values = vec![(":code", n(i64::from(status)))];
        let update = if body.is_empty() {
            "SET #code = :code REMOVE #body"
        } else {
            values.push((":body", s(body)));
            "SET #code = :code, #body = :body"
        };
        let condition = "attribute_exists(#pk)";
        let key = idempotency_key(user_id, key_text);
        // Refused: a record released meanwhile is not brought back.
        self.update_if(key, update, condition, values, Returned::Nothing).await?.was_written()?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn release_idempotency_key(&self, user_id: Uuid, key_text: &str) -> StoreResult<()> {
        let _slot = self.slots.take().await?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(idempotency_key(user_id, key_text)))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}
