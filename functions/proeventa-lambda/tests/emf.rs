//! A function's metrics leave as CloudWatch Embedded Metric Format lines: a recorded API Gateway
//! event through the real handler writes, once answered, a JSON line with the structure CloudWatch
//! requires (`_aws.Timestamp`, `_aws.CloudWatchMetrics` with Namespace, Dimensions and Metrics,
//! each dimension and metric as a top-level member), counting the request under its route template.
//!
//! One test in this binary: the recorder is the process's, installed once.

mod common;

use std::sync::{Arc, Mutex};

use common::{fixture, invoke, status, test_state};
use proeventa_lambda::{Group, emf};
use serde_json::Value;

#[tokio::test]
async fn a_request_writes_an_emf_line_cloudwatch_accepts() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&lines);
    emf::install_with(
        "api-catalog",
        "ProEventa/test",
        Box::new(move |line| sink.lock().unwrap().push(line.to_owned())),
    );
    let t = test_state().await;
    lines.lock().unwrap().clear();

    let response = invoke(Group::Catalog, &t.state, &fixture("event_list.json", &[]), "req-emf-1").await;
    assert_eq!(status(&response), 200, "{response}");
    let written: Vec<Value> = lines
        .lock()
        .unwrap()
        .drain(..)
        .map(|line| {
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("an EMF line is one JSON object ({e}): {line}"))
        })
        .collect();
    let line = written
        .iter()
        .find(|l| l.get("proeventa_http_requests_total").is_some())
        .unwrap_or_else(|| panic!("no request line among {written:?}"));

    // The directive: a millisecond timestamp, the namespace, one dimension set, the metrics.
    let aws = &line["_aws"];
    assert!(aws["Timestamp"].as_u64().is_some_and(|ms| ms > 1_700_000_000_000), "{line}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics is an array");
    assert_eq!(directives.len(), 1, "{line}");
    let directive = &directives[0];
    assert_eq!(directive["Namespace"], "ProEventa/test");
    let dimensions: Vec<Vec<&str>> = directive["Dimensions"]
        .as_array()
        .expect("Dimensions is an array of dimension sets")
        .iter()
        .map(|set| set.as_array().expect("a dimension set").iter().map(|d| d.as_str().expect("a name")).collect())
        .collect();
    assert_eq!(dimensions, [["Function", "method", "route", "status"]], "{line}");
    let metrics: Vec<(&str, &str)> = directive["Metrics"]
        .as_array()
        .expect("Metrics is an array")
        .iter()
        .map(|m| (m["Name"].as_str().expect("Name"), m["Unit"].as_str().expect("Unit")))
        .collect();
    assert_eq!(
        metrics,
        [("proeventa_http_request_duration_seconds", "Seconds"), ("proeventa_http_requests_total", "Count")]
    );

    // Every dimension and metric named is a member of the line, with its value.
    assert_eq!(line["Function"], "api-catalog");
    assert_eq!(line["route"], "/events/events", "the route template, not the raw path with its query");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["status"], "200");
    assert_eq!(line["proeventa_http_requests_total"], 1);
    let took = line["proeventa_http_request_duration_seconds"].as_array().expect("a histogram's values");
    assert_eq!(took.len(), 1);
    assert!(took[0].as_f64().is_some_and(|s| s >= 0.0), "{line}");

    // Written once: the next invocation's lines carry only its own request.
    let unknown = invoke(Group::Catalog, &t.state, &fixture("unknown_route.json", &[]), "req-emf-2").await;
    assert_eq!(status(&unknown), 404, "{unknown}");
    let written: Vec<Value> =
        lines.lock().unwrap().drain(..).map(|l| serde_json::from_str(&l).expect("JSON")).collect();
    let requests: Vec<&Value> = written.iter().filter(|l| l.get("proeventa_http_requests_total").is_some()).collect();
    assert_eq!(requests.len(), 1, "{written:?}");
    assert_eq!(requests[0]["route"], "unmatched", "an unknown path is never a dimension value");
    assert_eq!(requests[0]["status"], "404");
}
