//! Proves the gateway routes of API.md (`/`, `/health`, `/openapi.json`, `/docs`, `/redoc`) and the
//! layers every response shares: request ids, CORS, JSON 404 and 405 answers.

use crate::http::{TestApp, assert_error};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

#[tokio::test]
async fn root_describes_the_service() {
    let app = TestApp::new().await;
    let (status, _, body) = app.get("/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok", "service": "proeventa", "version": env!("CARGO_PKG_VERSION")}));
}

#[tokio::test]
async fn health_reports_ok_and_the_sqlite_storage() {
    let app = TestApp::new().await;
    let (status, _, body) = app.get("/health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok", "storage": "sqlite"}));
}

/// Every route of the Gateway, Auth, Catalog and Reservations tables of API.md.
const DOCUMENTED_ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/health"),
    ("get", "/docs"),
    ("get", "/redoc"),
    ("get", "/openapi.json"),
    ("post", "/auth/signup"),
    ("post", "/auth/login"),
    ("post", "/auth/password-reset"),
    ("post", "/auth/password-reset/confirm"),
    ("get", "/auth/me"),
    ("patch", "/auth/me"),
    ("get", "/auth/users/{user_id}"),
    ("get", "/auth/users"),
    ("patch", "/auth/users/{user_id}"),
    ("get", "/events/venues"),
    ("get", "/events/venues/{venue_id}"),
    ("post", "/events/venues"),
    ("patch", "/events/venues/{venue_id}"),
    ("get", "/events/events"),
    ("get", "/events/events/{event_id}"),
    ("get", "/events/events/{event_id}/seats"),
    ("post", "/events/events"),
    ("patch", "/events/events/{event_id}"),
    ("delete", "/events/events/{event_id}"),
    ("post", "/reservations/reservations/reserve"),
    ("get", "/reservations/reservations/user/{user_id}"),
    ("get", "/reservations/reservations/event/{event_id}"),
    ("get", "/reservations/reservations/{reservation_id}"),
    ("delete", "/reservations/reservations/{reservation_id}"),
    ("get", "/reservations/bookings/{booking_id}"),
    ("delete", "/reservations/bookings/{booking_id}"),
    ("get", "/reservations/reservations"),
];

#[tokio::test]
async fn openapi_document_is_3_1_and_lists_every_route_and_schema() {
    let app = TestApp::new().await;
    let (status, headers, doc) = app.get("/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let content_type = headers[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "OpenAPI version {version}");
    let mut missing = Vec::new();
    for (method, path) in DOCUMENTED_ROUTES {
        if doc["paths"][path][method].is_null() {
            missing.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    assert!(missing.is_empty(), "routes missing from /openapi.json: {missing:?}");
    for schema in ["User", "Event", "Venue", "SeatState", "Reservation", "Booking", "ErrorBody"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing from /openapi.json");
    }
}

#[tokio::test]
async fn docs_serves_swagger_ui_with_local_assets() {
    let app = TestApp::new().await;
    let (status, headers, body) = app.get("/docs", None).await;
    let page = if status.is_redirection() {
        let location = headers[header::LOCATION].to_str().unwrap().to_owned();
        assert!(location.ends_with("/docs/"), "redirects to {location}");
        app.get("/docs/", None).await
    } else {
        (status, headers, body)
    };
    assert_eq!(page.0, StatusCode::OK, "{:?}", page.2);
    let content_type = page.1[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = page.2.as_str().expect("an HTML page");
    assert!(html.to_lowercase().contains("swagger"), "{html}");
    for cdn in ["unpkg.com", "jsdelivr", "cdnjs", "googleapis"] {
        assert!(!html.contains(cdn), "Swagger UI page loads from a CDN ({cdn})");
    }
    // Its assets come from this process.
    let (status, _, bytes) =
        app.send_raw(Request::get("/docs/swagger-ui-bundle.js").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!bytes.is_empty());
}

#[tokio::test]
async fn redoc_page_loads_the_local_standalone_bundle() {
    let app = TestApp::new().await;
    let (status, headers, body) = app.get("/redoc", None).await;
    assert_eq!(status, StatusCode::OK);
    let content_type = headers[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = body.as_str().expect("an HTML page");
    assert!(html.contains(r#"src="/redoc/redoc.standalone.js""#), "{html}");
    assert!(html.contains("/openapi.json"), "{html}");
    for cdn in ["unpkg.com", "jsdelivr", "cdnjs", "redocly.com"] {
        assert!(!html.contains(cdn), "ReDoc page loads from a CDN ({cdn})");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_a_given_one() {
    let app = TestApp::new().await;
    let requests = [
        Request::get("/health").body(Body::empty()),
        Request::get("/no/such/path").body(Body::empty()),
        Request::delete("/health").body(Body::empty()),
        Request::get("/auth/me").body(Body::empty()),
        Request::get("/events/events/not-a-uuid").body(Body::empty()),
        Request::post("/auth/login").body(Body::from("not json")),
    ];
    for request in requests {
        let request = request.unwrap();
        let what = format!("{} {}", request.method(), request.uri());
        let (status, headers, _) = app.send(request).await;
        let id = headers.get("x-request-id").unwrap_or_else(|| panic!("{what} ({status}) has no x-request-id"));
        assert!(!id.is_empty(), "{what}: empty x-request-id");
    }
    for path in ["/health", "/no/such/path"] {
        let (_, headers, _) =
            app.send(Request::get(path).header("x-request-id", "trace-me-42").body(Body::empty()).unwrap()).await;
        assert_eq!(headers["x-request-id"], "trace-me-42", "{path}");
    }
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/reservations/reservations/reserve")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type,idempotency-key")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cors_preflight_from_the_local_site_is_allowed() {
    let app = TestApp::new().await;
    let (status, headers, _) = app.send(preflight("http://127.0.0.1:8080")).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://127.0.0.1:8080");
    let methods = headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().to_lowercase();
    for wanted in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed.contains(wanted), "{wanted} not in {allowed}");
    }
}

#[tokio::test]
async fn cors_preflight_from_another_origin_gets_no_allow_origin() {
    let app = TestApp::new().await;
    let (_, headers, _) = app.send(preflight("https://evil.example")).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{headers:?}");
}

#[tokio::test]
async fn cors_answer_from_the_local_site_exposes_the_request_id() {
    let app = TestApp::new().await;
    let (status, headers, _) = app
        .send(Request::get("/health").header(header::ORIGIN, "http://localhost:8080").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:8080");
    let exposed = headers[header::ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap().to_lowercase();
    for wanted in ["x-request-id", "retry-after", "idempotent-replayed"] {
        assert!(exposed.contains(wanted), "{wanted} not in {exposed}");
    }
}

#[tokio::test]
async fn cors_origins_setting_replaces_the_local_default() {
    let app = TestApp::with_env(&[("CORS_ORIGINS", "https://tickets.example, https://admin.tickets.example/")]).await;
    for origin in ["https://tickets.example", "https://admin.tickets.example"] {
        let (_, headers, _) = app.send(preflight(origin)).await;
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], origin);
    }
    let (_, headers, _) = app.send(preflight("http://127.0.0.1:8080")).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{headers:?}");
}

#[tokio::test]
async fn unknown_path_is_a_json_404() {
    let app = TestApp::new().await;
    let resp = app.get("/no/such/path", None).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let content_type = resp.1[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("application/json"), "{content_type}");
}

#[tokio::test]
async fn wrong_method_is_a_json_405() {
    let app = TestApp::new().await;
    let resp = app.delete("/health", None).await;
    assert_error(&resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let allow = resp.1[header::ALLOW].to_str().unwrap();
    assert!(allow.contains("GET"), "Allow: {allow}");
    let resp = app.request(Method::PUT, "/auth/me", Some(json!({})), None).await;
    assert_error(&resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

/// Security headers on every answer: nothing a browser could run from a JSON body, no sniffing,
/// no cache keeping an authenticated answer; the documentation pages may load their own assets.
#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::new().await;
    let (_, token) = app.customer("headers@example.com").await;
    let csp = |headers: &axum::http::HeaderMap| {
        headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
    };
    for (path, auth) in
        [("/health", None), ("/events/events", None), ("/no/such/path", None), ("/auth/me", Some(&token))]
    {
        let (_, headers, _) = app.get(path, auth.map(String::as_str)).await;
        assert_eq!(headers.get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{path}");
        assert_eq!(csp(&headers), "default-src 'none'; frame-ancestors 'none'", "{path}");
    }
    let (_, headers, _) = app.get("/auth/me", Some(&token)).await;
    assert_eq!(headers.get(header::CACHE_CONTROL).map(|v| v.as_bytes()), Some(&b"no-store"[..]), "authenticated");
    let (_, headers, _) = app.get("/events/events", None).await;
    assert_ne!(headers.get(header::CACHE_CONTROL).map(|v| v.as_bytes()), Some(&b"no-store"[..]), "public lists");
    let (_, headers, _) = app.get("/redoc", None).await;
    let docs = csp(&headers);
    assert!(docs.contains("script-src 'self'") && docs.contains("frame-ancestors 'none'"), "{docs}");
}

/// A client's `x-request-id` is kept only when it is a short token of safe characters; anything
/// else (markup, spaces, a long text) is replaced by a fresh id, so it never reaches the logs.
#[tokio::test]
async fn an_unsafe_request_id_is_replaced() {
    let app = TestApp::new().await;
    for given in ["<script>alert(1)</script>", "two words", &"x".repeat(65)] {
        let request = Request::get("/health").header("x-request-id", given).body(Body::empty()).unwrap();
        let (_, headers, _) = app.send(request).await;
        let id = headers["x-request-id"].to_str().unwrap();
        assert_ne!(id, given);
        assert!(uuid::Uuid::parse_str(id).is_ok(), "a fresh id replaces `{given}`: {id}");
    }
}
