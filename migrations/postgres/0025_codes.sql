-- Promo and access codes (issue 21; PostgreSQL: ids uuid, times timestamptz, lists jsonb).
-- A code is stored upper-cased (matched case-insensitively); codes_code_uq keeps one live code per
-- name (a deleted one frees its name). `uses` is counted by the confirm of a payment that carries
-- the code, in the confirm's own transaction, by an UPDATE conditioned on `uses < max_uses`;
-- code_uses counts per account the same way (`uses < max_uses_per_user`).
CREATE TABLE codes (
    id                uuid PRIMARY KEY,
    code              text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('percent', 'fixed', 'access')),
    value             bigint,
    event_id          uuid REFERENCES events (id),
    ticket_types      jsonb NOT NULL DEFAULT '[]',
    tiers             jsonb NOT NULL DEFAULT '[]',
    max_uses          bigint CHECK (max_uses >= 1),
    max_uses_per_user bigint CHECK (max_uses_per_user >= 1),
    valid_from        timestamptz,
    valid_to          timestamptz,
    uses              bigint NOT NULL DEFAULT 0 CHECK (uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)),
    created_at        timestamptz NOT NULL,
    deleted_at        timestamptz
);
CREATE UNIQUE INDEX codes_code_uq ON codes (code) WHERE deleted_at IS NULL;
CREATE INDEX codes_listing_idx ON codes (created_at, id) WHERE deleted_at IS NULL;

CREATE TABLE code_uses (
    code_id uuid NOT NULL REFERENCES codes (id),
    user_id uuid NOT NULL REFERENCES users (id),
    uses    bigint NOT NULL CHECK (uses >= 1),
    PRIMARY KEY (code_id, user_id)
);

-- The code a payment was opened with and what it took off; each seat's share of that discount
-- (what a cancel of the seat does not refund).
ALTER TABLE payments ADD COLUMN code_id uuid REFERENCES codes (id);
ALTER TABLE payments ADD COLUMN code text;
ALTER TABLE payments ADD COLUMN discount_cents bigint NOT NULL DEFAULT 0;
ALTER TABLE reservations ADD COLUMN discount_cents bigint NOT NULL DEFAULT 0;
