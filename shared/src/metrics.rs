//! ProEventa's metrics: one vocabulary, recorded through the `metrics` facade wherever the thing
//! happens, and read by whichever recorder the process installed. `proeventa serve` renders them
//! in Prometheus text on `METRICS_PORT`; a Lambda function writes them as CloudWatch Embedded
//! Metric Format log lines after each invocation (`proeventa_lambda::emf`). Without a recorder
//! (the tests, the CLI's one-shot commands) recording costs nothing.
//!
//! Every metric, by the name both sides use (Prometheus adds nothing; CloudWatch takes the labels
//! as dimensions, with the Lambda function's name as one more):
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `proeventa_http_requests_total` | counter | `route`, `method`, `status` | answered requests; `route` is the matched route template (`/events/{event_id}`), `unmatched` when none matched |
//! | `proeventa_http_request_duration_seconds` | histogram | `route`, `method`, `status` | time to the response's head |
//! | `proeventa_holds_won_total` | counter | | hold requests that got every seat they asked for |
//! | `proeventa_holds_lost_total` | counter | | hold requests refused 409 `seat_unavailable`: a seat was taken |
//! | `proeventa_holds_refused_total` | counter | `reason` | hold requests refused for another reason: `hold_limit_reached`, `not_on_sale`, `rejected` (not in the venue, event started), `not_found`, `rate_limited`, `validation_failed`, `unavailable`, `internal` |
//! | `proeventa_seats_held_total` | counter | | seats in won holds |
//! | `proeventa_seats_sold_total` | counter | | seats confirmed by a succeeded payment |
//! | `proeventa_payments_total` | counter | `outcome` | `succeeded`, `declined` (card declined or insufficient funds), `failed` (refused after authorization, or by the provider's webhook), `refunded` (a refund paid out or reported) |
//! | `proeventa_batch_size` | histogram | `queue` | requests per committed batch (`holds`, `checkins`; `store/batch.rs`) |
//! | `proeventa_batch_queue_wait_seconds` | histogram | `queue` | a request's wait from submission to its batch's commit start |
//! | `proeventa_rate_limit_refusals_total` | counter | `limit` | 429s by limit: `password` (the login limiter), `signup`, `reserve`, `decline` |
//! | `proeventa_outbox_messages_total` | counter | `outcome` | outbox messages the sender settled: `sent`, `retrying`, `failed`, `superseded` |
//! | `proeventa_outbox_claimed_total` | counter | | outbox messages the sender claimed |
//! | `proeventa_outbox_depth` | gauge | `status` | outbox messages by status after the sender's last round: `pending` (waiting to be sent, or retried), `failed` (given up on until an admin resends them) |
//! | `proeventa_store_errors_total` | counter | `kind` | store errors that reached an answer, by `StoreError` kind (`unavailable` and `internal` are the faults; the others are refusals the store decided) |
//! | `proeventa_dynamodb_capacity_units` | histogram | `operation`, `capacity`, `table` | request units one DynamoDB answer says it consumed (`capacity`: `read` or `write`; `operation`: `TransactWriteItems`, `GetItem`, ...); its sum is what on-demand DynamoDB bills. Only with `DYNAMODB_CONSUMED_CAPACITY=1` (`store/dynamodb/capacity.rs`) |
//!
//! Names are fixed here and only here; every label value is from a fixed set (a route template,
//! never a raw path; the deployment's one DynamoDB table), so neither Prometheus nor CloudWatch
//! sees unbounded series.

use std::time::Duration;

use ::metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

use crate::store::{OutboxDepth, StoreError};

pub const HTTP_REQUESTS: &str = "proeventa_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "proeventa_http_request_duration_seconds";
pub const HOLDS_WON: &str = "proeventa_holds_won_total";
pub const HOLDS_LOST: &str = "proeventa_holds_lost_total";
pub const HOLDS_REFUSED: &str = "proeventa_holds_refused_total";
pub const SEATS_HELD: &str = "proeventa_seats_held_total";
pub const SEATS_SOLD: &str = "proeventa_seats_sold_total";
pub const PAYMENTS: &str = "proeventa_payments_total";
pub const BATCH_SIZE: &str = "proeventa_batch_size";
pub const BATCH_QUEUE_WAIT: &str = "proeventa_batch_queue_wait_seconds";
pub const RATE_LIMIT_REFUSALS: &str = "proeventa_rate_limit_refusals_total";
pub const OUTBOX_MESSAGES: &str = "proeventa_outbox_messages_total";
pub const OUTBOX_CLAIMED: &str = "proeventa_outbox_claimed_total";
/// Not `proeventa_outbox_messages`: OpenMetrics (and `prometheus_client`'s parser) names the
/// counter `proeventa_outbox_messages_total`'s family `proeventa_outbox_messages`, which a gauge
/// of that name would collide with.
pub const OUTBOX_DEPTH: &str = "proeventa_outbox_depth";
pub const STORE_ERRORS: &str = "proeventa_store_errors_total";
pub const DYNAMODB_CAPACITY_UNITS: &str = "proeventa_dynamodb_capacity_units";

/// Every metric's name, for the tests that hold the dashboards to this vocabulary.
pub const ALL: &[&str] = &[
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    HOLDS_WON,
    HOLDS_LOST,
    HOLDS_REFUSED,
    SEATS_HELD,
    SEATS_SOLD,
    PAYMENTS,
    BATCH_SIZE,
    BATCH_QUEUE_WAIT,
    RATE_LIMIT_REFUSALS,
    OUTBOX_MESSAGES,
    OUTBOX_CLAIMED,
    OUTBOX_DEPTH,
    STORE_ERRORS,
    DYNAMODB_CAPACITY_UNITS,
];

/// The `route` of a request no route matched (a 404): one value, whatever the path was.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Gives the installed recorder each metric's unit and help text (Prometheus prints it as `# HELP`).
/// Called once by whoever installs a recorder.
pub fn describe() {
    describe_counter!(HTTP_REQUESTS, Unit::Count, "Answered HTTP requests by route template, method and status");
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time to the response's head by route, method and status"
    );
    describe_counter!(HOLDS_WON, Unit::Count, "Hold requests that got every seat they asked for");
    describe_counter!(HOLDS_LOST, Unit::Count, "Hold requests refused because a seat was taken (409 seat_unavailable)");
    describe_counter!(HOLDS_REFUSED, Unit::Count, "Hold requests refused for another reason, by reason");
    describe_counter!(SEATS_HELD, Unit::Count, "Seats in won holds");
    describe_counter!(SEATS_SOLD, Unit::Count, "Seats confirmed by a succeeded payment");
    describe_counter!(PAYMENTS, Unit::Count, "Payments by outcome: succeeded, declined, failed, refunded");
    describe_histogram!(BATCH_SIZE, Unit::Count, "Requests per committed batch, by queue (holds, checkins)");
    describe_histogram!(
        BATCH_QUEUE_WAIT,
        Unit::Seconds,
        "A request's wait for its batch to start committing, by queue"
    );
    describe_counter!(
        RATE_LIMIT_REFUSALS,
        Unit::Count,
        "Requests refused 429 by a rate limit (password is the login limiter)"
    );
    describe_counter!(OUTBOX_MESSAGES, Unit::Count, "Outbox messages settled by the mail sender, by outcome");
    describe_counter!(OUTBOX_CLAIMED, Unit::Count, "Outbox messages claimed by the mail sender");
    describe_gauge!(
        OUTBOX_DEPTH,
        Unit::Count,
        "Outbox messages pending or failed, by status, as the mail sender counted them after its last round"
    );
    describe_counter!(STORE_ERRORS, Unit::Count, "Store errors that reached an answer, by kind");
    describe_histogram!(
        DYNAMODB_CAPACITY_UNITS,
        Unit::Count,
        "Request units one DynamoDB answer consumed, by operation, read or write, and table"
    );
}

/// One answered HTTP request. `route` is the matched template, or `UNMATCHED_ROUTE`.
pub fn request_answered(route: &str, method: &str, status: u16, took: Duration) {
    let labels = [("route", route.to_owned()), ("method", method.to_owned()), ("status", status.to_string())];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_REQUEST_DURATION, &labels).record(took.as_secs_f64());
}

/// What the store answered a hold request: won (with its seats), lost, or refused.
pub fn hold_answered<T>(answer: &Result<T, StoreError>, seats: usize) {
    match answer {
        Ok(_) => {
            counter!(HOLDS_WON).increment(1);
            counter!(SEATS_HELD).increment(seats as u64);
        }
        Err(StoreError::SeatsUnavailable(_)) => counter!(HOLDS_LOST).increment(1),
        Err(err) => hold_refused(store_error_kind(err)),
    }
}

/// A hold request refused before the store decided it (`rate_limited`, `validation_failed`) or by
/// the store (`store_error_kind`).
pub fn hold_refused(reason: &'static str) {
    counter!(HOLDS_REFUSED, "reason" => reason).increment(1);
}

/// A payment's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    Succeeded,
    Declined,
    Failed,
    Refunded,
}

impl PaymentOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Declined => "declined",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
        }
    }
}

pub fn payment(outcome: PaymentOutcome) {
    counter!(PAYMENTS, "outcome" => outcome.as_str()).increment(1);
}

pub fn seats_sold(seats: usize) {
    counter!(SEATS_SOLD).increment(seats as u64);
}

/// A batch committed by a batch queue (`holds`, `checkins`): how many requests it took.
pub fn batch_committed(queue: &'static str, batch_size: usize) {
    histogram!(BATCH_SIZE, "queue" => queue).record(batch_size as f64);
}

/// How long one request waited in a batch queue for its batch to start committing.
pub fn batch_waited(queue: &'static str, waited: Duration) {
    histogram!(BATCH_QUEUE_WAIT, "queue" => queue).record(waited.as_secs_f64());
}

/// A request refused by the rate limit named `limit` (`crate::limits::Limit::name`).
pub fn rate_limited(limit: &'static str) {
    counter!(RATE_LIMIT_REFUSALS, "limit" => limit).increment(1);
}

/// One pass of the mail sender: what it claimed, and how each claimed message was settled.
pub fn outbox_pass(claimed: u32, sent: u32, retrying: u32, failed: u32, superseded: u32) {
    counter!(OUTBOX_CLAIMED).increment(u64::from(claimed));
    for (outcome, count) in [("sent", sent), ("retrying", retrying), ("failed", failed), ("superseded", superseded)] {
        if count > 0 {
            counter!(OUTBOX_MESSAGES, "outcome" => outcome).increment(u64::from(count));
        }
    }
}

/// The outbox's depth as the sender counted it after a round: a gauge per status, so it shows
/// the level now (a backlog building, failed messages waiting for an admin), not a rate.
pub fn outbox_depth(depth: OutboxDepth) {
    gauge!(OUTBOX_DEPTH, "status" => "pending").set(depth.pending as f64);
    gauge!(OUTBOX_DEPTH, "status" => "failed").set(depth.failed as f64);
}

/// What one DynamoDB answer says its request consumed: `units` of `capacity` (`read` or `write`)
/// on `table`, for `operation` (`TransactWriteItems`, ...).
pub fn dynamodb_capacity(operation: &'static str, capacity: &'static str, table: &str, units: f64) {
    histogram!(DYNAMODB_CAPACITY_UNITS, "operation" => operation, "capacity" => capacity, "table" => table.to_owned())
        .record(units);
}

/// A store error on its way to an answer.
pub fn store_error(err: &StoreError) {
    counter!(STORE_ERRORS, "kind" => store_error_kind(err)).increment(1);
}

/// A store error's kind, as the `kind` and `reason` labels name it.
pub fn store_error_kind(err: &StoreError) -> &'static str {
    match err {
        StoreError::EmailTaken => "email_taken",
        StoreError::SeatsUnavailable(_) => "seats_unavailable",
        StoreError::HeldBack(_) => "held_back",
        StoreError::NotFound(_) => "not_found",
        StoreError::Rejected(_) => "rejected",
        StoreError::InvalidState(_) => "invalid_state",
        StoreError::HoldExpired => "hold_expired",
        StoreError::ExtensionUsed => "extension_used",
        StoreError::ResetTokenInvalid => "invalid_token",
        StoreError::HoldLimitReached { .. } => "hold_limit_reached",
        StoreError::TypeSoldOut { .. } => "type_sold_out",
        StoreError::NotOnSale { .. } => "not_on_sale",
        StoreError::QueueRequired => "queue_required",
        StoreError::NotSoldOut => "not_sold_out",
        StoreError::CodeTaken => "code_taken",
        StoreError::InvalidCode(_) => "invalid_code",
        StoreError::CodeExhausted => "code_exhausted",
        StoreError::VenueInUse(_) => "venue_in_use",
        StoreError::Unavailable(_) => "unavailable",
        StoreError::Internal(_) => "internal",
    }
}
