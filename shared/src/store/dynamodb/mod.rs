//! DynamoDB backend: every store trait on one table (single-table design, see `docs/dynamodb.md`),
//! with the seat promise kept by conditional writes: one seat-state item per (event, seat), written
//! only when the seat is free, canceled, expired or held past its end, a multi-seat hold being one
//! `TransactWriteItems`. Nothing is checked in Rust and then written: every decision is a condition.

mod catalog;
mod holds;
mod items;
mod payments;
pub mod table;
mod users;

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, TransactWriteItem, Update, WriteRequest,
};
use uuid::Uuid;

use super::{Store, StoreError, StoreResult};
use crate::domain::Invalid;
use items::Item;

/// Region used when the environment names none (DynamoDB Local ignores it).
const DEFAULT_REGION: &str = "us-east-1";
/// A transaction that met another one on the same item was rolled back whole; it is tried again
/// after a short random pause, this many times in all, before its conflict counts as a lost item.
const TX_ATTEMPTS: usize = 12;
/// A read-decide-write cycle whose conditions found the state changed since the read starts over
/// from the read, this many times in all.
const OPTIMISTIC_ATTEMPTS: usize = 8;
/// DynamoDB answers at most this many keys per `BatchGetItem` and items per `BatchWriteItem`.
const BATCH_GET_MAX: usize = 100;
const BATCH_WRITE_MAX: usize = 25;

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// Opens `dynamodb://<table>` with the environment's AWS settings (`AWS_REGION`, credentials,
    /// `AWS_ENDPOINT_URL` for an emulator). With an endpoint but no credentials, fake static ones
    /// are used, which is what DynamoDB Local expects.
    pub async fn connect(database_url: &str) -> StoreResult<Self> {
        let table = table_from_url(database_url)?;
        let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok()
            .filter(|e| !e.trim().is_empty());
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        let region_set = ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().any(|v| std::env::var(v).is_ok());
        if !region_set {
            loader = loader.region(Region::new(DEFAULT_REGION));
        }
        if endpoint.is_some() && std::env::var("AWS_ACCESS_KEY_ID").is_err() {
            loader = loader.credentials_provider(local_credentials());
        }
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint.clone());
        }
        let shared = loader.load().await;
        Ok(Self { client: Client::new(&shared), table })
    }

    /// A store on `table` at an explicit endpoint with fake credentials: DynamoDB Local in tests,
    /// without touching the process environment.
    pub fn connect_with(endpoint: &str, table: &str) -> Self {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(DEFAULT_REGION))
            .credentials_provider(local_credentials())
            .endpoint_url(endpoint)
            .build();
        Self { client: Client::from_conf(config), table: table.to_owned() }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Deletes the whole table (test tables on an emulator; never called by the service).
    pub async fn delete_table(&self) -> StoreResult<()> {
        self.client.delete_table().table_name(&self.table).send().await.map_err(sdk_error)?;
        Ok(())
    }
}

fn local_credentials() -> Credentials {
    Credentials::new("local", "local", None, None, "proeventa-local")
}

/// The table named by `dynamodb://<table>`: DynamoDB's rules, 3 to 255 of `[A-Za-z0-9_.-]`.
fn table_from_url(database_url: &str) -> StoreResult<String> {
    let table = database_url.strip_prefix("dynamodb://").unwrap_or("").trim_end_matches('/');
    let valid = (3..=255).contains(&table.len())
        && table.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        return Err(StoreError::Internal(format!(
            "`{database_url}` does not name a table; use dynamodb://<table> (3 to 255 letters, digits, _ - .)"
        )));
    }
    Ok(table.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Maps an SDK failure: unreachable endpoint or missing table → `Unavailable`, the rest → `Internal`.
/// The message names the error code, never a request's contents.
fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().map(str::to_owned);
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            StoreError::Unavailable(format!("DynamoDB is unreachable: {}", DisplayErrorContext(&err)))
        }
        _ if code.as_deref() == Some("ResourceNotFoundException") => {
            StoreError::Unavailable("the DynamoDB table does not exist; run `proeventa migrate`".into())
        }
        _ if matches!(
            code.as_deref(),
            Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded")
        ) =>
        {
            StoreError::Unavailable("DynamoDB is throttling this table; try again".into())
        }
        _ => StoreError::Internal(format!("DynamoDB: {}", DisplayErrorContext(&err))),
    }
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

fn build_error(err: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("could not build a DynamoDB request: {err}"))
}

// ---------------------------------------------------------------------------------------------
// Expressions: every attribute is named through a placeholder `#name` that stands for `name`
// (many of ours, like `name` and `status`, are reserved words), derived from the expressions.

type Values = Vec<(&'static str, AttributeValue)>;

fn names_in(expressions: &[&str]) -> Option<HashMap<String, String>> {
    let mut names = HashMap::new();
    for expression in expressions {
        let mut rest = *expression;
        while let Some(at) = rest.find('#') {
            let tail = &rest[at + 1..];
            let len = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
            if len > 0 {
                names.insert(format!("#{}", &tail[..len]), tail[..len].to_owned());
            }
            rest = &tail[len..];
        }
    }
    (!names.is_empty()).then_some(names)
}

fn values_map(values: Values) -> Option<HashMap<String, AttributeValue>> {
    (!values.is_empty()).then(|| values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// One write of a transaction, built with its condition.
struct TxItem;

impl TxItem {
    fn put(table: &str, item: Item, condition: Option<&str>, values: Values) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(names_in(&[condition.unwrap_or("")]))
            .set_expression_attribute_values(values_map(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn update(
        table: &str,
        key: Item,
        update: &str,
        condition: Option<&str>,
        values: Values,
    ) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(names_in(&[update, condition.unwrap_or("")]))
            .set_expression_attribute_values(values_map(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn check(table: &str, key: Item, condition: &str, values: Values) -> StoreResult<TransactWriteItem> {
        let check = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_names(names_in(&[condition]))
            .set_expression_attribute_values(values_map(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

/// How a transaction ended when DynamoDB canceled it: one reason code per item, in order
/// (`None` for items that were fine, `ConditionalCheckFailed`, `TransactionConflict`, ...).
#[derive(Debug)]
struct Canceled(Vec<String>);

impl Canceled {
    fn failed(&self, index: usize) -> bool {
        self.0.get(index).is_some_and(|code| code != "None")
    }

    fn condition_failed(&self, index: usize) -> bool {
        self.0.get(index).is_some_and(|code| code == "ConditionalCheckFailed")
    }

    fn any_condition_failed(&self) -> bool {
        self.0.iter().any(|code| code == "ConditionalCheckFailed")
    }
}

/// A short random pause before a retry, so that two colliding writers do not collide again.
async fn backoff(attempt: usize) {
    let spread = 5 + 5 * attempt.min(8) as u64;
    let jitter = (Uuid::new_v4().as_u128() % u128::from(spread)) as u64;
    tokio::time::sleep(StdDuration::from_millis(2 + jitter)).await;
}

impl DynamoStore {
    /// Runs one transaction: `Ok(Ok(()))` when it committed, `Ok(Err(reasons))` when a condition
    /// refused it. A conflict with another transaction in flight (rolled back whole, nothing
    /// written) is retried; one that persists is reported like a refusal, with its reasons.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<Result<(), Canceled>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match outcome {
                Ok(_) => return Ok(Ok(())),
                Err(err) => err,
            };
            let retryable_code = matches!(
                err.code(),
                Some("TransactionConflictException" | "TransactionInProgressException" | "ThrottlingException")
            );
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => Some(Canceled(
                    canceled.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect(),
                )),
                _ => None,
            };
            match reasons {
                Some(reasons) if reasons.any_condition_failed() || attempt >= TX_ATTEMPTS => return Ok(Err(reasons)),
                Some(_) => backoff(attempt).await,
                None if retryable_code && attempt < TX_ATTEMPTS => backoff(attempt).await,
                // DynamoDB takes 100 items per transaction, DynamoDB Local before September 2020
                // only 10: too many seats for one all-or-nothing step on this endpoint.
                None if err.code() == Some("ValidationException")
                    && err.message().is_some_and(|m| m.contains("length less than or equal to")) =>
                {
                    return Err(StoreError::Rejected(Invalid::new(
                        "seat_ids",
                        format!(
                            "too many seats for one transaction on this DynamoDB endpoint ({}); \
                             DynamoDB Local before September 2020 takes at most 4 seats per booking",
                            err.message().unwrap_or_default()
                        ),
                    )));
                }
                None => return Err(sdk_error(err)),
            }
        }
    }

    /// Items by key, read strongly consistently, in no particular order; keys without an item are left out.
    async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(build_error)?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                attempt += 1;
                let out =
                    self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(sdk_error)?;
                if let Some(items) = out.responses().and_then(|r| r.get(&self.table)) {
                    found.extend(items.iter().cloned());
                }
                pending =
                    out.unprocessed_keys().and_then(|u| u.get(&self.table)).filter(|k| !k.keys().is_empty()).cloned();
                if pending.is_some() {
                    backoff(attempt).await;
                }
            }
        }
        Ok(found)
    }

    /// Writes items without conditions, 25 at a time, until DynamoDB has taken every one.
    async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
        for chunk in items.chunks(BATCH_WRITE_MAX) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(build_error)
                })
                .collect::<StoreResult<_>>()?;
            let mut attempt = 0;
            while !requests.is_empty() {
                attempt += 1;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                requests = out.unprocessed_items().and_then(|u| u.get(&self.table)).cloned().unwrap_or_default();
                if !requests.is_empty() {
                    backoff(attempt).await;
                }
            }
        }
        Ok(())
    }

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item().cloned())
    }

    /// Every item of one partition of the table or of an index, page after page.
    async fn query_all(&self, query: Query<'_>) -> StoreResult<Vec<Item>> {
        query_all_on(&self.client, &self.table, query).await
    }

    /// Several partitions of the table at once (an event's seat-state partitions), in order.
    async fn query_partitions(&self, pks: Vec<String>, prefix: &'static str) -> StoreResult<Vec<Item>> {
        let mut tasks = tokio::task::JoinSet::new();
        for (position, pk) in pks.into_iter().enumerate() {
            let (client, table) = (self.client.clone(), self.table.clone());
            tasks.spawn(async move {
                let items = query_all_on(&client, &table, Query::table(&pk).prefix(prefix)).await;
                (position, items)
            });
        }
        let mut parts = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (position, items) = done.map_err(|e| StoreError::Internal(format!("a query task failed: {e}")))?;
            parts.push((position, items?));
        }
        parts.sort_by_key(|(position, _)| *position);
        Ok(parts.into_iter().flat_map(|(_, items)| items).collect())
    }
}

/// Every item of one partition of the table (strongly consistent) or of an index (as fresh as the
/// index), page after page past DynamoDB's 1 MB per answer.
async fn query_all_on(client: &Client, table: &str, query: Query<'_>) -> StoreResult<Vec<Item>> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let key_condition = match query.sk_prefix {
            Some(_) => format!("#{} = :pk AND begins_with(#{}, :sk)", query.pk_name, query.sk_name),
            None if query.sk_below.is_some() => format!("#{} = :pk AND #{} < :sk", query.pk_name, query.sk_name),
            None => format!("#{} = :pk", query.pk_name),
        };
        let mut values: Values = vec![(":pk", AttributeValue::S(query.pk.to_owned()))];
        if let Some(sk) = query.sk_prefix.or(query.sk_below) {
            values.push((":sk", AttributeValue::S(sk.to_owned())));
        }
        let out = client
            .query()
            .table_name(table)
            .set_index_name(query.index.map(str::to_owned))
            .key_condition_expression(&key_condition)
            .set_expression_attribute_names(names_in(&[&key_condition]))
            .set_expression_attribute_values(values_map(values))
            .consistent_read(query.index.is_none())
            .scan_index_forward(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(sdk_error)?;
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key() {
            Some(last) if !last.is_empty() => start = Some(last.clone()),
            _ => return Ok(items),
        }
    }
}

/// One partition to read: of the table (`pk`/`sk`) or of an index (`gsi1pk`/`gsi1sk`...).
struct Query<'a> {
    index: Option<&'static str>,
    pk_name: &'static str,
    sk_name: &'static str,
    pk: &'a str,
    sk_prefix: Option<&'a str>,
    sk_below: Option<&'a str>,
}

impl<'a> Query<'a> {
    fn table(pk: &'a str) -> Self {
        Self { index: None, pk_name: "pk", sk_name: "sk", pk, sk_prefix: None, sk_below: None }
    }

    fn gsi1(pk: &'a str) -> Self {
        Self { index: Some("gsi1"), pk_name: "gsi1pk", sk_name: "gsi1sk", pk, sk_prefix: None, sk_below: None }
    }

    fn gsi2(pk: &'a str) -> Self {
        Self { index: Some("gsi2"), pk_name: "gsi2pk", sk_name: "gsi2sk", pk, sk_prefix: None, sk_below: None }
    }

    fn prefix(mut self, prefix: &'a str) -> Self {
        self.sk_prefix = Some(prefix);
        self
    }

    fn below(mut self, bound: &'a str) -> Self {
        self.sk_below = Some(bound);
        self
    }
}

#[async_trait]
impl Store for DynamoStore {
    fn backend(&self) -> &'static str {
        "dynamodb"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client.describe_table().table_name(&self.table).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<()> {
        table::ensure_table(&self.client, &self.table).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_name_their_attributes() {
        let names = names_in(&["SET #st = :s, #exp = :e", "#pk = :pk AND begins_with(#sk, :p)"]).unwrap();
        assert_eq!(names.len(), 4, "#st, #exp, #pk and #sk: {names:?}");
        assert_eq!(names["#st"], "st");
        assert_eq!(names["#sk"], "sk");
        assert!(names_in(&["", "attribute_not_exists(x)"]).is_none());
    }

    #[test]
    fn table_names_follow_dynamodb_rules() {
        assert_eq!(table_from_url("dynamodb://ProEventa").unwrap(), "ProEventa");
        assert!(table_from_url("dynamodb://").is_err());
        assert!(table_from_url("dynamodb://a b").is_err());
    }
}
