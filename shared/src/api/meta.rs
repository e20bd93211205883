//! `/`, `/health`, `/openapi.json`, `/docs` (Swagger UI) and `/redoc` (ReDoc): the service
//! describing itself. Every asset is served from this process, none from a CDN.

use std::path::PathBuf;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use super::Json;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(root))
        .routes(routes!(health))
        .routes(routes!(openapi_json))
        .routes(routes!(redoc))
        .routes(routes!(redoc_bundle))
}

/// Swagger UI lives under `/docs`; its routes come from `utoipa-swagger-ui` (assets vendored in the crate).
pub fn swagger_ui() -> Router<AppState> {
    SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")).into()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceInfo {
    #[schema(example = "ok")]
    pub status: String,
    #[schema(example = "proeventa")]
    pub service: String,
    #[schema(example = "0.1.0")]
    pub version: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
    /// `sqlite`, `postgres` or `dynamodb`.
    #[schema(example = "sqlite")]
    pub storage: String,
}

/// What this service is.
#[utoipa::path(get, path = "/", tag = "gateway", responses((status = 200, body = ServiceInfo)))]
async fn root() -> Json<ServiceInfo> {
    Json(ServiceInfo { status: "ok".into(), service: "proeventa".into(), version: env!("CARGO_PKG_VERSION").into() })
}

/// 200 while the store answers, else 503 `unavailable`.
#[utoipa::path(get, path = "/health", tag = "gateway",
    responses((status = 200, body = Health), (status = 503, description = "`unavailable`", body = ErrorBody)))]
async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(Health { status: "ok".into(), storage: state.store.backend().into() }))
}

/// This document: OpenAPI 3.1, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "gateway",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], super::openapi_json()).into_response()
}

/// Swagger UI for this API (assets served locally).
/// `utoipa-swagger-ui` serves the page at `/docs/` and answers `/docs` with a redirect there.
#[utoipa::path(get, path = "/docs", tag = "gateway",
    responses((status = 303, description = "See Other: Swagger UI is at `/docs/`", headers(("Location" = String, description = "`/docs/`")))))]
#[allow(dead_code)] // Served by `swagger_ui()`; declared here so the document lists it.
async fn docs() {}

/// Lists `/docs` in the document, whose routes `utoipa-swagger-ui` provides.
#[derive(utoipa::OpenApi)]
#[openapi(paths(docs))]
pub(crate) struct DocsPath;

const REDOC_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>ProEventa API — ReDoc</title>
  <style>body { margin: 0; }</style>
</head>
<body>
  <redoc spec-url="/openapi.json"></redoc>
  <script src="/redoc/redoc.standalone.js"></script>
</body>
</html>
"#;

/// ReDoc for this API (its bundle served locally from `/redoc/redoc.standalone.js`).
#[utoipa::path(get, path = "/redoc", tag = "gateway", responses((status = 200, description = "ReDoc", content_type = "text/html")))]
async fn redoc() -> Html<&'static str> {
    Html(REDOC_PAGE)
}

/// Where ReDoc's standalone bundle is looked for: `REDOC_JS`, else where `make vendor` puts it.
fn redoc_bundle_path() -> PathBuf {
    std::env::var_os("REDOC_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("vendor/redoc/bundles/redoc.standalone.js"))
}

/// ReDoc's standalone bundle, from the npm package `redoc` installed by `make vendor`.
#[utoipa::path(get, path = "/redoc/redoc.standalone.js", tag = "gateway",
    responses(
        (status = 200, description = "JavaScript", content_type = "text/javascript"),
        (status = 503, description = "`unavailable`: the bundle is not installed (`make vendor`)", body = ErrorBody),
    ))]
async fn redoc_bundle() -> Result<Response, ApiError> {
    let path = redoc_bundle_path();
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::Unavailable(format!("ReDoc bundle at {}: {e}", path.display())))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        bytes,
    )
        .into_response())
}
