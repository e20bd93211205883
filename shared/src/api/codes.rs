//! `/admin/codes/*`: promo and access codes (issue 21), admins only: create, list, change and
//! delete, each change audited in its own transaction (`code.created`, `code.updated`,
//! `code.deleted`). Also the checks a checkout's `promo_code` and a hold's `access_code` go
//! through before the store sees them (`checkout_code`, `presale_unlocked`).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Json, Path, Query};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::AdminUser;
use crate::api::state::AppState;
use crate::domain::{
    Actor, Booking, Code, CodeChanges, CodeDraft, CodeKind, CodeTerms, Event, NewCode, Page, ReservationStatus,
    parse_code_name, visible_ticket_types,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_code, list_codes)).routes(routes!(update_code, delete_code))
}

/// A code to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCodeRequest {
    /// 3 to 32 letters, digits, `-` or `_`; matched case-insensitively (stored upper-cased).
    #[schema(example = "SPRING25")]
    pub code: String,
    pub kind: CodeKind,
    /// Percent off (1 to 100) for `percent`, cents off (> 0) for `fixed`; none for `access`.
    #[schema(example = 25)]
    pub value: Option<i64>,
    /// The one event it is for (required for `access`); absent: every event.
    pub event_id: Option<Uuid>,
    /// Ticket types it applies to (absent or empty: all).
    #[serde(default)]
    pub ticket_types: Vec<String>,
    /// Seat tiers it applies to (absent or empty: all).
    #[serde(default)]
    pub tiers: Vec<String>,
    /// At least 1; absent: no limit.
    pub max_uses: Option<i64>,
    /// At least 1; absent: no limit.
    pub max_uses_per_user: Option<i64>,
    pub valid_from: Option<DateTime<Utc>>,
    /// After `valid_from`: the first instant the code is no longer valid.
    pub valid_to: Option<DateTime<Utc>>,
}

/// A change of a code: absent fields stay as they are, `null` clears a limit or a bound. The
/// name, kind and event stay as created.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCodeRequest {
    pub value: Option<i64>,
    pub ticket_types: Option<Vec<String>>,
    pub tiers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub max_uses: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub max_uses_per_user: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_to: Option<Option<DateTime<Utc>>>,
}

/// A field that was sent, as `Some` of its value (null included).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CodeListQuery {
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Creates a code (admin), for one event or all: a discount (`percent`, `fixed`) or an `access`
/// code that unlocks an event's presale.
#[utoipa::path(post, path = "/admin/codes", tag = "admin", security(("bearer" = [])), request_body = CreateCodeRequest,
    responses(
        (status = 201, body = Code),
        (status = 400, description = "`invalid_request`: not JSON, or a field missing or of the wrong type", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown event", body = ErrorBody),
        (status = 409, description = "`code_taken`: a code with this name exists", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a code not 3 to 32 letters, digits, `-` or `_`; a percent not 1 to 100, a fixed amount not above 0, an access code with a value or without an event; `valid_from` not before `valid_to`; a limit below 1; a malformed ticket type or tier", body = ErrorBody),
    ))]
async fn create_code(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(body): Json<CreateCodeRequest>,
) -> Result<(StatusCode, Json<Code>), ApiError> {
    let draft = CodeDraft {
        code: body.code,
        kind: Some(body.kind),
        value: body.value,
        event_id: body.event_id,
        ticket_types: body.ticket_types,
        tiers: body.tiers,
        max_uses: body.max_uses,
        max_uses_per_user: body.max_uses_per_user,
        valid_from: body.valid_from,
        valid_to: body.valid_to,
    };
    let new = NewCode::parse(draft, Some(Actor::from(&admin)))?;
    let now = Utc::now();
    if let Some(event_id) = new.event_id {
        state.store.event(event_id, now).await?.ok_or_else(|| ApiError::not_found("event"))?;
    }
    let created = state.store.create_code(&new, now).await?;
    tracing::info!(code_id = %created.id, kind = %created.kind, "code created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// The codes, oldest first (admin); deleted ones are not listed.
#[utoipa::path(get, path = "/admin/codes", tag = "admin", security(("bearer" = [])), params(CodeListQuery),
    responses(
        (status = 200, body = Vec<Code>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 422, description = "`validation_failed`: limit not 1 to 200, or a negative offset", body = ErrorBody),
    ))]
async fn list_codes(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<CodeListQuery>,
) -> Result<Json<Vec<Code>>, ApiError> {
    let page = Page::parse(query.limit, query.offset)?;
    Ok(Json(state.store.list_codes(page).await?))
}

/// Changes a code's value, limits, window, types or tiers (admin).
#[utoipa::path(patch, path = "/admin/codes/{code_id}", tag = "admin", security(("bearer" = [])),
    params(("code_id" = Uuid, Path, description = "The code's id")), request_body = UpdateCodeRequest,
    responses(
        (status = 200, body = Code),
        (status = 400, description = "`invalid_request`: not JSON, or a field of the wrong type", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: the code as changed breaks a rule of its creation, or `max_uses` below its uses so far", body = ErrorBody),
    ))]
async fn update_code(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(code_id): Path<Uuid>,
    Json(body): Json<UpdateCodeRequest>,
) -> Result<Json<Code>, ApiError> {
    let changes = CodeChanges {
        actor: Some(Actor::from(&admin)),
        value: body.value,
        ticket_types: body.ticket_types,
        tiers: body.tiers,
        max_uses: body.max_uses,
        max_uses_per_user: body.max_uses_per_user,
        valid_from: body.valid_from,
        valid_to: body.valid_to,
    }
    .parse()?;
    Ok(Json(state.store.update_code(code_id, &changes, Utc::now()).await?))
}

/// Deletes a code (admin): it can no longer be applied and its name is free again; a payment
/// already opened with it still counts its use when it confirms.
#[utoipa::path(delete, path = "/admin/codes/{code_id}", tag = "admin", security(("bearer" = [])),
    params(("code_id" = Uuid, Path, description = "The code's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn delete_code(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(code_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_code(code_id, Some(&Actor::from(&admin)), Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A live code by the name a buyer typed, or `invalid_code`.
async fn code_named(state: &AppState, typed: &str) -> Result<Code, ApiError> {
    let unknown = || ApiError::InvalidCode("There is no such code.".into());
    let name = parse_code_name(typed).map_err(|_| unknown())?;
    state.store.code_by_name(&name).await?.ok_or_else(unknown)
}

/// Checks an access code sent with a hold: it must unlock `event_id` at `now` (its presale, and
/// the hidden ticket types it names, or all of them). Answers those hidden types (the event read
/// for them; none for an unknown event, which the hold then refuses).
pub(crate) async fn access_unlocks(
    state: &AppState,
    typed: &str,
    event_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<String>, ApiError> {
    let code = code_named(state, typed).await?;
    code.unlocks_presale(event_id, now).map_err(|refusal| ApiError::InvalidCode(refusal.0))?;
    let Some(event) = state.store.event(event_id, now).await? else { return Ok(Vec::new()) };
    code.unlocked_types(event_id, &event.ticket_types, now).map_err(|refusal| ApiError::InvalidCode(refusal.0))
}

/// The hidden ticket types `typed` (an access code, given with `?access_code=`) unlocks for the
/// event: `invalid_code` for a code that does not unlock it. For listings (`one` false) a code
/// usable for some events only unlocks nothing of the others, and is refused only when unknown.
pub(crate) async fn shown_types(
    state: &AppState,
    typed: Option<&str>,
    events: &mut [Event],
    one: bool,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let code = match typed.map(str::trim).filter(|typed| !typed.is_empty()) {
        Some(typed) => Some(code_named(state, typed).await?),
        None => None,
    };
    for event in events.iter_mut().filter(|e| e.ticket_types.iter().any(|t| t.hidden)) {
        let unlocked = match &code {
            Some(code) => match code.unlocked_types(event.id, &event.ticket_types, now) {
                Ok(unlocked) => unlocked,
                Err(refusal) if one => return Err(ApiError::InvalidCode(refusal.0)),
                Err(_) => Vec::new(),
            },
            None => Vec::new(),
        };
        event.ticket_types = visible_ticket_types(&event.ticket_types, &unlocked);
    }
    Ok(())
}

/// The code a checkout applies: the buyer's `promo_code`, usable for the booking's event now. A
/// booking held before its event's sale opened (a presale hold) must be checked out with an access
/// code of the event, so that its use is counted when the payment confirms.
pub(crate) async fn checkout_code(
    state: &AppState,
    typed: Option<&str>,
    booking: &Booking,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Option<CodeTerms>, ApiError> {
    let presale_hold = event.on_sale_at.is_some_and(|opens| booking.created_at < opens);
    // The hidden types of the booking's held seats: each must be unlocked by the code checked out
    // with, so that its use (counted at confirm, under `max_uses`) limits them.
    let hidden: Vec<&str> = booking
        .reservations
        .iter()
        .filter(|r| r.status == ReservationStatus::Held)
        .filter(|r| event.ticket_types.iter().any(|t| t.hidden && t.name == r.ticket_type))
        .map(|r| r.ticket_type.as_str())
        .collect();
    let unlocking = || {
        ApiError::InvalidCode(
            "Some of these seats are of a ticket type an access code unlocked: check out with that access code.".into(),
        )
    };
    let Some(typed) = typed.filter(|typed| !typed.trim().is_empty()) else {
        if !hidden.is_empty() {
            return Err(unlocking());
        }
        if presale_hold {
            return Err(ApiError::InvalidCode(
                "These seats were held in the presale: check out with the access code they were held with.".into(),
            ));
        }
        return Ok(None);
    };
    let code = code_named(state, typed).await?;
    code.usable_for(booking.event_id, now).map_err(|refusal| ApiError::InvalidCode(refusal.0))?;
    if !hidden.is_empty() {
        let unlocked = code.unlocked_types(booking.event_id, &event.ticket_types, now).map_err(|_| unlocking())?;
        if !hidden.iter().all(|t| unlocked.iter().any(|u| u == t)) {
            return Err(unlocking());
        }
    }
    if presale_hold && code.kind != CodeKind::Access {
        return Err(ApiError::InvalidCode(
            "These seats were held in the presale: check out with the access code they were held with.".into(),
        ));
    }
    Ok(Some(code.terms()))
}
