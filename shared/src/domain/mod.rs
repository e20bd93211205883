//! Domain types and rules: values parsed at the edge, so inside the crate a value that exists is valid.

mod accessible;
mod audit;
mod best_available;
mod catalog;
mod code;
mod layout;
mod layout_document;
mod message;
mod password_reset;
mod payment;
mod queue;
mod report;
mod reservation;
mod sales_report;
mod search;
mod seat_states;
mod ticket;
mod ticket_type;
mod time_zone;
mod user;
mod waitlist;
mod webhook;

pub use accessible::*;
pub use audit::*;
pub use best_available::*;
pub use catalog::*;
pub use code::*;
pub use layout::*;
pub use layout_document::*;
pub use message::*;
pub use password_reset::*;
pub use payment::*;
pub use queue::*;
pub use report::*;
pub use reservation::*;
pub use sales_report::*;
pub use search::*;
pub use seat_states::*;
pub use ticket::*;
pub use ticket_type::*;
pub use time_zone::TimeZone;
pub use user::*;
pub use waitlist::*;
pub use webhook::*;

/// A rule a value broke, naming the field so a client can fix its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// Page of a listing: `limit` 1..=200 (default 50), `offset` from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    pub const DEFAULT_LIMIT: i64 = 50;
    pub const MAX_LIMIT: i64 = 200;

    pub fn parse(limit: Option<i64>, offset: Option<i64>) -> Result<Self, Invalid> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(Invalid::new("limit", format!("must be between 1 and {}", Self::MAX_LIMIT)));
        }
        let offset = offset.unwrap_or(0);
        if offset < 0 {
            return Err(Invalid::new("offset", "must not be negative"));
        }
        Ok(Self { limit, offset })
    }
}

impl Default for Page {
    fn default() -> Self {
        Self { limit: Self::DEFAULT_LIMIT, offset: 0 }
    }
}

/// Declares a string-backed enum with one wire name per variant, used in JSON and in storage alike.
// `$wire:tt`, not `:literal`: a `literal` fragment reaches the derives wrapped in an invisible
// group, which utoipa's `ToSchema` did not read, so the document listed the Rust names (`Movie`)
// instead of the wire names (`movie`) that serde accepts and writes.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::Invalid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::domain::Invalid::new(
                        stringify!($name),
                        format!("unknown value `{s}`; expected one of: {}", [$($wire),+].join(", ")),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;
