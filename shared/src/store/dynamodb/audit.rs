//! The audit log on DynamoDB. An entry is one item, put by the audited change in its own
//! `TransactWriteItems` (`audit_put`), keyed for the three listings without a Scan:
//!
//! | listing | read |
//! |---|---|
//! | by kind (`entity=event`) | table partition `AUDIT#<kind>`, sort key `<at ms, 15 digits>#<id>` |
//! | by entity (`entity=event:<id>`) | `gsi1` partition `AUDIT#<kind>#<entity id>`, same sort key |
//! | by actor (`actor=<id>`) | `gsi2` partition `AUDIT#ACTOR#<actor id>`, same sort key |
//! | everything | the five kind partitions, merged |
//!
//! Each is read newest first (`ScanIndexForward: false`), `from`/`to` as a sort-key range, and
//! only as far as the page needs (offset + limit entries that pass the filter the key does not
//! answer: the actor within an entity, the kind within an actor). Admin actions are few, so one
//! partition per kind takes their writes easily.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::holds::kept_conflicting;
use super::items::*;
use super::{Budget, DynamoStore, OPTIMISTIC_ATTEMPTS, TxItem, names_in, sdk_error, values_map};
use crate::domain::{Actor, AuditAction, AuditEntry, AuditFilter, AuditRecord, EntityKind, TimeZone, Venue};
use crate::store::{AuditStore, StoreError, StoreResult};

fn kind_pk(kind: EntityKind) -> String {
    format!("AUDIT#{}", kind.as_str())
}

fn entity_pk(kind: EntityKind, id: uuid::Uuid) -> String {
    format!("AUDIT#{}#{id}", kind.as_str())
}

fn actor_pk(actor: uuid::Uuid) -> String {
    format!("AUDIT#ACTOR#{actor}")
}

/// The item of an audit entry, for the change's transaction (refused if its id were ever reused).
pub(super) fn audit_put(table: &str, record: &AuditRecord) -> StoreResult<TransactWriteItem> {
    let kind = record.action.entity_kind();
    let sort = time_key(ms(record.at), &record.id.to_string());
    let mut item = key(kind_pk(kind), &sort);
    item.extend([
        ("id".to_owned(), s(record.id.to_string())),
        ("at".to_owned(), n(ms(record.at))),
        ("actor_id".to_owned(), s(record.actor.id.to_string())),
        ("actor_email".to_owned(), s(&record.actor.email)),
        ("action".to_owned(), s(record.action.as_str())),
        ("entity_kind".to_owned(), s(kind.as_str())),
        ("entity_id".to_owned(), s(record.entity_id.to_string())),
        ("gsi1pk".to_owned(), s(entity_pk(kind, record.entity_id))),
        ("gsi1sk".to_owned(), s(&sort)),
        ("gsi2pk".to_owned(), s(actor_pk(record.actor.id))),
        ("gsi2sk".to_owned(), s(&sort)),
    ]);
    for (name, value) in [("before", &record.before), ("after", &record.after)] {
        if let Some(value) = value {
            item.insert(name.to_owned(), s(value.to_string()));
        }
    }
    TxItem::put(table, item, Some("attribute_not_exists(pk)"), vec![])
}

fn entry_from(item: &Item) -> StoreResult<AuditEntry> {
    let json = |name: &str| {
        opt_s(item, name)
            .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::Internal(format!("audit {name}: {e}"))))
            .transpose()
    };
    Ok(AuditEntry {
        id: get_uuid(item, "id")?,
        at: from_ms(get_n(item, "at")?)?,
        actor_id: get_uuid(item, "actor_id")?,
        actor_email: get_s(item, "actor_email")?.to_owned(),
        action: get_s(item, "action")?.to_owned(),
        entity_kind: get_s(item, "entity_kind")?.to_owned(),
        entity_id: get_uuid(item, "entity_id")?,
        before: json("before")?,
        after: json("after")?,
    })
}

/// One partition to read newest first: of the table or an index.
struct Partition {
    index: Option<&'static str>,
    pk_name: &'static str,
    sk_name: &'static str,
    pk: String,
}

impl Partition {
    fn table(pk: String) -> Self {
        Self { index: None, pk_name: "pk", sk_name: "sk", pk }
    }

    fn gsi(index: &'static str, pk: String) -> Self {
        let (pk_name, sk_name) = if index == "gsi1" { ("gsi1pk", "gsi1sk") } else { ("gsi2pk", "gsi2sk") };
        Self { index: Some(index), pk_name, sk_name, pk }
    }
}

/// The sort-key range of `from`..=`to` (`~` sorts after every id character).
fn sort_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> (String, String) {
    let low = format!("{:015}#", from.map(ms).unwrap_or(0).max(0));
    let high = format!("{:015}#~", to.map(ms).unwrap_or(999_999_999_999_999).max(0));
    (low, high)
}

impl DynamoStore {
    /// The newest entries of one partition that pass `keep`, at most `wanted`, newest first.
    async fn newest_audit(
        &self,
        partition: &Partition,
        filter: &AuditFilter,
        wanted: usize,
        keep: impl Fn(&AuditEntry) -> bool,
    ) -> StoreResult<Vec<AuditEntry>> {
        let (low, high) = sort_range(filter.from, filter.to);
        let condition = format!("#{} = :pk AND #{} BETWEEN :low AND :high", partition.pk_name, partition.sk_name);
        let mut found = Vec::new();
        let mut start = None;
        while found.len() < wanted {
            let values = vec![
                (":pk", AttributeValue::S(partition.pk.clone())),
                (":low", AttributeValue::S(low.clone())),
                (":high", AttributeValue::S(high.clone())),
            ];
            let page_size = i32::try_from((wanted - found.len()).clamp(1, 500)).unwrap_or(500);
            let slot = self.slots.take().await?;
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(partition.index.map(str::to_owned))
                .key_condition_expression(&condition)
                .set_expression_attribute_names(names_in(&[&condition]))
                .set_expression_attribute_values(values_map(values))
                .consistent_read(partition.index.is_none())
                .scan_index_forward(false)
                .limit(page_size)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            drop(slot);
            for item in out.items() {
                let entry = entry_from(item)?;
                if keep(&entry) && found.len() < wanted {
                    found.push(entry);
                }
            }
            match out.last_evaluated_key().filter(|last| !last.is_empty()) {
                Some(last) => start = Some(last.clone()),
                None => break,
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl AuditStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let wanted = usize::try_from(filter.page.offset + filter.page.limit).unwrap_or(usize::MAX);
        let kind = filter.entity_kind.map(EntityKind::as_str);
        let mut entries = match (filter.entity_kind, filter.entity_id, filter.actor_id) {
            (Some(entity_kind), Some(id), actor) => {
                let partition = Partition::gsi("gsi1", entity_pk(entity_kind, id));
                self.newest_audit(&partition, filter, wanted, |e| actor.is_none_or(|a| e.actor_id == a)).await?
            }
            (_, _, Some(actor)) => {
                let partition = Partition::gsi("gsi2", actor_pk(actor));
                self.newest_audit(&partition, filter, wanted, |e| kind.is_none_or(|k| e.entity_kind == k)).await?
            }
            (Some(entity_kind), None, None) => {
                self.newest_audit(&Partition::table(kind_pk(entity_kind)), filter, wanted, |_| true).await?
            }
            (None, _, None) => {
                let mut all = Vec::new();
                for entity_kind in EntityKind::ALL {
                    all.extend(
                        self.newest_audit(&Partition::table(kind_pk(entity_kind)), filter, wanted, |_| true).await?,
                    );
                }
                all
            }
        };
        entries.sort_by_key(|entry| std::cmp::Reverse((entry.at, entry.id)));
        let offset = usize::try_from(filter.page.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(filter.page.limit).unwrap_or(0);
        Ok(entries.into_iter().skip(offset).take(limit).collect())
    }
}

impl DynamoStore {
    /// An admin's change of a venue's zone with its audit entry, in one transaction conditioned on
    /// the zone read (read again and retried when another change came between). `false`: no venue.
    pub(super) async fn update_venue_audited(
        &self,
        id: uuid::Uuid,
        time_zone: TimeZone,
        actor: &Actor,
    ) -> StoreResult<bool> {
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some(item) = self.get(venue_key(id)).await? else {
                return Ok(false);
            };
            let before = venue_from(&item)?;
            let mut values = vec![(":tz", s(time_zone.name()))];
            let condition = match opt_s(&item, "tz") {
                Some(was) => {
                    values.push((":was", s(was)));
                    "attribute_exists(#pk) AND #tz = :was"
                }
                None => "attribute_exists(#pk) AND attribute_not_exists(#tz)",
            };
            let mut writes =
                vec![TxItem::update(&self.table, venue_key(id), "SET #tz = :tz", Some(condition), values)?];
            let after = Venue { time_zone, ..before.clone() };
            if let Some(record) = AuditRecord::change(actor, AuditAction::VenueUpdated, id, &before, &after, Utc::now())
            {
                writes.push(audit_put(&self.table, &record)?);
            }
            match self.transact(&mut budget, writes).await? {
                Ok(()) => return Ok(true),
                Err(canceled) if canceled.condition_failed(0) => continue,
                Err(canceled) => {
                    return Err(StoreError::Internal(format!("changing a venue was refused: {canceled:?}")));
                }
            }
        }
        Err(kept_conflicting("changing the venue"))
    }
}
