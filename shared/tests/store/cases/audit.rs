//! The audit log (`AuditStore`, issue 21): each audited change writes exactly its row, in its own
//! transaction, with the changed fields before and after; a refused change or one that changes
//! nothing writes none; concurrent changes each write theirs, and each row's "before" is what its
//! change replaced (no lost rows, no stale befores). Listed newest first by every filter.

use std::collections::BTreeMap;

use proeventa_core::domain::{Actor, AuditEntry, AuditFilter, EntityKind, MessageStatus, NewWebhook, Settlement};
use serde_json::json;

use super::*;

async fn admin_actor(store: &S, handle: &str) -> Actor {
    let admin = fixture_user(store, handle).await;
    Actor::from(&admin)
}

async fn audit(store: &S, filter: AuditFilter) -> Vec<AuditEntry> {
    store.list_audit(&filter).await.expect("list the audit log")
}

fn all() -> AuditFilter {
    AuditFilter { page: page(200, 0), ..Default::default() }
}

fn of_kind(kind: EntityKind) -> AuditFilter {
    AuditFilter { entity_kind: Some(kind), ..all() }
}

fn of_entity(kind: EntityKind, id: Uuid) -> AuditFilter {
    AuditFilter { entity_kind: Some(kind), entity_id: Some(id), ..all() }
}

/// The one entry of `action` for the entity, with its actor checked.
fn only(entries: &[AuditEntry], action: &str, entity_id: Uuid, actor: &Actor) -> AuditEntry {
    let found: Vec<&AuditEntry> = entries.iter().filter(|e| e.action == action && e.entity_id == entity_id).collect();
    assert_eq!(found.len(), 1, "exactly one {action} of {entity_id}: {entries:#?}");
    let entry = found[0].clone();
    assert_eq!((entry.actor_id, entry.actor_email.as_str()), (actor.id, actor.email.as_str()), "{entry:?}");
    entry
}

pub async fn audited_changes_write_exactly_their_row_with_before_and_after(store: S) {
    let root = admin_actor(&store, "root").await;
    let started = Utc::now() - Duration::seconds(1);

    let rows = vec![SeatRow { row: "A".into(), seats: 3, tier: "standard".into() }];
    let venue = NewVenue::parse("Audit Hall", Some("Main Street 1"), VenueKind::Hall, rows).expect("a venue");
    let venue = store.create_venue(venue.by(root.clone())).await.expect("create venue");
    tick().await;
    let mut new = new_event(&venue);
    new.actor = Some(root.clone());
    let event = store.create_event(new).await.expect("create event");
    tick().await;
    let renamed = EventChanges { name: Some("Renamed".into()), actor: Some(root.clone()), ..Default::default() };
    store.update_event(event.id, renamed.clone()).await.expect("rename").expect("the event exists");
    tick().await;
    // The same name again changes nothing: no row.
    store.update_event(event.id, renamed).await.expect("rename again").expect("the event exists");
    let madrid = TimeZone::parse("Europe/Madrid").expect("a zone");
    let moved = VenueChanges { time_zone: Some(madrid), layout: None, actor: Some(root.clone()) };
    store.update_venue(venue.venue.id, moved).await.expect("change the zone").expect("the venue exists");
    tick().await;
    let ann = fixture_user(&store, "ann").await;
    let promoted = UserChanges { role: Some(Role::Staff), actor: Some(root.clone()), ..Default::default() };
    store.update_user(ann.id, promoted).await.expect("promote").expect("ann exists");
    tick().await;
    store.cancel_event(event.id, Utc::now(), Some(&root)).await.expect("cancel").expect("the event exists");
    tick().await;
    // Canceled already: no change, no row (its seats' cancel runs again, harmlessly).
    store.cancel_event(event.id, Utc::now(), Some(&root)).await.expect("cancel again").expect("the event exists");
    // A change without an actor (a customer's own, the system's) is not an admin action.
    store.update_user(ann.id, UserChanges { name: Some("Ann".into()), ..Default::default() }).await.expect("rename");

    let entries = audit(&store, all()).await;
    assert_eq!(entries.len(), 6, "{entries:#?}");
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["event.canceled", "user.updated", "venue.updated", "event.updated", "event.created", "venue.created"],
        "newest first"
    );
    assert!(entries.windows(2).all(|w| (w[0].at, w[0].id) > (w[1].at, w[1].id)), "newest first: {entries:#?}");
    assert!(entries.iter().all(|e| e.at >= started && e.at <= Utc::now()), "{entries:#?}");

    let created = only(&entries, "venue.created", venue.venue.id, &root);
    assert_eq!((created.entity_kind.as_str(), created.before.clone()), ("venue", None));
    let after = created.after.expect("the new venue's fields");
    assert_eq!((after["name"].clone(), after["time_zone"].clone()), (json!("Audit Hall"), json!("UTC")), "{after}");

    let created = only(&entries, "event.created", event.id, &root);
    assert_eq!((created.entity_kind.as_str(), created.before.clone()), ("event", None));
    let after = created.after.expect("the new event's fields");
    assert_eq!((after["name"].clone(), after["status"].clone()), (json!("Test Concert"), json!("on_sale")), "{after}");
    assert!(after.get("seats_available").is_none(), "counted from other rows, not the event's: {after}");

    let updated = only(&entries, "event.updated", event.id, &root);
    assert_eq!(updated.before, Some(json!({"name": "Test Concert"})));
    assert_eq!(updated.after, Some(json!({"name": "Renamed"})));
    let zoned = only(&entries, "venue.updated", venue.venue.id, &root);
    assert_eq!(
        (zoned.before, zoned.after),
        (Some(json!({"time_zone": "UTC"})), Some(json!({"time_zone": "Europe/Madrid"})))
    );
    let role = only(&entries, "user.updated", ann.id, &root);
    assert_eq!(
        (role.entity_kind.as_str(), role.before, role.after),
        ("user", Some(json!({"role": "customer"})), Some(json!({"role": "staff"})))
    );
    let canceled = only(&entries, "event.canceled", event.id, &root);
    assert_eq!(
        (canceled.before, canceled.after),
        (Some(json!({"status": "on_sale"})), Some(json!({"status": "canceled"})))
    );

    // Every filter reads its part, newest first.
    let of_event = audit(&store, of_entity(EntityKind::Event, event.id)).await;
    assert_eq!(
        of_event.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["event.canceled", "event.updated", "event.created"]
    );
    let events = audit(&store, AuditFilter { entity_kind: Some(EntityKind::Event), ..all() }).await;
    assert_eq!(ids(&events, |e| e.id), ids(&of_event, |e| e.id));
    let venues = audit(&store, AuditFilter { entity_kind: Some(EntityKind::Venue), ..all() }).await;
    assert_eq!(venues.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["venue.updated", "venue.created"]);
    let by_root = audit(&store, AuditFilter { actor_id: Some(root.id), ..all() }).await;
    assert_eq!(ids(&by_root, |e| e.id), ids(&entries, |e| e.id));
    assert!(audit(&store, AuditFilter { actor_id: Some(ann.id), ..all() }).await.is_empty());
    let root_on_users = AuditFilter { actor_id: Some(root.id), entity_kind: Some(EntityKind::User), ..all() };
    assert_eq!(ids(&audit(&store, root_on_users).await, |e| e.id), [role.id]);
    let root_on_event = AuditFilter { actor_id: Some(root.id), ..of_entity(EntityKind::Event, event.id) };
    assert_eq!(audit(&store, root_on_event).await.len(), 3);
    assert!(audit(&store, of_entity(EntityKind::Event, Uuid::new_v4())).await.is_empty());

    // Time bounds are inclusive; paging walks the same order.
    let middle = entries[2].at;
    let until = audit(&store, AuditFilter { to: Some(middle), ..all() }).await;
    assert_eq!(ids(&until, |e| e.id), ids(&entries[2..], |e| e.id), "at or before {middle}");
    let since = audit(&store, AuditFilter { from: Some(middle), ..all() }).await;
    assert_eq!(ids(&since, |e| e.id), ids(&entries[..3], |e| e.id), "at or after {middle}");
    let second_page = audit(&store, AuditFilter { page: page(2, 2), ..all() }).await;
    assert_eq!(ids(&second_page, |e| e.id), ids(&entries[2..4], |e| e.id));
    let of_event_page = audit(&store, AuditFilter { page: page(1, 1), ..of_entity(EntityKind::Event, event.id) }).await;
    assert_eq!(ids(&of_event_page, |e| e.id), [of_event[1].id]);
}

pub async fn a_resent_message_writes_its_row_and_a_refused_resend_none(store: S) {
    let root = admin_actor(&store, "root").await;
    let claimed = store.claim_messages(10, Duration::minutes(5), Utc::now()).await.expect("claim");
    assert_eq!(claimed.len(), 1, "root's welcome: {claimed:?}");
    let message = claimed[0].id;
    let failed = Settlement::Failed { reason: "550 no such mailbox".into() };
    assert!(store.settle_message(message, 1, &failed, Utc::now()).await.expect("settle"));

    let resent = store.resend_message(message, Utc::now(), Some(&root)).await.expect("resend");
    assert_eq!(resent.status, MessageStatus::Pending);
    // Pending now: refused, and no row; nor for an unknown message.
    expect_err(store.resend_message(message, Utc::now(), Some(&root)).await, "resend a pending message");
    expect_err(store.resend_message(Uuid::new_v4(), Utc::now(), Some(&root)).await, "resend an unknown message");

    let entries = audit(&store, all()).await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let entry = only(&entries, "message.resent", message, &root);
    assert_eq!(entry.entity_kind, "message");
    assert_eq!(
        (entry.before, entry.after),
        (Some(json!({"status": "failed"})), Some(json!({"status": "pending", "attempts": 0})))
    );
}

pub async fn a_webhooks_registration_and_deletion_write_their_rows_without_its_secret(store: S) {
    let root = admin_actor(&store, "root").await;
    let secret = "audit-secret-0123456789";
    let new = NewWebhook::parse("https://example.com/audit", secret, &["booking.confirmed".into()]).expect("a webhook");
    let hook = store.create_webhook(&new, Utc::now(), Some(&root)).await.expect("register");
    tick().await;
    store.delete_webhook(hook.id, Some(&root)).await.expect("delete");
    // Gone: a second delete is refused and writes no row.
    expect_err(store.delete_webhook(hook.id, Some(&root)).await, "delete twice");

    let entries = audit(&store, of_entity(EntityKind::Webhook, hook.id)).await;
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let created = only(&entries, "webhook.created", hook.id, &root);
    assert_eq!(created.entity_kind, "webhook");
    let fields =
        json!({"url": "https://example.com/audit", "events": ["booking.confirmed"], "created_at": hook.created_at});
    assert_eq!((created.before, created.after), (None, Some(fields.clone())));
    let deleted = only(&entries, "webhook.deleted", hook.id, &root);
    assert_eq!((deleted.before, deleted.after), (Some(fields), None));
    assert!(!format!("{entries:?}").contains(secret), "the secret is never recorded: {entries:#?}");
}

pub async fn refused_or_unknown_changes_write_no_row(store: S) {
    let root = admin_actor(&store, "root").await;
    let venue = fixture_venue(&store, &[("A", 2, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let ghost = Uuid::new_v4();
    let rename = EventChanges { name: Some("Ghost".into()), actor: Some(root.clone()), ..Default::default() };
    assert!(store.update_event(ghost, rename).await.expect("rename unknown").is_none());
    let zone = TimeZone::parse("Asia/Tokyo").expect("a zone");
    let rezone = VenueChanges { time_zone: Some(zone), layout: None, actor: Some(root.clone()) };
    assert!(store.update_venue(ghost, rezone).await.expect("rezone unknown").is_none());
    let promote = UserChanges { role: Some(Role::Admin), actor: Some(root.clone()), ..Default::default() };
    assert!(store.update_user(ghost, promote).await.expect("promote unknown").is_none());
    assert!(store.cancel_event(ghost, Utc::now(), Some(&root)).await.expect("cancel unknown").is_none());
    let mut orphan = new_event(&venue);
    orphan.venue_id = ghost;
    orphan.actor = Some(root.clone());
    expect_err(store.create_event(orphan).await, "an event of an unknown venue");
    // A change that sets what is there already.
    let same = EventChanges { name: Some(event.name.clone()), actor: Some(root.clone()), ..Default::default() };
    store.update_event(event.id, same).await.expect("same name").expect("the event exists");
    let same_role = UserChanges { role: Some(Role::Customer), actor: Some(root.clone()), ..Default::default() };
    store.update_user(root.id, same_role).await.expect("same role").expect("root exists");

    assert_eq!(audit(&store, all()).await, Vec::<AuditEntry>::new());
}

pub async fn concurrent_audited_changes_each_write_their_row(store: S) {
    const RENAMES: usize = 6;
    const ACCOUNTS: usize = 12;
    let root = admin_actor(&store, "root").await;
    let venue = fixture_venue(&store, &[("A", 2, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let users = fixture_users(&store, "u", ACCOUNTS).await;
    let barrier = Arc::new(Barrier::new(RENAMES + ACCOUNTS));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RENAMES {
        let (store, barrier, root) = (store.clone(), barrier.clone(), root.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            let changes = EventChanges { name: Some(format!("Name {i}")), actor: Some(root), ..Default::default() };
            store.update_event(event.id, changes).await.expect("rename").expect("the event exists");
        });
    }
    for user in &users {
        let (store, barrier, root, id) = (store.clone(), barrier.clone(), root.clone(), user.id);
        tasks.spawn(async move {
            barrier.wait().await;
            let changes = UserChanges { disabled: Some(true), actor: Some(root), ..Default::default() };
            store.update_user(id, changes).await.expect("disable").expect("the account exists");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a change");
    }

    let disabled = audit(&store, AuditFilter { entity_kind: Some(EntityKind::User), ..all() }).await;
    assert_eq!(disabled.len(), ACCOUNTS, "one row per account: {disabled:#?}");
    let mut accounts: Vec<Uuid> = ids(&disabled, |e| e.entity_id);
    accounts.sort();
    let mut expected = ids(&users, |u| u.id);
    expected.sort();
    assert_eq!(accounts, expected);
    for entry in &disabled {
        assert_eq!(
            (entry.before.clone(), entry.after.clone()),
            (Some(json!({"disabled": false})), Some(json!({"disabled": true})))
        );
    }

    // The renames serialized: each row's "before" is the name the previous one left, so following
    // them from the original name visits every rename once and ends at the stored name.
    let renames = audit(&store, of_entity(EntityKind::Event, event.id)).await;
    assert_eq!(renames.len(), RENAMES, "one row per rename: {renames:#?}");
    let name = |value: &Option<serde_json::Value>| value.as_ref().and_then(|v| v["name"].as_str()).map(str::to_owned);
    let chain: BTreeMap<String, String> =
        renames.iter().map(|e| (name(&e.before).expect("a before"), name(&e.after).expect("an after"))).collect();
    assert_eq!(chain.len(), RENAMES, "no two renames replaced the same name: {renames:#?}");
    let mut current = event.name.clone();
    for _ in 0..RENAMES {
        current = chain.get(&current).unwrap_or_else(|| panic!("no rename replaced {current}: {chain:?}")).clone();
    }
    let stored = store.event(event.id, Utc::now()).await.expect("read").expect("the event exists");
    assert_eq!(current, stored.name, "{chain:?}");
}

/// An admin's cancel of a buyer's paid seats (one seat, the rest of the booking, a whole event)
/// writes one `payment.refunded` row per payment it refunds, in its own transaction, with what
/// had been refunded before and after; a buyer's own cancel, a cancel of seats never paid and a
/// cancel that fails write none.
pub async fn an_admins_cancel_of_paid_seats_audits_each_refund_and_nothing_else_does(store: S) {
    let root = admin_actor(&store, "root").await;
    let venue = fixture_venue(&store, &[("A", 3, "standard"), ("B", 2, "vip")]).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let standard = tier_price("standard");
    let (booking, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2]), "ch_ann").await;
    let payments = || of_kind(EntityKind::Payment);

    // The admin cancels one of ann's paid seats: one row, 0 → one seat's price.
    let first = booking.reservations.iter().find(|r| r.seat_id == venue.seats[0].id).expect("seat A1");
    store.cancel_reservation(first.id, Utc::now(), Some(&root)).await.expect("the admin's cancel");
    let entries = audit(&store, payments()).await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let entry = only(&entries, "payment.refunded", paid.id, &root);
    assert_eq!(entry.entity_kind, "payment");
    assert_eq!(entry.before, Some(json!({"refunded_cents": 0})));
    assert_eq!(
        entry.after,
        Some(json!({"refunded_cents": standard, "booking_id": booking.id, "seats": [venue.seats[0].id]}))
    );
    // A cancel that fails (already canceled) writes nothing.
    expect_err(store.cancel_reservation(first.id, Utc::now(), Some(&root)).await, "cancel twice");
    assert_eq!(audit(&store, payments()).await.len(), 1);
    // The buyer cancels the rest: refunded, but not an admin action.
    store.cancel_booking(booking.id, Utc::now(), None).await.expect("ann's own cancel");
    assert_eq!(read_payment(&store, paid.id).await.refunded_cents, 3 * standard);
    assert_eq!(audit(&store, payments()).await.len(), 1, "a buyer's cancel writes no row");
    // An admin's cancel of seats only held refunds nothing: no row.
    let held = hold_seats(&store, &bob, &event, &seat_ids(&venue, &[3])).await.expect("a hold");
    store.cancel_booking(held.id, Utc::now(), Some(&root)).await.expect("the admin cancels a hold");
    assert_eq!(audit(&store, payments()).await.len(), 1, "nothing was paid, nothing refunded");

    // The admin cancels the event: bob's paid booking is refunded, with its own row.
    let (bobs, bob_paid) = paid_booking(&store, &bob, &event, &seat_ids(&venue, &[3, 4]), "ch_bob").await;
    store.cancel_event(event.id, Utc::now(), Some(&root)).await.expect("cancel").expect("the event exists");
    let entries = audit(&store, payments()).await;
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let entry = only(&entries, "payment.refunded", bob_paid.id, &root);
    let mut seats = vec![venue.seats[3].id, venue.seats[4].id];
    seats.sort();
    assert_eq!(entry.before, Some(json!({"refunded_cents": 0})));
    assert_eq!(
        entry.after,
        Some(json!({"refunded_cents": 2 * tier_price("vip"), "booking_id": bobs.id, "seats": seats}))
    );
    assert_eq!(read_payment(&store, bob_paid.id).await.refunded_cents, 2 * tier_price("vip"));
}
