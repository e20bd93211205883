//! Mail, end to end: tickets bought through the API, the outbox drained by the sender into a
//! real SMTP server (aiosmtpd from the project venv, `tools/mail/smtp_sink.py`) on a free
//! loopback port, each mail read back with Python's `email` package (`tools/mail/read_mail.py`)
//! as a mail client would: its subject and recipient, each ticket's PDF rendered (pdftoppm) and
//! its QR decoded (zbarimg) to the ticket's code, the inline QR too, the `.ics` parsed. A server
//! that is down leaves the message pending with a retry; once it is back, the message is
//! delivered exactly once. No mail carries a card number or a password.
//!
//! Needs the project venv (`make venv`) and Debian's poppler-utils and zbar-tools
//! (`make render-tools`).

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::StatusCode;
use chrono::Utc;
use proeventa_core::config::MailUrl;
use proeventa_core::domain::{MessageKind, MessageStatus, Page, retry_delay};
use proeventa_core::mail::{Sender, sender_for};
use proeventa_testkit::smtp::{SmtpSink, free_port};
use serde_json::Value;
use uuid::Uuid;

use crate::http::{PASSWORD, TestApp, seat};

const CARD: &str = "4242 4242 4242 4242";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    let python = workspace().join(".venv/bin/python");
    assert!(python.is_file(), "{} is missing: run `make venv`", python.display());
    python
}

/// A folder of its own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("proeventa-{name}-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The mails received so far (the SMTP server's in arrival order).
fn received(folder: &Path) -> Vec<PathBuf> {
    let mut mails: Vec<PathBuf> = std::fs::read_dir(folder)
        .expect("the mail folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    mails.sort();
    mails
}

/// One mail as Python's `email` package reads it (`tools/mail/read_mail.py`).
fn read_mail(mail: &Path, out: &Path) -> Value {
    let output = Command::new(python())
        .arg(workspace().join("tools/mail/read_mail.py"))
        .arg(mail)
        .arg(out)
        .output()
        .expect("run read_mail.py");
    assert!(output.status.success(), "read_mail.py: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("read_mail.py prints JSON")
}

fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): `make render-tools`"));
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// The QR codes zbarimg reads in an image.
fn qr_codes(image: &Path) -> Vec<String> {
    let out = run("zbarimg", &["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", image.to_str().expect("a path")]);
    String::from_utf8(out).expect("text").lines().map(str::to_owned).collect()
}

/// The QR codes of a PDF's first page, rendered as a printer would.
fn pdf_qr_codes(pdf: &Path) -> Vec<String> {
    let prefix = pdf.with_extension("page");
    run("pdftoppm", &["-png", "-r", "150", "-f", "1", "-l", "1", pdf.to_str().unwrap(), prefix.to_str().unwrap()]);
    let page = std::fs::read_dir(pdf.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy().starts_with(&*prefix.to_string_lossy()) && p.extension().is_some_and(|e| e == "png")
        })
        .expect("pdftoppm rendered the page");
    qr_codes(&page)
}

/// An event with a small venue, a customer with a token, and the SQLite app behind them.
async fn shop() -> (TestApp, Uuid, Vec<Uuid>, String, String) {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (user, token) = app.customer("ann.buyer@example.com").await;
    let seats = vec![seat(&venue, "A1"), seat(&venue, "A2"), seat(&venue, "A3")];
    (app, event.id, seats, token, user.email)
}

fn sender_to(app: &TestApp, url: &MailUrl) -> impl std::future::Future<Output = Sender> {
    let (config, store, tickets) = (app.state.config.clone(), app.state.store.clone(), app.state.tickets.clone());
    let url = url.clone();
    async move { sender_for(&config, &url, store, tickets).await.expect("a sender").expect("a transport") }
}

#[tokio::test]
async fn a_paid_booking_is_mailed_with_its_tickets_and_a_server_that_is_down_gets_it_later_exactly_once() {
    let (app, event_id, seats, token, email) = shop().await;
    let folder = Scratch::new("smtp");
    let files = Scratch::new("mail-parts");
    let port = free_port();
    let sink = SmtpSink::start(port, &folder.0);
    let sender = sender_to(&app, &MailUrl::Smtp { host: "127.0.0.1".into(), port }).await;

    let booking = app.paid_booking(&token, event_id, &seats[..2]).await;
    let drained = sender.drain().await.expect("a drain");
    assert_eq!(drained.failed, 0, "{drained}");
    assert!(drained.sent >= 2, "the accounts' welcomes and the confirmation: {drained}");

    // The confirmation, as a mail client reads it.
    let mails: Vec<Value> =
        received(&folder.0).iter().map(|m| read_mail(m, &files.0.join(m.file_stem().unwrap()))).collect();
    let confirmations: Vec<&Value> =
        mails.iter().filter(|m| m["subject"].as_str().unwrap_or("").starts_with("Your tickets")).collect();
    assert_eq!(confirmations.len(), 1, "one confirmation: {mails:?}");
    let mail = confirmations[0];
    assert_eq!(mail["to"], email.as_str());
    assert_eq!(mail["content_type"], "multipart/mixed");
    let message = app
        .state
        .store
        .list_messages(Some(MessageStatus::Sent), Page { limit: 200, offset: 0 })
        .await
        .expect("the outbox")
        .into_iter()
        .find(|m| m.facts.kind() == MessageKind::BookingConfirmed)
        .expect("the confirmation's message, sent");
    assert_eq!(mail["message_id"], format!("<{}@proeventa.localhost>", message.id));
    let text = mail["text"].as_str().expect("a text body");
    assert!(text.contains(&format!("/payment.html?booking={}", booking.id)), "a link to the booking: {text}");
    assert!(text.contains("ending in 4242"), "the card's last four digits: {text}");

    let (status, _, tickets) = app.get(&format!("/reservations/tickets?booking_id={}", booking.id), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let mut codes: Vec<String> =
        tickets.as_array().unwrap().iter().map(|t| t["code"].as_str().unwrap().to_owned()).collect();
    codes.sort();
    let files_of = |content_type: &str| -> Vec<Value> {
        mail["files"].as_array().unwrap().iter().filter(|f| f["content_type"] == content_type).cloned().collect()
    };
    let mut from_pdfs: Vec<String> =
        files_of("application/pdf").iter().flat_map(|f| pdf_qr_codes(Path::new(f["path"].as_str().unwrap()))).collect();
    from_pdfs.sort();
    assert_eq!(from_pdfs, codes, "each ticket's PDF, its QR decoding to its code");
    let mut inline: Vec<String> = files_of("image/png")
        .iter()
        .inspect(|f| assert_eq!(f["disposition"], "inline", "{f}"))
        .flat_map(|f| qr_codes(Path::new(f["path"].as_str().unwrap())))
        .collect();
    inline.sort();
    assert_eq!(inline, codes, "each ticket's QR inline");
    let html = mail["html"].as_str().expect("an HTML body");
    for png in files_of("image/png") {
        assert!(html.contains(&format!("cid:{}", png["content_id"].as_str().unwrap())), "{html}");
    }
    assert_eq!(files_of("text/calendar").len(), 1, "one .ics");
    assert_eq!(
        mail["calendars"][0]["summary"],
        app.state.store.event(event_id, Utc::now()).await.unwrap().unwrap().name
    );

    // The server goes away: the next confirmation waits, pending, with a retry scheduled.
    sink.stop();
    let second = app.paid_booking(&token, event_id, &seats[2..]).await;
    let before = received(&folder.0).len();
    let drained = sender.drain().await.expect("a drain");
    assert_eq!((drained.sent, drained.retrying), (0, 1), "{drained}");
    let pending = app
        .state
        .store
        .list_messages(Some(MessageStatus::Pending), Page { limit: 200, offset: 0 })
        .await
        .expect("the outbox");
    let waiting = pending
        .iter()
        .find(|m| matches!(&m.facts, proeventa_core::domain::MessageFacts::BookingConfirmed { booking_id, .. } if *booking_id == second.id))
        .expect("the second confirmation, pending");
    assert_eq!(waiting.attempts, 1);
    assert!(waiting.last_error.as_deref().is_some_and(|e| e.contains("SMTP")), "{waiting:?}");
    assert!(waiting.next_attempt_at > Utc::now(), "a retry scheduled: {waiting:?}");

    // Back up: once the retry is due, delivered exactly once, however often the sender passes.
    let _sink = SmtpSink::start(port, &folder.0);
    let due = Utc::now() + retry_delay(1) + chrono::Duration::seconds(1);
    let pass = sender.pass(due).await.expect("a pass");
    assert_eq!((pass.sent, pass.mails), (1, 1), "{pass}");
    assert_eq!(sender.pass(due).await.expect("a pass").claimed, 0, "nothing left to send");
    assert_eq!(sender.drain().await.expect("a drain").claimed, 0, "nothing left to send");
    let new: Vec<PathBuf> = received(&folder.0).into_iter().skip(before).collect();
    assert_eq!(new.len(), 1, "exactly one mail: {new:?}");
    let mail = read_mail(&new[0], &files.0.join("second"));
    assert!(mail["text"].as_str().unwrap().contains(&second.id.to_string()), "{mail}");
    assert_eq!(app.state.store.message(waiting.id).await.unwrap().unwrap().status, MessageStatus::Sent);

    // No mail carries a card number or a password, raw or decoded.
    for path in received(&folder.0) {
        let raw = std::fs::read_to_string(&path).unwrap();
        let decoded = read_mail(&path, &files.0.join("check"));
        let digits = CARD.replace(' ', "");
        for text in [raw.as_str(), decoded["text"].as_str().unwrap_or(""), decoded["html"].as_str().unwrap_or("")] {
            assert!(!text.contains(CARD) && !text.contains(&digits), "a card number in {}", path.display());
            assert!(!text.contains(PASSWORD), "a password in {}", path.display());
        }
    }
}

#[tokio::test]
async fn the_file_transport_writes_each_mail_as_an_eml_file() {
    let app = TestApp::new().await;
    let (user, _) = app.customer("eve.files@example.com").await;
    let folder = Scratch::new("eml");
    let sender = sender_to(&app, &MailUrl::File(folder.0.clone())).await;
    let drained = sender.drain().await.expect("a drain");
    assert_eq!((drained.sent, drained.failed), (1, 0), "the welcome: {drained}");
    let files = received(&folder.0);
    assert_eq!(files.len(), 1, "{files:?}");
    let mail = read_mail(&files[0], &folder.0.join("parts"));
    assert_eq!(mail["subject"], "Welcome to ProEventa");
    assert_eq!(mail["to"], user.email.as_str());
    assert!(mail["html"].as_str().unwrap().contains("Welcome") || mail["text"].as_str().unwrap().contains("ready"));
}

#[tokio::test]
async fn a_message_whose_account_is_gone_fails_with_a_reason_and_the_sender_goes_on() {
    let app = TestApp::new().await;
    let (user, _) = app.customer("gone@example.com").await;
    let folder = Scratch::new("gone");
    let sender = sender_to(&app, &MailUrl::File(folder.0.clone())).await;
    // Delete the account behind the welcome, as an operator might.
    let db = app.database_path();
    // One connection: the pragma is per connection (its messages still name it).
    let mut db: sqlx::SqliteConnection =
        sqlx::Connection::connect(&format!("sqlite://{}", db.display())).await.expect("the database");
    sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut db).await.unwrap();
    sqlx::query("DELETE FROM users WHERE id = ?").bind(user.id.to_string()).execute(&mut db).await.unwrap();
    let drained = sender.drain().await.expect("a drain, not a crash");
    assert_eq!((drained.sent, drained.failed), (0, 1), "{drained}");
    let failed = app
        .state
        .store
        .list_messages(Some(MessageStatus::Failed), Page { limit: 50, offset: 0 })
        .await
        .expect("the outbox");
    assert_eq!(failed.len(), 1);
    assert!(failed[0].last_error.as_deref().is_some_and(|e| e.contains("no longer exists")), "{failed:?}");
    assert_eq!(sender.drain().await.expect("a drain").claimed, 0, "a failed message is not retried");
}

/// An account's welcome on `store`: claimed, rendered, written as an `.eml` and settled `sent`,
/// once.
async fn a_welcome_is_delivered_once_from(store: std::sync::Arc<dyn proeventa_core::store::Store>) {
    use proeventa_core::auth::hash_password;
    use proeventa_core::domain::{Email, NewUser, Password, Role};
    use proeventa_core::tickets::TicketKeys;

    store.migrate().await.expect("migrations");
    let password = Password::parse(PASSWORD.into()).expect("a password");
    let user = store
        .create_user(NewUser {
            email: Email::parse("pat.backend@example.com").expect("an address"),
            name: "Pat".into(),
            password_hash: hash_password(&password).await.expect("a hash"),
            role: Role::Customer,
        })
        .await
        .expect("an account");
    let folder = Scratch::new(&format!("eml-{}", store.backend()));
    let config = proeventa_core::config::Config::from_lookup(|_| None).expect("a configuration");
    let tickets = std::sync::Arc::new(TicketKeys::from_secret(&TicketKeys::generate_secret()).expect("a key"));
    let sender = sender_for(&config, &MailUrl::File(folder.0.clone()), store.clone(), tickets)
        .await
        .expect("a sender")
        .expect("a transport");
    let drained = sender.drain().await.expect("a drain");
    assert_eq!((drained.sent, drained.failed), (1, 0), "{}: {drained}", store.backend());
    assert_eq!(sender.drain().await.expect("a drain").claimed, 0, "sent once");
    let files = received(&folder.0);
    assert_eq!(files.len(), 1, "{files:?}");
    let mail = read_mail(&files[0], &folder.0.join("parts"));
    assert_eq!(mail["subject"].as_str(), Some("Welcome to ProEventa"));
    assert_eq!(mail["to"].as_str(), Some(user.email.as_str()));
    assert!(mail["text"].as_str().unwrap().starts_with("Hello Pat,"), "{mail}");
}

#[tokio::test]
async fn the_sender_delivers_from_postgresql_too() {
    let database = proeventa_testkit::TempPostgres::create("proeventa_mail").await;
    let store = proeventa_core::store::connect(database.url()).await.expect("the PostgreSQL store");
    a_welcome_is_delivered_once_from(store).await;
}

#[tokio::test]
async fn the_sender_delivers_from_dynamodb_too() {
    use proeventa_core::store::dynamodb::DynamoStore;
    let table = proeventa_testkit::TempDynamoTable::new("proeventa_mail");
    a_welcome_is_delivered_once_from(std::sync::Arc::new(DynamoStore::connect_with(table.endpoint(), table.name())))
        .await;
}

/// The notices after a purchase, each read back: a canceled seat with its refund and the card's
/// last four digits, the event moved (old and new time, one mail per booking holding valid
/// tickets, a fresh `.ics`), the event canceled with the refund of what was left.
#[tokio::test]
async fn cancels_refunds_and_a_new_date_are_each_mailed() {
    use proeventa_core::domain::Event;
    use proeventa_core::tickets::{event_time, money};

    let (app, event_id, seats, token, email) = shop().await;
    let admin = app.login("admin@example.com", PASSWORD).await;
    let folder = Scratch::new("notices");
    let sender = sender_to(&app, &MailUrl::File(folder.0.clone())).await;
    let booking = app.paid_booking(&token, event_id, &seats[..2]).await;
    sender.drain().await.expect("a drain");
    // The file transport names files at random: what came before is told apart by name.
    let seen = received(&folder.0);
    let event: Event = app.state.store.event(event_id, Utc::now()).await.unwrap().unwrap();
    let first = &booking.reservations[0];

    let (status, _, body) = app.delete(&format!("/reservations/reservations/{}", first.id), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let moved_to = event.start_time + chrono::Duration::days(7);
    let (status, _, body) = app
        .patch(
            &format!("/events/events/{event_id}"),
            serde_json::json!({"start_time": moved_to.to_rfc3339()}),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let drained = sender.drain().await.expect("a drain");
    assert_eq!((drained.sent, drained.mails, drained.failed), (2, 2, 0), "{drained}");
    let (status, _, body) = app.delete(&format!("/events/events/{event_id}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(sender.drain().await.expect("a drain").sent, 1);

    let mails: Vec<Value> = received(&folder.0)
        .iter()
        .filter(|m| !seen.contains(m))
        .map(|m| read_mail(m, &folder.0.join(format!("parts-{}", m.file_stem().unwrap().to_string_lossy()))))
        .collect();
    assert_eq!(mails.len(), 3, "the seat canceled, the new date, the event canceled: {mails:?}");
    let by_subject = |subject: String| -> &Value {
        mails.iter().find(|m| m["subject"] == subject.as_str()).unwrap_or_else(|| panic!("no `{subject}` in {mails:?}"))
    };
    let canceled = by_subject(format!("Seats canceled: {}", event.name));
    let text = canceled["text"].as_str().unwrap();
    assert_eq!(canceled["to"], email.as_str());
    assert!(text.contains(&first.seat.on_ticket()), "{text}");
    let refund = money(first.price_cents, &first.currency);
    assert!(text.contains(&format!("{refund} is refunded to the card ending in 4242")), "{text}");

    let moved = by_subject(format!("New date: {}", event.name));
    let text = moved["text"].as_str().unwrap();
    let after = Event { start_time: moved_to, ..event.clone() };
    assert!(text.contains(&format!("from {} to {}", event_time(&event), event_time(&after))), "{text}");
    let ics_start = moved["calendars"][0]["start"].as_str().expect("a calendar file");
    assert_eq!(chrono::DateTime::parse_from_rfc3339(ics_start).unwrap(), moved_to);

    let gone = by_subject(format!("Event canceled: {}", event.name));
    let text = gone["text"].as_str().unwrap();
    let left = money(booking.reservations[1].price_cents, &booking.reservations[1].currency);
    assert!(text.contains(&format!("{left} is refunded to the card ending in 4242")), "{text}");
    assert!(text.contains(&booking.id.to_string()), "a link to the booking: {text}");
}

/// The reset link in a mail's text: the site's `reset.html` with the token in the fragment.
fn reset_link(text: &str) -> Option<String> {
    let start = text.find("http")?;
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    link.contains("/reset.html#token=").then_some(link)
}

/// A reset asked for through the API arrives over SMTP, read back as a mail client reads it: to
/// the account, with a link to the site's reset page carrying a token that works (once), and no
/// password material. Once sent, the outbox no longer holds the token.
#[tokio::test]
async fn a_password_reset_mail_arrives_with_a_working_link_and_no_password_material() {
    let app = TestApp::new().await;
    let (user, session) = app.customer("rita.reset@example.com").await;
    let folder = Scratch::new("smtp-reset");
    let files = Scratch::new("reset-parts");
    let port = free_port();
    let sink = SmtpSink::start(port, &folder.0);
    let sender = sender_to(&app, &MailUrl::Smtp { host: "127.0.0.1".into(), port }).await;

    let resp = app.post("/auth/password-reset", serde_json::json!({"email": "Rita.Reset@example.com"}), None).await;
    assert_eq!(resp.0, StatusCode::ACCEPTED, "{:?}", resp.2);
    let drained = sender.drain().await.expect("a drain");
    assert_eq!((drained.sent, drained.failed), (2, 0), "the welcome and the reset: {drained}");
    sink.stop();

    let resets: Vec<(PathBuf, Value)> = received(&folder.0)
        .into_iter()
        .map(|m| {
            let mail = read_mail(&m, &files.0.join(m.file_stem().unwrap()));
            (m, mail)
        })
        .filter(|(_, mail)| mail["subject"] == "Reset your ProEventa password")
        .collect();
    assert_eq!(resets.len(), 1, "one reset mail");
    let (path, mail) = &resets[0];
    assert_eq!(mail["to"], user.email.as_str());
    let text = mail["text"].as_str().expect("a text body");
    let html = mail["html"].as_str().expect("an HTML body");
    let link = reset_link(text).unwrap_or_else(|| panic!("a reset link in the text: {text}"));
    assert!(link.starts_with(&format!("{}/reset.html#token=", app.state.config.site_url())), "{link}");
    assert!(html.contains(&link), "the HTML links to the same page: {html}");
    assert!(text.contains("30 minutes"), "the mail says how long the link works: {text}");
    let raw = std::fs::read_to_string(path).expect("the mail file");
    for material in [PASSWORD, "$argon2", "password_hash"] {
        assert!(!raw.contains(material) && !text.contains(material), "`{material}` in the reset mail");
    }

    // Sent: the outbox keeps no token any more.
    let message = app
        .state
        .store
        .list_messages(Some(MessageStatus::Sent), Page { limit: 200, offset: 0 })
        .await
        .expect("the outbox")
        .into_iter()
        .find(|m| m.facts.kind() == MessageKind::PasswordReset)
        .expect("the reset mail's message, sent");
    assert_eq!(message.secret, None, "the token is erased once the mail is sent");

    // The link works: the page's token sets a new password, once, and the old session ends.
    let token = link.split("#token=").nth(1).expect("a token");
    let new_password = "a brand new passphrase";
    let body = serde_json::json!({"token": token, "password": new_password});
    let resp = app.post("/auth/password-reset/confirm", body.clone(), None).await;
    assert_eq!(resp.0, StatusCode::OK, "{:?}", resp.2);
    assert_eq!(app.get("/auth/me", Some(&session)).await.0, StatusCode::UNAUTHORIZED);
    app.login(&user.email, new_password).await;
    assert_eq!(app.post("/auth/password-reset/confirm", body, None).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_waiting_list_offer_is_mailed_with_its_deadline_and_the_way_to_pay() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.venue_with_rows(&admin, &[("A", 1, "standard")]).await;
    let event = app.event(&admin, &venue).await;
    let (_, ann) = app.customer("ann.holder@example.com").await;
    let (bob, bob_token) = app.customer("bob.waiting@example.com").await;
    let resp = app.reserve(&ann, event.id, venue.seats[0].id).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let path = format!("/events/events/{}/waitlist", event.id);
    let joined = app.post(&path, serde_json::json!({"seats": 1}), Some(&bob_token)).await;
    assert_eq!(joined.0, StatusCode::CREATED, "{}", joined.2);
    let folder = Scratch::new("offer");
    let sender = sender_to(&app, &MailUrl::File(folder.0.clone())).await;
    sender.drain().await.expect("a drain");
    let seen = received(&folder.0);

    let held = resp.2["id"].as_str().expect("a reservation id").to_owned();
    let (status, _, body) = app.delete(&format!("/reservations/reservations/{held}"), Some(&ann)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let offer = app.get(&path, Some(&bob_token)).await.2["offer"].clone();
    let booking_id = offer["booking_id"].as_str().expect("an offer").to_owned();
    let drained = sender.drain().await.expect("a drain");
    assert_eq!((drained.sent, drained.failed), (1, 0), "the offer's mail: {drained}");
    let new: Vec<PathBuf> = received(&folder.0).into_iter().filter(|m| !seen.contains(m)).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let mail = read_mail(&new[0], &folder.0.join("parts-offer"));
    assert_eq!(mail["subject"], format!("Seats for you: {}", event.name).as_str());
    assert_eq!(mail["to"], bob.email.as_str());
    let text = mail["text"].as_str().expect("a text part");
    assert!(text.contains("Row A · Seat 1"), "{text}");
    let until: chrono::DateTime<Utc> = serde_json::from_value(offer["expires_at"].clone()).expect("a time");
    assert!(text.contains(&until.format("%Y-%m-%d %H:%M").to_string()), "the deadline: {text}");
    assert!(text.contains(&format!("payment.html?booking={booking_id}")), "the way to pay: {text}");
}
