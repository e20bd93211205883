-- A password change bumps token_version; a token carries the version it was issued at, and one
-- issued before the change is refused on its next request (the account is read on every request).
ALTER TABLE users ADD COLUMN token_version bigint NOT NULL DEFAULT 0;
