//! The HTTP API: one module per endpoint group (`/auth/*`, `/events/*`, `/reservations/*`,
//! `/payments/*`, `/checkin/*`, `/queue/*`, `/admin/*`, gateway routes), assembled here with the layers every response shares: request ids,
//! tracing, CORS, the 64 KiB body limit, JSON 404/405 answers, panic catching and the request
//! metrics (`crate::metrics`).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub mod admin;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod checkin;
pub mod codes;
mod common_errors;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod meta;
pub mod payments;
pub mod posters;
pub mod queue;
pub mod reports;
pub mod reservations;
pub mod seat_maps;
pub mod seat_states;
pub mod security;
pub mod state;
pub mod tickets;
pub mod venue_layouts;
pub mod waitlist;
pub mod webhooks;

pub use error::{ApiError, ErrorBody};
pub use state::AppState;

pub use extract::{Json, Path, Query};

/// Bodies larger than this are refused with 413.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "ProEventa API", description = "Tickets for movies, theatre and live events: browse, hold seats, book."),
    modifiers(&BearerAuth),
    tags(
        (name = "gateway", description = "Service status and documentation"),
        (name = "auth", description = "Accounts and tokens"),
        (name = "catalog", description = "Venues, events and seat maps"),
        (name = "reservations", description = "Seat holds, reservations and bookings"),
        (name = "payments", description = "Checkout, card payments, refunds and the provider webhook"),
        (name = "tickets", description = "A buyer's tickets: signed codes, QR, PDF and calendar files"),
        (name = "checkin", description = "The door: scanning tickets online and offline, live counts (staff and admins)"),
        (name = "queue", description = "The waiting room in front of a hot event: a place in its queue, and the admission to hold seats"),
        (name = "admin", description = "The outbox of messages to people: failed ones and resends; sales reports; outgoing webhooks (admins)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = Http::builder().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every documented route of the API, with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(meta::routes())
        .merge(auth::routes())
        .merge(catalog::routes())
        .merge(reservations::routes())
        .merge(tickets::routes())
        .merge(payments::routes())
        .merge(checkin::routes())
        .merge(queue::routes())
        .merge(admin::routes())
}

/// The OpenAPI document of every route, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, mut doc) = routes().split_for_parts();
        doc.paths.paths.extend(<meta::DocsPath as OpenApi>::openapi().paths.paths);
        common_errors::document(&mut doc);
        doc
    })
}

/// The document `/openapi.json` serves: `openapi()` as generated, kept in the repository
/// (`shared/openapi.json`) rather than built at run time, because building it names every
/// group's handlers and would link them all into api-meta's bootstrap (18.5 MB instead of a
/// fraction of it). `the_served_openapi_document_is_the_generated_one` keeps the file equal to
/// `openapi()`, and rewrites it when run with `UPDATE_OPENAPI=1`.
pub(crate) const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// The whole API as one router, ready to serve.
pub fn app(state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    with_layers(router.merge(meta::swagger_ui()), &state).with_state(state)
}

/// The layers every response passes through, outermost last.
pub fn with_layers(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let request_id = HeaderName::from_static("x-request-id");
    router
        .fallback(|| async { ApiError::NotFound("There is nothing at this path.".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| -> Response {
            ApiError::Internal("a handler panicked".into()).into_response()
        }))
        .layer(cors(state))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("");
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %request.method(), route, request_id = id, user_id = tracing::field::Empty)
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _: &tracing::Span| {
                    tracing::info!(status = response.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "answered");
                }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        // A client's unsafe request id is dropped before one is set.
        .layer(security::SecurityHeadersLayer)
        // Outermost, so every answer is counted and timed whole, a CORS preflight and a 413 too.
        .layer(axum::middleware::from_fn(count_request))
}

/// Counts and times every answer by its route template (`crate::metrics`). Routing has happened by
/// now (these layers wrap each route), so the template is known; a path no route matched is
/// counted as `unmatched`, never as itself.
async fn count_request(request: Request<axum::body::Body>, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or(crate::metrics::UNMATCHED_ROUTE);
    crate::metrics::request_answered(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// A request's method as a label: the standard ones by name, anything a client made up as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn cors(state: &AppState) -> CorsLayer {
    let origins: Vec<HeaderValue> = state
        .config
        .allowed_origins(state.config.site_port)
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
            // The waiting room's: the queue ticket on a poll, the admission on a hold and a confirm.
            HeaderName::from_static("x-queue-token"),
            HeaderName::from_static("x-admission-token"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::ETAG,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static(idempotency::REPLAYED_HEADER),
        ])
        .max_age(Duration::from_secs(600))
}

#[cfg(test)]
mod served_openapi {
    #[test]
    fn the_served_openapi_document_is_the_generated_one() {
        let generated = super::openapi().to_pretty_json().expect("the document serializes") + "\n";
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"), &generated).expect("write");
            return;
        }
        assert!(
            super::OPENAPI_JSON == generated,
            "shared/openapi.json is not the document the routes make: run \
             `UPDATE_OPENAPI=1 cargo test -p proeventa-core --lib served_openapi` and commit it"
        );
    }

    #[test]
    fn the_other_groups_paths_read_from_the_document_are_those_their_routers_serve() {
        use std::collections::BTreeSet;
        let routers = [
            super::auth::routes(),
            super::catalog::routes(),
            super::reservations::routes(),
            super::tickets::routes(),
            super::payments::routes(),
            super::checkin::routes(),
            super::queue::routes(),
            super::admin::routes(),
        ];
        let served: BTreeSet<String> =
            routers.into_iter().flat_map(|router| router.split_for_parts().1.paths.paths.into_keys()).collect();
        let read: BTreeSet<String> = super::meta::other_groups_paths().into_iter().collect();
        assert_eq!(read, served);
    }
}
