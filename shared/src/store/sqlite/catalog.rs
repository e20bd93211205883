//! Venues, events and the live seat map on SQLite. A venue and its seats are written in one
//! transaction; an event's free seats and its seat map are counted from the reservations active at
//! the time asked, so a lapsed hold is free without waiting for the expiry sweep.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::audit::write_audit;
use super::holds::{CancelScope, cancel_active};
use super::rows::{
    ACTIVE_R, SEAT_COLUMNS, event_from_row, id_text, ids_json, millis, placeholders, seat_from_row, time_col, uuid_col,
    venue_from_row,
};
use crate::domain::{
    Actor, AuditAction, AuditRecord, AuditedVenue, Event, EventChanges, EventFilter, EventSort, NewEvent, NewLayout,
    NewVenue, Price, SearchCandidate, SearchQuery, Seat, SeatAttribute, SeatState, SeatStatus, StoredLayout,
    TicketType, TimeZone, Venue, VenueChanges, VenueWithSeats, encode_ticket_types, event_search_text, in_order, rank,
    section_from_stored,
};
use crate::store::outbox::{self, CanceledSeats};
use crate::store::{
    Cancellation, CatalogStore, Relayout, StoreError, StoreResult, new_seat, on_sale_at_venue, seat_still_booked,
    stored_layout_version,
};

/// Seats per INSERT when creating a venue: 10 parameters each stays far below SQLite's variable limit.
const SEAT_INSERT_CHUNK: usize = 500;

#[async_trait]
impl CatalogStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_venue(&self, venue: NewVenue) -> StoreResult<VenueWithSeats> {
        let id = Uuid::new_v4();
        let venue_id = id_text(id);
        let seats: Vec<(i32, Seat)> = venue.seats.iter().map(|seat| (seat.row_index, new_seat(seat))).collect();

        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO venues (id, name, location, kind, time_zone, created_at, layout, layout_version) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&venue_id)
        .bind(&venue.name)
        .bind(&venue.location)
        .bind(venue.kind.as_str())
        .bind(venue.time_zone.name())
        .bind(millis(Utc::now()))
        .bind(&venue.outline_json)
        .bind(&venue.layout_version)
        .execute(&mut *tx)
        .await?;
        insert_seats(&mut tx, &venue_id, &seats.iter().collect::<Vec<_>>()).await?;
        let seats: Vec<Seat> = seats.into_iter().map(|(_, seat)| seat).collect();
        let created = Venue {
            id,
            name: venue.name,
            location: venue.location,
            kind: venue.kind,
            seat_count: seats.len() as i64,
            time_zone: venue.time_zone,
        };
        if let Some(actor) = &venue.actor {
            write_audit(&mut tx, &AuditRecord::creation(actor, AuditAction::VenueCreated, id, &created, Utc::now()))
                .await?;
        }
        tx.commit().await?;
        Ok(VenueWithSeats { venue: created, seats })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_venues(&self) -> StoreResult<Vec<Venue>> {
        let rows = sqlx::query(
            "SELECT v.id, v.name, v.location, v.kind, v.time_zone, \
             (SELECT COUNT(*) FROM seats s WHERE s.venue_id = v.id) AS seat_count \
             FROM venues v ORDER BY v.name, v.id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(venue_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn venue(&self, id: Uuid) -> StoreResult<Option<VenueWithSeats>> {
        // One read transaction: the seat count and the seats of one layout.
        let mut conn = self.reader.begin().await?;
        let row = sqlx::query(
            "SELECT v.id, v.name, v.location, v.kind, v.time_zone, \
             (SELECT COUNT(*) FROM seats s WHERE s.venue_id = v.id) AS seat_count \
             FROM venues v WHERE v.id = ?",
        )
        .bind(id_text(id))
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let venue = venue_from_row(&row)?;
        let seats = venue_seats(&mut conn, id).await?;
        conn.commit().await?;
        Ok(Some(VenueWithSeats { venue, seats }))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn venue_layout(&self, id: Uuid) -> StoreResult<Option<StoredLayout>> {
        // One read transaction (one WAL snapshot) for the version and the seats: a layout replaced
        // between two reads must not answer the old version with the new seats.
        let mut tx = self.reader.begin().await?;
        let row = sqlx::query("SELECT layout, layout_version FROM venues WHERE id = ?")
            .bind(id_text(id))
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let outline_json: Option<String> = row.try_get("layout")?;
        let version = stored_layout_version(row.try_get("layout_version")?);
        let seats = venue_seats(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Some(StoredLayout { venue_id: id, version, outline_json, seats }))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_venue(&self, id: Uuid, changes: VenueChanges) -> StoreResult<Option<VenueWithSeats>> {
        // `BEGIN IMMEDIATE` takes the write lock first: no event can be created between the check
        // of the venue's events and the new layout.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let Some(before) = load_venue(&mut tx, id).await? else {
            return Ok(None);
        };
        let version_before = venue_layout_version(&mut tx, id).await?;
        if let Some(layout) = &changes.layout {
            replace_layout(&mut tx, id, layout).await?;
        }
        sqlx::query("UPDATE venues SET time_zone = COALESCE(?, time_zone) WHERE id = ?")
            .bind(changes.time_zone.map(TimeZone::name))
            .bind(id_text(id))
            .execute(&mut *tx)
            .await?;
        if let (Some(actor), Some(after)) = (&changes.actor, load_venue(&mut tx, id).await?) {
            let before = AuditedVenue::new(before, version_before);
            let after = AuditedVenue::new(after, venue_layout_version(&mut tx, id).await?);
            let now = Utc::now();
            if let Some(record) = AuditRecord::change(actor, AuditAction::VenueUpdated, id, &before, &after, now) {
                write_audit(&mut tx, &record).await?;
            }
        }
        tx.commit().await?;
        self.venue(id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn venue_tiers(&self, id: Uuid) -> StoreResult<Option<BTreeSet<String>>> {
        // No row: no venue. A NULL tier: a venue without seats.
        let tiers: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT DISTINCT s.tier FROM venues v LEFT JOIN seats s ON s.venue_id = v.id WHERE v.id = ?",
        )
        .bind(id_text(id))
        .fetch_all(&self.reader)
        .await?;
        if tiers.is_empty() {
            return Ok(None);
        }
        Ok(Some(tiers.into_iter().flatten().collect()))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_event(&self, event: NewEvent) -> StoreResult<Event> {
        let id = Uuid::new_v4();
        let event_id = id_text(id);
        let now = Utc::now();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO events (id, venue_id, name, category, description, image_url, start_time, \
             duration_minutes, status, currency, created_at, on_sale_at, queue_enabled, queue_admit_per_minute, \
             queue_max_active_buyers, queue_session_minutes, accessible_release_hours) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'on_sale', ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&event_id)
        .bind(id_text(event.venue_id))
        .bind(&event.name)
        .bind(event.category.as_str())
        .bind(&event.description)
        .bind(&event.image_url)
        .bind(millis(event.start_time))
        .bind(event.duration_minutes)
        .bind(&event.currency)
        .bind(millis(now))
        .bind(event.on_sale_at.map(millis))
        .bind(event.queue.map(|q| q.enabled))
        .bind(event.queue.map(|q| q.admit_per_minute))
        .bind(event.queue.map(|q| q.max_active_buyers))
        .bind(event.queue.map(|q| q.session_minutes))
        .bind(event.accessible_release_hours)
        .execute(&mut *tx)
        .await;
        match inserted {
            // The venue's foreign key is the check that it exists.
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => return Err(StoreError::no_such_venue()),
            other => other?,
        };
        insert_prices(&mut tx, &event_id, &event.prices).await?;
        write_ticket_types(&mut tx, &event_id, &event.ticket_types).await?;
        write_search_text(&mut tx, &event_id).await?;
        let created = load_event(&mut tx, id, now)
            .await?
            .ok_or_else(|| StoreError::Internal("the event just created is missing".into()))?;
        if let Some(actor) = &event.actor {
            write_audit(&mut tx, &AuditRecord::creation(actor, AuditAction::EventCreated, id, &created, now)).await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_event(&self, id: Uuid, changes: EventChanges) -> StoreResult<Option<Event>> {
        let event_id = id_text(id);
        let searched_fields_change = changes.name.is_some() || changes.description.is_some();
        let actor = changes.actor.clone();
        let now = Utc::now();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // Read under the writer's lock: what the audit row calls "before" is what this change replaced.
        let before = if actor.is_some() { load_event(&mut tx, id, now).await? } else { None };
        outbox::reschedule_notice(&mut *tx, id, changes.start_time).await?;
        // A NULL keeps a column; the nullable columns take a "set it" flag beside the value.
        let updated = sqlx::query(
            "UPDATE events SET name = COALESCE(?, name), category = COALESCE(?, category), \
             description = COALESCE(?, description), \
             image_url = CASE WHEN ? THEN ? ELSE image_url END, \
             start_time = COALESCE(?, start_time), \
             duration_minutes = CASE WHEN ? THEN ? ELSE duration_minutes END, \
             currency = COALESCE(?, currency), \
             poster_small = CASE WHEN ? THEN ? ELSE poster_small END, \
             poster_large = CASE WHEN ? THEN ? ELSE poster_large END, \
             on_sale_at = CASE WHEN ? THEN ? ELSE on_sale_at END, \
             queue_enabled = CASE WHEN ? THEN ? ELSE queue_enabled END, \
             queue_admit_per_minute = CASE WHEN ? THEN ? ELSE queue_admit_per_minute END, \
             queue_max_active_buyers = CASE WHEN ? THEN ? ELSE queue_max_active_buyers END, \
             queue_session_minutes = CASE WHEN ? THEN ? ELSE queue_session_minutes END, \
             accessible_release_hours = CASE WHEN ? THEN ? ELSE accessible_release_hours END WHERE id = ?",
        )
        .bind(changes.name)
        .bind(changes.category.map(|c| c.as_str()))
        .bind(changes.description)
        .bind(changes.image_url.is_some())
        .bind(changes.image_url.flatten())
        .bind(changes.start_time.map(millis))
        .bind(changes.duration_minutes.is_some())
        .bind(changes.duration_minutes.flatten())
        .bind(changes.currency)
        .bind(changes.poster.is_some())
        .bind(changes.poster.as_ref().and_then(|p| p.as_ref().map(|p| p.small.clone())))
        .bind(changes.poster.is_some())
        .bind(changes.poster.as_ref().and_then(|p| p.as_ref().map(|p| p.large.clone())))
        .bind(changes.on_sale_at.is_some())
        .bind(changes.on_sale_at.flatten().map(millis))
        .bind(changes.queue.is_some())
        .bind(changes.queue.flatten().map(|q| q.enabled))
        .bind(changes.queue.is_some())
        .bind(changes.queue.flatten().map(|q| q.admit_per_minute))
        .bind(changes.queue.is_some())
        .bind(changes.queue.flatten().map(|q| q.max_active_buyers))
        .bind(changes.queue.is_some())
        .bind(changes.queue.flatten().map(|q| q.session_minutes))
        .bind(changes.accessible_release_hours.is_some())
        .bind(changes.accessible_release_hours.flatten())
        .bind(&event_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        if searched_fields_change {
            write_search_text(&mut tx, &event_id).await?;
        }
        if let Some(prices) = changes.prices {
            sqlx::query("DELETE FROM event_prices WHERE event_id = ?").bind(&event_id).execute(&mut *tx).await?;
            insert_prices(&mut tx, &event_id, &prices).await?;
        }
        if let Some(types) = &changes.ticket_types {
            write_ticket_types(&mut tx, &event_id, types).await?;
        }
        let event = load_event(&mut tx, id, now).await?;
        if let (Some(actor), Some(before), Some(after)) = (&actor, &before, &event)
            && let Some(record) = AuditRecord::change(actor, AuditAction::EventUpdated, id, before, after, now)
        {
            write_audit(&mut tx, &record).await?;
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
        let event_id = id_text(id);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let before = if actor.is_some() { load_event(&mut tx, id, now).await? } else { None };
        let updated =
            sqlx::query("UPDATE events SET status = 'canceled' WHERE id = ?").bind(&event_id).execute(&mut *tx).await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        // Each refund of an admin's cancel has its own `payment.refunded` row, written there.
        let refunds = cancel_active(&mut tx, CancelScope::Event, &event_id, now, actor).await?.refunds;
        outbox::refund_notices(&mut *tx, &refunds, CanceledSeats::Event(id), now).await?;
        outbox::event_canceled(&mut *tx, id, now).await?;
        let event = load_event(&mut tx, id, now).await?;
        // Only the event's own fields (its status): the refunds are the cancel's consequence.
        if let (Some(actor), Some(before), Some(after)) = (actor, &before, &event)
            && let Some(record) = AuditRecord::change(actor, AuditAction::EventCanceled, id, before, after, now)
        {
            write_audit(&mut tx, &record).await?;
        }
        tx.commit().await?;
        Ok(event.map(|canceled| Cancellation { canceled, refunds }))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> {
        // One snapshot for the event and its prices.
        let mut tx = self.reader.begin().await?;
        let event = load_event(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(event)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_events(&self, filter: &EventFilter, now: DateTime<Utc>) -> StoreResult<Vec<Event>> {
        if let Some(text) = &filter.text {
            // A search of no letter or digit ("%") finds nothing.
            let Some(query) = SearchQuery::parse(text) else { return Ok(Vec::new()) };
            return self.search_events(&query, filter, now).await;
        }
        let mut qb = QueryBuilder::new("");
        push_event_select(&mut qb, now);
        qb.push(" WHERE 1 = 1");
        push_event_filters(&mut qb, filter, now);
        qb.push(match filter.sort {
            None | Some(EventSort::Date) => " ORDER BY e.start_time, e.id",
            Some(EventSort::Price) => {
                " ORDER BY (SELECT MIN(p.price_cents) FROM event_prices p WHERE p.event_id = e.id), e.start_time, e.id"
            }
            Some(EventSort::Name) => " ORDER BY lower(e.name), e.start_time, e.id",
        });
        qb.push(" LIMIT ").push_bind(filter.page.limit).push(" OFFSET ").push_bind(filter.page.offset);

        let mut tx = self.reader.begin().await?;
        let rows = qb.build().fetch_all(&mut *tx).await?;
        let events = events_from_rows(&mut tx, rows).await?;
        tx.commit().await?;
        Ok(events)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn seat_map(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Vec<SeatState>>> {
        let rows =
            sqlx::query(&seat_map_sql()).bind(millis(now)).bind(id_text(event_id)).fetch_all(&self.reader).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut seats = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<Option<String>, _>("id")?.is_none() {
                continue;
            }
            let taken: Option<String> = row.try_get("taken")?;
            let status = match taken.as_deref() {
                None => SeatStatus::Available,
                Some("confirmed") => SeatStatus::Sold,
                Some("held") => SeatStatus::Held,
                Some(other) => return Err(StoreError::Internal(format!("unexpected active status `{other}`"))),
            };
            seats.push(SeatState {
                seat_id: uuid_col(row, "id")?,
                section: section_from_stored(row.try_get("section")?),
                row: row.try_get("row_label")?,
                seat_number: row.try_get("seat_number")?,
                tier: row.try_get("tier")?,
                price_cents: row.try_get("price_cents")?,
                status,
                x: row.try_get("x")?,
                y: row.try_get("y")?,
                attributes: SeatAttribute::split(row.try_get("attributes")?),
            });
        }
        Ok(Some(seats))
    }
}

/// An event's seats in seat order with their prices and whether each is taken (binds: now, event).
/// Starting from the event tells "no such event" (no row) from a venue without seats (NULL seat).
/// Each seat's reservation is one probe of the partial unique index; the event and its prices are
/// read by their keys' indexes, named so that a file analyzed with few events does not scan them.
pub(super) fn seat_map_sql() -> String {
    format!(
        "SELECT s.id, s.section, s.row_label, s.seat_number, s.tier, s.x, s.y, s.attributes, \
         COALESCE(p.price_cents, 0) AS price_cents, r.status AS taken \
         FROM events e INDEXED BY sqlite_autoindex_events_1 \
         LEFT JOIN seats s ON s.venue_id = e.venue_id \
         LEFT JOIN event_prices p INDEXED BY sqlite_autoindex_event_prices_1 ON p.event_id = e.id AND p.tier = s.tier \
         LEFT JOIN reservations r ON r.event_id = e.id AND r.seat_id = s.id AND {ACTIVE_R} \
         WHERE e.id = ? ORDER BY s.row_index, s.seat_number"
    )
}

// These reads take a connection so they can run inside a transaction.

/// A venue's seats in the venue's order (a replaced layout changes them: read them in the same
/// transaction as what they must agree with).
async fn venue_seats(conn: &mut SqliteConnection, venue_id: Uuid) -> StoreResult<Vec<Seat>> {
    let sql = format!("SELECT {SEAT_COLUMNS} FROM seats WHERE venue_id = ? ORDER BY row_index, seat_number");
    let rows = sqlx::query(&sql).bind(id_text(venue_id)).fetch_all(&mut *conn).await?;
    rows.iter().map(seat_from_row).collect()
}

/// Starts `SELECT <event columns> FROM events e JOIN venues v`, counting seats taken at `now`.
fn push_event_select(qb: &mut QueryBuilder<'_, Sqlite>, now: DateTime<Utc>) {
    push_event_select_from(qb, now, " FROM events e JOIN venues v ON v.id = e.venue_id");
}

/// The same with its own `FROM` (the read of one event names its indexes).
fn push_event_select_from(qb: &mut QueryBuilder<'_, Sqlite>, now: DateTime<Utc>, from: &str) {
    qb.push(
        "SELECT e.id, e.venue_id, e.name, e.category, e.description, e.image_url, e.start_time, \
         e.duration_minutes, e.status, e.currency, e.poster_small, e.poster_large, e.on_sale_at, \
         e.queue_enabled, e.queue_admit_per_minute, e.queue_max_active_buyers, e.queue_session_minutes, \
         e.ticket_types, e.accessible_release_hours, v.name AS venue_name, v.location AS venue_location, v.kind AS venue_kind, \
         v.time_zone AS venue_time_zone, \
         (SELECT COUNT(*) FROM seats s WHERE s.venue_id = e.venue_id) AS seats_total, \
         (SELECT COUNT(*) FROM reservations r INDEXED BY reservations_event_idx WHERE r.event_id = e.id \
            AND r.status IN ('held', 'confirmed') AND (r.status = 'confirmed' OR r.expires_at > ",
    );
    qb.push_bind(millis(now));
    qb.push(")) AS seats_taken").push(from);
}

/// The listing's filters after a `WHERE`: upcoming events on sale (unless also past ones), the
/// category, venue, city's venues and time range asked.
fn push_event_filters(qb: &mut QueryBuilder<'_, Sqlite>, filter: &EventFilter, now: DateTime<Utc>) {
    if !filter.include_past {
        qb.push(" AND e.status = 'on_sale' AND e.start_time > ").push_bind(millis(now));
    }
    if let Some(category) = filter.category {
        qb.push(" AND e.category = ").push_bind(category.as_str());
    }
    if let Some(venue_id) = filter.venue_id {
        qb.push(" AND e.venue_id = ").push_bind(id_text(venue_id));
    }
    if let Some(venues) = &filter.venues {
        qb.push(" AND e.venue_id IN (SELECT value FROM json_each(").push_bind(ids_json(venues)).push("))");
    }
    if let Some(from) = filter.from {
        qb.push(" AND e.start_time >= ").push_bind(millis(from));
    }
    if let Some(to) = filter.to {
        qb.push(" AND e.start_time <= ").push_bind(millis(to));
    }
}

/// The events that may match a search (see `domain::search`): those whose folded text in the FTS5
/// trigram table `event_search` holds one of the query's trigrams (one `MATCH` of quoted trigrams
/// joined by OR), each event and its venue then read by their keys (CROSS JOIN keeps the FTS table
/// first; the keys' indexes are named so that a file analyzed with one venue does not scan it).
const SEARCH_CANDIDATES_SELECT: &str = "SELECT e.id, e.name, e.description, v.name AS venue_name, \
     v.location AS venue_location, e.start_time, \
     COALESCE((SELECT MIN(p.price_cents) FROM event_prices p WHERE p.event_id = e.id), 0) AS min_price_cents \
     FROM event_search s CROSS JOIN events e INDEXED BY sqlite_autoindex_events_1 ON e.id = s.event_id \
     JOIN venues v INDEXED BY sqlite_autoindex_venues_1 ON v.id = e.venue_id \
     WHERE event_search MATCH ";

/// The candidates of a search with the listing's filters (binds: the FTS5 query, then the filters').
pub(super) fn search_candidates_query<'a>(
    query: &SearchQuery,
    filter: &EventFilter,
    now: DateTime<Utc>,
) -> QueryBuilder<'a, Sqlite> {
    let mut qb = QueryBuilder::new(SEARCH_CANDIDATES_SELECT);
    qb.push_bind(trigram_match(query));
    push_event_filters(&mut qb, filter, now);
    qb
}

/// The FTS5 query of a search's trigrams: each a quoted phrase (folded text has no quote).
fn trigram_match(query: &SearchQuery) -> String {
    query.trigrams().iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(" OR ")
}

/// Writes event `id`'s folded search text (`domain::event_search_text`) in the transaction that
/// created or renamed it; its venue's name and address do not change.
async fn write_search_text(conn: &mut SqliteConnection, id: &str) -> StoreResult<()> {
    let fields: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT e.name, v.name, v.location, e.description FROM events e JOIN venues v ON v.id = e.venue_id \
         WHERE e.id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM event_search WHERE event_id = ?").bind(id).execute(&mut *conn).await?;
    if let Some((name, venue_name, venue_location, description)) = fields {
        sqlx::query("INSERT INTO event_search (event_id, folded) VALUES (?, ?)")
            .bind(id)
            .bind(event_search_text(&name, &venue_name, &venue_location, &description))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl SqliteStore {
    /// A search: the candidates through the FTS5 trigram table, ranked and paged by
    /// `domain::rank`, then the page's events read in full.
    async fn search_events(
        &self,
        query: &SearchQuery,
        filter: &EventFilter,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Event>> {
        let mut qb = search_candidates_query(query, filter, now);
        let mut tx = self.reader.begin().await?;
        let rows = qb.build().fetch_all(&mut *tx).await?;
        let candidates = rows
            .iter()
            .map(|row| {
                Ok(SearchCandidate {
                    id: uuid_col(row, "id")?,
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    venue_name: row.try_get("venue_name")?,
                    venue_location: row.try_get("venue_location")?,
                    start_time: time_col(row, "start_time")?,
                    min_price_cents: row.try_get("min_price_cents")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let ids = rank(query, candidates, filter.sort, filter.page);
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let mut page = QueryBuilder::new("");
        push_event_select(&mut page, now);
        page.push(" WHERE e.id IN (SELECT value FROM json_each(").push_bind(ids_json(&ids)).push("))");
        let rows = page.build().fetch_all(&mut *tx).await?;
        let events = events_from_rows(&mut tx, rows).await?;
        tx.commit().await?;
        Ok(in_order(events, &ids))
    }
}

/// The prices of each event, sorted by tier, in one query.
async fn load_prices(conn: &mut SqliteConnection, event_ids: &[String]) -> StoreResult<HashMap<String, Vec<Price>>> {
    let mut prices: HashMap<String, Vec<Price>> = HashMap::new();
    if event_ids.is_empty() {
        return Ok(prices);
    }
    let sql = format!(
        "SELECT event_id, tier, price_cents FROM event_prices WHERE event_id IN ({}) ORDER BY event_id, tier",
        placeholders(event_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in event_ids {
        query = query.bind(id);
    }
    for row in query.fetch_all(&mut *conn).await? {
        let event_id: String = row.try_get("event_id")?;
        prices
            .entry(event_id)
            .or_default()
            .push(Price { tier: row.try_get("tier")?, price_cents: row.try_get("price_cents")? });
    }
    Ok(prices)
}

/// Turns event rows into events, loading every listed event's prices at once.
async fn events_from_rows(conn: &mut SqliteConnection, rows: Vec<SqliteRow>) -> StoreResult<Vec<Event>> {
    let ids = rows.iter().map(|row| row.try_get::<String, _>("id")).collect::<Result<Vec<_>, _>>()?;
    let mut prices = load_prices(conn, &ids).await?;
    rows.iter().zip(&ids).map(|(row, id)| event_from_row(row, prices.remove(id).unwrap_or_default())).collect()
}

/// One event by id (the cancels', the edits' and the event page's read).
pub(super) fn event_by_id_query<'a>(id: Uuid, now: DateTime<Utc>) -> QueryBuilder<'a, Sqlite> {
    // Named: on a file analyzed while small, SQLite would scan both tables.
    let from = " FROM events e INDEXED BY sqlite_autoindex_events_1 \
                CROSS JOIN venues v INDEXED BY sqlite_autoindex_venues_1 ON v.id = e.venue_id";
    let mut qb = QueryBuilder::new("");
    push_event_select_from(&mut qb, now, from);
    qb.push(" WHERE e.id = ").push_bind(id_text(id));
    qb
}

/// A venue's own row (no seats), for the before and after of its audit row.
/// A venue's layout version, as the layout route answers it.
async fn venue_layout_version(conn: &mut SqliteConnection, id: Uuid) -> StoreResult<String> {
    let version: Option<String> =
        sqlx::query_scalar("SELECT layout_version FROM venues WHERE id = ?").bind(id_text(id)).fetch_one(conn).await?;
    Ok(stored_layout_version(version))
}

/// Replaces the layout of a venue inside the caller's write transaction (see
/// `VenueChanges::layout`): refused while an event of it is on sale and yet to start, or when a
/// seat it leaves out was ever reserved.
async fn replace_layout(conn: &mut SqliteConnection, id: Uuid, layout: &NewLayout) -> StoreResult<()> {
    let venue_id = id_text(id);
    let on_sale = sqlx::query(
        "SELECT name, start_time FROM events WHERE venue_id = ? AND status = 'on_sale' AND start_time > ? \
         ORDER BY start_time, id LIMIT 1",
    )
    .bind(&venue_id)
    .bind(millis(Utc::now()))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = on_sale {
        return Err(on_sale_at_venue(&row.try_get::<String, _>("name")?, time_col(&row, "start_time")?));
    }
    let plan = Relayout::plan(&venue_seats(conn, id).await?, layout);
    let removed = ids_json(&plan.removed_ids());
    // Reservations of every status and event: a canceled booking still reads its seat.
    let booked: Option<String> = sqlx::query_scalar(
        "SELECT s.id FROM seats s WHERE s.id IN (SELECT value FROM json_each(?)) \
         AND EXISTS (SELECT 1 FROM reservations r WHERE r.seat_id = s.id) LIMIT 1",
    )
    .bind(&removed)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(seat) = booked.and_then(|booked| plan.removed.iter().find(|seat| id_text(seat.id) == booked)) {
        return Err(seat_still_booked(seat));
    }
    sqlx::query("DELETE FROM seats WHERE id IN (SELECT value FROM json_each(?))")
        .bind(&removed)
        .execute(&mut *conn)
        .await?;
    for (row_index, seat) in plan.seats.iter().filter(|(_, seat)| plan.kept.contains(&seat.id)) {
        sqlx::query("UPDATE seats SET row_index = ?, tier = ?, x = ?, y = ?, attributes = ? WHERE id = ?")
            .bind(row_index)
            .bind(&seat.tier)
            .bind(seat.x)
            .bind(seat.y)
            .bind(SeatAttribute::join(&seat.attributes))
            .bind(id_text(seat.id))
            .execute(&mut *conn)
            .await?;
    }
    insert_seats(conn, &venue_id, &plan.added().collect::<Vec<_>>()).await?;
    sqlx::query("UPDATE venues SET layout = ?, layout_version = ? WHERE id = ?")
        .bind(&layout.outline_json)
        .bind(&layout.layout_version)
        .bind(&venue_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts a venue's seats, each with its row's position, `SEAT_INSERT_CHUNK` to a statement.
async fn insert_seats(conn: &mut SqliteConnection, venue_id: &str, seats: &[&(i32, Seat)]) -> StoreResult<()> {
    for chunk in seats.chunks(SEAT_INSERT_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO seats (id, venue_id, section, row_label, row_index, seat_number, tier, x, y, attributes) ",
        );
        qb.push_values(chunk, |mut b, (row_index, seat)| {
            b.push_bind(id_text(seat.id))
                .push_bind(venue_id.to_owned())
                .push_bind(seat.section.clone().unwrap_or_default())
                .push_bind(seat.row.clone())
                .push_bind(*row_index)
                .push_bind(seat.seat_number)
                .push_bind(seat.tier.clone())
                .push_bind(seat.x)
                .push_bind(seat.y)
                .push_bind(SeatAttribute::join(&seat.attributes));
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn load_venue(conn: &mut SqliteConnection, id: Uuid) -> StoreResult<Option<Venue>> {
    let row = sqlx::query(
        "SELECT v.id, v.name, v.location, v.kind, v.time_zone, \
         (SELECT COUNT(*) FROM seats s WHERE s.venue_id = v.id) AS seat_count FROM venues v WHERE v.id = ?",
    )
    .bind(id_text(id))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(venue_from_row).transpose()
}

async fn load_event(conn: &mut SqliteConnection, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> {
    let mut qb = event_by_id_query(id, now);
    let row = qb.build().fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(events_from_rows(conn, vec![row]).await?.pop())
}

/// Sets an event's ticket types (one JSON document, see migration 0024).
async fn write_ticket_types(conn: &mut SqliteConnection, event_id: &str, types: &[TicketType]) -> StoreResult<()> {
    sqlx::query("UPDATE events SET ticket_types = ? WHERE id = ?")
        .bind(encode_ticket_types(types))
        .bind(event_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts an event's prices in one statement.
async fn insert_prices(conn: &mut SqliteConnection, event_id: &str, prices: &[Price]) -> StoreResult<()> {
    if prices.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO event_prices (event_id, tier, price_cents) ");
    qb.push_values(prices, |mut b, price| {
        b.push_bind(event_id.to_owned()).push_bind(price.tier.clone()).push_bind(price.price_cents);
    });
    qb.build().execute(&mut *conn).await?;
    Ok(())
}
