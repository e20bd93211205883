//! Each outbox message as the mails it becomes, in English, read from the store at delivery:
//! the buyer's address and name, the event, the seats, the tickets (their PDFs, one `.ics`, the
//! QR codes inline), the refund with the card's last four digits. Never more card data than
//! those four digits, never password material: nothing here reads either. A reset mail carries
//! its one-time link (the token the message holds until it is settled), never a password or hash.
//!
//! Every mail's `Message-ID` is derived from the message's id (`<{id}@domain>`; a rescheduled
//! event's mails, one per booking, `<{id}.{booking id}@domain>`), so a second delivery of the
//! same message is recognisable as the same mail.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::Mailbox;
use uuid::Uuid;

use super::letter::{FileAttachment, InlineQr, Letter};
use crate::domain::{
    Booking, Event, MessageFacts, OutboxMessage, Page, Payment, RefundFacts, ReservationStatus, Ticket, TicketFilter,
    TicketStatus, User,
};
use crate::store::{Store, StoreError};
use crate::tickets::{
    PrintedTicket, TicketKeys, booking_reference, event_calendar, event_time, money, tickets_pdf, venue_line,
};

/// Why a message could not be rendered.
#[derive(Debug)]
pub enum Unrenderable {
    /// What it is about is gone (the account, the booking, the event): it never will be.
    Gone(String),
    /// The store did not answer: another attempt may.
    Store(StoreError),
}

impl From<StoreError> for Unrenderable {
    fn from(error: StoreError) -> Self {
        Unrenderable::Store(error)
    }
}

/// One mail of a message: the booking it is about (a rescheduled event's fan-out) and the MIME.
#[derive(Debug, Clone)]
pub struct Mail {
    pub booking_id: Option<Uuid>,
    pub message: Message,
}

/// Renders messages: what it reads them with, who they are from, where the site is.
#[derive(Clone)]
pub struct Renderer {
    store: Arc<dyn Store>,
    tickets: Arc<TicketKeys>,
    from: Mailbox,
    /// The `Message-ID`s' domain: the sender address's.
    domain: String,
    site_url: String,
}

impl Renderer {
    /// `from` is `MAIL_FROM` (`Name <address>` or an address).
    pub fn new(store: Arc<dyn Store>, tickets: Arc<TicketKeys>, from: &str, site_url: String) -> Result<Self, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("MAIL_FROM `{from}` is not an e-mail address: {e}"))?;
        let domain = from.email.domain().to_owned();
        Ok(Self { store, tickets, from, domain, site_url })
    }

    /// The mails `message` becomes at `now`: one, or for a rescheduled event one per booking
    /// holding valid tickets then (none when no one does).
    pub async fn render(&self, message: &OutboxMessage, now: DateTime<Utc>) -> Result<Vec<Mail>, Unrenderable> {
        let single = |user: &User, letter: Letter| -> Result<Vec<Mail>, Unrenderable> {
            Ok(vec![Mail { booking_id: None, message: self.message(user, letter, message.id.to_string())? }])
        };
        match &message.facts {
            MessageFacts::AccountCreated => {
                let user_id =
                    message.user_id.ok_or_else(|| Unrenderable::Gone("the message names no account".into()))?;
                let user = self.user(user_id).await?;
                let letter = self.welcome(&user);
                single(&user, letter)
            }
            MessageFacts::BookingConfirmed { booking_id, payment_id } => {
                let (booking, user, event) = self.booking_with_buyer(*booking_id, now).await?;
                let payment = self.payment(*payment_id).await?;
                let letter = self.confirmation(&booking, &user, &event, &payment).await?;
                single(&user, letter)
            }
            MessageFacts::SeatCanceled { booking_id, reservation_ids, refund } => {
                let (booking, user, event) = self.booking_with_buyer(*booking_id, now).await?;
                let seats: Vec<String> = booking
                    .reservations
                    .iter()
                    .filter(|r| reservation_ids.contains(&r.id))
                    .map(|r| r.seat.on_ticket())
                    .collect();
                let lines = vec![
                    format!(
                        "{} of your booking {} for {} on {} {} canceled: {}.",
                        plural(seats.len(), "seat"),
                        booking_reference(booking.id),
                        event.name,
                        event_time(&event),
                        if seats.len() == 1 { "is" } else { "are" },
                        seats.join(", ")
                    ),
                    self.refund_line(refund).await?,
                ];
                single(&user, self.booking_letter(&booking, &user, format!("Seats canceled: {}", event.name), lines))
            }
            MessageFacts::BookingCanceled { booking_id, refund } => {
                let (booking, user, event) = self.booking_with_buyer(*booking_id, now).await?;
                let lines = vec![
                    format!(
                        "Your booking {} for {} on {} is canceled.",
                        booking_reference(booking.id),
                        event.name,
                        event_time(&event)
                    ),
                    self.refund_line(refund).await?,
                ];
                single(&user, self.booking_letter(&booking, &user, format!("Booking canceled: {}", event.name), lines))
            }
            MessageFacts::PaymentRefunded { booking_id, refund } => {
                let (booking, user, event) = self.booking_with_buyer(*booking_id, now).await?;
                let lines = vec![
                    format!(
                        "Your payment for booking {} ({}) went through after its hold had lapsed, and its seats \
                         could no longer be kept. No tickets were issued.",
                        booking_reference(booking.id),
                        event.name
                    ),
                    self.refund_line(refund).await?,
                ];
                single(&user, self.booking_letter(&booking, &user, format!("Payment refunded: {}", event.name), lines))
            }
            MessageFacts::EventCanceled { event_id, booking_id, refund } => {
                let event = self.event(*event_id, now).await?;
                let (booking, user, _) = self.booking_with_buyer(*booking_id, now).await?;
                let lines = vec![
                    format!(
                        "We are sorry: {} on {} at {} is canceled, and your booking {} with it.",
                        event.name,
                        event_time(&event),
                        venue_line(&event),
                        booking_reference(booking.id)
                    ),
                    self.refund_line(refund).await?,
                ];
                single(&user, self.booking_letter(&booking, &user, format!("Event canceled: {}", event.name), lines))
            }
            MessageFacts::WaitlistOffered { booking_id } => {
                let (booking, user, event) = self.booking_with_buyer(*booking_id, now).await?;
                // An offer paid, lapsed or given up before its mail went out needs no mail.
                if booking.status != ReservationStatus::Held {
                    return Err(Unrenderable::Gone(format!("the offer {} is no longer held", booking.id)));
                }
                let seats: Vec<String> = booking.reservations.iter().map(|r| r.seat.on_ticket()).collect();
                let lines = vec![
                    format!(
                        "Seats you waited for are free: {} for {} on {} ({}), {}.",
                        plural(seats.len(), "seat"),
                        event.name,
                        event_time(&event),
                        seats.join(", "),
                        money(booking.total_cents, &booking.currency)
                    ),
                    format!(
                        "They are held for you until {} UTC. Pay before then to keep them; after that they go to \
                         the next person on the waiting list.",
                        booking.expires_at.format("%Y-%m-%d %H:%M")
                    ),
                ];
                let mut letter = self.booking_letter(&booking, &user, format!("Seats for you: {}", event.name), lines);
                letter.link = Some(("Pay now".into(), self.booking_url(booking.id)));
                single(&user, letter)
            }
            MessageFacts::EventRescheduled { event_id, previous_start, start } => {
                self.rescheduled(message.id, *event_id, *previous_start, *start, now).await
            }
            MessageFacts::PasswordReset { expires_at } => {
                let user_id =
                    message.user_id.ok_or_else(|| Unrenderable::Gone("the message names no account".into()))?;
                // The token lives only in the message's secret, which the store erases once the
                // message is settled: a resend of a failed reset mail has none (ask anew).
                let token = message.secret.as_ref().ok_or_else(|| {
                    Unrenderable::Gone(
                        "the reset link was erased when the message was settled; ask for a new one".into(),
                    )
                })?;
                if *expires_at <= now {
                    return Err(Unrenderable::Gone("the reset link expired before it could be sent".into()));
                }
                let user = self.user(user_id).await?;
                let letter = self.password_reset(&user, token.expose(), *expires_at - message.created_at);
                single(&user, letter)
            }
        }
    }

    fn message(&self, user: &User, letter: Letter, id: String) -> Result<Message, Unrenderable> {
        let to: Mailbox = user
            .email
            .parse()
            .map_err(|_| Unrenderable::Gone(format!("account {} has no usable e-mail address", user.id)))?;
        letter.into_message(&self.from, to, format!("<{id}@{}>", self.domain)).map_err(Unrenderable::Gone)
    }

    fn welcome(&self, user: &User) -> Letter {
        Letter {
            subject: "Welcome to ProEventa".into(),
            name: greeting_name(user),
            paragraphs: vec![format!(
                "Your ProEventa account {} is ready: browse movies, theatre and live events, hold the seats you \
                 want and pay for them within the hold's time. Your tickets will come by e-mail.",
                user.email
            )],
            qr_codes: Vec::new(),
            link: Some(("Find an event".into(), format!("{}/Home.html", self.site_url))),
            attachments: Vec::new(),
        }
    }

    /// The reset link: the token in the address's fragment (`#token=`), which browsers never send
    /// to a server, so it reaches no access log; nothing else of the account but its name.
    fn password_reset(&self, user: &User, token: &str, lifetime: chrono::Duration) -> Letter {
        let minutes = lifetime.num_minutes().max(1);
        Letter {
            subject: "Reset your ProEventa password".into(),
            name: greeting_name(user),
            paragraphs: vec![
                format!(
                    "Someone, hopefully you, asked to reset the password of your ProEventa account {}. Follow \
                     the link below to choose a new one. It works once, for {} minutes.",
                    user.email, minutes
                ),
                "Choosing a new password logs you out everywhere you were logged in. If you did not ask for \
                 this, ignore this mail: your password stays as it is."
                    .into(),
            ],
            qr_codes: Vec::new(),
            link: Some(("Choose a new password".into(), format!("{}/reset.html#token={token}", self.site_url))),
            attachments: Vec::new(),
        }
    }

    /// The confirmation: the seats and what was paid, each ticket's QR inline, each ticket's PDF
    /// and one calendar file attached.
    async fn confirmation(
        &self,
        booking: &Booking,
        user: &User,
        event: &Event,
        payment: &Payment,
    ) -> Result<Letter, Unrenderable> {
        let tickets = self.valid_tickets(booking.id).await?;
        if tickets.is_empty() {
            return Err(Unrenderable::Gone(format!(
                "booking {} holds no valid ticket any more (canceled since it was paid)",
                booking.id
            )));
        }
        let codes: Vec<String> = tickets.iter().map(|t| self.tickets.code(t)).collect();
        let mut attachments: Vec<FileAttachment> = tickets
            .iter()
            .zip(&codes)
            .map(|(ticket, code)| FileAttachment {
                name: format!("ticket-row-{}-seat-{}.pdf", ticket.seat.row, ticket.seat.seat_number),
                content_type: "application/pdf",
                bytes: tickets_pdf(&[PrintedTicket { ticket, code, event }]),
            })
            .collect();
        attachments.push(FileAttachment {
            name: "event.ics".into(),
            content_type: "text/calendar; charset=utf-8",
            bytes: event_calendar(event, &tickets).into_bytes(),
        });
        let seats: Vec<String> = tickets
            .iter()
            .map(|t| format!("{} ({}), {}", t.seat.on_ticket(), t.seat.tier, money(t.price_cents, &t.currency)))
            .collect();
        Ok(Letter {
            subject: format!("Your tickets for {}: booking {}", event.name, booking_reference(booking.id)),
            name: greeting_name(user),
            paragraphs: vec![
                format!(
                    "Thank you for booking {}: {} for {} at {}, {}.",
                    booking_reference(booking.id),
                    plural(tickets.len(), "ticket"),
                    event.name,
                    venue_line(event),
                    event_time(event)
                ),
                seats.join("; "),
                format!("Paid {} with {}.", money(payment.amount_cents, &payment.currency), card_words(payment)),
                "Your tickets are attached as PDF files, with a calendar entry for the event. Show each ticket's \
                 QR code at the door, printed or on your phone."
                    .into(),
            ],
            qr_codes: tickets
                .iter()
                .zip(codes)
                .map(|(ticket, code)| InlineQr { label: ticket.seat.on_ticket(), code })
                .collect(),
            link: Some(("Your booking".into(), self.booking_url(booking.id))),
            attachments,
        })
    }

    /// One mail per booking holding valid tickets of the event now, with the old and new time
    /// and the calendar file anew.
    async fn rescheduled(
        &self,
        message_id: Uuid,
        event_id: Uuid,
        previous_start: DateTime<Utc>,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Mail>, Unrenderable> {
        let event = self.event(event_id, now).await?;
        let mut bookings: BTreeMap<Uuid, Vec<Ticket>> = BTreeMap::new();
        for ticket in self.store.event_tickets(event_id).await? {
            if ticket.status == TicketStatus::Valid {
                bookings.entry(ticket.booking_id).or_default().push(ticket);
            }
        }
        let before = Event { start_time: previous_start, ..event.clone() };
        let after = Event { start_time: start, ..event.clone() };
        let mut mails = Vec::with_capacity(bookings.len());
        for (booking_id, tickets) in bookings {
            let Some(user) = self.store.user(tickets[0].user_id).await? else {
                tracing::warn!(%message_id, %booking_id, "rescheduled event: the booking's account is gone; no mail for it");
                continue;
            };
            let seats: Vec<String> = tickets.iter().map(|t| t.seat.on_ticket()).collect();
            let letter = Letter {
                subject: format!("New date: {}", event.name),
                name: greeting_name(&user),
                paragraphs: vec![
                    format!(
                        "{} at {} has moved from {} to {}.",
                        event.name,
                        venue_line(&event),
                        event_time(&before),
                        event_time(&after)
                    ),
                    format!(
                        "Your tickets of booking {} ({}) stay valid for the new date. The calendar entry attached \
                         replaces the old one.",
                        booking_reference(booking_id),
                        seats.join(", ")
                    ),
                ],
                qr_codes: Vec::new(),
                link: Some(("Your booking".into(), self.booking_url(booking_id))),
                attachments: vec![FileAttachment {
                    name: "event.ics".into(),
                    content_type: "text/calendar; charset=utf-8",
                    bytes: event_calendar(&after, &tickets).into_bytes(),
                }],
            };
            let message = self.message(&user, letter, format!("{message_id}.{booking_id}"))?;
            mails.push(Mail { booking_id: Some(booking_id), message });
        }
        Ok(mails)
    }

    fn booking_letter(&self, booking: &Booking, user: &User, subject: String, paragraphs: Vec<String>) -> Letter {
        Letter {
            subject,
            name: greeting_name(user),
            paragraphs,
            qr_codes: Vec::new(),
            link: Some(("Your booking".into(), self.booking_url(booking.id))),
            attachments: Vec::new(),
        }
    }

    /// "45.00 EUR is refunded to the card ending in 4242."
    async fn refund_line(&self, refund: &RefundFacts) -> Result<String, Unrenderable> {
        let payment = self.payment(refund.payment_id).await?;
        Ok(format!("{} is refunded to {}.", money(refund.amount_cents, &payment.currency), card_words(&payment)))
    }

    fn booking_url(&self, booking_id: Uuid) -> String {
        format!("{}/payment.html?booking={booking_id}", self.site_url)
    }

    async fn user(&self, id: Uuid) -> Result<User, Unrenderable> {
        self.store.user(id).await?.ok_or_else(|| Unrenderable::Gone(format!("account {id} no longer exists")))
    }

    async fn event(&self, id: Uuid, now: DateTime<Utc>) -> Result<Event, Unrenderable> {
        self.store.event(id, now).await?.ok_or_else(|| Unrenderable::Gone(format!("event {id} no longer exists")))
    }

    async fn payment(&self, id: Uuid) -> Result<Payment, Unrenderable> {
        self.store.payment(id).await?.ok_or_else(|| Unrenderable::Gone(format!("payment {id} no longer exists")))
    }

    /// The booking, its buyer's account and its event.
    async fn booking_with_buyer(&self, id: Uuid, now: DateTime<Utc>) -> Result<(Booking, User, Event), Unrenderable> {
        let booking = self
            .store
            .booking(id, now)
            .await?
            .ok_or_else(|| Unrenderable::Gone(format!("booking {id} no longer exists")))?;
        let user = self.user(booking.user_id).await?;
        let event = self.event(booking.event_id, now).await?;
        Ok((booking, user, event))
    }

    async fn valid_tickets(&self, booking_id: Uuid) -> Result<Vec<Ticket>, Unrenderable> {
        let page = Page { limit: Page::MAX_LIMIT, offset: 0 };
        let filter = TicketFilter { user_id: None, booking_id: Some(booking_id), page };
        let mut tickets: Vec<Ticket> =
            self.store.list_tickets(&filter).await?.into_iter().filter(|t| t.status == TicketStatus::Valid).collect();
        tickets.sort_by(|a, b| (&a.seat.row, a.seat.seat_number).cmp(&(&b.seat.row, b.seat.seat_number)));
        Ok(tickets)
    }
}

/// "the card ending in 4242", or "the card you paid with" when the provider gave no digits. The last four digits are the only card data ProEventa keeps.
fn card_words(payment: &Payment) -> String {
    match payment.card_last4.as_deref() {
        Some(last4) => format!("the card ending in {last4}"),
        None => "the card you paid with".into(),
    }
}

/// "Ann", or "there" for an account without a name ("Hello there,").
fn greeting_name(user: &User) -> String {
    match user.name.trim() {
        "" => "there".into(),
        name => name.to_owned(),
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}
