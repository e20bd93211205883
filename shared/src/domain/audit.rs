//! The audit log (issue 21): every admin action, with who did it, when, what, to which entity and
//! the changed fields before and after. A store writes an `AuditRecord` in the same transaction
//! (or `TransactWriteItems`) as the change it describes, and only when that change happened; what
//! changed is worked out here, once for every backend, from the entity before and after.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Invalid, Page, User, Webhook};

/// Who made a change: the admin's account id and e-mail, copied into the row so an entry still
/// names its author after the account changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: Uuid,
    pub email: String,
}

impl From<&User> for Actor {
    fn from(user: &User) -> Self {
        Self { id: user.id, email: user.email.clone() }
    }
}

/// What kind of thing an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    Event,
    Venue,
    User,
    Payment,
    Message,
    Webhook,
    Code,
}

impl EntityKind {
    pub const ALL: [EntityKind; 7] = [
        EntityKind::Event,
        EntityKind::Venue,
        EntityKind::User,
        EntityKind::Payment,
        EntityKind::Message,
        EntityKind::Webhook,
        EntityKind::Code,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Event => "event",
            EntityKind::Venue => "venue",
            EntityKind::User => "user",
            EntityKind::Payment => "payment",
            EntityKind::Message => "message",
            EntityKind::Webhook => "webhook",
            EntityKind::Code => "code",
        }
    }
}

impl FromStr for EntityKind {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw).ok_or_else(|| {
            Invalid::new(
                "entity",
                "must be event, venue, user, payment, message, webhook or code, optionally followed by :<id>",
            )
        })
    }
}

/// What was done: `<entity kind>.<verb>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    EventCreated,
    EventUpdated,
    EventCanceled,
    VenueCreated,
    VenueUpdated,
    UserUpdated,
    PaymentRefunded,
    MessageResent,
    WebhookCreated,
    WebhookDeleted,
    CodeCreated,
    CodeUpdated,
    CodeDeleted,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::EventCreated => "event.created",
            AuditAction::EventUpdated => "event.updated",
            AuditAction::EventCanceled => "event.canceled",
            AuditAction::VenueCreated => "venue.created",
            AuditAction::VenueUpdated => "venue.updated",
            AuditAction::UserUpdated => "user.updated",
            AuditAction::PaymentRefunded => "payment.refunded",
            AuditAction::MessageResent => "message.resent",
            AuditAction::WebhookCreated => "webhook.created",
            AuditAction::WebhookDeleted => "webhook.deleted",
            AuditAction::CodeCreated => "code.created",
            AuditAction::CodeUpdated => "code.updated",
            AuditAction::CodeDeleted => "code.deleted",
        }
    }

    pub fn entity_kind(self) -> EntityKind {
        match self {
            AuditAction::EventCreated | AuditAction::EventUpdated | AuditAction::EventCanceled => EntityKind::Event,
            AuditAction::VenueCreated | AuditAction::VenueUpdated => EntityKind::Venue,
            AuditAction::UserUpdated => EntityKind::User,
            AuditAction::PaymentRefunded => EntityKind::Payment,
            AuditAction::MessageResent => EntityKind::Message,
            AuditAction::WebhookCreated | AuditAction::WebhookDeleted => EntityKind::Webhook,
            AuditAction::CodeCreated | AuditAction::CodeUpdated | AuditAction::CodeDeleted => EntityKind::Code,
        }
    }
}

/// Fields of an entity's API form that its own change does not set: counted from other tables
/// (seats held and sold), or a copy of another entity (the event's venue). Left out of before and
/// after so a row shows only what the admin changed.
/// A code's `uses` is counted by confirms, never set by an admin's change.
const DERIVED_FIELDS: [&str; 6] = ["seats_total", "seats_available", "venue", "seat_count", "seats", "uses"];

/// One entry as a store writes it, beside the change it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: AuditAction,
    pub entity_id: Uuid,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl AuditRecord {
    /// A creation: nothing before, the new entity's own fields after.
    pub fn creation(
        actor: &Actor,
        action: AuditAction,
        entity_id: Uuid,
        created: &impl Serialize,
        at: DateTime<Utc>,
    ) -> Self {
        let after = own_fields(created);
        Self {
            id: Uuid::new_v4(),
            at,
            actor: actor.clone(),
            action,
            entity_id,
            before: None,
            after: Some(Value::Object(after)),
        }
    }

    /// A change: the fields whose values differ, as they were and as they are. `None` when no field
    /// changed (a PATCH that sets what is already there, an event canceled twice): no change, no row.
    pub fn change(
        actor: &Actor,
        action: AuditAction,
        entity_id: Uuid,
        before: &impl Serialize,
        after: &impl Serialize,
        at: DateTime<Utc>,
    ) -> Option<Self> {
        let (mut was, mut is) = (own_fields(before), own_fields(after));
        let changed: Vec<String> =
            is.iter().filter(|(key, value)| was.get(*key) != Some(value)).map(|(k, _)| k.clone()).collect();
        if changed.is_empty() {
            return None;
        }
        was.retain(|key, _| changed.contains(key));
        is.retain(|key, _| changed.contains(key));
        Some(Self {
            id: Uuid::new_v4(),
            at,
            actor: actor.clone(),
            action,
            entity_id,
            before: Some(Value::Object(was)),
            after: Some(Value::Object(is)),
        })
    }

    /// An action on an entity whose fields are described by the caller (a refund's amount, a
    /// message sent again).
    pub fn action(
        actor: &Actor,
        action: AuditAction,
        entity_id: Uuid,
        before: Value,
        after: Value,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            at,
            actor: actor.clone(),
            action,
            entity_id,
            before: Some(before),
            after: Some(after),
        }
    }

    /// A refund that an admin's cancel (of a seat, a booking or the whole event) recorded on a
    /// buyer's payment: what had been refunded before and after, with the booking and its seats
    /// (ids, in order) whose cancel gave the money back. Written in the cancel's own transaction,
    /// one row per payment refunded; a buyer's own cancel writes none (the log is for admins).
    pub fn payment_refunded(actor: &Actor, refund: &RecordedRefund, at: DateTime<Utc>) -> Self {
        let mut seats = refund.seats.clone();
        seats.sort();
        let before = serde_json::json!({"refunded_cents": refund.refunded_before});
        let after = serde_json::json!({
            "refunded_cents": refund.refunded_before + refund.refund_cents,
            "booking_id": refund.booking_id,
            "seats": seats,
        });
        Self::action(actor, AuditAction::PaymentRefunded, refund.payment_id, before, after, at)
    }

    /// A failed message put back to pending for the sender's next pass.
    pub fn message_resent(actor: &Actor, message_id: Uuid, at: DateTime<Utc>) -> Self {
        let (before, after) =
            (serde_json::json!({"status": "failed"}), serde_json::json!({"status": "pending", "attempts": 0}));
        Self::action(actor, AuditAction::MessageResent, message_id, before, after, at)
    }

    /// An endpoint registered (its URL and event types; its secret is never serialized).
    pub fn webhook_created(actor: &Actor, webhook: &Webhook) -> Self {
        Self::creation(actor, AuditAction::WebhookCreated, webhook.id, webhook, webhook.created_at)
    }

    /// An endpoint deleted: what it was, and nothing after.
    pub fn webhook_deleted(actor: &Actor, webhook: &Webhook, at: DateTime<Utc>) -> Self {
        Self::deletion(actor, AuditAction::WebhookDeleted, webhook.id, webhook, at)
    }

    /// A deletion: the entity's own fields before, nothing after.
    pub fn deletion(
        actor: &Actor,
        action: AuditAction,
        entity_id: Uuid,
        deleted: &impl Serialize,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            at,
            actor: actor.clone(),
            action,
            entity_id,
            before: Some(Value::Object(own_fields(deleted))),
            after: None,
        }
    }

    /// The row as the API shows it.
    pub fn entry(&self) -> AuditEntry {
        AuditEntry {
            id: self.id,
            at: self.at,
            actor_id: self.actor.id,
            actor_email: self.actor.email.clone(),
            action: self.action.as_str().to_owned(),
            entity_kind: self.action.entity_kind().as_str().to_owned(),
            entity_id: self.entity_id,
            before: self.before.clone(),
            after: self.after.clone(),
        }
    }
}

/// A refund a cancel recorded on a payment (`refund_cents` more than the `refunded_before` it
/// had), for its `payment.refunded` audit row: the backends' cancels gather it as they write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRefund {
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    pub refunded_before: i64,
    pub refund_cents: i64,
    /// The canceled paid seats of the booking (seat ids).
    pub seats: Vec<Uuid>,
}

fn own_fields(entity: &impl Serialize) -> Map<String, Value> {
    let mut fields = match serde_json::to_value(entity) {
        Ok(Value::Object(fields)) => fields,
        // Every audited entity serializes to an object; anything else is recorded whole.
        Ok(other) => Map::from_iter([("value".to_owned(), other)]),
        Err(_) => Map::new(),
    };
    for derived in DERIVED_FIELDS {
        fields.remove(derived);
    }
    fields.remove("id");
    fields
}

/// One entry of the audit log (`GET /admin/audit`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    /// When the change was committed (the transaction's time).
    pub at: DateTime<Utc>,
    /// The admin who made it.
    pub actor_id: Uuid,
    #[schema(example = "admin@example.com")]
    pub actor_email: String,
    /// `event.created`, `event.updated`, `event.canceled`, `venue.created`, `venue.updated`,
    /// `user.updated`, `payment.refunded`, `message.resent`, `code.created`, `code.updated` or
    /// `code.deleted`.
    #[schema(example = "event.updated")]
    pub action: String,
    /// `event`, `venue`, `user`, `payment`, `message` or `code`.
    #[schema(example = "event")]
    pub entity_kind: String,
    pub entity_id: Uuid,
    /// The changed fields as they were; null for a creation.
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    /// The changed fields as they became (a creation: every field of the new entity).
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

/// Which entries to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub entity_kind: Option<EntityKind>,
    /// Only with `entity_kind`.
    pub entity_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    /// Inclusive bounds of `at`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub page: Page,
}

impl AuditFilter {
    /// The SQL index that answers this filter and the columns it is ordered by before `at DESC,
    /// id DESC`: the filter's equal columns, so ordering by them too changes nothing in the answer
    /// but leaves the planner one index that both filters and orders (and no reason to walk the
    /// time index filtering as it goes, which a rare kind would make a read of the whole log).
    pub fn sql_index(&self) -> (&'static str, &'static str) {
        match (self.entity_kind, self.entity_id, self.actor_id) {
            (Some(_), Some(_), _) => ("audit_log_entity_idx", "entity_kind, entity_id, "),
            (Some(_), None, Some(_)) => ("audit_log_actor_kind_idx", "actor_id, entity_kind, "),
            (None, _, Some(_)) => ("audit_log_actor_idx", "actor_id, "),
            (Some(_), None, None) => ("audit_log_kind_idx", "entity_kind, "),
            (None, _, None) => ("audit_log_at_idx", ""),
        }
    }
}

/// `entity=<kind>` or `entity=<kind>:<id>`.
pub fn parse_audit_entity(raw: &str) -> Result<(EntityKind, Option<Uuid>), Invalid> {
    match raw.trim().split_once(':') {
        None => Ok((raw.trim().parse()?, None)),
        Some((kind, id)) => {
            let id = Uuid::parse_str(id.trim())
                .map_err(|_| Invalid::new("entity", "the part after `:` must be an id (a UUID)"))?;
            Ok((kind.parse()?, Some(id)))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn admin() -> Actor {
        Actor { id: Uuid::nil(), email: "admin@example.com".into() }
    }

    #[test]
    fn a_change_keeps_only_the_fields_that_differ_and_drops_what_the_change_does_not_set() {
        let before = json!({"id": "x", "name": "Old", "currency": "EUR", "seats_available": 10});
        let after = json!({"id": "x", "name": "New", "currency": "EUR", "seats_available": 9});
        let record =
            AuditRecord::change(&admin(), AuditAction::EventUpdated, Uuid::nil(), &before, &after, Utc::now()).unwrap();
        assert_eq!(record.before, Some(json!({"name": "Old"})));
        assert_eq!(record.after, Some(json!({"name": "New"})));
    }

    #[test]
    fn a_change_of_nothing_is_no_row() {
        let same = json!({"name": "Same", "seats_available": 1});
        let moved = json!({"name": "Same", "seats_available": 2});
        assert!(
            AuditRecord::change(&admin(), AuditAction::EventUpdated, Uuid::nil(), &same, &moved, Utc::now()).is_none()
        );
    }

    #[test]
    fn entity_is_a_kind_or_a_kind_and_an_id() {
        let id = Uuid::new_v4();
        assert_eq!(parse_audit_entity("event").unwrap(), (EntityKind::Event, None));
        assert_eq!(parse_audit_entity(&format!("venue:{id}")).unwrap(), (EntityKind::Venue, Some(id)));
        assert!(parse_audit_entity("booking").is_err());
        assert!(parse_audit_entity("event:42").is_err());
    }
}
