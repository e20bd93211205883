-- The waiting room's queue (issue 20): one state row per event with a queue, one entry per
-- (event, account). Joins and admissions run on the writer inside `BEGIN IMMEDIATE`, so they take
-- turns; the unique indexes are the referees behind that. Times are milliseconds.
CREATE TABLE queue_states (
    event_id         TEXT PRIMARY KEY REFERENCES events (id),
    -- Whether the positions of the joiners before the opening were given out (once, in the order
    -- of their draws); joiners after that take `next_position`.
    drawn            INTEGER NOT NULL DEFAULT 0,
    next_position    INTEGER NOT NULL DEFAULT 1,
    -- Every position up to this one has had its turn (admitted, or passed over having left).
    admitted_through INTEGER NOT NULL DEFAULT 0,
    -- The admission pace's clock: turns are credited from here (see `QueuePace`).
    paced_at         INTEGER
);
CREATE TABLE queue_entries (
    event_id        TEXT NOT NULL REFERENCES events (id),
    user_id         TEXT NOT NULL,
    -- The random draw that orders the joiners before the opening.
    draw            INTEGER NOT NULL,
    position        INTEGER,
    joined_at       INTEGER NOT NULL,
    admitted_at     INTEGER,
    session_ends_at INTEGER,
    finished_at     INTEGER,
    PRIMARY KEY (event_id, user_id)
) WITHOUT ROWID;
-- No two places of an event share a position. Partial, so that only a read naming a position
-- (`position > …`, which implies NOT NULL) can take it: a place's read by account probes the
-- primary key, never this index read for the whole event.
CREATE UNIQUE INDEX queue_entries_position_uq ON queue_entries (event_id, position) WHERE position IS NOT NULL;
-- The places still to be drawn at the opening, read in draw order.
CREATE INDEX queue_entries_undrawn_idx ON queue_entries (event_id, draw) WHERE position IS NULL;
-- The active places, counted by every admission.
CREATE INDEX queue_entries_active_idx ON queue_entries (event_id, session_ends_at)
    WHERE admitted_at IS NOT NULL AND finished_at IS NULL;
