//! `/admin/audit`: the audit log (issue 21), every admin action with who, when, what and the
//! changed fields before and after, newest first. Admins only. The rows are written by the
//! changes themselves (each admin route hands its `Actor` to the store call), never here.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::catalog::parse_time_bound;
use super::{Json, Query};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::AdminUser;
use crate::api::state::AppState;
use crate::domain::{AuditEntry, AuditFilter, Invalid, Page, parse_audit_entity};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `<kind>` (`event`, `venue`, `user`, `payment`, `message`, `webhook`) or `<kind>:<id>`: one entity's entries.
    #[param(example = "event:6f1c1f9e-2b8a-4a8e-9a55-0d6f2e1b7c11")]
    pub entity: Option<String>,
    /// Only what this admin (an account id) did.
    pub actor: Option<Uuid>,
    /// Entries at or after this time (RFC 3339; a date alone is its start, UTC).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub from: Option<String>,
    /// Entries at or before this time (RFC 3339; a date alone is its end, UTC).
    #[param(example = "2026-12-31T23:59:59Z")]
    pub to: Option<String>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// The audit log, newest first (admin): every admin action (events created, changed and canceled,
/// venues created and changed, accounts' roles and disabling, messages resent, webhook endpoints
/// registered and deleted) with its admin, time, entity and the changed fields before and after.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses(
        (status = 200, body = Vec<AuditEntry>),
        (status = 400, description = "`invalid_request`: an actor that is not a UUID, a time that is not RFC 3339", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: customers and staff", body = ErrorBody),
        (status = 422, description = "`validation_failed`: an unknown entity kind or an id that is not a UUID, `from` after `to`, limit or offset out of range", body = ErrorBody),
    ))]
async fn list_audit(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let page = Page::parse(query.limit, query.offset)?;
    let (entity_kind, entity_id) = match query.entity.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(raw) => {
            let (kind, id) = parse_audit_entity(raw)?;
            (Some(kind), id)
        }
        None => (None, None),
    };
    let from = query.from.as_deref().map(|raw| parse_time_bound(raw, "from", false)).transpose()?;
    let to = query.to.as_deref().map(|raw| parse_time_bound(raw, "to", true)).transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(Invalid::new("from", "must not be after `to`").into());
    }
    let filter = AuditFilter { entity_kind, entity_id, actor_id: query.actor, from, to, page };
    Ok(Json(state.store.list_audit(&filter).await?))
}
