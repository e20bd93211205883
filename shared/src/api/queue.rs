//! `/queue/*`: the waiting room in front of a hot event (issue 20). A buyer joins the event's
//! queue (`POST /queue/events/{event_id}/join`) and gets a signed queue ticket and a place; then
//! polls `GET /queue/events/{event_id}/status` with the ticket until it answers an admission token,
//! which `POST /reservations/reservations/reserve` takes in `X-Admission-Token` while the
//! session lasts.
//!
//! The place, the draw at the opening and the pace of admission are the store's
//! (`QueueStore`); this module only signs what the store decided. A poll reads the place and
//! nothing else of the account: the ticket names it, so a poll needs no bearer token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Json, Path};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{AdminUser, AuthUser};
use crate::api::state::AppState;
use crate::domain::{Event, QueueJoin, QueuePlace, QueueSettings, QueueStats};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(join)).routes(routes!(status)).routes(routes!(stats))
}

/// A place in the queue, as a join answers it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueTicket {
    /// Signed; send it as `X-Queue-Token` to `GET /queue/events/{event_id}/status`. It names the
    /// place (this event, this account) and is no bearer of the account.
    pub queue_token: String,
    /// 1-based; `null` until the opening for those who joined before it: everyone who joins
    /// before `on_sale_at` gets a random position at the opening.
    pub position: Option<u64>,
}

/// Where a buyer stands, as a poll answers it.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct QueueStatus {
    /// 1-based; `null` until the opening for those who joined before it.
    pub position: Option<u64>,
    /// Places ahead not yet let through; `null` before the opening.
    pub ahead: Option<u64>,
    /// The wait at the queue's pace, from now (the opening's own wait included); 0 once admitted.
    pub estimated_wait_seconds: Option<u64>,
    /// `null` until the buyer is let through; then the token `reserve` takes in
    /// `X-Admission-Token`, valid until `session_ends_at`.
    pub admission_token: Option<String>,
    /// When the admitted buyer's session ends (holds need the token until then).
    pub session_ends_at: Option<DateTime<Utc>>,
    /// When the sale opens; `null` for one on sale already.
    pub on_sale_at: Option<DateTime<Utc>>,
}

/// An event's queue at a glance, for its organiser.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct QueueStatsBody {
    /// Places in the queue (one per account).
    pub joined: u64,
    /// Places whose turn came: let through, or passed over having left before it.
    pub let_through: u64,
    /// Places still waiting for their turn.
    pub waiting: u64,
    /// Buyers let through, not done, whose session still runs (never above `max_active_buyers`).
    pub active: u64,
}

impl From<QueueStats> for QueueStatsBody {
    fn from(stats: QueueStats) -> Self {
        Self { joined: stats.joined, let_through: stats.let_through, waiting: stats.waiting, active: stats.active }
    }
}

/// The event's queue at a glance (admin): how many joined, were let through, wait, and are active.
#[utoipa::path(get, path = "/queue/events/{event_id}/stats", tag = "queue", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    responses(
        (status = 200, body = QueueStatsBody),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and door staff", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown event", body = ErrorBody),
    ))]
async fn stats(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(event_id): Path<Uuid>,
) -> Result<Json<QueueStatsBody>, ApiError> {
    let now = Utc::now();
    state.store.event(event_id, now).await?.ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(state.store.queue_stats(event_id, now).await?.into()))
}

/// Joins the event's waiting room, or returns the caller's place in it (one per account and event).
#[utoipa::path(post, path = "/queue/events/{event_id}/join", tag = "queue", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    responses(
        (status = 200, body = QueueTicket),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown event", body = ErrorBody),
        (status = 409, description = "`invalid_state`: the event has no waiting room enabled, or it is canceled or has started", body = ErrorBody),
    ))]
async fn join(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(event_id): Path<Uuid>,
) -> Result<Json<QueueTicket>, ApiError> {
    let now = Utc::now();
    let event = queued_event(&state, event_id, now).await?;
    let join = QueueJoin { event_id, user_id: user.id, draw: random_draw() };
    let place = state.store.join_queue(&join, now).await?;
    // The ticket lasts as long as the event could sell: it is only good for polling.
    let queue_token = state.queue_tokens.ticket(event_id, user.id, event.start_time);
    Ok(Json(QueueTicket { queue_token, position: place.position }))
}

/// Where the buyer stands in the queue, and the admission token once let through. Cheap: the
/// ticket is checked by its signature and one read of the place answers (the event's opening and
/// pace, for the estimate, are kept a second per process); cacheable for a second (`ETag`,
/// `If-None-Match` answered with 304).
#[utoipa::path(get, path = "/queue/events/{event_id}/status", tag = "queue",
    params(
        ("event_id" = Uuid, Path),
        ("X-Queue-Token" = String, Header, description = "The `queue_token` the join answered"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of the status the client has"),
    ),
    responses(
        (status = 200, body = QueueStatus, headers(("ETag" = String, description = "Changes whenever the status does"))),
        (status = 304, description = "Not Modified: the status still has the `If-None-Match` ETag"),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 403, description = "`queue_required`: no queue token, or one that is altered, expired or of another event", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown event, or no place of this ticket's account in its queue", body = ErrorBody),
    ))]
async fn status(
    State(state): State<AppState>,
    Path(event_id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = headers.get("x-queue-token").and_then(|value| value.to_str().ok()).map(str::trim).unwrap_or("");
    let claims =
        state.queue_tokens.verify_ticket(token).ok().filter(|claims| claims.evt == event_id).ok_or_else(|| {
            ApiError::QueueRequired(
                "Send the queue_token this event's join answered in the X-Queue-Token header; join again if it \
                 expired."
                    .into(),
            )
        })?;
    let now = Utc::now();
    let place = state
        .store
        .queue_place(event_id, claims.sub)
        .await?
        .ok_or_else(|| ApiError::NotFound("You have no place in this event's queue: join it first.".into()))?;
    let sale = state.queue_sales.get(&state, event_id, now).await?;
    let answer = status_of(&state, &place, sale, now);
    let body = serde_json::to_vec(&answer).map_err(|e| ApiError::Internal(format!("queue status encoding: {e}")))?;
    let etag = HeaderValue::from_str(&format!("\"{}\"", crate::hex::encode(&sha256(&body)[..12])))
        .map_err(|e| ApiError::Internal(format!("queue status etag: {e}")))?;
    // Private (it names an account's place) and good for a second: the pace moves each second.
    let cache = [(header::ETAG, etag), (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=1"))];
    if super::catalog::if_none_match(&headers, &cache[0].1) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

/// The status of `place` at `now`: the admission token while its session runs, the wait at the
/// event's pace while it waits.
fn status_of(state: &AppState, place: &QueuePlace, event: Sale, now: DateTime<Utc>) -> QueueStatus {
    let admission_token = match place.session_ends_at {
        Some(ends) if place.is_active(now) => Some(state.queue_tokens.admission(place.event_id, place.user_id, ends)),
        _ => None,
    };
    let admitted = place.admitted_at.is_some();
    let until_opening = event.on_sale_at.map_or(0, |opens| seconds_until(now, opens));
    let estimated_wait_seconds = if admitted {
        Some(0)
    } else {
        // Before the opening the position is not drawn yet: the wait is at least the opening's.
        let per_minute = u64::from(QueueSettings::active(event.queue).map_or(60, |q| q.admit_per_minute).max(1));
        let ahead = place.ahead();
        Some(until_opening + ahead.map_or(0, |ahead| (ahead * 60).div_ceil(per_minute)))
    };
    QueueStatus {
        position: place.position,
        ahead: place.ahead(),
        estimated_wait_seconds,
        admission_token,
        session_ends_at: place.session_ends_at.filter(|_| admitted),
        on_sale_at: event.on_sale_at,
    }
}

/// What a poll needs of its event: when the sale opens and the waiting room's settings.
#[derive(Debug, Clone, Copy)]
struct Sale {
    on_sale_at: Option<DateTime<Utc>>,
    queue: Option<QueueSettings>,
}

/// How long a process keeps an event's `Sale` for the polls: they are many (every buyer every few
/// seconds) and the figures only shape the estimate, so an organiser's change shows within this.
const SALE_KEPT: Duration = Duration::from_secs(1);

/// The events' `Sale`s as last read, per process (`AppState::queue_sales`).
#[derive(Default)]
pub struct QueueSales(Mutex<HashMap<Uuid, (Instant, Sale)>>);

impl QueueSales {
    async fn get(&self, state: &AppState, event_id: Uuid, now: DateTime<Utc>) -> Result<Sale, ApiError> {
        let kept = self.lock().get(&event_id).copied();
        if let Some((_, sale)) = kept.filter(|(read_at, _)| read_at.elapsed() < SALE_KEPT) {
            return Ok(sale);
        }
        let event = state.store.event(event_id, now).await?.ok_or_else(|| ApiError::not_found("event"))?;
        let sale = Sale { on_sale_at: event.on_sale_at, queue: event.queue };
        let mut kept = self.lock();
        // An event nobody polled for a minute goes at the next miss: the map holds the events polled.
        kept.retain(|_, (read_at, _)| read_at.elapsed() < 60 * SALE_KEPT);
        kept.insert(event_id, (Instant::now(), sale));
        Ok(sale)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Instant, Sale)>> {
        // A panic while holding the lock leaves plain data behind; the map stays usable.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn seconds_until(now: DateTime<Utc>, then: DateTime<Utc>) -> u64 {
    u64::try_from((then - now).num_seconds()).unwrap_or(0)
}

/// The event behind a join: it must exist, sell (not canceled, not started) and have its waiting
/// room enabled.
async fn queued_event(state: &AppState, event_id: Uuid, now: DateTime<Utc>) -> Result<Event, ApiError> {
    let event = state.store.event(event_id, now).await?.ok_or_else(|| ApiError::not_found("event"))?;
    if QueueSettings::active(event.queue).is_none() {
        return Err(ApiError::InvalidState(
            "This event has no waiting room: hold seats directly from its seat map.".into(),
        ));
    }
    if event.status == crate::domain::EventStatus::Canceled || event.start_time <= now {
        return Err(ApiError::InvalidState("This event is no longer on sale.".into()));
    }
    Ok(event)
}

/// A joiner's random draw (`QueueJoin::draw`): it orders everyone who joined before the opening.
fn random_draw() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    u64::from_le_bytes(bytes)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
