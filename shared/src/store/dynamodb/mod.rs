//! DynamoDB backend: every store trait on one table (single-table design, see `docs/dynamodb.md`),
//! with the seat promise kept by conditional writes: one seat-state item per (event, seat), written
//! only when the seat is free, canceled, expired or held past its end, a multi-seat hold being one
//! `TransactWriteItems`. Nothing is checked in Rust and then written: every decision is a condition.

mod audit;
pub mod capacity;
mod catalog;
mod codes;
mod hold_extension;
mod hold_slots;
mod holds;
mod items;
mod limits;
mod messages;
mod password_resets;
mod payments;
mod query;
mod queue;
mod reports;
mod sweep;
pub mod table;
mod tickets;
mod type_slots;
mod users;
mod venue_layouts;
mod waitlist;
mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Intercept, Region};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update, WriteRequest,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::{Store, StoreError, StoreResult, StoreSettings};
use crate::domain::SeatSelection;
use items::Item;
pub use items::{ITEM_KINDS, ItemKind, kind_of, string_like};
use query::Query;

/// Region used when the environment names none (DynamoDB Local ignores it).
const DEFAULT_REGION: &str = "us-east-1";
/// A transaction that met another one on the same item (or throttling) was rolled back whole, so it
/// is tried again after a short random pause, at most this many times in all...
const TX_ATTEMPTS: usize = 12;
/// ...and only while the store call that runs it has spent less than this retrying: past it the
/// call answers `Unavailable` (503, "try again") instead of keeping a buyer waiting.
const RETRY_BUDGET: StdDuration = StdDuration::from_secs(2);
/// A read-decide-write cycle whose conditions found the state changed since the read starts over
/// from the read, this many times in all.
const OPTIMISTIC_ATTEMPTS: usize = 8;
/// One attempt of one SDK call may take this long (connection included), and one SDK call with
/// the SDK's own retries this long in all: nothing waits on DynamoDB forever. DynamoDB answers in
/// milliseconds; DynamoDB Local under a load spike queues writes behind one table lock for up to
/// 10 s before it answers 500, so its slowest answers are cut short here and reported as 503.
const ATTEMPT_TIMEOUT: StdDuration = StdDuration::from_secs(3);
const OPERATION_TIMEOUT: StdDuration = StdDuration::from_secs(5);
const CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(2);
/// Requests of one store in flight at once; the rest wait in line, first come first served, for
/// at most `QUEUE_WAIT` and then answer `Unavailable`. DynamoDB Local runs every write behind one
/// table lock (not fair, 10 s wait, then a 500): more than a few requests in flight only lengthen
/// its hidden queue, starve some of them and trip the time-outs above, so an emulator gets few.
/// `StoreSettings::dynamodb_max_in_flight` (`DYNAMODB_MAX_IN_FLIGHT`) overrides both.
const IN_FLIGHT_EMULATOR: usize = 8;
const IN_FLIGHT_AWS: usize = 256;
const QUEUE_WAIT: StdDuration = StdDuration::from_secs(6);
/// DynamoDB answers at most this many keys per `BatchGetItem` and items per `BatchWriteItem`.
const BATCH_GET_MAX: usize = 100;
const BATCH_WRITE_MAX: usize = 25;
/// DynamoDB takes at most this many items in one `TransactWriteItems` (so does DynamoDB Local 3.3.1,
/// which the tests run on); a bigger one is refused whole with a `ValidationException`, which would
/// be our bug (`Internal`). A booking's transactions grow with its seats, two or three items a seat:
/// a hold is 2n + 3 (seat states, reservations, booking, a gate check, the user's hold slots), a
/// checkout 2n + 3 (booking, payment, reservations and seat states extended, the hold slots moved
/// along), a confirm 3n + 3 (payment, reservations, seat states, the tickets issued, a gate check,
/// its outbox message), a cancel 3n + 2 (reservations, seat states, their tickets revoked, the
/// payment's refund and its outbox message), so at most 33 for the largest booking. An event's
/// cancel is the event and its gates, then those per-booking cancels (each with its own message).
/// A signup is 3 items, a failed payment 3, an event's move 2 + its gates.
const TRANSACT_MAX_ITEMS: usize = 100;
// The largest booking's hold or checkout; its confirm or cancel (a ticket a seat more, and the
// outbox message); an event's cancel or move (the event, its gates and the move's message).
const _: () = assert!(2 * SeatSelection::MAX_SEATS + 3 <= TRANSACT_MAX_ITEMS);
const _: () = assert!(3 * SeatSelection::MAX_SEATS + 3 <= TRANSACT_MAX_ITEMS);
const _: () = assert!((items::SEAT_SHARDS as usize) + 2 <= TRANSACT_MAX_ITEMS);

pub struct DynamoStore {
    client: Client,
    table: String,
    slots: Slots,
    /// Holds of one user for one event take turns in this process (see `hold_slots::HolderTurns`).
    holder_turns: hold_slots::HolderTurns,
    /// The units DynamoDB said the requests consumed, when they are counted (see `capacity`).
    capacity: Option<capacity::CapacityMeter>,
}

/// The line of requests waiting to be sent (see `IN_FLIGHT_EMULATOR`).
#[derive(Clone)]
struct Slots(Arc<Semaphore>);

impl Slots {
    fn new(emulator: bool, configured: Option<usize>) -> Self {
        let default = if emulator { IN_FLIGHT_EMULATOR } else { IN_FLIGHT_AWS };
        Self(Arc::new(Semaphore::new(configured.filter(|n| *n > 0).unwrap_or(default))))
    }

    /// A turn to send one request, held until it is answered; `Unavailable` after `QUEUE_WAIT`.
    async fn take(&self) -> StoreResult<OwnedSemaphorePermit> {
        match tokio::time::timeout(QUEUE_WAIT, Arc::clone(&self.0).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(StoreError::Unavailable("the DynamoDB store is closed".into())),
            Err(_) => Err(StoreError::Unavailable("too many DynamoDB requests waiting; try again".into())),
        }
    }
}

impl DynamoStore {
    /// Opens `dynamodb://<table>` with the environment's AWS settings (`AWS_REGION`, credentials,
    /// `AWS_ENDPOINT_URL` for an emulator). With an endpoint but no credentials, fake static ones
    /// are used, which is what DynamoDB Local expects.
    pub async fn connect(database_url: &str, settings: StoreSettings) -> StoreResult<Self> {
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
        let shared = loader.timeout_config(timeouts()).load().await;
        let capacity = settings.dynamodb_consumed_capacity.then(capacity::CapacityMeter::default);
        let mut config = aws_sdk_dynamodb::config::Builder::from(&shared);
        if let Some(meter) = &capacity {
            config = config.interceptor(meter.clone());
        }
        Ok(Self {
            client: Client::from_conf(config.build()),
            table,
            slots: Slots::new(endpoint.is_some(), settings.dynamodb_max_in_flight),
            holder_turns: hold_slots::HolderTurns::default(),
            capacity,
        })
    }

    /// A store on `table` at an explicit endpoint with fake credentials: DynamoDB Local in tests,
    /// without touching the process environment.
    pub fn connect_with(endpoint: &str, table: &str) -> Self {
        Self::local(Self::local_config(endpoint), table)
    }

    /// `connect_with`, with `interceptor` seeing every request the store sends: tests that check
    /// what the code writes (each Lambda function's writes against its IAM policy).
    pub fn connect_intercepted(endpoint: &str, table: &str, interceptor: impl Intercept + 'static) -> Self {
        Self::local(Self::local_config(endpoint).interceptor(interceptor), table)
    }

    /// `connect_with`, counting the capacity every request consumed (`consumed_capacity`), as
    /// `DYNAMODB_CONSUMED_CAPACITY=1` does for `connect`.
    pub fn connect_metered(endpoint: &str, table: &str) -> Self {
        let meter = capacity::CapacityMeter::default();
        let mut store = Self::local(Self::local_config(endpoint).interceptor(meter.clone()), table);
        store.capacity = Some(meter);
        store
    }

    fn local_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(DEFAULT_REGION))
            .credentials_provider(local_credentials())
            .endpoint_url(endpoint)
            .timeout_config(timeouts())
    }

    fn local(config: aws_sdk_dynamodb::config::Builder, table: &str) -> Self {
        Self {
            client: Client::from_conf(config.build()),
            table: table.to_owned(),
            slots: Slots::new(true, None),
            holder_turns: hold_slots::HolderTurns::default(),
            capacity: None,
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The read and write request units DynamoDB said this store's requests consumed so far;
    /// `None` when they are not counted.
    pub fn consumed_capacity(&self) -> Option<capacity::CapacityUnits> {
        self.capacity.as_ref().map(capacity::CapacityMeter::total)
    }

    /// Deletes the whole table (test tables on an emulator; never called by the service).
    pub async fn delete_table(&self) -> StoreResult<()> {
        self.client.delete_table().table_name(&self.table).send().await.map_err(sdk_error)?;
        Ok(())
    }
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
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

/// Error codes that mean "not now": throttling, a transaction in flight on the item, DynamoDB's
/// own transient failures, and DynamoDB Local's "timed out waiting for a lock" (an
/// `InternalServerError`). Nothing was written; the same request may succeed a moment later.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

fn is_transient_code(code: Option<&str>) -> bool {
    code.is_some_and(|code| TRANSIENT_CODES.contains(&code))
}

/// Maps an SDK failure: unreachable or slow endpoint, throttling, conflicts with transactions in
/// flight, DynamoDB's transient failures and a missing table → `Unavailable` (503, worth retrying);
/// the rest (requests DynamoDB calls malformed: our bugs) → `Internal`. The message names the
/// error code, never a request's contents.
fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().map(str::to_owned);
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("DynamoDB is unreachable or too slow: {}", DisplayErrorContext(&err)))
        }
        _ if code.as_deref() == Some("ResourceNotFoundException") => {
            StoreError::Unavailable("the DynamoDB table does not exist; run `proeventa migrate`".into())
        }
        _ if is_transient_code(code.as_deref()) => StoreError::Unavailable(format!(
            "DynamoDB is busy ({}); try again",
            code.as_deref().unwrap_or("transient error")
        )),
        _ => StoreError::Internal(format!("DynamoDB: {}", DisplayErrorContext(&err))),
    }
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

/// Which item a conditional update (`DynamoStore::update_if`) brings back.
#[derive(Debug, Clone, Copy)]
enum Returned {
    Nothing,
    /// The item as written.
    New,
    /// The item as written, or as it stood when the condition refused the update.
    NewOrOld,
}

/// How a conditional update ended.
#[derive(Debug)]
enum Updated {
    /// Written; the item as written when it was asked for.
    Written(Option<Item>),
    /// The condition refused it and nothing changed; the item as it stood when it was asked for
    /// and exists.
    Refused(Option<Item>),
    /// A transaction in flight on the item refused it and nothing changed: the error it makes for
    /// a caller that does not wait for it.
    InTransaction(StoreError),
}

impl Updated {
    /// Written (`true`) or refused by the condition (`false`); a transaction in flight is an error.
    fn was_written(self) -> StoreResult<bool> {
        match self {
            Updated::Written(_) => Ok(true),
            Updated::Refused(_) => Ok(false),
            Updated::InTransaction(err) => Err(err),
        }
    }

    /// The item as written (asked for with `Returned::New`), `None` when the condition refused the
    /// update; a transaction in flight is an error. `what` names the update in the error of a
    /// write that brought no item back.
    fn written_item(self, what: &str) -> StoreResult<Option<Item>> {
        match self {
            Updated::Written(Some(item)) => Ok(Some(item)),
            Updated::Written(None) => Err(StoreError::Internal(format!("{what} returned no item"))),
            Updated::Refused(_) => Ok(None),
            Updated::InTransaction(err) => Err(err),
        }
    }
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
            .set_item(Some(items::without_empty_text(item)))
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

    fn delete(table: &str, key: Item, condition: &str, values: Values) -> StoreResult<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_names(names_in(&[condition]))
            .set_expression_attribute_values(values_map(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
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

/// Cancellation reasons that refused nothing: another transaction was in flight on the item, or
/// the partition was throttled. The transaction changed nothing and may pass a moment later.
const TRANSIENT_REASONS: &[&str] = &["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"];

impl Canceled {
    fn condition_failed(&self, index: usize) -> bool {
        self.0.get(index).is_some_and(|code| code == "ConditionalCheckFailed")
    }

    fn any_condition_failed(&self) -> bool {
        self.0.iter().any(|code| code == "ConditionalCheckFailed")
    }

    /// No item was refused: every reason is `None` or transient.
    fn only_transient(&self) -> bool {
        self.0.iter().all(|code| code == "None" || TRANSIENT_REASONS.contains(&code.as_str()))
    }
}

/// How one `TransactWriteItems` ended.
#[derive(Debug)]
enum Tx {
    Committed,
    /// A condition (or a rule) refused it: the reasons say which item.
    Refused(Canceled),
    /// It met another transaction in flight or throttling: nothing was written, try again later.
    Busy(String),
}

/// The time one store call may spend retrying, counted from its first retry, and its attempts.
/// Each pause is short and random (so that colliding writers do not collide again), and growing.
struct Budget {
    first_retry: Option<Instant>,
    attempt: usize,
}

impl Budget {
    fn new() -> Self {
        Self { first_retry: None, attempt: 0 }
    }

    /// Waits before another try of `what`; `Unavailable` once the budget or the attempts are spent,
    /// so a store call never retries for more than `RETRY_BUDGET`.
    async fn pause(&mut self, what: &str) -> StoreResult<()> {
        self.attempt += 1;
        let started = *self.first_retry.get_or_insert_with(Instant::now);
        let delay = backoff_delay(self.attempt);
        if self.attempt >= TX_ATTEMPTS || started.elapsed() + delay > RETRY_BUDGET {
            return Err(StoreError::Unavailable(format!("{what} kept meeting concurrent writes; try again")));
        }
        tokio::time::sleep(delay).await;
        Ok(())
    }
}

/// Exponential backoff with full jitter: uniform in [2 ms, 2 ms + min(10 ms × 2^attempt, 250 ms)).
fn backoff_delay(attempt: usize) -> StdDuration {
    let cap = (10u64 << attempt.min(5)).min(250);
    let jitter = (Uuid::new_v4().as_u128() % u128::from(cap)) as u64;
    StdDuration::from_millis(2 + jitter)
}

impl DynamoStore {
    /// Runs one transaction once. Errors that leave it unknown whether it committed (time-outs,
    /// DynamoDB's 500s, which the SDK already retried with the same idempotency token) are
    /// `Unavailable`; only outcomes that certainly wrote nothing come back as `Tx::Busy`.
    async fn transact_once(&self, items: &[TransactWriteItem]) -> StoreResult<Tx> {
        let _slot = self.slots.take().await?;
        let outcome = self.client.transact_write_items().set_transact_items(Some(items.to_vec())).send().await;
        let err = match outcome {
            Ok(_) => return Ok(Tx::Committed),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) = err.as_service_error() {
            let reasons = Canceled(
                canceled.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect(),
            );
            return Ok(if reasons.only_transient() { Tx::Busy(format!("{reasons:?}")) } else { Tx::Refused(reasons) });
        }
        // Refused before it started: another transaction in flight on an item, or throttling.
        if matches!(
            err.code(),
            Some(
                "TransactionConflictException"
                    | "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
            )
        ) {
            return Ok(Tx::Busy(err.code().unwrap_or_default().to_owned()));
        }
        Err(sdk_error(err))
    }

    /// Runs one transaction: `Ok(Ok(()))` when it committed, `Ok(Err(reasons))` when a condition
    /// refused it. A conflict with another transaction in flight or throttling (rolled back whole,
    /// nothing written) is retried within `budget`; once that is spent, `Unavailable`.
    async fn transact(&self, budget: &mut Budget, items: Vec<TransactWriteItem>) -> StoreResult<Result<(), Canceled>> {
        loop {
            match self.transact_once(&items).await? {
                Tx::Committed => return Ok(Ok(())),
                Tx::Refused(reasons) => return Ok(Err(reasons)),
                Tx::Busy(why) => budget.pause(&format!("a transaction ({why})")).await?,
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
            let mut budget = Budget::new();
            while let Some(request) = pending.take() {
                let slot = self.slots.take().await?;
                let out =
                    self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(sdk_error)?;
                drop(slot);
                if let Some(items) = out.responses().and_then(|r| r.get(&self.table)) {
                    found.extend(items.iter().cloned());
                }
                pending =
                    out.unprocessed_keys().and_then(|u| u.get(&self.table)).filter(|k| !k.keys().is_empty()).cloned();
                if pending.is_some() {
                    budget.pause("reading").await?;
                }
            }
        }
        Ok(found)
    }

    /// Writes items without conditions, 25 at a time, until DynamoDB has taken every one.
    async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
        let requests = items.into_iter().map(|item| {
            aws_sdk_dynamodb::types::PutRequest::builder()
                .set_item(Some(items::without_empty_text(item)))
                .build()
                .map(|put| WriteRequest::builder().put_request(put).build())
                .map_err(build_error)
        });
        self.batch_write(requests.collect::<StoreResult<_>>()?, "writing").await
    }

    /// Deletes items by key without conditions, 25 at a time, until DynamoDB has taken every one.
    async fn batch_delete(&self, keys: Vec<Item>) -> StoreResult<()> {
        let requests = keys.into_iter().map(|key| {
            aws_sdk_dynamodb::types::DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map(|delete| WriteRequest::builder().delete_request(delete).build())
                .map_err(build_error)
        });
        self.batch_write(requests.collect::<StoreResult<_>>()?, "deleting").await
    }

    /// Sends write requests in `BatchWriteItem`s of 25, each sent again with what DynamoDB left
    /// unprocessed (after a pause of the call's budget) until it has taken every one.
    async fn batch_write(&self, requests: Vec<WriteRequest>, doing: &'static str) -> StoreResult<()> {
        for chunk in requests.chunks(BATCH_WRITE_MAX) {
            let mut requests = chunk.to_vec();
            let mut budget = Budget::new();
            while !requests.is_empty() {
                let slot = self.slots.take().await?;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                drop(slot);
                requests = out.unprocessed_items().and_then(|u| u.get(&self.table)).cloned().unwrap_or_default();
                if !requests.is_empty() {
                    budget.pause(doing).await?;
                }
            }
        }
        Ok(())
    }

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let _slot = self.slots.take().await?;
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

    /// One conditional `UpdateItem` of the item at `key`, in a request slot: `update` is written
    /// when `condition` holds. Which item comes back is `returned`'s choice. The condition's
    /// refusal and a transaction in flight on the item are outcomes, for the caller to decide
    /// on; any other failure is an error.
    async fn update_if(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        values: Values,
        returned: Returned,
    ) -> StoreResult<Updated> {
        let (on_write, on_refusal) = match returned {
            Returned::Nothing => (ReturnValue::None, ReturnValuesOnConditionCheckFailure::None),
            Returned::New => (ReturnValue::AllNew, ReturnValuesOnConditionCheckFailure::None),
            Returned::NewOrOld => (ReturnValue::AllNew, ReturnValuesOnConditionCheckFailure::AllOld),
        };
        let slot = self.slots.take().await?;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(names_in(&[update, condition]))
            .set_expression_attribute_values(values_map(values))
            .return_values(on_write)
            .return_values_on_condition_check_failure(on_refusal)
            .send()
            .await;
        drop(slot);
        match out {
            Ok(out) => Ok(Updated::Written(out.attributes().cloned())),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                    Ok(Updated::Refused(refused.item().cloned()))
                }
                _ if err.code() == Some("TransactionConflictException") => Ok(Updated::InTransaction(sdk_error(err))),
                _ => Err(sdk_error(err)),
            },
        }
    }
}

#[async_trait]
impl Store for DynamoStore {
    fn backend(&self) -> &'static str {
        "dynamodb"
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ping(&self) -> StoreResult<()> {
        self.client.describe_table().table_name(&self.table).send().await.map_err(sdk_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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
    fn only_conflicts_and_throttling_are_retried() {
        let reasons = |codes: &[&str]| Canceled(codes.iter().map(|c| (*c).to_owned()).collect());
        assert!(reasons(&["None", "TransactionConflict", "None"]).only_transient());
        assert!(reasons(&["ThrottlingError", "ProvisionedThroughputExceeded"]).only_transient());
        let lost = reasons(&["TransactionConflict", "ConditionalCheckFailed"]);
        assert!(!lost.only_transient() && lost.condition_failed(1) && !lost.condition_failed(0));
        assert!(!reasons(&["ValidationError"]).only_transient());
        assert!(
            is_transient_code(Some("InternalServerError")) && is_transient_code(Some("TransactionConflictException"))
        );
        assert!(!is_transient_code(Some("ValidationException")) && !is_transient_code(None));
    }

    #[test]
    fn backoff_stays_short_and_random() {
        for attempt in 1..=TX_ATTEMPTS {
            let delay = backoff_delay(attempt);
            assert!(delay >= StdDuration::from_millis(2) && delay < StdDuration::from_millis(252), "{delay:?}");
        }
    }

    #[test]
    fn empty_text_is_left_out_of_items() {
        let item = Item::from([
            ("pk".to_owned(), AttributeValue::S("EVENT#1".into())),
            ("description".to_owned(), AttributeValue::S(String::new())),
            ("seats".to_owned(), AttributeValue::N("0".into())),
        ]);
        let kept = items::without_empty_text(item);
        assert_eq!(kept.len(), 2);
        assert_eq!(items::text(&kept, "description"), "");
    }

    #[test]
    fn table_names_follow_dynamodb_rules() {
        assert_eq!(table_from_url("dynamodb://ProEventa").unwrap(), "ProEventa");
        assert!(table_from_url("dynamodb://").is_err());
        assert!(table_from_url("dynamodb://a b").is_err());
    }
}
