-- Attempt counters of the rate limits (logins and password checks, signups, reserves, card
-- declines), one row per key, shared by every process on the file. Each key counts in a fixed
-- window that starts with its first attempt after the previous one ended (epoch milliseconds).
CREATE TABLE rate_limits (
    key         TEXT PRIMARY KEY,
    attempts    INTEGER NOT NULL,
    window_ends INTEGER NOT NULL
) WITHOUT ROWID;
-- The sweeper forgets ended windows by this index.
CREATE INDEX rate_limits_window_ends_idx ON rate_limits (window_ends);
