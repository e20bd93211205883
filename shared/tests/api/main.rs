//! The HTTP API, in process: the whole `api::app` router driven through `tower::ServiceExt::oneshot`
//! (no sockets), one module per part of API.md, all sharing the `http` harness (a fresh SQLite
//! store per test, request helpers, fixtures). One test binary, so the harness is compiled once
//! and dead code in it is noticed.

mod http;

mod accessible;
mod admin;
mod audit;
mod auth;
mod authz_matrix;
mod bad_input;
mod best_available;
mod catalog;
mod checkin;
mod checkout;
mod codes;
mod errors;
mod gateway;
mod health;
mod idempotency;
mod mail;
mod payments;
mod posters;
mod recovery;
mod reports;
mod reservations;
mod ticket_types;
mod tickets;
mod venue_layouts;
mod waiting_room;
mod waitlist;
mod webhooks;
