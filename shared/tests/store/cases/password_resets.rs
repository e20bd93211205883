//! Password resets: a reset is issued only for an enabled account, with its mail in the outbox in
//! the same transaction (holding the plain token until the message is settled, while the store
//! keeps only a digest); a token works once, before it expires, while the account's password has
//! not changed since; of concurrent confirms of one token exactly one wins.

use proeventa_core::domain::{MessageFacts, MessageKind, OutboxMessage, ResetRequest, ResetToken, Settlement};

use super::*;

fn reset_request(handle: &str, expires_at: DateTime<Utc>) -> ResetRequest {
    ResetRequest {
        email: Email::parse(&format!("{handle}@example.com")).expect("an address"),
        token: ResetToken::generate(),
        expires_at,
    }
}

/// The password reset mails in the outbox, oldest first.
async fn reset_mails(store: &S) -> Vec<OutboxMessage> {
    let mut mails: Vec<OutboxMessage> = store
        .list_messages(None, page(Page::MAX_LIMIT, 0))
        .await
        .unwrap_or_else(|e| panic!("list messages: {e}"))
        .into_iter()
        .filter(|m| m.facts.kind() == MessageKind::PasswordReset)
        .collect();
    mails.sort_by_key(|m| m.created_at);
    mails
}

async fn password_hash_of(store: &S, user: &User) -> String {
    store.password_hash(user.id).await.expect("read the hash").expect("the account exists")
}

pub async fn a_reset_writes_its_mail_with_the_token_and_keeps_only_a_digest(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let now = Utc::now();
    let request = reset_request("ANN", now + Duration::minutes(30));
    assert!(store.issue_password_reset(&request, now).await.expect("issue a reset"), "ann has an account");

    let mails = reset_mails(&store).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.user_id, Some(ann.id));
    assert!(
        matches!(mail.facts, MessageFacts::PasswordReset { expires_at } if close_in_time(expires_at, request.expires_at))
    );
    assert_eq!(mail.secret.as_ref().map(|s| s.expose()), Some(request.token.expose()), "the mail can carry the link");
    // The token is nowhere in what an admin's listing or the facts show.
    let listed = serde_json::to_string(mail).expect("a message serializes");
    assert!(!listed.contains(request.token.expose()), "{listed}");

    // Unknown and disabled accounts get nothing, and nothing is written.
    let bob = fixture_user(&store, "bob").await;
    store.update_user(bob.id, UserChanges { disabled: Some(true), ..UserChanges::default() }).await.expect("disable");
    for handle in ["nobody", "bob"] {
        let issued = store.issue_password_reset(&reset_request(handle, now + Duration::minutes(30)), now).await;
        assert!(!issued.expect("no error for an address without an enabled account"), "{handle}");
    }
    assert_eq!(reset_mails(&store).await.len(), 1, "no mail for an unknown or disabled account");

    // Once the mail is settled, the token is erased from the outbox; the reset still works.
    let claimed = store.claim_messages(50, Duration::seconds(120), Utc::now()).await.expect("claim");
    let claimed = claimed.iter().find(|m| m.id == mail.id).expect("the reset mail is claimed");
    assert!(claimed.secret.is_some(), "a claim carries the token to the sender");
    assert!(store.settle_message(claimed.id, claimed.attempts, &Settlement::Sent, Utc::now()).await.expect("settle"));
    let sent = store.message(mail.id).await.expect("read").expect("the message");
    assert_eq!(sent.secret, None, "the token is erased once the mail is sent");
    let user = store
        .reset_password(&request.token.digest(), "$argon2id$fake$new".into(), Utc::now())
        .await
        .expect("the reset works after its mail was sent");
    assert_eq!(user.id, ann.id);
    assert_eq!(user.token_version, ann.token_version + 1, "every session issued before ends");
    assert_eq!(password_hash_of(&store, &ann).await, "$argon2id$fake$new");
}

pub async fn a_retried_reset_mail_keeps_its_token_and_a_failed_one_loses_it(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let now = Utc::now();
    store.issue_password_reset(&reset_request("ann", now + Duration::minutes(30)), now).await.expect("issue");
    let mail = reset_mails(&store).await.remove(0);
    let claimed = store.claim_messages(50, Duration::seconds(120), Utc::now()).await.expect("claim");
    let first = claimed.iter().find(|m| m.id == mail.id).expect("claimed");
    let retry = Settlement::RetryAt { at: Utc::now(), reason: "server busy".into() };
    assert!(store.settle_message(first.id, first.attempts, &retry, Utc::now()).await.expect("settle"));
    let again = store.claim_messages(50, Duration::seconds(120), Utc::now()).await.expect("claim again");
    let second = again.iter().find(|m| m.id == mail.id).expect("claimed again");
    assert_eq!(second.secret, mail.secret, "a retry still has the token to send");
    let failed = Settlement::Failed { reason: "refused for good".into() };
    assert!(store.settle_message(second.id, second.attempts, &failed, Utc::now()).await.expect("settle"));
    assert_eq!(store.message(mail.id).await.expect("read").expect("the message").secret, None);
    assert_eq!(ann.id, mail.user_id.expect("the mail names ann"));
}

pub async fn a_reset_token_works_once(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let now = Utc::now();
    let request = reset_request("ann", now + Duration::minutes(30));
    store.issue_password_reset(&request, now).await.expect("issue");
    let digest = request.token.digest();
    store.reset_password(&digest, "$argon2id$fake$first".into(), Utc::now()).await.expect("the first use");
    let err = expect_err(store.reset_password(&digest, "$argon2id$fake$second".into(), Utc::now()).await, "reuse");
    assert!(matches!(err, StoreError::ResetTokenInvalid), "{err:?}");
    assert_eq!(password_hash_of(&store, &ann).await, "$argon2id$fake$first", "a refused reset writes nothing");

    // An unknown token is refused the same way.
    let err = expect_err(
        store.reset_password(&ResetToken::generate().digest(), "$argon2id$fake$x".into(), Utc::now()).await,
        "an unknown token",
    );
    assert!(matches!(err, StoreError::ResetTokenInvalid), "{err:?}");
}

pub async fn an_expired_reset_token_is_refused_and_changes_nothing(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let issued_at = Utc::now() - Duration::minutes(31);
    let request = reset_request("ann", issued_at + Duration::minutes(30));
    store.issue_password_reset(&request, issued_at).await.expect("issue");
    let err = expect_err(
        store.reset_password(&request.token.digest(), "$argon2id$fake$late".into(), Utc::now()).await,
        "an expired token",
    );
    assert!(matches!(err, StoreError::ResetTokenInvalid), "{err:?}");
    assert_eq!(password_hash_of(&store, &ann).await, "$argon2id$fake$ann");
    let read = store.user(ann.id).await.expect("read").expect("ann");
    assert_eq!(read.token_version, ann.token_version, "sessions go on");

    // A token about to expire still works just before.
    let now = Utc::now();
    let fresh = reset_request("ann", now + Duration::seconds(5));
    store.issue_password_reset(&fresh, now).await.expect("issue");
    store.reset_password(&fresh.token.digest(), "$argon2id$fake$just".into(), now).await.expect("in time");
}

pub async fn a_password_change_ends_every_other_reset_token_of_the_account(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let bob = fixture_user(&store, "bob").await;
    let now = Utc::now();
    let (first, second, third) = (
        reset_request("ann", now + Duration::minutes(30)),
        reset_request("ann", now + Duration::minutes(30)),
        reset_request("ann", now + Duration::minutes(30)),
    );
    let bobs = reset_request("bob", now + Duration::minutes(30));
    for request in [&first, &second, &third, &bobs] {
        store.issue_password_reset(request, now).await.expect("issue");
    }
    // Using one ends the others of the same account, not another account's.
    store.reset_password(&second.token.digest(), "$argon2id$fake$2".into(), Utc::now()).await.expect("second");
    let err =
        expect_err(store.reset_password(&first.token.digest(), "$argon2id$fake$1".into(), Utc::now()).await, "first");
    assert!(matches!(err, StoreError::ResetTokenInvalid), "{err:?}");
    // A password change by the account itself ends them too.
    store
        .update_user(ann.id, UserChanges { password_hash: Some("$argon2id$fake$me".into()), ..UserChanges::default() })
        .await
        .expect("change the password");
    let err =
        expect_err(store.reset_password(&third.token.digest(), "$argon2id$fake$3".into(), Utc::now()).await, "third");
    assert!(matches!(err, StoreError::ResetTokenInvalid), "{err:?}");
    assert_eq!(password_hash_of(&store, &ann).await, "$argon2id$fake$me");
    store.reset_password(&bobs.token.digest(), "$argon2id$fake$bob".into(), Utc::now()).await.expect("bob's");
    assert_eq!(password_hash_of(&store, &bob).await, "$argon2id$fake$bob");

    // A token of an account disabled since is refused.
    let cid = fixture_user(&store, "cid").await;
    let cids = reset_request("cid", now + Duration::minutes(30));
    store.issue_password_reset(&cids, now).await.expect("issue");
    store.update_user(cid.id, UserChanges { disabled: Some(true), ..UserChanges::default() }).await.expect("disable");
    let err =
        expect_err(store.reset_password(&cids.token.digest(), "$argon2id$fake$c".into(), Utc::now()).await, "cid");
    assert!(matches!(err, StoreError::ResetTokenInvalid), "{err:?}");
    assert_eq!(password_hash_of(&store, &cid).await, "$argon2id$fake$cid");
}

pub async fn concurrent_confirms_of_one_reset_token_one_wins(store: S) {
    const RACERS: usize = 8;
    let ann = fixture_user(&store, "ann").await;
    let now = Utc::now();
    let request = reset_request("ann", now + Duration::minutes(30));
    store.issue_password_reset(&request, now).await.expect("issue");
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut racers = Vec::new();
    for n in 0..RACERS {
        let (store, barrier, digest) = (store.clone(), barrier.clone(), request.token.digest());
        racers.push(tokio::spawn(async move {
            barrier.wait().await;
            store.reset_password(&digest, format!("$argon2id$fake$racer{n}"), Utc::now()).await
        }));
    }
    let mut winners = Vec::new();
    for (n, racer) in racers.into_iter().enumerate() {
        match racer.await.expect("a racer") {
            Ok(user) => winners.push((n, user)),
            Err(StoreError::ResetTokenInvalid) => {}
            Err(other) => panic!("racer {n}: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one confirm wins: {winners:?}");
    let (winner, user) = &winners[0];
    assert_eq!(user.token_version, ann.token_version + 1, "bumped once");
    assert_eq!(password_hash_of(&store, &ann).await, format!("$argon2id$fake$racer{winner}"));
    let read = store.user(ann.id).await.expect("read").expect("ann");
    assert_eq!(read.token_version, ann.token_version + 1, "bumped once, by the winner only");
}
