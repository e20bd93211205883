//! `PUT` and `DELETE /events/events/{event_id}/poster`: an event's poster (admin). The body is the
//! image itself (JPEG, PNG or WebP, at most 5 MB), known by its bytes whatever its name or
//! Content-Type; it is stored resized in two sizes (`crate::posters`) and the event answers with
//! `poster: {small, large}`. Served with the catalog (`api-catalog` on Lambda).

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use chrono::Utc;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Json, Path};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::AdminUser;
use crate::api::state::AppState;
use crate::domain::{Actor, Event, EventChanges, EventStatus};
use crate::posters::{self, MAX_UPLOAD_BYTES, PosterError};

pub fn routes() -> OpenApiRouter<AppState> {
    // The body is read with its own 5 MB cap below, not the API's 64 KiB one.
    OpenApiRouter::new().routes(routes!(upload_poster, remove_poster)).layer(DefaultBodyLimit::disable())
}

/// Uploads an event's poster (admin): the body is the image, JPEG, PNG or WebP, at most 5 MB.
/// It is stored as two JPEGs (about 480 and 1200 px wide, never enlarged) replacing any poster
/// the event had.
#[utoipa::path(put, path = "/events/events/{event_id}/poster", tag = "catalog", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    request_body(description = "The image's bytes; its type is read from them, not from a name or header",
        content(("image/jpeg"), ("image/png"), ("image/webp"), ("application/octet-stream"))),
    responses(
        (status = 200, description = "The event with its `poster`", body = Event),
        (status = 400, description = "`invalid_request`: the upload was cut off", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_state`: the event was canceled", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not a JPEG, PNG or WebP image", body = ErrorBody),
        (status = 422, description = "`validation_failed`: over 5 MB, or an image that cannot be read", body = ErrorBody),
        (status = 503, description = "`unavailable`: the poster could not be stored", body = ErrorBody),
    ))]
async fn upload_poster(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(event_id): Path<Uuid>,
    body: Body,
) -> Result<Json<Event>, ApiError> {
    changeable_event(&state, event_id).await?;
    let bytes = match Limited::new(body, MAX_UPLOAD_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(ApiError::Validation(PosterError::TooLarge.to_string()));
        }
        Err(_) => return Err(ApiError::InvalidRequest("The upload was cut off before its end; send it again.".into())),
    };
    // Decoding and resizing take CPU for a while: not on the threads that serve other requests.
    let prepared = tokio::task::spawn_blocking(move || posters::prepare(event_id, &bytes))
        .await
        .map_err(|e| ApiError::Internal(format!("poster preparation stopped: {e}")))?
        .map_err(|e| match e {
            PosterError::Unsupported => ApiError::UnsupportedMediaType(e.to_string()),
            PosterError::TooLarge | PosterError::Unreadable => ApiError::Validation(e.to_string()),
        })?;
    let poster = posters::store(state.posters.as_ref(), prepared).await.map_err(|e| {
        tracing::error!(error = %e, %event_id, "poster not stored");
        ApiError::Unavailable(e)
    })?;
    let changes = EventChanges { poster: Some(Some(poster)), actor: Some(Actor::from(&admin)), ..Default::default() };
    let updated = state.store.update_event(event_id, changes).await?.ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(updated))
}

/// Removes an event's poster (admin): the site draws its poster again.
#[utoipa::path(delete, path = "/events/events/{event_id}/poster", tag = "catalog", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The event, `poster` null", body = Event),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_state`: the event was canceled", body = ErrorBody),
    ))]
async fn remove_poster(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(event_id): Path<Uuid>,
) -> Result<Json<Event>, ApiError> {
    changeable_event(&state, event_id).await?;
    let changes = EventChanges { poster: Some(None), actor: Some(Actor::from(&admin)), ..Default::default() };
    let updated = state.store.update_event(event_id, changes).await?.ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(updated))
}

/// The event, unless it is unknown (404) or canceled (409), as `PATCH` treats it.
async fn changeable_event(state: &AppState, event_id: Uuid) -> Result<Event, ApiError> {
    let event = state.store.event(event_id, Utc::now()).await?.ok_or_else(|| ApiError::not_found("event"))?;
    if event.status == EventStatus::Canceled {
        return Err(ApiError::InvalidState("This event was canceled and can no longer be changed.".into()));
    }
    Ok(event)
}
