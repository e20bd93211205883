-- Declined cards counted on each payment (card testing): the store increments it in one conditional
-- write while the payment is pending, and the MAX_DECLINES_PER_PAYMENT-th decline fails the payment
-- and frees its seats in the same transaction.
ALTER TABLE payments ADD COLUMN declines INTEGER NOT NULL DEFAULT 0 CHECK (declines >= 0);
