//! Proves account recovery, `POST /auth/password-reset` and `/auth/password-reset/confirm`: one
//! answer whether an address has an account or not (or a disabled one), a mail only for an
//! enabled account, rate limits per address and per client, a token that works once and not after
//! it expires, a reset that ends every session issued before, the new password logging in and the
//! old one not. The token is read where the mail sender reads it: the outbox message's secret.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use proeventa_core::domain::{
    Email, MessageKind, MessageStatus, OutboxMessage, Page, ResetRequest, ResetToken, User, UserChanges,
};
use serde_json::json;

use crate::http::{PASSWORD, Resp, TestApp, assert_error, detail, json_request, parse};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn ask(app: &TestApp, email: &str) -> Resp {
    app.post("/auth/password-reset", json!({"email": email}), None).await
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> Resp {
    app.post("/auth/password-reset/confirm", json!({"token": token, "password": password}), None).await
}

/// The reset mails waiting in the outbox, oldest first.
async fn reset_mails(app: &TestApp) -> Vec<OutboxMessage> {
    let mut mails: Vec<OutboxMessage> = app
        .state
        .store
        .list_messages(Some(MessageStatus::Pending), Page { limit: 200, offset: 0 })
        .await
        .expect("the outbox")
        .into_iter()
        .filter(|m| m.facts.kind() == MessageKind::PasswordReset)
        .collect();
    mails.sort_by_key(|m| m.created_at);
    mails
}

/// The token of the newest reset mail to `user`, as the mail's link carries it.
async fn mailed_token(app: &TestApp, user: &User) -> String {
    let mail = reset_mails(app).await.into_iter().rev().find(|m| m.user_id == Some(user.id)).expect("a reset mail");
    mail.secret.expect("a pending reset mail holds its token").expose().to_owned()
}

fn login_status(resp: &Resp) -> StatusCode {
    resp.0
}

#[tokio::test]
async fn known_unknown_and_disabled_addresses_get_the_same_answer_and_only_the_known_one_a_mail() {
    let app = TestApp::new().await;
    let (ann, _) = app.customer("ann@example.com").await;
    let (bob, _) = app.customer("bob@example.com").await;
    let admin = app.admin().await;
    let resp = app.patch(&format!("/auth/users/{}", bob.id), json!({"disabled": true}), Some(&admin)).await;
    assert_eq!(resp.0, StatusCode::OK, "{:?}", resp.2);

    let known = ask(&app, " Ann@Example.com").await;
    let unknown = ask(&app, "nobody@example.com").await;
    let disabled = ask(&app, "bob@example.com").await;
    assert_eq!(known.0, StatusCode::ACCEPTED, "{:?}", known.2);
    for (answer, who) in [(&unknown, "unknown"), (&disabled, "disabled")] {
        assert_eq!((answer.0, &answer.2), (known.0, &known.2), "the {who} address is answered alike");
    }
    assert!(known.2["detail"].as_str().is_some_and(|d| d.starts_with("If an account exists")), "{:?}", known.2);

    let mails = reset_mails(&app).await;
    assert_eq!(mails.len(), 1, "one mail, to the enabled account: {mails:?}");
    assert_eq!(mails[0].user_id, Some(ann.id));

    // Not an address at all is the usual 422.
    assert_error(&ask(&app, "not an address").await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn a_reset_sets_the_new_password_ends_old_sessions_and_works_once() {
    let app = TestApp::new().await;
    let ann = app.signup("ann@example.com", PASSWORD).await;
    let session = app.login("ann@example.com", PASSWORD).await;
    assert_eq!(app.get("/auth/me", Some(&session)).await.0, StatusCode::OK);

    assert_eq!(ask(&app, "ann@example.com").await.0, StatusCode::ACCEPTED);
    let token = mailed_token(&app, &ann).await;
    let resp = confirm(&app, &token, NEW_PASSWORD).await;
    assert_eq!(resp.0, StatusCode::OK, "{:?}", resp.2);
    let user: User = parse(&resp.2);
    assert_eq!(user.id, ann.id);
    let text = resp.2.to_string().to_lowercase();
    assert!(!text.contains("argon2") && !text.contains("password"), "{text}");

    // The session from before the reset ends; the old password no longer logs in, the new one does.
    assert_error(&app.get("/auth/me", Some(&session)).await, StatusCode::UNAUTHORIZED, "unauthorized");
    let old = app.post("/auth/login", json!({"email": "ann@example.com", "password": PASSWORD}), None).await;
    assert_error(&old, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(login_status(&old), StatusCode::UNAUTHORIZED);
    let fresh = app.login("ann@example.com", NEW_PASSWORD).await;
    assert_eq!(app.get("/auth/me", Some(&fresh)).await.0, StatusCode::OK);

    // The same link again: refused, and it changes nothing.
    let again = confirm(&app, &token, "yet another passphrase").await;
    assert_error(&again, StatusCode::BAD_REQUEST, "invalid_token");
    assert_eq!(app.get("/auth/me", Some(&fresh)).await.0, StatusCode::OK, "a refused reset ends no session");
    app.login("ann@example.com", NEW_PASSWORD).await;

    // A made-up or mangled token gets the very same answer.
    for bogus in [ResetToken::generate().expose().to_owned(), format!("{token}x"), String::new(), "garbage".into()] {
        let resp = confirm(&app, &bogus, NEW_PASSWORD).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_token");
        assert_eq!(resp.2, again.2, "one answer for every bad token");
    }
    assert!(detail(&again).contains("Ask for a new one"), "{}", detail(&again));
}

#[tokio::test]
async fn an_expired_token_is_refused_and_the_password_stays() {
    let app = TestApp::new().await;
    let (ann, _) = app.customer("ann@example.com").await;
    // Issued 31 minutes ago for the default 30: as the endpoint would have then.
    let issued_at = Utc::now() - Duration::minutes(31);
    let token = ResetToken::generate();
    let request = ResetRequest {
        email: Email::parse("ann@example.com").expect("an address"),
        token: token.clone(),
        expires_at: issued_at + Duration::minutes(i64::from(app.state.config.password_reset.minutes())),
    };
    assert!(app.state.store.issue_password_reset(&request, issued_at).await.expect("issue"));
    assert_eq!(mailed_token(&app, &ann).await, token.expose());
    assert_error(&confirm(&app, token.expose(), NEW_PASSWORD).await, StatusCode::BAD_REQUEST, "invalid_token");
    app.login("ann@example.com", PASSWORD).await;
}

#[tokio::test]
async fn a_new_password_that_breaks_the_rules_is_422_and_leaves_the_token_usable() {
    let app = TestApp::new().await;
    let (ann, _) = app.customer("ann@example.com").await;
    ask(&app, "ann@example.com").await;
    let token = mailed_token(&app, &ann).await;
    assert_error(&confirm(&app, &token, "short").await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(confirm(&app, &token, NEW_PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_password_changed_since_ends_an_outstanding_link() {
    let app = TestApp::new().await;
    let (ann, session) = app.customer("ann@example.com").await;
    ask(&app, "ann@example.com").await;
    let first = mailed_token(&app, &ann).await;
    ask(&app, "ann@example.com").await;
    let second = mailed_token(&app, &ann).await;
    assert_ne!(first, second, "each request mails a token of its own");
    let resp =
        app.patch("/auth/me", json!({"password": NEW_PASSWORD, "current_password": PASSWORD}), Some(&session)).await;
    assert_eq!(resp.0, StatusCode::OK, "{:?}", resp.2);
    for token in [&first, &second] {
        assert_error(&confirm(&app, token, "someone else's pick").await, StatusCode::BAD_REQUEST, "invalid_token");
    }
    app.login("ann@example.com", NEW_PASSWORD).await;
    // A disabled account's link is refused too.
    ask(&app, "ann@example.com").await;
    let third = mailed_token(&app, &ann).await;
    let changes = UserChanges { disabled: Some(true), ..UserChanges::default() };
    app.state.store.update_user(ann.id, changes).await.expect("disable ann");
    assert_error(&confirm(&app, &third, "someone else's pick").await, StatusCode::BAD_REQUEST, "invalid_token");
}

fn from(path: &str, body: serde_json::Value, addr: &str) -> axum::http::Request<axum::body::Body> {
    let mut request = json_request(Method::POST, path, Some(body), None);
    let addr: SocketAddr = addr.parse().expect("an address");
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

#[tokio::test]
async fn requests_are_limited_per_address_alike_for_known_and_unknown_ones_and_per_client() {
    let app = TestApp::new().await;
    app.customer("ann@example.com").await;
    for email in ["ann@example.com", "nobody@example.com"] {
        for _ in 0..5 {
            assert_eq!(ask(&app, email).await.0, StatusCode::ACCEPTED);
        }
        let sixth = ask(&app, email).await;
        assert_error(&sixth, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        assert!(sixth.1.contains_key("retry-after"), "{:?}", sixth.1);
    }
    assert_eq!(reset_mails(&app).await.len(), 5, "no mail past the limit");

    // One client asking for many addresses is stopped at 20 an hour.
    for n in 0..20 {
        let resp = app
            .send(from("/auth/password-reset", json!({"email": format!("x{n}@example.com")}), "192.0.2.7:4000"))
            .await;
        assert_eq!(resp.0, StatusCode::ACCEPTED, "{n}: {:?}", resp.2);
    }
    let resp = app.send(from("/auth/password-reset", json!({"email": "x20@example.com"}), "192.0.2.7:4000")).await;
    assert_error(&resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited");

    // Confirms too: a burst of made-up tokens from one client gets 20 tries in 15 minutes.
    let bogus = json!({"token": ResetToken::generate().expose(), "password": NEW_PASSWORD});
    for _ in 0..20 {
        let resp = app.send(from("/auth/password-reset/confirm", bogus.clone(), "192.0.2.8:4000")).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_token");
    }
    let resp = app.send(from("/auth/password-reset/confirm", bogus, "192.0.2.8:4000")).await;
    assert_error(&resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}
