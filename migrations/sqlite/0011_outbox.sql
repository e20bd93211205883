-- The outbox (SQLite: ids TEXT, times INTEGER milliseconds): messages to people, each written in
-- the same transaction as the change it reports (an account created, a payment confirmed or
-- refunded, seats or an event canceled with their refund, an event moved), delivered at least
-- once by a sender. A sender claims due pending messages by one UPDATE on the writer (counting
-- the attempt and moving next_attempt_at to the end of its lease), then settles its claim only
-- while it is the latest (status 'pending' and the same attempts).
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    -- The account it is for; NULL for a message about an event, fanned out at delivery.
    user_id         TEXT REFERENCES users (id),
    kind            TEXT NOT NULL,
    -- What happened (`MessageFacts` as JSON, its kind included).
    facts           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    CONSTRAINT outbox_sent_at CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
-- The claim: due pending messages, oldest due first, read from this index alone; it holds only
-- the messages still to send, so it stays small however many were sent.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE status = 'pending';
-- The admin list by status (`?status=failed`), newest first.
CREATE INDEX outbox_status_idx ON outbox (status, created_at DESC, id);
