//! `/events/events/{event_id}/waitlist`: the waiting list of a sold-out event (issue 20). A buyer
//! asks for 1 to 10 seats (of a tier, or any); seats that free up later are offered to the list in
//! order, each offer a held booking of the buyer's, paid through the usual checkout before its
//! hold ends (`WAITLIST_OFFER_MINUTES`). Who gets which seats is the store's, decided in the
//! transaction that freed them (`WaitlistStore`, `domain::plan_offers`); this module checks the
//! request and that the event is sold out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Json, Path};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::AuthUser;
use crate::api::state::AppState;
use crate::domain::{
    Event, EventStatus, Invalid, ReservationStatus, SeatStatus, WaitlistEntry, WaitlistJoin, WaitlistSeats,
    WaitlistStatus,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(join, entry, leave))
}

/// What a buyer asks of the waiting list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WaitlistRequest {
    /// How many seats, 1 to 10, offered together.
    #[schema(example = 2, minimum = 1, maximum = 10)]
    pub seats: i64,
    /// Seats of this tier only; any tier when left out.
    #[schema(example = "standard")]
    pub tier: Option<String>,
}

/// A new place on the waiting list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WaitlistJoined {
    pub id: Uuid,
    /// 1-based place among those still waiting.
    pub position: Option<u64>,
}

/// The seats offered to an entry: a held booking of the buyer's.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct WaitlistOffer {
    /// Pay it through the usual checkout (`POST /payments/payments/checkout`) before `expires_at`.
    pub booking_id: Uuid,
    /// `held` while it can be paid; `confirmed` once paid; `expired` or `canceled` when it lapsed
    /// or was given up (the seats then went to the next entries).
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
    pub total_cents: i64,
    pub currency: String,
}

/// The caller's entry on the event's waiting list.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct WaitlistEntryBody {
    pub id: Uuid,
    pub event_id: Uuid,
    pub seats: u8,
    pub tier: Option<String>,
    /// `waiting` for seats, or `offered` seats (see `offer`).
    pub status: WaitlistStatus,
    /// 1-based place among those still waiting; `null` once offered.
    pub position: Option<u64>,
    pub joined_at: DateTime<Utc>,
    /// The offer, once made.
    pub offer: Option<WaitlistOffer>,
}

/// Joins the event's waiting list, or answers the caller's entry on it (one per account and event).
#[utoipa::path(post, path = "/events/events/{event_id}/waitlist", tag = "events", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    request_body = WaitlistRequest,
    responses(
        (status = 201, description = "On the list", body = WaitlistJoined),
        (status = 200, description = "Already on the list: that entry", body = WaitlistJoined),
        (status = 400, description = "`invalid_json` / `invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown event", body = ErrorBody),
        (status = 409, description = "`not_sold_out`: seats (of the tier asked for) can still be held; `invalid_state`: the event is canceled or has started", body = ErrorBody),
        (status = 422, description = "`validation_failed`: seats not 1 to 10, or a tier the event does not sell", body = ErrorBody),
    ))]
async fn join(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(event_id): Path<Uuid>,
    Json(body): Json<WaitlistRequest>,
) -> Result<Response, ApiError> {
    let seats = WaitlistSeats::parse(body.seats)?;
    let now = Utc::now();
    let event = state.store.event(event_id, now).await?.ok_or_else(|| ApiError::not_found("event"))?;
    let tier = body.tier.as_deref().map(|tier| sold_tier(&event, tier)).transpose()?;
    if let Some(entry) = state.store.waitlist_entry(event_id, user.id).await? {
        return Ok((StatusCode::OK, Json(WaitlistJoined { id: entry.id, position: entry.position() })).into_response());
    }
    if event.status == EventStatus::Canceled {
        return Err(ApiError::InvalidState("This event was canceled.".into()));
    }
    if event.start_time <= now {
        return Err(ApiError::InvalidState("This event has already started.".into()));
    }
    if can_still_hold(&state, &event, tier.as_deref(), now).await? {
        return Err(ApiError::not_sold_out());
    }
    let join = WaitlistJoin {
        id: Uuid::new_v4(),
        event_id,
        user_id: user.id,
        seats,
        tier,
        offer_minutes: i64::from(state.config.waitlist_offer_minutes),
    };
    let (entry, created) = state.store.join_waitlist(&join, now).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(WaitlistJoined { id: entry.id, position: entry.position() })).into_response())
}

/// The caller's entry on the event's waiting list: its place while waiting, the offer once made.
#[utoipa::path(get, path = "/events/events/{event_id}/waitlist", tag = "events", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    responses(
        (status = 200, body = WaitlistEntryBody),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: not on this event's list", body = ErrorBody),
    ))]
async fn entry(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(event_id): Path<Uuid>,
) -> Result<Json<WaitlistEntryBody>, ApiError> {
    let entry = state.store.waitlist_entry(event_id, user.id).await?.ok_or_else(not_on_the_list)?;
    let offer = match entry.booking_id {
        Some(booking_id) => state.store.booking(booking_id, Utc::now()).await?.map(|booking| WaitlistOffer {
            booking_id,
            status: booking.status,
            expires_at: booking.expires_at,
            total_cents: booking.total_cents,
            currency: booking.currency,
        }),
        None => None,
    };
    Ok(Json(entry_body(&entry, offer)))
}

/// Takes the caller off the event's waiting list. An offer already made stays the caller's held
/// booking, to pay or cancel as any other.
#[utoipa::path(delete, path = "/events/events/{event_id}/waitlist", tag = "events", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    responses(
        (status = 204, description = "Off the list"),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: not on this event's list", body = ErrorBody),
    ))]
async fn leave(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(event_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    if state.store.leave_waitlist(event_id, user.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_on_the_list())
    }
}

fn not_on_the_list() -> ApiError {
    ApiError::NotFound("You are not on this event's waiting list.".into())
}

fn entry_body(entry: &WaitlistEntry, offer: Option<WaitlistOffer>) -> WaitlistEntryBody {
    WaitlistEntryBody {
        id: entry.id,
        event_id: entry.event_id,
        seats: entry.seats.get(),
        tier: entry.tier.clone(),
        status: entry.status,
        position: entry.position(),
        joined_at: entry.joined_at,
        offer,
    }
}

/// The tier as the event sells it (names are lowercase), or why not.
fn sold_tier(event: &Event, raw: &str) -> Result<String, Invalid> {
    let tier = raw.trim().to_lowercase();
    if event.prices.iter().any(|price| price.tier == tier) {
        Ok(tier)
    } else {
        Err(Invalid::new("tier", "is not a tier this event sells"))
    }
}

/// Whether a seat of the event (of `tier`, when one is asked for) can be held now.
async fn can_still_hold(
    state: &AppState,
    event: &Event,
    tier: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let Some(tier) = tier else {
        return Ok(event.seats_available > 0);
    };
    if event.seats_available == 0 {
        return Ok(false);
    }
    let seats = state.store.seat_map(event.id, now).await?.unwrap_or_default();
    Ok(seats.iter().any(|seat| seat.tier == tier && seat.status == SeatStatus::Available))
}
