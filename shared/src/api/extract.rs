//! Extractors. Input: `Json` (400 invalid_json, 413, 415, 422 naming the field), `Path` and
//! `Query` (400 invalid_request), so malformed input gets the contract's errors, each with a
//! sentence for a person, never the parser's own words. Identity:
//! `AuthUser`, `StaffUser` and `AdminUser` (a valid bearer token of an enabled account, read on every request)
//! and `ClientAddr` (the transport's client address, never a header).

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::MatchedPath;
use axum::extract::path::ErrorKind;
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
        let limit = BodyLimit::of(&request);
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| body_rejection(rejection, limit))?;
        check_json_syntax(&bytes)?;
        check_json_object(&bytes)?;
        typed_json(&bytes).map(Self)
    }
}

/// A body whose JSON syntax is known good, read into `T`: a wrong field is 422 naming it in a
/// person's words (`human_field_error`). What the typed parse still calls syntax (a number or an
/// array where an enum's name belongs, a lone surrogate escape) is a wrong value too.
pub(crate) fn typed_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let axum::Json(value) = axum::Json::<T>::from_bytes(bytes).map_err(|rejection| match rejection {
        JsonRejection::JsonSyntaxError(e) => {
            let text = e.body_text();
            let detail = text.strip_prefix("Failed to parse the request body as JSON: ").unwrap_or(&text);
            ApiError::Validation(human_field_error(detail))
        }
        other => other.into(),
    })?;
    Ok(value)
}

/// 422 unless the JSON document is an object: every request body of this API is one, and serde
/// would otherwise fill a struct from an array of its fields in order (`[null, null]`).
pub(crate) fn check_json_object(bytes: &[u8]) -> Result<(), ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        _ => Err(ApiError::Validation("The request body must be a JSON object.".into())),
    }
}

/// The body limit of a route that takes more than the API's `BODY_LIMIT_BYTES`, beside its
/// `DefaultBodyLimit` layer, so that a 413 names the limit the body was over (axum keeps its own
/// limit private).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl BodyLimit {
    /// The limit of the route the request reached.
    pub(crate) fn of(request: &Request) -> BodyLimit {
        request.extensions().get::<BodyLimit>().copied().unwrap_or(BodyLimit(super::BODY_LIMIT_BYTES))
    }
}

/// A body that could not be read: too large (413), or cut off on the way (400).
pub(crate) fn body_rejection(rejection: BytesRejection, limit: BodyLimit) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit_bytes: limit.0 }
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

/// Path parameters; a malformed one is 400 `invalid_request` naming what the link was for
/// ("That event link is not valid."), from the route's own parameter names.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => {
                let template = parts.extensions.get::<MatchedPath>().map(|m| m.as_str().to_owned());
                Err(path_rejection(rejection, template.as_deref()))
            }
        }
    }
}

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
                ApiError::Validation(human_field_error(detail))
            }
            JsonRejection::JsonSyntaxError(_) => ApiError::InvalidJson("The request body is not valid JSON.".into()),
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("Send the body as JSON with `Content-Type: application/json`.".into())
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge { limit_bytes: super::BODY_LIMIT_BYTES }
            }
            _ => ApiError::InvalidJson("The request body could not be read.".into()),
        }
    }
}

/// A path parameter that did not parse, told as the link it was: the parameter the parser names,
/// or the route's only one, without the parser's words ("That event link is not valid.").
fn path_rejection(rejection: PathRejection, template: Option<&str>) -> ApiError {
    let PathRejection::FailedToDeserializePathParams(e) = rejection else {
        return ApiError::Internal(format!("path extraction: {}", rejection.body_text()));
    };
    let named = match e.kind() {
        ErrorKind::ParseErrorAtKey { key, .. }
        | ErrorKind::InvalidUtf8InPathParam { key }
        | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
        _ => None,
    };
    let params: Vec<&str> = template
        .unwrap_or("")
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect();
    let key = named.or_else(|| (params.len() == 1).then(|| params[0].to_owned()));
    ApiError::InvalidRequest(match key {
        Some(key) => format!("That {} link is not valid.", key.trim_end_matches("_id").replace('_', " ")),
        None => "That link is not valid.".into(),
    })
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let detail = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text);
        ApiError::InvalidRequest(match field_path(detail) {
            Some((field, _)) => format!("The `{field}` value in the address is not valid."),
            None => "The address has a value this page cannot use.".into(),
        })
    }
}

/// Splits a deserializer's `path: message` into the field's path (`seat_ids[0]`, `rows[1].row`)
/// and the message; `None` when the text names no field (an error of the document as a whole).
fn field_path(text: &str) -> Option<(&str, &str)> {
    let (path, message) = text.split_once(": ")?;
    let is_path = !path.is_empty()
        && path != "."
        && path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-'));
    is_path.then_some((path, message))
}

/// A JSON field's type or value error as a sentence for a person, naming the field (and what it
/// takes, when that is plain) but none of the deserializer's own words.
pub(crate) fn human_field_error(text: &str) -> String {
    let (path, message) = match field_path(text) {
        Some((path, message)) => (Some(path), message),
        None => (None, text),
    };
    let named = |field: &str| match path {
        Some(path) => format!("{path}.{field}"),
        None => field.to_owned(),
    };
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return format!("The field `{}` is missing.", named(field));
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return format!("The field `{}` is not one this request takes.", named(field));
    }
    let Some(path) = path else {
        return "A field of the request body does not have a valid value.".into();
    };
    let takes = if message.contains("UUID") {
        Some("an id")
    } else if message.starts_with("unknown variant") {
        return format!("The field `{path}` does not take that value.");
    } else {
        let wanted = message.split(", expected ").nth(1).unwrap_or("");
        let wanted = wanted.split(" at line ").next().unwrap_or(wanted);
        match wanted {
            "a string" => Some("text"),
            "a boolean" => Some("true or false"),
            "a sequence" => Some("a list"),
            "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "usize" => Some("a whole number"),
            "f32" | "f64" => Some("a number"),
            _ => None,
        }
    };
    match takes {
        Some(takes) => format!("The field `{path}` must be {takes}."),
        None => format!("The field `{path}` does not have a valid value."),
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

/// Whether a public route's caller is an admin (a valid token of an enabled admin account), for
/// answers that show admins more (an event's hidden ticket types). Never refuses: no token, a bad
/// one or another role is simply not an admin. Only a token whose claims say admin costs the
/// account read that `AuthUser` makes.
#[derive(Debug, Clone, Copy)]
pub struct MaybeAdmin(pub bool);

impl FromRequestParts<AppState> for MaybeAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims_admin = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .and_then(|token| state.tokens.verify(token.trim()).ok())
            .is_some_and(|claims| claims.role == Role::Admin);
        if !claims_admin {
            return Ok(Self(false));
        }
        Ok(Self(AuthUser::from_request_parts(parts, state).await.is_ok_and(|caller| caller.is_admin())))
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

/// The `X-Admission-Token` header of a hold: the waiting room's admission, unchecked (the handler
/// verifies it for the event it names); `None` when absent or not text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for AdmissionToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let token = parts.headers.get("x-admission-token").and_then(|value| value.to_str().ok());
        Ok(Self(token.map(|token| token.trim().to_owned()).filter(|token| !token.is_empty())))
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
