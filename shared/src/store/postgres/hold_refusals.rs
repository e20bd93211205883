//! Why a PostgreSQL hold statement (`holds.rs`, `HOLD_BATCH_SQL`) left a hold without its seats,
//! read after the fact and only then: the event and its seats, the user's hold limit, a ticket
//! type's quota, then seats someone else has. Each read is one index probe or range (see
//! `plan_tests/hot.rs`); none of them decides anything the statement's unique indexes did not.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::PostgresStore;
use super::rows::{labels, parse_stored};
use crate::domain::{
    EventStatus, HoldRequest, SeatAttribute, SeatLabel, TicketType, decode_ticket_types, held_back_refusal, holds_back,
    resolve_seat_type,
};
use crate::store::{Entity, StoreError, StoreResult};

/// The user's held seats of an event (`$1` event, `$2` user) at `$3`, as the slot index counts
/// them: one range of `reservations_hold_slot_uq`. The lapse is counted apart (`FILTER`): as a
/// condition on `expires_at` it would let `reservations_lapsing_idx` (every unexpired hold of the
/// table) compete with the slot index, as it did in the hold's own slot read (see `mine`).
pub(super) const HELD_SLOTS_SQL: &str = "
SELECT count(*) FILTER (WHERE expires_at > $3) FROM reservations
WHERE event_id = $1 AND user_id = $2 AND status = 'held' AND hold_slot IS NOT NULL";

/// An event's (`$1`) ticket types as stored (NULL: `standard` only).
pub(super) const EVENT_TYPES_SQL: &str = "SELECT ticket_types FROM events WHERE id = $1";

/// The active seats of ticket type `$2` of event `$1` at `$3`, as the type slot index counts them:
/// one range of `reservations_type_slot_uq`.
pub(super) const TYPE_ACTIVE_SQL: &str = "
SELECT count(*) FILTER (WHERE status = 'confirmed' OR expires_at > $3) FROM reservations
WHERE event_id = $1 AND ticket_type = $2 AND status IN ('held', 'confirmed') AND type_slot IS NOT NULL";

/// `EVENT_STATE_SQL`'s row: status, start, opening, waiting room enabled, accessible hold-back.
type EventState = (String, DateTime<Utc>, Option<DateTime<Utc>>, bool, Option<i32>);

/// An event's (`$1`) status, start, opening, whether its waiting room is enabled, and the hours
/// before the start its accessible seats are held back.
pub(super) const EVENT_STATE_SQL: &str = "SELECT status, start_time, on_sale_at, queue_enabled IS TRUE, \
     accessible_release_hours FROM events WHERE id = $1";

/// The seats `$1` with their labels and attributes, in seat order: one primary-key probe each.
pub(super) const SEAT_KINDS_SQL: &str = "
SELECT s.section, s.row_label, s.seat_number, s.tier, s.attributes
FROM unnest($1::uuid[]) AS want (seat_id)
CROSS JOIN LATERAL (
    SELECT x.section, x.row_label, x.row_index, x.seat_number, x.tier, x.attributes FROM seats x
    WHERE x.id = want.seat_id LIMIT 1
) s
ORDER BY s.row_index, s.seat_number";

/// Which of the seats `$2` event `$1` sells: each seat is one primary-key probe (fenced by `LIMIT`,
/// so no plan reads `seats` whole to join it), checked against the event's venue and its price.
pub(super) const SELLABLE_SEATS_SQL: &str = "
SELECT s.id
FROM unnest($2::uuid[]) AS want (seat_id)
CROSS JOIN LATERAL (SELECT x.id, x.venue_id, x.tier FROM seats x WHERE x.id = want.seat_id LIMIT 1) s
CROSS JOIN LATERAL (SELECT 1 FROM event_prices p WHERE p.event_id = $1 AND p.tier = s.tier LIMIT 1) p
WHERE s.venue_id = (SELECT e.venue_id FROM events e WHERE e.id = $1)";

/// The labels of the seats `$2` of event `$1` that someone holds or bought at `$3`: one probe of
/// the seat index per seat, as in the hold, and one of `seats`' primary key for its label.
pub(super) const LOST_SEATS_SQL: &str = "
SELECT s.section, s.row_label, s.seat_number, s.tier
FROM unnest($2::uuid[]) AS want (seat_id)
CROSS JOIN LATERAL (
    SELECT x.status, x.expires_at FROM reservations x
    WHERE x.event_id = $1 AND x.seat_id = want.seat_id AND x.status IN ('held', 'confirmed')
    LIMIT 1
) r
CROSS JOIN LATERAL (
    SELECT x.section, x.row_label, x.row_index, x.seat_number, x.tier FROM seats x WHERE x.id = want.seat_id LIMIT 1
) s
WHERE r.status = 'confirmed' OR r.expires_at > $3
ORDER BY s.row_index, s.seat_number";

impl PostgresStore {
    /// Why a hold statement wrote nothing, read after the fact, in the order the refusals are
    /// given on every backend: the event and seats (`invalid_hold`), the user's limit, then seats
    /// someone else has. `None` when nothing refuses it any more (see `hold`), so the hold may be
    /// tried again.
    pub(super) async fn hold_refusal(
        &self,
        request: &HoldRequest,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<StoreError>> {
        if let Some(invalid) = self.invalid_hold(request, now).await? {
            return Ok(Some(invalid));
        }
        // The user's held seats of the event, as the slot index counts them.
        let held: i64 = sqlx::query_scalar(HELD_SLOTS_SQL)
            .bind(request.event_id)
            .bind(request.user_id)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        let limit = request.limit.seats();
        if held + i64::try_from(request.seats.ids().len()).unwrap_or(i64::MAX) > i64::from(limit) {
            return Ok(Some(StoreError::HoldLimitReached { limit }));
        }
        if let Some(sold_out) = self.sold_out_type(request, now).await? {
            return Ok(Some(sold_out));
        }
        self.lost_seats(request, now).await
    }

    /// A hold whose event is unknown, canceled, started, not yet open or behind a waiting room the
    /// hold was not admitted through, that names a seat the event does not sell, or a held-back
    /// accessible seat it may not take (`domain::held_back_refusal`): the refusal, or `None`.
    async fn invalid_hold(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Option<StoreError>> {
        let event: Option<EventState> =
            sqlx::query_as(EVENT_STATE_SQL).bind(request.event_id).fetch_optional(&self.pool).await?;
        let Some((status, start_time, on_sale_at, queued, release_hours)) = event else {
            return Ok(Some(StoreError::NotFound(Entity::Event)));
        };
        if parse_stored::<EventStatus>(&status)? == EventStatus::Canceled {
            return Ok(Some(StoreError::event_canceled()));
        }
        if start_time <= now {
            return Ok(Some(StoreError::event_started()));
        }
        if let Some(on_sale_at) = on_sale_at.filter(|opens| *opens > now && !request.presale) {
            return Ok(Some(StoreError::NotOnSale { on_sale_at }));
        }
        if queued && !request.admitted {
            return Ok(Some(StoreError::QueueRequired));
        }
        let sellable: HashSet<Uuid> = sqlx::query_scalar(SELLABLE_SEATS_SQL)
            .bind(request.event_id)
            .bind(request.seats.ids())
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect();
        if let Some(id) = request.seats.ids().iter().find(|id| !sellable.contains(id)) {
            return Ok(Some(StoreError::seat_not_in_venue(*id)));
        }
        let types = self.event_types(request.event_id).await?;
        for named in request.seats.ticket_types() {
            if let Err(unknown) = resolve_seat_type(&types, named.as_deref(), &request.unlocked_types) {
                return Ok(Some(StoreError::unknown_ticket_type(unknown)));
            }
        }
        let hours = release_hours.and_then(|hours| u32::try_from(hours).ok());
        if holds_back(start_time, hours, now) {
            let seats: Vec<(String, String, i32, String, String)> =
                sqlx::query_as(SEAT_KINDS_SQL).bind(request.seats.ids()).fetch_all(&self.pool).await?;
            let attributes: Vec<Vec<SeatAttribute>> = seats.iter().map(|seat| SeatAttribute::split(&seat.4)).collect();
            let labelled =
                labels(seats.into_iter().map(|(section, row, number, tier, _)| (section, row, number, tier)).collect());
            let kinds: Vec<(&SeatLabel, &[SeatAttribute])> =
                labelled.iter().zip(&attributes).map(|(label, a)| (label, a.as_slice())).collect();
            if let Some(refusal) = held_back_refusal(&kinds, request.accessible, start_time, hours, now) {
                return Ok(Some(StoreError::HeldBack(refusal)));
            }
        }
        Ok(None)
    }

    /// The event's ticket types as stored (`standard` at no price when it has none of its own: only
    /// the names and quotas are asked of them here).
    async fn event_types(&self, event_id: Uuid) -> StoreResult<Vec<TicketType>> {
        let stored: Option<Option<String>> =
            sqlx::query_scalar(EVENT_TYPES_SQL).bind(event_id).fetch_optional(&self.pool).await?;
        decode_ticket_types(stored.flatten().as_deref(), &[]).map_err(StoreError::Internal)
    }

    /// A quota'd type the hold asks more seats of than are left at `now` (active rows of the type,
    /// as the type slot index counts them), or `None`.
    async fn sold_out_type(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Option<StoreError>> {
        let types = self.event_types(request.event_id).await?;
        let mut asked: BTreeMap<&str, i64> = BTreeMap::new();
        for named in request.seats.ticket_types() {
            let Ok(ticket_type) = resolve_seat_type(&types, named.as_deref(), &request.unlocked_types) else {
                continue;
            };
            *asked.entry(ticket_type.name.as_str()).or_default() += 1;
        }
        for (name, seats) in asked {
            let Some(quota) = types.iter().find(|t| t.name == name).and_then(|t| t.quota) else { continue };
            let active: i64 = sqlx::query_scalar(TYPE_ACTIVE_SQL)
                .bind(request.event_id)
                .bind(name)
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
            if active + seats > i64::from(quota) {
                return Ok(Some(StoreError::TypeSoldOut { ticket_type: name.to_owned() }));
            }
        }
        Ok(None)
    }

    /// The requested seats that someone else holds or bought at `now`, after the index refused a
    /// hold (one index probe per seat, as in the hold); `None` when they are all free (again).
    async fn lost_seats(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Option<StoreError>> {
        let taken: Vec<(String, String, i32, String)> = sqlx::query_as(LOST_SEATS_SQL)
            .bind(request.event_id)
            .bind(request.seats.ids())
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        Ok((!taken.is_empty()).then(|| StoreError::SeatsUnavailable(labels(taken))))
    }
}
