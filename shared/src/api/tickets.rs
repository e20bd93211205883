//! `/reservations/tickets/*`: a buyer's tickets (one per paid seat) and what they are shown as:
//! JSON with the signed code, the QR as SVG, the printable PDF and the calendar file; and
//! `/reservations/bookings/{booking_id}/tickets.pdf`, every ticket of a booking in one PDF.
//!
//! A ticket is seen by its buyer and by admins; anyone else is told there is no such ticket
//! (its id travels in every code, so its existence is not confirmed to strangers). A revoked
//! ticket still reads, with its status, but is no longer printed or drawn as a QR: 410.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Json, Path, Query};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::AuthUser;
use crate::api::state::AppState;
use crate::domain::{Event, Gate, Page, Ticket, TicketFilter, TicketStatus};
use crate::tickets::{PrintedTicket, event_calendar, qr_svg, tickets_pdf};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets))
        .routes(routes!(get_ticket))
        .routes(routes!(ticket_qr))
        .routes(routes!(ticket_pdf))
        .routes(routes!(ticket_calendar))
        .routes(routes!(booking_tickets_pdf))
}

/// A ticket as its buyer sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketView {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub reservation_id: Uuid,
    pub event_id: Uuid,
    pub seat_id: Uuid,
    /// The seat as printed on the ticket, e.g. `Row C · Seat 12`.
    pub seat_label: String,
    pub tier: String,
    pub price_cents: i64,
    pub currency: String,
    pub holder_name: String,
    pub status: TicketStatus,
    /// The exact string the ticket's QR code carries (signed; the door verifies it).
    pub code: String,
    pub issued_at: DateTime<Utc>,
    /// Where and when the ticket was admitted, once it is `used`.
    pub admission: Option<AdmissionView>,
}

/// The scan that admitted a ticket.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdmissionView {
    pub gate: Gate,
    pub at: DateTime<Utc>,
}

impl TicketView {
    fn of(state: &AppState, ticket: Ticket) -> Self {
        let code = state.tickets.code(&ticket);
        Self {
            id: ticket.id,
            booking_id: ticket.booking_id,
            reservation_id: ticket.reservation_id,
            event_id: ticket.event_id,
            seat_id: ticket.seat_id,
            seat_label: ticket.seat.on_ticket(),
            tier: ticket.seat.tier,
            price_cents: ticket.price_cents,
            currency: ticket.currency,
            holder_name: ticket.holder_name,
            status: ticket.status,
            code,
            issued_at: ticket.issued_at,
            admission: ticket.admission.map(|a| AdmissionView { gate: a.gate, at: a.at }),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// Only this booking's tickets.
    pub booking_id: Option<Uuid>,
    /// Admins: this user's tickets (a customer may only name themself).
    pub user_id: Option<Uuid>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// The caller's tickets, newest first; admins may name any user (`user_id`), or list a booking's
/// tickets whoever bought them (`booking_id` alone).
#[utoipa::path(get, path = "/reservations/tickets", tag = "tickets", security(("bearer" = [])),
    params(TicketQuery),
    responses(
        (status = 200, body = Vec<TicketView>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: a customer naming another user's `user_id`", body = ErrorBody),
    ))]
async fn list_tickets(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(query): Query<TicketQuery>,
) -> Result<Json<Vec<TicketView>>, ApiError> {
    let user_id = match query.user_id {
        Some(user_id) if !caller.may_act_for(user_id) => return Err(ApiError::forbidden()),
        Some(user_id) => Some(user_id),
        None if caller.is_admin() && query.booking_id.is_some() => None,
        None => Some(caller.0.id),
    };
    let filter = TicketFilter { user_id, booking_id: query.booking_id, page: Page::parse(query.limit, query.offset)? };
    let tickets = state.store.list_tickets(&filter).await?;
    Ok(Json(tickets.into_iter().map(|t| TicketView::of(&state, t)).collect()))
}

/// The ticket, if the caller may see it: its buyer or an admin; anyone else 404.
async fn visible_ticket(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<Ticket, ApiError> {
    match state.store.ticket(id).await? {
        Some(ticket) if caller.may_act_for(ticket.user_id) => Ok(ticket),
        _ => Err(ApiError::not_found("ticket")),
    }
}

/// 410 for a revoked ticket: it is not printed or drawn any more.
fn printable(ticket: Ticket) -> Result<Ticket, ApiError> {
    if ticket.status == TicketStatus::Revoked {
        return Err(ApiError::ticket_revoked(&ticket.seat));
    }
    Ok(ticket)
}

async fn event_of(state: &AppState, event_id: Uuid) -> Result<Event, ApiError> {
    state.store.event(event_id, Utc::now()).await?.ok_or_else(|| ApiError::not_found("event"))
}

/// A file answer with its content type (and, for downloads, a file name); the sales report's
/// CSV (`reports.rs`) too.
pub(super) fn file(content_type: &'static str, attachment: Option<String>, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(value) =
        attachment.and_then(|name| HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).ok())
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A short, readable form of an id for file names (its first eight hex digits).
fn short(id: Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

/// One ticket with its signed code (its buyer or an admin).
#[utoipa::path(get, path = "/reservations/tickets/{ticket_id}", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = Uuid, Path)),
    responses(
        (status = 200, body = TicketView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such ticket, or another customer's", body = ErrorBody),
    ))]
async fn get_ticket(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(ticket_id): Path<Uuid>,
) -> Result<Json<TicketView>, ApiError> {
    let ticket = visible_ticket(&state, &caller, ticket_id).await?;
    Ok(Json(TicketView::of(&state, ticket)))
}

/// The ticket's QR code as SVG (its buyer or an admin).
#[utoipa::path(get, path = "/reservations/tickets/{ticket_id}/qr.svg", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The QR code carrying the ticket's `code`", content_type = "image/svg+xml", body = String),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such ticket, or another customer's", body = ErrorBody),
        (status = 410, description = "`ticket_revoked`: the seat was canceled or refunded", body = ErrorBody),
    ))]
async fn ticket_qr(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(ticket_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let ticket = printable(visible_ticket(&state, &caller, ticket_id).await?)?;
    Ok(file("image/svg+xml", None, qr_svg(&state.tickets.code(&ticket))))
}

/// The ticket as a printable PDF page (its buyer or an admin).
#[utoipa::path(get, path = "/reservations/tickets/{ticket_id}/ticket.pdf", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = Uuid, Path)),
    responses(
        (status = 200, description = "One A4 page: event, time, venue, seat, price and the QR code", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such ticket, or another customer's", body = ErrorBody),
        (status = 410, description = "`ticket_revoked`: the seat was canceled or refunded", body = ErrorBody),
    ))]
async fn ticket_pdf(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(ticket_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let ticket = printable(visible_ticket(&state, &caller, ticket_id).await?)?;
    let event = event_of(&state, ticket.event_id).await?;
    let code = state.tickets.code(&ticket);
    let pdf = tickets_pdf(&[PrintedTicket { ticket: &ticket, code: &code, event: &event }]);
    Ok(file("application/pdf", Some(format!("ticket-{}.pdf", short(ticket.id))), pdf))
}

/// The ticket's event as an iCalendar file (its buyer or an admin).
#[utoipa::path(get, path = "/reservations/tickets/{ticket_id}/calendar.ics", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = Uuid, Path)),
    responses(
        (status = 200, description = "An RFC 5545 event at the venue", content_type = "text/calendar", body = String),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such ticket, or another customer's", body = ErrorBody),
    ))]
async fn ticket_calendar(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(ticket_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let ticket = visible_ticket(&state, &caller, ticket_id).await?;
    let event = event_of(&state, ticket.event_id).await?;
    let calendar = event_calendar(&event, std::slice::from_ref(&ticket));
    Ok(file("text/calendar; charset=utf-8", Some(format!("event-{}.ics", short(event.id))), calendar))
}

/// Every ticket of a booking that still admits someone, one PDF page each (its buyer or an admin).
#[utoipa::path(get, path = "/reservations/bookings/{booking_id}/tickets.pdf", tag = "tickets", security(("bearer" = [])),
    params(("booking_id" = Uuid, Path)),
    responses(
        (status = 200, description = "One A4 page per ticket of the booking", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such booking with tickets (unpaid, unknown, or another customer's)", body = ErrorBody),
        (status = 410, description = "`ticket_revoked`: every ticket of the booking was revoked", body = ErrorBody),
    ))]
async fn booking_tickets_pdf(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(booking_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    // A booking holds at most `SeatSelection`'s 10 seats: one page of the listing has them all.
    let filter = TicketFilter { user_id: None, booking_id: Some(booking_id), page: Page::default() };
    let mut tickets = state.store.list_tickets(&filter).await?;
    if tickets.is_empty() || !tickets.iter().all(|t| caller.may_act_for(t.user_id)) {
        return Err(ApiError::NotFound("No such booking with tickets.".into()));
    }
    tickets.retain(|t| t.status != TicketStatus::Revoked);
    let Some(first) = tickets.first() else {
        return Err(ApiError::TicketRevoked("Every ticket of this booking was revoked.".into()));
    };
    // Printed in seat order, as the store lists a booking's tickets issued together.
    let event = event_of(&state, first.event_id).await?;
    let codes: Vec<String> = tickets.iter().map(|t| state.tickets.code(t)).collect();
    let pages: Vec<PrintedTicket<'_>> =
        tickets.iter().zip(&codes).map(|(ticket, code)| PrintedTicket { ticket, code, event: &event }).collect();
    Ok(file("application/pdf", Some(format!("tickets-{}.pdf", short(booking_id))), tickets_pdf(&pages)))
}
