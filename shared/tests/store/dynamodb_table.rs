//! The DynamoDB table is defined once in Rust (`store::dynamodb::table::definition`, which
//! `proeventa migrate` creates on an emulator) and declared again in `infra/template.yaml` for AWS:
//! this test proves the two agree on keys, indexes, projections, TTL and billing.

use std::collections::BTreeMap;

use proeventa_core::store::dynamodb::table::{KeyDefinition, definition};
use serde_yaml::Value;

fn template() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    // CloudFormation's short tags (!Ref, !Sub, !If...) parse as tagged values; none is in the table.
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn table_properties(template: &Value) -> &Value {
    let table = &template["Resources"]["ProEventaTable"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"), "ProEventaTable must be a DynamoDB table");
    &table["Properties"]
}

fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value.as_str().unwrap_or_else(|| panic!("{what} is not plain text in the template: {value:?}"))
}

/// A `KeySchema` list as (partition, sort).
fn key_schema(value: &Value, what: &str) -> (String, String) {
    let elements = value.as_sequence().unwrap_or_else(|| panic!("{what}: KeySchema is not a list"));
    let mut hash = None;
    let mut range = None;
    for element in elements {
        let name = text(&element["AttributeName"], what).to_owned();
        match text(&element["KeyType"], what) {
            "HASH" => hash = Some(name),
            "RANGE" => range = Some(name),
            other => panic!("{what}: unknown KeyType {other}"),
        }
    }
    assert_eq!(elements.len(), 2, "{what}: a partition key and a sort key");
    (hash.unwrap_or_else(|| panic!("{what}: no HASH key")), range.unwrap_or_else(|| panic!("{what}: no RANGE key")))
}

fn pair(key: &KeyDefinition) -> (String, String) {
    (key.partition.to_owned(), key.sort.to_owned())
}

#[test]
fn template_table_matches_the_rust_definition() {
    let template = template();
    let props = table_properties(&template);
    let def = definition();

    assert_eq!(text(&props["BillingMode"], "BillingMode"), def.billing_mode);
    assert_eq!(key_schema(&props["KeySchema"], "table"), pair(&def.key), "the table's primary key");

    let declared: BTreeMap<String, String> = props["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions is a list")
        .iter()
        .map(|a| (text(&a["AttributeName"], "attribute").to_owned(), text(&a["AttributeType"], "attribute").to_owned()))
        .collect();
    let expected: BTreeMap<String, String> =
        def.attribute_names().into_iter().map(|name| (name.to_owned(), "S".to_owned())).collect();
    assert_eq!(declared, expected, "every key attribute, once, as a string, and nothing else");

    let indexes: BTreeMap<String, ((String, String), String)> = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("GlobalSecondaryIndexes is a list")
        .iter()
        .map(|index| {
            let name = text(&index["IndexName"], "IndexName").to_owned();
            let keys = key_schema(&index["KeySchema"], &name);
            let projection = text(&index["Projection"]["ProjectionType"], &name).to_owned();
            (name, (keys, projection))
        })
        .collect();
    let expected: BTreeMap<String, ((String, String), String)> =
        def.indexes.iter().map(|i| (i.name.to_owned(), (pair(&i.key), "ALL".to_owned()))).collect();
    assert_eq!(indexes, expected, "the global secondary indexes, each projecting every attribute");

    let ttl = &props["TimeToLiveSpecification"];
    assert_eq!(text(&ttl["AttributeName"], "TTL attribute"), def.ttl_attribute);
    assert_eq!(ttl["Enabled"].as_bool(), Some(true), "TTL tidies day-old idempotency records");
}
