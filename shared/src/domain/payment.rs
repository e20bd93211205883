//! Payments: card details parsed at the edge (never stored), payments and their statuses.

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CodeTerms, Invalid, wire_enum};

wire_enum! {
    /// `pending → succeeded → partially_refunded → refunded`, or `pending → failed`.
    PaymentStatus {
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
        Refunded => "refunded",
        PartiallyRefunded => "partially_refunded",
    }
}

/// A payment for one booking. Only the last four digits of the card are ever kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Payment {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub user_id: Uuid,
    pub amount_cents: i64,
    pub currency: String,
    pub status: PaymentStatus,
    pub provider: String,
    pub card_last4: Option<String>,
    pub refunded_cents: i64,
    /// The promo or access code the payment was opened with (upper-cased), if any.
    #[serde(default)]
    pub promo_code: Option<String>,
    /// What the code took off, already out of `amount_cents` (0 without a code).
    #[serde(default)]
    pub discount_cents: i64,
    /// The code's id, for the store's count at confirm; not shown.
    #[serde(skip)]
    pub code_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A payment about to be opened for a held booking; the store computes the amount.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    /// The booking's hold is extended to at least this instant.
    pub hold_until: DateTime<Utc>,
    /// The code the buyer checks out with, already found usable for the booking's event now: the
    /// store spreads its discount over the held seats it applies to (`domain::discount_shares`),
    /// refusing with `InvalidCode` when it applies to none.
    pub code: Option<CodeTerms>,
}

/// Money to give back for seats canceled after they were paid, recorded in the same
/// transaction as the cancellation; the provider is asked to pay it out after the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub payment_id: Uuid,
    pub provider_ref: String,
    pub amount_cents: i64,
}

/// A card as typed at checkout. Its number and CVC live only in memory for one request.
#[derive(Clone)]
pub struct Card {
    number: String,
    pub exp_month: u32,
    pub exp_year: i32,
    cvc: String,
}

impl Card {
    pub fn parse(number: &str, exp_month: u32, exp_year: i32, cvc: &str, now: DateTime<Utc>) -> Result<Self, Invalid> {
        let digits: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new("card_number", "must be 12 to 19 digits"));
        }
        if !luhn_valid(&digits) {
            return Err(Invalid::new("card_number", "is not a valid card number"));
        }
        if !(1..=12).contains(&exp_month) {
            return Err(Invalid::new("exp_month", "must be 1 to 12"));
        }
        let exp_year = if exp_year < 100 { exp_year + 2000 } else { exp_year };
        let expired = (exp_year, exp_month) < (now.year(), now.month());
        if expired || exp_year > now.year() + 30 {
            return Err(Invalid::new("exp_year", "the card has expired or the year is not plausible"));
        }
        if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new("cvc", "must be 3 or 4 digits"));
        }
        Ok(Self { number: digits, exp_month, exp_year, cvc: cvc.to_owned() })
    }

    pub fn number(&self) -> &str {
        &self.number
    }

    pub fn cvc(&self) -> &str {
        &self.cvc
    }

    pub fn last4(&self) -> String {
        self.number[self.number.len() - 4..].to_owned()
    }
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Card(**** {})", self.last4())
    }
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_pass_luhn_and_typos_do_not() {
        let now = Utc::now();
        for number in ["4242 4242 4242 4242", "4000000000000002", "4000-0000-0000-9995"] {
            assert!(Card::parse(number, 12, now.year() + 1, "123", now).is_ok(), "{number}");
        }
        assert_eq!(Card::parse("4242424242424241", 12, now.year() + 1, "123", now).unwrap_err().field, "card_number");
    }

    #[test]
    fn expired_cards_and_bad_cvcs_are_refused() {
        let now = Utc::now();
        assert_eq!(Card::parse("4242424242424242", 1, now.year() - 1, "123", now).unwrap_err().field, "exp_year");
        assert_eq!(Card::parse("4242424242424242", 13, now.year(), "123", now).unwrap_err().field, "exp_month");
        assert_eq!(Card::parse("4242424242424242", 12, now.year() + 1, "12a", now).unwrap_err().field, "cvc");
    }

    #[test]
    fn only_the_last_four_digits_are_shown() {
        let now = Utc::now();
        let card = Card::parse("4242424242424242", 12, now.year() + 1, "123", now).unwrap();
        assert_eq!(card.last4(), "4242");
        assert_eq!(format!("{card:?}"), "Card(**** 4242)");
    }
}
