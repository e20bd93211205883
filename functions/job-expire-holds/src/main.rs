//! `job-expire-holds`: ProEventa's hold sweeper as an AWS Lambda function on an EventBridge
//! schedule (every minute): marks every lapsed hold expired, once per event.

#[tokio::main]
async fn main() -> Result<(), proeventa_lambda::Error> {
    proeventa_lambda::run_expire_holds().await
}
