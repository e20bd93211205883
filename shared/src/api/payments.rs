//! `/payments/*`: checkout of a held booking, card confirmation (authorize, confirm the seats,
//! capture — or void when the seats were lost; a declined card is counted, and the
//! `MAX_DECLINES_PER_PAYMENT`th closes the payment), payment reads, and the provider's webhook.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::idempotency::{self, IdempotencyKey};
use super::{Json, Path, Query};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{AdmissionToken, AuthUser, ClientAddr};
use crate::api::state::AppState;
use crate::domain::{Card, NewPayment, Page, Payment, PaymentStatus, Refund};
use crate::limits::Subject;
use crate::metrics::{self, PaymentOutcome};
use crate::payments::ProviderError;
use crate::store::{MAX_DECLINES_PER_PAYMENT, StoreError};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(payment_config))
        .routes(routes!(checkout))
        .routes(routes!(confirm))
        .routes(routes!(get_payment))
        .routes(routes!(list_payments))
        .routes(routes!(webhook))
}

/// What the payment page needs to know of the configured provider.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentConfig {
    /// `PAYMENT_PROVIDER`, e.g. `simulated`.
    #[schema(example = "simulated")]
    pub provider: String,
    /// True when no real money moves (the simulated provider): only then does the site offer
    /// its test cards.
    pub test_mode: bool,
}

/// The configured payment provider and whether it is a test one (public: the payment page reads
/// it before anyone pays).
#[utoipa::path(get, path = "/payments/config", tag = "payments",
    responses((status = 200, body = PaymentConfig)))]
async fn payment_config(State(state): State<AppState>) -> Json<PaymentConfig> {
    let provider = state.config.payment_provider.clone();
    let test_mode = provider == SIMULATED_PROVIDER;
    Json(PaymentConfig { provider, test_mode })
}

/// The provider that moves no money: its cards are the test cards the site shows.
const SIMULATED_PROVIDER: &str = "simulated";

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckoutRequest {
    pub booking_id: Uuid,
    /// A promo code (matched case-insensitively): the payment's `amount_cents` is after its
    /// discount, `discount_cents` says how much it took off. A booking held in an event's presale
    /// is checked out with the access code it was held with. Its use is counted at confirm. With a
    /// code, a payment of the booking still pending (opened by the payment page before the code
    /// was typed) is closed first.
    // Left out of an idempotency record's fingerprint when absent: a key used before this field
    // existed still matches its retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "SPRING25")]
    pub promo_code: Option<String>,
}

/// Card details: used for one request, never stored or logged (only the last four digits are kept).
#[derive(Deserialize, ToSchema)]
pub struct ConfirmRequest {
    #[schema(example = "4242 4242 4242 4242")]
    pub card_number: String,
    #[schema(example = 12)]
    pub exp_month: u32,
    #[schema(example = 2030)]
    pub exp_year: i32,
    #[schema(example = "123")]
    pub cvc: String,
    pub cardholder: Option<String>,
}

/// What an Idempotency-Key fingerprints of a confirm: never the card itself.
#[derive(Serialize)]
struct ConfirmFingerprint<'a> {
    payment_id: Uuid,
    card_last4: &'a str,
    exp_month: u32,
    exp_year: i32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentListQuery {
    /// Admins only: one user's payments (admins see every payment without it).
    pub user_id: Option<Uuid>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// A provider's callback: `x-signature: sha256=<hex HMAC-SHA256 of the raw body with WEBHOOK_SECRET>`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookEvent {
    /// The provider's event id; an event seen before has no second effect.
    pub id: String,
    /// `charge.refunded` (records `amount_cents` as refunded) or `charge.failed` (a pending payment fails); others are acknowledged.
    #[serde(rename = "type")]
    pub kind: String,
    pub payment_id: Option<Uuid>,
    pub amount_cents: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    /// True when this event id was seen before (nothing was done again).
    pub duplicate: bool,
}

async fn owned_payment(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<Payment, ApiError> {
    let payment = state.store.payment(id).await?.ok_or_else(|| ApiError::not_found("payment"))?;
    if !caller.may_act_for(payment.user_id) {
        return Err(ApiError::forbidden());
    }
    Ok(payment)
}

/// Opens a payment for the caller's held booking and extends its hold once to at least now + `PAYMENT_WINDOW_SECONDS`.
#[utoipa::path(post, path = "/payments/checkout", tag = "payments", security(("bearer" = [])), request_body = CheckoutRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key returns the first answer")),
    responses(
        (status = 201, description = "A `pending` payment; the amount comes from the event's prices, less the `promo_code`'s discount (`discount_cents`)", body = Payment),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: another user's booking", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown booking", body = ErrorBody),
        (status = 409, description = "`hold_expired`: the hold lapsed; `invalid_state`: nothing held, a payment is already open, or the event has started", body = ErrorBody),
        (status = 422, description = "`invalid_code`: a `promo_code` that is unknown, deleted, not valid yet, expired, for another event, or applies to none of the booking's seats; or a presale booking checked out without its access code", body = ErrorBody),
    ))]
async fn checkout(
    State(state): State<AppState>,
    caller: AuthUser,
    key: IdempotencyKey,
    Json(body): Json<CheckoutRequest>,
) -> Result<Response, ApiError> {
    let now = Utc::now();
    let booking = state.store.booking(body.booking_id, now).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    if booking.user_id != caller.0.id {
        return Err(ApiError::forbidden());
    }
    let event = state.store.event(booking.event_id, now).await?.ok_or_else(|| ApiError::not_found("event"))?;
    let code = super::codes::checkout_code(&state, body.promo_code.as_deref(), &booking, &event, now).await?;
    let payment = NewPayment {
        id: Uuid::new_v4(),
        booking_id: booking.id,
        user_id: caller.0.id,
        provider: state.payments.name().into(),
        hold_until: now + Duration::seconds(i64::from(state.config.payment_window_seconds)),
        code,
    };
    let applying_code = payment.code.is_some();
    idempotency::once(&state, caller.0.id, key, &body, || async {
        if applying_code {
            replace_pending_payment(&state, booking.id, caller.0.id, now).await?;
        }
        Ok((StatusCode::CREATED, state.store.create_payment(payment, now).await?))
    })
    .await
}

/// A code applied on the payment page, after the page opened the booking's payment: that payment
/// is closed (`failed`; still pending, so no card was charged on it) for the new one to open with
/// the code. A confirm of it that lands first keeps it (the close is conditioned on `pending`), and
/// the new checkout is then refused as any second checkout is.
async fn replace_pending_payment(
    state: &AppState,
    booking_id: Uuid,
    user_id: Uuid,
    now: chrono::DateTime<Utc>,
) -> Result<(), ApiError> {
    let mine = state.store.list_payments(Some(user_id), Page { limit: Page::MAX_LIMIT, offset: 0 }).await?;
    if let Some(open) = mine.iter().find(|p| p.booking_id == booking_id && p.status == PaymentStatus::Pending) {
        match state.store.fail_payment(open.id, 0, now).await {
            Ok(_) | Err(StoreError::InvalidState(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}

/// Pays with a card: the booking's seats become `confirmed` and the payment `succeeded` in one step.
#[utoipa::path(post, path = "/payments/{payment_id}/confirm", tag = "payments", security(("bearer" = [])),
    params(
        ("payment_id" = Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key returns the first answer and charges nothing twice"),
        ("X-Admission-Token" = Option<String>, Header, description = "The waiting room's admission the seats were held with: a sale ends the buyer's session, freeing the slot for the next in line"),
    ),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "`succeeded`; the seats are `confirmed`", body = Payment),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 402, description = "`card_declined` or `insufficient_funds`: nothing is charged and the hold stays. A payment takes 5 declined cards: the 5th gets the same code (\"…; after 5 declined cards this payment is closed and its seats were released, so pick your seats again.\"), the payment is then `failed` and its seats free, and a further confirm is 409 `invalid_state`", body = ErrorBody),
        (status = 403, description = "`forbidden`: another user's payment", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`code_exhausted`: the payment's code has no use left (in all, or for this account): nothing is confirmed or charged (the authorization is voided), the payment ends `failed` and the seats stay held, so the buyer may check out again without the code. `invalid_state`: the payment is not pending. After the card was authorized: `hold_expired` (the hold lapsed and a seat was taken) or `invalid_state` (the event has started — \"The event has already started, so this payment was not taken.\" — or was canceled, or a seat was canceled); nothing is charged, the authorization is voided and the payment ends `failed`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: card number (Luhn), expiry or CVC", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many declined cards for this account (`DECLINE_LIMIT_PER_HOUR`, 10 an hour by default) or client address (three times as many); the card is not tried. See `Retry-After`", body = ErrorBody),
    ))]
async fn confirm(
    State(state): State<AppState>,
    addr: ClientAddr,
    caller: AuthUser,
    admission: AdmissionToken,
    key: IdempotencyKey,
    Path(payment_id): Path<Uuid>,
    Json(body): Json<ConfirmRequest>,
) -> Result<Response, ApiError> {
    let payment = owned_payment(&state, &caller, payment_id).await?;
    if payment.user_id != caller.0.id {
        return Err(ApiError::Forbidden("Only the buyer can pay for this booking.".into()));
    }
    let card = Card::parse(&body.card_number, body.exp_month, body.exp_year, &body.cvc, Utc::now())?;
    let last4 = card.last4();
    let fingerprint =
        ConfirmFingerprint { payment_id, card_last4: &last4, exp_month: body.exp_month, exp_year: body.exp_year };
    // Card testing: a try is counted against the account and the address before the card reaches
    // the provider, so a burst gets no more tries than the limit; only a declined card keeps it.
    let card_try = state
        .config
        .limits
        .declines
        .attempt(state.store.as_ref(), Some(Subject::Account(caller.0.id)), addr.0, Utc::now())
        .await?;
    let answer = idempotency::once(&state, caller.0.id, key, &fingerprint, || async {
        if payment.status != PaymentStatus::Pending {
            return Err(ApiError::InvalidState(format!("This payment is already {}.", payment.status)));
        }
        Ok((StatusCode::OK, pay(&state, &payment, &card, admission.0.as_deref()).await?))
    })
    .await;
    // A replayed answer tried no card this time.
    let declined_now = match &answer {
        Ok(response) => {
            response.status() == StatusCode::PAYMENT_REQUIRED
                && !response.headers().contains_key(idempotency::REPLAYED_HEADER)
        }
        Err(err) => err.status() == StatusCode::PAYMENT_REQUIRED,
    };
    if declined_now {
        card_try.keep();
    } else if let Err(err) = card_try.take_back(state.store.as_ref()).await {
        tracing::warn!(error = %err, "a card try that was not declined could not be uncounted");
    }
    answer
}

/// Authorize, confirm the seats in the store, then capture; when the store refuses, void, so no
/// money is kept without a ticket. `admission`: the waiting room's admission the buyer held the
/// seats with, whose session the sale ends.
async fn pay(state: &AppState, payment: &Payment, card: &Card, admission: Option<&str>) -> Result<Payment, ApiError> {
    let authorized = state.payments.authorize(payment.id, payment.amount_cents, &payment.currency, card).await;
    let provider_ref = match authorized {
        Ok(authorization) => authorization.provider_ref,
        Err(ProviderError::Declined) => {
            metrics::payment(PaymentOutcome::Declined);
            return Err(declined(state, payment, "The card was declined", ApiError::CardDeclined).await);
        }
        Err(ProviderError::InsufficientFunds) => {
            metrics::payment(PaymentOutcome::Declined);
            return Err(declined(state, payment, "The card has insufficient funds", ApiError::InsufficientFunds).await);
        }
        Err(ProviderError::Unavailable(cause)) => return Err(ApiError::Unavailable(cause)),
    };
    match state.store.confirm_payment(payment.id, &provider_ref, &card.last4(), Utc::now()).await {
        Ok(confirmed) => {
            // Held seats now read as sold; the payment does not name its event.
            state.seat_maps.invalidate_all();
            state.payments.capture(&provider_ref).await.map_err(|e| {
                // The seats are the buyer's and the authorization stands; capture is retried by the provider.
                ApiError::Internal(format!("capture of {provider_ref} for payment {} failed: {e}", payment.id))
            })?;
            metrics::payment(PaymentOutcome::Succeeded);
            after_sale(state, payment, admission).await;
            Ok(confirmed)
        }
        Err(refusal) => {
            if let Err(e) = state.payments.void(&provider_ref).await {
                tracing::error!(payment_id = %payment.id, error = %e, "void after a refused confirm failed");
            }
            if matches!(refusal, StoreError::HoldExpired | StoreError::InvalidState(_) | StoreError::CodeExhausted) {
                // The seats are gone, the booking changed or the code is used up: this payment can
                // never succeed, and failing it frees the booking for a new checkout (its seats
                // still held when only the code was refused). A payment a concurrent confirm
                // already settled is not pending, and stays as it is.
                match state.store.fail_payment(payment.id, 0, Utc::now()).await {
                    Ok(_) => metrics::payment(PaymentOutcome::Failed),
                    Err(StoreError::InvalidState(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(refusal.into())
        }
    }
}

/// After a succeeded payment, from its booking (the payment names neither its seats nor its
/// event): counts the seats sold (`proeventa_seats_sold_total`), and, for a buyer who came
/// through the event's waiting room (`admission` valid for that event and account), ends the
/// buyer's session there, so the next in line gets the slot now rather than when the session
/// would have run out. The seats are sold either way; a failed read or finish is only logged (the
/// session still ends on its own).
async fn after_sale(state: &AppState, payment: &Payment, admission: Option<&str>) {
    let now = Utc::now();
    let booking = match state.store.booking(payment.booking_id, now).await {
        Ok(Some(booking)) => booking,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(payment_id = %payment.id, error = %e, "the sold seats could not be counted");
            return;
        }
    };
    metrics::seats_sold(booking.reservations.len());
    let admitted = admission
        .is_some_and(|token| state.queue_tokens.verify_admission(token, booking.event_id, payment.user_id).is_ok());
    if admitted && let Err(e) = state.store.finish_queue_place(booking.event_id, payment.user_id, now).await {
        tracing::warn!(payment_id = %payment.id, error = %e, "the buyer's waiting-room session could not be ended");
    }
}

/// The answer to a card the provider refused (`reason`, answered as `answer`), once the decline
/// is counted on the payment. At the `MAX_DECLINES_PER_PAYMENT`th the store has failed the payment
/// and freed its seats: the answer keeps the provider's code and says so. A payment that stopped
/// being pending meanwhile (a concurrent confirm paid it, or a concurrent decline was its last) is 409.
async fn declined(state: &AppState, payment: &Payment, reason: &str, answer: fn(String) -> ApiError) -> ApiError {
    let decline = match state.store.record_decline(payment.id, Utc::now()).await {
        Ok(decline) => decline,
        Err(e) => return e.into(),
    };
    if decline.payment.status == PaymentStatus::Failed {
        metrics::payment(PaymentOutcome::Failed);
        // Held seats now read as free; the payment does not name its event.
        state.seat_maps.invalidate_all();
        return answer(format!(
            "{reason}; after {MAX_DECLINES_PER_PAYMENT} declined cards this payment is closed and its seats were \
             released, so pick your seats again."
        ));
    }
    answer(format!("{reason}; try another card."))
}

/// Pays out refunds that a cancellation recorded. A failure is logged for follow-up: the
/// refund is already on the books, and the seats are free either way.
pub(crate) async fn pay_out(state: &AppState, refunds: &[Refund]) {
    for refund in refunds {
        metrics::payment(PaymentOutcome::Refunded);
        if let Err(e) = state.payments.refund(&refund.provider_ref, refund.amount_cents).await {
            tracing::error!(payment_id = %refund.payment_id, amount_cents = refund.amount_cents, error = %e, "refund payout failed");
        }
    }
}

/// One payment (owner or admin).
#[utoipa::path(get, path = "/payments/{payment_id}", tag = "payments", security(("bearer" = [])),
    params(("payment_id" = Uuid, Path)),
    responses(
        (status = 200, body = Payment),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: another user's payment", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn get_payment(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(payment_id): Path<Uuid>,
) -> Result<Json<Payment>, ApiError> {
    Ok(Json(owned_payment(&state, &caller, payment_id).await?))
}

/// The caller's payments, newest first; admins see every payment, or one user's with `?user_id`.
#[utoipa::path(get, path = "/payments", tag = "payments", security(("bearer" = [])), params(PaymentListQuery),
    responses(
        (status = 200, body = Vec<Payment>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `user_id` of another user, for customers", body = ErrorBody),
    ))]
async fn list_payments(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(query): Query<PaymentListQuery>,
) -> Result<Json<Vec<Payment>>, ApiError> {
    let page = Page::parse(query.limit, query.offset)?;
    let user_id = match query.user_id {
        Some(id) if !caller.may_act_for(id) => return Err(ApiError::forbidden()),
        Some(id) => Some(id),
        None if caller.is_admin() => None,
        None => Some(caller.0.id),
    };
    Ok(Json(state.store.list_payments(user_id, page).await?))
}

/// The payment provider's callback, signed with `WEBHOOK_SECRET`; an event seen before has no second effect.
#[utoipa::path(post, path = "/payments/webhook", tag = "payments", request_body = WebhookEvent,
    params(("x-signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the raw body>")),
    responses(
        (status = 200, body = WebhookAck),
        (status = 401, description = "`unauthorized`: missing or wrong signature", body = ErrorBody),
        (status = 404, description = "`not_found`: the event names an unknown payment", body = ErrorBody),
        (status = 409, description = "`invalid_state`: the payment is not in a state the event applies to", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    ))]
async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookAck>, ApiError> {
    let body = body.map_err(|rejection| {
        super::extract::body_rejection(rejection, super::extract::BodyLimit(super::BODY_LIMIT_BYTES))
    })?;
    let signature = headers.get("x-signature").and_then(|v| v.to_str().ok());
    if !state.payments.verify_webhook(&body, signature) {
        return Err(ApiError::Unauthorized("The webhook signature is missing or wrong.".into()));
    }
    super::extract::check_json_syntax(&body)?;
    super::extract::check_json_object(&body)?;
    // Read as every JSON body is, so a wrong field is named in the same words (`extract::Json`).
    let event: WebhookEvent = super::extract::typed_json(&body)?;
    let effect = WebhookEffect::of(&event)?;
    if let Some(payment_id) = effect.payment_id() {
        state.store.payment(payment_id).await?.ok_or_else(|| ApiError::not_found("payment"))?;
    }
    let now = Utc::now();
    if !state.store.record_webhook_event(&event.id, now).await? {
        return Ok(Json(WebhookAck { received: true, duplicate: true }));
    }
    let applied = match effect {
        WebhookEffect::Refund { payment_id, amount_cents } => state
            .store
            .record_refund(payment_id, amount_cents, now)
            .await
            .map(|_| metrics::payment(PaymentOutcome::Refunded)),
        WebhookEffect::Fail { payment_id } => {
            state.store.fail_payment(payment_id, 0, now).await.map(|_| metrics::payment(PaymentOutcome::Failed))
        }
        WebhookEffect::None => {
            tracing::info!(event_id = %event.id, kind = %event.kind, "webhook event acknowledged without effect");
            Ok(())
        }
    };
    if let Err(e) = applied {
        // Not applied, so not received: the provider's retry must be able to apply it.
        state.store.forget_webhook_event(&event.id).await?;
        return Err(e.into());
    }
    Ok(Json(WebhookAck { received: true, duplicate: false }))
}

/// What a webhook event asks for, checked before anything is recorded.
enum WebhookEffect {
    Refund { payment_id: Uuid, amount_cents: i64 },
    Fail { payment_id: Uuid },
    None,
}

impl WebhookEffect {
    fn of(event: &WebhookEvent) -> Result<Self, ApiError> {
        let payment_id = || {
            event.payment_id.ok_or_else(|| ApiError::Validation(format!("payment_id is required for {}", event.kind)))
        };
        Ok(match event.kind.as_str() {
            "charge.refunded" => Self::Refund {
                payment_id: payment_id()?,
                amount_cents: event.amount_cents.filter(|a| *a > 0).ok_or_else(|| {
                    ApiError::Validation("amount_cents must be a positive amount for charge.refunded".into())
                })?,
            },
            "charge.failed" => Self::Fail { payment_id: payment_id()? },
            _ => Self::None,
        })
    }

    fn payment_id(&self) -> Option<Uuid> {
        match self {
            Self::Refund { payment_id, .. } | Self::Fail { payment_id } => Some(*payment_id),
            Self::None => None,
        }
    }
}
