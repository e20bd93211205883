//! Storage: traits by intent (users, catalog, holds, payments, tickets, idempotency records,
//! rate-limit counters) and the backends that implement them. Every backend keeps the one promise
//! inside the store itself: at most one active reservation per (event, seat), decided by a unique
//! index or a conditional write; and every limit is counted there too, never in a process's memory.
//! The waiting room's queue (`QueueStore`) keeps its promises the same way: one place per account
//! and event, positions that never repeat, and never more admitted buyers at once than the event
//! allows, each decided by a unique index, a locked counter row or a conditional write.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::domain::{
    Actor, AuditEntry, AuditFilter, Booking, CheckIn, ClaimedDelivery, Code, CodeChanges, DeliveryOutcome, Email,
    Event, EventChanges, EventFilter, EventReport, HoldExtension, HoldRequest, Invalid, MessageStatus, NewCode,
    NewEvent, NewPayment, NewUser, NewVenue, NewWebhook, OutboxMessage, Page, Payment, QueueJoin, QueuePlace,
    QueueStats, Refund, Reservation, ReservationFilter, ResetDigest, ResetRequest, SalesReport, SalesWindow, Scan,
    SeatLabel, SeatState, Settlement, StoredLayout, Ticket, TicketFilter, TicketTally, User, UserChanges, Venue,
    VenueChanges, VenueWithSeats, WaitlistEntry, WaitlistJoin, Webhook, WebhookDelivery,
};

// Each backend is a cargo feature (all on by default): a Lambda package carries only the ones it
// is deployed with. `connect` names the feature a DATABASE_URL needs when it is left out.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod batch;
pub mod best_available;
pub mod best_available_desk;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod checkin_batch;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod count_batch;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod hold_batch;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "dynamodb"))]
mod layout;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "dynamodb"))]
mod outbox;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod read_batch;
mod rules;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql_errors;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "dynamodb"))]
mod webhooks;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "dynamodb"))]
pub(crate) use layout::{Relayout, new_seat, on_sale_at_venue, seat_still_booked, stored_layout_version};
pub use rules::{Entity, MAX_DECLINES_PER_PAYMENT};
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "dynamodb"))]
pub(crate) use rules::{
    StoredIdempotency, cancel_refund, claim_answer, code_applies_to_no_seat, extension_refusal, idempotency_cutoff,
    stored_admission, stored_gate, stored_queue,
};

/// What a store can answer besides success. Mapped to HTTP once, in `crate::api::error`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("this e-mail address is already registered")]
    EmailTaken,
    /// Some of the requested seats are taken; the labels name the ones known to be lost.
    #[error("seats unavailable")]
    SeatsUnavailable(Vec<SeatLabel>),
    /// The hold names a wheelchair space or companion seat held back for wheelchair users and it
    /// is not an accessible hold of an accessible party (`domain::held_back_refusal` words it);
    /// nothing was written.
    #[error("{0}")]
    HeldBack(String),
    /// There is no such thing (the entity says what was looked for).
    #[error("no such {0}")]
    NotFound(Entity),
    /// The request breaks a rule that only the stored state can tell (seat not in the venue, event started).
    #[error("{0}")]
    Rejected(Invalid),
    /// The resource is not in a state that allows the change (already canceled, expired).
    #[error("{0}")]
    InvalidState(String),
    /// A booking's hold lapsed (at checkout), or lapsed and lost a seat to someone else (at confirm).
    #[error("the hold has expired")]
    HoldExpired,
    /// A hold before the event's sale opens (its `on_sale_at`); nothing was written.
    #[error("this event goes on sale at {on_sale_at}")]
    NotOnSale { on_sale_at: DateTime<Utc> },
    /// A hold of an event whose waiting room is enabled, by a request with no admission of it;
    /// nothing was written.
    #[error("this event's sale goes through its waiting room")]
    QueueRequired,
    /// A waiting-list join for an event whose seats (of the wished tier) can still be held;
    /// nothing was written.
    #[error("this event still has seats to hold")]
    NotSoldOut,
    /// The booking's one hold extension was already used.
    #[error("this booking's hold was already extended once")]
    ExtensionUsed,
    /// A password reset token that is unknown, used, expired, or whose account changed its
    /// password (or was disabled) since it was issued; nothing was written.
    #[error("the password reset link is not valid")]
    ResetTokenInvalid,
    /// The hold would take the user above `limit` held seats of the event; nothing was written.
    #[error("at most {limit} held seats per user and event")]
    HoldLimitReached { limit: u32 },
    /// The hold would take more seats of `ticket_type` than its quota allows (held and sold
    /// together); nothing was written.
    #[error("no {ticket_type} tickets are left")]
    TypeSoldOut { ticket_type: String },
    /// A code of that name exists already (the unique index `codes_code_uq` or its DynamoDB item).
    #[error("this code exists already")]
    CodeTaken,
    /// A checkout's code applies to none of the booking's held seats (the sentence says so).
    #[error("{0}")]
    InvalidCode(String),
    /// A confirm whose code has no use left, in all or for this account: decided in the confirm's
    /// own write; nothing was confirmed.
    #[error("this code has no use left")]
    CodeExhausted,
    /// A venue's layout cannot change now: an event of it is on sale, or a seat it leaves out was
    /// booked (the sentence names which); nothing was written.
    #[error("{0}")]
    VenueInUse(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates an account; a taken e-mail is `EmailTaken`, decided by the unique index.
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn user(&self, id: Uuid) -> StoreResult<Option<User>>;
    /// The account and its password hash, for login.
    async fn user_with_password_hash(&self, email: &Email) -> StoreResult<Option<(User, String)>>;
    async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>>;
    async fn update_user(&self, id: Uuid, changes: UserChanges) -> StoreResult<Option<User>>;
    /// Accounts oldest first; `query` matches e-mail or name, case-insensitively.
    async fn list_users(&self, query: Option<&str>, page: Page) -> StoreResult<Vec<User>>;
}

/// Password resets ("forgot password"). The store keeps only each token's SHA-256 digest, bound
/// to the account's `token_version` when it was issued; both writes are one transaction each.
#[async_trait]
pub trait PasswordResetStore: Send + Sync {
    /// For the enabled account with `request.email`, in one transaction: records the token's
    /// digest (never the token), expiring at `request.expires_at`, and writes the reset mail to
    /// the outbox, which holds the plain token as its `secret` until it is settled. `false`, and
    /// nothing written, when no enabled account has the address. Older tokens of the account
    /// stay valid until they expire or any reset of the account is used.
    async fn issue_password_reset(&self, request: &ResetRequest, now: DateTime<Utc>) -> StoreResult<bool>;
    /// In one transaction: consumes the token by one conditional write (unused and unexpired at
    /// `now`: of two confirms at once exactly one wins), then sets the account's password hash and
    /// bumps its `token_version`, conditioned on the version the token was issued at and on the
    /// account being enabled, so every session issued before (and every other reset token of the
    /// account) ends. `ResetTokenInvalid` (nothing written) otherwise. Returns the account.
    async fn reset_password(&self, token: &ResetDigest, password_hash: String, now: DateTime<Utc>)
    -> StoreResult<User>;
}

/// Venues, events and the live seat map.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    async fn create_venue(&self, venue: NewVenue) -> StoreResult<VenueWithSeats>;
    async fn list_venues(&self) -> StoreResult<Vec<Venue>>;
    async fn venue(&self, id: Uuid) -> StoreResult<Option<VenueWithSeats>>;
    /// The venue's layout as stored (`VenueLayoutDocument::from_stored` makes the static layout:
    /// drawn, or generated for plain rows); `None` for an unknown venue.
    async fn venue_layout(&self, id: Uuid) -> StoreResult<Option<StoredLayout>>;
    /// Changes a venue (its time zone), which its events then show; `None` for an unknown venue.
    async fn update_venue(&self, id: Uuid, changes: VenueChanges) -> StoreResult<Option<VenueWithSeats>>;
    /// The seat tiers of a venue, or `None` when there is no such venue.
    async fn venue_tiers(&self, id: Uuid) -> StoreResult<Option<BTreeSet<String>>>;
    async fn create_event(&self, event: NewEvent) -> StoreResult<Event>;
    async fn update_event(&self, id: Uuid, changes: EventChanges) -> StoreResult<Option<Event>>;
    /// Marks the event canceled and cancels every held or confirmed reservation of it, in one
    /// transaction that also records the refund of every paid seat (see `Cancellation`), and the
    /// `actor`'s audit rows when one is given: `event.canceled` when the event was not canceled
    /// already, and one `payment.refunded` per payment refunded (on DynamoDB, each in the
    /// transaction of its booking's cancel).
    async fn cancel_event(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Option<Cancellation<Event>>>;
    async fn event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>>;
    /// Events soonest first.
    async fn list_events(&self, filter: &EventFilter, now: DateTime<Utc>) -> StoreResult<Vec<Event>>;
    /// Every seat of the event's venue with its state at `now`, row by row; `None` for an unknown event.
    async fn seat_map(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Vec<SeatState>>>;
}

/// Seat holds, reservations and bookings.
#[async_trait]
pub trait HoldStore: Send + Sync {
    /// Holds every requested seat or none, in one transaction: lapsed holds on those seats (and the
    /// user's lapsed holds of the event) are expired first, then the store decides each seat (a
    /// unique index or a conditional write) and the user's held seats of the event, this hold's
    /// included, against `request.limit` (a slot per held seat, decided the same way). Errors:
    /// `NotFound` (event), `Rejected` (seat not in the venue, event canceled or started),
    /// `NotOnSale` (before the event's `on_sale_at`, decided in the hold's own statement or
    /// conditional write), `QueueRequired` (the event's waiting room is enabled and the request is
    /// not `admitted`, decided the same way), `HoldLimitReached` (before any seat is judged), `SeatsUnavailable`
    /// naming the lost seats.
    async fn hold(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Booking>;
    async fn reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Reservation>>;
    async fn booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Booking>>;
    /// Newest first.
    async fn list_reservations(&self, filter: &ReservationFilter, now: DateTime<Utc>) -> StoreResult<Vec<Reservation>>;
    /// Cancels a held (unexpired) or confirmed reservation in one conditional write;
    /// `InvalidState` when it is no longer active, `NotFound` when there is none. A seat that
    /// was confirmed (paid) has what was paid for it recorded as refunded on its payment in the
    /// same transaction, and, when an admin's `actor` is given (an admin canceling a buyer's
    /// seat), a `payment.refunded` audit row for that refund (`AuditRecord::payment_refunded`).
    async fn cancel_reservation(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Cancellation<Reservation>>;
    /// Cancels every active seat of a booking in one conditional write; same errors, refunds and
    /// audit row.
    async fn cancel_booking(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Cancellation<Booking>>;
    /// Extends every running hold of a booking by `extension`, once per booking, and returns the
    /// booking. The store decides "once" and "still running" in the write itself: SQL marks the
    /// booking (`extended_at`) by an `UPDATE … WHERE extended_at IS NULL` that also requires a
    /// running hold, then moves the held seats' expiry in the same transaction; DynamoDB puts a
    /// conditional update of the booking item (`attribute_not_exists`) in the transaction that
    /// moves each held seat's expiry (reservation, seat state and its lapse index, hold slot),
    /// each conditioned on the expiry it was read with. Of two extends at once exactly one wins.
    /// Errors: `NotFound`, `ExtensionUsed`, `HoldExpired` (lapsed), `InvalidState` (paid or
    /// canceled); see `rules::extension_refusal`.
    async fn extend_hold(&self, booking_id: Uuid, extension: HoldExtension, now: DateTime<Utc>)
    -> StoreResult<Booking>;
    /// Writes down `expired` for every lapsed hold; returns how many. Safe to run twice at once.
    async fn expire_lapsed_holds(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// What a cancellation changed, and the money it owes back: one `Refund` per payment whose
/// confirmed seats were canceled, already recorded on the payment (`refunded_cents`, status
/// `partially_refunded` or `refunded`) in the cancellation's own transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancellation<T> {
    pub canceled: T,
    pub refunds: Vec<Refund>,
}

/// Payments for bookings. Every change of money and seats happens in one transaction.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Opens a `pending` payment for a held booking: the amount is the sum of the prices of its
    /// held (unexpired) seats, and their hold is extended to at least `hold_until`. At most one
    /// open payment per booking (a unique index decides: `InvalidState`). `HoldExpired` when
    /// the booking's hold has lapsed; `InvalidState` when no seat is held (canceled, confirmed)
    /// or the event has started by `now`; `NotFound` when there is no such booking.
    async fn create_payment(&self, payment: NewPayment, now: DateTime<Utc>) -> StoreResult<Payment>;
    async fn payment(&self, id: Uuid) -> StoreResult<Option<Payment>>;
    /// Newest first; every user's when `user_id` is `None`.
    async fn list_payments(&self, user_id: Option<Uuid>, page: Page) -> StoreResult<Vec<Payment>>;
    /// In one transaction: the payment goes `pending → succeeded` (keeping `provider_ref` and the
    /// card's last four digits) and every reservation of its booking goes `confirmed`, including
    /// holds that lapsed but whose seat nobody took. If someone else now holds or bought a seat
    /// (the unique index refuses), nothing changes: `HoldExpired`. A seat canceled since checkout
    /// (the seats left no longer add up to the amount), a canceled event, an event that has
    /// started by `now` (nobody is charged for a show that began), or a payment that is not
    /// pending: `InvalidState`. Unknown payment: `NotFound`.
    async fn confirm_payment(
        &self,
        id: Uuid,
        provider_ref: &str,
        card_last4: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Payment>;
    /// Counts one declined card on a pending payment, in one atomic write (a conditional
    /// increment: concurrent declines are each counted once). The `MAX_DECLINES_PER_PAYMENT`th
    /// also turns the payment `failed` and writes its booking's held seats down as `expired`
    /// (free at once) in the same transaction, so no decline is ever counted past it.
    /// `InvalidState` when the payment is not pending; `NotFound` when there is none.
    async fn record_decline(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Decline>;
    /// `pending → failed`, recording what was given back (0 when the charge was voided).
    /// `InvalidState` when the payment is not pending.
    async fn fail_payment(&self, id: Uuid, refunded_cents: i64, now: DateTime<Utc>) -> StoreResult<Payment>;
    /// Records money given back outside a cancellation (a provider's refund webhook), capped at
    /// the amount: status becomes `partially_refunded` or `refunded`. `InvalidState` unless the
    /// payment succeeded or is partially refunded.
    async fn record_refund(&self, id: Uuid, amount_cents: i64, now: DateTime<Utc>) -> StoreResult<Payment>;
    /// Remembers a provider's webhook event; `true` only the first time its id is seen.
    async fn record_webhook_event(&self, event_id: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Forgets a webhook event whose effect failed, so the provider's retry is applied.
    async fn forget_webhook_event(&self, event_id: &str) -> StoreResult<()>;
}

/// What counting a declined card did to its payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decline {
    /// The payment after it: still `pending`, or `failed` when this was its last allowed decline.
    pub payment: Payment,
    /// The declines counted on the payment, this one included (1 to `MAX_DECLINES_PER_PAYMENT`).
    pub declines: u32,
}

/// Tickets: one per confirmed seat, issued by `PaymentStore::confirm_payment` in its own
/// transaction, revoked by `cancel_reservation`, `cancel_booking` and `cancel_event` in theirs
/// (a used ticket too: it keeps its `admission`), and admitted once at the door.
#[async_trait]
pub trait TicketStore: Send + Sync {
    async fn ticket(&self, id: Uuid) -> StoreResult<Option<Ticket>>;
    /// Newest first (by `issued_at`, then booking id); a booking's tickets in seat order (row,
    /// then seat number) among equals, as reservations are listed.
    async fn list_tickets(&self, filter: &TicketFilter) -> StoreResult<Vec<Ticket>>;
    /// Admits a `valid` ticket by one conditional write (`valid → used`, recording the scan as its
    /// `admission`): of any number of scans at once, exactly one is `Admitted`. Any other state
    /// is `Refused` with the ticket as stored, changing nothing. `NotFound` when there is none.
    async fn check_in(&self, scan: &Scan) -> StoreResult<CheckIn>;
    /// Every ticket of the event, in any status, by id (the door's offline manifest).
    async fn event_tickets(&self, event_id: Uuid) -> StoreResult<Vec<Ticket>>;
    /// The event's tickets counted by status and admitting gate (the door's live counts).
    async fn ticket_tallies(&self, event_id: Uuid) -> StoreResult<Vec<TicketTally>>;
}

/// The outbox: messages written by the changes they report, in the changes' own transactions
/// (`create_user`: account created; `issue_password_reset`: the reset link; `confirm_payment`: booking confirmed; `fail_payment` with
/// money given back: payment refunded; `cancel_reservation` / `cancel_booking` of paid seats:
/// seats or booking canceled with the refund; `cancel_event`: one per refund;
/// `update_event` that moves `start_time`: event rescheduled). Delivered by a sender at least
/// once; two senders at once never claim one message twice.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` pending messages due by `now`, oldest due first, each by one
    /// conditional write (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite's single writer; DynamoDB a
    /// conditional update) that counts the attempt and moves `next_attempt_at` to `now + lease`,
    /// so no other sender claims it while this one sends, and a sender that dies leaves it to be
    /// claimed again after the lease. Returns the messages as claimed (attempts counted).
    async fn claim_messages(&self, limit: u32, lease: Duration, now: DateTime<Utc>) -> StoreResult<Vec<OutboxMessage>>;
    /// Records how attempt `attempt` of a claimed message ended, if that claim is still the
    /// message's latest (status `pending`, `attempts == attempt`): `true` when recorded, `false`
    /// when a later claim or an admin superseded it (nothing changes then).
    async fn settle_message(
        &self,
        id: Uuid,
        attempt: u32,
        settlement: &Settlement,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn message(&self, id: Uuid) -> StoreResult<Option<OutboxMessage>>;
    /// Newest first; every status when `status` is `None`.
    async fn list_messages(&self, status: Option<MessageStatus>, page: Page) -> StoreResult<Vec<OutboxMessage>>;
    /// An admin's resend: `failed → pending`, due at `now`, attempts back to 0, by one conditional
    /// write (with the `actor`'s audit row, when one is given, in the same transaction).
    /// `InvalidState` unless it failed; `NotFound` when there is none.
    async fn resend_message(&self, id: Uuid, now: DateTime<Utc>, actor: Option<&Actor>) -> StoreResult<OutboxMessage>;
    /// How many messages are pending (due or waiting for a retry, claimed or not) and how many
    /// failed, for the sender's depth gauges. One read per backend that touches only those
    /// messages, never the sent ones that pile up: SQL counts `GROUP BY status` from the status
    /// index; DynamoDB counts the claims' index partition `OUTBOX#pending` and the listing's
    /// `OUTBOX#failed` (`Select: COUNT`, as fresh as the indexes).
    async fn outbox_depth(&self) -> StoreResult<OutboxDepth>;
}

/// Outgoing webhooks: endpoints (admins), and their deliveries (the delivery job). Writing a
/// webhook event belongs to the change it reports, in its own transaction, beside the outbox
/// message it writes (`Payments`, `Holds`, `Catalog`) or in the door's admitting write
/// (`CheckIn`).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook(
        &self,
        webhook: &NewWebhook,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Webhook>;
    /// Oldest first.
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>>;
    /// Removes the endpoint; its deliveries are no longer made (nor listed). `NotFound` for none.
    async fn delete_webhook(&self, id: Uuid, actor: Option<&Actor>) -> StoreResult<()>;
    /// Fans out up to `limit` events not fanned out yet, oldest first: one pending delivery per
    /// endpoint subscribed to its type (due at `now`), then the event marked fanned out. Writing a
    /// delivery twice writes one (its id is `delivery_id(event, webhook)`; SQL's unique (event,
    /// webhook) too), so two jobs fanning out the same event at once make one delivery per
    /// endpoint. Returns how many events it fanned out.
    async fn fan_out_webhook_events(&self, limit: u32, now: DateTime<Utc>) -> StoreResult<u32>;
    /// Claims up to `limit` pending deliveries due by `now`, each by one conditional write that
    /// counts the attempt and leases it until `now + lease` (as `claim_messages` does), never one
    /// with an earlier pending delivery of the same subject (booking) to the same endpoint.
    async fn claim_deliveries(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records how attempt `attempt` ended, if that claim is still the delivery's latest:
    /// `true` when recorded.
    async fn settle_delivery(
        &self,
        id: Uuid,
        attempt: u32,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// An endpoint's deliveries, newest first. `NotFound` for no such endpoint.
    async fn list_deliveries(&self, webhook_id: Uuid, page: Page) -> StoreResult<Vec<WebhookDelivery>>;
    /// An admin's replay: a delivered or failed delivery back to `pending`, due at `now`,
    /// attempts from 0 (same payload and `id`). `InvalidState` while it is pending; `NotFound`
    /// when the endpoint has no such delivery.
    async fn replay_delivery(&self, webhook_id: Uuid, id: Uuid, now: DateTime<Utc>) -> StoreResult<WebhookDelivery>;
}

/// Promo and access codes (issue 21). Admins' changes write their audit row (`code.created`,
/// `code.updated`, `code.deleted`) in their own transaction, when an actor is given. A code's uses
/// are counted by `PaymentStore::confirm_payment` of a payment opened with it, in the confirm's
/// own write, conditioned on `uses < max_uses` and the account's `uses < max_uses_per_user`.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// `CodeTaken` when a live code has the name (a unique index or a conditional put decides).
    async fn create_code(&self, code: &NewCode, now: DateTime<Utc>) -> StoreResult<Code>;
    /// Live (not deleted) codes, oldest first.
    async fn list_codes(&self, page: Page) -> StoreResult<Vec<Code>>;
    /// A live code by id.
    async fn code(&self, id: Uuid) -> StoreResult<Option<Code>>;
    /// A live code by its (upper-cased) name.
    async fn code_by_name(&self, name: &str) -> StoreResult<Option<Code>>;
    /// Applies `changes` to the code as read under the change's lock (SQL) or conditioned on it
    /// (DynamoDB); `Rejected` when the result breaks a rule (`CodeChanges::apply`); `NotFound`.
    async fn update_code(&self, id: Uuid, changes: &CodeChanges, now: DateTime<Utc>) -> StoreResult<Code>;
    /// Deletes a live code (its name is free again; payments opened with it keep it and still
    /// count their use at confirm). `NotFound` when there is none.
    async fn delete_code(&self, id: Uuid, actor: Option<&Actor>, now: DateTime<Utc>) -> StoreResult<()>;
}

/// The outbox's depth: what waits for the sender, and what it gave up on (until an admin resends
/// it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxDepth {
    pub pending: u64,
    pub failed: u64,
}

/// A stored answer to a mutating request sent with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use of the key: go ahead, then `complete` or `release` it.
    Claimed,
    /// The key answered before: replay this.
    Replay { status: u16, body: String },
    /// The key is being answered right now by another request.
    InFlight,
    /// The key was used with a different request.
    Mismatch,
}

/// Idempotency records, per user and key, kept for a day.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn claim_idempotency_key(
        &self,
        user_id: Uuid,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyClaim>;
    async fn complete_idempotency_key(&self, user_id: Uuid, key: &str, status: u16, body: &str) -> StoreResult<()>;
    /// Forgets a claim whose request failed in a way worth retrying.
    async fn release_idempotency_key(&self, user_id: Uuid, key: &str) -> StoreResult<()>;
}

/// How long an idempotency record is honoured.
pub const IDEMPOTENCY_TTL_HOURS: i64 = 24;

/// One key's attempts in its current window, as a limit reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptCount {
    /// Attempts counted in the window, the one just counted included.
    pub attempts: i64,
    /// When the window ends (a new one starts with the next attempt after it).
    pub window_ends: DateTime<Utc>,
}

/// Attempt counters for rate limits, kept in the store so that every process on it (every Lambda
/// execution environment) shares one count. Each key counts in a fixed window that starts with
/// its first attempt after the previous window ended.
#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Counts one attempt against each key, atomically per key (an `INSERT … ON CONFLICT DO UPDATE`
    /// or an `UpdateItem ADD`, never a read then a write): a key whose window has ended starts a
    /// new one of `window` from `now`. Returns each key's count, in the order given. The keys are
    /// distinct.
    async fn count_attempts(
        &self,
        keys: &[String],
        window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptCount>>;
    /// Takes back one attempt counted in the window that ends at `window_ends` (an attempt that
    /// turned out not to count, such as a right password); nothing when that window is over.
    async fn uncount_attempt(&self, key: &str, window_ends: DateTime<Utc>) -> StoreResult<()>;
    /// Forgets counters whose window ended before `now`; returns how many.
    async fn forget_ended_windows(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// The waiting room's queue (issue 20), one per event with `queue` settings. Its state is the
/// store's, so every process and Lambda instance on the store shares one queue.
///
/// Promises, each kept by the store's own write (a unique index, a locked per-event state row,
/// a conditional write), never by a read then a write in Rust:
/// - one place per (event, account): joining again returns the same place;
/// - positions are a permutation: no two places of an event share one, and none is skipped: the
///   joiners before the opening get positions `1..=n` in the order of their draws (the
///   `QueueJoin::draw`, so arriving earlier gives no edge), given out once by the write that marks
///   the queue drawn; later joiners take the next position from the queue's counter, in order;
/// - never more than `max_active_buyers` active at once (admitted, session running, not finished):
///   the write that admits counts the active places (SQL: in the admitting statement, under the
///   queue's state row lock; DynamoDB: an atomic counter conditioned on `active < max`).
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// The account's place in the event's queue, joining it when it has none. Before the event's
    /// `on_sale_at` the place has no position (it gets one at the opening); at or after it, the
    /// queue is drawn first if it was not, then a new place takes the next position. The queue
    /// need not be enabled: the caller decides whether the event has a waiting room. `NotFound`
    /// for an unknown event.
    async fn join_queue(&self, join: &QueueJoin, now: DateTime<Utc>) -> StoreResult<QueuePlace>;
    /// The account's place, as stored. A read only: admission happens in `advance_queue(s)`, run
    /// by a pace task, never lazily here, because status polls are the waiting room's hottest
    /// request (every buyer, every few seconds, 20,000/s aimed for) and a poll that wrote would
    /// take the queue's lock (SQL) or its state item (DynamoDB) on each of them.
    async fn queue_place(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<QueuePlace>>;
    /// Lets the next places through, at the event's `admit_per_minute` pace (`QueuePace`) and while
    /// fewer than `max_active_buyers` are active; draws the queue first when it opened at `now`
    /// and was not drawn. Returns how many were admitted. Safe to run any number of times at once:
    /// each admission is decided by the store's write. Nothing for an event without an enabled
    /// queue, before its opening, or with nobody waiting.
    async fn advance_queue(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64>;
    /// `advance_queue` for every event whose queue is enabled and has opened by `now`: the pace
    /// task's one call (every second locally, on `job-expire-holds`'s schedule on Lambda).
    async fn advance_queues(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// The buyer is done (paid, or left the queue): the place stops counting as active, freeing
    /// its slot, and a place not yet admitted is passed over. `false` when it had no place or was
    /// already finished.
    async fn finish_queue_place(&self, event_id: Uuid, user_id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
    /// The event's queue at a glance at `now` (all zeros for an event nobody queued for): read
    /// only, for the organiser's page, so it counts the places rather than keeping counters.
    async fn queue_stats(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<QueueStats>;
}

/// The waiting lists of sold-out events (issue 20, `domain::waitlist`).
///
/// Promises, each kept by the store's own write:
/// - one entry per (event, account): joining again returns the same entry (a primary key or a
///   conditional put);
/// - offers are made in the transaction that frees the seats (`HoldStore::cancel_reservation`,
///   `cancel_booking`, `expire_lapsed_holds`), in the order of `domain::plan_offers`, each seat
///   held for its buyer through the same seat referee as any hold, so a seat is never offered to
///   two entries and an entry is offered seats once (its status moves from waiting to offered in
///   that transaction, conditioned on being waiting);
/// - an offer is a held booking whose hold ends `offer_minutes` after it was made; when it lapses
///   unpaid, the sweeper that frees its seats offers them to the next entries;
/// - an offer is of the event's first ticket type and takes one of its type slots per seat when it
///   has a quota, through the same referee as a hold (unique index or conditional put), so offers
///   never take the type past its quota; an offer that cannot have its slots is not made (the entry
///   keeps waiting), and the transaction freeing the seats goes through all the same.
#[async_trait]
pub trait WaitlistStore: Send + Sync {
    /// Puts the account on the event's waiting list, or answers the entry it already has there
    /// (`false`: not new). The caller decides whether the event is sold out; `NotFound` for an
    /// unknown event.
    async fn join_waitlist(&self, join: &WaitlistJoin, now: DateTime<Utc>) -> StoreResult<(WaitlistEntry, bool)>;
    /// The account's entry on the event's list, with the waiting entries ahead of it counted.
    async fn waitlist_entry(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<WaitlistEntry>>;
    /// Takes the account off the list; `false` when it had no entry. An offer already made stays
    /// the buyer's held booking (paid, canceled or lapsing as any other).
    async fn leave_waitlist(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<bool>;
}

/// Sales reports for organisers (issue 21). Read only; each report is one read of the store
/// (one SQL statement that counts with `GROUP BY`, driven by the event's indexes; on DynamoDB the
/// Queries of the event's own partitions), never every reservation loaded into the process.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// The event's seats by tier and status at `now` (a lapsed hold counts as available) and its
    /// tickets by tier, hour of issue and whether revoked, added up by `EventReport::from_counts`.
    /// `None` for an unknown event.
    async fn event_report(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<EventReport>>;
    /// The tickets issued in the window and those revoked in it, by event, UTC day and currency,
    /// each line with the event's name, added up by `SalesReport::from_counts`.
    async fn sales_report(&self, window: SalesWindow) -> StoreResult<SalesReport>;
}

/// The audit log (issue 21). Its rows are written by the audited changes themselves (an `Actor`
/// carried by the change, `domain::AuditRecord`), in their transaction; this only reads them.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Entries newest first (`at`, then id, descending), filtered and paged; every filter is
    /// answered from an index (SQL) or a key (DynamoDB), never by reading the whole log.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
}

/// The store's writes, by what they are for. A piece of code that writes through the store names
/// the ones it uses (each Lambda function: `proeventa_lambda::Group::store_writes`), and each kind
/// of stored item names the ones that write it (DynamoDB: `dynamodb::ITEM_KINDS`), so a deployment
/// can let each function write only the items its own code writes (`infra/template.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Writes {
    /// `UserStore` and `PasswordResetStore`: signing up, profile and admin changes, password resets.
    Accounts,
    /// `CatalogStore`: venues and events; canceling an event cancels its seats and refunds them.
    Catalog,
    /// `HoldStore` minus the sweep: holds, and cancels with the refunds they record.
    Holds,
    /// `HoldStore::expire_lapsed_holds`: writing down lapsed holds as expired.
    HoldSweeper,
    /// `PaymentStore`: checkout, confirm, failure, refunds and the provider's webhook events.
    Payments,
    /// `IdempotencyStore`: answers kept for an `Idempotency-Key`.
    Idempotency,
    /// `LimitStore`: rate-limit counters (password checks, signups, reserves, card tries).
    Limits,
    /// `TicketStore::check_in`: admitting tickets at the door (issuing them is `Payments`'s,
    /// revoking them the cancels': `Holds`, `Catalog`).
    CheckIn,
    /// `OutboxStore`: claiming and settling messages (the sender), resending (admins). Writing a
    /// message belongs to the change it reports (`Accounts`, `Payments`, `Holds`, `Catalog`).
    Messages,
    /// `QueueStore`: joining the waiting room, admitting (the pace), finishing a buyer's session.
    Queue,
    /// `QueueStore::finish_queue_place` alone: a sale ends the buyer's session in the waiting
    /// room (the payment's function).
    QueueFinish,
    /// The audit log's entries (issue 21): each written by an admin's change (of an account, a
    /// venue or event, an outbox message) in that change's own transaction.
    Audit,
    /// `WaitlistStore`: joining and leaving waiting lists. (Offers are written by the cancels and
    /// the sweep that free the seats: `Holds`, `HoldSweeper`.)
    Waitlist,
    /// `WebhookStore`'s admin side: registering and deleting endpoints, replaying a delivery.
    Webhooks,
    /// `CodeStore`: admins' promo and access codes (their uses are counted by `Payments`).
    Codes,
    /// `WebhookStore`'s delivery job: fanning events out into deliveries, claiming and settling
    /// them. Writing a webhook event belongs to the change it reports (`Payments`, `Holds`,
    /// `Catalog`, `CheckIn`).
    WebhookDeliveries,
}

/// One storage backend: every trait, plus health and schema.
#[async_trait]
pub trait Store:
    UserStore
    + PasswordResetStore
    + CatalogStore
    + HoldStore
    + PaymentStore
    + TicketStore
    + OutboxStore
    + IdempotencyStore
    + LimitStore
    + QueueStore
    + WaitlistStore
    + ReportStore
    + AuditStore
    + WebhookStore
    + CodeStore
{
    /// `sqlite`, `postgres` or `dynamodb`, as `/health` reports it.
    fn backend(&self) -> &'static str;
    /// Answers only while the store does.
    async fn ping(&self) -> StoreResult<()>;
    /// Applies the schema migrations that are missing.
    async fn migrate(&self) -> StoreResult<()>;
}

/// Opens the backend named by a `DATABASE_URL` with its default limits (see `connect_with`).
pub async fn connect(database_url: &str) -> StoreResult<Arc<dyn Store>> {
    connect_with(database_url, StoreSettings::default()).await
}

/// Opens the backend named by a `DATABASE_URL`; a backend this build leaves out is a
/// configuration error naming the cargo feature that brings it in.
#[cfg_attr(not(any(feature = "postgres", feature = "dynamodb")), allow(unused_variables))]
pub async fn connect_with(database_url: &str, settings: StoreSettings) -> StoreResult<Arc<dyn Store>> {
    match Backend::named_by(database_url)? {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => Ok(Arc::new(sqlite::SqliteStore::connect(database_url).await?)),
        #[cfg(feature = "postgres")]
        Backend::Postgres => Ok(Arc::new(postgres::PostgresStore::connect(database_url, settings).await?)),
        #[cfg(feature = "dynamodb")]
        Backend::DynamoDb => Ok(Arc::new(dynamodb::DynamoStore::connect(database_url, settings).await?)),
        #[cfg(not(all(feature = "sqlite", feature = "postgres", feature = "dynamodb")))]
        left_out => Err(left_out.not_in_this_build()),
    }
}

/// Limits of the store's connections, each `None` for the backend's own default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSettings {
    /// `DATABASE_MAX_CONNECTIONS`: the PostgreSQL pool's size.
    pub database_max_connections: Option<u32>,
    /// `DATABASE_IDLE_TIMEOUT_SECONDS`: how long a pooled PostgreSQL connection may stay unused
    /// before the pool closes it (Lambda's functions close theirs soon: see `lambda_config`).
    pub database_idle_timeout: Option<std::time::Duration>,
    /// `DYNAMODB_MAX_IN_FLIGHT`: DynamoDB calls one process has open at once.
    pub dynamodb_max_in_flight: Option<usize>,
    /// `DYNAMODB_CONSUMED_CAPACITY=1`: every DynamoDB request asks what it consumed and the
    /// answers are counted (`dynamodb::capacity`); off by default, when nothing is asked.
    pub dynamodb_consumed_capacity: bool,
}

/// A storage backend as a `DATABASE_URL` names it, whether or not this build has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
    DynamoDb,
}

impl Backend {
    const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::DynamoDb];

    fn named_by(database_url: &str) -> StoreResult<Backend> {
        Backend::ALL.into_iter().find(|b| b.url_prefixes().iter().any(|p| database_url.starts_with(p))).ok_or_else(
            || {
                StoreError::Internal(format!(
                    "unsupported DATABASE_URL scheme in `{}`; use {}",
                    database_url.split("://").next().unwrap_or(""),
                    Backend::usable_urls()
                ))
            },
        )
    }

    fn url_prefixes(self) -> &'static [&'static str] {
        match self {
            Backend::Sqlite => &["sqlite:"],
            Backend::Postgres => &["postgres:", "postgresql:"],
            Backend::DynamoDb => &["dynamodb:"],
        }
    }

    fn in_this_build(self) -> bool {
        match self {
            Backend::Sqlite => cfg!(feature = "sqlite"),
            Backend::Postgres => cfg!(feature = "postgres"),
            Backend::DynamoDb => cfg!(feature = "dynamodb"),
        }
    }

    /// What to use instead, for error messages: the `DATABASE_URL`s this build opens
    /// ("sqlite://FILE, postgres://... or dynamodb://TABLE" in a full build).
    fn usable_urls() -> String {
        let urls: Vec<&str> = Backend::ALL
            .into_iter()
            .filter(|b| b.in_this_build())
            .map(|b| match b {
                Backend::Sqlite => "sqlite://FILE",
                Backend::Postgres => "postgres://...",
                Backend::DynamoDb => "dynamodb://TABLE",
            })
            .collect();
        match urls.split_last() {
            None => "a build with a store backend (cargo feature `sqlite`, `postgres` or `dynamodb`)".into(),
            Some((last, [])) => (*last).into(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        }
    }

    #[cfg(not(all(feature = "sqlite", feature = "postgres", feature = "dynamodb")))]
    fn not_in_this_build(self) -> StoreError {
        let (name, feature) = match self {
            Backend::Sqlite => ("SQLite", "sqlite"),
            Backend::Postgres => ("PostgreSQL", "postgres"),
            Backend::DynamoDb => ("DynamoDB", "dynamodb"),
        };
        StoreError::Internal(format!(
            "this build has no {name} backend (cargo feature `{feature}`); use {}",
            Backend::usable_urls()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn refusal(database_url: &str) -> String {
        match connect(database_url).await {
            Ok(_) => panic!("{database_url} opened"),
            Err(err) => err.to_string(),
        }
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_refused_naming_what_this_build_opens() {
        let message = refusal("mysql://localhost/proeventa").await;
        assert!(message.contains("unsupported DATABASE_URL scheme in `mysql`"), "{message}");
        #[cfg(all(feature = "sqlite", feature = "postgres", feature = "dynamodb"))]
        assert!(message.ends_with("use sqlite://FILE, postgres://... or dynamodb://TABLE"), "{message}");
    }

    #[cfg(not(feature = "sqlite"))]
    #[tokio::test]
    async fn a_backend_left_out_of_the_build_is_named_with_its_feature() {
        let message = refusal("sqlite://proeventa.db").await;
        assert!(message.contains("this build has no SQLite backend (cargo feature `sqlite`)"), "{message}");
    }
}
