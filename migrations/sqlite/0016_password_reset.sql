-- Issue 22, account recovery (SQLite: ids TEXT, times INTEGER milliseconds).
--
-- A password reset: only the SHA-256 digest of its token is kept (a copy of this table gives no
-- working link). It is bound to the account's token_version when it was issued: the reset's own
-- UPDATE of users requires that version and bumps it, so using one token (or any password
-- change) ends every other token of the account along with every session issued before.
-- Consumed by one conditional UPDATE (`used_at IS NULL AND expires_at > now`): of two confirms of
-- one token exactly one finds it unused.
CREATE TABLE password_resets (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    token_version INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);

-- The reset mail needs the plain token, which the store does not keep: the outbox message carries
-- it in `secret` only until the message is settled (sent or failed), when it is erased.
ALTER TABLE outbox ADD COLUMN secret TEXT;
