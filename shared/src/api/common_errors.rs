//! The error answers API.md's general rules give every route of a kind, written into each
//! operation of the OpenAPI document once, here, so no handler's annotation can forget one:
//! a bearer route can answer 401 and 403 (disabled account), a JSON body 400/413/415/422, a
//! malformed path or query parameter 400, a bad `Idempotency-Key` 400/409/422, and anything that
//! reads the store 503. A status a handler documents itself keeps its own, more specific, text.
//! The `Idempotency-Key` header's own rule (1 to 255 visible ASCII characters) is written here too.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Adds the general error answers to every operation of `doc`.
pub(crate) fn document(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            add_general_errors(operation);
            constrain_idempotency_key(operation);
        }
    }
}

fn add_general_errors(operation: &mut Operation) {
    let bearer = operation
        .security
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_array().cloned())
        .is_some_and(|requirements| requirements.iter().any(|r| r.get("bearer").is_some()));
    let params = operation.parameters.as_deref().unwrap_or_default();
    let has = |place: ParameterIn| params.iter().any(|p| p.parameter_in == place);
    let has_named = |name: &str| params.iter().any(|p| p.name.eq_ignore_ascii_case(name));
    let (path_params, query_params) = (has(ParameterIn::Path), has(ParameterIn::Query));
    let paged = has_named("limit") || has_named("offset");
    let idempotent = has_named("Idempotency-Key");
    let json_body =
        operation.request_body.as_ref().is_some_and(|b| b.content.keys().any(|c| c.starts_with("application/json")));
    let reads_store = bearer || path_params || query_params || json_body;

    let mut add = |status: &str, description: &str| {
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| error_response(description));
    };
    if json_body {
        add("400", "`invalid_json`: the body is not JSON");
        add("413", "`payload_too_large`: the body is over 64 KiB");
        add("415", "`unsupported_media_type`: the body is not sent as `application/json`");
        add("422", "`validation_failed`: well-formed JSON with wrong fields, types or values");
    }
    if path_params || query_params {
        add("400", "`invalid_request`: a malformed path or query parameter");
    }
    if paged {
        add("422", "`validation_failed`: `limit` or `offset` out of range");
    }
    if idempotent {
        add("400", "`invalid_request`: a malformed `Idempotency-Key`");
        add("409", "`invalid_state`: a request with this `Idempotency-Key` is still being answered");
        add("422", "`validation_failed`: the `Idempotency-Key` was used with another request");
    }
    if bearer {
        add("401", "`unauthorized` (missing or bad token) or `token_expired`");
        add("403", "`forbidden`: the account is disabled");
    }
    if reads_store {
        add("503", "`unavailable`: the store is unreachable; retry shortly");
    }
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    RefOr::T(ResponseBuilder::new().description(description).content("application/json", content).build())
}

/// What `api::idempotency::IdempotencyKey` accepts: 1 to 255 visible ASCII characters.
fn constrain_idempotency_key(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        if parameter.parameter_in == ParameterIn::Header && parameter.name.eq_ignore_ascii_case("Idempotency-Key") {
            let schema = ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$"));
            parameter.schema = Some(RefOr::T(schema.into()));
        }
    }
}
