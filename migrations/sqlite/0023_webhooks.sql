-- Outgoing webhooks (SQLite: ids TEXT, times INTEGER milliseconds). An admin registers endpoints;
-- each change a receiver should hear about writes a webhook event in its own transaction (beside
-- the outbox message it writes, or, for a check-in, by the trigger below in the admitting
-- UPDATE itself); a delivery job fans each event out into one delivery per subscribed endpoint
-- (unique per event and endpoint) and posts them, claims and settlements shaped like the outbox's.
CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    -- Kept to sign deliveries; never answered.
    secret     TEXT NOT NULL,
    -- The event types it wants, a JSON array of their names.
    events     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- The events receivers hear of (`webhook_events`, of 0002, keeps the payment provider's incoming ones).
CREATE TABLE outgoing_events (
    id          TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    -- The booking (for event.canceled, the event) whose deliveries go out in order.
    subject_id  TEXT NOT NULL,
    -- `<created millis, 15 digits>#<place in its change, 3 digits>#<id>`: the delivery order.
    event_order TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    -- 0 until a delivery job has written its deliveries.
    fanned_out  INTEGER NOT NULL DEFAULT 0 CHECK (fanned_out IN (0, 1))
);
-- The fan-out: events not yet fanned out, oldest first; only those are in the index.
CREATE INDEX outgoing_events_unfanned_idx ON outgoing_events (event_order) WHERE fanned_out = 0;

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES outgoing_events (id),
    event_type       TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    event_order      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  INTEGER NOT NULL,
    last_status_code INTEGER,
    last_response    TEXT,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER,
    CONSTRAINT webhook_deliveries_once UNIQUE (event_id, webhook_id),
    CONSTRAINT webhook_deliveries_delivered_at CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);
-- The claim: due pending deliveries, oldest due first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
-- The order rule: an earlier pending delivery of the same subject to the same endpoint.
CREATE INDEX webhook_deliveries_lane_idx ON webhook_deliveries (webhook_id, subject_id, event_order)
    WHERE status = 'pending';
-- An endpoint's deliveries, newest first.
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC, id);

-- A ticket admitted at the door (`valid` to `used`) writes its ticket.checked_in event in the
-- admitting UPDATE's own statement: one insert, no other read, no round trip added to the door's
-- batch. Its id is the admitting scan's, so one admission writes one event.
CREATE TRIGGER tickets_checked_in_webhook AFTER UPDATE OF status ON tickets
    WHEN OLD.status = 'valid' AND NEW.status = 'used'
BEGIN
    INSERT INTO outgoing_events (id, event_type, subject_id, event_order, data, created_at)
    VALUES (
        NEW.admitted_scan_id,
        'ticket.checked_in',
        NEW.booking_id,
        printf('%015d#%03d#%s', NEW.admitted_at, 0, NEW.admitted_scan_id),
        json_object(
            'ticket_id', NEW.id,
            'booking_id', NEW.booking_id,
            'event_id', NEW.event_id,
            'gate', NEW.admitted_gate,
            'checked_in_at', strftime('%Y-%m-%dT%H:%M:%fZ', NEW.admitted_at / 1000.0, 'unixepoch')),
        NEW.admitted_at);
END;
