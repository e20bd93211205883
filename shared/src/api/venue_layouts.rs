//! `GET /events/venues/{venue_id}/layout` (issue 19): a venue's static layout (sections with
//! their shapes, rows, every seat's id, label, position, tier and attributes), the part of a seat
//! map that does not change while an event sells; the live part is `/seat-states`.
//!
//! The layout is versioned (`VenueLayoutDocument::version`): asked with `?version=<current>` it is
//! cacheable for a year (`immutable`), since that URL never names another layout; asked without,
//! it is cacheable for a minute and then revalidated (`ETag`, 304). Gzipped when accepted.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::catalog::if_none_match;
use super::seat_states::accepts_gzip;
use super::{Path, Query};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::state::AppState;
use crate::domain::VenueLayoutDocument;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(venue_layout))
}

/// How long a layout asked for without its version may be used before it is revalidated.
const UNVERSIONED_MAX_AGE: &str = "public, max-age=60, must-revalidate";
/// A layout asked for by its current version: that URL's answer never changes.
const VERSIONED_CACHE: &str = "public, max-age=31536000, immutable";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LayoutQuery {
    /// The layout version the client expects (from an earlier answer). When it is the current
    /// one the answer may be cached for a year; any other value gets the current layout, cacheable
    /// for a minute like an answer without it.
    pub version: Option<String>,
}

/// The venue's static layout: the stage, its sections with their shapes, rows, and every seat
/// with its id, label, position (venue units), tier and attributes. A venue made of plain rows
/// answers a generated layout (one section of straight rows). `ETag` from the layout's version;
/// `If-None-Match` with it gets `304 Not Modified`; gzipped when the request accepts it.
#[utoipa::path(get, path = "/events/venues/{venue_id}/layout", tag = "catalog",
    params(
        ("venue_id" = Uuid, Path),
        LayoutQuery,
        ("If-None-Match" = Option<String>, Header, description = "The ETag of the layout the client has"),
    ),
    responses(
        (status = 200, body = VenueLayoutDocument, headers(
            ("ETag" = String, description = "Changes whenever the venue's layout or seats change"),
            ("Cache-Control" = String, description = "A year (`immutable`) when `version` is the current one, else a minute"),
        )),
        (status = 304, description = "Not Modified: the layout still has the `If-None-Match` ETag"),
        (status = 400, description = "`invalid_request`: not a UUID", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn venue_layout(
    State(state): State<AppState>,
    Path(venue_id): Path<Uuid>,
    Query(query): Query<LayoutQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let stored = state.store.venue_layout(venue_id).await?.ok_or_else(|| ApiError::not_found("venue"))?;
    let layout = VenueLayoutDocument::from_stored(stored).map_err(ApiError::Internal)?;
    let gzip = accepts_gzip(&headers);
    // One validator per encoding, as a strong validator must be.
    let suffix = if gzip { "-gzip" } else { "" };
    let etag = HeaderValue::from_str(&format!("\"{}{suffix}\"", layout.version))
        .map_err(|_| ApiError::Internal("a layout version is not a header value".into()))?;
    let cache_control =
        if query.version.as_deref() == Some(layout.version.as_str()) { VERSIONED_CACHE } else { UNVERSIONED_MAX_AGE };
    let cache = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache_control)),
        (header::VARY, HeaderValue::from_static("accept-encoding")),
    ];
    if if_none_match(&headers, &cache[0].1) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let body = serde_json::to_vec(&layout).map_err(|e| ApiError::Internal(format!("layout encoding: {e}")))?;
    let json = (header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(if gzip {
        let gzipped = crate::gzip::compress(&body);
        (cache, [json, (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))], gzipped).into_response()
    } else {
        (cache, [json], body).into_response()
    })
}
