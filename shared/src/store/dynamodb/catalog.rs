//! Venues, events and the live seat map on DynamoDB. A venue's seats are one item collection (a
//! venue is one `Query`), plus one item per seat id for holds; an event carries its venue's summary
//! and prices, and owns `SEAT_SHARDS` seat-state partitions, each with a gate item that holds and
//! confirms check and that a cancel or a reschedule flips in the same transaction as the event.
//! A venue's time zone, which an admin may change, lives on the venue item only: an event read
//! for an answer takes it from there (`zoned`), so no event can show a zone its venue left.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::audit_put;
use super::holds::kept_conflicting;
use super::items::*;
use super::messages::message_put;
use super::users::paged;
use super::webhooks::event_put;
use super::{Budget, DynamoStore, OPTIMISTIC_ATTEMPTS, Query, Returned, TxItem};
use crate::domain::{
    Actor, AuditAction, AuditRecord, Category, Event, EventChanges, EventFilter, EventSort, EventStatus, NewEvent,
    NewVenue, Poster, Price, QueueSettings, ReservationStatus, SearchCandidate, SearchQuery, SeatState, SeatStatus,
    StoredLayout, TimeZone, Venue, VenueChanges, VenueKind, VenueSummary, VenueWithSeats, WebhookEvent,
    accessible_release_at, decode_ticket_types, encode_ticket_types, rank,
};
use crate::store::outbox::rescheduled_notice;
use crate::store::{
    Cancellation, CatalogStore, StoreError, StoreResult, new_seat, stored_layout_version, stored_queue,
};

/// Where every venue and every event is listed (one index partition each; see `docs/dynamodb.md`).
const VENUES_INDEX: &str = "VENUES";
pub(super) const EVENTS_INDEX: &str = "EVENTS";

/// The venue exists and no replacement of its layout holds it (`:now`: the time in ms).
pub(super) const VENUE_NOT_LEASED: &str =
    "attribute_exists(#pk) AND (attribute_not_exists(#relayout) OR #relayout < :now)";

/// An event item as stored, before its seats are counted. Its venue's time zone is UTC until
/// `zoned` reads the venue's: the holds and payments that read events for their start and status
/// need no zone.
pub(super) struct StoredEvent {
    pub event: Event,
    pub shards: u32,
}

fn prices_value(prices: &[Price]) -> AttributeValue {
    AttributeValue::M(prices.iter().map(|p| (p.tier.clone(), n(p.price_cents))).collect())
}

fn prices_from(item: &Item) -> StoreResult<Vec<Price>> {
    let Some(AttributeValue::M(map)) = item.get("prices") else {
        return Err(corrupt("event", "no prices"));
    };
    let sorted: BTreeMap<&String, &AttributeValue> = map.iter().collect();
    sorted
        .into_iter()
        .map(|(tier, value)| match value {
            AttributeValue::N(raw) => raw
                .parse()
                .map(|price_cents| Price { tier: tier.clone(), price_cents })
                .map_err(|_| corrupt("price", raw)),
            other => Err(corrupt("price", &format!("{other:?}"))),
        })
        .collect()
}

/// An event's waiting room, kept on its item as the map `queue` (`on`, `pace`, `active`,
/// `minutes`); no map: none.
fn queue_value(queue: QueueSettings) -> AttributeValue {
    AttributeValue::M(
        [
            ("on".to_owned(), b(queue.enabled)),
            ("pace".to_owned(), n(i64::from(queue.admit_per_minute))),
            ("active".to_owned(), n(i64::from(queue.max_active_buyers))),
            ("minutes".to_owned(), n(i64::from(queue.session_minutes))),
        ]
        .into(),
    )
}

fn queue_from(item: &Item) -> StoreResult<Option<QueueSettings>> {
    match item.get("queue") {
        None => Ok(None),
        Some(AttributeValue::M(queue)) => stored_queue(
            Some(get_bool(queue, "on")?),
            Some(get_n(queue, "pace")?),
            Some(get_n(queue, "active")?),
            Some(get_n(queue, "minutes")?),
        ),
        Some(other) => Err(corrupt("queue", &format!("{other:?}"))),
    }
}

pub(super) fn event_from(item: &Item) -> StoreResult<StoredEvent> {
    let venue_id = get_uuid(item, "venue_id")?;
    let seats_total = get_n(item, "seats_total")?;
    let shards = u32::try_from(get_n(item, "shards")?).map_err(|_| corrupt("event", "shard count"))?;
    let duration = opt_n(item, "duration")?
        .map(|d| i32::try_from(d).map_err(|_| corrupt("duration", &d.to_string())))
        .transpose()?;
    Ok(StoredEvent {
        event: Event {
            id: get_uuid(item, "id")?,
            venue_id,
            venue: VenueSummary {
                id: venue_id,
                name: text(item, "venue_name"),
                location: text(item, "venue_location"),
                kind: get_enum::<VenueKind>(item, "venue_kind")?,
                time_zone: TimeZone::default(),
            },
            name: text(item, "name"),
            category: get_enum::<Category>(item, "category")?,
            description: text(item, "description"),
            image_url: opt_s(item, "image_url"),
            poster: opt_s(item, "poster_small")
                .zip(opt_s(item, "poster_large"))
                .map(|(small, large)| Poster { small, large }),
            start_time: get_time(item, "start")?,
            duration_minutes: duration,
            status: get_enum::<EventStatus>(item, "st")?,
            on_sale_at: opt_n(item, "opens")?.map(from_ms).transpose()?,
            queue: queue_from(item)?,
            accessible_release_hours: opt_n(item, "arh")?
                .map(|hours| u32::try_from(hours).map_err(|_| corrupt("accessible_release_hours", &hours.to_string())))
                .transpose()?,
            currency: text(item, "currency"),
            ticket_types: {
                let prices = prices_from(item)?;
                decode_ticket_types(opt_s(item, "ticket_types").as_deref(), &prices).map_err(StoreError::Internal)?
            },
            prices: prices_from(item)?,
            seats_total,
            seats_available: seats_total,
        },
        shards,
    })
}

/// A seat-state item: whose the seat is now and in what state.
pub(super) struct SeatStateItem {
    pub seat_id: Uuid,
    pub reservation_id: Uuid,
    pub booking_id: Uuid,
    pub status: ReservationStatus,
    pub expires_ms: i64,
}

impl SeatStateItem {
    pub fn from_item(item: &Item) -> StoreResult<Self> {
        Ok(Self {
            seat_id: get_uuid(item, "seat_id")?,
            reservation_id: get_uuid(item, "rid")?,
            booking_id: get_uuid(item, "bid")?,
            status: get_enum::<ReservationStatus>(item, "st")?,
            expires_ms: get_n(item, "exp")?,
        })
    }

    /// Held (unexpired) or confirmed at `now`: the seat is taken.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        match self.status {
            ReservationStatus::Confirmed => true,
            ReservationStatus::Held => self.expires_ms > ms(now),
            _ => false,
        }
    }
}

impl DynamoStore {
    pub(super) async fn stored_event(&self, id: Uuid) -> StoreResult<Option<StoredEvent>> {
        self.get(event_key(id)).await?.as_ref().map(event_from).transpose()
    }

    /// The event item with its venue's time zone, read from the venue.
    async fn zoned_event(&self, id: Uuid) -> StoreResult<Option<StoredEvent>> {
        let Some(mut stored) = self.stored_event(id).await? else {
            return Ok(None);
        };
        self.zoned(std::slice::from_mut(&mut stored)).await?;
        Ok(Some(stored))
    }

    /// Gives each event its venue's time zone, reading every venue named once, in one batch.
    async fn zoned(&self, events: &mut [StoredEvent]) -> StoreResult<()> {
        let venues: BTreeSet<Uuid> = events.iter().map(|stored| stored.event.venue_id).collect();
        let mut zones = HashMap::new();
        for item in self.batch_get(venues.into_iter().map(venue_key).collect()).await? {
            zones.insert(get_uuid(&item, "id")?, venue_time_zone(&item)?);
        }
        for stored in events {
            let venue = &mut stored.event.venue;
            // Venues are never deleted: an event without one is a table this code never wrote.
            venue.time_zone = *zones.get(&venue.id).ok_or_else(|| corrupt("event", "its venue is missing"))?;
        }
        Ok(())
    }

    /// Every seat-state item of an event, from each of its partitions.
    pub(super) async fn seat_states(&self, event_id: Uuid, shards: u32) -> StoreResult<Vec<SeatStateItem>> {
        let pks = (0..shards).map(|shard| seat_state_pk(event_id, shard)).collect();
        self.query_partitions(pks, "SEAT#").await?.iter().map(SeatStateItem::from_item).collect()
    }

    /// The event with its seats counted at `now`.
    async fn counted(&self, stored: StoredEvent, now: DateTime<Utc>) -> StoreResult<Event> {
        let taken = self.seat_states(stored.event.id, stored.shards).await?.iter().filter(|s| s.is_active(now)).count();
        let mut event = stored.event;
        event.seats_available = (event.seats_total - taken as i64).max(0);
        Ok(event)
    }

    /// The event's gates, one per seat-state partition, each updated by `update`.
    fn gate_updates(
        &self,
        event_id: Uuid,
        shards: u32,
        update: &str,
        values: &[(&'static str, AttributeValue)],
    ) -> StoreResult<Vec<aws_sdk_dynamodb::types::TransactWriteItem>> {
        (0..shards)
            .map(|shard| {
                TxItem::update(
                    &self.table,
                    gate_key(event_id, shard),
                    update,
                    Some("attribute_exists(pk)"),
                    values.to_vec(),
                )
            })
            .collect()
    }
}

#[async_trait]
impl CatalogStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_venue(&self, venue: NewVenue) -> StoreResult<VenueWithSeats> {
        let id = Uuid::new_v4();
        let mut seats = Vec::with_capacity(venue.seats.len());
        let mut items = Vec::with_capacity(2 * venue.seats.len());
        for new in &venue.seats {
            let seat = new_seat(new);
            let row_index = i64::from(new.row_index);
            let mut attributes = vec![
                ("seat_id".to_owned(), s(seat.id.to_string())),
                ("venue_id".to_owned(), s(id.to_string())),
                ("row".to_owned(), s(&seat.row)),
                ("num".to_owned(), n(i64::from(seat.seat_number))),
                ("ridx".to_owned(), n(row_index)),
                ("tier".to_owned(), s(&seat.tier)),
            ];
            attributes.extend(seat_layout_attributes(&seat));
            let mut listed = key(venue_pk(id), &venue_seat_sk(row_index, i64::from(seat.seat_number)));
            listed.extend(attributes.clone());
            let mut by_id = seat_key(seat.id);
            by_id.extend(attributes);
            items.extend([listed, by_id]);
            seats.push(seat);
        }
        // Seats first, the venue item last: a venue that can be read or listed is complete.
        self.batch_put(items).await?;
        let seat_count = seats.len() as i64;
        let tiers = venue.tiers();
        let mut item = venue_key(id);
        item.extend([
            ("id".to_owned(), s(id.to_string())),
            ("name".to_owned(), s(&venue.name)),
            ("location".to_owned(), s(&venue.location)),
            ("vkind".to_owned(), s(venue.kind.as_str())),
            ("seat_count".to_owned(), n(seat_count)),
            ("tz".to_owned(), s(venue.time_zone.name())),
            ("tiers".to_owned(), AttributeValue::L(tiers.into_iter().map(s).collect())),
            ("created".to_owned(), n(ms(Utc::now()))),
            ("gsi1pk".to_owned(), s(VENUES_INDEX)),
            ("gsi1sk".to_owned(), s(format!("{}#{id}", venue.name))),
            ("lver".to_owned(), s(&venue.layout_version)),
        ]);
        // The outline is a few KB (`VenueLayout` bounds its shapes), far below the 400 KB item.
        if let Some(outline) = &venue.outline_json {
            item.insert("layout".to_owned(), s(outline));
        }
        let created = Venue {
            id,
            name: venue.name.clone(),
            location: venue.location.clone(),
            kind: venue.kind,
            seat_count,
            time_zone: venue.time_zone,
        };
        match &venue.actor {
            // The venue item and its audit entry in one transaction: the venue exists with its row.
            Some(actor) => {
                let record = AuditRecord::creation(actor, AuditAction::VenueCreated, id, &created, Utc::now());
                let writes = vec![TxItem::put(&self.table, item, None, vec![])?, audit_put(&self.table, &record)?];
                if let Err(canceled) = self.transact(&mut Budget::new(), writes).await? {
                    return Err(StoreError::Internal(format!("creating a venue was refused: {canceled:?}")));
                }
            }
            None => self.batch_put(vec![item]).await?,
        }
        Ok(VenueWithSeats { venue: created, seats })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_venues(&self) -> StoreResult<Vec<Venue>> {
        let items = self.query_all(Query::gsi1(VENUES_INDEX)).await?;
        let mut venues = items.iter().map(venue_from).collect::<StoreResult<Vec<_>>>()?;
        // Bytewise, like the SQL backends' `COLLATE "C"`.
        venues.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()).then(a.id.cmp(&b.id)));
        Ok(venues)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn venue(&self, id: Uuid) -> StoreResult<Option<VenueWithSeats>> {
        let Some(item) = self.get(venue_key(id)).await? else {
            return Ok(None);
        };
        let pk = venue_pk(id);
        let seats = self.query_all(Query::table(&pk).prefix("SEAT#")).await?;
        let seats = seats.iter().map(|item| venue_seat_from(item).map(|s| s.seat)).collect::<StoreResult<_>>()?;
        Ok(Some(VenueWithSeats { venue: venue_from(&item)?, seats }))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn venue_layout(&self, id: Uuid) -> StoreResult<Option<StoredLayout>> {
        let Some(item) = self.get(venue_key(id)).await? else {
            return Ok(None);
        };
        // The seats, in the venue's order (their sort keys), as `venue` reads them.
        let pk = venue_pk(id);
        let seats = self.query_all(Query::table(&pk).prefix("SEAT#")).await?;
        let seats: Vec<_> =
            seats.iter().map(|item| venue_seat_from(item).map(|s| s.seat)).collect::<StoreResult<_>>()?;
        let mut version = stored_layout_version(opt_s(&item, "lver"));
        // The seats are many items, written before the venue item names their version: read while
        // a new layout is being written (a lease on the venue item, or another version after the
        // seats were read), the answer gets a version of its own that no settled layout has, so no
        // cache keeps it as the old or the new one.
        let again = self.get(venue_key(id)).await?.ok_or_else(|| corrupt("venue", "deleted"))?;
        let now = ms(Utc::now());
        let settled = |item: &Item| opt_n(item, "relayout").map(|lease| lease.unwrap_or(0) <= now);
        if !(settled(&item)? && settled(&again)? && opt_s(&again, "lver") == opt_s(&item, "lver")) {
            version = format!("{version}-changing-{now}");
        }
        Ok(Some(StoredLayout { venue_id: id, version, outline_json: opt_s(&item, "layout"), seats }))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_venue(&self, id: Uuid, changes: VenueChanges) -> StoreResult<Option<VenueWithSeats>> {
        if let Some(layout) = &changes.layout {
            // The zone goes in the same final write as the layout.
            if !self.replace_layout(id, layout, changes.time_zone, changes.actor.as_ref()).await? {
                return Ok(None);
            }
        } else if let (Some(time_zone), Some(actor)) = (changes.time_zone, &changes.actor) {
            if !self.update_venue_audited(id, time_zone, actor).await? {
                return Ok(None);
            }
        } else if let Some(time_zone) = changes.time_zone {
            let (update, condition) = ("SET #tz = :tz", "attribute_exists(#pk)");
            let values = vec![(":tz", s(time_zone.name()))];
            if !self.update_if(venue_key(id), update, condition, values, Returned::Nothing).await?.was_written()? {
                return Ok(None);
            }
        }
        self.venue(id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn venue_tiers(&self, id: Uuid) -> StoreResult<Option<BTreeSet<String>>> {
        let Some(item) = self.get(venue_key(id)).await? else {
            return Ok(None);
        };
        match item.get("tiers") {
            Some(AttributeValue::L(tiers)) => Ok(Some(
                tiers
                    .iter()
                    .map(|t| match t {
                        AttributeValue::S(tier) => Ok(tier.clone()),
                        other => Err(corrupt("tier", &format!("{other:?}"))),
                    })
                    .collect::<StoreResult<_>>()?,
            )),
            _ => Err(corrupt("venue", "no tiers")),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_event(&self, event: NewEvent) -> StoreResult<Event> {
        let Some(venue_item) = self.get(venue_key(event.venue_id)).await? else {
            return Err(StoreError::no_such_venue());
        };
        let venue = venue_from(&venue_item)?;
        let id = Uuid::new_v4();
        let start = ms(event.start_time);
        let mut item = event_key(id);
        item.extend([
            ("id".to_owned(), s(id.to_string())),
            ("venue_id".to_owned(), s(venue.id.to_string())),
            ("venue_name".to_owned(), s(&venue.name)),
            ("venue_location".to_owned(), s(&venue.location)),
            ("venue_kind".to_owned(), s(venue.kind.as_str())),
            ("name".to_owned(), s(&event.name)),
            ("category".to_owned(), s(event.category.as_str())),
            ("description".to_owned(), s(&event.description)),
            ("start".to_owned(), n(start)),
            ("st".to_owned(), s(EventStatus::OnSale.as_str())),
            ("currency".to_owned(), s(&event.currency)),
            ("prices".to_owned(), prices_value(&event.prices)),
            ("seats_total".to_owned(), n(venue.seat_count)),
            ("shards".to_owned(), n(i64::from(SEAT_SHARDS))),
            ("created".to_owned(), n(ms(Utc::now()))),
            ("gsi1pk".to_owned(), s(EVENTS_INDEX)),
            ("gsi1sk".to_owned(), s(time_key(start, &id.to_string()))),
        ]);
        if let Some(url) = &event.image_url {
            item.insert("image_url".to_owned(), s(url));
        }
        if let Some(types) = encode_ticket_types(&event.ticket_types) {
            item.insert("ticket_types".to_owned(), s(types));
        }
        if let Some(minutes) = event.duration_minutes {
            item.insert("duration".to_owned(), n(i64::from(minutes)));
        }
        if let Some(on_sale_at) = event.on_sale_at {
            item.insert("opens".to_owned(), n(ms(on_sale_at)));
        }
        if let Some(queue) = event.queue {
            item.insert("queue".to_owned(), queue_value(queue));
        }
        if let Some(hours) = event.accessible_release_hours {
            item.insert("arh".to_owned(), n(i64::from(hours)));
        }
        let release = accessible_release_at(event.start_time, event.accessible_release_hours);
        let mut stored = event_from(&item)?;
        stored.event.venue.time_zone = venue.time_zone;
        let mut writes = vec![TxItem::put(&self.table, item, Some("attribute_not_exists(pk)"), vec![])?];
        for shard in 0..SEAT_SHARDS {
            let mut gate = gate_key(id, shard);
            gate.extend([("st".to_owned(), s(EventStatus::OnSale.as_str())), ("start".to_owned(), n(start))]);
            // The opening is on every gate too: the hold's condition on the gate refuses a hold
            // before it, so the store decides, not the read that came first.
            if let Some(on_sale_at) = event.on_sale_at {
                gate.insert("opens".to_owned(), n(ms(on_sale_at)));
            }
            // So is an enabled waiting room: a hold with no admission fails the gate's condition.
            if event.queue.is_some_and(|queue| queue.enabled) {
                gate.insert("queued".to_owned(), n(1));
            }
            // And the accessible release: a hold that may not take held-back seats is conditioned
            // on it (`holds.rs`, `GATE_RELEASED`).
            if let Some(release) = release {
                gate.insert("release".to_owned(), n(ms(release)));
            }
            writes.push(TxItem::put(&self.table, gate, None, vec![])?);
        }
        if let Some(actor) = &event.actor {
            let record = AuditRecord::creation(actor, AuditAction::EventCreated, id, &stored.event, Utc::now());
            writes.push(audit_put(&self.table, &record)?);
        }
        // No event is created while the venue's layout is being replaced (its lease, see
        // `replace_layout`): the replacement checks the venue's events after taking the lease.
        let venue_check = writes.len();
        writes.push(TxItem::check(
            &self.table,
            venue_key(event.venue_id),
            VENUE_NOT_LEASED,
            vec![(":now", n(ms(Utc::now())))],
        )?);
        match self.transact(&mut Budget::new(), writes).await? {
            Ok(()) => Ok(stored.event),
            Err(canceled) if canceled.condition_failed(venue_check) => {
                Err(StoreError::VenueInUse("this venue's layout is being changed; try again in a minute".into()))
            }
            Err(canceled) => Err(StoreError::Internal(format!("creating an event was refused: {canceled:?}"))),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_event(&self, id: Uuid, changes: EventChanges) -> StoreResult<Option<Event>> {
        // An audited change works out the event it leaves, to put its entry in the same transaction.
        let audited = changes.actor.is_some().then(|| changes.clone());
        let new_hours = changes.accessible_release_hours;
        let mut sets: Vec<&str> = Vec::new();
        let mut removes: Vec<&str> = Vec::new();
        let mut values = Vec::new();
        if let Some(name) = changes.name {
            sets.push("#name = :name");
            values.push((":name", s(name)));
        }
        if let Some(category) = changes.category {
            sets.push("#category = :category");
            values.push((":category", s(category.as_str())));
        }
        // Empty text is left out of the item (see `without_empty_text`), so clearing it removes it.
        match changes.description {
            Some(description) if description.is_empty() => removes.push("#description"),
            Some(description) => {
                sets.push("#description = :description");
                values.push((":description", s(description)));
            }
            None => {}
        }
        match changes.image_url {
            Some(Some(url)) if !url.is_empty() => {
                sets.push("#image_url = :image_url");
                values.push((":image_url", s(url)));
            }
            Some(_) => removes.push("#image_url"),
            None => {}
        }
        match changes.duration_minutes {
            Some(Some(minutes)) => {
                sets.push("#duration = :duration");
                values.push((":duration", n(i64::from(minutes))));
            }
            Some(None) => removes.push("#duration"),
            None => {}
        }
        match changes.poster {
            Some(Some(poster)) => {
                sets.push("#poster_small = :poster_small, #poster_large = :poster_large");
                values.push((":poster_small", s(poster.small)));
                values.push((":poster_large", s(poster.large)));
            }
            Some(None) => removes.push("#poster_small, #poster_large"),
            None => {}
        }
        if let Some(currency) = changes.currency {
            sets.push("#currency = :currency");
            values.push((":currency", s(currency)));
        }
        if let Some(prices) = &changes.prices {
            sets.push("#prices = :prices");
            values.push((":prices", prices_value(prices)));
        }
        if let Some(types) = changes.ticket_types.as_deref().and_then(encode_ticket_types) {
            sets.push("#ticket_types = :ticket_types");
            values.push((":ticket_types", s(types)));
        }
        match changes.on_sale_at {
            Some(Some(on_sale_at)) => {
                sets.push("#opens = :opens");
                values.push((":opens", n(ms(on_sale_at))));
            }
            Some(None) => removes.push("#opens"),
            None => {}
        }
        match changes.queue {
            Some(Some(queue)) => {
                sets.push("#queue = :queue");
                values.push((":queue", queue_value(queue)));
            }
            Some(None) => removes.push("#queue"),
            None => {}
        }
        match new_hours {
            Some(Some(hours)) => {
                sets.push("#arh = :arh");
                values.push((":arh", n(i64::from(hours))));
            }
            Some(None) => removes.push("#arh"),
            None => {}
        }
        let start = changes.start_time.map(ms);
        if let Some(start) = start {
            sets.push("#start = :start, #gsi1sk = :gsi1sk");
            values.push((":start", n(start)));
            values.push((":gsi1sk", s(time_key(start, &id.to_string()))));
        }
        // What the gates carry (the start, the opening, whether a waiting room is enabled) moves in
        // the same step as the event.
        let mut gate_sets: Vec<&str> = Vec::new();
        let mut gate_values = Vec::new();
        if let Some(start) = start {
            gate_sets.push("#start = :start");
            gate_values.push((":start", n(start)));
        }
        if let Some(Some(on_sale_at)) = changes.on_sale_at {
            gate_sets.push("#opens = :opens");
            gate_values.push((":opens", n(ms(on_sale_at))));
        }
        let mut gate_removes: Vec<&str> = Vec::new();
        if changes.on_sale_at == Some(None) {
            gate_removes.push("#opens");
        }
        match changes.queue {
            Some(Some(queue)) if queue.enabled => {
                gate_sets.push("#queued = :queued");
                gate_values.push((":queued", n(1)));
            }
            Some(_) => gate_removes.push("#queued"),
            None => {}
        }
        if !sets.is_empty() || !removes.is_empty() {
            // Every change bumps the event's change counter, which an audited change is conditioned
            // on: the "before" of its audit entry is what it replaced.
            sets.push("#aver = if_not_exists(#aver, :zero) + :one");
            values.extend([(":zero", n(0)), (":one", n(1))]);
        }
        let mut update = String::new();
        if !sets.is_empty() {
            update.push_str(&format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        if update.is_empty() {
            return self.event(id, Utc::now()).await;
        }
        // The accessible release on the gates is the start less the hours: either changing moves it.
        let release_moves = new_hours.is_some() || start.is_some();
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some(current_item) = self.get(event_key(id)).await? else {
                return Ok(None);
            };
            let current = event_from(&current_item)?;
            let mut values = values.clone();
            // A new start is conditioned on the start read here: its notice says what the start
            // was, and a reschedule committed meanwhile would make that "was" wrong.
            let mut condition = match start {
                Some(_) => {
                    values.push((":was", n(ms(current.event.start_time))));
                    "attribute_exists(pk) AND #start = :was".to_owned()
                }
                None => "attribute_exists(pk)".to_owned(),
            };
            let (mut gate_sets, mut gate_removes, mut gate_values) =
                (gate_sets.clone(), gate_removes.clone(), gate_values.clone());
            if release_moves {
                // Worked out from the start and hours read here, so the write is conditioned on both.
                if start.is_none() {
                    values.push((":was", n(ms(current.event.start_time))));
                    condition.push_str(" AND #start = :was");
                }
                match opt_n(&current_item, "arh")? {
                    Some(hours) => {
                        values.push((":arh_was", n(hours)));
                        condition.push_str(" AND #arh = :arh_was");
                    }
                    None => condition.push_str(" AND attribute_not_exists(#arh)"),
                }
                let hours = new_hours.unwrap_or(current.event.accessible_release_hours);
                let start_after = start.map(from_ms).transpose()?.unwrap_or(current.event.start_time);
                match accessible_release_at(start_after, hours) {
                    Some(release) => {
                        gate_sets.push("#release = :release");
                        gate_values.push((":release", n(ms(release))));
                    }
                    None => gate_removes.push("#release"),
                }
            }
            let mut gate_update = String::new();
            if !gate_sets.is_empty() {
                gate_update.push_str(&format!("SET {}", gate_sets.join(", ")));
            }
            if !gate_removes.is_empty() {
                gate_update.push_str(&format!(" REMOVE {}", gate_removes.join(", ")));
            }
            let audit = match audited.as_ref().and_then(|planned| Some((planned, planned.actor.as_ref()?))) {
                Some((planned, actor)) => {
                    match opt_n(&current_item, "aver")? {
                        Some(version) => {
                            condition.push_str(" AND #aver = :aver");
                            values.push((":aver", n(version)));
                        }
                        None => condition.push_str(" AND attribute_not_exists(#aver)"),
                    }
                    let mut after = planned.applied_to(&current.event);
                    // As stored: whole milliseconds.
                    after.start_time = from_ms(ms(after.start_time))?;
                    after.on_sale_at = after.on_sale_at.map(|at| from_ms(ms(at))).transpose()?;
                    AuditRecord::change(actor, AuditAction::EventUpdated, id, &current.event, &after, Utc::now())
                }
                None => None,
            };
            let mut writes = vec![TxItem::update(&self.table, event_key(id), &update, Some(&condition), values)?];
            if let Some(record) = &audit {
                writes.push(audit_put(&self.table, record)?);
            }
            // A new start or opening moves the gates too, in the same step: no hold passes a gate
            // that is out of date.
            if !gate_update.is_empty() {
                writes.extend(self.gate_updates(id, current.shards, gate_update.trim_start(), &gate_values)?);
            }
            // Its notice, with the start as read above (compared as stored: whole milliseconds).
            if let Some(moved) = rescheduled_notice(id, current.event.start_time, start.map(from_ms).transpose()?) {
                writes.push(message_put(&self.table, None, moved, Utc::now())?);
            }
            match self.transact(&mut budget, writes).await? {
                // The trait gives no clock here; availability is counted at the wall clock.
                Ok(()) => return self.event(id, Utc::now()).await,
                // Gone, or moved by another reschedule since the read: read again.
                Err(canceled) if canceled.condition_failed(0) => continue,
                Err(canceled) => {
                    return Err(StoreError::Internal(format!("updating an event was refused: {canceled:?}")));
                }
            }
        }
        Err(kept_conflicting("rescheduling the event"))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn cancel_event(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Option<Cancellation<Event>>> {
        let Some(stored) = self.stored_event(id).await? else {
            return Ok(None);
        };
        // The cancel's audit entry goes with the transaction that changes the event (the seats'
        // cancels after it may take several), conditioned on the event not being canceled yet.
        let audit = actor.and_then(|actor| {
            let mut after = stored.event.clone();
            after.status = EventStatus::Canceled;
            AuditRecord::change(actor, AuditAction::EventCanceled, id, &stored.event, &after, now)
        });
        // The event and its gates close in one step: from then on no hold or confirm of this event
        // commits, so the seats read below are all there will ever be to cancel.
        let canceled = [(":canceled", s(EventStatus::Canceled.as_str()))];
        let condition =
            if audit.is_some() { "attribute_exists(pk) AND #st <> :canceled" } else { "attribute_exists(pk)" };
        let mut writes = vec![TxItem::update(
            &self.table,
            event_key(id),
            "SET #st = :canceled",
            Some(condition),
            canceled.to_vec(),
        )?];
        writes.extend(self.gate_updates(id, stored.shards, "SET #st = :canceled", &canceled)?);
        if let Some(record) = &audit {
            writes.push(audit_put(&self.table, record)?);
        }
        // Receivers hear of it in the same transaction (whether or not any seat was paid).
        writes.push(event_put(&self.table, &WebhookEvent::event_canceled(id, now))?);
        match self.transact(&mut Budget::new(), writes).await? {
            Ok(()) => {}
            // Canceled by another request since the read: its transaction closed the gates and
            // wrote its entry; this one goes on to cancel whatever seats are left.
            Err(refused) if audit.is_some() && refused.condition_failed(0) => {}
            Err(canceled) => return Err(StoreError::Internal(format!("canceling an event was refused: {canceled:?}"))),
        }
        let refunds = self.cancel_event_seats(id, stored.shards, now, actor).await?;
        let event = self.event(id, now).await?;
        Ok(event.map(|canceled| Cancellation { canceled, refunds }))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> {
        // The event and its seat partitions (as new events have them) in one round trip.
        let pks = (0..SEAT_SHARDS).map(|shard| seat_state_pk(id, shard)).collect();
        let (stored, states) = tokio::join!(self.zoned_event(id), self.query_partitions(pks, "SEAT#"));
        let Some(stored) = stored? else {
            return Ok(None);
        };
        if stored.shards != SEAT_SHARDS {
            return Ok(Some(self.counted(stored, now).await?));
        }
        let mut taken = 0;
        for item in &states? {
            taken += i64::from(SeatStateItem::from_item(item)?.is_active(now));
        }
        let mut event = stored.event;
        event.seats_available = (event.seats_total - taken).max(0);
        Ok(Some(event))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_events(&self, filter: &EventFilter, now: DateTime<Utc>) -> StoreResult<Vec<Event>> {
        // The index partition lists every event by start time; filters and paging apply here,
        // and seats are counted only for the page (see `docs/dynamodb.md` on scale).
        // A search ranks the same events in Rust (`domain::rank`): the partition is read whole
        // anyway, and a deployment's events are few beside its reservations (see README,
        // "Finding events"), so no search index item is kept.
        let items = self.query_all(Query::gsi1(EVENTS_INDEX)).await?;
        let mut events = Vec::new();
        for item in &items {
            let stored = event_from(item)?;
            let e = &stored.event;
            let keep = (filter.include_past || (e.status == EventStatus::OnSale && e.start_time > now))
                && filter.category.is_none_or(|c| e.category == c)
                && filter.venue_id.is_none_or(|v| e.venue_id == v)
                && filter.venues.as_ref().is_none_or(|venues| venues.contains(&e.venue_id))
                && filter.from.is_none_or(|from| e.start_time >= from)
                && filter.to.is_none_or(|to| e.start_time <= to);
            if keep {
                events.push(stored);
            }
        }
        let min_price = |e: &Event| e.prices.iter().map(|p| p.price_cents).min().unwrap_or(0);
        let search = filter.text.as_deref().map(SearchQuery::parse);
        let mut events = match search {
            // A search of no letter or digit ("%") finds nothing.
            Some(None) => Vec::new(),
            Some(Some(query)) => {
                let candidates = events
                    .iter()
                    .map(|stored| SearchCandidate {
                        id: stored.event.id,
                        name: stored.event.name.clone(),
                        description: stored.event.description.clone(),
                        venue_name: stored.event.venue.name.clone(),
                        venue_location: stored.event.venue.location.clone(),
                        start_time: stored.event.start_time,
                        min_price_cents: min_price(&stored.event),
                    })
                    .collect();
                let ids = rank(&query, candidates, filter.sort, filter.page);
                let mut by_id: HashMap<Uuid, StoredEvent> = events.into_iter().map(|s| (s.event.id, s)).collect();
                ids.iter().filter_map(|id| by_id.remove(id)).collect()
            }
            None => {
                match filter.sort {
                    None | Some(EventSort::Date) => events.sort_by_key(|s| (s.event.start_time, s.event.id)),
                    Some(EventSort::Price) => {
                        events.sort_by_key(|s| (min_price(&s.event), s.event.start_time, s.event.id))
                    }
                    Some(EventSort::Name) => {
                        events.sort_by_key(|s| (s.event.name.to_lowercase(), s.event.start_time, s.event.id))
                    }
                }
                paged(events, filter.page)
            }
        };
        self.zoned(&mut events).await?;
        let mut page = Vec::new();
        for stored in events {
            page.push(self.counted(stored, now).await?);
        }
        Ok(page)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn seat_map(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Vec<SeatState>>> {
        let Some(stored) = self.stored_event(event_id).await? else {
            return Ok(None);
        };
        let prices: HashMap<&str, i64> = stored.event.prices.iter().map(|p| (p.tier.as_str(), p.price_cents)).collect();
        let states: HashMap<Uuid, SeatStateItem> =
            self.seat_states(event_id, stored.shards).await?.into_iter().map(|s| (s.seat_id, s)).collect();
        let pk = venue_pk(stored.event.venue_id);
        let seats = self.query_all(Query::table(&pk).prefix("SEAT#")).await?;
        seats
            .iter()
            .map(|item| {
                let seat = venue_seat_from(item)?.seat;
                let status = match states.get(&seat.id) {
                    Some(state) if state.is_active(now) && state.status == ReservationStatus::Confirmed => {
                        SeatStatus::Sold
                    }
                    Some(state) if state.is_active(now) => SeatStatus::Held,
                    _ => SeatStatus::Available,
                };
                Ok(SeatState {
                    seat_id: seat.id,
                    price_cents: prices.get(seat.tier.as_str()).copied().unwrap_or(0),
                    section: seat.section,
                    row: seat.row,
                    seat_number: seat.seat_number,
                    tier: seat.tier,
                    status,
                    x: seat.x,
                    y: seat.y,
                    attributes: seat.attributes,
                })
            })
            .collect::<StoreResult<_>>()
            .map(Some)
    }
}
