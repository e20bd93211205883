//! Extractors that turn malformed input into the contract's errors: `Json` (400 invalid_json,
//! 413, 415, 422 naming the field), `Path` and `Query` (400 invalid_request).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::error::ApiError;

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
