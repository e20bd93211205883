//! Shared by the Lambda tests: a function's state on a fresh SQLite file (built by the same code
//! a function's init runs, on a `proeventa-testkit` temp file), recorded API Gateway events, and
//! one invocation through a function's real handler, answered as the JSON object API Gateway
//! receives.

#![allow(dead_code)] // Each test file uses its own part of this module.

pub mod runtime_api;

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
    /// The store's URL, for a function process started on the same store.
    pub database_url: String,
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
    TestState { state, database_url: db.url(), _db: db }
}

/// Set in the environment of a function process that a test or driver starts from its own
/// executable (see `start_function`): the function it is to run.
const RUN_FUNCTION: &str = "PROEVENTA_TEST_RUN_FUNCTION";

/// A function's process, started from this executable against a Runtime API stand-in, and
/// killed when dropped.
pub struct FunctionProcess(std::process::Child);

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `group`'s function as its `main` does (`run_http`), in a child process running this
/// executable, polling `runtime_api` with up to `max_concurrency` workers
/// (`AWS_LAMBDA_MAX_CONCURRENCY`, as Lambda Managed Instances set it; `None` as classic Lambda).
pub fn start_function(
    group: Group,
    runtime_api: &runtime_api::RuntimeApi,
    database_url: &str,
    max_concurrency: Option<usize>,
    env: &[(&str, &str)],
) -> FunctionProcess {
    let mut command = std::process::Command::new(std::env::current_exe().expect("this executable"));
    command
        .env(RUN_FUNCTION, group.function_name())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", group.function_name())
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET", JWT_SECRET)
        .env("WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("TICKET_SIGNING_KEY", TICKET_SIGNING_KEY)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null());
    if let Some(n) = max_concurrency {
        command.env("AWS_LAMBDA_MAX_CONCURRENCY", n.to_string());
    }
    command.envs(env.iter().copied());
    FunctionProcess(command.spawn().expect("start the function process"))
}

/// In a process `start_function` started, runs the function it names until killed, and never
/// returns; elsewhere returns at once. The first thing such an executable's `main` does.
pub fn run_as_function_if_asked() {
    let Ok(name) = std::env::var(RUN_FUNCTION) else { return };
    let group = Group::ALL.into_iter().find(|g| g.function_name() == name).expect("a function name");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let outcome = runtime.block_on(proeventa_lambda::run_http(group));
    eprintln!("{name} stopped: {outcome:?}");
    std::process::exit(1);
}

/// Accounts made in the store, each with a bearer token the functions accept.
pub async fn buyers(state: &AppState, count: usize) -> Vec<(proeventa_core::domain::User, String)> {
    use proeventa_core::domain::{Email, NewUser, Role};
    let mut buyers = Vec::with_capacity(count);
    for i in 0..count {
        let email =
            Email::parse(&format!("buyer{i}-{}@example.com", uuid::Uuid::new_v4().simple())).expect("an e-mail");
        let user = state
            .store
            .create_user(NewUser {
                email,
                name: format!("Buyer {i}"),
                password_hash: "unused".into(),
                role: Role::Customer,
            })
            .await
            .expect("create a buyer");
        let token = state.tokens.issue(&user).expect("a token");
        buyers.push((user, token));
    }
    buyers
}

/// A venue of `seats` seats in rows of 50 and an event there in four days, priced 15 EUR.
pub async fn event_with_seats(
    store: &std::sync::Arc<dyn proeventa_core::store::Store>,
    seats: i32,
) -> (proeventa_core::domain::Event, Vec<uuid::Uuid>) {
    use proeventa_core::domain::{Category, NewEvent, NewVenue, Price, SeatRow, VenueKind};
    let rows = (0..(seats + 49) / 50)
        .map(|r| SeatRow { row: format!("R{r}"), seats: 50.min(seats - r * 50), tier: "standard".into() })
        .collect();
    let venue = NewVenue::parse("Runtime Hall", Some("Main Street 1"), VenueKind::Hall, rows).expect("a venue");
    let venue = store.create_venue(venue).await.expect("create the venue");
    let event = store
        .create_event(NewEvent {
            actor: None,
            venue_id: venue.venue.id,
            name: "Runtime Night".to_owned(),
            category: Category::Concert,
            description: String::new(),
            image_url: None,
            start_time: chrono::Utc::now() + chrono::Duration::days(4),
            duration_minutes: Some(90),
            on_sale_at: None,
            queue: None,
            accessible_release_hours: None,
            currency: "EUR".to_owned(),
            prices: vec![Price { tier: "standard".into(), price_cents: 1500 }],
            ticket_types: Vec::new(),
        })
        .await
        .expect("create the event");
    (event, venue.seats.iter().map(|s| s.id).collect())
}

/// The recorded reserve event for one buyer and seat, with its own idempotency key.
pub fn reserve_event(token: &str, event_id: uuid::Uuid, seat_id: uuid::Uuid) -> String {
    let (event, seat) = (event_id.to_string(), seat_id.to_string());
    fixture("reserve.json", &[("TOKEN", token), ("EVENT_ID", &event), ("SEAT_ID", &seat)])
        .replace("first-try", &uuid::Uuid::new_v4().to_string())
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
