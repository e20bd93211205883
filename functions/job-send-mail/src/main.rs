//! `job-send-mail`: ProEventa's outbox sender as an AWS Lambda function, woken by the DynamoDB
//! table's stream (outbox items only) and an EventBridge schedule (every minute): delivers every
//! due message through Amazon SES.

#[tokio::main]
async fn main() -> Result<(), proeventa_lambda::Error> {
    proeventa_lambda::run_send_mail().await
}
