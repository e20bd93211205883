//! Users: e-mail addresses, passwords, roles and the public view of an account.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Invalid, wire_enum};

wire_enum! {
    /// What an account may do: every signup is a `customer`; `staff` (made by an admin) scan
    /// tickets at the door and see its counts; admins run the catalog, oversee sales and may do
    /// everything staff do.
    Role { Customer => "customer", Staff => "staff", Admin => "admin" }
}

/// An e-mail address, trimmed and lowercased, that looks like one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let email = raw.trim().to_lowercase();
        let bad = || Invalid::new("email", "must be an e-mail address like name@example.com");
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = email.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(bad());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed: 8 to 128 characters. Never printed, never stored.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: String) -> Result<Self, Invalid> {
        let n = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(Invalid::new(
                "password",
                format!("must be {} to {} characters long", Self::MIN_CHARS, Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A display name: trimmed, at most 100 characters.
pub fn parse_name(raw: Option<&str>) -> Result<String, Invalid> {
    let name = raw.unwrap_or("").trim();
    if name.chars().count() > 100 {
        return Err(Invalid::new("name", "must be at most 100 characters"));
    }
    Ok(name.to_owned())
}

/// The public view of an account. It never carries password material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// Bumped by every password change; a token issued at another version is refused. Never
    /// shown: it is not part of the API's `User`.
    #[serde(skip)]
    pub token_version: i64,
}

/// An account about to be created, with its password already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// The admin making the change (role, disabled): the store writes its audit row with it (none:
    /// the account's own change, not audited).
    pub actor: Option<super::Actor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(Email::parse("  Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
    }

    #[test]
    fn email_without_at_or_domain_dot_is_refused() {
        for bad in ["ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@.com", "ann@ex..com"] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn password_length_is_8_to_128_chars() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("é".repeat(128)).is_ok());
        assert!(Password::parse("x".repeat(129)).is_err());
    }

    #[test]
    fn password_debug_hides_the_secret() {
        assert_eq!(format!("{:?}", Password::parse("hunter22hunter".into()).unwrap()), "Password(***)");
    }
}
