//! `GET /events/events/{event_id}/seat-states`: the live statuses of an event's seats in a few
//! bytes (issue 19), for a seat map that already has the seats (`GET
//! /events/events/{event_id}/seats`, read once) and polls what changes. A 20,000-seat arena's map
//! is over 2 MB; its states mid-sale are a few KB, gzipped for a client that accepts it, and
//! answered 304 while nothing moved.
//!
//! The states come from the same per-process cache as the map (`seat_maps`, encoded once per
//! store read), so a poll costs what a map revalidation costs. The site polls them as a simple
//! request (no header of its own, so no CORS preflight): the browser's cache sends the `ETag`
//! back itself (`Cache-Control: no-cache`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::Path;
use super::catalog::{cached_seat_map, if_none_match};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::state::AppState;
use crate::domain::{SeatState, encode_seat_states};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(seat_states))
}

/// An event's seat statuses, in the order of its seat map.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct SeatStatesBody {
    /// How many seats the map has (the statuses the string stands for).
    pub seats: u32,
    pub available: u32,
    pub held: u32,
    pub sold: u32,
    /// The statuses in the order of `GET /events/events/{event_id}/seats`, run-length encoded:
    /// each run is its length (left out when 1) and a letter, `a` available, `h` held, `s` sold.
    /// `"118a2h4s"`: 118 seats available, then 2 held, then 4 sold.
    #[schema(example = "118a2h4s")]
    pub states: String,
}

impl SeatStatesBody {
    pub fn of(seats: &[SeatState]) -> Self {
        let (states, counts) = encode_seat_states(seats);
        Self {
            seats: u32::try_from(seats.len()).unwrap_or(u32::MAX),
            available: counts.available,
            held: counts.held,
            sold: counts.sold,
            states,
        }
    }
}

/// The live statuses of the event's seats, compact (see `SeatStatesBody`): what a seat map polls
/// once it has the seats. Answers with an `ETag`; a request whose `If-None-Match` names the current
/// one gets `304 Not Modified`. Gzipped when the request accepts it.
#[utoipa::path(get, path = "/events/events/{event_id}/seat-states", tag = "catalog",
    params(
        ("event_id" = Uuid, Path),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of the states the client has"),
    ),
    responses(
        (status = 200, body = SeatStatesBody, headers(("ETag" = String, description = "Changes whenever a seat changes state"))),
        (status = 304, description = "Not Modified: the states still have the `If-None-Match` ETag"),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn seat_states(
    State(state): State<AppState>,
    Path(event_id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let states = cached_seat_map(&state, event_id).await?.states;
    let gzip = accepts_gzip(&headers);
    let (body, etag) = if gzip { (states.gzipped, states.gzipped_etag) } else { (states.plain, states.etag) };
    let cache = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::VARY, HeaderValue::from_static("accept-encoding")),
    ];
    if if_none_match(&headers, &cache[0].1) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let json = (header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(if gzip {
        (cache, [json, (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))], body).into_response()
    } else {
        (cache, [json], body).into_response()
    })
}

/// Whether `Accept-Encoding` lists gzip (or `*`) with a weight above zero.
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    let values = headers.get_all(header::ACCEPT_ENCODING);
    let mut codings = values.iter().filter_map(|value| value.to_str().ok()).flat_map(|value| value.split(','));
    codings.any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let weight = parts
            .find_map(|part| part.strip_prefix("q=").or_else(|| part.strip_prefix("Q=")))
            .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
        (name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") || name == "*") && weight > 0.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).expect("a header value"));
        headers
    }

    #[test]
    fn gzip_is_sent_only_where_accepted() {
        assert!(accepts_gzip(&with("gzip, deflate, br")));
        assert!(accepts_gzip(&with("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&with("*")));
        assert!(!accepts_gzip(&with("br")));
        assert!(!accepts_gzip(&with("gzip;q=0")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
