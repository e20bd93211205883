//! Monitoring in `infra/template.yaml` and `infra/grafana/`, read from the files and held to the
//! code: the alarms the README promises exist and watch the right things (5xx rate, p99 latency of
//! every API function, throttles of every function, DynamoDB throttles, failed outbox messages, an
//! outbox backlog, job failures), each notifies the optional SNS topic, the EMF namespace the functions write is
//! the one the alarms and the dashboard read, and both dashboards speak `proeventa_core::metrics`'
//! vocabulary and nothing else. (`make validate-infra` runs cfn-lint on the same template.)

use std::collections::BTreeSet;

use crate::common::{template, workspace};
use proeventa_core::metrics;
use proeventa_lambda::Group;
use serde_yaml::Value as Yaml;

fn tagged<'a>(value: &'a Yaml, tag: &str) -> Option<&'a Yaml> {
    match value {
        Yaml::Tagged(t) if t.tag == tag => Some(&t.value),
        _ => None,
    }
}

fn reference(value: &Yaml) -> Option<&str> {
    tagged(value, "!Ref").and_then(Yaml::as_str)
}

/// Every resource of a CloudFormation type, as (logical id, resource).
fn resources_of(template: &Yaml, kind: &str) -> Vec<(String, Yaml)> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, r)| (id.as_str().expect("a logical id").to_owned(), r.clone()))
        .collect()
}

/// A metric an alarm watches: its namespace, its name, and its dimensions as (name, value).
type Watched = (String, String, Vec<(String, String)>);

/// The metrics an alarm watches.
fn watched(alarm: &Yaml) -> Vec<Watched> {
    let dimension_values = |dimensions: &Yaml| -> Vec<(String, String)> {
        dimensions
            .as_sequence()
            .map(|dims| {
                dims.iter()
                    .map(|d| {
                        let value = reference(&d["Value"])
                            .map(str::to_owned)
                            .or_else(|| d["Value"].as_str().map(str::to_owned))
                            .unwrap_or_default();
                        (d["Name"].as_str().unwrap_or_default().to_owned(), value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespace = |value: &Yaml| {
        value.as_str().or_else(|| tagged(value, "!Sub").and_then(Yaml::as_str)).unwrap_or_default().to_owned()
    };
    let properties = &alarm["Properties"];
    if let Some(metric) = properties["MetricName"].as_str() {
        return vec![(
            namespace(&properties["Namespace"]),
            metric.to_owned(),
            dimension_values(&properties["Dimensions"]),
        )];
    }
    properties["Metrics"]
        .as_sequence()
        .expect("an alarm watches one metric or metric math")
        .iter()
        .filter_map(|m| m.get("MetricStat"))
        .map(|stat| {
            let metric = &stat["Metric"];
            (
                namespace(&metric["Namespace"]),
                metric["MetricName"].as_str().unwrap_or_default().to_owned(),
                dimension_values(&metric["Dimensions"]),
            )
        })
        .collect()
}

/// The alarms watching `metric_name` in `namespace`, with the resources their `dimension` names.
fn alarms_on(template: &Yaml, namespace: &str, metric_name: &str, dimension: &str) -> Vec<(String, BTreeSet<String>)> {
    resources_of(template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter_map(|(id, alarm)| {
            let on: BTreeSet<String> = watched(&alarm)
                .into_iter()
                .filter(|(ns, name, _)| ns == namespace && name == metric_name)
                .flat_map(|(_, _, dims)| dims.into_iter().filter(|(n, _)| n == dimension).map(|(_, v)| v))
                .collect();
            (!on.is_empty()).then_some((id, on))
        })
        .collect()
}

/// The namespace the functions' EMF lines carry, as the template sets it for every function.
fn metrics_namespace(template: &Yaml) -> String {
    let value = &template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"];
    tagged(value, "!Sub").and_then(Yaml::as_str).expect("METRICS_NAMESPACE is set for every function").to_owned()
}

fn functions(template: &Yaml) -> BTreeSet<String> {
    resources_of(template, "AWS::Serverless::Function").into_iter().map(|(id, _)| id).collect()
}

#[test]
fn every_alarm_notifies_the_optional_topic() {
    let template = template();
    let parameter = &template["Parameters"]["AlarmTopicArn"];
    assert_eq!(parameter["Default"].as_str(), Some(""), "the topic is optional");
    assert!(
        matches!(template["Conditions"]["NotifyAlarms"], Yaml::Tagged(_)),
        "NotifyAlarms tells whether a topic was given"
    );
    let alarms = resources_of(&template, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 12, "{} alarms", alarms.len());
    for (id, alarm) in alarms {
        for actions in ["AlarmActions", "OKActions"] {
            let choice = tagged(&alarm["Properties"][actions], "!If")
                .and_then(Yaml::as_sequence)
                .unwrap_or_else(|| panic!("{id}: {actions} is `!If [NotifyAlarms, …]`"));
            assert_eq!(choice[0].as_str(), Some("NotifyAlarms"), "{id}");
            let topics: Vec<&str> = choice[1].as_sequence().expect("a list").iter().filter_map(reference).collect();
            assert_eq!(topics, ["AlarmTopicArn"], "{id}");
            assert_eq!(reference(&choice[2]), Some("AWS::NoValue"), "{id}");
        }
        assert_eq!(
            alarm["Properties"]["TreatMissingData"].as_str(),
            Some("notBreaching"),
            "{id}: no traffic is no alarm"
        );
    }
}

#[test]
fn the_5xx_rate_of_the_api_is_alarmed() {
    let template = template();
    let alarms = alarms_on(&template, "AWS/ApiGateway", "5xx", "ApiId");
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].1, BTreeSet::from(["HttpApi".to_owned()]));
    let counts = alarms_on(&template, "AWS/ApiGateway", "Count", "ApiId");
    assert_eq!(counts.iter().map(|(id, _)| id).collect::<Vec<_>>(), [&alarms[0].0], "a rate: 5xx over all answers");
}

#[test]
fn every_api_function_has_a_p99_latency_alarm() {
    let template = template();
    let alarms = resources_of(&template, "AWS::CloudWatch::Alarm");
    for group in Group::ALL {
        let on_it: Vec<&String> = alarms
            .iter()
            .filter(|(_, alarm)| {
                alarm["Properties"]["ExtendedStatistic"].as_str() == Some("p99")
                    && watched(alarm).iter().any(|(ns, name, dims)| {
                        ns == "AWS/Lambda"
                            && name == "Duration"
                            && dims.iter().any(|(n, v)| n == "FunctionName" && v == group.logical_id())
                    })
            })
            .map(|(id, _)| id)
            .collect();
        assert_eq!(on_it.len(), 1, "{}: p99 latency alarms {on_it:?}", group.logical_id());
    }
}

#[test]
fn throttles_of_every_function_and_of_the_table_are_alarmed() {
    let template = template();
    let throttles = alarms_on(&template, "AWS/Lambda", "Throttles", "FunctionName");
    let covered: BTreeSet<String> = throttles.into_iter().flat_map(|(_, on)| on).collect();
    assert_eq!(covered, functions(&template), "every function's throttles");
    for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
        let alarms = alarms_on(&template, "AWS/DynamoDB", metric, "TableName");
        assert_eq!(alarms.len(), 1, "{metric}: {alarms:?}");
        assert_eq!(alarms[0].1, BTreeSet::from(["ProEventaTable".to_owned()]));
    }
}

#[test]
fn failed_outbox_messages_and_failed_jobs_are_alarmed() {
    let template = template();
    let namespace = metrics_namespace(&template);
    let failed = alarms_on(&template, &namespace, metrics::OUTBOX_MESSAGES, "outcome");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].1, BTreeSet::from(["failed".to_owned()]));
    let senders = alarms_on(&template, &namespace, metrics::OUTBOX_MESSAGES, "Function");
    assert_eq!(senders[0].1, BTreeSet::from(["job-send-mail".to_owned()]), "the dimension the EMF line carries");
    let jobs = alarms_on(&template, "AWS/Lambda", "Errors", "FunctionName");
    let covered: BTreeSet<String> = jobs.into_iter().flat_map(|(_, on)| on).collect();
    assert_eq!(covered, BTreeSet::from(["ExpireHoldsFunction".to_owned(), "SendMailFunction".to_owned()]));
}

#[test]
fn an_outbox_backlog_is_alarmed_on_the_pending_depth_the_sender_counts() {
    let template = template();
    let namespace = metrics_namespace(&template);
    let backlog = alarms_on(&template, &namespace, metrics::OUTBOX_DEPTH, "status");
    assert_eq!(backlog.len(), 1, "{backlog:?}");
    assert_eq!(backlog[0].1, BTreeSet::from(["pending".to_owned()]), "a backlog is what waits, not what failed");
    let senders = alarms_on(&template, &namespace, metrics::OUTBOX_DEPTH, "Function");
    assert_eq!(senders[0].1, BTreeSet::from(["job-send-mail".to_owned()]), "the dimension the EMF line carries");
    let alarm = &template["Resources"][backlog[0].0.as_str()]["Properties"];
    assert_eq!(alarm["Statistic"].as_str(), Some("Maximum"), "a level, not a sum of the runs' counts");
    assert_eq!(reference(&alarm["Threshold"]), Some("OutboxBacklogAlarmMessages"));
    assert!(template["Parameters"]["OutboxBacklogAlarmMessages"]["Default"].as_u64().is_some_and(|n| n > 0));
}

/// The CloudWatch dashboard's body, with CloudFormation's `${…}` substitutions (each checked to
/// name a resource, a parameter or a pseudo parameter) replaced by placeholders, as JSON.
fn dashboard_body(template: &Yaml) -> serde_json::Value {
    let dashboards = resources_of(template, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1);
    let body = tagged(&dashboards[0].1["Properties"]["DashboardBody"], "!Sub")
        .and_then(Yaml::as_str)
        .expect("DashboardBody is a !Sub string");
    let mut text = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("a closed ${…}") + start;
        let name = &rest[start + 2..end];
        let known = name.starts_with("AWS::")
            || template["Resources"].get(name).is_some()
            || template["Parameters"].get(name).is_some();
        assert!(known, "the dashboard substitutes ${{{name}}}, which the template does not define");
        text.push_str(&rest[..start]);
        text.push_str("SUBSTITUTED");
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the dashboard body is not JSON ({e}):\n{text}"))
}

/// Every `proeventa_…` name in a text, a Prometheus histogram's `_bucket`, `_sum`, `_count` series
/// read as their histogram.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("proeventa_") {
        let name: String = text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|b| metrics::ALL.contains(b)))
            .unwrap_or(&name);
        names.insert(base.to_owned());
    }
    names
}

#[test]
fn the_cloudwatch_dashboard_shows_every_function_and_every_metric_of_the_vocabulary() {
    let template = template();
    let body = dashboard_body(&template);
    let widgets = body["widgets"].as_array().expect("widgets");
    assert!(widgets.len() >= 10);
    let text =
        tagged(&resources_of(&template, "AWS::CloudWatch::Dashboard")[0].1["Properties"]["DashboardBody"], "!Sub")
            .and_then(Yaml::as_str)
            .unwrap_or_default()
            .to_owned();
    for function in functions(&template) {
        assert!(text.contains(&format!("${{{function}}}")), "the dashboard does not show {function}");
    }
    let namespace = metrics_namespace(&template);
    assert!(text.contains(&format!("{{{namespace},")), "the dashboard reads the EMF namespace {namespace}");
    let shown = metric_names(&text);
    let vocabulary: BTreeSet<String> = metrics::ALL.iter().map(|n| n.to_string()).collect();
    assert_eq!(shown, vocabulary, "the CloudWatch dashboard and shared/src/metrics.rs disagree");
}

#[test]
fn the_grafana_dashboard_queries_every_metric_of_the_vocabulary_and_no_other() {
    let path = workspace().join("infra/grafana/proeventa.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the Grafana dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut exprs = String::new();
    for panel in panels {
        assert_eq!(panel["datasource"]["type"], "prometheus", "{}", panel["title"]);
        for target in panel["targets"].as_array().expect("targets") {
            exprs.push_str(target["expr"].as_str().expect("a PromQL expression"));
            exprs.push('\n');
        }
    }
    let vocabulary: BTreeSet<String> = metrics::ALL.iter().map(|n| n.to_string()).collect();
    assert_eq!(metric_names(&exprs), vocabulary, "the Grafana dashboard and shared/src/metrics.rs disagree");
}
