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
/// ticket is checked by its signature, and a place that still waits is answered from what this
/// process read of it (`QueuePolls`), at most a second behind the store; other places take one
/// read of the place. Cacheable for a second (`ETag`, `If-None-Match` answered with 304).
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
    let sale = state.queue_polls.sale(&state, event_id, now).await?;
    let place = match state.queue_polls.waiting_place(event_id, claims.sub, &sale, now) {
        Some(place) => place,
        None => {
            let place =
                state.store.queue_place(event_id, claims.sub).await?.ok_or_else(|| {
                    ApiError::NotFound("You have no place in this event's queue: join it first.".into())
                })?;
            state.queue_polls.remember(&place, &sale, now);
            place
        }
    };
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

/// How long a process trusts what it read for the polls: an event's `Sale` and its admission
/// frontier. An organiser's change, or an admission made by another process, shows within this;
/// the status answer says `max-age=1` for the same reason.
const POLL_MEMORY: Duration = Duration::from_secs(1);

/// Above this many remembered places the memory starts again (a place is ~80 bytes).
const MAX_REMEMBERED_PLACES: usize = 200_000;

/// What a process remembers for the queue's polls (`AppState::queue_polls`). Polls are many
/// (every buyer every few seconds, 5,000 buyers are 2,000 polls a second) and nearly all of them
/// are of places that still wait, whose answer changes only when the event's admission frontier
/// moves. So a poll of such a place is answered from memory, and the store is read at most once a
/// second per event for the frontier, plus once for each place that is let through:
/// - an event's `Sale` and its admission frontier (`QueuePlace::admitted_through`, as the last
///   place read said), each trusted for `POLL_MEMORY`;
/// - a place's position, which never changes once drawn, and, before the opening, the mere fact
///   that an account has a place (nobody has a position before the draw).
///
/// Only places that wait are remembered: a place let through is read from the store on every poll
/// (its admission token and session end are its own). This process forgets the frontiers when it
/// admits buyers itself (`forget_frontiers`, called by `serve`'s pace), so its own admissions show
/// at the next poll, as its own writes show on the seat maps.
#[derive(Default)]
pub struct QueuePolls(Mutex<PollMemory>);

#[derive(Default)]
struct PollMemory {
    sales: HashMap<Uuid, (Instant, Sale)>,
    frontiers: HashMap<Uuid, (Instant, u64)>,
    places: HashMap<(Uuid, Uuid), WaitingPlace>,
}

/// A place that waited when it was read.
#[derive(Debug, Clone, Copy)]
struct WaitingPlace {
    joined_at: DateTime<Utc>,
    standing: Standing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Joined before an opening at this time, so not drawn before it.
    BeforeOpening(DateTime<Utc>),
    /// Drawn at this position.
    Drawn(u64),
}

impl QueuePolls {
    /// The event's `Sale`, read from the store at most once per `POLL_MEMORY`.
    async fn sale(&self, state: &AppState, event_id: Uuid, now: DateTime<Utc>) -> Result<Sale, ApiError> {
        let kept = self.lock().sales.get(&event_id).copied();
        if let Some((_, sale)) = kept.filter(|(read_at, _)| read_at.elapsed() < POLL_MEMORY) {
            return Ok(sale);
        }
        let event = state.store.event(event_id, now).await?.ok_or_else(|| ApiError::not_found("event"))?;
        let sale = Sale { on_sale_at: event.on_sale_at, queue: event.queue };
        let mut memory = self.lock();
        // An event nobody polled for a minute goes at the next miss: the maps hold the events polled.
        memory.sales.retain(|_, (read_at, _)| read_at.elapsed() < 60 * POLL_MEMORY);
        memory.frontiers.retain(|_, (read_at, _)| read_at.elapsed() < 60 * POLL_MEMORY);
        memory.sales.insert(event_id, (Instant::now(), sale));
        Ok(sale)
    }

    /// The place of `user_id` as the store had it, when this process knows it still waits: it
    /// joined before an opening still ahead, or its position is past a frontier read within
    /// `POLL_MEMORY`. `None` when the store must be asked.
    fn waiting_place(&self, event_id: Uuid, user_id: Uuid, sale: &Sale, now: DateTime<Utc>) -> Option<QueuePlace> {
        let memory = self.lock();
        let known = memory.places.get(&(event_id, user_id))?;
        let (position, admitted_through) = match known.standing {
            Standing::BeforeOpening(opens) if sale.on_sale_at == Some(opens) && opens > now => (None, 0),
            Standing::BeforeOpening(_) => return None,
            Standing::Drawn(position) => {
                let (read_at, frontier) = memory.frontiers.get(&event_id)?;
                if read_at.elapsed() >= POLL_MEMORY || position <= *frontier {
                    return None;
                }
                (Some(position), *frontier)
            }
        };
        Some(QueuePlace {
            event_id,
            user_id,
            position,
            joined_at: known.joined_at,
            admitted_at: None,
            session_ends_at: None,
            finished_at: None,
            admitted_through,
        })
    }

    /// Keeps what a place read from the store says: its event's frontier, and the place if it waits.
    fn remember(&self, place: &QueuePlace, sale: &Sale, now: DateTime<Utc>) {
        let mut memory = self.lock();
        // The frontier only moves forward: a read that raced a newer one does not take it back.
        let newer_kept = memory
            .frontiers
            .get(&place.event_id)
            .is_some_and(|(read_at, frontier)| read_at.elapsed() < POLL_MEMORY && *frontier > place.admitted_through);
        if !newer_kept {
            memory.frontiers.insert(place.event_id, (Instant::now(), place.admitted_through));
        }
        let standing = match (place.position, sale.on_sale_at) {
            _ if place.admitted_at.is_some() || place.finished_at.is_some() => return,
            (Some(position), _) if position > place.admitted_through => Standing::Drawn(position),
            (None, Some(opens)) if opens > now => Standing::BeforeOpening(opens),
            _ => return,
        };
        if memory.places.len() >= MAX_REMEMBERED_PLACES {
            memory.places.clear();
        }
        memory.places.insert((place.event_id, place.user_id), WaitingPlace { joined_at: place.joined_at, standing });
    }

    /// Forgets every event's frontier: this process just let buyers through, so the next poll of
    /// each reads the store again.
    pub fn forget_frontiers(&self) {
        self.lock().frontiers.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PollMemory> {
        // A panic while holding the lock leaves plain data behind; the memory stays usable.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn place(position: Option<u64>, admitted_through: u64) -> QueuePlace {
        QueuePlace {
            event_id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            position,
            joined_at: DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            admitted_at: None,
            session_ends_at: None,
            finished_at: None,
            admitted_through,
        }
    }

    const OPEN: Sale = Sale { on_sale_at: None, queue: None };

    #[test]
    fn a_drawn_place_past_the_frontier_is_answered_from_memory_until_the_frontier_reaches_it() {
        let polls = QueuePolls::default();
        let now = Utc::now();
        let (event, user) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert!(polls.waiting_place(event, user, &OPEN, now).is_none(), "nothing read yet");
        polls.remember(&place(Some(5), 2), &OPEN, now);
        assert_eq!(polls.waiting_place(event, user, &OPEN, now), Some(place(Some(5), 2)));

        // Another place's read shows the frontier at 5: this one's turn came, the store must say.
        polls.remember(&QueuePlace { user_id: Uuid::from_u128(3), ..place(Some(9), 5) }, &OPEN, now);
        assert!(polls.waiting_place(event, user, &OPEN, now).is_none());
        // A read that raced it with the older frontier does not take the frontier back.
        polls.remember(&QueuePlace { user_id: Uuid::from_u128(4), ..place(Some(8), 2) }, &OPEN, now);
        assert!(polls.waiting_place(event, user, &OPEN, now).is_none());
        let third = Uuid::from_u128(3);
        assert_eq!(polls.waiting_place(event, third, &OPEN, now).map(|p| p.admitted_through), Some(5));

        // This process let buyers through: every frontier is read again.
        polls.forget_frontiers();
        assert!(polls.waiting_place(event, third, &OPEN, now).is_none());
    }

    #[test]
    fn a_place_let_through_or_done_is_never_answered_from_memory() {
        let polls = QueuePolls::default();
        let now = Utc::now();
        let (event, user) = (Uuid::from_u128(1), Uuid::from_u128(2));
        polls.remember(
            &QueuePlace { admitted_at: Some(now), session_ends_at: Some(now), ..place(Some(5), 2) },
            &OPEN,
            now,
        );
        assert!(polls.waiting_place(event, user, &OPEN, now).is_none());
        polls.remember(&QueuePlace { finished_at: Some(now), ..place(Some(5), 2) }, &OPEN, now);
        assert!(polls.waiting_place(event, user, &OPEN, now).is_none());
        polls.remember(&place(Some(2), 2), &OPEN, now);
        assert!(polls.waiting_place(event, user, &OPEN, now).is_none(), "its turn has come");
    }

    #[test]
    fn a_place_before_the_opening_is_remembered_only_while_that_opening_is_ahead() {
        let polls = QueuePolls::default();
        let now = Utc::now();
        let (event, user) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let opens = now + chrono::Duration::hours(1);
        let sale = Sale { on_sale_at: Some(opens), queue: None };
        polls.remember(&place(None, 0), &sale, now);
        assert_eq!(polls.waiting_place(event, user, &sale, now), Some(place(None, 0)));
        let moved = Sale { on_sale_at: Some(opens - chrono::Duration::minutes(30)), queue: None };
        assert!(polls.waiting_place(event, user, &moved, now).is_none(), "the organiser moved the opening");
        assert!(polls.waiting_place(event, user, &sale, opens).is_none(), "the opening came: the draw");
        assert!(polls.waiting_place(event, user, &OPEN, now).is_none(), "on sale at once");
    }
}
