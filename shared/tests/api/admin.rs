//! `/admin/*`: the outbox as admins see it. `GET /admin/messages` lists messages newest first,
//! filtered by status and paged like every list; `POST /admin/messages/{id}/resend` puts a failed
//! message back to pending (409 for any other, 404 for none). Access for every caller is in
//! `authz_matrix`.

use axum::http::StatusCode;
use chrono::Utc;
use proeventa_core::domain::{CLAIM_LEASE, MessageKind, MessageStatus, OutboxMessage, Settlement};
use serde_json::json;
use uuid::Uuid;

use crate::http::{TestApp, assert_error, parse};

/// Three accounts (three welcome messages); the first one's welcome given up on.
async fn outbox_with_one_failed(app: &TestApp) -> Uuid {
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        app.customer(email).await;
    }
    let now = Utc::now();
    let claimed = app.state.store.claim_messages(1, CLAIM_LEASE, now).await.expect("a claim");
    let failed = Settlement::Failed { reason: "550 5.1.1 no such mailbox".into() };
    assert!(app.state.store.settle_message(claimed[0].id, claimed[0].attempts, &failed, now).await.unwrap());
    claimed[0].id
}

#[tokio::test]
async fn admins_list_failed_messages_with_their_reason() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let failed_id = outbox_with_one_failed(&app).await;

    let (status, _, body) = app.get("/admin/messages?status=failed", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let failed: Vec<OutboxMessage> = parse(&body);
    assert_eq!(failed.len(), 1, "{body}");
    assert_eq!((failed[0].id, failed[0].status), (failed_id, MessageStatus::Failed));
    assert_eq!(failed[0].facts.kind(), MessageKind::AccountCreated);
    assert_eq!(failed[0].last_error.as_deref(), Some("550 5.1.1 no such mailbox"));

    // Every status, newest first, paged.
    let (_, _, body) = app.get("/admin/messages", Some(&admin)).await;
    let all: Vec<OutboxMessage> = parse(&body);
    assert_eq!(all.len(), 4, "three welcomes and the admin's own: {body}");
    assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at), "newest first: {body}");
    let (_, _, body) = app.get("/admin/messages?limit=2&offset=3", Some(&admin)).await;
    assert_eq!(parse::<Vec<OutboxMessage>>(&body).len(), 1, "{body}");

    assert_error(
        &app.get("/admin/messages?status=lost", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_error(
        &app.get("/admin/messages?limit=0", Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
}

#[tokio::test]
async fn a_resend_makes_a_failed_message_pending_and_refuses_any_other() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let failed_id = outbox_with_one_failed(&app).await;

    let (status, _, body) = app.post(&format!("/admin/messages/{failed_id}/resend"), json!({}), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resent: OutboxMessage = parse(&body);
    assert_eq!((resent.id, resent.status, resent.attempts), (failed_id, MessageStatus::Pending, 0));
    assert!(resent.next_attempt_at <= Utc::now(), "due at once: {body}");

    // Pending now (and a sent or never-failed one alike): nothing to resend.
    let again = app.post(&format!("/admin/messages/{failed_id}/resend"), json!({}), Some(&admin)).await;
    assert_error(&again, StatusCode::CONFLICT, "invalid_state");
    let unknown = app.post(&format!("/admin/messages/{}/resend", Uuid::new_v4()), json!({}), Some(&admin)).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    let customer = app.customer("d@example.com").await.1;
    let refused = app.post(&format!("/admin/messages/{failed_id}/resend"), json!({}), Some(&customer)).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
}
