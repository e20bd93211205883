-- Issue 22, account recovery.
--
-- A password reset: only the SHA-256 digest of its token is kept (a copy of this table gives no
-- working link). It is bound to the account's token_version when it was issued: the reset's own
-- UPDATE of users requires that version and bumps it, so using one token (or any password
-- change) ends every other token of the account along with every session issued before.
-- Consumed by one conditional UPDATE (`used_at IS NULL AND expires_at > now`, under the row's
-- lock): of two confirms of one token exactly one finds it unused.
CREATE TABLE password_resets (
    token_hash    text PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id),
    token_version bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);

-- The reset mail needs the plain token, which the store does not keep: the outbox message carries
-- it in `secret` only until the message is settled (sent or failed), when it is erased.
ALTER TABLE outbox ADD COLUMN secret text;
