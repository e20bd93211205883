//! `/events/*`: venues with their seats, events and showtimes, and the live seat map.

use std::collections::BTreeSet;

use axum::Extension;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::idempotency::{self, IdempotencyKey};
use super::seat_maps::CachedSeatMap;
use super::{Json, Path, Query};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{AdminUser, BodyLimit, MaybeAdmin};
use crate::api::state::AppState;
use crate::domain::{
    Actor, Category, Event, EventChanges, EventFilter, EventSort, EventStatus, Invalid, LayoutInput, NewEvent,
    NewLayout, NewVenue, Page, Price, QueueSettings, SeatRow, SeatState, TicketType, TimeZone, Venue, VenueChanges,
    VenueKind, VenueWithSeats, check_on_sale_at, check_prices_cover, check_prices_match_first_type, city_of,
    optional_text, parse_accessible_release_hours, parse_city, parse_currency, parse_duration_minutes, parse_image_url,
    parse_prices, parse_ticket_types, required_text,
};

/// A venue's layout of 100,000 seats, written compactly (~40 bytes a seat), is about 4 MB: over
/// the API's 64 KiB body limit, so creating a venue or replacing its layout alone takes up to
/// 5 MiB (below the 6 MB a Lambda function is handed).
pub const VENUE_BODY_LIMIT_BYTES: usize = 5 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_venues, create_venue))
        .routes(routes!(get_venue, update_venue))
        .layer(DefaultBodyLimit::max(VENUE_BODY_LIMIT_BYTES))
        .layer(Extension(BodyLimit(VENUE_BODY_LIMIT_BYTES)))
        .merge(super::venue_layouts::routes())
        .routes(routes!(list_events, create_event))
        .routes(routes!(get_event, update_event, cancel_event))
        .routes(routes!(seat_map))
        .merge(super::seat_states::routes())
        .merge(super::posters::routes())
        .merge(super::waitlist::routes())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SeatRowRequest {
    #[schema(example = "A")]
    pub row: String,
    /// Seats in the row, numbered 1..n.
    #[schema(example = 20)]
    pub seats: i32,
    /// Default `standard`.
    #[schema(example = "standard")]
    pub tier: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateVenueRequest {
    pub name: String,
    pub location: Option<String>,
    pub kind: VenueKind,
    /// Plain rows of numbered seats (one unnamed section of straight rows); give this or `layout`.
    pub rows: Option<Vec<SeatRowRequest>>,
    /// The venue drawn as sections of positioned seats (see the README's "Venue layouts"); give
    /// this or `rows`. At most 100,000 seats; no two seats closer than 1 unit; each seat inside
    /// its section's shape.
    pub layout: Option<LayoutInput>,
    /// The venue's IANA time zone, named after a place (or `UTC`); default `UTC`.
    #[schema(example = "Europe/Madrid")]
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateVenueRequest {
    /// The venue's IANA time zone, named after a place (or `UTC`): its events' times are shown in it.
    #[schema(example = "Europe/Madrid")]
    pub time_zone: Option<String>,
    /// A new layout as plain rows (as at creation); give at most one of this and `layout`.
    pub rows: Option<Vec<SeatRowRequest>>,
    /// A new layout drawn as sections (as at creation). Only while no event of the venue is on
    /// sale and yet to start; seats keep their ids by label (section, row, number).
    pub layout: Option<LayoutInput>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    pub category: Option<Category>,
    pub venue_id: Option<Uuid>,
    /// A search of the title, venue name, city and description: any case, accents ignored, one
    /// typo forgiven per word (two from eight letters); best matches first unless `sort` is given.
    #[param(example = "hamlet madrid")]
    pub q: Option<String>,
    /// `date` (soonest first, the default), `price` (cheapest seat first) or `name`.
    pub sort: Option<EventSort>,
    /// Only events in this city (the last part of the venue's address), any case, accents ignored.
    #[param(example = "Hamburg")]
    pub city: Option<String>,
    /// Starting at or after this time: RFC 3339, or a date (`2026-12-24`, from 00:00 UTC).
    #[param(value_type = Option<String>, example = "2026-12-24")]
    pub from: Option<String>,
    /// Starting at or before this time: RFC 3339, or a date (`2026-12-24`, until 24:00 UTC).
    #[param(value_type = Option<String>, example = "2026-12-31")]
    pub to: Option<String>,
    /// Also list events that started or were canceled.
    pub include_past: Option<bool>,
    /// An access code: the hidden ticket types it unlocks are listed too (of the events it is
    /// valid for; an unknown code is `invalid_code`).
    pub access_code: Option<String>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateEventRequest {
    pub venue_id: Uuid,
    pub name: String,
    pub category: Category,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub start_time: DateTime<Utc>,
    pub duration_minutes: Option<i32>,
    /// One price per seat tier of the venue: the first ticket type's prices. May be left out when
    /// `ticket_types` is given; when both are, they must be the first type's.
    #[serde(default)]
    pub prices: Vec<Price>,
    /// The event's ticket types (issue 21), the first the default: each prices every tier of the
    /// venue and may have a quota. Absent: one type, `standard`, at `prices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_types: Option<Vec<TicketType>>,
    /// ISO 4217, default `EUR`.
    pub currency: Option<String>,
    /// When holds open, before `start_time`; absent or null: on sale at once. Before it a
    /// reserve answers 409 `not_on_sale` with this time.
    pub on_sale_at: Option<DateTime<Utc>>,
    /// A waiting room in front of the event (`/queue/*`); absent or null: none.
    pub queue: Option<QueueSettings>,
    /// Wheelchair spaces and companion seats are held for wheelchair users and their companions
    /// (`accessible: true` reserves) until this many hours before the start, 0 to 8760; absent or
    /// null: never held back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 8760, example = 48)]
    pub accessible_release_hours: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateEventRequest {
    pub name: Option<String>,
    pub category: Option<Category>,
    pub description: Option<String>,
    /// An empty string removes the image.
    pub image_url: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub duration_minutes: Option<i32>,
    /// Replaces every price of the first ticket type; must cover every tier of the venue.
    pub prices: Option<Vec<Price>>,
    /// Replaces the ticket types, whole (see `CreateEventRequest`); `prices`, if also given, must
    /// be the first type's. Allowed after sales: a seat sold keeps its type and price.
    pub ticket_types: Option<Vec<TicketType>>,
    pub currency: Option<String>,
    /// When holds open, before the start; null: on sale at once; absent: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub on_sale_at: Option<Option<DateTime<Utc>>>,
    /// The waiting room, all four settings; null removes it; absent: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<QueueSettings>)]
    pub queue: Option<Option<QueueSettings>>,
    /// Hours before the start until which accessible seats are held back (0 to 8760); null: never
    /// held back; absent: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 8760)]
    pub accessible_release_hours: Option<Option<i64>>,
}

/// A field that was sent, as `Some` of its value (null included): with `#[serde(default)]`, an
/// absent field stays `None`, so `null` and "not sent" differ.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Every venue (cinemas, theatres, arenas, halls), by name.
#[utoipa::path(get, path = "/events/venues", tag = "catalog", responses((status = 200, body = Vec<Venue>)))]
async fn list_venues(State(state): State<AppState>) -> Result<Json<Vec<Venue>>, ApiError> {
    Ok(Json(state.store.list_venues().await?))
}

/// One venue with every seat.
#[utoipa::path(get, path = "/events/venues/{venue_id}", tag = "catalog",
    params(("venue_id" = Uuid, Path)),
    responses(
        (status = 200, body = VenueWithSeats),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn get_venue(
    State(state): State<AppState>,
    Path(venue_id): Path<Uuid>,
) -> Result<Json<VenueWithSeats>, ApiError> {
    let venue = state.store.venue(venue_id).await?.ok_or_else(|| ApiError::not_found("venue"))?;
    Ok(Json(venue))
}

/// Creates a venue (admin): from plain `rows` (seats numbered 1..n in each row) or from a `layout`
/// of sections with positioned seats. A layout is checked whole before anything is written.
#[utoipa::path(post, path = "/events/venues", tag = "catalog", security(("bearer" = [])), request_body = CreateVenueRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key returns the first answer")),
    responses(
        (status = 201, body = VenueWithSeats),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 5 MiB", body = ErrorBody),
        (status = 422, description = "`validation_failed`: bad rows; a layout with overlapping seats, a label twice, a seat outside its section, over 100,000 seats, an unknown attribute or an empty section or row; both or neither of `rows` and `layout`; not a time zone", body = ErrorBody),
    ))]
async fn create_venue(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    key: IdempotencyKey,
    Json(body): Json<CreateVenueRequest>,
) -> Result<Response, ApiError> {
    let venue = match (&body.rows, &body.layout) {
        (Some(rows), None) => NewVenue::parse(&body.name, body.location.as_deref(), body.kind, seat_rows(rows))?,
        (None, Some(layout)) => {
            NewVenue::parse_layout(&body.name, body.location.as_deref(), body.kind, layout.clone())?
        }
        _ => return Err(Invalid::new("rows", "or layout: give exactly one of them").into()),
    };
    let venue = match body.time_zone.as_deref() {
        Some(name) => venue.with_time_zone(TimeZone::parse(name)?),
        None => venue,
    }
    .by(Actor::from(&admin));
    idempotency::once(&state, admin.id, key, &body, || async {
        Ok((StatusCode::CREATED, state.store.create_venue(venue).await?))
    })
    .await
}

/// Changes a venue (admin): its time zone, in which every time of its events is then shown, and
/// its layout (`rows` or `layout`, as at creation), which replaces the old one whole while no event
/// of the venue is on sale and yet to start. Seats are matched by label (section, row, number): a
/// seat in both layouts keeps its id (past bookings and tickets still name it) and takes its new
/// position, tier and attributes; a seat left out is deleted, unless a reservation of an earlier
/// event names it (409). All or nothing; the layout's `version` changes.
#[utoipa::path(patch, path = "/events/venues/{venue_id}", tag = "catalog", security(("bearer" = [])),
    params(("venue_id" = Uuid, Path)), request_body = UpdateVenueRequest,
    responses(
        (status = 200, body = VenueWithSeats),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`venue_in_use`: a new layout while an event of the venue is on sale and yet to start (the detail names it), or one that leaves out a seat an earlier event's reservation names; nothing was changed", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 5 MiB", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a time zone; both `rows` and `layout`; a layout that creating a venue refuses (overlapping seats, a label twice, a seat outside its section, over 100,000 seats, ...)", body = ErrorBody),
    ))]
async fn update_venue(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(venue_id): Path<Uuid>,
    Json(body): Json<UpdateVenueRequest>,
) -> Result<Json<VenueWithSeats>, ApiError> {
    let layout = match (body.rows, body.layout) {
        (Some(rows), None) => Some(NewLayout::from_rows(seat_rows(&rows))?),
        (None, Some(layout)) => Some(NewLayout::from_layout(layout)?),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(Invalid::new("rows", "or layout: give at most one of them").into()),
    };
    let replaces_layout = layout.is_some();
    let changes = VenueChanges {
        time_zone: body.time_zone.as_deref().map(TimeZone::parse).transpose()?,
        layout,
        actor: Some(Actor::from(&admin)),
    };
    let venue = state.store.update_venue(venue_id, changes).await?.ok_or_else(|| ApiError::not_found("venue"))?;
    if replaces_layout {
        // Maps of this venue's past events are drawn from its seats: none may show the old ones.
        state.seat_maps.invalidate_all();
    }
    Ok(Json(venue))
}

/// Plain rows as the requests give them (tier `standard` unless named).
fn seat_rows(rows: &[SeatRowRequest]) -> Vec<SeatRow> {
    rows.iter()
        .map(|r| SeatRow {
            row: r.row.clone(),
            seats: r.seats,
            tier: r.tier.clone().unwrap_or_else(|| "standard".into()),
        })
        .collect()
}

/// Events and showtimes, soonest first (or by `sort`; a search `q` lists the best matches first);
/// past and canceled ones only with `include_past=true`.
#[utoipa::path(get, path = "/events/events", tag = "catalog", params(EventListQuery),
    responses(
        (status = 200, body = Vec<Event>),
        (status = 400, description = "`invalid_request`: a malformed parameter", body = ErrorBody),
        (status = 422, description = "`validation_failed`: limit or offset out of range, or a city with no letter; `invalid_code`: an unknown `access_code`", body = ErrorBody),
    ))]
async fn list_events(
    State(state): State<AppState>,
    MaybeAdmin(admin): MaybeAdmin,
    Query(query): Query<EventListQuery>,
) -> Result<Json<Vec<Event>>, ApiError> {
    let venues = match query.city.as_deref() {
        Some(city) => Some(venues_in(&state, &parse_city(city)?).await?),
        None => None,
    };
    let filter = EventFilter {
        category: query.category,
        venue_id: query.venue_id,
        venues,
        text: query.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()),
        sort: query.sort,
        from: query.from.as_deref().map(|raw| parse_time_bound(raw, "from", false)).transpose()?,
        to: query.to.as_deref().map(|raw| parse_time_bound(raw, "to", true)).transpose()?,
        include_past: query.include_past.unwrap_or(false),
        page: Page::parse(query.limit, query.offset)?,
    };
    let now = Utc::now();
    let mut events = state.store.list_events(&filter, now).await?;
    // Hidden ticket types are for admins, and for buyers with an access code that unlocks them.
    if !admin {
        super::codes::shown_types(&state, query.access_code.as_deref(), &mut events, false, now).await?;
    }
    Ok(Json(events))
}

/// The venues whose address ends in `city` (folded, see `domain::city_of`): venues are few, so
/// the city filter becomes a filter on their ids, the same on every backend.
async fn venues_in(state: &AppState, city: &str) -> Result<Vec<Uuid>, ApiError> {
    let venues = state.store.list_venues().await?;
    Ok(venues.into_iter().filter(|v| city_of(&v.location) == city).map(|v| v.id).collect())
}

/// A `from` or `to` parameter: an RFC 3339 time, or a date meaning the start (`from`) or the end
/// (`to`, inclusive) of that day in UTC.
pub(super) fn parse_time_bound(raw: &str, name: &str, end_of_day: bool) -> Result<DateTime<Utc>, ApiError> {
    let raw = raw.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Ok(time.with_timezone(&Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        ApiError::InvalidRequest(format!("The `{name}` date must look like 2026-12-24 (or a full RFC 3339 time)."))
    })?;
    let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
    Ok(if end_of_day { start + chrono::Duration::days(1) - chrono::Duration::milliseconds(1) } else { start })
}

/// One event. Its hidden ticket types are listed for admins, and for an `access_code` that unlocks them.
#[utoipa::path(get, path = "/events/events/{event_id}", tag = "catalog",
    params(("event_id" = Uuid, Path), AccessCodeQuery),
    responses(
        (status = 200, body = Event),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_code`: an `access_code` that is unknown, not an access code, for another event, outside its window or used up", body = ErrorBody),
    ))]
async fn get_event(
    State(state): State<AppState>,
    MaybeAdmin(admin): MaybeAdmin,
    Path(event_id): Path<Uuid>,
    Query(query): Query<AccessCodeQuery>,
) -> Result<Json<Event>, ApiError> {
    let mut event = load_event(&state, event_id).await?;
    if !admin {
        let one = std::slice::from_mut(&mut event);
        super::codes::shown_types(&state, query.access_code.as_deref(), one, true, Utc::now()).await?;
    }
    Ok(Json(event))
}

/// An access code that shows an event's hidden ticket types it unlocks.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessCodeQuery {
    /// An access code of the event: its hidden ticket types that the code unlocks are listed too.
    pub access_code: Option<String>,
}

async fn load_event(state: &AppState, event_id: Uuid) -> Result<Event, ApiError> {
    state.store.event(event_id, Utc::now()).await?.ok_or_else(|| ApiError::not_found("event"))
}

/// The live seat map: every seat of the event's venue, `available`, `held` or `sold`. A lapsed hold is `available` at once.
/// Answers with an `ETag`; a request whose `If-None-Match` names the current one gets `304 Not Modified`, so polling is cheap.
#[utoipa::path(get, path = "/events/events/{event_id}/seats", tag = "catalog",
    params(("event_id" = Uuid, Path), ("If-None-Match" = Option<String>, Header, description = "The ETag of the seat map the client has")),
    responses(
        (status = 200, body = Vec<SeatState>, headers(("ETag" = String, description = "Changes whenever a seat changes state"))),
        (status = 304, description = "Not Modified: the seat map still has the `If-None-Match` ETag"),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn seat_map(
    State(state): State<AppState>,
    Path(event_id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let map = cached_seat_map(&state, event_id).await?;
    let cache = [(header::ETAG, map.etag.clone()), (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    if if_none_match(&headers, &map.etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], map.body).into_response())
}

/// The event's map as this process keeps it (`seat_maps`), read from the store when it is not
/// kept or no longer fresh.
pub(crate) async fn cached_seat_map(state: &AppState, event_id: Uuid) -> Result<CachedSeatMap, ApiError> {
    if let Some(map) = state.seat_maps.get(event_id) {
        return Ok(map);
    }
    // Held while reading, so the requests that missed together share one store read.
    let _turn = state.seat_maps.refresh_turn(event_id).await;
    match state.seat_maps.get(event_id) {
        Some(map) => Ok(map),
        None => read_seat_map(state, event_id).await,
    }
}

/// Reads the event's map from the store, encodes it (and its live states) once, and keeps it for
/// the next requests.
async fn read_seat_map(state: &AppState, event_id: Uuid) -> Result<CachedSeatMap, ApiError> {
    let generation = state.seat_maps.generation();
    let seats = state.store.seat_map(event_id, Utc::now()).await?.ok_or_else(|| ApiError::not_found("event"))?;
    let body = serde_json::to_vec(&seats).map_err(|e| ApiError::Internal(format!("seat map encoding: {e}")))?;
    let states = serde_json::to_vec(&super::seat_states::SeatStatesBody::of(&seats))
        .map_err(|e| ApiError::Internal(format!("seat states encoding: {e}")))?;
    let map = CachedSeatMap::new(body.into(), states.into(), seats.into());
    state.seat_maps.put(event_id, map.clone(), generation);
    Ok(map)
}

/// Whether `If-None-Match` lists this ETag (weak comparison, as RFC 9110 asks for GET) or is `*`.
pub(crate) fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(wanted) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else { return false };
    let current = etag.to_str().unwrap_or("");
    wanted.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == current)
}

/// Creates an event or one showtime of a movie (admin).
#[utoipa::path(post, path = "/events/events", tag = "catalog", security(("bearer" = [])), request_body = CreateEventRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key returns the first answer")),
    responses(
        (status = 201, body = Event),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 409, description = "`venue_in_use`: the venue's layout is being replaced at this moment; try again", body = ErrorBody),
        (status = 422, description = "`validation_failed`: unknown venue, a tier without a price, a start in the past, an opening (`on_sale_at`) not before the start, a queue setting out of range, `accessible_release_hours` not 0 to 8760; `ticket_types` empty or over 20, a name given twice or not 1 to 32 lowercase letters, digits, `_` or `-`, a type not pricing every tier, a quota not 1 to 100000, or `prices` not the first type's", body = ErrorBody),
    ))]
async fn create_event(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    key: IdempotencyKey,
    Json(body): Json<CreateEventRequest>,
) -> Result<Response, ApiError> {
    let tiers = state
        .store
        .venue_tiers(body.venue_id)
        .await?
        .ok_or_else(|| Invalid::new("venue_id", "is not a known venue"))?;
    let (prices, ticket_types) = priced_types(&tiers, Some(body.prices.clone()), body.ticket_types.clone())?;
    check_future(body.start_time)?;
    check_on_sale_at(body.on_sale_at, body.start_time)?;
    let queue = body.queue.map(QueueSettings::parse).transpose()?;
    let event = NewEvent {
        venue_id: body.venue_id,
        name: required_text("name", &body.name, 200)?,
        category: body.category,
        description: optional_text("description", body.description.as_deref(), 5000)?,
        image_url: parse_image_url(body.image_url.as_deref())?,
        start_time: body.start_time,
        duration_minutes: parse_duration_minutes(body.duration_minutes)?,
        currency: parse_currency(body.currency.as_deref())?,
        prices,
        ticket_types,
        on_sale_at: body.on_sale_at,
        queue,
        accessible_release_hours: parse_accessible_release_hours(body.accessible_release_hours)?,
        actor: Some(Actor::from(&admin)),
    };
    idempotency::once(&state, admin.id, key, &body, || async {
        Ok((StatusCode::CREATED, state.store.create_event(event).await?))
    })
    .await
}

/// An event's prices and ticket types from a request: `ticket_types` parsed against the venue's
/// tiers, with `prices` (if given and not empty) required to be the first type's; or, without
/// types, `prices` as one type `standard`.
fn priced_types(
    tiers: &BTreeSet<String>,
    prices: Option<Vec<Price>>,
    ticket_types: Option<Vec<TicketType>>,
) -> Result<(Vec<Price>, Vec<TicketType>), Invalid> {
    match ticket_types {
        Some(raw) => {
            let types = parse_ticket_types(raw, tiers)?;
            let first = types.first().map(|t| t.prices.clone()).unwrap_or_default();
            if let Some(given) = prices.filter(|p| !p.is_empty()) {
                check_prices_match_first_type(&parse_prices(given)?, &types)?;
            }
            Ok((first, types))
        }
        None => {
            let prices = parse_prices(prices.unwrap_or_default())?;
            check_prices_cover(tiers, &prices)?;
            let mut sorted = prices.clone();
            sorted.sort_by(|a, b| a.tier.cmp(&b.tier));
            Ok((prices, vec![TicketType::standard(&sorted)]))
        }
    }
}

fn check_future(start_time: DateTime<Utc>) -> Result<(), Invalid> {
    if start_time <= Utc::now() {
        return Err(Invalid::new("start_time", "must be in the future"));
    }
    Ok(())
}

/// Changes an event (admin); every field is optional.
#[utoipa::path(patch, path = "/events/events/{event_id}", tag = "catalog", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)), request_body = UpdateEventRequest,
    responses(
        (status = 200, body = Event),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_state`: the event was canceled", body = ErrorBody),
        (status = 422, description = "`validation_failed`: as for a new event (`accessible_release_hours` not 0 to 8760, …)", body = ErrorBody),
    ))]
async fn update_event(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(event_id): Path<Uuid>,
    Json(body): Json<UpdateEventRequest>,
) -> Result<Json<Event>, ApiError> {
    let event = load_event(&state, event_id).await?;
    if event.status == EventStatus::Canceled {
        return Err(ApiError::InvalidState("This event was canceled and can no longer be changed.".into()));
    }
    let (prices, ticket_types) = match (body.prices, body.ticket_types) {
        (None, None) => (None, None),
        (prices, Some(types)) => {
            let tiers = state.store.venue_tiers(event.venue_id).await?.ok_or_else(|| ApiError::not_found("venue"))?;
            let (prices, types) = priced_types(&tiers, prices, Some(types))?;
            (Some(prices), Some(types))
        }
        // New prices alone are the first type's; the other types stay as they are.
        (Some(prices), None) => {
            let tiers = state.store.venue_tiers(event.venue_id).await?.ok_or_else(|| ApiError::not_found("venue"))?;
            let (prices, mut first) = priced_types(&tiers, Some(prices), None)?;
            let mut types = event.ticket_types.clone();
            match types.first_mut() {
                Some(kept) => kept.prices = first.remove(0).prices,
                None => types = first,
            }
            (Some(prices), Some(types))
        }
    };
    if let Some(start_time) = body.start_time {
        check_future(start_time)?;
    }
    // The opening is checked against the start the event will have after this change.
    let on_sale_at = body.on_sale_at.unwrap_or(event.on_sale_at);
    check_on_sale_at(on_sale_at, body.start_time.unwrap_or(event.start_time))?;
    let queue = body.queue.map(|queue| queue.map(QueueSettings::parse).transpose()).transpose()?;
    let changes = EventChanges {
        name: body.name.as_deref().map(|n| required_text("name", n, 200)).transpose()?,
        category: body.category,
        description: body.description.as_deref().map(|d| optional_text("description", Some(d), 5000)).transpose()?,
        image_url: body.image_url.as_deref().map(|u| parse_image_url(Some(u))).transpose()?,
        start_time: body.start_time,
        duration_minutes: body.duration_minutes.map(|m| parse_duration_minutes(Some(m))).transpose()?,
        currency: body.currency.as_deref().map(|c| parse_currency(Some(c))).transpose()?,
        prices,
        ticket_types,
        poster: None,
        on_sale_at: body.on_sale_at,
        queue,
        accessible_release_hours: body.accessible_release_hours.map(parse_accessible_release_hours).transpose()?,
        actor: Some(Actor::from(&admin)),
    };
    let updated = state.store.update_event(event_id, changes).await?.ok_or_else(|| ApiError::not_found("event"))?;
    state.seat_maps.invalidate(event_id);
    Ok(Json(updated))
}

/// Cancels an event (admin): every held or confirmed reservation of it becomes `canceled`, and every paid seat is refunded.
#[utoipa::path(delete, path = "/events/events/{event_id}", tag = "catalog", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The event, now `canceled`", body = Event),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn cancel_event(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(event_id): Path<Uuid>,
) -> Result<Json<Event>, ApiError> {
    let actor = Actor::from(&admin);
    let cancellation = state
        .store
        .cancel_event(event_id, Utc::now(), Some(&actor))
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    state.seat_maps.invalidate(event_id);
    super::payments::pay_out(&state, &cancellation.refunds).await;
    Ok(Json(cancellation.canceled))
}
