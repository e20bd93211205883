//! Proves the `/auth/*` routes of API.md: signup, login and its rate limits, bearer tokens (only
//! valid HS256 tokens of enabled accounts), the caller's own account and admin account management.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use crate::http::{JWT_SECRET, PASSWORD, Resp, TestApp, assert_error, base64url, detail, json_request, parse};
use axum::extract::ConnectInfo;
use axum::http::{Method, StatusCode, header};
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proeventa_core::auth::{Claims, TokenKeys};
use proeventa_core::domain::{Role, User};
use serde_json::{Value, json};
use uuid::Uuid;

fn user_keys(body: &Value) -> BTreeSet<&str> {
    body.as_object().expect("a User object").keys().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------------
// Signup

#[tokio::test]
async fn signup_creates_a_customer_with_a_normalised_email_and_no_password_in_the_body() {
    let app = TestApp::new().await;
    let claimed_id = Uuid::new_v4();
    let (status, _, body) = app
        .post(
            "/auth/signup",
            json!({
                "email": "  Ann.Smith@Example.COM ",
                "password": PASSWORD,
                "name": "Ann",
                "user_id": claimed_id,
                "id": claimed_id,
                "role": "admin",
            }),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(user_keys(&body), BTreeSet::from(["id", "email", "name", "role", "disabled", "created_at"]), "{body}");
    let text = body.to_string().to_lowercase();
    assert!(!text.contains("password") && !text.contains("argon2") && !text.contains("hash"), "{body}");
    let user: User = parse(&body);
    assert_eq!(user.email, "ann.smith@example.com");
    assert_eq!(user.name, "Ann");
    assert_eq!(user.role, Role::Customer);
    assert!(!user.disabled);
    assert_ne!(user.id, claimed_id);
    // The account logs in with the normalised address.
    app.login("ann.smith@example.com", PASSWORD).await;
}

#[tokio::test]
async fn signup_with_a_registered_email_is_409_email_taken() {
    let app = TestApp::new().await;
    app.signup("ann@example.com", PASSWORD).await;
    let resp =
        app.post("/auth/signup", json!({"email": " ANN@example.com", "password": "another password"}), None).await;
    assert_error(&resp, StatusCode::CONFLICT, "email_taken");
}

#[tokio::test]
async fn signup_with_a_bad_email_or_password_length_is_422_naming_the_field() {
    let app = TestApp::new().await;
    let cases = [
        ("not-an-email", PASSWORD.to_owned(), "email"),
        ("ann@", PASSWORD.to_owned(), "email"),
        ("ann@example.com", "short77".to_owned(), "password"),
        ("ann@example.com", "x".repeat(129), "password"),
    ];
    for (email, password, field) in cases {
        let resp = app.post("/auth/signup", json!({"email": email, "password": password}), None).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(detail(&resp).contains(field), "{email}: {}", detail(&resp));
    }
    // 128 characters is still fine.
    let resp = app.post("/auth/signup", json!({"email": "ann@example.com", "password": "x".repeat(128)}), None).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
}

// ---------------------------------------------------------------------------------------------
// Login

#[tokio::test]
async fn login_returns_a_bearer_token_its_lifetime_and_the_user() {
    let app = TestApp::new().await;
    let user = app.signup("ann@example.com", PASSWORD).await;
    let (status, _, body) =
        app.post("/auth/login", json!({"email": " Ann@Example.com", "password": PASSWORD}), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(parse::<User>(&body["user"]), user);
    let token = body["access_token"].as_str().expect("access_token");
    let (status, _, me) = app.get("/auth/me", Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<User>(&me), user);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401_invalid_credentials() {
    let app = TestApp::new().await;
    app.signup("ann@example.com", PASSWORD).await;
    let wrong =
        app.post("/auth/login", json!({"email": "ann@example.com", "password": "not the password"}), None).await;
    let unknown =
        app.post("/auth/login", json!({"email": "nobody@example.com", "password": "not the password"}), None).await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(wrong.2, unknown.2);
}

fn login_from(email: &str, password: &str, addr: Option<SocketAddr>) -> axum::http::Request<axum::body::Body> {
    let mut request =
        json_request(Method::POST, "/auth/login", Some(json!({"email": email, "password": password})), None);
    if let Some(addr) = addr {
        request.extensions_mut().insert(ConnectInfo(addr));
    }
    request
}

fn assert_rate_limited(resp: &Resp) {
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry_after: u64 = resp
        .1
        .get(header::RETRY_AFTER)
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60 * 60).contains(&retry_after), "Retry-After {retry_after}: more than the longest window");
}

#[tokio::test]
async fn eleventh_login_failure_for_one_email_is_429_with_retry_after() {
    let app = TestApp::new().await;
    app.signup("ann@example.com", PASSWORD).await;
    for attempt in 1..=10 {
        let resp = app
            .post("/auth/login", json!({"email": "ann@example.com", "password": format!("wrong {attempt}")}), None)
            .await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let resp = app.post("/auth/login", json!({"email": "ann@example.com", "password": "wrong 11"}), None).await;
    assert_rate_limited(&resp);
    // The e-mail stays locked whatever its spelling, even for the right password.
    let resp = app.post("/auth/login", json!({"email": " ANN@example.com", "password": PASSWORD}), None).await;
    assert_rate_limited(&resp);
}

/// A stolen token is no way to guess the password: wrong `current_password`s in `PATCH /auth/me`
/// count like failed logins, and the eleventh is refused before the password is even checked.
#[tokio::test]
async fn eleventh_wrong_current_password_is_429_with_retry_after() {
    let app = TestApp::new().await;
    let (_, token) = app.customer("guessed@example.com").await;
    for attempt in 1..=10 {
        let body = json!({"password": "a brand new password", "current_password": format!("guess {attempt}")});
        let resp = app.patch("/auth/me", body, Some(&token)).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let resp = app
        .patch("/auth/me", json!({"password": "a brand new password", "current_password": "guess 11"}), Some(&token))
        .await;
    assert_rate_limited(&resp);
}

#[tokio::test]
async fn ten_login_failures_from_one_address_block_that_address_only() {
    let app = TestApp::new().await;
    let attacker = SocketAddr::from(([203, 0, 113, 7], 40000));
    let bystander = SocketAddr::from(([198, 51, 100, 9], 40000));
    for n in 1..=10 {
        let resp = app.send(login_from(&format!("victim{n}@example.com"), "guess guess", Some(attacker))).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let resp = app.send(login_from("fresh@example.com", "guess guess", Some(attacker))).await;
    assert_rate_limited(&resp);
    let resp = app.send(login_from("fresh@example.com", "guess guess", Some(bystander))).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "invalid_credentials");
}

/// Finding 1 of issue 15: the limit is a count taken before the password is checked, so a burst
/// of guesses at once gets no more checks than the limit, however they interleave, and a right
/// password in the burst takes back its own attempt only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_concurrent_logins_gets_at_most_the_limit_of_password_checks() {
    let app = TestApp::new().await;
    app.signup("burst@example.com", PASSWORD).await;
    let from = SocketAddr::from(([203, 0, 113, 60], 40000));
    let requests = (0..60)
        .map(|i| {
            let password = if i == 30 { PASSWORD.to_owned() } else { format!("wrong guess {i}") };
            login_from("burst@example.com", &password, Some(from))
        })
        .collect();
    let answers = app.send_concurrently(requests).await;
    let count = |status: StatusCode| answers.iter().filter(|(s, _)| *s == status).count();
    let (ok, wrong, limited) =
        (count(StatusCode::OK), count(StatusCode::UNAUTHORIZED), count(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(ok + wrong + limited, 60, "unexpected answers: {:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    assert!(
        ok + wrong <= 10,
        "{ok} right and {wrong} wrong passwords were checked in a burst: more than the limit of 10"
    );
    assert!(limited >= 50, "only {limited} of 60 were refused");
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
            .all(|(_, h)| h.contains_key(header::RETRY_AFTER))
    );
    // The burst used the limit up: the counter was not emptied by the right password among it.
    let resp = app.send(login_from("burst@example.com", "one more guess", Some(from))).await;
    assert_rate_limited(&resp);
}

#[tokio::test]
async fn a_right_password_takes_back_its_own_attempt_only() {
    let app = TestApp::new().await;
    app.signup("careful@example.com", PASSWORD).await;
    for attempt in 1..=9 {
        let resp = app
            .post("/auth/login", json!({"email": "careful@example.com", "password": format!("wrong {attempt}")}), None)
            .await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // Right passwords do not use the limit up, and do not wipe the failures before them either.
    for _ in 0..3 {
        let resp = app.post("/auth/login", json!({"email": "careful@example.com", "password": PASSWORD}), None).await;
        assert_eq!(resp.0, StatusCode::OK, "{resp:?}");
    }
    let resp = app.post("/auth/login", json!({"email": "careful@example.com", "password": "wrong 10"}), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let resp = app.post("/auth/login", json!({"email": "careful@example.com", "password": "wrong 11"}), None).await;
    assert_rate_limited(&resp);
}

#[tokio::test]
async fn signups_are_limited_per_client_address_and_per_email() {
    let app = TestApp::with_env(&[("SIGNUP_LIMIT_PER_HOUR", "3")]).await;
    let signup_from = |email: &str, addr: SocketAddr| {
        let body = json!({"email": email, "password": PASSWORD, "name": "Sam"});
        let mut request = json_request(Method::POST, "/auth/signup", Some(body), None);
        request.extensions_mut().insert(ConnectInfo(addr));
        request
    };
    let crowd = SocketAddr::from(([203, 0, 113, 8], 40000));
    for n in 1..=3 {
        let resp = app.send(signup_from(&format!("sam{n}@example.com"), crowd)).await;
        assert_eq!(resp.0, StatusCode::CREATED, "{resp:?}");
    }
    let resp = app.send(signup_from("sam4@example.com", crowd)).await;
    assert_rate_limited(&resp);
    assert!(detail(&resp).starts_with("Too many sign-ups"), "{}", detail(&resp));
    let elsewhere = SocketAddr::from(([198, 51, 100, 8], 40000));
    let resp = app.send(signup_from("sam4@example.com", elsewhere)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "another address is not limited: {resp:?}");

    // One e-mail address, tried from many addresses: five an hour (two tries so far).
    for n in 0..3 {
        let resp = app.send(signup_from("sam4@example.com", SocketAddr::from(([192, 0, 2, n], 40000)))).await;
        assert_error(&resp, StatusCode::CONFLICT, "email_taken");
    }
    let resp = app.send(signup_from("sam4@example.com", SocketAddr::from(([192, 0, 2, 9], 40000)))).await;
    assert_rate_limited(&resp);
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[tokio::test]
async fn me_without_a_token_is_401_unauthorized() {
    let app = TestApp::new().await;
    let resp = app.get("/auth/me", None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn me_with_a_garbage_token_is_401_unauthorized() {
    let app = TestApp::new().await;
    for token in ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30."] {
        let resp = app.get("/auth/me", Some(token)).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // Not a bearer scheme at all.
    let mut request = json_request(Method::GET, "/auth/me", None, None);
    request.headers_mut().insert(header::AUTHORIZATION, "Basic YW5uOnB3".parse().unwrap());
    let resp = app.send(request).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn me_with_an_expired_token_is_401_token_expired() {
    let app = TestApp::new().await;
    let (user, _) = app.customer("ann@example.com").await;
    let expired = TokenKeys::new(JWT_SECRET.as_bytes(), -10).issue(&user).unwrap();
    let resp = app.get("/auth/me", Some(&expired)).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "token_expired");
}

fn claims_for(user: &User, role: Role) -> Claims {
    let now = Utc::now().timestamp();
    Claims { sub: user.id, role, iat: now, exp: now + 600, ver: 0 }
}

#[tokio::test]
async fn token_of_an_account_that_does_not_exist_is_401() {
    let app = TestApp::new().await;
    let ghost = User {
        id: Uuid::new_v4(),
        email: "ghost@example.com".into(),
        name: String::new(),
        role: Role::Admin,
        disabled: false,
        created_at: Utc::now(),
        token_version: 0,
    };
    let token = app.state.tokens.issue(&ghost).unwrap();
    let resp = app.get("/auth/me", Some(&token)).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.get("/auth/users", Some(&token)).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn token_with_alg_none_is_401() {
    let app = TestApp::new().await;
    let (user, _) = app.admin_user().await;
    let header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = base64url(&serde_json::to_vec(&claims_for(&user, Role::Admin)).unwrap());
    for token in [format!("{header}.{claims}."), format!("{header}.{claims}")] {
        let resp = app.get("/auth/users", Some(&token)).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn token_with_a_tampered_signature_or_claims_is_401() {
    let app = TestApp::new().await;
    let (user, token) = app.customer("ann@example.com").await;
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let flipped: String =
        signature.chars().enumerate().map(|(i, c)| if i == 3 { if c == 'A' { 'B' } else { 'A' } } else { c }).collect();
    let resp = app.get("/auth/me", Some(&format!("{signed}.{flipped}"))).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    // The customer's own signature over claims that say admin.
    let (header, _) = signed.split_once('.').unwrap();
    let claims = base64url(&serde_json::to_vec(&claims_for(&user, Role::Admin)).unwrap());
    let resp = app.get("/auth/me", Some(&format!("{header}.{claims}.{signature}"))).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    // Signed with another secret.
    let foreign = TokenKeys::new(b"some other secret", 600).issue(&user).unwrap();
    let resp = app.get("/auth/me", Some(&foreign)).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn token_signed_with_hs384_or_hs512_is_401() {
    let app = TestApp::new().await;
    let (user, _) = app.customer("ann@example.com").await;
    let key = EncodingKey::from_secret(JWT_SECRET.as_bytes());
    let claims = claims_for(&user, Role::Customer);
    // Control: the same claims signed with HS256 by hand are accepted.
    let hs256 = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap();
    let (status, _, body) = app.get("/auth/me", Some(&hs256)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = jsonwebtoken::encode(&Header::new(alg), &claims, &key).unwrap();
        let resp = app.get("/auth/me", Some(&token)).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn disabled_user_token_is_403_at_once() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (user, token) = app.signup_and_login("ann@example.com").await;
    let (status, _, _) = app.get("/auth/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) =
        app.patch(&format!("/auth/users/{}", user.id), json!({"disabled": true}), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["disabled"], true);
    let resp = app.get("/auth/me", Some(&token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app.get(&format!("/reservations/reservations/user/{}", user.id), Some(&token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn disabled_user_cannot_log_in() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let ann = app.signup("ann@example.com", PASSWORD).await;
    let (status, _, _) = app.patch(&format!("/auth/users/{}", ann.id), json!({"disabled": true}), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let resp = app.post("/auth/login", json!({"email": "ann@example.com", "password": PASSWORD}), None).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
}

// ---------------------------------------------------------------------------------------------
// The caller's own account

#[tokio::test]
async fn patch_me_changes_the_name() {
    let app = TestApp::new().await;
    let (user, token) = app.customer("ann@example.com").await;
    let (status, _, body) = app.patch("/auth/me", json!({"name": "  Ann Smith "}), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated: User = parse(&body);
    assert_eq!((updated.id, updated.name.as_str()), (user.id, "Ann Smith"));
    let (_, _, me) = app.get("/auth/me", Some(&token)).await;
    assert_eq!(me["name"], "Ann Smith");
}

#[tokio::test]
async fn password_change_needs_the_current_password() {
    let app = TestApp::new().await;
    let (_, token) = app.signup_and_login("ann@example.com").await;
    let new_password = "a brand new password";

    let resp = app.patch("/auth/me", json!({"password": new_password}), Some(&token)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("current_password"), "{}", detail(&resp));

    let resp = app
        .patch("/auth/me", json!({"password": new_password, "current_password": "not my password"}), Some(&token))
        .await;
    assert_eq!(resp.0, StatusCode::UNAUTHORIZED, "{}", resp.2);
    assert_error(&resp, StatusCode::UNAUTHORIZED, "invalid_credentials");

    let (status, _, body) =
        app.patch("/auth/me", json!({"password": new_password, "current_password": PASSWORD}), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    app.login("ann@example.com", new_password).await;
    let resp = app.post("/auth/login", json!({"email": "ann@example.com", "password": PASSWORD}), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "invalid_credentials");
}

/// A password change ends every session opened before it: a token issued earlier (a stolen one,
/// or the one that made the change) is refused on its next request; a new login works.
#[tokio::test]
async fn a_password_change_revokes_the_tokens_issued_before_it() {
    let app = TestApp::new().await;
    let (_, old_token) = app.signup_and_login("ann@example.com").await;
    let other_session = app.login("ann@example.com", PASSWORD).await;
    let new_password = "a brand new password";
    let (status, _, body) =
        app.patch("/auth/me", json!({"password": new_password, "current_password": PASSWORD}), Some(&old_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for token in [&old_token, &other_session] {
        let resp = app.get("/auth/me", Some(token)).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
        assert!(detail(&resp).contains("password was changed"), "{}", detail(&resp));
    }
    let fresh = app.login("ann@example.com", new_password).await;
    let (status, _, _) = app.get("/auth/me", Some(&fresh)).await;
    assert_eq!(status, StatusCode::OK);
    // Renaming is no password change: the fresh token stays good.
    let (status, _, _) = app.patch("/auth/me", json!({"name": "Ann"}), Some(&fresh)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = app.get("/auth/me", Some(&fresh)).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Accounts, for their owner and for admins

#[tokio::test]
async fn get_user_is_for_self_or_admin() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (ann, ann_token) = app.customer("ann@example.com").await;
    let (bob, _) = app.customer("bob@example.com").await;
    let path = format!("/auth/users/{}", ann.id);

    let (status, _, body) = app.get(&path, Some(&ann_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<User>(&body), ann);

    let resp = app.get(&format!("/auth/users/{}", bob.id), Some(&ann_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");

    let (status, _, body) = app.get(&path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<User>(&body), ann);

    let resp = app.get(&format!("/auth/users/{}", Uuid::new_v4()), Some(&admin)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");

    let resp = app.get(&path, None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn list_users_is_admin_only_and_filters_by_q() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (ann, ann_token) = app.customer("ann@example.com").await;
    app.customer("bob@example.com").await;

    let resp = app.get("/auth/users", None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.get("/auth/users", Some(&ann_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");

    let (status, _, body) = app.get("/auth/users", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let all: Vec<User> = parse(&body);
    let emails: BTreeSet<&str> = all.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, BTreeSet::from(["admin@example.com", "ann@example.com", "bob@example.com"]));

    let (status, _, body) = app.get("/auth/users?q=ANN", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<Vec<User>>(&body), vec![ann]);

    let (_, _, body) = app.get("/auth/users?limit=1&offset=1", Some(&admin)).await;
    assert_eq!(parse::<Vec<User>>(&body).len(), 1);
}

#[tokio::test]
async fn promoted_user_acts_as_admin_on_the_next_request() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (ann, ann_token) = app.customer("ann@example.com").await;
    let resp = app.get("/auth/users", Some(&ann_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");

    let (status, _, body) = app.patch(&format!("/auth/users/{}", ann.id), json!({"role": "admin"}), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(parse::<User>(&body).role, Role::Admin);

    // The same token, issued while she was a customer.
    let (status, _, body) = app.get("/auth/users", Some(&ann_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn customer_cannot_change_accounts() {
    let app = TestApp::new().await;
    let (ann, ann_token) = app.customer("ann@example.com").await;
    let resp = app.patch(&format!("/auth/users/{}", ann.id), json!({"role": "admin"}), Some(&ann_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let (_, _, me) = app.get("/auth/me", Some(&ann_token)).await;
    assert_eq!(me["role"], "customer");
}

#[tokio::test]
async fn admin_cannot_disable_themselves() {
    let app = TestApp::new().await;
    let (admin, token) = app.admin_user().await;
    let resp = app.patch(&format!("/auth/users/{}", admin.id), json!({"disabled": true}), Some(&token)).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");
    let (status, _, me) = app.get("/auth/me", Some(&token)).await;
    assert_eq!((status, &me["disabled"]), (StatusCode::OK, &json!(false)));
}

#[tokio::test]
async fn admin_cannot_demote_themselves() {
    let app = TestApp::new().await;
    let (admin, token) = app.admin_user().await;
    let resp = app.patch(&format!("/auth/users/{}", admin.id), json!({"role": "customer"}), Some(&token)).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");
    let (status, _, body) = app.get("/auth/users", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn admin_patching_an_unknown_user_is_404() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let resp = app.patch(&format!("/auth/users/{}", Uuid::new_v4()), json!({"disabled": true}), Some(&admin)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}
