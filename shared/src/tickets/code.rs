//! The signed code a ticket's QR carries, and the key that signs and checks it.
//!
//! A code is `PE1.` followed by base64url without padding (RFC 4648 §5) of
//!
//! ```text
//! ticket_id (16 bytes) || event_id (16 bytes) || seat label (UTF-8, 1 to 64 bytes) || signature (64 bytes)
//! ```
//!
//! where the seat label is `SeatLabel::on_ticket()` ("Row C · Seat 12"; cut at a character
//! boundary to 64 bytes should a row name be that long) and the signature is Ed25519 (RFC 8032,
//! verified strictly) over
//!
//! ```text
//! b"proeventa-ticket\0" || version (1 byte, 1 for `PE1.`) || the payload bytes before the signature
//! ```
//!
//! The label's length is whatever lies between the ids and the signature, so a code is 128 to 214
//! characters: small enough for a QR of version 10 or so at error correction M. The door page
//! checks the same code in the browser with WebCrypto's Ed25519 and the public key served by the
//! API, so a gate with no network still refuses a forged code. Changing anything here (prefix,
//! domain string, layout) is a new version with a new prefix, never an edit of this one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Invalid, Ticket};

/// The only version of the code so far, and the prefix that names it.
const VERSION: u8 = 1;
const PREFIX: &str = "PE1.";
/// Signed before the payload, so a signature made by this key for anything else is never a ticket.
const DOMAIN: &[u8] = b"proeventa-ticket\0";
const ID_BYTES: usize = 16;
const IDS_BYTES: usize = 2 * ID_BYTES;
const SIGNATURE_BYTES: usize = 64;
/// The longest seat label a code carries, in UTF-8 bytes.
pub const MAX_LABEL_BYTES: usize = 64;
const SEED_HEX_DIGITS: usize = 64;

/// The key that signs ticket codes (`TICKET_SIGNING_KEY`) and checks them.
pub struct TicketKeys {
    signing: SigningKey,
    verifying: VerifyingKey,
    public: PublicTicketKey,
}

/// The public half, served to scanners so they can check a code with no network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PublicTicketKey {
    /// Always "Ed25519".
    #[schema(example = "Ed25519")]
    pub algorithm: &'static str,
    /// The first 8 base64url characters of the SHA-256 of the public key: names the key, so a
    /// scanner holding an older one can tell it needs the new one.
    pub key_id: String,
    /// The 32-byte Ed25519 public key, base64url without padding.
    pub public_key: String,
}

/// What a verified code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketClaims {
    pub ticket_id: Uuid,
    pub event_id: Uuid,
    pub seat_label: String,
    pub version: u8,
}

/// A code that is not a ticket signed by this key. Deliberately says no more about why: the
/// reason helps only whoever is forging one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("This is not a ProEventa ticket code signed for this site: it was altered, cut short or made elsewhere.")]
pub struct InvalidCode;

impl TicketKeys {
    /// `TICKET_SIGNING_KEY`: 64 hex digits, the 32-byte Ed25519 seed.
    pub fn from_secret(secret: &str) -> Result<Self, Invalid> {
        let seed = seed_of(secret)?;
        let signing = SigningKey::from_bytes(&seed);
        let verifying = signing.verifying_key();
        let public = PublicTicketKey {
            algorithm: "Ed25519",
            key_id: key_id(verifying.as_bytes()),
            public_key: URL_SAFE_NO_PAD.encode(verifying.as_bytes()),
        };
        Ok(Self { signing, verifying, public })
    }

    /// A new random secret in that form (for `proeventa serve`'s local key file and tests).
    pub fn generate_secret() -> String {
        let mut seed = [0u8; 32];
        // The kernel's generator failing is not something a caller could recover from.
        getrandom::fill(&mut seed).expect("the operating system's random number generator failed");
        crate::hex::encode(&seed)
    }

    pub fn public_key(&self) -> PublicTicketKey {
        self.public.clone()
    }

    /// The exact string the QR carries.
    pub fn code(&self, ticket: &Ticket) -> String {
        let label = ticket.seat.on_ticket();
        let label = truncated(&label, MAX_LABEL_BYTES);
        let mut payload = Vec::with_capacity(IDS_BYTES + label.len() + SIGNATURE_BYTES);
        payload.extend_from_slice(ticket.id.as_bytes());
        payload.extend_from_slice(ticket.event_id.as_bytes());
        payload.extend_from_slice(label.as_bytes());
        let signature = self.signing.sign(&signed_message(&payload));
        payload.extend_from_slice(&signature.to_bytes());
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&payload))
    }

    /// Verifies the signature and parses; any altered, foreign-key, truncated or garbage code is Err.
    pub fn verify(&self, code: &str) -> Result<TicketClaims, InvalidCode> {
        let encoded = code.strip_prefix(PREFIX).ok_or(InvalidCode)?;
        // Longer than any code: refused before decoding anything.
        if encoded.len() > URL_SAFE_NO_PAD_LEN_MAX {
            return Err(InvalidCode);
        }
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| InvalidCode)?;
        if bytes.len() <= IDS_BYTES + SIGNATURE_BYTES || bytes.len() > IDS_BYTES + MAX_LABEL_BYTES + SIGNATURE_BYTES {
            return Err(InvalidCode);
        }
        let (payload, signature) = bytes.split_at(bytes.len() - SIGNATURE_BYTES);
        let signature = Signature::from_slice(signature).map_err(|_| InvalidCode)?;
        self.verifying.verify_strict(&signed_message(payload), &signature).map_err(|_| InvalidCode)?;
        let (ids, label) = payload.split_at(IDS_BYTES);
        let (ticket_id, event_id) = ids.split_at(ID_BYTES);
        Ok(TicketClaims {
            ticket_id: Uuid::from_slice(ticket_id).map_err(|_| InvalidCode)?,
            event_id: Uuid::from_slice(event_id).map_err(|_| InvalidCode)?,
            seat_label: String::from_utf8(label.to_vec()).map_err(|_| InvalidCode)?,
            version: VERSION,
        })
    }
}

/// The base64url length of the longest payload.
const URL_SAFE_NO_PAD_LEN_MAX: usize = (IDS_BYTES + MAX_LABEL_BYTES + SIGNATURE_BYTES).div_ceil(3) * 4;

impl std::fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The seed stays out of logs; the key id says which key this is.
        f.debug_struct("TicketKeys").field("key_id", &self.public.key_id).finish_non_exhaustive()
    }
}

/// The 32-byte seed of a `TICKET_SIGNING_KEY`.
fn seed_of(secret: &str) -> Result<[u8; 32], Invalid> {
    let refused = || {
        Invalid::new(
            "TICKET_SIGNING_KEY",
            format!(
                "must be {SEED_HEX_DIGITS} hex digits, the 32-byte Ed25519 seed (make one with `openssl rand -hex 32`)"
            ),
        )
    };
    let secret = secret.trim();
    if secret.len() != SEED_HEX_DIGITS {
        return Err(refused());
    }
    crate::hex::decode(secret).and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()).ok_or_else(refused)
}

/// Checks a `TICKET_SIGNING_KEY` without keeping the key (the configuration's check).
pub fn check_secret(secret: &str) -> Result<(), Invalid> {
    seed_of(secret).map(|_| ())
}

fn signed_message(payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(DOMAIN.len() + 1 + payload.len());
    message.extend_from_slice(DOMAIN);
    message.push(VERSION);
    message.extend_from_slice(payload);
    message
}

fn key_id(public_key: &[u8]) -> String {
    let mut id = URL_SAFE_NO_PAD.encode(Sha256::digest(public_key));
    id.truncate(8);
    id
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let end = (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::test_ticket as ticket;

    fn keys() -> TicketKeys {
        TicketKeys::from_secret(&TicketKeys::generate_secret()).unwrap()
    }

    #[test]
    fn a_signed_code_verifies_to_its_ticket() {
        let keys = keys();
        let ticket = ticket("C", 12);
        let code = keys.code(&ticket);
        assert!(code.starts_with("PE1."), "{code}");
        assert!(code[4..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "URL-safe: {code}");
        let claims = keys.verify(&code).unwrap();
        assert_eq!(
            claims,
            TicketClaims {
                ticket_id: ticket.id,
                event_id: ticket.event_id,
                seat_label: "Row C · Seat 12".into(),
                version: 1
            }
        );
    }

    #[test]
    fn the_signature_covers_the_domain_the_version_and_the_payload_exactly() {
        let keys = keys();
        let ticket = ticket("C", 12);
        let code = keys.code(&ticket);
        let bytes = URL_SAFE_NO_PAD.decode(&code[4..]).unwrap();
        let (payload, signature) = bytes.split_at(bytes.len() - 64);
        let mut message = b"proeventa-ticket\0\x01".to_vec();
        message.extend_from_slice(payload);
        let public = URL_SAFE_NO_PAD.decode(keys.public_key().public_key).unwrap();
        let public = VerifyingKey::from_bytes(&public.try_into().unwrap()).unwrap();
        public.verify_strict(&message, &Signature::from_slice(signature).unwrap()).unwrap();
        assert_eq!(&payload[..16], ticket.id.as_bytes());
        assert_eq!(&payload[16..32], ticket.event_id.as_bytes());
        assert_eq!(&payload[32..], "Row C · Seat 12".as_bytes());
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let keys = keys();
        let code = keys.code(&ticket("C", 12));
        let bytes = URL_SAFE_NO_PAD.decode(&code[4..]).unwrap();
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            let altered = format!("PE1.{}", URL_SAFE_NO_PAD.encode(&altered));
            assert_eq!(keys.verify(&altered), Err(InvalidCode), "byte {i} altered");
        }
    }

    #[test]
    fn a_code_of_another_key_is_refused() {
        let code = keys().code(&ticket("C", 12));
        assert_eq!(keys().verify(&code), Err(InvalidCode));
    }

    #[test]
    fn truncated_garbage_and_misprefixed_codes_are_refused() {
        let keys = keys();
        let code = keys.code(&ticket("C", 12));
        for cut in [code.len() - 1, code.len() - 4, 100, 4, 0] {
            assert_eq!(keys.verify(&code[..cut]), Err(InvalidCode), "cut to {cut}");
        }
        let garbage = ["", "PE1.", "hello", "PE1.!!!!", "PE1.AAAA", &format!("PE1.{}", "A".repeat(5000))];
        for garbage in garbage {
            assert_eq!(keys.verify(garbage), Err(InvalidCode), "{garbage}");
        }
        for prefix in ["PE2.", "pe1.", "PE1:", ""] {
            assert_eq!(keys.verify(&format!("{prefix}{}", &code[4..])), Err(InvalidCode), "{prefix}");
        }
        assert_eq!(keys.verify(&format!("{code}=")), Err(InvalidCode), "padding");
        assert_eq!(keys.verify(&format!("{code} ")), Err(InvalidCode), "trailing space");
    }

    #[test]
    fn a_validly_signed_label_that_is_not_utf8_is_refused() {
        let keys = keys();
        let mut payload = vec![7u8; 32];
        payload.extend_from_slice(&[0xff, 0xfe]);
        let signature = keys.signing.sign(&signed_message(&payload));
        payload.extend_from_slice(&signature.to_bytes());
        assert_eq!(keys.verify(&format!("PE1.{}", URL_SAFE_NO_PAD.encode(&payload))), Err(InvalidCode));
    }

    #[test]
    fn a_long_label_is_cut_on_a_character_boundary() {
        let keys = keys();
        let row = "É".repeat(40);
        let claims = keys.verify(&keys.code(&ticket(&row, 7))).unwrap();
        assert!(claims.seat_label.len() <= MAX_LABEL_BYTES && claims.seat_label.len() >= MAX_LABEL_BYTES - 1);
        assert!(format!("Row {row} · Seat 7").starts_with(&claims.seat_label));
    }

    #[test]
    fn the_secret_is_64_hex_digits_and_names_its_key() {
        let secret = TicketKeys::generate_secret();
        assert_eq!(secret.len(), 64);
        assert_ne!(secret, TicketKeys::generate_secret());
        let a = TicketKeys::from_secret(&secret).unwrap();
        let b = TicketKeys::from_secret(&secret.to_uppercase()).unwrap();
        assert_eq!(a.public_key(), b.public_key(), "one seed, one key");
        let public = a.public_key();
        assert_eq!(public.algorithm, "Ed25519");
        assert_eq!(public.key_id.len(), 8);
        assert_eq!(URL_SAFE_NO_PAD.decode(&public.public_key).unwrap().len(), 32);
        for refused in ["", "abc", &"g".repeat(64), &"a".repeat(62), &"a".repeat(66)] {
            let err = TicketKeys::from_secret(refused).unwrap_err();
            assert_eq!(err.field, "TICKET_SIGNING_KEY");
        }
        assert!(!format!("{a:?}").contains(&secret), "Debug leaves the seed out");
    }

    #[test]
    fn a_known_seed_gives_the_rfc_8032_public_key() {
        // RFC 8032 §7.1, TEST 1.
        let keys = TicketKeys::from_secret("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
        let public = URL_SAFE_NO_PAD.decode(keys.public_key().public_key).unwrap();
        assert_eq!(crate::hex::encode(&public), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    }
}
