-- Attempt counters of the rate limits (logins and password checks, signups, reserves, card
-- declines), one row per key, shared by every process on the database. Each key counts in a
-- fixed window that starts with its first attempt after the previous one ended.
-- UNLOGGED: a counter is written on hot paths (every reserve) and needs no crash safety (a crash
-- forgets at most one window's counts), so it skips the write-ahead log and its flush.
CREATE UNLOGGED TABLE rate_limits (
    key         text PRIMARY KEY,
    attempts    bigint NOT NULL,
    window_ends timestamptz NOT NULL
);
-- The sweeper forgets ended windows by this index; counting never changes it within a window,
-- so those updates stay heap-only.
CREATE INDEX rate_limits_window_ends_idx ON rate_limits (window_ends);
