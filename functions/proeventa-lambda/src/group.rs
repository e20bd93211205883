//! The endpoint groups, one per Lambda function: the name a function goes by everywhere and the
//! router it serves.

use axum::Router;
use axum::routing::MethodRouter;
use proeventa_core::api;
use proeventa_core::api::AppState;
use proeventa_core::store::Writes;
use utoipa_axum::router::OpenApiRouter;

/// One endpoint group of the API, served by one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// `/auth/*`
    Auth,
    /// `/events/*`
    Catalog,
    /// `/reservations/*` but the tickets
    Reservations,
    /// `/reservations/tickets/*` and `/reservations/bookings/{booking_id}/tickets.pdf`: a buyer's
    /// tickets, apart from the holds so that the PDF, QR and calendar code stays out of the hold
    /// path's function (its bootstrap was within 36 KB of the 15 MB limit with them).
    Tickets,
    /// `/payments/*`
    Payments,
    /// `/checkin/*`
    Checkin,
    /// `/queue/*`
    Queue,
    /// `/admin/*`
    Admin,
    /// `/`, `/health`, `/openapi.json`, `/docs`, `/redoc`
    Meta,
}

impl Group {
    /// Whether the group's routes take bearer tokens (and so its function needs `JWT_SECRET`).
    pub fn checks_tokens(self) -> bool {
        !matches!(self, Group::Meta)
    }

    /// Whether the group's routes issue ticket codes or check them (and so its function needs
    /// `TICKET_SIGNING_KEY`, the same in every function that has it).
    pub fn serves_tickets(self) -> bool {
        matches!(self, Group::Tickets | Group::Checkin)
    }

    /// The store writes the group's handlers make (the store traits whose writing methods they
    /// call), from which its function's DynamoDB policy follows: it may write the kinds of items
    /// these write, and no other (`functions/proeventa-lambda/tests/infra/cloud_edge.rs`).
    pub fn store_writes(self) -> &'static [Writes] {
        match self {
            // An admin's change of an account writes its audit entry.
            Group::Auth => &[Writes::Accounts, Writes::Limits, Writes::Audit],
            // The waiting lists live under `/events/events/{id}/waitlist`.
            Group::Catalog => &[Writes::Catalog, Writes::Idempotency, Writes::Waitlist, Writes::Audit],
            // An admin's cancel of a buyer's paid seats writes the refund's audit entry.
            Group::Reservations => &[Writes::Holds, Writes::Idempotency, Writes::Limits, Writes::Audit],
            // Reads only: confirm issues the tickets, cancels revoke them.
            Group::Tickets => &[],
            // A sale ends the buyer's waiting-room session.
            Group::Payments => &[Writes::Payments, Writes::Idempotency, Writes::Limits, Writes::QueueFinish],
            // The door's reads (summary, manifest, the public key) write nothing.
            Group::Checkin => &[Writes::CheckIn],
            // A join puts a place; admission is the pace's (job-expire-holds), a poll only reads.
            Group::Queue => &[Writes::Queue],
            // A resend puts a failed message back to pending, with its audit entry; webhook
            // endpoints and replays; promo and access codes.
            Group::Admin => &[Writes::Messages, Writes::Audit, Writes::Webhooks, Writes::Codes],
            Group::Meta => &[],
        }
    }
}

impl Group {
    pub const ALL: [Group; 9] = [
        Group::Auth,
        Group::Catalog,
        Group::Reservations,
        Group::Tickets,
        Group::Payments,
        Group::Checkin,
        Group::Queue,
        Group::Admin,
        Group::Meta,
    ];

    /// The function's package, binary and `cargo lambda watch` name.
    pub fn function_name(self) -> &'static str {
        match self {
            Group::Auth => "api-auth",
            Group::Catalog => "api-catalog",
            Group::Reservations => "api-reservations",
            Group::Tickets => "api-tickets",
            Group::Payments => "api-payments",
            Group::Checkin => "api-checkin",
            Group::Queue => "api-queue",
            Group::Admin => "api-admin",
            Group::Meta => "api-meta",
        }
    }

    /// The function's logical id in `infra/template.yaml`.
    pub fn logical_id(self) -> &'static str {
        match self {
            Group::Auth => "ApiAuthFunction",
            Group::Catalog => "ApiCatalogFunction",
            Group::Reservations => "ApiReservationsFunction",
            Group::Tickets => "ApiTicketsFunction",
            Group::Payments => "ApiPaymentsFunction",
            Group::Checkin => "ApiCheckinFunction",
            Group::Queue => "ApiQueueFunction",
            Group::Admin => "ApiAdminFunction",
            Group::Meta => "ApiMetaFunction",
        }
    }

    /// The group's documented routes, exactly as `proeventa serve` mounts them.
    ///
    /// Inlined into each function's `main`, where the group is a constant, so the match folds
    /// away and a function's bootstrap links only its own group's handlers (and what they use:
    /// the PDF and QR code of tickets, the image codecs of posters, the password hashing of
    /// accounts), not every group's.
    #[inline(always)]
    pub fn routes(self) -> OpenApiRouter<AppState> {
        match self {
            Group::Auth => api::auth::routes(),
            Group::Catalog => api::catalog::routes(),
            Group::Reservations => api::reservations::routes(),
            Group::Tickets => api::tickets::routes(),
            Group::Payments => api::payments::routes(),
            Group::Checkin => api::checkin::routes(),
            Group::Queue => api::queue::routes(),
            Group::Admin => api::admin::routes(),
            Group::Meta => api::meta::routes(),
        }
    }

    /// The router the function serves: the group's routes (for the gateway group also Swagger UI
    /// and the other groups' paths, see below) under the layers every response of the API shares.
    pub fn app(self, state: AppState) -> Router {
        Self::serve(self.router(), state)
    }

    /// The group's router before its state is known (see `app`). Like `routes`, inlined where the
    /// group is a constant.
    #[inline(always)]
    pub fn router(self) -> Router<AppState> {
        let (router, _) = self.routes().split_for_parts();
        if self == Group::Meta { router.merge(api::meta::swagger_ui()).merge(other_groups_paths()) } else { router }
    }

    /// A group's router under the layers every response of the API shares, with its state.
    pub fn serve(router: Router<AppState>, state: AppState) -> Router {
        // Outermost: the invocation's metrics leave as EMF lines once it is answered.
        api::with_layers(router, &state).with_state(state).layer(axum::middleware::map_response(flush_metrics))
    }
}

/// Writes the metrics recorded so far as EMF lines (`crate::emf`), after each answer.
async fn flush_metrics(response: axum::response::Response) -> axum::response::Response {
    crate::emf::flush();
    response
}

/// In the cloud, api-meta gets every request no template route matches (the `$default` route),
/// including a known path with a method it lacks (`DELETE /auth/me`). Knowing the other groups'
/// paths, with no method, it answers those with the API's 405 as `proeventa serve` does, and
/// anything else with its 404; it never runs another group's handler, and does not link them.
fn other_groups_paths() -> Router<AppState> {
    api::meta::other_groups_paths().iter().fold(Router::new(), |router, path| router.route(path, MethodRouter::new()))
}
