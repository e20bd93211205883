//! `ApiError`: every failure a client can see, turned into the contract's `{"error","detail"}`
//! body and status. Store errors are mapped to it once, here; internal causes are logged, never shown.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthError;
use crate::domain::{Gate, Invalid, SeatLabel};
use crate::limits::Refusal;
use crate::store::StoreError;

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable snake_case code, e.g. `seat_unavailable`.
    #[schema(example = "seat_unavailable")]
    pub error: String,
    /// One human sentence.
    #[schema(example = "Seat C7 is no longer available.")]
    pub detail: String,
}

/// The body of a 409 `not_on_sale`: the error, with the time the sale opens.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct NotOnSaleBody {
    #[schema(example = "not_on_sale")]
    pub error: String,
    #[schema(example = "Tickets for this event go on sale at 2026-12-20 10:00:00 UTC; try again then.")]
    pub detail: String,
    /// When holds open.
    pub on_sale_at: DateTime<Utc>,
}

/// The body of a 409 `already_checked_in`: the error, with the scan that admitted the ticket.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct AlreadyCheckedInBody {
    #[schema(example = "already_checked_in")]
    pub error: String,
    #[schema(example = "This ticket was already checked in at gate north at 2026-12-05 19:02:11 UTC.")]
    pub detail: String,
    /// When the winning scan was made (the gate's own clock for an offline gate).
    pub checked_in_at: DateTime<Utc>,
    /// The gate of the winning scan.
    pub gate: Gate,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("wrong e-mail or password")]
    InvalidCredentials,
    #[error("token expired")]
    TokenExpired,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    EmailTaken(String),
    #[error("{0}")]
    SeatUnavailable(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    HoldExpired(String),
    #[error("{0}")]
    HoldLimitReached(String),
    /// A ticket type's quota is reached (issue 21).
    #[error("{0}")]
    TypeSoldOut(String),
    /// The booking's one hold extension was already used.
    #[error("{0}")]
    ExtensionUsed(String),
    /// A password reset link that is unknown, used, expired or superseded (one answer for all).
    #[error("{0}")]
    InvalidToken(String),
    /// A hold before the event's sale opens: the opening goes in the body too.
    #[error("not on sale yet")]
    NotOnSale { on_sale_at: DateTime<Utc> },
    /// The event has a waiting room and the request carries no admission of it that is valid
    /// for this event and this account.
    #[error("{0}")]
    QueueRequired(String),
    /// A waiting-list join for an event that still has seats to hold.
    #[error("{0}")]
    NotSoldOut(String),
    /// A ticket code whose signature does not verify (altered, another key, garbage).
    #[error("{0}")]
    InvalidTicket(String),
    /// A valid ticket code of another event than the one the door scans for.
    #[error("{0}")]
    WrongEvent(String),
    /// Another scan admitted this ticket first: its time and gate go in the body too.
    #[error("already checked in")]
    AlreadyCheckedIn { gate: Gate, at: DateTime<Utc> },
    /// The ticket's seat was canceled or refunded.
    #[error("{0}")]
    TicketRevoked(String),
    /// A code that exists already (`POST /admin/codes`).
    #[error("{0}")]
    CodeTaken(String),
    /// A promo or access code that cannot be used here: unknown, deleted, outside its window, for
    /// another event, of the wrong kind, or applying to no seat.
    #[error("{0}")]
    InvalidCode(String),
    /// A code with no use left at the confirm: nothing was confirmed or charged.
    #[error("{0}")]
    CodeExhausted(String),
    /// A venue's layout that cannot be replaced now: an event of it is on sale, or a seat left
    /// out was booked.
    #[error("{0}")]
    VenueInUse(String),
    #[error("{0}")]
    CardDeclined(String),
    #[error("{0}")]
    InsufficientFunds(String),
    /// The body is over the limit of the route it was sent to.
    #[error("payload too large")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Validation(String),
    /// A rate limit is used up (`crate::limits`); `too_many` starts the sentence.
    #[error("rate limited")]
    RateLimited { too_many: &'static str, retry_after_seconds: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// A bug: the cause is logged with the request id and never shown.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) | Self::InvalidRequest(_) | Self::InvalidToken(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) | Self::InvalidCredentials | Self::TokenExpired => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::QueueRequired(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::EmailTaken(_)
            | Self::SeatUnavailable(_)
            | Self::InvalidState(_)
            | Self::HoldExpired(_)
            | Self::HoldLimitReached(_)
            | Self::TypeSoldOut(_)
            | Self::ExtensionUsed(_)
            | Self::NotOnSale { .. }
            | Self::NotSoldOut(_)
            | Self::CodeTaken(_)
            | Self::CodeExhausted(_)
            | Self::VenueInUse(_)
            | Self::AlreadyCheckedIn { .. } => StatusCode::CONFLICT,
            Self::TicketRevoked(_) => StatusCode::GONE,
            Self::CardDeclined(_) | Self::InsufficientFunds(_) => StatusCode::PAYMENT_REQUIRED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::InvalidTicket(_) | Self::WrongEvent(_) | Self::InvalidCode(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidRequest(_) => "invalid_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::TokenExpired => "token_expired",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::EmailTaken(_) => "email_taken",
            Self::SeatUnavailable(_) => "seat_unavailable",
            Self::InvalidState(_) => "invalid_state",
            Self::HoldExpired(_) => "hold_expired",
            Self::HoldLimitReached(_) => "hold_limit_reached",
            Self::TypeSoldOut(_) => "type_sold_out",
            Self::ExtensionUsed(_) => "extension_used",
            Self::InvalidToken(_) => "invalid_token",
            Self::NotOnSale { .. } => "not_on_sale",
            Self::QueueRequired(_) => "queue_required",
            Self::NotSoldOut(_) => "not_sold_out",
            Self::InvalidTicket(_) => "invalid_ticket",
            Self::WrongEvent(_) => "wrong_event",
            Self::AlreadyCheckedIn { .. } => "already_checked_in",
            Self::TicketRevoked(_) => "ticket_revoked",
            Self::CodeTaken(_) => "code_taken",
            Self::InvalidCode(_) => "invalid_code",
            Self::CodeExhausted(_) => "code_exhausted",
            Self::VenueInUse(_) => "venue_in_use",
            Self::CardDeclined(_) => "card_declined",
            Self::InsufficientFunds(_) => "insufficient_funds",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The sentence a client sees. Internal and storage causes are replaced by a fixed text.
    pub fn detail(&self) -> String {
        match self {
            Self::InvalidCredentials => "Wrong e-mail or password.".into(),
            Self::TokenExpired => "The access token has expired; log in again.".into(),
            Self::MethodNotAllowed => "This method is not allowed on this path.".into(),
            Self::PayloadTooLarge { limit_bytes } => {
                format!("The request body is larger than the {} KiB this request accepts.", limit_bytes / 1024)
            }
            Self::RateLimited { too_many, retry_after_seconds } => {
                format!("{too_many}; try again in {retry_after_seconds} seconds.")
            }
            Self::Unavailable(_) => "The service is temporarily unavailable; try again shortly.".into(),
            Self::Internal(_) => "Something went wrong on our side; it has been logged.".into(),
            Self::NotOnSale { on_sale_at } => format!(
                "Tickets for this event go on sale at {} UTC; try again then.",
                on_sale_at.format("%Y-%m-%d %H:%M:%S")
            ),
            Self::AlreadyCheckedIn { gate, at } => format!(
                "This ticket was already checked in at gate {} at {} UTC.",
                gate.as_str(),
                at.format("%Y-%m-%d %H:%M:%S")
            ),
            Self::InvalidJson(s)
            | Self::InvalidRequest(s)
            | Self::Unauthorized(s)
            | Self::Forbidden(s)
            | Self::NotFound(s)
            | Self::EmailTaken(s)
            | Self::SeatUnavailable(s)
            | Self::InvalidState(s)
            | Self::HoldExpired(s)
            | Self::HoldLimitReached(s)
            | Self::TypeSoldOut(s)
            | Self::ExtensionUsed(s)
            | Self::InvalidToken(s)
            | Self::QueueRequired(s)
            | Self::NotSoldOut(s)
            | Self::InvalidTicket(s)
            | Self::WrongEvent(s)
            | Self::TicketRevoked(s)
            | Self::CodeTaken(s)
            | Self::InvalidCode(s)
            | Self::CodeExhausted(s)
            | Self::VenueInUse(s)
            | Self::CardDeclined(s)
            | Self::InsufficientFunds(s)
            | Self::UnsupportedMediaType(s)
            | Self::Validation(s) => s.clone(),
        }
    }

    /// A hold of an event behind its waiting room without a valid admission of this account.
    pub fn queue_required() -> Self {
        Self::QueueRequired(
            "This event's sale goes through its waiting room: join the queue and send the admission token you get \
             when it is your turn (header X-Admission-Token)."
                .into(),
        )
    }

    /// A waiting-list join while seats can still be held.
    pub fn not_sold_out() -> Self {
        Self::NotSoldOut(
            "This event still has seats you can hold: pick them on the seat map. The waiting list opens when it is \
             sold out."
                .into(),
        )
    }

    pub fn unauthorized() -> Self {
        Self::Unauthorized("Log in first: this route needs a bearer token.".into())
    }

    pub fn forbidden() -> Self {
        Self::Forbidden("You are not allowed to do this.".into())
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("No such {what}."))
    }

    /// 410 for a ticket whose seat was canceled or refunded: at the door, and for its files.
    pub fn ticket_revoked(seat: &SeatLabel) -> Self {
        Self::TicketRevoked(format!(
            "The ticket for {} was revoked: its seat was canceled or refunded.",
            seat.on_ticket()
        ))
    }

    /// 400 `invalid_token`: the same answer for a reset link that is malformed, unknown, used,
    /// expired or superseded, so the answer tells nothing about which.
    pub fn invalid_reset_token() -> Self {
        Self::InvalidToken(
            "This password reset link is not valid any more: it was used, it expired, or it is incomplete. \
             Ask for a new one."
                .into(),
        )
    }

    pub fn seats_unavailable(seats: &[SeatLabel]) -> Self {
        let names: Vec<String> = seats.iter().map(SeatLabel::on_ticket).collect();
        Self::SeatUnavailable(match names.len() {
            0 => "The requested seats are no longer available.".into(),
            1 => format!("{} is no longer available.", names[0]),
            _ => format!("These seats are no longer available: {}.", names.join(", ")),
        })
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self::Validation(format!("{} {}", invalid.field, invalid.message))
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        Self::Internal(err.0)
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Limited { too_many, retry_after_seconds } => Self::RateLimited { too_many, retry_after_seconds },
            Refusal::Store(err) => err.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        crate::metrics::store_error(&err);
        match err {
            StoreError::EmailTaken => Self::EmailTaken("This e-mail address is already registered.".into()),
            StoreError::SeatsUnavailable(seats) => Self::seats_unavailable(&seats),
            StoreError::HeldBack(detail) => Self::SeatUnavailable(detail),
            StoreError::NotFound(entity) => Self::not_found(entity.name()),
            StoreError::Rejected(invalid) => invalid.into(),
            StoreError::InvalidState(detail) => Self::InvalidState(sentence(&detail)),
            StoreError::HoldExpired => {
                Self::HoldExpired("The hold on these seats has expired; pick your seats again.".into())
            }
            StoreError::HoldLimitReached { limit } => Self::HoldLimitReached(format!(
                "You can hold at most {limit} {} for this event at a time.",
                if limit == 1 { "seat" } else { "seats" }
            )),
            StoreError::TypeSoldOut { ticket_type } => {
                Self::TypeSoldOut(format!("No {ticket_type} tickets are left for this event."))
            }
            StoreError::ExtensionUsed => {
                Self::ExtensionUsed("This hold was already extended once; it cannot be extended again.".into())
            }
            StoreError::ResetTokenInvalid => Self::invalid_reset_token(),
            StoreError::NotOnSale { on_sale_at } => Self::NotOnSale { on_sale_at },
            StoreError::QueueRequired => Self::queue_required(),
            StoreError::NotSoldOut => Self::not_sold_out(),
            StoreError::CodeTaken => Self::CodeTaken("A code with this name exists already.".into()),
            StoreError::InvalidCode(detail) => Self::InvalidCode(sentence(&detail)),
            StoreError::VenueInUse(detail) => Self::VenueInUse(sentence(&detail)),
            StoreError::CodeExhausted => Self::CodeExhausted(
                "This code has no use left, so nothing was charged; check out again without it (your seats are still held)."
                    .into(),
            ),
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// Capitalises and ends a store's phrase as a sentence.
fn sentence(phrase: &str) -> String {
    let mut chars = phrase.chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(cause) => tracing::error!(error.cause = %cause, "internal error"),
            Self::Unavailable(cause) => tracing::warn!(error.cause = %cause, "storage unavailable"),
            _ => {}
        }
        let body = ErrorBody { error: self.code().into(), detail: self.detail() };
        let mut response = match &self {
            Self::AlreadyCheckedIn { gate, at } => {
                let body = AlreadyCheckedInBody {
                    error: body.error,
                    detail: body.detail,
                    checked_in_at: *at,
                    gate: gate.clone(),
                };
                (status, axum::Json(body)).into_response()
            }
            Self::NotOnSale { on_sale_at } => {
                let body = NotOnSaleBody { error: body.error, detail: body.detail, on_sale_at: *on_sale_at };
                (status, axum::Json(body)).into_response()
            }
            _ => (status, axum::Json(body)).into_response(),
        };
        let headers = response.headers_mut();
        match self {
            Self::RateLimited { retry_after_seconds, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            }
            Self::Unauthorized(_) | Self::TokenExpired => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_never_reach_the_body() {
        let err = ApiError::from(StoreError::Internal("syntax error at or near SELECT".into()));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.detail().contains("SELECT"));
        let err = ApiError::from(StoreError::Unavailable("connection refused (os error 111)".into()));
        assert_eq!((err.status(), err.code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
        assert!(!err.detail().contains("111"));
    }

    #[test]
    fn lost_seats_are_named() {
        let seat = |row: &str, n| SeatLabel { section: None, row: row.into(), seat_number: n, tier: "standard".into() };
        assert_eq!(ApiError::seats_unavailable(&[seat("C", 7)]).detail(), "Row C · Seat 7 is no longer available.");
        assert_eq!(
            ApiError::seats_unavailable(&[seat("C", 7), seat("C", 8)]).detail(),
            "These seats are no longer available: Row C · Seat 7, Row C · Seat 8."
        );
        // Row 1 seat 11 and row 11 seat 1 are told apart.
        assert_ne!(
            ApiError::seats_unavailable(&[seat("1", 11)]).detail(),
            ApiError::seats_unavailable(&[seat("11", 1)]).detail()
        );
    }

    #[test]
    fn the_hold_limit_is_named() {
        let err = ApiError::from(StoreError::HoldLimitReached { limit: 10 });
        assert_eq!((err.status(), err.code()), (StatusCode::CONFLICT, "hold_limit_reached"));
        assert_eq!(err.detail(), "You can hold at most 10 seats for this event at a time.");
        let one = ApiError::from(StoreError::HoldLimitReached { limit: 1 });
        assert_eq!(one.detail(), "You can hold at most 1 seat for this event at a time.");
    }

    #[test]
    fn a_sold_out_ticket_type_is_named() {
        let err = ApiError::from(StoreError::TypeSoldOut { ticket_type: "student".into() });
        assert_eq!((err.status(), err.code()), (StatusCode::CONFLICT, "type_sold_out"));
        assert_eq!(err.detail(), "No student tickets are left for this event.");
    }

    #[test]
    fn the_doors_refusals_have_their_codes_and_a_second_scan_names_the_first() {
        for (err, status, code) in [
            (ApiError::InvalidTicket("x".into()), StatusCode::UNPROCESSABLE_ENTITY, "invalid_ticket"),
            (ApiError::WrongEvent("x".into()), StatusCode::UNPROCESSABLE_ENTITY, "wrong_event"),
            (ApiError::TicketRevoked("x".into()), StatusCode::GONE, "ticket_revoked"),
        ] {
            assert_eq!((err.status(), err.code()), (status, code));
        }
        let at = DateTime::parse_from_rfc3339("2026-12-05T19:02:11Z").expect("a time").with_timezone(&Utc);
        let err = ApiError::AlreadyCheckedIn { gate: Gate::parse(Some("north")).expect("a gate"), at };
        assert_eq!((err.status(), err.code()), (StatusCode::CONFLICT, "already_checked_in"));
        assert_eq!(err.detail(), "This ticket was already checked in at gate north at 2026-12-05 19:02:11 UTC.");
    }

    #[tokio::test]
    async fn a_second_scans_body_carries_the_winning_scans_time_and_gate() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T19:02:11Z").expect("a time").with_timezone(&Utc);
        let response =
            ApiError::AlreadyCheckedIn { gate: Gate::parse(Some("north")).expect("a gate"), at }.into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(body["error"], "already_checked_in");
        assert_eq!(body["gate"], "north");
        assert_eq!(body["checked_in_at"], "2026-12-05T19:02:11Z");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains("north")), "{body}");
    }

    #[tokio::test]
    async fn a_hold_before_the_sale_opens_names_the_opening() {
        let on_sale_at = DateTime::parse_from_rfc3339("2026-12-20T10:00:00Z").expect("a time").with_timezone(&Utc);
        let err = ApiError::from(StoreError::NotOnSale { on_sale_at });
        assert_eq!((err.status(), err.code()), (StatusCode::CONFLICT, "not_on_sale"));
        assert_eq!(err.detail(), "Tickets for this event go on sale at 2026-12-20 10:00:00 UTC; try again then.");
        let bytes = axum::body::to_bytes(err.into_response().into_body(), usize::MAX).await.expect("a body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(body["error"], "not_on_sale");
        assert_eq!(body["on_sale_at"], "2026-12-20T10:00:00Z");
    }

    #[test]
    fn validation_names_the_field() {
        let err = ApiError::from(Invalid::new("email", "must be an e-mail address"));
        assert_eq!((err.code(), err.detail().as_str()), ("validation_failed", "email must be an e-mail address"));
    }
}
