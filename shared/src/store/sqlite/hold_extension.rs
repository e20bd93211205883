//! The one extension of a booking's hold on SQLite, in one `BEGIN IMMEDIATE` transaction on the
//! single writer: the booking is marked by a conditional `UPDATE … WHERE extended_at IS NULL` that
//! also requires a running hold, then its running holds are moved on by the extension. A second
//! extension finds the mark and changes nothing; the sweeper expires only holds whose time has
//! passed, so an extended hold is out of its reach until the new time.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::SqliteStore;
use super::holds::load_booking;
use super::rows::{id_text, millis};
use crate::domain::{Booking, HoldExtension};
use crate::store::{StoreError, StoreResult, extension_refusal};

/// Marks a booking extended (binds: now, booking, booking, now), only when it was not and one of
/// its holds still runs; the probe reads the booking's rows through its index, as checkout does.
pub(super) const MARK_EXTENDED_SQL: &str = "UPDATE bookings SET extended_at = ? \
     WHERE id = ? AND extended_at IS NULL AND EXISTS ( \
         SELECT 1 FROM reservations INDEXED BY reservations_booking_idx \
         WHERE booking_id = ? AND status = 'held' AND expires_at > ?)";

/// Moves a booking's running holds on (binds: milliseconds, now, booking, now). The
/// `status IN (...)` term repeats the partial index's condition, as checkout's does.
pub(super) const EXTEND_HOLDS_SQL: &str = "UPDATE reservations INDEXED BY reservations_booking_idx \
     SET expires_at = expires_at + ?, updated_at = ? \
     WHERE booking_id = ? AND status IN ('held', 'confirmed') AND status = 'held' AND expires_at > ?";

/// Whether a booking was extended (no row: no such booking).
const EXTENDED_SQL: &str = "SELECT extended_at IS NOT NULL AS extended FROM bookings WHERE id = ?";

impl SqliteStore {
    pub(super) async fn extend_booking_hold(
        &self,
        id: Uuid,
        extension: HoldExtension,
        now: DateTime<Utc>,
    ) -> StoreResult<Booking> {
        let (booking_id, now_ms) = (id_text(id), millis(now));
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let marked = sqlx::query(MARK_EXTENDED_SQL)
            .bind(now_ms)
            .bind(&booking_id)
            .bind(&booking_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if marked == 0 {
            let extended = sqlx::query(EXTENDED_SQL).bind(&booking_id).fetch_optional(&mut *tx).await?;
            let extended = match extended {
                Some(row) => row.try_get::<bool, _>("extended")?,
                None => false,
            };
            let booking = load_booking(&mut tx, id, now).await?;
            return Err(extension_refusal(booking.as_ref(), extended));
        }
        sqlx::query(EXTEND_HOLDS_SQL)
            .bind(extension.duration().num_milliseconds())
            .bind(now_ms)
            .bind(&booking_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        let booking = load_booking(&mut tx, id, now).await?;
        tx.commit().await?;
        booking.ok_or_else(|| StoreError::Internal("an extended booking without seats".into()))
    }
}
