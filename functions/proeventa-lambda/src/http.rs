//! The HTTP side of a function: an API Gateway HTTP API (payload v2) event in, through the
//! group's router, the API Gateway response out. `run_http` is all a function's `main` calls.

use std::convert::Infallible;
use std::time::Instant;

use axum::Router;
use axum::http::HeaderValue;
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Adapter, LambdaEvent, Request, RequestExt, Service};
use proeventa_core::api::extract::ClientAddr;
use serde::Serialize;
use tower::ServiceExt;

use crate::{Group, init_logging, lambda_config, state_for};

const REQUEST_ID: &str = "x-request-id";

/// Builds the group's state once, then serves its router until the execution environment is
/// shut down. Init failures end the process with the reason, which Lambda logs.
///
/// The runtime is `run_concurrent`: on Lambda Managed Instances (`AWS_LAMBDA_MAX_CONCURRENCY`
/// above 1) that many workers poll for invocations at once, each with a clone of the one router,
/// whose state (the store's pool, its hold batch queue, the keys) is shared behind `Arc`s; holds
/// arriving together then share the store's batches. On classic Lambda the variable is unset and
/// it polls one invocation at a time, as `run` does.
///
/// Not an `async fn`: the group's router is chosen here, before the future, so that inlined into a
/// `main` whose group is a constant the choice folds away and the bootstrap holds only that
/// group's handlers (every group's would otherwise be linked into every function).
#[inline(always)]
pub fn run_http(group: Group) -> impl Future<Output = Result<(), lambda_http::Error>> {
    let started = Instant::now();
    let router = group.router();
    async move {
        proeventa_core::memory::return_large_blocks_to_the_os();
        let config = lambda_config(|key| std::env::var(key).ok())?;
        init_logging(config.log_format);
        crate::emf::install(group.function_name());
        let state = state_for(group, config).await?;
        let app = Group::serve(router, state);
        tracing::info!(
            function = group.function_name(),
            init_ms = started.elapsed().as_secs_f64() * 1000.0,
            "initialized"
        );
        lambda_runtime::run_concurrent(handler(app)).await
    }
}

/// The function's whole handler, as `run_http` runs it: one invocation event in, the response
/// object API Gateway expects out. Tests call it with recorded events.
pub fn handler(
    app: Router,
) -> impl Service<LambdaEvent<LambdaRequest>, Response = impl Serialize, Error = Infallible, Future: Send> + Clone {
    Adapter::from(app.map_request(from_gateway).and_then(read_whole))
}

/// The router's response with its body read whole. `run_concurrent` hands responses between
/// worker threads, so it takes only bodies that are `Sync`, which axum's boxed body is not; API
/// Gateway takes a buffered response anyway (lambda_http would read it whole all the same). A body
/// that fails midway (no handler of ours streams one) becomes a bodiless 500.
async fn read_whole(
    response: axum::response::Response,
) -> Result<lambda_http::Response<lambda_http::Body>, Infallible> {
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => lambda_http::Body::from(bytes.to_vec()),
        Err(error) => {
            tracing::error!(%error, "the response body could not be read");
            parts.status = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            lambda_http::Body::Empty
        }
    };
    Ok(lambda_http::Response::from_parts(parts, body))
}

/// What the router needs from the gateway's request context: the client address (the login
/// limiter keys on it; it is never read from a header a client could forge), and, when the caller
/// sent no `x-request-id`, the Lambda request id, so the id a client sees is the one in the logs.
fn from_gateway(mut request: Request) -> Request {
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()),
        _ => None,
    };
    request.extensions_mut().insert(ClientAddr(source_ip));
    if !request.headers().contains_key(REQUEST_ID) {
        let id = request.lambda_context_ref().and_then(|c| HeaderValue::from_str(&c.request_id).ok());
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            request.headers_mut().insert(REQUEST_ID, id);
        }
    }
    request
}
