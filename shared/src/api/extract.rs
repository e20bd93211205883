//! Extractors. Input: `Json` (400 invalid_json, 413, 415, 422 naming the field), `Path` and
//! `Query` (400 invalid_request), so malformed input gets the contract's errors. Identity:
//! `AuthUser`, `StaffUser` and `AdminUser` (a valid bearer token of an enabled account, read on every request)
//! and `ClientAddr` (the transport's client address, never a header).

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use uuid::Uuid;

use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::auth::TokenError;
use crate::domain::{Role, User};

/// A JSON body in, or a JSON body out.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    /// Syntax is checked before types, so a body that is not JSON at all is always 400
    /// `invalid_json`, and 422 is kept for well-formed JSON with wrong fields.
    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "Send the body as JSON with `Content-Type: application/json`.".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(body_rejection)?;
        check_json_syntax(&bytes)?;
        check_json_object(&bytes)?;
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes).map_err(|rejection| match rejection {
            // The syntax is known good by now: what the typed parse still calls syntax (a number or
            // an array where an enum's name belongs, a lone surrogate escape) is a wrong value.
            JsonRejection::JsonSyntaxError(e) => {
                let text = e.body_text();
                let detail = text.strip_prefix("Failed to parse the request body as JSON: ").unwrap_or(&text);
                ApiError::Validation(format!("Invalid field: {detail}"))
            }
            other => other.into(),
        })?;
        Ok(Self(value))
    }
}

/// 422 unless the JSON document is an object: every request body of this API is one, and serde
/// would otherwise fill a struct from an array of its fields in order (`[null, null]`).
pub(crate) fn check_json_object(bytes: &[u8]) -> Result<(), ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        _ => Err(ApiError::Validation("The request body must be a JSON object.".into())),
    }
}

/// A body that could not be read: too large (413), or cut off on the way (400).
pub(crate) fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::InvalidJson("The request body could not be read.".into())
    }
}

/// 400 `invalid_json` unless the body is one JSON document in UTF-8 (RFC 8259 allows no other
/// encoding; the skipping parser below would pass invalid bytes inside strings it skips).
pub(crate) fn check_json_syntax(bytes: &[u8]) -> Result<(), ApiError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| ApiError::InvalidJson("The request body is not UTF-8.".into()))?;
    serde_json::from_str::<IgnoredAny>(text)
        .map(drop)
        .map_err(|_| ApiError::InvalidJson("The request body is not valid JSON.".into()))
}

/// `application/json` or any `application/*+json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                let text = e.body_text();
                let detail =
                    text.strip_prefix("Failed to deserialize the JSON body into the target type: ").unwrap_or(&text);
                ApiError::Validation(format!("Invalid field: {detail}"))
            }
            JsonRejection::JsonSyntaxError(_) => ApiError::InvalidJson("The request body is not valid JSON.".into()),
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("Send the body as JSON with `Content-Type: application/json`.".into())
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::InvalidJson("The request body could not be read.".into()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(e) => ApiError::InvalidRequest(format!(
                "Malformed path parameter: {}",
                e.body_text().trim_start_matches("Invalid URL: ")
            )),
            other => ApiError::Internal(format!("path extraction: {}", other.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let detail = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text);
        ApiError::InvalidRequest(format!("Malformed query parameter: {detail}"))
    }
}

/// The caller, proven by a valid bearer token of an account that exists and is enabled now.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.0.role == Role::Admin
    }

    /// Owners and admins may see and change a user's things; everyone else is refused.
    pub fn may_act_for(&self, user_id: Uuid) -> bool {
        self.is_admin() || self.0.id == user_id
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(ApiError::unauthorized)?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("The Authorization header must be `Bearer <token>`.".into()))?;
        let claims = state.tokens.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::TokenExpired,
            TokenError::Invalid => ApiError::Unauthorized("The access token is not valid.".into()),
        })?;
        // Read the account on every request, so disabling or deleting it takes effect at once.
        let user = state
            .store
            .user(claims.sub)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("The account of this token no longer exists.".into()))?;
        if claims.ver != user.token_version {
            return Err(ApiError::Unauthorized(
                "This token was issued before the account's password was changed; log in again.".into(),
            ));
        }
        if user.disabled {
            return Err(ApiError::Forbidden("This account is disabled.".into()));
        }
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        Ok(Self(user))
    }
}

/// An authenticated admin; customers get 403.
#[derive(Debug, Clone)]
pub struct AdminUser(pub User);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(ApiError::Forbidden("This route is for admins only.".into()));
        }
        Ok(Self(user))
    }
}

/// An authenticated door worker: staff or an admin (admins can do everything staff can);
/// customers get 403.
#[derive(Debug, Clone)]
pub struct StaffUser(pub User);

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if !matches!(user.role, Role::Staff | Role::Admin) {
            return Err(ApiError::Forbidden("This route is for door staff and admins only.".into()));
        }
        Ok(Self(user))
    }
}

/// The network address of the client, when the transport knows it (a socket locally, the
/// API Gateway request context on Lambda). Never taken from a header a client could forge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let socket = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        Ok(Self(socket.or_else(|| parts.extensions.get::<ClientAddr>().and_then(|c| c.0))))
    }
}
