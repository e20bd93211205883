//! `Idempotency-Key`: a retried mutating request with the same key and user gets the first
//! answer again and changes nothing; the same key with a different request is refused.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::error::{ApiError, ErrorBody};
use crate::api::state::AppState;
use crate::store::IdempotencyClaim;

pub const HEADER: &str = "idempotency-key";
/// Set on a response that repeats a stored answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The optional `Idempotency-Key` header: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(HEADER) else { return Ok(Self(None)) };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
        match key {
            Some(key) => Ok(Self(Some(key.to_owned()))),
            None => Err(ApiError::InvalidRequest("Idempotency-Key must be 1 to 255 visible ASCII characters.".into())),
        }
    }
}

/// Runs `operation` once per (user, key): a retry replays the stored answer, success or
/// client error alike; a server-side failure, or an answer that only says "not yet" (409
/// `not_on_sale`, 403 `queue_required`), forgets the key so the client may retry.
pub async fn once<T, F, Fut>(
    state: &AppState,
    user_id: Uuid,
    key: IdempotencyKey,
    request: &impl Serialize,
    operation: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, T), ApiError>>,
{
    let Some(key) = key.0 else {
        return operation().await.map(|(status, body)| (status, axum::Json(body)).into_response());
    };
    let fingerprint = fingerprint(request)?;
    match state.store.claim_idempotency_key(user_id, &key, &fingerprint, chrono::Utc::now()).await? {
        IdempotencyClaim::Claimed => {}
        IdempotencyClaim::Replay { status, body } => return Ok(replay(status, body)),
        IdempotencyClaim::InFlight => {
            return Err(ApiError::InvalidState(
                "A request with this Idempotency-Key is still being processed; retry shortly.".into(),
            ));
        }
        IdempotencyClaim::Mismatch => {
            return Err(ApiError::Validation("Idempotency-Key was already used with a different request.".into()));
        }
    }
    let (status, body) = match operation().await {
        Ok((status, body)) => (status, to_json(&body)?),
        // A sale that has not opened yet, or not yet for this buyer (the waiting room), is not
        // kept: the same request is meant to be sent again at the opening or once admitted.
        Err(err)
            if err.status().is_client_error()
                && !matches!(err, ApiError::NotOnSale { .. } | ApiError::QueueRequired(_)) =>
        {
            (err.status(), to_json(&ErrorBody { error: err.code().into(), detail: err.detail() })?)
        }
        Err(err) => {
            state.store.release_idempotency_key(user_id, &key).await?;
            return Err(err);
        }
    };
    state.store.complete_idempotency_key(user_id, &key, status.as_u16(), &body).await?;
    Ok(json_response(status, body))
}

fn fingerprint(request: &impl Serialize) -> Result<String, ApiError> {
    let bytes = serde_json::to_vec(request).map_err(|e| ApiError::Internal(format!("fingerprint: {e}")))?;
    Ok(crate::hex::encode(&Sha256::digest(&bytes)))
}

fn to_json(body: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|e| ApiError::Internal(format!("response encoding: {e}")))
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = json_response(status, body);
    response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}
