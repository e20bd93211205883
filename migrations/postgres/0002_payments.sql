-- Payments for bookings. payments_booking_open_uq keeps one open payment per booking (a failed
-- one may be followed by another); card numbers and CVCs are never stored, only the last four digits.

CREATE TABLE payments (
    id             uuid PRIMARY KEY,
    booking_id     uuid NOT NULL REFERENCES bookings (id),
    user_id        uuid NOT NULL REFERENCES users (id),
    amount_cents   bigint NOT NULL CHECK (amount_cents >= 0),
    currency       text NOT NULL,
    status         text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded', 'partially_refunded')),
    provider       text NOT NULL,
    provider_ref   text,
    card_last4     text,
    refunded_cents bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX payments_booking_open_uq ON payments (booking_id) WHERE status <> 'failed';
CREATE INDEX payments_user_idx ON payments (user_id, created_at DESC);

CREATE TABLE webhook_events (
    id          text PRIMARY KEY,
    received_at timestamptz NOT NULL
);
