-- The outbox (PostgreSQL: ids uuid, times timestamptz, facts jsonb): messages to people, each
-- written in the same transaction as the change it reports (an account created, a payment
-- confirmed or refunded, seats or an event canceled with their refund, an event moved), delivered
-- at least once by a sender. A sender claims due pending messages by one UPDATE of the rows it
-- locks with FOR UPDATE SKIP LOCKED (so senders at once take different ones), counting the
-- attempt and moving next_attempt_at to the end of its lease, then settles its claim only while
-- it is the latest (status 'pending' and the same attempts).
CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    -- The account it is for; NULL for a message about an event, fanned out at delivery.
    user_id         uuid REFERENCES users (id),
    kind            text NOT NULL,
    -- What happened (`MessageFacts` as JSON, its kind included).
    facts           jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    CONSTRAINT outbox_sent_at CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
-- The claim: due pending messages, oldest due first, read from this index alone; it holds only
-- the messages still to send, so it stays small however many were sent.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE status = 'pending';
-- The admin list by status (`?status=failed`), newest first.
CREATE INDEX outbox_status_idx ON outbox (status, created_at DESC, id);
