//! `api-queue`: ProEventa's `/queue/*` routes (the waiting room: joining an event's queue, polling
//! for the admission) as an AWS Lambda function behind API Gateway. The state is built once per
//! execution environment; every request then goes through the same router `proeventa serve` runs.

use proeventa_lambda::{Group, run_http};

#[tokio::main]
async fn main() -> Result<(), proeventa_lambda::Error> {
    run_http(Group::Queue).await
}
