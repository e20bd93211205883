//! Users: creating and reading back, the unique e-mail (also when signups race), the password
//! hash lookup by e-mail, changes, and the listing with its query and paging.

use super::*;

pub async fn user_create_and_read_back(store: S) {
    let before = Utc::now();
    let created = store.create_user(new_user("ann", "Ann Smith")).await.expect("create user");
    assert_eq!(created.email, "ann@example.com");
    assert_eq!(created.name, "Ann Smith");
    assert_eq!(created.role, Role::Customer);
    assert!(!created.disabled);
    assert!(close_in_time(created.created_at, before), "created_at {} is not about now", created.created_at);

    let read = store.user(created.id).await.expect("read user").expect("user exists");
    assert_eq!(
        (&read.email, &read.name, read.role, read.disabled),
        (&created.email, &created.name, created.role, created.disabled)
    );
    assert_eq!(read.id, created.id);
    assert!(close_in_time(read.created_at, created.created_at));
    assert_eq!(store.password_hash(created.id).await.expect("password hash").as_deref(), Some("$argon2id$fake$ann"));
    assert_eq!(store.user(Uuid::new_v4()).await.expect("read unknown user"), None);
    assert_eq!(store.password_hash(Uuid::new_v4()).await.expect("hash of unknown user"), None);
}

pub async fn user_duplicate_email_is_email_taken(store: S) {
    fixture_user(&store, "ann").await;
    let mut again = new_user("ann", "Another Ann");
    again.email = Email::parse("  ANN@Example.com ").expect("valid e-mail");
    let err = expect_err(store.create_user(again).await, "second signup with the same e-mail");
    assert!(matches!(err, StoreError::EmailTaken), "expected EmailTaken, got {err:?}");
    let users = store.list_users(None, Page::default()).await.expect("list users");
    assert_eq!(users.len(), 1, "the refused signup left an account behind");
}

pub async fn concurrent_signups_same_email_one_wins(store: S) {
    let barrier = Arc::new(Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.create_user(new_user("race", &format!("Racer {i}"))).await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("signup task") {
            Ok(_) => won += 1,
            Err(StoreError::EmailTaken) => {}
            Err(other) => panic!("a losing signup must be EmailTaken, got {other:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one of 20 concurrent signups must win");
    let users = store.list_users(None, Page::default()).await.expect("list users");
    assert_eq!(users.len(), 1);
}

pub async fn user_with_password_hash_finds_by_email(store: S) {
    let ann = fixture_user(&store, "ann").await;
    fixture_user(&store, "bob").await;
    let email = Email::parse("Ann@Example.com").expect("valid e-mail");
    let (user, hash) = store.user_with_password_hash(&email).await.expect("lookup").expect("ann exists");
    assert_eq!(user.id, ann.id);
    assert_eq!(hash, "$argon2id$fake$ann");
    let nobody = Email::parse("nobody@example.com").expect("valid e-mail");
    assert!(store.user_with_password_hash(&nobody).await.expect("lookup").is_none());
}

pub async fn update_user_changes_fields(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let renamed = store
        .update_user(ann.id, UserChanges { name: Some("Ann Jones".into()), ..Default::default() })
        .await
        .expect("rename")
        .expect("ann exists");
    assert_eq!(renamed.name, "Ann Jones");
    assert_eq!((renamed.role, renamed.disabled, &renamed.email), (Role::Customer, false, &ann.email));

    let promoted = store
        .update_user(ann.id, UserChanges { role: Some(Role::Admin), disabled: Some(true), ..Default::default() })
        .await
        .expect("promote and disable")
        .expect("ann exists");
    assert_eq!((promoted.role, promoted.disabled, promoted.name.as_str()), (Role::Admin, true, "Ann Jones"));

    let rehashed = store
        .update_user(ann.id, UserChanges { password_hash: Some("new-hash".into()), ..Default::default() })
        .await
        .expect("new password")
        .expect("ann exists");
    assert_eq!((rehashed.role, rehashed.disabled), (Role::Admin, true), "unchanged fields must stay");
    assert_eq!(store.password_hash(ann.id).await.expect("hash").as_deref(), Some("new-hash"));

    let read = store.user(ann.id).await.expect("read").expect("ann exists");
    assert_eq!((read.name.as_str(), read.role, read.disabled), ("Ann Jones", Role::Admin, true));
    assert_eq!(
        (ann.token_version, renamed.token_version, promoted.token_version, rehashed.token_version, read.token_version),
        (0, 0, 0, 1, 1),
        "only a password change bumps the token version"
    );

    let unknown = store
        .update_user(Uuid::new_v4(), UserChanges { name: Some("Ghost".into()), ..Default::default() })
        .await
        .expect("update unknown");
    assert_eq!(unknown, None);
}

pub async fn list_users_query_and_paging_oldest_first(store: S) {
    let mut created = Vec::new();
    for (handle, name) in
        [("ann", "Ann Smith"), ("bob", "Bob Jones"), ("cara", "Cara SMITHSON"), ("dan", "Dan Brown"), ("eve", "Eve")]
    {
        created.push(store.create_user(new_user(handle, name)).await.expect("create user"));
        tick().await;
    }
    let all = store.list_users(None, Page::default()).await.expect("list");
    assert_eq!(ids(&all, |u| u.id), ids(&created, |u| u.id), "accounts must list oldest first");

    let smiths = store.list_users(Some("sMiTh"), Page::default()).await.expect("query by name");
    let names: Vec<&str> = smiths.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["Ann Smith", "Cara SMITHSON"], "query matches names case-insensitively");

    let by_email = store.list_users(Some("BOB@EXAMPLE"), Page::default()).await.expect("query by e-mail");
    assert_eq!(ids(&by_email, |u| u.id), [created[1].id], "query matches e-mails case-insensitively");

    let paged = store.list_users(None, page(2, 1)).await.expect("page");
    assert_eq!(ids(&paged, |u| u.id), [created[1].id, created[2].id]);
    let last = store.list_users(None, page(2, 4)).await.expect("last page");
    assert_eq!(ids(&last, |u| u.id), [created[4].id]);
    assert!(store.list_users(None, page(2, 5)).await.expect("past the end").is_empty());
    let paged_query = store.list_users(Some("smith"), page(1, 1)).await.expect("paged query");
    assert_eq!(ids(&paged_query, |u| u.id), [created[2].id]);
}
