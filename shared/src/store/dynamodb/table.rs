//! The one table's definition, in one place: `proeventa migrate` creates it from here on an
//! emulator, and a test proves `infra/template.yaml` declares the same keys, indexes and TTL.

use std::time::Duration as StdDuration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use super::{build_error, sdk_error};
use crate::store::{StoreError, StoreResult};

/// An index or the table's primary key: partition key and sort key, both strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDefinition {
    pub partition: &'static str,
    pub sort: &'static str,
}

/// A global secondary index projecting every attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: &'static str,
    pub key: KeyDefinition,
}

/// What the table is, independent of any SDK or template syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub key: KeyDefinition,
    pub indexes: Vec<IndexDefinition>,
    /// Items whose number attribute of this name (epoch seconds) has passed are removed eventually.
    pub ttl_attribute: &'static str,
    /// `PAY_PER_REQUEST`: an on-sale spike needs no capacity planned in advance.
    pub billing_mode: &'static str,
}

/// The table: `pk`/`sk`; `gsi1` answers "by user" and the listings (users, venues, events, held
/// seats for the sweeper), `gsi2` answers "by event" and every payment.
pub fn definition() -> TableDefinition {
    TableDefinition {
        key: KeyDefinition { partition: "pk", sort: "sk" },
        indexes: vec![
            IndexDefinition { name: "gsi1", key: KeyDefinition { partition: "gsi1pk", sort: "gsi1sk" } },
            IndexDefinition { name: "gsi2", key: KeyDefinition { partition: "gsi2pk", sort: "gsi2sk" } },
        ],
        ttl_attribute: "ttl",
        billing_mode: "PAY_PER_REQUEST",
    }
}

impl TableDefinition {
    /// Every key attribute, each declared once as a string.
    pub fn attribute_names(&self) -> Vec<&'static str> {
        let mut names = vec![self.key.partition, self.key.sort];
        for index in &self.indexes {
            names.extend([index.key.partition, index.key.sort]);
        }
        names
    }
}

fn key_schema(key: &KeyDefinition) -> StoreResult<Vec<KeySchemaElement>> {
    [(key.partition, KeyType::Hash), (key.sort, KeyType::Range)]
        .into_iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(build_error)
        })
        .collect()
}

/// How long `migrate` waits for a new table to become active.
const ACTIVE_WAIT: StdDuration = StdDuration::from_secs(120);

/// Creates the table when it is missing, waits until it is active, and turns TTL on.
pub async fn ensure_table(client: &Client, table: &str) -> StoreResult<()> {
    let def = definition();
    let described = client.describe_table().table_name(table).send().await;
    let exists = match described {
        Ok(_) => true,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => false,
        Err(err) => return Err(sdk_error(err)),
    };
    if !exists {
        let attributes = def
            .attribute_names()
            .into_iter()
            .map(|name| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build_error)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let indexes = def
            .indexes
            .iter()
            .map(|index| {
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .set_key_schema(Some(key_schema(&index.key)?))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(build_error)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let created = client
            .create_table()
            .table_name(table)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_schema(&def.key)?))
            .set_global_secondary_indexes(Some(indexes))
            .billing_mode(BillingMode::from(def.billing_mode))
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Another process created it meanwhile: fine, it is the same definition.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(err) => return Err(sdk_error(err)),
        }
    }
    wait_until_active(client, table).await?;
    enable_ttl(client, table, def.ttl_attribute).await
}

async fn wait_until_active(client: &Client, table: &str) -> StoreResult<()> {
    let started = std::time::Instant::now();
    loop {
        let out = client.describe_table().table_name(table).send().await.map_err(sdk_error)?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        if started.elapsed() > ACTIVE_WAIT {
            return Err(StoreError::Unavailable(format!("table {table} did not become active in time")));
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

async fn enable_ttl(client: &Client, table: &str, attribute: &str) -> StoreResult<()> {
    let current = client.describe_time_to_live().table_name(table).send().await.map_err(sdk_error)?;
    let enabled = current.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some(attribute) && d.time_to_live_status().is_some_and(|s| s.as_str() == "ENABLED")
    });
    if enabled {
        return Ok(());
    }
    let spec =
        TimeToLiveSpecification::builder().enabled(true).attribute_name(attribute).build().map_err(build_error)?;
    match client.update_time_to_live().table_name(table).time_to_live_specification(spec).send().await {
        Ok(_) => Ok(()),
        // Already on, or being turned on by a concurrent migrate.
        Err(err) if err.code_is_validation_already_enabled() => Ok(()),
        Err(err) => Err(sdk_error(err)),
    }
}

trait AlreadyEnabled {
    fn code_is_validation_already_enabled(&self) -> bool;
}

impl<E, R> AlreadyEnabled for aws_sdk_dynamodb::error::SdkError<E, R>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    fn code_is_validation_already_enabled(&self) -> bool {
        use aws_sdk_dynamodb::error::ProvideErrorMetadata;
        self.code() == Some("ValidationException")
            && self.message().is_some_and(|m| m.to_ascii_lowercase().contains("already enabled"))
    }
}
