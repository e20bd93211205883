//! Venues, events and the live seat map on PostgreSQL. An event is read with its venue, prices and
//! seat counts in one statement (`EVENT_SELECT_UNTIL_NOW`); the seat map joins two single-table
//! reads in Rust. Canceling an event cancels its reservations with the cancel path of `holds.rs`.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgExecutor;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::audit::write_audit;
use super::holds::{CancelScope, cancel_active};
use super::rows::{EventRow, SeatMapRow, SeatRow, VenueRow, venue_columns};
use super::{PostgresStore, TxError, retry_deadlocks, settle};
use crate::domain::{
    Actor, AuditAction, AuditRecord, AuditedVenue, Category, Event, EventChanges, EventFilter, EventSort, NewEvent,
    NewLayout, NewVenue, Price, SearchCandidate, SearchQuery, Seat, SeatAttribute, SeatState, StoredLayout, TicketType,
    TimeZone, Venue, VenueChanges, VenueWithSeats, encode_ticket_types, event_search_text, in_order, rank,
};
use crate::store::outbox::{self, CanceledSeats};
use crate::store::{
    Cancellation, CatalogStore, Relayout, StoreError, StoreResult, new_seat, on_sale_at_venue, seat_still_booked,
    stored_layout_version,
};

/// Inserts a venue's seats, each with its row's position: one statement, column by column,
/// however many seats there are.
async fn insert_seats(db: impl PgExecutor<'_>, venue_id: Uuid, seats: &[&(i32, Seat)]) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO seats (id, venue_id, section, row_label, row_index, seat_number, tier, x, y, attributes)
         SELECT t.id, $1, t.section, t.row_label, t.row_index, t.seat_number, t.tier, t.x, t.y, t.attributes
         FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::int4[], $6::int4[], $7::text[], $8::float8[],
                     $9::float8[], $10::text[])
              AS t (id, section, row_label, row_index, seat_number, tier, x, y, attributes)",
    )
    .bind(venue_id)
    .bind(seats.iter().map(|(_, s)| s.id).collect::<Vec<_>>())
    .bind(seats.iter().map(|(_, s)| s.section.clone().unwrap_or_default()).collect::<Vec<_>>())
    .bind(seats.iter().map(|(_, s)| s.row.clone()).collect::<Vec<_>>())
    .bind(seats.iter().map(|(row_index, _)| *row_index).collect::<Vec<_>>())
    .bind(seats.iter().map(|(_, s)| s.seat_number).collect::<Vec<_>>())
    .bind(seats.iter().map(|(_, s)| s.tier.clone()).collect::<Vec<_>>())
    .bind(seats.iter().map(|(_, s)| s.x).collect::<Vec<_>>())
    .bind(seats.iter().map(|(_, s)| s.y).collect::<Vec<_>>())
    .bind(seats.iter().map(|(_, s)| SeatAttribute::join(&s.attributes)).collect::<Vec<_>>())
    .execute(db)
    .await?;
    Ok(())
}

/// A venue's seats in the venue's order.
async fn venue_seats(db: impl PgExecutor<'_>, venue_id: Uuid) -> StoreResult<Vec<Seat>> {
    let seats: Vec<SeatRow> = sqlx::query_as(
        "SELECT id, section, row_label, seat_number, tier, x, y, attributes FROM seats WHERE venue_id = $1 \
         ORDER BY row_index, seat_number",
    )
    .bind(venue_id)
    .fetch_all(db)
    .await?;
    Ok(seats.into_iter().map(SeatRow::into_seat).collect())
}

#[async_trait]
impl CatalogStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_venue(&self, venue: NewVenue) -> StoreResult<VenueWithSeats> {
        let id = Uuid::new_v4();
        let seats: Vec<(i32, Seat)> = venue.seats.iter().map(|seat| (seat.row_index, new_seat(seat))).collect();

        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO venues (id, name, location, kind, time_zone, created_at, layout, layout_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(&venue.name)
        .bind(&venue.location)
        .bind(venue.kind.as_str())
        .bind(venue.time_zone.name())
        .bind(Utc::now())
        .bind(&venue.outline_json)
        .bind(&venue.layout_version)
        .execute(&mut *tx)
        .await?;
        insert_seats(&mut *tx, id, &seats.iter().collect::<Vec<_>>()).await?;
        let seats: Vec<Seat> = seats.into_iter().map(|(_, seat)| seat).collect();
        let seat_count = i64::try_from(seats.len()).map_err(|err| StoreError::Internal(err.to_string()))?;
        let created = Venue {
            id,
            name: venue.name,
            location: venue.location,
            kind: venue.kind,
            seat_count,
            time_zone: venue.time_zone,
        };
        if let Some(actor) = &venue.actor {
            write_audit(&mut *tx, &AuditRecord::creation(actor, AuditAction::VenueCreated, id, &created, Utc::now()))
                .await?;
        }
        tx.commit().await?;
        Ok(VenueWithSeats { venue: created, seats })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_venues(&self) -> StoreResult<Vec<Venue>> {
        let rows: Vec<VenueRow> =
            sqlx::query_as(concat!("SELECT ", venue_columns!(), r#" FROM venues v ORDER BY v.name COLLATE "C", v.id"#))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(VenueRow::into_venue).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn venue(&self, id: Uuid) -> StoreResult<Option<VenueWithSeats>> {
        let row: Option<VenueRow> =
            sqlx::query_as(concat!("SELECT ", venue_columns!(), " FROM venues v WHERE v.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(VenueWithSeats { venue: row.into_venue()?, seats: venue_seats(&self.pool, id).await? }))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn venue_layout(&self, id: Uuid) -> StoreResult<Option<StoredLayout>> {
        // One snapshot for the version and the seats: a layout replaced between two reads must not
        // answer the old version with the new seats (a versioned answer is cached for a year).
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT layout, layout_version FROM venues WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((outline_json, version)) = row else { return Ok(None) };
        let seats = venue_seats(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(Some(StoredLayout { venue_id: id, version: stored_layout_version(version), outline_json, seats }))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_venue(&self, id: Uuid, changes: VenueChanges) -> StoreResult<Option<VenueWithSeats>> {
        let mut tx = self.pool.begin().await?;
        // Locked first: the audit row's "before" is what this change replaced, and an event being
        // created at the venue (which takes the row `FOR SHARE`) waits for a new layout, or is
        // seen by the check below.
        let Some(before) = lock_venue(&mut *tx, id).await? else {
            return Ok(None);
        };
        let version_before = venue_layout_version(&mut *tx, id).await?;
        if let Some(layout) = &changes.layout {
            replace_layout(&mut tx, id, layout).await?;
        }
        sqlx::query("UPDATE venues SET time_zone = COALESCE($2, time_zone) WHERE id = $1")
            .bind(id)
            .bind(changes.time_zone.map(TimeZone::name))
            .execute(&mut *tx)
            .await?;
        if let (Some(actor), Some(after)) = (&changes.actor, lock_venue(&mut *tx, id).await?) {
            let before = AuditedVenue::new(before, version_before);
            let after = AuditedVenue::new(after, venue_layout_version(&mut *tx, id).await?);
            if let Some(record) = AuditRecord::change(actor, AuditAction::VenueUpdated, id, &before, &after, Utc::now())
            {
                write_audit(&mut *tx, &record).await?;
            }
        }
        tx.commit().await?;
        self.venue(id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn venue_tiers(&self, id: Uuid) -> StoreResult<Option<BTreeSet<String>>> {
        let tiers: Option<Vec<String>> = sqlx::query_scalar(
            "SELECT ARRAY(SELECT DISTINCT s.tier FROM seats s WHERE s.venue_id = v.id) FROM venues v WHERE v.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(tiers.map(|tiers| tiers.into_iter().collect()))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_event(&self, event: NewEvent) -> StoreResult<Event> {
        let id = Uuid::new_v4();
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        // Inserting from `venues` turns an unknown venue into zero rows instead of a foreign-key error;
        // its row is taken `FOR SHARE`, so a new layout of the venue (`update_venue`, `FOR UPDATE`)
        // either sees this event or is done before it.
        let inserted = sqlx::query(
            "INSERT INTO events (id, venue_id, name, category, description, image_url, start_time,
                                 duration_minutes, status, currency, created_at, on_sale_at, queue_enabled,
                                 queue_admit_per_minute, queue_max_active_buyers, queue_session_minutes,
                                 accessible_release_hours)
             SELECT $1, v.id, $3, $4, $5, $6, $7, $8, 'on_sale', $9, $10, $11, $12, $13, $14, $15, $16
             FROM venues v WHERE v.id = $2 FOR SHARE OF v",
        )
        .bind(id)
        .bind(event.venue_id)
        .bind(&event.name)
        .bind(event.category.as_str())
        .bind(&event.description)
        .bind(&event.image_url)
        .bind(event.start_time)
        .bind(event.duration_minutes)
        .bind(&event.currency)
        .bind(now)
        .bind(event.on_sale_at)
        .bind(event.queue.map(|q| q.enabled))
        .bind(event.queue.map(|q| queue_setting(q.admit_per_minute)))
        .bind(event.queue.map(|q| queue_setting(q.max_active_buyers)))
        .bind(event.queue.map(|q| queue_setting(q.session_minutes)))
        .bind(event.accessible_release_hours.map(release_hours))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::no_such_venue());
        }
        insert_prices(&mut tx, id, &event.prices).await?;
        write_ticket_types(&mut tx, id, &event.ticket_types).await?;
        write_search_text(&mut tx, id).await?;
        let created = fetch_event(&mut *tx, id, now)
            .await?
            .ok_or_else(|| StoreError::Internal("a created event could not be read back".into()))?;
        if let Some(actor) = &event.actor {
            write_audit(&mut *tx, &AuditRecord::creation(actor, AuditAction::EventCreated, id, &created, now)).await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_event(&self, id: Uuid, changes: EventChanges) -> StoreResult<Option<Event>> {
        let searched_fields_change = changes.name.is_some() || changes.description.is_some();
        let actor = changes.actor.clone();
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        // Locked first, so the audit row's "before" is what this change replaced.
        let before = match &actor {
            Some(_) => {
                sqlx::query("SELECT 1 FROM events WHERE id = $1 FOR UPDATE").bind(id).execute(&mut *tx).await?;
                fetch_event(&mut *tx, id, now).await?
            }
            None => None,
        };
        outbox::reschedule_notice(&mut *tx, id, changes.start_time).await?;
        // The doubly optional fields need a flag: `Some(None)` clears the column, `None` keeps it.
        let updated = sqlx::query(
            "UPDATE events SET
                 name = COALESCE($2, name),
                 category = COALESCE($3, category),
                 description = COALESCE($4, description),
                 image_url = CASE WHEN $5 THEN $6 ELSE image_url END,
                 start_time = COALESCE($7, start_time),
                 duration_minutes = CASE WHEN $8 THEN $9 ELSE duration_minutes END,
                 currency = COALESCE($10, currency),
                 poster_small = CASE WHEN $11 THEN $12 ELSE poster_small END,
                 poster_large = CASE WHEN $11 THEN $13 ELSE poster_large END,
                 on_sale_at = CASE WHEN $14 THEN $15 ELSE on_sale_at END,
                 queue_enabled = CASE WHEN $16 THEN $17 ELSE queue_enabled END,
                 queue_admit_per_minute = CASE WHEN $16 THEN $18 ELSE queue_admit_per_minute END,
                 queue_max_active_buyers = CASE WHEN $16 THEN $19 ELSE queue_max_active_buyers END,
                 queue_session_minutes = CASE WHEN $16 THEN $20 ELSE queue_session_minutes END,
                 accessible_release_hours = CASE WHEN $21 THEN $22 ELSE accessible_release_hours END
             WHERE id = $1",
        )
        .bind(id)
        .bind(changes.name)
        .bind(changes.category.map(Category::as_str))
        .bind(changes.description)
        .bind(changes.image_url.is_some())
        .bind(changes.image_url.flatten())
        .bind(changes.start_time)
        .bind(changes.duration_minutes.is_some())
        .bind(changes.duration_minutes.flatten())
        .bind(changes.currency)
        .bind(changes.poster.is_some())
        .bind(changes.poster.as_ref().and_then(|p| p.as_ref().map(|p| p.small.clone())))
        .bind(changes.poster.as_ref().and_then(|p| p.as_ref().map(|p| p.large.clone())))
        .bind(changes.on_sale_at.is_some())
        .bind(changes.on_sale_at.flatten())
        .bind(changes.queue.is_some())
        .bind(changes.queue.flatten().map(|q| q.enabled))
        .bind(changes.queue.flatten().map(|q| queue_setting(q.admit_per_minute)))
        .bind(changes.queue.flatten().map(|q| queue_setting(q.max_active_buyers)))
        .bind(changes.queue.flatten().map(|q| queue_setting(q.session_minutes)))
        .bind(changes.accessible_release_hours.is_some())
        .bind(changes.accessible_release_hours.flatten().map(release_hours))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        if searched_fields_change {
            write_search_text(&mut tx, id).await?;
        }
        if let Some(prices) = &changes.prices {
            sqlx::query("DELETE FROM event_prices WHERE event_id = $1").bind(id).execute(&mut *tx).await?;
            insert_prices(&mut tx, id, prices).await?;
        }
        if let Some(types) = &changes.ticket_types {
            write_ticket_types(&mut tx, id, types).await?;
        }
        // The trait gives no clock here; availability is counted at the wall clock.
        let event = fetch_event(&mut *tx, id, now).await?;
        if let (Some(actor), Some(before), Some(after)) = (&actor, &before, &event)
            && let Some(record) = AuditRecord::change(actor, AuditAction::EventUpdated, id, before, after, now)
        {
            write_audit(&mut *tx, &record).await?;
        }
        tx.commit().await?;
        Ok(event)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn cancel_event(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Option<Cancellation<Event>>> {
        let outcome = retry_deadlocks(|| Box::pin(self.cancel_event_once(id, now, actor))).await;
        settle(outcome, "canceling the event")
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> {
        fetch_event(&self.pool, id, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_events(&self, filter: &EventFilter, now: DateTime<Utc>) -> StoreResult<Vec<Event>> {
        if let Some(text) = &filter.text {
            // A search of no letter or digit ("%") finds nothing.
            let Some(query) = SearchQuery::parse(text) else { return Ok(Vec::new()) };
            return self.search_events(&query, filter, now).await;
        }
        let mut query = event_query(now);
        query.push(" WHERE true");
        if !filter.include_past {
            query.push(" AND e.status = 'on_sale' AND e.start_time > ").push_bind(now);
        }
        if let Some(category) = filter.category {
            query.push(" AND e.category = ").push_bind(category.as_str());
        }
        if let Some(venue_id) = filter.venue_id {
            query.push(" AND e.venue_id = ").push_bind(venue_id);
        }
        if let Some(venues) = &filter.venues {
            query.push(" AND e.venue_id = ANY(").push_bind(venues.clone()).push(")");
        }
        if let Some(from) = filter.from {
            query.push(" AND e.start_time >= ").push_bind(from);
        }
        if let Some(to) = filter.to {
            query.push(" AND e.start_time <= ").push_bind(to);
        }
        query.push(match filter.sort {
            None | Some(EventSort::Date) => " ORDER BY e.start_time, e.id",
            Some(EventSort::Price) => {
                " ORDER BY (SELECT min(p.price_cents) FROM event_prices p WHERE p.event_id = e.id), e.start_time, e.id"
            }
            Some(EventSort::Name) => " ORDER BY lower(e.name), e.start_time, e.id",
        });
        query.push(" LIMIT ").push_bind(filter.page.limit);
        query.push(" OFFSET ").push_bind(filter.page.offset);
        let rows = query.build_query_as::<EventRow>().fetch_all(&self.pool).await?;
        rows.into_iter().map(EventRow::into_event).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn seat_map(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Vec<SeatState>>> {
        // Two reads joined here rather than one join in SQL: each has one plan (the venue's seats
        // in index order; the event's range of the partial unique index), whatever the statistics
        // say. Joined in SQL, a freshly bulk-loaded venue whose statistics still said "empty" was
        // planned as a nested loop and read 200 times slower.
        let mut rows: Vec<SeatMapRow> = sqlx::query_as(SEAT_MAP_SEATS_SQL).bind(event_id).fetch_all(&self.pool).await?;
        // The unique index leaves at most one held or confirmed reservation per seat.
        let taken: HashMap<Uuid, (String, DateTime<Utc>)> =
            sqlx::query_as::<_, (Uuid, String, DateTime<Utc>)>(SEAT_MAP_TAKEN_SQL)
                .bind(event_id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|(seat_id, status, expires_at)| (seat_id, (status, expires_at)))
                .collect();
        for row in &mut rows {
            if let Some((status, expires_at)) = taken.get(&row.seat_id) {
                row.reservation_status = Some(status.clone());
                row.expires_at = Some(*expires_at);
            }
        }
        if rows.is_empty() {
            // Every venue has seats, so no rows means no event; confirm rather than assume.
            let exists: Option<Uuid> =
                sqlx::query_scalar(EVENT_EXISTS_SQL).bind(event_id).fetch_optional(&self.pool).await?;
            return Ok(exists.map(|_| Vec::new()));
        }
        rows.into_iter().map(|row| row.into_seat_state(now)).collect::<StoreResult<_>>().map(Some)
    }
}

/// An event's (`$1`) seats in seat order with their prices: the event's venue is read first (its
/// primary key, as a scalar), so the seats are one range of `seats_venue_order_idx`, which also
/// gives their order; a join of `events` and `seats` could be planned as a merge join reading
/// either index whole. A tier without a price reads 0.
pub(super) const SEAT_MAP_SEATS_SQL: &str = "
SELECT s.id AS seat_id, s.section, s.row_label, s.seat_number, s.tier, s.x, s.y, s.attributes,
       COALESCE(p.price_cents, 0) AS price_cents,
       NULL::text AS reservation_status, NULL::timestamptz AS expires_at
FROM seats s
LEFT JOIN event_prices p ON p.event_id = $1 AND p.tier = s.tier
WHERE s.venue_id = (SELECT e.venue_id FROM events e WHERE e.id = $1)
ORDER BY s.row_index, s.seat_number";

/// An event's (`$1`) held and sold seats: its range of `reservations_active_seat_uq`.
pub(super) const SEAT_MAP_TAKEN_SQL: &str =
    "SELECT seat_id, status, expires_at FROM reservations WHERE event_id = $1 AND status IN ('held', 'confirmed')";

/// Whether event `$1` exists (a seat map with no seats).
const EVENT_EXISTS_SQL: &str = "SELECT id FROM events WHERE id = $1";

/// The events that may match a search (see `domain::search`): those whose folded text holds one
/// of the query's trigrams (`$1`, `LIKE` patterns), read through `events_search_trgm_idx` (the
/// events alone first, so a venue holding most events cannot lead the plan), with the listing's
/// filters: `$2` also past and canceled ones, `$3` now, `$4` category, `$5` venue,
/// `$6` venues (the city's), `$7` from, `$8` to; a NULL filter keeps every event.
pub(super) const SEARCH_CANDIDATES_SQL: &str = "
WITH found AS MATERIALIZED (
    SELECT e.id, e.venue_id, e.name, e.description, e.start_time
    FROM events e
    WHERE e.search_text LIKE ANY($1::text[])
      AND ($2 OR (e.status = 'on_sale' AND e.start_time > $3))
      AND ($4::text IS NULL OR e.category = $4)
      AND ($5::uuid IS NULL OR e.venue_id = $5)
      AND ($6::uuid[] IS NULL OR e.venue_id = ANY($6))
      AND ($7::timestamptz IS NULL OR e.start_time >= $7)
      AND ($8::timestamptz IS NULL OR e.start_time <= $8))
SELECT f.id, f.name, f.description, v.name AS venue_name, v.location AS venue_location, f.start_time,
       COALESCE((SELECT min(p.price_cents) FROM event_prices p WHERE p.event_id = f.id), 0) AS min_price_cents
FROM found f JOIN venues v ON v.id = f.venue_id";

/// A row of `SEARCH_CANDIDATES_SQL`: id, name, description, venue name, venue address, start, cheapest seat.
type CandidateRow = (Uuid, String, String, String, String, DateTime<Utc>, i64);

/// The folded text of event `$1` (`domain::event_search_text`), written with every change of its
/// title or description; its venue's name and address do not change.
const SEARCH_TEXT_SQL: &str = "
SELECT e.name, v.name, v.location, e.description FROM events e JOIN venues v ON v.id = e.venue_id WHERE e.id = $1";

/// Writes event `id`'s folded search text, in the transaction that changed it.
async fn write_search_text(tx: &mut sqlx::Transaction<'_, Postgres>, id: Uuid) -> StoreResult<()> {
    let fields: Option<(String, String, String, String)> =
        sqlx::query_as(SEARCH_TEXT_SQL).bind(id).fetch_optional(&mut **tx).await?;
    if let Some((name, venue_name, venue_location, description)) = fields {
        let text = event_search_text(&name, &venue_name, &venue_location, &description);
        sqlx::query("UPDATE events SET search_text = $2 WHERE id = $1").bind(id).bind(text).execute(&mut **tx).await?;
    }
    Ok(())
}

impl PostgresStore {
    /// A search: the candidates through the trigram index, ranked and paged by `domain::rank`,
    /// then the page's events read in full.
    async fn search_events(
        &self,
        query: &SearchQuery,
        filter: &EventFilter,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Event>> {
        let patterns: Vec<String> = query.trigrams().into_iter().map(|t| format!("%{t}%")).collect();
        let candidates: Vec<CandidateRow> = sqlx::query_as(SEARCH_CANDIDATES_SQL)
            .bind(patterns)
            .bind(filter.include_past)
            .bind(now)
            .bind(filter.category.map(Category::as_str))
            .bind(filter.venue_id)
            .bind(filter.venues.clone())
            .bind(filter.from)
            .bind(filter.to)
            .fetch_all(&self.pool)
            .await?;
        let candidates =
            candidates
                .into_iter()
                .map(|(id, name, description, venue_name, venue_location, start_time, min_price_cents)| {
                    SearchCandidate { id, name, description, venue_name, venue_location, start_time, min_price_cents }
                })
                .collect();
        let ids = rank(query, candidates, filter.sort, filter.page);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut page = event_query(now);
        page.push(" WHERE e.id = ANY(").push_bind(ids.clone()).push(")");
        let rows = page.build_query_as::<EventRow>().fetch_all(&self.pool).await?;
        let events = rows.into_iter().map(EventRow::into_event).collect::<StoreResult<Vec<_>>>()?;
        Ok(in_order(events, &ids))
    }

    async fn cancel_event_once(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> Result<Option<Cancellation<Event>>, TxError> {
        let mut tx = self.pool.begin().await?;
        // The event as it was, for the audit row: locked first (the lock the update takes anyway),
        // so a second cancel waits and then sees it canceled already: no change, no row.
        let before = match actor {
            Some(_) => {
                sqlx::query("SELECT 1 FROM events WHERE id = $1 FOR UPDATE").bind(id).execute(&mut *tx).await?;
                fetch_event(&mut *tx, id, now).await?
            }
            None => None,
        };
        // Updating the event row first waits for holds and confirms in flight (they share-lock
        // it), and makes later ones wait for this transaction and then see the event canceled.
        let found = sqlx::query("UPDATE events SET status = 'canceled' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if found == 0 {
            return Ok(None);
        }
        // Each refund of an admin's cancel has its own `payment.refunded` row, written there.
        let refunds = cancel_active(&mut tx, CancelScope::Event, id, now, actor).await?.refunds;
        outbox::refund_notices(&mut *tx, &refunds, CanceledSeats::Event(id), now).await?;
        outbox::event_canceled(&mut *tx, id, now).await?;
        let event = fetch_event(&mut *tx, id, now).await?;
        // Only the event's own fields (its status): the refunds are the cancel's consequence.
        if let (Some(actor), Some(before), Some(after)) = (actor, &before, &event)
            && let Some(record) = AuditRecord::change(actor, AuditAction::EventCanceled, id, before, after, now)
        {
            write_audit(&mut *tx, &record).await?;
        }
        tx.commit().await?;
        Ok(event.map(|canceled| Cancellation { canceled, refunds }))
    }
}

/// A venue's layout version, as the layout route answers it.
async fn venue_layout_version(conn: impl PgExecutor<'_>, id: Uuid) -> StoreResult<String> {
    let version: Option<String> =
        sqlx::query_scalar("SELECT layout_version FROM venues WHERE id = $1").bind(id).fetch_one(conn).await?;
    Ok(stored_layout_version(version))
}

/// Replaces the layout of the venue locked by the transaction (see `VenueChanges::layout`): refused
/// while an event of it is on sale and yet to start, or when a seat it leaves out was ever reserved.
async fn replace_layout(tx: &mut sqlx::Transaction<'_, Postgres>, id: Uuid, layout: &NewLayout) -> StoreResult<()> {
    let on_sale: Option<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT name, start_time FROM events WHERE venue_id = $1 AND status = 'on_sale' AND start_time > $2 \
         ORDER BY start_time, id LIMIT 1",
    )
    .bind(id)
    .bind(Utc::now())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((name, start)) = on_sale {
        return Err(on_sale_at_venue(&name, start));
    }
    let plan = Relayout::plan(&venue_seats(&mut **tx, id).await?, layout);
    let removed = plan.removed_ids();
    // Reservations of every status and event: a canceled booking still reads its seat.
    let booked: Option<Uuid> = sqlx::query_scalar(
        "SELECT s.id FROM seats s WHERE s.id = ANY($1) \
         AND EXISTS (SELECT 1 FROM reservations r WHERE r.seat_id = s.id) LIMIT 1",
    )
    .bind(&removed)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(seat) = booked.and_then(|booked| plan.removed.iter().find(|seat| seat.id == booked)) {
        return Err(seat_still_booked(seat));
    }
    sqlx::query("DELETE FROM seats WHERE id = ANY($1)").bind(&removed).execute(&mut **tx).await?;
    let kept: Vec<&(i32, Seat)> = plan.seats.iter().filter(|(_, seat)| plan.kept.contains(&seat.id)).collect();
    let added: Vec<&(i32, Seat)> = plan.added().collect();
    sqlx::query(
        "UPDATE seats SET row_index = t.row_index, tier = t.tier, x = t.x, y = t.y, attributes = t.attributes
         FROM UNNEST($1::uuid[], $2::int4[], $3::text[], $4::float8[], $5::float8[], $6::text[])
              AS t (id, row_index, tier, x, y, attributes)
         WHERE seats.id = t.id",
    )
    .bind(kept.iter().map(|(_, s)| s.id).collect::<Vec<_>>())
    .bind(kept.iter().map(|(row_index, _)| *row_index).collect::<Vec<_>>())
    .bind(kept.iter().map(|(_, s)| s.tier.clone()).collect::<Vec<_>>())
    .bind(kept.iter().map(|(_, s)| s.x).collect::<Vec<_>>())
    .bind(kept.iter().map(|(_, s)| s.y).collect::<Vec<_>>())
    .bind(kept.iter().map(|(_, s)| SeatAttribute::join(&s.attributes)).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    insert_seats(&mut **tx, id, &added).await?;
    sqlx::query("UPDATE venues SET layout = $2, layout_version = $3 WHERE id = $1")
        .bind(id)
        .bind(&layout.outline_json)
        .bind(&layout.layout_version)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A venue's own row, locked for the change that reads it (no seats), for its audit row.
async fn lock_venue(conn: impl PgExecutor<'_>, id: Uuid) -> StoreResult<Option<Venue>> {
    let row: Option<VenueRow> =
        sqlx::query_as(concat!("SELECT ", venue_columns!(), " FROM venues v WHERE v.id = $1 FOR UPDATE OF v"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(VenueRow::into_venue).transpose()
}

/// A queue setting as its `integer` column holds it (`QueueSettings::parse` keeps each far below
/// `i32::MAX`).
fn queue_setting(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// `accessible_release_hours` as its column keeps it (parsed to at most 8760, so it fits).
fn release_hours(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Sets an event's ticket types (one JSON document, see migration 0024).
async fn write_ticket_types(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    event_id: Uuid,
    types: &[TicketType],
) -> StoreResult<()> {
    sqlx::query("UPDATE events SET ticket_types = $2 WHERE id = $1")
        .bind(event_id)
        .bind(encode_ticket_types(types))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes an event's prices in one insert.
async fn insert_prices(tx: &mut sqlx::Transaction<'_, Postgres>, event_id: Uuid, prices: &[Price]) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO event_prices (event_id, tier, price_cents)
         SELECT $1, t.tier, t.price_cents FROM UNNEST($2::text[], $3::int8[]) AS t (tier, price_cents)",
    )
    .bind(event_id)
    .bind(prices.iter().map(|p| p.tier.clone()).collect::<Vec<_>>())
    .bind(prices.iter().map(|p| p.price_cents).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An event with its venue, its prices (two parallel arrays, by tier) and its seat counts. `now`
/// is bound between the two halves, so every event read counts active holds at the caller's clock.
/// Tiers sort bytewise (`COLLATE "C"`) so the order does not depend on the server's locale.
const EVENT_SELECT_UNTIL_NOW: &str = r#"
SELECT e.id, e.venue_id, v.name AS venue_name, v.location AS venue_location, v.kind AS venue_kind,
       v.time_zone AS venue_time_zone,
       e.name, e.category, e.description, e.image_url, e.start_time, e.duration_minutes, e.status, e.currency,
       e.poster_small, e.poster_large, e.on_sale_at, e.queue_enabled, e.queue_admit_per_minute,
       e.queue_max_active_buyers, e.queue_session_minutes, e.ticket_types, e.accessible_release_hours,
       ARRAY(SELECT p.tier FROM event_prices p WHERE p.event_id = e.id ORDER BY p.tier COLLATE "C") AS price_tiers,
       ARRAY(SELECT p.price_cents FROM event_prices p WHERE p.event_id = e.id ORDER BY p.tier COLLATE "C")
           AS price_amounts,
       (SELECT count(*) FROM seats s WHERE s.venue_id = e.venue_id) AS seats_total,
       (SELECT count(*) FROM reservations r
         WHERE r.event_id = e.id AND (r.status = 'confirmed' OR (r.status = 'held' AND r.expires_at > "#;
/// The venue is one primary-key probe per event, fenced by `LIMIT`: as a plain join, the generic
/// plan on tables analyzed empty merge-joined `events` and `venues` by reading both indexes whole.
const EVENT_SELECT_AFTER_NOW: &str = ")))
           AS seats_taken
FROM events e
CROSS JOIN LATERAL (
    SELECT x.name, x.location, x.kind, x.time_zone FROM venues x WHERE x.id = e.venue_id LIMIT 1
) v";

fn event_query<'a>(now: DateTime<Utc>) -> QueryBuilder<'a, Postgres> {
    let mut query = QueryBuilder::new(EVENT_SELECT_UNTIL_NOW);
    query.push_bind(now).push(EVENT_SELECT_AFTER_NOW);
    query
}

/// One event by id (the cancels', the edits' and the event page's read).
pub(super) fn event_by_id_query<'a>(id: Uuid, now: DateTime<Utc>) -> QueryBuilder<'a, Postgres> {
    let mut query = event_query(now);
    query.push(" WHERE e.id = ").push_bind(id);
    query
}

async fn fetch_event<'e>(executor: impl PgExecutor<'e>, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> {
    let mut query = event_by_id_query(id, now);
    let row = query.build_query_as::<EventRow>().fetch_optional(executor).await?;
    row.map(EventRow::into_event).transpose()
}
