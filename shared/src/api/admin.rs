//! `/admin/*`: what only admins look after. The outbox: its messages by status (the failed ones
//! first of all: what the sender gave up on and why) and a resend, which puts a failed message
//! back to pending for the sender's next pass. The sales reports (`/admin/reports/*`) are in
//! `reports.rs`, the audit log (`/admin/audit`) in `audit.rs`, the codes (`/admin/codes`) in `codes.rs`.

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Json, Path, Query};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::AdminUser;
use crate::api::state::AppState;
use crate::domain::{Actor, MessageStatus, OutboxMessage, Page};
use crate::store::StoreError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages))
        .routes(routes!(resend_message))
        .merge(super::reports::routes())
        .merge(super::audit::routes())
        .merge(super::webhooks::routes())
        .merge(super::codes::routes())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageListQuery {
    /// Only messages in this state (`failed`: what the sender gave up on).
    pub status: Option<MessageStatus>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// The outbox's messages, newest first (admin); `status=failed` lists what the sender gave up on,
/// with the last attempt's reason.
#[utoipa::path(get, path = "/admin/messages", tag = "admin", security(("bearer" = [])), params(MessageListQuery),
    responses(
        (status = 200, body = Vec<OutboxMessage>),
        (status = 400, description = "`invalid_request`: an unknown status", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 422, description = "`validation_failed`: limit or offset out of range", body = ErrorBody),
    ))]
async fn list_messages(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<MessageListQuery>,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    let page = Page::parse(query.limit, query.offset)?;
    Ok(Json(state.store.list_messages(query.status, page).await?))
}

/// Sends a failed message again (admin): it is pending at once, its attempts counted from zero,
/// and keeps its id (so its mail keeps its `Message-ID`).
#[utoipa::path(post, path = "/admin/messages/{message_id}/resend", tag = "admin", security(("bearer" = [])),
    params(("message_id" = Uuid, Path, description = "The message's id")),
    responses(
        (status = 200, description = "The message, pending again", body = OutboxMessage),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_state`: the message has not failed (it is pending or sent)", body = ErrorBody),
    ))]
async fn resend_message(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(message_id): Path<Uuid>,
) -> Result<Json<OutboxMessage>, ApiError> {
    match state.store.resend_message(message_id, Utc::now(), Some(&Actor::from(&admin))).await {
        Ok(message) => Ok(Json(message)),
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found("message")),
        Err(StoreError::InvalidState(_)) => {
            Err(ApiError::InvalidState("Only a failed message can be sent again; this one is pending or sent.".into()))
        }
        Err(other) => Err(other.into()),
    }
}
