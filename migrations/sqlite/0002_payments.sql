-- Payments for bookings (SQLite: ids TEXT, times INTEGER milliseconds). payments_booking_open_uq keeps one open payment per booking (a failed
-- one may be followed by another); card numbers and CVCs are never stored, only the last four digits.

CREATE TABLE payments (
    id             TEXT PRIMARY KEY,
    booking_id     TEXT NOT NULL REFERENCES bookings (id),
    user_id        TEXT NOT NULL REFERENCES users (id),
    amount_cents   INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded', 'partially_refunded')),
    provider       TEXT NOT NULL,
    provider_ref   TEXT,
    card_last4     TEXT,
    refunded_cents INTEGER NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX payments_booking_open_uq ON payments (booking_id) WHERE status <> 'failed';
CREATE INDEX payments_user_idx ON payments (user_id, created_at DESC);

CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
);
