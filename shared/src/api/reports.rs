//! `/admin/reports/*`: sales for the organiser (issue 21): an event's report (sold, held,
//! available, revenue, refunds, by type, by tier, per hour) and its orders as CSV. Admins only.

use axum::extract::State;
use axum::response::Response;
use chrono::{SecondsFormat, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use serde::Deserialize;
use utoipa::IntoParams;

use super::catalog::parse_time_bound;
use super::{Json, Path, Query};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::AdminUser;
use crate::api::state::AppState;
use crate::domain::{EventReport, SalesReport, SalesWindow, Ticket};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(event_report)).routes(routes!(event_orders_csv)).routes(routes!(sales_report))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SalesQuery {
    /// Sales at or after this time (RFC 3339; a date alone is its start, UTC). Default: 30 days before `to`.
    #[param(example = "2026-12-01")]
    pub from: Option<String>,
    /// Sales at or before this time (RFC 3339; a date alone is its end, UTC). Default: now.
    #[param(example = "2026-12-31")]
    pub to: Option<String>,
}

/// Sales across events between two times (admin): the tickets sold and those refunded in the
/// window, per currency, per event and per UTC day. Counted by the store in one read.
#[utoipa::path(get, path = "/admin/reports/sales", tag = "admin", security(("bearer" = [])), params(SalesQuery),
    responses(
        (status = 200, body = SalesReport),
        (status = 400, description = "`invalid_request`: a time that is neither RFC 3339 nor a date", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `from` after `to`, or a window over 400 days", body = ErrorBody),
    ))]
async fn sales_report(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<SalesQuery>,
) -> Result<Json<SalesReport>, ApiError> {
    let from = query.from.as_deref().map(|raw| parse_time_bound(raw, "from", false)).transpose()?;
    let to = query.to.as_deref().map(|raw| parse_time_bound(raw, "to", true)).transpose()?;
    let window = SalesWindow::parse(from, to, Utc::now())?;
    Ok(Json(state.store.sales_report(window).await?))
}

/// An event's sales at a glance (admin): seats sold, held and available, revenue and refunds, by
/// ticket type (one, `standard`, until ticket types exist), by tier, and tickets sold per hour.
/// Counted by the store in one read.
#[utoipa::path(get, path = "/admin/reports/events/{event_id}", tag = "admin", security(("bearer" = [])),
    params(("event_id" = Uuid, Path, description = "The event's id")),
    responses(
        (status = 200, body = EventReport),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown event", body = ErrorBody),
    ))]
async fn event_report(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(event_id): Path<Uuid>,
) -> Result<Json<EventReport>, ApiError> {
    match state.store.event_report(event_id, Utc::now()).await? {
        Some(report) => Ok(Json(report)),
        None => Err(ApiError::not_found("event")),
    }
}

/// The columns of the orders CSV, in order.
pub const ORDERS_CSV_HEADER: &str =
    "booking_id,ticket_id,issued_at,row,seat,tier,price_cents,discount_cents,currency,holder_name,status,revoked_at";

/// An event's orders as CSV (admin): one line per seat sold, a booking's seats together, oldest
/// first; canceled seats stay, `revoked`. No card data or account secrets: the ticket's holder
/// name is the one personal field.
#[utoipa::path(get, path = "/admin/reports/events/{event_id}/orders.csv", tag = "admin", security(("bearer" = [])),
    params(("event_id" = Uuid, Path, description = "The event's id")),
    responses(
        (status = 200, description = "RFC 4180 CSV with a header line: booking_id, ticket_id, issued_at, row, seat, \
            tier, price_cents, discount_cents (the seat's share of a code's discount: paid = price_cents - discount_cents), \
            currency, holder_name, status (valid, used, revoked), revoked_at", content_type = "text/csv", body = String),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown event", body = ErrorBody),
    ))]
async fn event_orders_csv(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(event_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    if state.store.event(event_id, Utc::now()).await?.is_none() {
        return Err(ApiError::not_found("event"));
    }
    let tickets = state.store.event_tickets(event_id).await?;
    let name = format!("orders-{}.csv", &event_id.simple().to_string()[..8]);
    Ok(super::tickets::file("text/csv; charset=utf-8", Some(name), orders_csv(tickets)))
}

/// The tickets as CSV lines (CRLF-ended, RFC 4180), sorted by issue time, booking, row and seat.
pub fn orders_csv(mut tickets: Vec<Ticket>) -> String {
    tickets.sort_by(|a, b| {
        (a.issued_at, a.booking_id, &a.seat.row, a.seat.seat_number).cmp(&(
            b.issued_at,
            b.booking_id,
            &b.seat.row,
            b.seat.seat_number,
        ))
    });
    let mut csv = String::with_capacity(64 + tickets.len() * 160);
    csv.push_str(ORDERS_CSV_HEADER);
    csv.push_str("\r\n");
    for ticket in &tickets {
        let fields = [
            ticket.booking_id.to_string(),
            ticket.id.to_string(),
            ticket.issued_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            csv_field(&ticket.seat.row),
            ticket.seat.seat_number.to_string(),
            csv_field(&ticket.seat.tier),
            ticket.price_cents.to_string(),
            ticket.discount_cents.to_string(),
            csv_field(&ticket.currency),
            csv_field(&ticket.holder_name),
            ticket.status.as_str().to_owned(),
            ticket.revoked_at.map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default(),
        ];
        csv.push_str(&fields.join(","));
        csv.push_str("\r\n");
    }
    csv
}

/// One text field: quoted (its quotes doubled) when it holds a comma, a quote or a line break; and
/// one that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return) is prefixed with `'`, so a holder's name is only ever shown.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_with_a_comma_a_quote_or_a_line_break_is_quoted_with_its_quotes_doubled() {
        assert_eq!(csv_field("Ann"), "Ann");
        assert_eq!(csv_field("Smith, Ann"), "\"Smith, Ann\"");
        assert_eq!(csv_field("Ann \"the fan\""), "\"Ann \"\"the fan\"\"\"");
        assert_eq!(csv_field("Ann\nBob"), "\"Ann\nBob\"");
    }

    #[test]
    fn a_field_a_spreadsheet_would_run_as_a_formula_is_prefixed_so_it_is_shown() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("@me"), "'@me");
    }
}
