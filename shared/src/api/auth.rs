//! `/auth/*`: signup, login, the caller's own account, password resets ("forgot password"), and
//! admin management of accounts.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Json, Path, Query};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{AdminUser, AuthUser, ClientAddr};
use crate::api::state::AppState;
use crate::auth::{hash_password, verify_password};
use crate::domain::{
    Actor, Email, Invalid, NewUser, Page, Password, ResetRequest, ResetToken, Role, User, UserChanges, parse_name,
};
use crate::limits::{Attempt, Subject};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(me, update_me))
        .routes(routes!(list_users))
        .routes(routes!(get_user, update_user))
}

#[derive(Deserialize, ToSchema)]
pub struct SignupRequest {
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// 8 to 128 characters.
    #[schema(example = "correct horse battery", min_length = 8, max_length = 128)]
    pub password: String,
    #[schema(example = "Ann")]
    pub name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    #[schema(example = "ann@example.com")]
    pub email: String,
}

/// The one answer to a reset request, whether or not an account has the address.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasswordResetAccepted {
    #[schema(example = "If an account exists for that address, we sent it a link to choose a new password.")]
    pub detail: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    /// The token from the reset mail's link.
    pub token: String,
    /// The new password: 8 to 128 characters, as at signup.
    #[schema(example = "correct horse battery", min_length = 8, max_length = 128)]
    pub password: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub user: User,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    pub name: Option<String>,
    /// A new password (8 to 128 characters); needs `current_password`.
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
    pub current_password: Option<String>,
}

// The bodies that carry a password or a token print it as `***` in `Debug`, so neither can reach
// a log line or a panic message by way of a `{:?}`.
const REDACTED: &str = "***";

impl std::fmt::Debug for SignupRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignupRequest")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("name", &self.name)
            .finish()
    }
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").field("email", &self.email).field("password", &REDACTED).finish()
    }
}

impl std::fmt::Debug for PasswordResetConfirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordResetConfirm").field("token", &REDACTED).field("password", &REDACTED).finish()
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &REDACTED)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .finish()
    }
}

impl std::fmt::Debug for UpdateMeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |value: &Option<String>| value.as_ref().map(|_| REDACTED);
        f.debug_struct("UpdateMeRequest")
            .field("name", &self.name)
            .field("password", &hidden(&self.password))
            .field("current_password", &hidden(&self.current_password))
            .finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    /// Part of an e-mail or name.
    pub q: Option<String>,
}

/// Creates a customer account.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created", body = User),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: e-mail or password", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ups for this e-mail address (5 an hour) or from this client address (`SIGNUP_LIMIT_PER_HOUR`, 20 by default); see `Retry-After`", body = ErrorBody),
    ))]
async fn signup(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(body): Json<SignupRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let email = Email::parse(&body.email)?;
    let password = Password::parse(body.password)?;
    let name = parse_name(body.name.as_deref())?;
    // Counted once the request is valid, before the costly hash and the write.
    let signups = state.config.limits.signups;
    signups.attempt(state.store.as_ref(), Some(Subject::Email(email.as_str())), addr.0, Utc::now()).await?.keep();
    let password_hash = hash_password(&password).await?;
    let user = state.store.create_user(NewUser { email, name, password_hash, role: Role::Customer }).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Exchanges e-mail and password for a bearer token.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`: the same answer for an unknown e-mail and a wrong password", body = ErrorBody),
        (status = 403, description = "`forbidden`: the account is disabled", body = ErrorBody),
        (status = 429, description = "`rate_limited`: 10 failures per e-mail or client address in 15 minutes; see `Retry-After`", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(body): Json<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    // Counted before the password is checked, right or wrong, so a burst of guesses gets no more
    // checks than the limit; a right password takes its own attempt back.
    let attempt = state
        .config
        .limits
        .password_guesses
        .attempt(state.store.as_ref(), Some(Subject::Email(&body.email)), addr.0, Utc::now())
        .await?;
    let account = match Email::parse(&body.email) {
        Ok(email) => state.store.user_with_password_hash(&email).await?,
        Err(_) => None,
    };
    let (user, hash) = match account {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    // Verify even when the account is unknown, so both failures take about as long.
    let matches = verify_password(&body.password, hash).await?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            attempt.keep();
            return Err(ApiError::InvalidCredentials);
        }
    };
    take_back(&state, attempt).await;
    if user.disabled {
        return Err(ApiError::Forbidden("This account is disabled.".into()));
    }
    let access_token = state.tokens.issue(&user)?;
    Ok(Json(TokenResponse { access_token, token_type: "bearer".into(), expires_in: state.tokens.ttl_seconds(), user }))
}

/// What a reset request always answers: the same status and body for a known, an unknown and a
/// disabled account's address, so the answer tells no one which addresses have accounts.
pub const PASSWORD_RESET_ACCEPTED: &str =
    "If an account exists for that address, we sent it a link to choose a new password.";

/// Sends a link to choose a new password to the account with this address, if there is one.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "The same answer whether or not an account has the address (and for a disabled account, which gets no mail): if one does, a single-use link valid for `PASSWORD_RESET_MINUTES` (30 by default) is on its way", body = PasswordResetAccepted),
        (status = 422, description = "`validation_failed`: not an e-mail address", body = ErrorBody),
        (status = 429, description = "`rate_limited`: 5 requests per e-mail address or 20 per client address in an hour; see `Retry-After`", body = ErrorBody),
    ))]
async fn request_password_reset(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(body): Json<PasswordResetRequest>,
) -> Result<(StatusCode, Json<PasswordResetAccepted>), ApiError> {
    let email = Email::parse(&body.email)?;
    let now = Utc::now();
    // Counted for every address, known or not, so the limit answers alike for both too.
    let resets = state.config.limits.password_resets;
    resets.attempt(state.store.as_ref(), Some(Subject::Email(email.as_str())), addr.0, now).await?.keep();
    let request =
        ResetRequest { email, token: ResetToken::generate(), expires_at: now + state.config.password_reset.duration() };
    // Whether an enabled account had the address stays here: the answer is the same either way.
    state.store.issue_password_reset(&request, now).await?;
    Ok((StatusCode::ACCEPTED, Json(PasswordResetAccepted { detail: PASSWORD_RESET_ACCEPTED.into() })))
}

/// Sets a new password with the token of a reset mail; every session issued before ends.
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = PasswordResetConfirm,
    responses(
        (status = 200, description = "Password changed: the token is used up, and every token issued before (sessions, other reset links) stops working; log in with the new password", body = User),
        (status = 400, description = "`invalid_token`: the same answer for a token that is malformed, unknown, used, expired, or whose account changed its password or was disabled since", body = ErrorBody),
        (status = 422, description = "`validation_failed`: the password breaks the signup rules (8 to 128 characters)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: 20 attempts per client address in 15 minutes; see `Retry-After`", body = ErrorBody),
    ))]
async fn confirm_password_reset(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(body): Json<PasswordResetConfirm>,
) -> Result<Json<User>, ApiError> {
    let now = Utc::now();
    // Counted before the costly hash, so a burst of made-up tokens gets no more hashes than this.
    let confirms = state.config.limits.reset_confirms;
    confirms.attempt(state.store.as_ref(), None, addr.0, now).await?.keep();
    let password = Password::parse(body.password)?;
    let token = ResetToken::parse(&body.token).ok_or_else(ApiError::invalid_reset_token)?;
    let password_hash = hash_password(&password).await?;
    let user = state.store.reset_password(&token.digest(), password_hash, now).await?;
    Ok(Json(user))
}

/// Uncounts a password check that was right. A store that fails here costs the caller one
/// counted attempt, not the answer it earned.
async fn take_back(state: &AppState, attempt: Attempt) {
    if let Err(err) = attempt.take_back(state.store.as_ref()).await {
        tracing::warn!(error = %err, "a right password's attempt could not be uncounted");
    }
}

/// The caller's account.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, description = "`unauthorized` or `token_expired`", body = ErrorBody)))]
async fn me(AuthUser(user): AuthUser) -> Json<User> {
    Json(user)
}

/// Changes the caller's name or password (a new password needs `current_password`).
#[utoipa::path(patch, path = "/auth/me", tag = "auth", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses(
        (status = 200, body = User),
        (status = 401, description = "`unauthorized`, or `invalid_credentials` when `current_password` is wrong", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: 10 wrong `current_password`s per account or client address in 15 minutes; see `Retry-After`", body = ErrorBody),
    ))]
async fn update_me(
    State(state): State<AppState>,
    addr: ClientAddr,
    AuthUser(user): AuthUser,
    Json(body): Json<UpdateMeRequest>,
) -> Result<Json<User>, ApiError> {
    let mut changes = UserChanges::default();
    if body.name.is_some() {
        changes.name = Some(parse_name(body.name.as_deref())?);
    }
    if let Some(new_password) = body.password {
        let new_password = Password::parse(new_password)?;
        let current = body
            .current_password
            .ok_or_else(|| Invalid::new("current_password", "is required to change the password"))?;
        // The same limit as logins: a stolen token must not be a way to guess the password.
        let attempt = state
            .config
            .limits
            .password_guesses
            .attempt(state.store.as_ref(), Some(Subject::Account(user.id)), addr.0, Utc::now())
            .await?;
        let hash = state.store.password_hash(user.id).await?;
        if !verify_password(&current, hash).await? {
            attempt.keep();
            return Err(ApiError::InvalidCredentials);
        }
        take_back(&state, attempt).await;
        changes.password_hash = Some(hash_password(&new_password).await?);
    }
    let updated = state.store.update_user(user.id, changes).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(updated))
}

/// One account: the caller's own, or any for an admin.
#[utoipa::path(get, path = "/auth/users/{user_id}", tag = "auth", security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The account's id")),
    responses(
        (status = 200, body = User),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: another customer's account", body = ErrorBody),
        (status = 404, description = "`not_found` (admins only)", body = ErrorBody),
    ))]
async fn get_user(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<Uuid>,
) -> Result<Json<User>, ApiError> {
    if !caller.may_act_for(user_id) {
        return Err(ApiError::forbidden());
    }
    let user = state.store.user(user_id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(user))
}

/// Every account, oldest first (admin).
#[utoipa::path(get, path = "/auth/users", tag = "auth", security(("bearer" = [])), params(UserListQuery),
    responses(
        (status = 200, body = Vec<User>),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers", body = ErrorBody),
        (status = 422, description = "`validation_failed`: limit or offset out of range", body = ErrorBody),
    ))]
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<UserListQuery>,
) -> Result<Json<Vec<User>>, ApiError> {
    let page = Page::parse(query.limit, query.offset)?;
    let text = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    Ok(Json(state.store.list_users(text, page).await?))
}

/// Promotes, demotes, disables or enables an account (admin). A disabled account's tokens stop working at once.
#[utoipa::path(patch, path = "/auth/users/{user_id}", tag = "auth", security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The account's id")), request_body = UpdateUserRequest,
    responses(
        (status = 200, body = User),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_state`: an admin cannot disable or demote themselves (to staff or customer)", body = ErrorBody),
    ))]
async fn update_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(user_id): Path<Uuid>,
    Json(body): Json<UpdateUserRequest>,
) -> Result<Json<User>, ApiError> {
    // Any role but admin (customer or staff) would take the caller's own admin rights away.
    let locks_out_self =
        admin.id == user_id && (body.disabled == Some(true) || body.role.is_some_and(|role| role != Role::Admin));
    if locks_out_self {
        return Err(ApiError::InvalidState("Admins cannot disable or demote their own account.".into()));
    }
    let changes = UserChanges {
        role: body.role,
        disabled: body.disabled,
        actor: Some(Actor::from(&admin)),
        ..UserChanges::default()
    };
    let user = state.store.update_user(user_id, changes).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_with_passwords_or_tokens_print_them_redacted() {
        let login = LoginRequest { email: "ann@example.com".into(), password: "hunter2-secret".into() };
        let signup = SignupRequest { email: "ann@example.com".into(), password: "hunter2-secret".into(), name: None };
        let change = UpdateMeRequest {
            name: None,
            password: Some("hunter2-secret".into()),
            current_password: Some("old-secret-pw".into()),
        };
        let reset = PasswordResetConfirm { token: "reset-token-secret".into(), password: "hunter2-secret".into() };
        for shown in [format!("{login:?}"), format!("{signup:?}"), format!("{change:?}"), format!("{reset:?}")] {
            assert!(!shown.contains("reset-token-secret"), "{shown}");
            assert!(!shown.contains("hunter2") && !shown.contains("old-secret"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
    }
}
