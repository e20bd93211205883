//! The cloud edge in `infra/template.yaml`, read from the template and checked against the code:
//! each function's DynamoDB policy lets it write exactly the kinds of items its code writes (the
//! kinds and their writers are `proeventa_core::store::dynamodb::ITEM_KINDS`, a function's writes
//! `Group::store_writes`), and on DynamoDB Local every request each function's own router sends
//! (recorded from the SDK) is one its policy allows; the costly routes have their own throttles;
//! every function has a reserved concurrency; the API and the site keep access logs; only
//! job-send-mail sends mail, as the SES identity only, woken by outbox writes and a schedule.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::common::{JWT_SECRET, TICKET_SIGNING_KEY, WEBHOOK_SECRET, template};
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemInput, batch_write_item::BatchWriteItemInput, delete_item::DeleteItemInput,
    describe_table::DescribeTableInput, get_item::GetItemInput, put_item::PutItemInput, query::QueryInput,
    transact_write_items::TransactWriteItemsInput, update_item::UpdateItemInput,
};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use chrono::{Duration, Utc};
use proeventa_core::api::AppState;
use proeventa_core::config::MailUrl;
use proeventa_core::domain::{CLAIM_LEASE, DeliveryOutcome, MessageKind, Page, Role, Settlement, UserChanges};
use proeventa_core::mail::sender_for;
use proeventa_core::payments::SimulatedProvider;
use proeventa_core::store::dynamodb::{DynamoStore, ITEM_KINDS, ItemKind, kind_of, string_like};
use proeventa_core::store::{OutboxStore, Store, UserStore, Writes};
use proeventa_core::tickets::TicketKeys;
use proeventa_core::webhooks::WebhookSender;
use proeventa_lambda::{EXPIRE_HOLDS_WRITES, Group, SEND_MAIL_WRITES, lambda_config};
use proeventa_testkit::TempDynamoTable;
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use tower::ServiceExt;
use uuid::Uuid;

/// The IAM actions that change an item (a transaction needs them for each of its items).
const WRITE_ACTIONS: [&str; 4] =
    ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"];

// ---------------------------------------------------------------------------------------------
// The template

/// One Lambda function of the template: its logical id, its package, and the store writes its
/// code makes.
struct Function {
    logical_id: String,
    name: String,
    writes: &'static [Writes],
    resource: Yaml,
}

fn functions() -> Vec<Function> {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("Resources");
    let functions: Vec<Function> = resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, resource)| {
            let logical_id = id.as_str().expect("a logical id").to_owned();
            let name = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or("").to_owned();
            let writes = match Group::ALL.into_iter().find(|g| g.function_name() == name) {
                Some(group) => group.store_writes(),
                None if name == "job-expire-holds" => EXPIRE_HOLDS_WRITES,
                None if name == "job-send-mail" => SEND_MAIL_WRITES,
                None => panic!("{logical_id} builds {name:?}, which is no function package"),
            };
            Function { logical_id, name, writes, resource: resource.clone() }
        })
        .collect();
    assert_eq!(functions.len(), Group::ALL.len() + 2, "every endpoint group and the two jobs");
    functions
}

/// One `Allow` statement of a function's policy, on the table.
#[derive(Debug)]
struct Statement {
    actions: BTreeSet<String>,
    table: bool,
    indexes: bool,
    /// The `ForAllValues:StringLike` `dynamodb:LeadingKeys` patterns, when the statement has them.
    leading_keys: Option<Vec<String>>,
}

impl Statement {
    fn writes(&self) -> bool {
        WRITE_ACTIONS.iter().any(|a| self.actions.contains(*a))
    }
}

fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Sequence(items) => items.iter().flat_map(strings).collect(),
        other => panic!("not a string or a list of strings: {other:?}"),
    }
}

/// The table and its indexes, as the policies name them.
fn resource_of(value: &Yaml) -> (bool, bool) {
    match value {
        Yaml::Tagged(t) if t.tag == "!GetAtt" && t.value.as_str() == Some("ProEventaTable.Arn") => (true, false),
        Yaml::Tagged(t) if t.tag == "!Sub" && t.value.as_str() == Some("${ProEventaTable.Arn}/index/*") => {
            (false, true)
        }
        Yaml::Sequence(items) => items.iter().map(resource_of).fold((false, false), |a, b| (a.0 || b.0, a.1 || b.1)),
        other => panic!("a DynamoDB statement names a resource other than the table or its indexes: {other:?}"),
    }
}

fn statements(function: &Function) -> Vec<Statement> {
    let policies = function.resource["Properties"]["Policies"].as_sequence().cloned().unwrap_or_default();
    let mut statements = Vec::new();
    for policy in &policies {
        for statement in policy["Statement"].as_sequence().expect("a policy document") {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{}", function.logical_id);
            let actions: BTreeSet<String> = strings(&statement["Action"]).into_iter().collect();
            if actions.iter().all(|a| a.starts_with("ses:")) {
                // Checked by `only_the_mail_job_sends_mail_and_only_as_the_identity`.
                continue;
            }
            if actions.iter().all(|a| a.starts_with("s3:")) {
                // Checked by `only_the_catalog_writes_posters_and_only_there`.
                continue;
            }
            assert!(
                actions.iter().all(|a| a.starts_with("dynamodb:") && !a.contains('*')),
                "{}: only named DynamoDB actions: {actions:?}",
                function.logical_id
            );
            let (table, indexes) = resource_of(&statement["Resource"]);
            let leading_keys = match statement["Condition"].as_mapping() {
                None => None,
                Some(condition) => {
                    assert_eq!(condition.len(), 1, "{}: one condition operator", function.logical_id);
                    let keys = &condition
                        .get("ForAllValues:StringLike")
                        .unwrap_or_else(|| panic!("{}: ForAllValues:StringLike", function.logical_id))["dynamodb:LeadingKeys"];
                    Some(strings(keys))
                }
            };
            statements.push(Statement { actions, table, indexes, leading_keys });
        }
    }
    statements
}

/// Whether one of `statements` allows `action` on the table (or an index) for partition key `pk`.
fn allows(statements: &[Statement], action: &str, pk: Option<&str>, on_index: bool) -> bool {
    statements.iter().any(|s| {
        s.actions.contains(&format!("dynamodb:{action}"))
            && if on_index { s.indexes } else { s.table }
            && match &s.leading_keys {
                None => true,
                Some(patterns) => pk.is_some_and(|pk| patterns.iter().any(|p| string_like(p, pk))),
            }
    })
}

/// The kinds of items `writes` write, by the shape of their partition keys.
fn kinds_written_by(writes: &[Writes]) -> BTreeMap<&'static str, &'static ItemKind> {
    ITEM_KINDS.iter().filter(|k| k.is_written_by(writes)).map(|k| (k.pattern, k)).collect()
}

#[test]
fn each_functions_policy_lets_it_write_exactly_the_kinds_of_items_its_code_writes() {
    for function in functions() {
        let statements = statements(&function);
        let mut granted = BTreeSet::new();
        for statement in statements.iter().filter(|s| s.writes()) {
            let patterns = statement.leading_keys.as_ref().unwrap_or_else(|| {
                panic!(
                    "{}: a statement grants {:?} on any item; narrow it with ForAllValues:StringLike \
                     dynamodb:LeadingKeys",
                    function.logical_id, statement.actions
                )
            });
            assert!(
                statement.table && !statement.indexes,
                "{}: writes go to the table, never an index",
                function.logical_id
            );
            granted.extend(patterns.iter().cloned());
        }
        let needed = kinds_written_by(function.writes);
        for (pattern, kind) in &needed {
            assert!(
                granted.contains(*pattern),
                "{} ({}) writes items of kind {} (partition key {pattern:?}, written by {:?}; its code \
                 writes with {:?}), but its policy in infra/template.yaml does not let it: add {pattern:?} to \
                 its Write statement's dynamodb:LeadingKeys",
                function.logical_id,
                function.name,
                kind.name,
                kind.written_by,
                function.writes,
            );
        }
        for pattern in &granted {
            assert!(
                needed.contains_key(pattern.as_str()),
                "{} ({}) may write partition keys {pattern:?}, which no kind of item its code writes has \
                 (its writes: {:?}; shared/src/store/dynamodb/items.rs): remove it from its policy",
                function.logical_id,
                function.name,
                function.writes,
            );
        }
    }
}

/// `ses:SendRawEmail` (raw MIME: attachments) on the configured identity's ARN, by job-send-mail
/// only; no other SES action anywhere.
#[test]
fn only_the_mail_job_sends_mail_and_only_as_the_identity() {
    for function in functions() {
        let policies = function.resource["Properties"]["Policies"].as_sequence().cloned().unwrap_or_default();
        let ses: Vec<Yaml> = policies
            .iter()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
            .filter(|s| strings(&s["Action"]).iter().any(|a| a.starts_with("ses:")))
            .collect();
        if function.name != "job-send-mail" {
            assert!(ses.is_empty(), "{} may use SES: {ses:?}", function.logical_id);
            continue;
        }
        assert_eq!(ses.len(), 1, "{}: one SES statement", function.logical_id);
        assert_eq!(strings(&ses[0]["Action"]), ["ses:SendRawEmail"]);
        let resource = match &ses[0]["Resource"] {
            Yaml::Tagged(t) if t.tag == "!Sub" => t.value.as_str().unwrap_or("").to_owned(),
            other => panic!("the SES statement names no single identity: {other:?}"),
        };
        assert_eq!(resource, "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesIdentity}");
        let environment = &function.resource["Properties"]["Environment"]["Variables"];
        assert_eq!(environment["MAIL_URL"].as_str(), Some("ses://"));
    }
}

/// `s3:PutObject` under `posters/` of the poster bucket, by api-catalog only (it serves the
/// upload); nothing reads, lists or deletes there, and no other function touches S3.
#[test]
fn only_the_catalog_writes_posters_and_only_there() {
    for function in functions() {
        let policies = function.resource["Properties"]["Policies"].as_sequence().cloned().unwrap_or_default();
        let s3: Vec<Yaml> = policies
            .iter()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
            .filter(|s| strings(&s["Action"]).iter().any(|a| a.starts_with("s3:")))
            .collect();
        if function.name != "api-catalog" {
            assert!(s3.is_empty(), "{} may use S3: {s3:?}", function.logical_id);
            continue;
        }
        assert_eq!(s3.len(), 1, "{}: one S3 statement", function.logical_id);
        assert_eq!(strings(&s3[0]["Action"]), ["s3:PutObject"]);
        let resource = match &s3[0]["Resource"] {
            Yaml::Tagged(t) if t.tag == "!Sub" => t.value.as_str().unwrap_or("").to_owned(),
            other => panic!("the S3 statement names no single prefix: {other:?}"),
        };
        assert_eq!(resource, "${PosterBucket.Arn}/posters/*");
        let environment = &function.resource["Properties"]["Environment"]["Variables"];
        assert!(
            matches!(&environment["POSTER_BUCKET"], Yaml::Tagged(t) if t.tag == "!Ref" && t.value.as_str() == Some("PosterBucket"))
        );
    }
}

/// job-send-mail is woken by the table's stream for outbox items only (`MSG#` partition keys)
/// and by a schedule (the safety net, and PostgreSQL's only trigger).
#[test]
fn the_mail_job_is_woken_by_outbox_writes_and_a_schedule() {
    let template = template();
    let table = &template["Resources"]["ProEventaTable"]["Properties"];
    assert!(table["StreamSpecification"]["StreamViewType"].as_str().is_some(), "the table has a stream");
    let function = functions().into_iter().find(|f| f.name == "job-send-mail").expect("job-send-mail");
    let events = function.resource["Properties"]["Events"].as_mapping().cloned().expect("events");
    let of_type =
        |kind: &str| events.values().filter(|e| e["Type"].as_str() == Some(kind)).cloned().collect::<Vec<_>>();
    let streams = of_type("DynamoDB");
    assert_eq!(streams.len(), 1, "one stream trigger");
    let filters = streams[0]["Properties"]["FilterCriteria"]["Filters"].as_sequence().cloned().expect("filters");
    assert_eq!(filters.len(), 1);
    let pattern: Value = serde_json::from_str(filters[0]["Pattern"].as_str().expect("a pattern")).expect("JSON");
    assert_eq!(pattern, json!({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "MSG#"}]}}}}));
    let schedules = of_type("Schedule");
    assert_eq!(schedules.len(), 1, "one schedule");
    assert_eq!(schedules[0]["Properties"]["Schedule"].as_str(), Some("rate(1 minute)"));
}

#[test]
fn the_costly_routes_have_their_own_throttles() {
    let template = template();
    let api = &template["Resources"]["HttpApi"]["Properties"];
    let settings = api["RouteSettings"].as_mapping().expect("RouteSettings on the HTTP API");
    let routes: BTreeSet<String> = functions()
        .iter()
        .flat_map(|f| f.resource["Properties"]["Events"].as_mapping().cloned().unwrap_or_default())
        .filter(|(_, e)| e["Type"].as_str() == Some("HttpApi"))
        .filter_map(|(_, e)| {
            let p = &e["Properties"];
            Some(format!("{} {}", p["Method"].as_str()?.to_uppercase(), p["Path"].as_str()?))
        })
        .collect();
    let parameters = template["Parameters"].as_mapping().expect("Parameters");
    for (key, limits) in settings {
        let key = key.as_str().expect("a route key");
        assert!(routes.contains(key), "RouteSettings names {key:?}, which is no route of the API");
        for limit in ["ThrottlingBurstLimit", "ThrottlingRateLimit"] {
            let parameter = match &limits[limit] {
                Yaml::Tagged(r) if r.tag == "!Ref" => r.value.as_str().unwrap_or("").to_owned(),
                other => panic!("{key} {limit} is not a parameter: {other:?}"),
            };
            let default = parameters.get(parameter.as_str()).and_then(|p| p["Default"].as_u64());
            assert!(default.is_some_and(|d| d > 0), "{key} {limit}: parameter {parameter} has a positive default");
        }
    }
    for costly in [
        "POST /auth/login",
        "POST /auth/signup",
        "POST /reservations/reservations/reserve",
        "POST /payments/{payment_id}/confirm",
    ] {
        assert!(settings.contains_key(costly), "{costly} has no throttle of its own");
    }
}

#[test]
fn every_function_has_a_reserved_concurrency_parameter() {
    let template = template();
    let parameters = template["Parameters"].as_mapping().expect("Parameters");
    let mut reserved = 0;
    for function in functions() {
        // `!If [Reserve…, !Ref <parameter>, !Ref AWS::NoValue]`: 0 reserves nothing.
        let setting = &function.resource["Properties"]["ReservedConcurrentExecutions"];
        let parameter = match setting {
            Yaml::Tagged(t) if t.tag == "!If" => match &t.value[1] {
                Yaml::Tagged(r) if r.tag == "!Ref" => r.value.as_str().unwrap_or("").to_owned(),
                other => panic!("{}: {other:?}", function.logical_id),
            },
            other => panic!("{} has no ReservedConcurrentExecutions parameter: {other:?}", function.logical_id),
        };
        let default = parameters.get(parameter.as_str()).and_then(|p| p["Default"].as_u64());
        reserved += default.unwrap_or_else(|| panic!("{}: {parameter} has a default", function.logical_id));
    }
    // Lambda keeps 100 of an account's concurrency (1000 by default) unreserved.
    assert!(reserved <= 900, "the defaults reserve {reserved} executions, more than a default account has");
}

#[test]
fn the_api_and_the_site_keep_access_logs() {
    let template = template();
    let resources = &template["Resources"];
    let logs = &resources["HttpApi"]["Properties"]["AccessLogSettings"];
    let group = match &logs["DestinationArn"] {
        Yaml::Tagged(t) if t.tag == "!GetAtt" => t.value.as_str().unwrap_or("").trim_end_matches(".Arn").to_owned(),
        other => panic!("the API's access logs go to no log group of the stack: {other:?}"),
    };
    assert_eq!(resources[group.as_str()]["Type"].as_str(), Some("AWS::Logs::LogGroup"));
    assert!(!resources[group.as_str()]["Properties"]["RetentionInDays"].is_null(), "{group} has a retention");
    let format: Value = serde_json::from_str(logs["Format"].as_str().expect("a format"))
        .unwrap_or_else(|e| panic!("the access log format is one JSON object per line: {e}"));
    for field in ["requestId", "lambdaRequestId", "ip", "routeKey", "status", "latencyMs"] {
        assert!(format.get(field).is_some(), "the access log has {field}: {format}");
    }

    let distribution = &resources["SiteDistribution"]["Properties"]["DistributionConfig"];
    let bucket = match &distribution["Logging"]["Bucket"] {
        Yaml::Tagged(t) if t.tag == "!GetAtt" => {
            t.value.as_str().unwrap_or("").trim_end_matches(".DomainName").to_owned()
        }
        other => panic!("the distribution logs to no bucket of the stack: {other:?}"),
    };
    let bucket = &resources[bucket.as_str()]["Properties"];
    // CloudFront's standard logs are delivered with ACLs, which BucketOwnerEnforced refuses.
    assert_eq!(bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"].as_str(), Some("BucketOwnerPreferred"));
    assert_eq!(bucket["PublicAccessBlockConfiguration"]["BlockPublicAcls"].as_bool(), Some(true));
    assert!(!bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"].is_null(), "logs expire");
}

mod scenario;
