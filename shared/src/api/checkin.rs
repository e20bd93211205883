//! `/checkin/*`: the door. Staff (and admins) scan tickets online (`POST /checkin/scan`), read an
//! event's live counts, take an event's manifest to keep admitting with no network, and send the
//! scans made offline when it returns (`POST /checkin/sync`). The signing key's public half is
//! public (`GET /checkin/key`), so a gate verifies codes itself.
//!
//! A code is verified (its signature, its event) before the store is asked anything; the store
//! alone decides which scan of a ticket wins, by one conditional write (`TicketStore::check_in`),
//! and `Verdict::of` reads its outcome, so a scan sent twice is the same admission, not a second.

use axum::Extension;
use axum::extract::{DefaultBodyLimit, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Json, Path};
use crate::api::error::{AlreadyCheckedInBody, ApiError, ErrorBody};
use crate::api::extract::{BodyLimit, StaffUser};
use crate::api::state::AppState;
use crate::domain::{CheckinSummary, Gate, Invalid, Scan, Ticket, TicketStatus, Verdict};
use crate::store::StoreError;
use crate::tickets::PublicTicketKey;

/// At most this many scans in one `POST /checkin/sync`.
pub const MAX_SYNC_SCANS: usize = 500;
/// A full sync batch (500 scans of ~250 bytes each) is over the API's 64 KiB body limit: this
/// route alone takes up to 256 KiB.
pub const SYNC_BODY_LIMIT_BYTES: usize = 256 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sync))
        .layer(DefaultBodyLimit::max(SYNC_BODY_LIMIT_BYTES))
        .layer(Extension(BodyLimit(SYNC_BODY_LIMIT_BYTES)))
        .routes(routes!(public_key))
        .routes(routes!(scan))
        .routes(routes!(summary))
        .routes(routes!(manifest))
}

/// The public key ticket codes are verified with (no token needed: it is public).
#[utoipa::path(get, path = "/checkin/key", tag = "checkin",
    responses((status = 200, body = PublicTicketKey)))]
async fn public_key(State(state): State<AppState>) -> Json<PublicTicketKey> {
    Json(state.tickets.public_key())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScanRequest {
    /// The string the ticket's QR code carries.
    pub code: String,
    /// The event this door admits to: a ticket of another event is `wrong_event`.
    pub event_id: Option<Uuid>,
    /// The gate scanning (1 to 40 printable characters), `main` when none is given.
    #[schema(min_length = 1, max_length = 40)]
    pub gate: Option<String>,
}

/// 200 of a scan: let them in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Admitted {
    /// Always `admitted`.
    #[schema(example = "admitted")]
    pub status: String,
    pub ticket_id: Uuid,
    pub seat_label: String,
    pub holder_name: String,
}

/// What the door did with one scan, before it is said in HTTP (scan) or in a batch (sync).
#[derive(Debug)]
enum DoorAnswer {
    /// The store's verdict (boxed: a ticket is large next to the other answers).
    Checked(Box<Verdict>),
    /// The signature does not verify.
    InvalidTicket(String),
    /// A valid code of another event.
    WrongEvent { ticket_id: Uuid },
    /// A valid signature, but no such ticket in the store.
    NotFound { ticket_id: Uuid },
}

/// Verifies `code` (with no store read), then lets the store admit it with this scan's id, gate
/// and time. Only a store failure is an `Err`: everything about the code is an answer.
async fn admit(
    state: &AppState,
    code: &str,
    event_id: Option<Uuid>,
    id: Uuid,
    gate: Gate,
    at: DateTime<Utc>,
) -> Result<DoorAnswer, ApiError> {
    let claims = match state.tickets.verify(code) {
        Ok(claims) => claims,
        Err(invalid) => return Ok(DoorAnswer::InvalidTicket(invalid.to_string())),
    };
    if event_id.is_some_and(|event_id| event_id != claims.event_id) {
        return Ok(DoorAnswer::WrongEvent { ticket_id: claims.ticket_id });
    }
    let scan = Scan { id, ticket_id: claims.ticket_id, gate, at };
    match state.store.check_in(&scan).await {
        Ok(outcome) => Ok(DoorAnswer::Checked(Box::new(Verdict::of(&scan, outcome)))),
        Err(StoreError::NotFound(_)) => Ok(DoorAnswer::NotFound { ticket_id: claims.ticket_id }),
        Err(other) => Err(other.into()),
    }
}

fn wrong_event() -> ApiError {
    ApiError::WrongEvent("This ticket is for another event.".into())
}

/// Scans one ticket at a gate: the first scan of a valid ticket admits it, any later one is refused
/// with the winning scan's time and gate.
#[utoipa::path(post, path = "/checkin/scan", tag = "checkin", security(("bearer" = [])),
    request_body = ScanRequest,
    responses(
        (status = 200, description = "Admitted (also the answer to this same scan sent again)", body = Admitted),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 404, description = "`not_found`: a correctly signed code of a ticket that does not exist", body = ErrorBody),
        (status = 409, description = "`already_checked_in`: another scan admitted this ticket first; `checked_in_at` and `gate` say when and where", body = AlreadyCheckedInBody),
        (status = 410, description = "`ticket_revoked`: the seat was canceled or refunded", body = ErrorBody),
        (status = 422, description = "`invalid_ticket`: the code's signature does not verify (altered, another key, garbage); `wrong_event`: the ticket is for another event than `event_id`; `validation_failed`: a bad `gate`", body = ErrorBody),
    ))]
async fn scan(
    State(state): State<AppState>,
    _staff: StaffUser,
    Json(body): Json<ScanRequest>,
) -> Result<Json<Admitted>, ApiError> {
    let gate = Gate::parse(body.gate.as_deref())?;
    match admit(&state, &body.code, body.event_id, Uuid::new_v4(), gate, Utc::now()).await? {
        DoorAnswer::Checked(verdict) => match *verdict {
            Verdict::Admitted(ticket) => Ok(Json(Admitted {
                status: "admitted".into(),
                ticket_id: ticket.id,
                seat_label: ticket.seat.on_ticket(),
                holder_name: ticket.holder_name,
            })),
            Verdict::AlreadyCheckedIn(ticket) => Err(already_checked_in(&ticket)),
            Verdict::Revoked(ticket) => Err(ApiError::ticket_revoked(&ticket.seat)),
        },
        DoorAnswer::InvalidTicket(why) => Err(ApiError::InvalidTicket(why)),
        DoorAnswer::WrongEvent { .. } => Err(wrong_event()),
        DoorAnswer::NotFound { .. } => Err(ApiError::not_found("ticket")),
    }
}

/// The 409 of a ticket some other scan admitted (the store always records that scan).
fn already_checked_in(ticket: &Ticket) -> ApiError {
    match &ticket.admission {
        Some(admission) => ApiError::AlreadyCheckedIn { gate: admission.gate.clone(), at: admission.at },
        None => ApiError::Internal(format!("ticket {} is used with no admission", ticket.id)),
    }
}

async fn known_event(state: &AppState, event_id: Uuid) -> Result<(), ApiError> {
    match state.store.event(event_id, Utc::now()).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found("event")),
    }
}

/// The event's door counts, live: sold, admitted, still to come, revoked, admitted per gate.
#[utoipa::path(get, path = "/checkin/events/{event_id}/summary", tag = "checkin", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    responses(
        (status = 200, body = CheckinSummary),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown event", body = ErrorBody),
    ))]
async fn summary(
    State(state): State<AppState>,
    _staff: StaffUser,
    Path(event_id): Path<Uuid>,
) -> Result<Json<CheckinSummary>, ApiError> {
    known_event(&state, event_id).await?;
    let tallies = state.store.ticket_tallies(event_id).await?;
    Ok(Json(CheckinSummary::from_tallies(event_id, &tallies)))
}

/// What a gate needs to keep admitting with no network: every ticket that admits someone, the
/// revoked ones, and the key to verify codes with.
#[derive(Serialize, ToSchema)]
pub struct Manifest {
    pub event_id: Uuid,
    /// Epoch milliseconds of the latest issue or revocation among the event's tickets (0 with
    /// none): a gate holding this version holds the same valid and revoked sets.
    pub version: i64,
    pub generated_at: DateTime<Utc>,
    pub public_key: PublicTicketKey,
    /// The tickets that are `valid` or `used`, by id.
    pub tickets: Vec<ManifestTicket>,
    /// The ids of revoked tickets, sorted: a gate refuses them even with a good signature.
    pub revoked: Vec<Uuid>,
}

/// One ticket of a manifest. Kept small: a 20,000-ticket manifest is well under 1 MB gzipped.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ManifestTicket {
    pub id: Uuid,
    pub seat_label: String,
    pub holder_name: String,
    /// `valid` or `used`.
    pub status: TicketStatus,
    /// When it was admitted (`used` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admitted_at: Option<DateTime<Utc>>,
    /// Where it was admitted (`used` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
}

impl Manifest {
    /// The manifest of an event's tickets (any order, any status).
    pub fn of(event_id: Uuid, public_key: PublicTicketKey, tickets: Vec<Ticket>, now: DateTime<Utc>) -> Self {
        let version = tickets
            .iter()
            .flat_map(|t| std::iter::once(t.issued_at).chain(t.revoked_at))
            .max()
            .map_or(0, |at| at.timestamp_millis());
        let (revoked, admitting): (Vec<Ticket>, Vec<Ticket>) =
            tickets.into_iter().partition(|t| t.status == TicketStatus::Revoked);
        let mut revoked: Vec<Uuid> = revoked.into_iter().map(|t| t.id).collect();
        revoked.sort_unstable();
        let mut tickets: Vec<ManifestTicket> = admitting
            .into_iter()
            .map(|t| ManifestTicket {
                id: t.id,
                seat_label: t.seat.on_ticket(),
                holder_name: t.holder_name,
                status: t.status,
                admitted_at: t.admission.as_ref().map(|a| a.at),
                gate: t.admission.map(|a| a.gate),
            })
            .collect();
        tickets.sort_unstable_by_key(|t| t.id);
        Self { event_id, version, generated_at: now, public_key, tickets, revoked }
    }
}

/// The event's offline manifest.
#[utoipa::path(get, path = "/checkin/events/{event_id}/manifest", tag = "checkin", security(("bearer" = [])),
    params(("event_id" = Uuid, Path)),
    responses(
        (status = 200, body = Manifest),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown event", body = ErrorBody),
    ))]
async fn manifest(
    State(state): State<AppState>,
    _staff: StaffUser,
    Path(event_id): Path<Uuid>,
) -> Result<Json<Manifest>, ApiError> {
    known_event(&state, event_id).await?;
    let tickets = state.store.event_tickets(event_id).await?;
    Ok(Json(Manifest::of(event_id, state.tickets.public_key(), tickets, Utc::now())))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncRequest {
    /// The event the gate admitted to: a ticket of another is `wrong_event`.
    pub event_id: Uuid,
    /// The gate of every scan that names none (`main` when neither does).
    #[schema(min_length = 1, max_length = 40)]
    pub gate: Option<String>,
    /// 1 to 500 scans, answered in this order.
    #[schema(min_items = 1, max_items = 500)]
    pub scans: Vec<OfflineScan>,
}

/// A scan made offline, with the id and the time the gate gave it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OfflineScan {
    /// The gate's own id for this scan: sending it again changes nothing.
    pub scan_id: Uuid,
    pub code: String,
    /// The gate's clock at the scan.
    pub scanned_at: DateTime<Utc>,
    /// This scan's gate, over the batch's.
    #[schema(min_length = 1, max_length = 40)]
    pub gate: Option<String>,
}

/// What became of one offline scan.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncResult {
    pub scan_id: Uuid,
    /// `admitted`, `already_checked_in`, `ticket_revoked`, `invalid_ticket`, `wrong_event` or `not_found`.
    #[schema(example = "admitted")]
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<String>,
    /// For `admitted` and `already_checked_in`: when the winning scan was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_in_at: Option<DateTime<Utc>>,
    /// For `admitted` and `already_checked_in`: the winning scan's gate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncResponse {
    pub results: Vec<SyncResult>,
}

impl SyncResult {
    fn of(scan_id: Uuid, answer: DoorAnswer) -> Self {
        let bare = |status: &str, ticket_id: Option<Uuid>| Self {
            scan_id,
            status: status.into(),
            ticket_id,
            seat_label: None,
            holder_name: None,
            checked_in_at: None,
            gate: None,
        };
        let checked = |status: &str, ticket: Ticket| {
            let admission = ticket.admission.clone();
            Self {
                scan_id,
                status: status.into(),
                ticket_id: Some(ticket.id),
                seat_label: Some(ticket.seat.on_ticket()),
                holder_name: Some(ticket.holder_name),
                checked_in_at: admission.as_ref().map(|a| a.at),
                gate: admission.map(|a| a.gate),
            }
        };
        match answer {
            DoorAnswer::Checked(verdict) => match *verdict {
                Verdict::Admitted(ticket) => checked("admitted", ticket),
                Verdict::AlreadyCheckedIn(ticket) => checked("already_checked_in", ticket),
                Verdict::Revoked(ticket) => {
                    let mut result = checked("ticket_revoked", ticket);
                    (result.checked_in_at, result.gate) = (None, None);
                    result
                }
            },
            DoorAnswer::InvalidTicket(_) => bare("invalid_ticket", None),
            DoorAnswer::WrongEvent { ticket_id } => bare("wrong_event", Some(ticket_id)),
            DoorAnswer::NotFound { ticket_id } => bare("not_found", Some(ticket_id)),
        }
    }
}

/// Applies a gate's offline scans, each with its own id and time, and answers each in order. One
/// bad scan never fails the batch; sending the same batch again changes nothing and answers the same.
#[utoipa::path(post, path = "/checkin/sync", tag = "checkin", security(("bearer" = [])),
    request_body = SyncRequest,
    responses(
        (status = 200, body = SyncResponse),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 256 KiB", body = ErrorBody),
        (status = 422, description = "`validation_failed`: no scans or more than 500, or a bad `gate`", body = ErrorBody),
    ))]
async fn sync(
    State(state): State<AppState>,
    _staff: StaffUser,
    Json(body): Json<SyncRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    if body.scans.is_empty() || body.scans.len() > MAX_SYNC_SCANS {
        return Err(Invalid::new("scans", format!("must hold 1 to {MAX_SYNC_SCANS} scans")).into());
    }
    let batch_gate = body.gate.as_deref();
    // Every gate is read before any scan is applied: a bad one refuses the batch, changing nothing.
    let gates = body
        .scans
        .iter()
        .map(|scan| Gate::parse(scan.gate.as_deref().or(batch_gate)))
        .collect::<Result<Vec<Gate>, Invalid>>()?;
    let mut results = Vec::with_capacity(body.scans.len());
    for (scan, gate) in body.scans.iter().zip(gates) {
        let answer = admit(&state, &scan.code, Some(body.event_id), scan.scan_id, gate, scan.scanned_at).await?;
        results.push(SyncResult::of(scan.scan_id, answer));
    }
    Ok(Json(SyncResponse { results }))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::domain::{Admission, SeatLabel};
    use crate::tickets::TicketKeys;

    fn ticket(event_id: Uuid, i: u32, now: DateTime<Utc>) -> Ticket {
        let status = match i % 20 {
            0 => TicketStatus::Revoked,
            1..=6 => TicketStatus::Used,
            _ => TicketStatus::Valid,
        };
        let admission = (status == TicketStatus::Used).then(|| Admission {
            scan_id: Uuid::new_v4(),
            gate: Gate::parse(Some(["north", "south", "east"][i as usize % 3])).expect("a gate"),
            at: now,
        });
        Ticket {
            id: Uuid::new_v4(),
            booking_id: Uuid::new_v4(),
            reservation_id: Uuid::new_v4(),
            event_id,
            user_id: Uuid::new_v4(),
            seat_id: Uuid::new_v4(),
            seat: SeatLabel {
                section: None,
                row: format!("R{}", i / 100),
                seat_number: (i % 100) as i32 + 1,
                tier: "standard".into(),
            },
            price_cents: 4500,
            discount_cents: 0,
            currency: "EUR".into(),
            holder_name: format!("Holder Number{i} Surname"),
            status,
            issued_at: now - chrono::Duration::seconds(i64::from(i)),
            admission,
            revoked_at: (status == TicketStatus::Revoked).then_some(now),
        }
    }

    /// The issue's target: a 20,000-ticket manifest is under 1 MB gzipped (what a gate downloads).
    #[test]
    fn a_20000_ticket_manifest_is_under_one_megabyte_gzipped() {
        let now = Utc::now();
        let event_id = Uuid::new_v4();
        let tickets: Vec<Ticket> = (0..20_000).map(|i| ticket(event_id, i, now)).collect();
        let keys = TicketKeys::from_secret(&TicketKeys::generate_secret()).expect("a key");
        let manifest = Manifest::of(event_id, keys.public_key(), tickets, now);
        assert_eq!((manifest.tickets.len(), manifest.revoked.len()), (19_000, 1_000));
        assert_eq!(manifest.version, now.timestamp_millis());
        let json = serde_json::to_vec(&manifest).expect("the manifest serializes");
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&json).expect("gzip");
        let gzipped = gzip.finish().expect("gzip").len();
        eprintln!("20,000-ticket manifest: {} bytes of JSON, {gzipped} bytes gzipped", json.len());
        assert!(gzipped < 1_000_000, "{gzipped} bytes gzipped");
    }

    #[test]
    fn the_version_is_the_latest_issue_or_revocation() {
        let now = Utc::now();
        let event_id = Uuid::new_v4();
        let keys = TicketKeys::from_secret(&TicketKeys::generate_secret()).expect("a key");
        let empty = Manifest::of(event_id, keys.public_key(), Vec::new(), now);
        assert_eq!(empty.version, 0);
        let mut older = ticket(event_id, 7, now - chrono::Duration::hours(2));
        older.issued_at = now - chrono::Duration::hours(2);
        let base = Manifest::of(event_id, keys.public_key(), vec![older.clone()], now).version;
        assert_eq!(base, older.issued_at.timestamp_millis());
        older.status = TicketStatus::Revoked;
        older.revoked_at = Some(now);
        let revoked = Manifest::of(event_id, keys.public_key(), vec![older.clone()], now);
        assert_eq!(revoked.version, now.timestamp_millis());
        assert_eq!((revoked.tickets.len(), revoked.revoked), (0, vec![older.id]));
    }
}
