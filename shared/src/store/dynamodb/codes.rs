//! Promo and access codes on DynamoDB. A code is one item (`CODE#<id>` / `CODE`), listed under
//! the `gsi1` partition `CODES` while it is live; its upper-cased name is one more item
//! (`CODENAME#<name>`), put with `attribute_not_exists(pk)` in the creation's transaction, so two
//! creations of one name at once make one code (`CodeTaken`), and deleted with the code. An admin's
//! change is one transaction with its audit entry, conditioned on the code as it was read (its
//! change counter `ver` and its `uses`). A code's uses are counted by the confirm of a payment
//! opened with it, in the confirm's transaction (`code_use_writes`): `ADD uses` on the code item
//! conditioned on `uses < max_uses`, and on the account's count (`CODE#<id>` / `USER#<id>`)
//! conditioned on `uses < max_uses_per_user`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::audit_put;
use super::holds::kept_conflicting;
use super::items::*;
use super::users::paged;
use super::{Budget, DynamoStore, OPTIMISTIC_ATTEMPTS, Query, TxItem};
use crate::domain::{Actor, AuditAction, AuditRecord, Code, CodeChanges, CodeKind, NewCode, Page};
use crate::store::{CodeStore, Entity, StoreError, StoreResult};

/// Where live codes are listed (`gsi1`), by creation time.
const CODES_INDEX: &str = "CODES";

pub(super) fn code_key(id: Uuid) -> Item {
    key(CODE.pk(&[&id]), "CODE")
}

fn code_name_key(name: &str) -> Item {
    key(CODE_NAME.pk(&[&name]), "CODENAME")
}

/// An account's count of a code's uses.
fn code_user_key(code_id: Uuid, user_id: Uuid) -> Item {
    key(CODE.pk(&[&code_id]), &format!("USER#{user_id}"))
}

fn list_json(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

fn list_from(item: &Item, name: &str) -> StoreResult<Vec<String>> {
    let raw = get_s(item, name)?;
    serde_json::from_str(raw).map_err(|_| corrupt(name, raw))
}

/// A live code, or `None` for a deleted one.
fn code_from(item: &Item) -> StoreResult<Option<Code>> {
    if item.contains_key("deleted") {
        return Ok(None);
    }
    Ok(Some(Code {
        id: get_uuid(item, "id")?,
        code: get_s(item, "code")?.to_owned(),
        kind: get_enum::<CodeKind>(item, "kind")?,
        value: opt_n(item, "value")?,
        event_id: opt_s(item, "eid")
            .map(|raw| Uuid::parse_str(&raw).map_err(|_| corrupt("event id", &raw)))
            .transpose()?,
        ticket_types: list_from(item, "types")?,
        tiers: list_from(item, "tiers")?,
        max_uses: opt_n(item, "max")?,
        max_uses_per_user: opt_n(item, "max_user")?,
        valid_from: opt_n(item, "from")?.map(from_ms).transpose()?,
        valid_to: opt_n(item, "to")?.map(from_ms).transpose()?,
        uses: opt_n(item, "uses")?.unwrap_or(0),
        created_at: get_time(item, "created")?,
    }))
}

/// The whole item of a live code at change counter `ver`.
fn code_item(code: &Code, ver: i64) -> Item {
    let mut item = code_key(code.id);
    item.extend([
        ("id".to_owned(), s(code.id.to_string())),
        ("code".to_owned(), s(&code.code)),
        ("kind".to_owned(), s(code.kind.as_str())),
        ("types".to_owned(), s(list_json(&code.ticket_types))),
        ("tiers".to_owned(), s(list_json(&code.tiers))),
        ("uses".to_owned(), n(code.uses)),
        ("created".to_owned(), n(ms(code.created_at))),
        ("ver".to_owned(), n(ver)),
        ("gsi1pk".to_owned(), s(CODES_INDEX)),
        ("gsi1sk".to_owned(), s(time_key(ms(code.created_at), &code.id.to_string()))),
    ]);
    let optional = [
        ("value", code.value),
        ("max", code.max_uses),
        ("max_user", code.max_uses_per_user),
        ("from", code.valid_from.map(ms)),
        ("to", code.valid_to.map(ms)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), n(value));
        }
    }
    if let Some(event_id) = code.event_id {
        item.insert("eid".to_owned(), s(event_id.to_string()));
    }
    item
}

/// The writes that count one use of `code` (as read: its per-account limit) by `user_id`, for the
/// confirm's transaction: the code's count, conditioned on uses left and on the per-account limit
/// it was read with; then the account's count, conditioned on its uses left.
pub(super) fn code_use_writes(table: &str, code: &Item, user_id: Uuid) -> StoreResult<Vec<TransactWriteItem>> {
    let code_id = get_uuid(code, "id")?;
    let per_user = opt_n(code, "max_user")?;
    let mut values = vec![(":one", n(1))];
    let limit_as_read = match per_user {
        Some(limit) => {
            values.push((":max_user", n(limit)));
            "#max_user = :max_user"
        }
        None => "attribute_not_exists(#max_user)",
    };
    let condition =
        format!("attribute_exists(#pk) AND (attribute_not_exists(#max) OR #uses < #max) AND {limit_as_read}");
    let code_write = TxItem::update(table, code_key(code_id), "ADD #uses :one", Some(condition.as_str()), values)?;
    let user_write = match per_user {
        Some(limit) => TxItem::update(
            table,
            code_user_key(code_id, user_id),
            "ADD #uses :one",
            Some("attribute_not_exists(#uses) OR #uses < :max_user"),
            vec![(":one", n(1)), (":max_user", n(limit))],
        )?,
        None => TxItem::update(table, code_user_key(code_id, user_id), "ADD #uses :one", None, vec![(":one", n(1))])?,
    };
    Ok(vec![code_write, user_write])
}

impl DynamoStore {
    /// A code item as stored, deleted or not.
    pub(super) async fn code_item(&self, id: Uuid) -> StoreResult<Option<Item>> {
        self.get(code_key(id)).await
    }

    /// Whether a code as stored now has no use left in all.
    pub(super) async fn code_used_up(&self, id: Uuid) -> StoreResult<bool> {
        let Some(item) = self.code_item(id).await? else {
            return Ok(true);
        };
        let uses = opt_n(&item, "uses")?.unwrap_or(0);
        Ok(opt_n(&item, "max")?.is_some_and(|max| uses >= max))
    }
}

#[async_trait]
impl CodeStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_code(&self, new: &NewCode, now: DateTime<Utc>) -> StoreResult<Code> {
        let code = new.created(now);
        let mut name = code_name_key(&code.code);
        name.insert("code_id".to_owned(), s(code.id.to_string()));
        let mut writes = vec![
            TxItem::put(&self.table, name, Some("attribute_not_exists(pk)"), vec![])?,
            TxItem::put(&self.table, code_item(&code, 0), Some("attribute_not_exists(pk)"), vec![])?,
        ];
        if let Some(actor) = &new.actor {
            writes.push(audit_put(
                &self.table,
                &AuditRecord::creation(actor, AuditAction::CodeCreated, code.id, &code, now),
            )?);
        }
        match self.transact(&mut Budget::new(), writes).await? {
            Ok(()) => Ok(code),
            Err(canceled) if canceled.condition_failed(0) => Err(StoreError::CodeTaken),
            Err(_) => Err(kept_conflicting("creating the code")),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_codes(&self, page: Page) -> StoreResult<Vec<Code>> {
        let items = self.query_all(Query::gsi1(CODES_INDEX)).await?;
        let mut codes: Vec<Code> =
            items.iter().map(code_from).collect::<StoreResult<Vec<_>>>()?.into_iter().flatten().collect();
        codes.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(paged(codes, page))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn code(&self, id: Uuid) -> StoreResult<Option<Code>> {
        match self.code_item(id).await? {
            Some(item) => code_from(&item),
            None => Ok(None),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn code_by_name(&self, name: &str) -> StoreResult<Option<Code>> {
        let Some(named) = self.get(code_name_key(&name.to_ascii_uppercase())).await? else {
            return Ok(None);
        };
        self.code(get_uuid(&named, "code_id")?).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_code(&self, id: Uuid, changes: &CodeChanges, now: DateTime<Utc>) -> StoreResult<Code> {
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some(item) = self.code_item(id).await? else {
                return Err(StoreError::NotFound(Entity::Code));
            };
            let Some(before) = code_from(&item)? else {
                return Err(StoreError::NotFound(Entity::Code));
            };
            let ver = opt_n(&item, "ver")?.unwrap_or(0);
            let after = changes.apply(&before).map_err(StoreError::Rejected)?;
            // The whole item, as read but for the change: conditioned on nothing else having
            // changed it (an admin's change moves `ver`, a confirm `uses`).
            let mut writes = vec![TxItem::put(
                &self.table,
                code_item(&after, ver + 1),
                Some("#ver = :ver AND #uses = :uses AND attribute_not_exists(#deleted)"),
                vec![(":ver", n(ver)), (":uses", n(before.uses))],
            )?];
            if let Some(actor) = &changes.actor
                && let Some(record) = AuditRecord::change(actor, AuditAction::CodeUpdated, id, &before, &after, now)
            {
                writes.push(audit_put(&self.table, &record)?);
            }
            match self.transact(&mut budget, writes).await? {
                Ok(()) => return Ok(after),
                Err(canceled) if canceled.condition_failed(0) => {}
                Err(_) => return Err(kept_conflicting("changing the code")),
            }
        }
        Err(kept_conflicting("changing the code"))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn delete_code(&self, id: Uuid, actor: Option<&Actor>, now: DateTime<Utc>) -> StoreResult<()> {
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some(item) = self.code_item(id).await? else {
                return Err(StoreError::NotFound(Entity::Code));
            };
            let Some(before) = code_from(&item)? else {
                return Err(StoreError::NotFound(Entity::Code));
            };
            let ver = opt_n(&item, "ver")?.unwrap_or(0);
            let mut writes = vec![
                TxItem::update(
                    &self.table,
                    code_key(id),
                    "SET #deleted = :now, #ver = :next REMOVE #gsi1pk, #gsi1sk",
                    Some("#ver = :ver AND attribute_not_exists(#deleted)"),
                    vec![(":now", n(ms(now))), (":ver", n(ver)), (":next", n(ver + 1))],
                )?,
                TxItem::delete(
                    &self.table,
                    code_name_key(&before.code),
                    "#code_id = :id",
                    vec![(":id", s(id.to_string()))],
                )?,
            ];
            if let Some(actor) = actor {
                writes.push(audit_put(
                    &self.table,
                    &AuditRecord::deletion(actor, AuditAction::CodeDeleted, id, &before, now),
                )?);
            }
            match self.transact(&mut budget, writes).await? {
                Ok(()) => return Ok(()),
                Err(canceled) if canceled.any_condition_failed() => {}
                Err(_) => return Err(kept_conflicting("deleting the code")),
            }
        }
        Err(kept_conflicting("deleting the code"))
    }
}
