//! Route parity, read from the code and the files themselves (no hand-kept list): every HTTP API
//! route in `infra/template.yaml` is served by its function's router and by no other function's,
//! every documented route of a router is in the template on that function, and `cargo lambda
//! watch` (the router table in the root `Cargo.toml`) sends every route to the same function.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{template, test_state, workspace};
use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method};
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use proeventa_core::api;
use proeventa_core::api::AppState;
use proeventa_lambda::Group;
use serde_yaml::Value as Yaml;
use tower::ServiceExt;

const MATCHED: &str = "x-test-matched-route";

/// One `HttpApi` event of the template: `None` path is the API's `$default` route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TemplateRoute {
    method: Option<String>,
    path: Option<String>,
}

/// The template's HTTP API routes, by function logical id.
fn template_routes() -> BTreeMap<String, Vec<TemplateRoute>> {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut routes = BTreeMap::new();
    for (id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().expect("a logical id").to_owned();
        let Some(events) = resource["Properties"]["Events"].as_mapping() else { continue };
        for event in events.values().filter(|e| e["Type"].as_str() == Some("HttpApi")) {
            let properties = &event["Properties"];
            routes.entry(id.clone()).or_insert_with(Vec::new).push(TemplateRoute {
                method: properties["Method"].as_str().map(str::to_uppercase),
                path: properties["Path"].as_str().map(str::to_owned),
            });
        }
    }
    routes
}

/// The documented (method, path) routes of a group's router, from its OpenAPI description. The
/// gateway group also owns what the whole API's document lists but no group's router reports
/// (`/docs`, which Swagger UI serves).
fn documented_routes(group: Group) -> BTreeSet<(String, String)> {
    let mut routes = openapi_routes(&serde_json::to_value(group.routes().split_for_parts().1).expect("openapi"));
    if group == Group::Meta {
        let everyone: BTreeSet<_> = Group::ALL.iter().flat_map(|g| openapi_routes_of(*g)).collect();
        let whole = openapi_routes(&serde_json::to_value(api::openapi()).expect("openapi"));
        routes.extend(whole.difference(&everyone).cloned());
    }
    routes
}

fn openapi_routes_of(group: Group) -> BTreeSet<(String, String)> {
    openapi_routes(&serde_json::to_value(group.routes().split_for_parts().1).expect("openapi"))
}

fn openapi_routes(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// A concrete request path for a template path: parameters get a UUID, a greedy `{x+}` a file.
fn sample_path(template_path: &str) -> String {
    template_path
        .split('/')
        .map(|segment| match segment {
            s if s.starts_with('{') && s.ends_with("+}") => "index.html",
            s if s.starts_with('{') => "8d0f3a52-2b1e-4c6a-9a57-3f2d8e1b7c40",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The function's real router, marking which route (if any) matched. A `route_layer` runs only
/// for matched routes, never for the 404 fallback.
fn marked(group: Group, state: &AppState) -> Router {
    async fn mark(request: Request, next: Next) -> Response {
        let matched = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
        let mut response = next.run(request).await;
        if let Some(value) = matched.and_then(|m| HeaderValue::from_str(&m).ok()) {
            response.headers_mut().insert(MATCHED, value);
        }
        response
    }
    group.app(state.clone()).route_layer(from_fn(mark))
}

/// Which route of `group`'s router answers `method path`, and with which status.
async fn probe(group: Group, state: &AppState, method: &str, path: &str) -> (Option<String>, u16) {
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("a method"))
        .uri(path)
        .body(axum::body::Body::empty())
        .expect("a request");
    let response = marked(group, state).oneshot(request).await.unwrap_or_else(|e| match e {});
    let matched = response.headers().get(MATCHED).and_then(|v| v.to_str().ok()).map(str::to_owned);
    (matched, response.status().as_u16())
}

fn group_of(logical_id: &str) -> Group {
    Group::ALL
        .into_iter()
        .find(|g| g.logical_id() == logical_id)
        .unwrap_or_else(|| panic!("the template routes HTTP requests to {logical_id}, which is no endpoint group"))
}

/// `{user_id}` and `{proxy+}` in the template; `{user_id}` and `{*proxy}` in axum.
fn axum_path(template_path: &str) -> String {
    template_path
        .split('/')
        .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            Some(name) => format!("{{*{name}}}"),
            None => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_documented_route_is_in_the_template_on_its_function() {
    let template = template_routes();
    for group in Group::ALL {
        let in_template: BTreeSet<(String, String)> = template
            .get(group.logical_id())
            .unwrap_or_else(|| panic!("{} has no HttpApi routes in the template", group.logical_id()))
            .iter()
            .filter_map(|r| Some((r.method.clone()?, r.path.clone()?)))
            .filter(|(_, path)| !path.contains("+}"))
            .collect();
        let documented = documented_routes(group);
        let missing: Vec<_> = documented.difference(&in_template).collect();
        let extra: Vec<_> = in_template.difference(&documented).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{} ({}): routes of its router missing from infra/template.yaml: {missing:?}; \
             routes in the template that its router does not document: {extra:?}",
            group.function_name(),
            group.logical_id(),
        );
    }
}

#[tokio::test]
async fn every_template_route_is_served_by_its_function_and_no_other() {
    let t = test_state().await;
    let template = template_routes();
    let mut checked = 0;
    for (logical_id, routes) in &template {
        let owner = group_of(logical_id);
        for route in routes {
            let (Some(method), Some(path)) = (&route.method, &route.path) else { continue };
            let sample = sample_path(path);
            let (matched, status) = probe(owner, &t.state, method, &sample).await;
            assert_eq!(
                matched.as_deref(),
                Some(axum_path(path).as_str()),
                "{method} {path} is routed to {} but its router does not serve it",
                owner.function_name()
            );
            assert_ne!(status, 405, "{method} {path}: {} serves the path but not the method", owner.function_name());
            for other in Group::ALL.into_iter().filter(|g| *g != owner) {
                // api-meta knows every path (to answer 405 for a wrong method) but serves none.
                let (matched, status) = probe(other, &t.state, method, &sample).await;
                assert!(
                    matched.is_none() || (other == Group::Meta && status == 405),
                    "{method} {path} is also served by {} ({status})",
                    other.function_name()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 36, "only {checked} routes found in the template");
}

#[tokio::test]
async fn unmatched_requests_go_to_the_gateway_function_which_answers_json_404() {
    let template = template_routes();
    let defaults: Vec<&String> = template
        .iter()
        .filter(|(_, routes)| routes.iter().any(|r| r.path.is_none() && r.method.is_none()))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(defaults, [Group::Meta.logical_id()], "exactly one $default route, on api-meta");
    let t = test_state().await;
    let (matched, status) = probe(Group::Meta, &t.state, "GET", "/nothing/here").await;
    assert_eq!((matched, status), (None, 404));
}

#[test]
fn every_function_is_built_by_cargo_lambda_for_arm64_from_its_own_package() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));
    let resources = template["Resources"].as_mapping().expect("Resources");
    let functions: BTreeMap<&str, &Yaml> = resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().unwrap_or(""), r))
        .collect();
    let mut names: Vec<&str> = Group::ALL.iter().map(|g| g.function_name()).collect();
    names.extend(["job-expire-holds", "job-send-mail"]);
    assert_eq!(functions.len(), names.len(), "one function per package: {names:?}");
    for (id, function) in functions {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or("");
        assert!(names.contains(&binary), "{id} builds {binary:?}, which is no function package");
        assert_eq!(function["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{id}");
        let code_uri = function["Properties"]["CodeUri"].as_str().unwrap_or("");
        assert_eq!(code_uri, format!("../functions/{binary}"), "{id}");
        let manifest = workspace().join("functions").join(binary).join("Cargo.toml");
        assert!(manifest.is_file(), "{id}: {} is missing", manifest.display());
    }
}

/// The `[workspace.metadata.lambda.watch.router]` table, as cargo-lambda reads it.
fn watch_router() -> BTreeMap<String, String> {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("cargo metadata JSON");
    let table = metadata["metadata"]["lambda"]["watch"]["router"]
        .as_object()
        .expect("[workspace.metadata.lambda.watch.router] in the root Cargo.toml");
    table.iter().map(|(path, function)| (path.clone(), function.as_str().unwrap_or("").to_owned())).collect()
}

#[test]
fn cargo_lambda_watch_routes_every_path_to_the_same_function_as_the_cloud() {
    let mut router = matchit::Router::new();
    for (path, function) in watch_router() {
        router.insert(path.clone(), function).unwrap_or_else(|e| panic!("watch route {path}: {e}"));
    }
    let at = |path: &str| router.at(path).map(|m| m.value.clone()).unwrap_or_default();
    for (logical_id, routes) in template_routes() {
        let owner = group_of(&logical_id).function_name();
        for route in routes {
            let path = route.path.as_deref().map(sample_path).unwrap_or_else(|| "/nothing/here".into());
            assert_eq!(at(&path), owner, "watch sends {path} elsewhere than the template ({logical_id})");
        }
    }
    // Swagger UI's own page and a path no function serves.
    assert_eq!(at("/docs/"), "api-meta");
    assert_eq!(at("/no/such/thing"), "api-meta");
}

/// CloudFront sends the booking site the same security headers as `proeventa serve`: the
/// template's policy is `api::security::site_csp` with the API named by its domain pattern.
#[test]
fn the_site_distribution_sends_the_same_security_headers_as_serve() {
    let template = template();
    let policy = &template["Resources"]["SiteSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"];
    let headers = &policy["SecurityHeadersConfig"];
    let csp = match &headers["ContentSecurityPolicy"]["ContentSecurityPolicy"] {
        Yaml::Tagged(sub) if sub.tag == "!Sub" => sub.value.as_str().expect("a !Sub string").to_owned(),
        other => panic!("the site's CSP is not a !Sub string: {other:?}"),
    };
    let api_origin = "https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}";
    assert_eq!(csp, api::security::site_csp(api_origin));
    assert_eq!(headers["ReferrerPolicy"]["ReferrerPolicy"].as_str(), Some(api::security::SITE_REFERRER_POLICY));
    assert_eq!(headers["FrameOptions"]["FrameOption"].as_str(), Some("DENY"));
    assert!(headers["ContentTypeOptions"]["Override"].as_bool() == Some(true), "nosniff");
    assert!(headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"].as_u64().is_some(), "HSTS");
    let distribution = &template["Resources"]["SiteDistribution"]["Properties"]["DistributionConfig"];
    let mut behaviors = vec![&distribution["DefaultCacheBehavior"]];
    behaviors.extend(distribution["CacheBehaviors"].as_sequence().expect("cache behaviors"));
    for behavior in behaviors {
        match &behavior["ResponseHeadersPolicyId"] {
            Yaml::Tagged(r) if r.tag == "!Ref" && r.value.as_str() == Some("SiteSecurityHeaders") => {}
            other => panic!("a cache behavior does not send the security headers: {other:?}"),
        }
    }
}
