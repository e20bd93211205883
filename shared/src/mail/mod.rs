//! Mail: delivering the outbox (`crate::domain::message`). The sender (`sender`) claims due
//! messages from the store, renders each into the mails people read (`render`, `letter`:
//! multipart text and HTML, the QR inline as PNG, tickets' PDFs and a calendar file attached)
//! and hands them to the transport `MAIL_URL` names (`transport`: SMTP, SES, `.eml` files).
//!
//! A cargo feature (`mail`, and `ses` for Amazon SES): only what sends mail carries it
//! (`proeventa`, job-send-mail), not the API's Lambda functions.

mod letter;
mod render;
mod sender;
mod transport;

use std::sync::Arc;

pub use letter::qr_png;
pub use render::{Mail, Renderer, Unrenderable};
pub use sender::{CLAIM_BATCH, Drained, Sender};
pub use transport::{SendError, Transport};

use crate::config::{Config, MailUrl};
use crate::store::Store;
use crate::tickets::TicketKeys;

/// The sender for `mail_url` (`MAIL_URL`, or the caller's default), or `None` when it is `none`:
/// then no mail leaves and messages wait in the outbox.
pub async fn sender_for(
    config: &Config,
    mail_url: &MailUrl,
    store: Arc<dyn Store>,
    tickets: Arc<TicketKeys>,
) -> Result<Option<Sender>, String> {
    if *mail_url == MailUrl::None {
        return Ok(None);
    }
    let renderer = Renderer::new(store.clone(), tickets, &config.mail_from, config.site_url())?;
    let transport = Transport::open(mail_url).await?;
    Ok(Some(Sender::new(store, renderer, transport)))
}
