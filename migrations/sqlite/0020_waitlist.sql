-- The waiting lists of sold-out events (issue 20). One entry per (event, account), served in the
-- order of `seq` (the event's largest plus one, given under the writer's `BEGIN IMMEDIATE`). An
-- offer is a held booking of the entry's buyer made by the transaction that freed its seats; the
-- entry then says `offered` and names that booking. Times are milliseconds.
CREATE TABLE waitlist_entries (
    event_id      TEXT NOT NULL REFERENCES events (id),
    user_id       TEXT NOT NULL,
    id            TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    seats         INTEGER NOT NULL CHECK (seats BETWEEN 1 AND 10),
    tier          TEXT,
    offer_minutes INTEGER NOT NULL CHECK (offer_minutes > 0),
    status        TEXT NOT NULL CHECK (status IN ('waiting', 'offered')),
    -- How often entries behind it were served with seats it wanted (`domain::plan_offers`).
    passes        INTEGER NOT NULL DEFAULT 0,
    booking_id    TEXT,
    joined_at     INTEGER NOT NULL,
    offered_at    INTEGER,
    PRIMARY KEY (event_id, user_id),
    CHECK ((status = 'offered') = (booking_id IS NOT NULL))
) WITHOUT ROWID;
CREATE UNIQUE INDEX waitlist_entries_seq_uq ON waitlist_entries (event_id, seq);
-- The waiting entries of an event in their order: what every freeing transaction reads, and what
-- counts the entries ahead of one.
CREATE INDEX waitlist_entries_waiting_idx ON waitlist_entries (event_id, seq) WHERE status = 'waiting';
