//! `/admin/webhooks/*`: outgoing webhooks (issue 21), admins only. Register an endpoint (its
//! URL, the secret its deliveries are signed with, never answered again, and the event types it
//! wants), list and delete them; an endpoint's deliveries with their last answer, and a replay
//! of one (the same payload and `id`, pending again). Delivering is the delivery job's
//! (`crate::webhooks`).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Json, Path, Query};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::AdminUser;
use crate::api::state::AppState;
use crate::domain::{Actor, NewWebhook, Page, Webhook, WebhookDelivery, WebhookEventType};
use crate::store::StoreError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(replay_delivery))
}

/// An endpoint to register. No `Debug`: the secret is never printed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where deliveries are posted: `http://` or `https://`, at most 2,048 characters.
    #[schema(example = "https://example.com/proeventa-hooks")]
    pub url: String,
    /// 16 to 256 characters; each delivery's `x-proeventa-signature` is an HMAC-SHA256 keyed
    /// with it. Never answered again.
    #[schema(example = "whsec-0123456789abcdef")]
    pub secret: String,
    /// The event types it wants, at least one.
    #[schema(value_type = Vec<WebhookEventType>)]
    pub events: Vec<String>,
}

/// Registers an endpoint (admin): from now on, each event of a type it wants is posted to it.
#[utoipa::path(post, path = "/admin/webhooks", tag = "admin", security(("bearer" = [])), request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "The endpoint (without its secret)", body = Webhook),
        (status = 400, description = "`invalid_request`: not JSON, or a field missing or of the wrong type", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a URL that is not http(s), a secret not 16 to 256 characters, no or an unknown event type", body = ErrorBody),
    ))]
async fn create_webhook(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(body): Json<CreateWebhookRequest>,
) -> Result<(StatusCode, Json<Webhook>), ApiError> {
    let webhook = NewWebhook::parse(&body.url, &body.secret, &body.events)?;
    let created = state.store.create_webhook(&webhook, Utc::now(), Some(&Actor::from(&admin))).await?;
    tracing::info!(webhook_id = %created.id, url = %created.url.as_str(), "webhook endpoint registered");
    Ok((StatusCode::CREATED, Json(created)))
}

/// The registered endpoints, oldest first (admin), without their secrets.
#[utoipa::path(get, path = "/admin/webhooks", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<Webhook>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
    ))]
async fn list_webhooks(State(state): State<AppState>, _admin: AdminUser) -> Result<Json<Vec<Webhook>>, ApiError> {
    Ok(Json(state.store.list_webhooks().await?))
}

/// Removes an endpoint (admin): nothing more is posted to it, its deliveries go with it.
#[utoipa::path(delete, path = "/admin/webhooks/{webhook_id}", tag = "admin", security(("bearer" = [])),
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn delete_webhook(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(webhook_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    match state.store.delete_webhook(webhook_id, Some(&Actor::from(&admin))).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found("webhook")),
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListQuery {
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// An endpoint's deliveries, newest first (admin): status, attempts, the last answer's status
/// and the start of its body (or why none came), and when it is tried next.
#[utoipa::path(get, path = "/admin/webhooks/{webhook_id}/deliveries", tag = "admin", security(("bearer" = [])),
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id"), DeliveryListQuery),
    responses(
        (status = 200, body = Vec<WebhookDelivery>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown endpoint", body = ErrorBody),
        (status = 422, description = "`validation_failed`: limit or offset out of range", body = ErrorBody),
    ))]
async fn list_deliveries(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(webhook_id): Path<Uuid>,
    Query(query): Query<DeliveryListQuery>,
) -> Result<Json<Vec<WebhookDelivery>>, ApiError> {
    let page = Page::parse(query.limit, query.offset)?;
    match state.store.list_deliveries(webhook_id, page).await {
        Ok(deliveries) => Ok(Json(deliveries)),
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found("webhook")),
        Err(other) => Err(other.into()),
    }
}

/// Posts a delivery again (admin): pending at once, attempts from zero, the same payload and
/// `id` (a receiver that kept it recognises it).
#[utoipa::path(post, path = "/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/replay", tag = "admin",
    security(("bearer" = [])),
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id"),
           ("delivery_id" = Uuid, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "The delivery, pending again", body = WebhookDelivery),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 404, description = "`not_found`: no such delivery of this endpoint", body = ErrorBody),
        (status = 409, description = "`invalid_state`: the delivery is still pending", body = ErrorBody),
    ))]
async fn replay_delivery(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path((webhook_id, delivery_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<WebhookDelivery>, ApiError> {
    match state.store.replay_delivery(webhook_id, delivery_id, Utc::now()).await {
        Ok(delivery) => Ok(Json(delivery)),
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found("delivery")),
        Err(StoreError::InvalidState(_)) => Err(ApiError::InvalidState(
            "This delivery is still pending: it will be posted anyway, so only a delivered or failed one can be replayed."
                .into(),
        )),
        Err(other) => Err(other.into()),
    }
}
