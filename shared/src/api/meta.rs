//! `/`, `/health`, `/openapi.json`, `/docs` (Swagger UI) and `/redoc` (ReDoc): the service
//! describing itself. Every asset is served from this process, none from a CDN; Swagger UI's are
//! compiled in (cargo feature `swagger-ui`, see build.rs), and so is ReDoc's bundle where the
//! cargo feature `redoc` is on (api-meta, which has no `vendor/` folder on Lambda).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
#[cfg(feature = "swagger-ui")]
use axum::response::Redirect;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Json;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(root))
        .routes(routes!(health))
        .routes(routes!(openapi_json))
        .routes(routes!(redoc))
        .routes(routes!(redoc_bundle))
}

/// The documented paths that belong to the other groups, read from the served document rather
/// than from their routers: naming their routers would link every group's handlers into
/// api-meta's bootstrap (see `OPENAPI_JSON`). api-meta answers these with the API's 405.
pub fn other_groups_paths() -> Vec<String> {
    use utoipa::OpenApi as _;
    let (_, own) = routes().split_for_parts();
    let docs = DocsPath::openapi();
    let document: serde_json::Value = serde_json::from_str(super::OPENAPI_JSON).unwrap_or_default();
    let paths = document.get("paths").and_then(serde_json::Value::as_object);
    paths
        .into_iter()
        .flat_map(|paths| paths.keys())
        .filter(|path| !own.paths.paths.contains_key(*path) && !docs.paths.paths.contains_key(*path))
        .cloned()
        .collect()
}

/// Swagger UI under `/docs`: `/docs` redirects to the page at `/docs/`, its assets are beside it.
#[cfg(feature = "swagger-ui")]
pub fn swagger_ui() -> Router<AppState> {
    Router::new()
        .route("/docs", get(|| async { Redirect::to("/docs/") }))
        .route("/docs/", get(|| async { swagger_ui_file("index.html") }))
        .route("/docs/{*rest}", get(|super::Path(file): super::Path<String>| async move { swagger_ui_file(&file) }))
}

/// Swagger UI's page and the assets it loads, as build.rs unpacked them from the vendored release,
/// and the initializer that points it at `/openapi.json`. Any other path under `/docs/` is a 404.
#[cfg(feature = "swagger-ui")]
fn swagger_ui_file(name: &str) -> Response {
    macro_rules! unpacked {
        ($file:literal) => {
            include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui/", $file)).as_slice()
        };
    }
    let (content_type, bytes): (&str, &'static [u8]) = match name {
        "index.html" => ("text/html; charset=utf-8", unpacked!("index.html")),
        "index.css" => ("text/css; charset=utf-8", unpacked!("index.css")),
        "swagger-ui.css" => ("text/css; charset=utf-8", unpacked!("swagger-ui.css")),
        "swagger-ui-bundle.js" => ("text/javascript; charset=utf-8", unpacked!("swagger-ui-bundle.js")),
        "swagger-ui-standalone-preset.js" => {
            ("text/javascript; charset=utf-8", unpacked!("swagger-ui-standalone-preset.js"))
        }
        "swagger-initializer.js" => ("text/javascript; charset=utf-8", SWAGGER_INITIALIZER.as_bytes()),
        "favicon-32x32.png" => ("image/png", unpacked!("favicon-32x32.png")),
        "favicon-16x16.png" => ("image/png", unpacked!("favicon-16x16.png")),
        _ => return ApiError::NotFound("There is nothing at this path.".into()).into_response(),
    };
    ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
}

#[cfg(feature = "swagger-ui")]
const SWAGGER_INITIALIZER: &str = r##"window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  });
};
"##;

/// A build without Swagger UI (a Lambda function other than api-meta, which never gets `/docs` in
/// the cloud) keeps the documented paths and answers them as `/redoc`'s bundle answers when it is
/// not installed: 503 `unavailable`, with the cause (the missing feature) in the log.
#[cfg(not(feature = "swagger-ui"))]
pub fn swagger_ui() -> Router<AppState> {
    async fn not_in_this_build() -> ApiError {
        ApiError::Unavailable("Swagger UI is not in this build (cargo feature `swagger-ui`); see /openapi.json".into())
    }
    Router::new()
        .route("/docs", get(not_in_this_build))
        .route("/docs/", get(not_in_this_build))
        .route("/docs/{*rest}", get(not_in_this_build))
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
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], super::OPENAPI_JSON).into_response()
}

/// Swagger UI for this API (assets served locally).
/// The page is at `/docs/`; `/docs` answers with a redirect there.
#[utoipa::path(get, path = "/docs", tag = "gateway",
    responses((status = 303, description = "See Other: Swagger UI is at `/docs/`", headers(("Location" = String, description = "`/docs/`")))))]
#[allow(dead_code)] // Served by `swagger_ui()`; declared here so the document lists it.
async fn docs() {}

/// Lists `/docs` in the document, whose routes `swagger_ui()` provides.
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

/// ReDoc's standalone bundle, from the npm package `redoc` installed by `make vendor`: built in
/// (cargo feature `redoc`, api-meta's: a Lambda package has no `vendor/`), else read from `REDOC_JS`.
#[utoipa::path(get, path = "/redoc/redoc.standalone.js", tag = "gateway",
    responses(
        (status = 200, description = "JavaScript", content_type = "text/javascript"),
        (status = 503, description = "`unavailable`: the bundle is not installed (`make vendor`)", body = ErrorBody),
    ))]
async fn redoc_bundle(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        redoc_bytes(&state).await?,
    )
        .into_response())
}

#[cfg(redoc_embedded)]
async fn redoc_bytes(_: &AppState) -> Result<&'static [u8], ApiError> {
    Ok(include_bytes!(env!("PROEVENTA_REDOC_JS")))
}

#[cfg(not(redoc_embedded))]
async fn redoc_bytes(state: &AppState) -> Result<Vec<u8>, ApiError> {
    let path = std::path::PathBuf::from(&state.config.redoc_js);
    tokio::fs::read(&path).await.map_err(|e| ApiError::Unavailable(format!("ReDoc bundle at {}: {e}", path.display())))
}
