//! `/health` tells the truth about the store: 200 with the backend's name while PostgreSQL
//! answers, 503 `unavailable` (and no driver text) once its database is gone.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use proeventa_core::api::AppState;
use proeventa_core::api::app;
use proeventa_core::config::Config;
use proeventa_core::store::connect;
use proeventa_testkit::TempPostgres;
use serde_json::Value;
use tower::ServiceExt;

async fn get_health(router: &axum::Router) -> (StatusCode, Value) {
    let response = router.clone().oneshot(Request::get("/health").body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn health_is_503_unavailable_once_postgres_stops_answering() {
    let database = TempPostgres::create("proeventa_health").await;
    let name = database.name().to_owned();
    let store = connect(database.url()).await.unwrap();
    store.migrate().await.unwrap();
    let config = Config::from_lookup(|_| None).unwrap();
    let router = app(AppState::new(config, store, "health-test-secret"));

    let (status, body) = get_health(&router).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"status": "ok", "storage": "postgres"}));

    database.drop_now().await;
    let (status, body) = get_health(&router).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "unavailable");
    let detail = body["detail"].as_str().unwrap();
    assert!(!detail.contains(&name) && !detail.to_lowercase().contains("database"), "leaks: {detail}");
}
