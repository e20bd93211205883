//! `api-reservations`: ProEventa's `/reservations/*` routes (holds, reservations, bookings; a
//! buyer's tickets are `api-tickets`'s) as an AWS Lambda function behind API Gateway. The state
//! is built once per execution environment; every request then goes through the same router
//! `proeventa serve` runs.

use proeventa_lambda::{Group, run_http};

#[tokio::main]
async fn main() -> Result<(), proeventa_lambda::Error> {
    run_http(Group::Reservations).await
}
