//! The one extension of a booking's hold on PostgreSQL, in one transaction: the booking row is
//! marked by a conditional `UPDATE … WHERE extended_at IS NULL` that also requires a running hold
//! (its row lock makes a second extension wait, then find the mark and change nothing), then the
//! booking's running holds are locked in id order (as every writer takes a booking's seats) and
//! moved on by the extension. The sweeper expires only holds whose `expires_at` has passed, so an
//! extended hold is out of its reach until the new time.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::holds::fetch_booking;
use super::{PostgresStore, TxError, retry_deadlocks, settle};
use crate::domain::{Booking, HoldExtension};
use crate::store::{StoreError, extension_refusal};

/// Marks booking `$1` extended at `$2`, only when it was not and one of its holds still runs then.
/// The hold probe reads the booking's rows through `reservations_booking_idx`, as checkout does.
pub(super) const MARK_EXTENDED_SQL: &str = "
UPDATE bookings SET extended_at = $2
WHERE id = $1 AND extended_at IS NULL
  AND EXISTS (
      SELECT 1 FROM reservations r
      WHERE r.booking_id = $1 AND (r.status = 'held' AND r.expires_at > $2) IS TRUE
  )";

/// Moves booking `$1`'s holds running at `$2` on by `$3`, locking them in id order first.
pub(super) const EXTEND_HOLDS_SQL: &str = "
WITH held AS (
    SELECT id FROM reservations
    WHERE id = ANY (ARRAY(
            SELECT id FROM reservations WHERE booking_id = $1 AND (status = 'held' AND expires_at > $2) IS TRUE
          ))
      AND (status = 'held' AND expires_at > $2) IS TRUE
    ORDER BY id
    FOR UPDATE
)
UPDATE reservations r SET expires_at = r.expires_at + $3, updated_at = $2
WHERE r.id = ANY (ARRAY(SELECT id FROM held))";

/// Whether booking `$1` was extended (no row: no such booking).
const EXTENDED_SQL: &str = "SELECT extended_at IS NOT NULL FROM bookings WHERE id = $1";

impl PostgresStore {
    pub(super) async fn extend_booking_hold(
        &self,
        id: Uuid,
        extension: HoldExtension,
        now: DateTime<Utc>,
    ) -> Result<Booking, StoreError> {
        let outcome = retry_deadlocks(|| Box::pin(self.extend_once(id, extension, now))).await;
        settle(outcome, "extending the hold")
    }

    async fn extend_once(&self, id: Uuid, extension: HoldExtension, now: DateTime<Utc>) -> Result<Booking, TxError> {
        let mut tx = self.pool.begin().await?;
        let marked = sqlx::query(MARK_EXTENDED_SQL).bind(id).bind(now).execute(&mut *tx).await?.rows_affected();
        if marked == 0 {
            tx.rollback().await?;
            let extended: Option<bool> = sqlx::query_scalar(EXTENDED_SQL).bind(id).fetch_optional(&self.pool).await?;
            let booking = fetch_booking(&self.pool, id, now).await?;
            return Err(extension_refusal(booking.as_ref(), extended.unwrap_or(false)).into());
        }
        sqlx::query(EXTEND_HOLDS_SQL).bind(id).bind(now).bind(extension.duration()).execute(&mut *tx).await?;
        let booking = fetch_booking(&mut *tx, id, now).await?;
        tx.commit().await?;
        booking.ok_or_else(|| StoreError::Internal("an extended booking without seats".into()).into())
    }
}
