//! Shared by the Lambda tests: a function's state on a fresh SQLite file (built by the same code
//! a function's init runs, on a `proeventa-testkit` temp file), recorded API Gateway events, and
//! one invocation through a function's real handler, answered as the JSON object API Gateway
//! receives.

#![allow(dead_code)] // Each test file uses its own part of this module.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lambda_http::request::LambdaRequest;
use lambda_runtime::{Context, LambdaEvent};
use proeventa_core::api::AppState;
use proeventa_lambda::{Group, handler, lambda_config, state_for};
use proeventa_testkit::TempSqlite;
use serde_json::Value;
use tower::ServiceExt;

pub const JWT_SECRET: &str = "lambda-test-secret-0123456789abcdef";
pub const WEBHOOK_SECRET: &str = "lambda-test-webhook-secret";
pub const TICKET_SIGNING_KEY: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

/// The workspace root (this crate is `functions/proeventa-lambda`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// `infra/template.yaml`, parsed with CloudFormation's tags (`!Ref`, `!Sub`, ...) kept as tags.
pub fn template() -> serde_yaml::Value {
    let path = workspace().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// A function's state as its init builds it, from this environment, on a fresh migrated store.
pub struct TestState {
    pub state: AppState,
    _db: TempSqlite,
}

pub async fn test_state() -> TestState {
    let db = TempSqlite::new("proeventa_lambda");
    let env: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", db.url()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("TICKET_SIGNING_KEY", TICKET_SIGNING_KEY.to_owned()),
    ]);
    let config = lambda_config(|key| env.get(key).cloned()).expect("configuration");
    let state = state_for(Group::Auth, config).await.expect("state");
    // Migrating is a deployment step, not part of a function's init.
    state.store.migrate().await.expect("migrate the test store");
    TestState { state, _db: db }
}

/// A recorded API Gateway HTTP API (payload v2) event from `tests/fixtures`, with `${NAME}`
/// placeholders replaced.
pub fn fixture(name: &str, vars: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (name, value) in vars {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    text
}

/// One invocation of `group`'s function: the event JSON as Lambda delivers it, through the
/// handler its `main` runs, and the response serialized as Lambda returns it to API Gateway.
pub async fn invoke(group: Group, state: &AppState, event: &str, lambda_request_id: &str) -> Value {
    let request: LambdaRequest = serde_json::from_str(event).expect("an API Gateway v2 event");
    let mut context = Context::default();
    context.request_id = lambda_request_id.to_owned();
    let response = handler(group.app(state.clone()))
        .oneshot(LambdaEvent::new(request, context))
        .await
        .unwrap_or_else(|e| match e {});
    serde_json::to_value(&response).expect("a serializable response")
}

pub fn status(response: &Value) -> u64 {
    response["statusCode"].as_u64().expect("statusCode")
}

pub fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    response["headers"][name].as_str()
}

/// The response body as JSON (API Gateway gets text bodies as strings, not base64).
pub fn body_json(response: &Value) -> Value {
    assert_eq!(response["isBase64Encoded"], Value::Bool(false), "a JSON body travels as text: {response}");
    let body = response["body"].as_str().unwrap_or_else(|| panic!("a body: {response}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("a JSON body ({e}): {body}"))
}
