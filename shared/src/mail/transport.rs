//! How a rendered mail leaves, as `MAIL_URL` chooses: SMTP (STARTTLS whenever the server offers
//! it), Amazon SES v2 (the raw MIME, so attachments go through), one `.eml` file per mail in a
//! folder, or nowhere. Each failure is classified once, here: worth retrying (the server
//! unreachable or busy, a 4xx answer, throttling) or not (a 5xx refusal, SES rejecting the
//! message).

use std::time::Duration;

use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailUrl;

/// How long one SMTP conversation may take before it counts as a failure worth retrying.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a mail did not leave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: unreachable, timed out, a 4xx answer, throttled.
    #[error("{0}")]
    Transient(String),
    /// Refused for good (a 5xx answer for the recipient, SES `MessageRejected`): retrying would
    /// be refused the same way.
    #[error("{0}")]
    Permanent(String),
}

/// Where mail goes.
#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    #[cfg(feature = "ses")]
    Ses(aws_sdk_sesv2::Client),
    File(AsyncFileTransport<Tokio1Executor>),
    /// `MAIL_URL=none`: no sender runs, messages wait in the outbox.
    None,
}

impl Transport {
    /// The transport `url` names; a `file://` folder is made when missing.
    pub async fn open(url: &MailUrl) -> Result<Self, String> {
        match url {
            MailUrl::Smtp { host, port } => {
                let tls =
                    TlsParameters::new(host.clone()).map_err(|e| format!("MAIL_URL: TLS settings for {host}: {e}"))?;
                // "Dangerous" only in that lettre does not insist on TLS: STARTTLS is used
                // whenever the server offers it (a local test server offers none).
                let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
                    .port(*port)
                    .tls(Tls::Opportunistic(tls))
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Ok(Transport::Smtp(smtp))
            }
            #[cfg(feature = "ses")]
            MailUrl::Ses => {
                // Boxed, as the send below: the SDK's futures are deep types that would otherwise
                // nest into every caller's (past the compiler's query depth in a Lambda main).
                let config = Box::pin(aws_config::load_defaults(aws_config::BehaviorVersion::latest())).await;
                Ok(Transport::Ses(aws_sdk_sesv2::Client::new(&config)))
            }
            #[cfg(not(feature = "ses"))]
            MailUrl::Ses => Err("MAIL_URL: this build has no SES transport (cargo feature `ses`)".into()),
            MailUrl::File(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("MAIL_URL: cannot make {}: {e}", dir.display()))?;
                Ok(Transport::File(AsyncFileTransport::new(dir)))
            }
            MailUrl::None => Ok(Transport::None),
        }
    }

    /// Hands one mail over. `None` drops nothing: it is never asked (no sender runs).
    pub async fn send(&self, mail: &Message) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => smtp.send(mail.clone()).await.map(drop).map_err(|e| smtp_error(&e)),
            #[cfg(feature = "ses")]
            Transport::Ses(client) => Box::pin(ses::send(client, mail)).await,
            Transport::File(files) => files
                .send(mail.clone())
                .await
                .map(drop)
                .map_err(|e| SendError::Transient(format!("cannot write the mail file: {e}"))),
            Transport::None => Err(SendError::Transient("MAIL_URL is none: no transport to send with".into())),
        }
    }
}

/// A 5xx answer is for good; anything else (no connection, a timeout, a 4xx, TLS trouble) may
/// pass another time.
fn smtp_error(error: &lettre::transport::smtp::Error) -> SendError {
    let text = match error.status() {
        Some(code) => format!("SMTP server answered {code}: {error}"),
        None => format!("SMTP: {error}"),
    };
    if error.is_permanent() { SendError::Permanent(text) } else { SendError::Transient(text) }
}

#[cfg(feature = "ses")]
mod ses {
    use aws_sdk_sesv2::error::SdkError;
    use aws_sdk_sesv2::operation::send_email::SendEmailError;
    use aws_sdk_sesv2::primitives::Blob;
    use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
    use lettre::Message;

    use super::SendError;

    /// Sends the whole MIME message as SES's raw content (the only kind that carries
    /// attachments), to the envelope's recipients.
    pub(super) async fn send(client: &aws_sdk_sesv2::Client, mail: &Message) -> Result<(), SendError> {
        let raw = RawMessage::builder()
            .data(Blob::new(mail.formatted()))
            .build()
            .map_err(|e| SendError::Permanent(format!("SES raw message: {e}")))?;
        let to: Vec<String> = mail.envelope().to().iter().map(ToString::to_string).collect();
        let from = mail.envelope().from().map(ToString::to_string);
        client
            .send_email()
            .set_from_email_address(from)
            .destination(Destination::builder().set_to_addresses(Some(to)).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e))
    }

    /// `MessageRejected` and a bad request are for good; throttling, a paused account, a
    /// network failure pass another time.
    fn classify<R: std::fmt::Debug>(error: &SdkError<SendEmailError, R>) -> SendError {
        match error.as_service_error() {
            Some(e @ (SendEmailError::MessageRejected(_) | SendEmailError::BadRequestException(_))) => {
                SendError::Permanent(format!("SES refused the message: {e}"))
            }
            Some(e) => SendError::Transient(format!("SES: {e}")),
            None => SendError::Transient(format!("SES unreachable: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_smtp_server_is_worth_retrying() {
        // A port just freed: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let transport = Transport::open(&MailUrl::Smtp { host: "127.0.0.1".into(), port }).await.unwrap();
        let mail = Message::builder()
            .from("ProEventa <tickets@proeventa.localhost>".parse().unwrap())
            .to("ann@example.com".parse().unwrap())
            .subject("test")
            .body(String::from("test"))
            .unwrap();
        assert!(matches!(transport.send(&mail).await, Err(SendError::Transient(_))));
    }

    #[tokio::test]
    async fn the_file_transport_writes_one_eml_per_mail() {
        let dir = std::env::temp_dir().join(format!("proeventa-mail-{}", uuid::Uuid::new_v4().simple()));
        let transport = Transport::open(&MailUrl::File(dir.clone())).await.unwrap();
        let mail = Message::builder()
            .from("ProEventa <tickets@proeventa.localhost>".parse().unwrap())
            .to("ann@example.com".parse().unwrap())
            .subject("Welcome")
            .body(String::from("hello"))
            .unwrap();
        transport.send(&mail).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
        assert!(std::fs::read_to_string(&files[0]).unwrap().contains("Subject: Welcome"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
