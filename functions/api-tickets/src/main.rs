//! `api-tickets`: a buyer's tickets (`/reservations/tickets/*` and
//! `/reservations/bookings/{booking_id}/tickets.pdf`: the codes, QR, PDF and calendar files) as an
//! AWS Lambda function behind API Gateway. Apart from `api-reservations`, so the hold path's
//! function does not carry the PDF, QR and calendar code. The state is built once per execution
//! environment; every request then goes through the same router `proeventa serve` runs.

use proeventa_lambda::{Group, run_http};

#[tokio::main]
async fn main() -> Result<(), proeventa_lambda::Error> {
    run_http(Group::Tickets).await
}
