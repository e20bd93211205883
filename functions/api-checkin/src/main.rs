//! `api-checkin`: ProEventa's `/checkin/*` routes (the door: scans, counts, offline manifest and
//! sync) as an AWS Lambda function behind API Gateway. The state is built once per execution
//! environment; every request then goes through the same router `proeventa serve` runs.

use proeventa_lambda::{Group, run_http};

#[tokio::main]
async fn main() -> Result<(), proeventa_lambda::Error> {
    run_http(Group::Checkin).await
}
