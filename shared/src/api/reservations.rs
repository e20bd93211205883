//! `/reservations/*`: seat holds (single and multi-seat), a buyer's reservations and bookings,
//! cancellation with the 24-hour rule, and admin oversight.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::idempotency::{self, IdempotencyKey};
use super::{Json, Path, Query};
use crate::api::error::{ApiError, ErrorBody, NotOnSaleBody};
use crate::api::extract::{AdminUser, AdmissionToken, AuthUser, ClientAddr};
use crate::api::state::AppState;
use crate::domain::{
    Actor, BestAvailable, Booking, HoldRequest, Invalid, Page, Reservation, ReservationFilter, ReservationStatus,
    SeatSelection, customer_may_cancel_confirmed, parse_seat_types,
};
use crate::limits::{Refusal, Subject};
use crate::metrics;
use crate::store::StoreError;
use crate::store::best_available::{BestAvailableError, BestAvailableRequest, hold_best_available};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reserve))
        .routes(routes!(user_reservations))
        .routes(routes!(event_reservations))
        .routes(routes!(get_reservation, cancel_reservation))
        .routes(routes!(get_booking, cancel_booking))
        .routes(routes!(extend_booking))
        .routes(routes!(all_reservations))
}

/// One of `seat_id` (one seat → a Reservation), `seat_ids` (1 to 10 seats → a Booking) or
/// `best_available` (that many adjacent seats chosen for the caller → a Booking).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReserveRequest {
    pub event_id: Uuid,
    pub seat_id: Option<Uuid>,
    pub seat_ids: Option<Vec<Uuid>>,
    // Left out of an idempotency record's fingerprint when absent: a key used before this field
    // existed still matches its retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_available: Option<BestAvailableAsk>,
    /// The ticket type of each seat, by seat id (issue 21): `{"<seat_id>": "child"}`; a seat not
    /// named is of the event's first type. Not with `best_available`, which holds the first type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>, example = json!({"3f1c2d9e-8a4b-4c2e-9f1a-6b7d8e9f0a1b": "child"}))]
    pub ticket_types: Option<BTreeMap<Uuid, String>>,
    /// An access code of the event: seats may be held before its `on_sale_at` (a presale), and of
    /// the hidden ticket types the code names (all of them when it names none). Its use is
    /// counted when the booking is paid (checked out with the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "PRESALE-FANS")]
    pub access_code: Option<String>,
    /// With `seat_id`/`seat_ids`: the buyer is a wheelchair user booking wheelchair spaces and
    /// companion seats (issue 19). Before the event's accessible release (see the event's
    /// `accessible_release_hours`) such seats are held only for an accessible reserve of at least
    /// one wheelchair space and at most 3 companion seats per space; any other reserve naming one
    /// is refused 409 `seat_unavailable`, the detail saying why. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessible: Option<bool>,
}

/// "The best `count` seats": adjacent seats in one row (consecutive numbers, never across an
/// aisle), the earliest row first and within it the block nearest the row's middle, never leaving
/// one seat alone beside the block when another block avoids it; held all or none. A block another
/// buyer wins meanwhile is replaced by the next best, up to 8 tries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BestAvailableAsk {
    /// How many seats: 1 to 10, and at most `MAX_HELD_SEATS_PER_USER`.
    #[schema(minimum = 1, maximum = 10, example = 2)]
    pub count: i64,
    /// Only seats of this tier (one of the event's).
    #[schema(example = "standard")]
    pub tier: Option<String>,
    /// Only seats of this section of the venue's layout (its name, e.g. "Block 104").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Block 104")]
    pub section: Option<String>,
    /// For a wheelchair user: one wheelchair space and `count - 1` adjacent companion seats in one
    /// row (`count` 1 to 4), held as an accessible reserve. Without it, no wheelchair space or
    /// companion seat is chosen while the event holds them back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessible: Option<bool>,
}

/// What a reserve asks for, parsed.
enum Ask {
    Seats { seats: SeatSelection, single: bool },
    Best(BestAvailable),
}

/// A single-seat reserve answers a Reservation; a multi-seat reserve answers a Booking.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ReserveResponse {
    Reservation(Reservation),
    Booking(Booking),
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    pub status: Option<ReservationStatus>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OversightQuery {
    pub event_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub status: Option<ReservationStatus>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Holds seats for the caller for `HOLD_TTL_SECONDS`: every seat or none, and never more than
/// `MAX_HELD_SEATS_PER_USER` seats of one event held by the caller at once.
#[utoipa::path(post, path = "/reservations/reservations/reserve", tag = "reservations", security(("bearer" = [])),
    request_body = ReserveRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key returns the first answer"),
        ("X-Admission-Token" = Option<String>, Header, description = "The waiting room's admission (`admission_token` of `GET /queue/events/{event_id}/status`), required while the event's queue is enabled"),
    ),
    responses(
        (status = 201, description = "A Reservation for `seat_id`, a Booking for `seat_ids` or `best_available` (its reservations name the seats found: ids, rows and numbers)", body = ReserveResponse),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`queue_required`: the event's waiting room is enabled and the request has no `X-Admission-Token` valid for this event and this account (missing, expired or another's)", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown event", body = ErrorBody),
        (status = 409, description = "`seat_unavailable`: the detail names the seats; for `best_available`, no block of that size (and tier) is free in one row, or other buyers took each of the 8 blocks tried first; `hold_limit_reached`: the caller would hold more than `MAX_HELD_SEATS_PER_USER` seats of this event at once (the detail names the limit); `type_sold_out`: a ticket type asked for has no more seats under its quota (held and sold together; the detail names the type)", body = ErrorBody),
        (status = 409, description = "`not_on_sale`: the event's sale opens later; `on_sale_at` says when (an `Idempotency-Key` is not spent on it)", body = NotOnSaleBody),
        (status = 422, description = "`invalid_code`: an `access_code` that is unknown, deleted, not an access code, for another event, outside its window or used up. `validation_failed`: seat not in the event's venue, event canceled or started, 0 or over 10 seats; `best_available` with `seat_id`/`seat_ids`, its `count` not 1 to 10 or over `MAX_HELD_SEATS_PER_USER`, a `tier` the event has no seats of, a `section` its venue does not have, or a field it does not know; `ticket_types` naming a seat not among the seats asked for, or a type the event does not sell (a hidden type the `access_code` does not unlock is answered the same); or the Idempotency-Key was used for another request", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many reserve requests from this account (`RESERVE_LIMIT_PER_MINUTE`, 30 by default) or client address (`RESERVE_LIMIT_PER_ADDRESS_PER_MINUTE`, 300); see `Retry-After`", body = ErrorBody),
    ))]
async fn reserve(
    State(state): State<AppState>,
    addr: ClientAddr,
    AuthUser(user): AuthUser,
    admission: AdmissionToken,
    key: IdempotencyKey,
    Json(body): Json<ReserveRequest>,
) -> Result<Response, ApiError> {
    let ask = match (&body.seat_id, &body.seat_ids, &body.best_available) {
        _ if body.accessible.is_some() && body.best_available.is_some() => {
            Err(Invalid::new("accessible", "give it inside `best_available`"))
        }
        (Some(seat), None, None) => SeatSelection::parse(vec![*seat]).map(|seats| Ask::Seats { seats, single: true }),
        (None, Some(seats), None) => {
            SeatSelection::parse(seats.clone()).map(|seats| Ask::Seats { seats, single: false })
        }
        (None, None, Some(best)) => BestAvailable::parse(best.count, best.tier.clone(), state.config.max_held_seats)
            .and_then(|want| want.in_section(best.section.clone()))
            .and_then(|want| want.for_wheelchair_user(best.accessible.unwrap_or(false)))
            .map(Ask::Best),
        (_, _, Some(_)) => Err(Invalid::new("best_available", "give either `best_available` or the seats, not both")),
        _ => Err(Invalid::new("seat_ids", "give either `seat_id` or `seat_ids`, not both or neither")),
    };
    // The seats' ticket types, checked against the seats asked for (the names against the event's
    // types by the store, in the hold).
    let ask = ask.and_then(|ask| match (ask, &body.ticket_types) {
        (ask, None) => Ok(ask),
        (Ask::Seats { seats, single }, Some(types)) => {
            let types = parse_seat_types(types.clone(), seats.ids())?;
            Ok(Ask::Seats { seats: seats.with_types(&types), single })
        }
        (Ask::Best(_), Some(_)) => Err(Invalid::new(
            "ticket_types",
            "give `ticket_types` with `seat_id` or `seat_ids`; `best_available` holds the event's first type",
        )),
    });
    let ask = ask.inspect_err(|_| metrics::hold_refused("validation_failed"))?;
    // Checked here without a store read (signature, kind, event, account, expiry); whether the
    // event needs it is the store's to decide, in the hold itself.
    let admitted =
        admission.0.is_some_and(|token| state.queue_tokens.verify_admission(&token, body.event_id, user.id).is_ok());
    // An access code unlocks the event's presale and the hidden ticket types it names (or all).
    let (presale, unlocked_types) = match &body.access_code {
        Some(code) => {
            let unlocked = super::codes::access_unlocks(&state, code, body.event_id, Utc::now())
                .await
                .inspect_err(|_| metrics::hold_refused("invalid_code"))?;
            (true, unlocked)
        }
        None => (false, Vec::new()),
    };
    // Counted outside the idempotency record: a 429 is not the answer a retry should replay.
    let reserves = state.config.limits.reserves;
    reserves
        .attempt(state.store.as_ref(), Some(Subject::Account(user.id)), addr.0, Utc::now())
        .await
        .inspect_err(|refusal| {
            if let Refusal::Limited { .. } = refusal {
                metrics::hold_refused("rate_limited");
            }
        })?
        .keep();
    let (seats, single) = match ask {
        Ask::Seats { seats, single } => (seats, single),
        Ask::Best(want) => {
            let request = BestAvailableRequest {
                user_id: user.id,
                event_id: body.event_id,
                want,
                ttl: state.config.hold_ttl,
                limit: state.config.max_held_seats,
                admitted,
                presale,
            };
            return idempotency::once(&state, user.id, key, &body, || reserve_best(&state, request)).await;
        }
    };
    let request = HoldRequest {
        booking_id: Uuid::new_v4(),
        user_id: user.id,
        event_id: body.event_id,
        seats,
        ttl: state.config.hold_ttl,
        limit: state.config.max_held_seats,
        admitted,
        presale,
        unlocked_types,
        accessible: body.accessible.unwrap_or(false),
    };
    idempotency::once(&state, user.id, key, &body, || async {
        let held = state.store.hold(&request, Utc::now()).await;
        metrics::hold_answered(&held, request.seats.ids().len());
        // Won or lost, the seats just changed (here or elsewhere): the next map is read afresh.
        state.seat_maps.invalidate(request.event_id);
        let booking = held?;
        let answer = match booking.reservations.first() {
            Some(first) if single => ReserveResponse::Reservation(first.clone()),
            _ => ReserveResponse::Booking(booking),
        };
        Ok((StatusCode::CREATED, answer))
    })
    .await
}

/// Holds the best block for `request` (`store::best_available`), choosing on this process's desk
/// for the event (`store::best_available_desk`).
async fn reserve_best(
    state: &AppState,
    request: BestAvailableRequest,
) -> Result<(StatusCode, ReserveResponse), ApiError> {
    let desk = state.best_available.get(request.event_id);
    let held = hold_best_available(state.store.as_ref(), &request, &desk).await;
    // Counted once per request, as a reserve of chosen seats is.
    let counted = match &held {
        Ok(_) => Ok(()),
        Err(BestAvailableError::Store(err)) => Err(err.clone()),
        Err(_) => Err(StoreError::SeatsUnavailable(Vec::new())),
    };
    metrics::hold_answered(&counted, request.want.count());
    state.seat_maps.invalidate(request.event_id);
    match held {
        Ok(held) => Ok((StatusCode::CREATED, ReserveResponse::Booking(held.booking))),
        Err(BestAvailableError::Store(err)) => Err(err.into()),
        Err(BestAvailableError::NoBlock) => Err(ApiError::SeatUnavailable(request.want.no_block_detail())),
        Err(BestAvailableError::Outrun { tries }) => Err(ApiError::SeatUnavailable(format!(
            "Other buyers took each of the {tries} blocks of seats tried first; try again."
        ))),
    }
}

fn filter(
    user_id: Option<Uuid>,
    event_id: Option<Uuid>,
    status: Option<ReservationStatus>,
    limit: Option<i64>,
    offset: Option<i64>,
) -> Result<ReservationFilter, Invalid> {
    Ok(ReservationFilter { user_id, event_id, status, page: Page::parse(limit, offset)? })
}

/// A user's reservations, newest first, including expired and canceled ones (self or admin).
#[utoipa::path(get, path = "/reservations/reservations/user/{user_id}", tag = "reservations", security(("bearer" = [])),
    params(("user_id" = Uuid, Path), StatusQuery),
    responses(
        (status = 200, body = Vec<Reservation>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: another customer's reservations", body = ErrorBody),
    ))]
async fn user_reservations(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<Uuid>,
    Query(query): Query<StatusQuery>,
) -> Result<Json<Vec<Reservation>>, ApiError> {
    if !caller.may_act_for(user_id) {
        return Err(ApiError::forbidden());
    }
    let filter = filter(Some(user_id), None, query.status, query.limit, query.offset)?;
    Ok(Json(state.store.list_reservations(&filter, Utc::now()).await?))
}

/// An event's reservations, newest first (admin).
#[utoipa::path(get, path = "/reservations/reservations/event/{event_id}", tag = "reservations", security(("bearer" = [])),
    params(("event_id" = Uuid, Path), StatusQuery),
    responses(
        (status = 200, body = Vec<Reservation>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
    ))]
async fn event_reservations(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(event_id): Path<Uuid>,
    Query(query): Query<StatusQuery>,
) -> Result<Json<Vec<Reservation>>, ApiError> {
    let filter = filter(None, Some(event_id), query.status, query.limit, query.offset)?;
    Ok(Json(state.store.list_reservations(&filter, Utc::now()).await?))
}

/// Every reservation, newest first, filtered (admin oversight).
#[utoipa::path(get, path = "/reservations/reservations", tag = "reservations", security(("bearer" = [])),
    params(OversightQuery),
    responses(
        (status = 200, body = Vec<Reservation>),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
    ))]
async fn all_reservations(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<OversightQuery>,
) -> Result<Json<Vec<Reservation>>, ApiError> {
    let filter = filter(query.user_id, query.event_id, query.status, query.limit, query.offset)?;
    Ok(Json(state.store.list_reservations(&filter, Utc::now()).await?))
}

async fn owned_reservation(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<Reservation, ApiError> {
    let reservation =
        state.store.reservation(id, Utc::now()).await?.ok_or_else(|| ApiError::not_found("reservation"))?;
    if !caller.may_act_for(reservation.user_id) {
        return Err(ApiError::forbidden());
    }
    Ok(reservation)
}

async fn owned_booking(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<Booking, ApiError> {
    let booking = state.store.booking(id, Utc::now()).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    if !caller.may_act_for(booking.user_id) {
        return Err(ApiError::forbidden());
    }
    Ok(booking)
}

/// The admin, as the audit log's actor, when an admin cancels a buyer's seats: the refunds that
/// cancel records are audited (`payment.refunded`). A buyer's own cancel (an admin's of their own
/// booking too) is not an admin action and writes no audit row.
fn admin_acting_for_another(caller: &AuthUser, owner: Uuid) -> Option<Actor> {
    (caller.is_admin() && caller.0.id != owner).then(|| Actor::from(&caller.0))
}

/// Customers may cancel confirmed seats only until 24 hours before the start; admins always.
async fn check_cancel_window(
    state: &AppState,
    caller: &AuthUser,
    event_id: Uuid,
    has_confirmed: bool,
) -> Result<(), ApiError> {
    if caller.is_admin() || !has_confirmed {
        return Ok(());
    }
    let now = Utc::now();
    let event = state.store.event(event_id, now).await?.ok_or_else(|| ApiError::not_found("event"))?;
    if !customer_may_cancel_confirmed(event.start_time, now) {
        return Err(ApiError::Forbidden(
            "Confirmed seats can only be canceled until 24 hours before the event starts.".into(),
        ));
    }
    Ok(())
}

/// One reservation (owner or admin).
#[utoipa::path(get, path = "/reservations/reservations/{reservation_id}", tag = "reservations", security(("bearer" = [])),
    params(("reservation_id" = Uuid, Path)),
    responses(
        (status = 200, body = Reservation),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: another customer's reservation", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn get_reservation(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(reservation_id): Path<Uuid>,
) -> Result<Json<Reservation>, ApiError> {
    Ok(Json(owned_reservation(&state, &caller, reservation_id).await?))
}

/// Cancels a reservation (owner or admin): a hold frees its seat at once; a confirmed seat only until 24 h before the start for customers.
#[utoipa::path(delete, path = "/reservations/reservations/{reservation_id}", tag = "reservations", security(("bearer" = [])),
    params(("reservation_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The reservation, now `canceled`", body = Reservation),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: another customer's reservation, or a confirmed seat less than 24 h before the start", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_state`: already canceled or expired", body = ErrorBody),
    ))]
async fn cancel_reservation(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(reservation_id): Path<Uuid>,
) -> Result<Json<Reservation>, ApiError> {
    let reservation = owned_reservation(&state, &caller, reservation_id).await?;
    let confirmed = reservation.status == ReservationStatus::Confirmed;
    check_cancel_window(&state, &caller, reservation.event_id, confirmed).await?;
    let actor = admin_acting_for_another(&caller, reservation.user_id);
    let cancellation = state.store.cancel_reservation(reservation_id, Utc::now(), actor.as_ref()).await?;
    state.seat_maps.invalidate(reservation.event_id);
    super::payments::pay_out(&state, &cancellation.refunds).await;
    Ok(Json(cancellation.canceled))
}

/// One booking with its reservations (owner or admin).
#[utoipa::path(get, path = "/reservations/bookings/{booking_id}", tag = "reservations", security(("bearer" = [])),
    params(("booking_id" = Uuid, Path)),
    responses(
        (status = 200, body = Booking),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: another customer's booking", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn get_booking(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(booking_id): Path<Uuid>,
) -> Result<Json<Booking>, ApiError> {
    Ok(Json(owned_booking(&state, &caller, booking_id).await?))
}

/// Cancels every active seat of a booking (owner or admin), with the same rules as one reservation.
#[utoipa::path(delete, path = "/reservations/bookings/{booking_id}", tag = "reservations", security(("bearer" = [])),
    params(("booking_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The booking, now `canceled`", body = Booking),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: another customer's booking, or confirmed seats less than 24 h before the start", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_state`: no active seat left", body = ErrorBody),
    ))]
async fn cancel_booking(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(booking_id): Path<Uuid>,
) -> Result<Json<Booking>, ApiError> {
    let booking = owned_booking(&state, &caller, booking_id).await?;
    let confirmed = booking.reservations.iter().any(|r| r.status == ReservationStatus::Confirmed);
    check_cancel_window(&state, &caller, booking.event_id, confirmed).await?;
    let actor = admin_acting_for_another(&caller, booking.user_id);
    let cancellation = state.store.cancel_booking(booking_id, Utc::now(), actor.as_ref()).await?;
    state.seat_maps.invalidate(booking.event_id);
    super::payments::pay_out(&state, &cancellation.refunds).await;
    Ok(Json(cancellation.canceled))
}

/// Extends the booking's hold once by `HOLD_EXTENSION_SECONDS` (owner or admin): every seat still
/// held runs that much longer. The store decides "once" and "still running" in its own write.
#[utoipa::path(post, path = "/reservations/bookings/{booking_id}/extend", tag = "reservations", security(("bearer" = [])),
    params(("booking_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The booking, its held seats' `expires_at` moved on by `HOLD_EXTENSION_SECONDS` (300 by default)", body = Booking),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: another customer's booking", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`extension_used`: this booking's hold was already extended once; `hold_expired`: the hold has lapsed (pick the seats again); `invalid_state`: the booking is paid for or canceled", body = ErrorBody),
    ))]
async fn extend_booking(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(booking_id): Path<Uuid>,
) -> Result<Json<Booking>, ApiError> {
    owned_booking(&state, &caller, booking_id).await?;
    Ok(Json(state.store.extend_hold(booking_id, state.config.hold_extension, Utc::now()).await?))
}
