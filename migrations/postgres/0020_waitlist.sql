-- The waiting lists of sold-out events (issue 20). One entry per (event, account), served in the
-- order of `seq` (from one sequence: unique, increasing, gaps allowed). An offer is a held booking
-- of the entry's buyer made by the transaction that freed its seats; the entry then says
-- `offered` and names that booking.
CREATE SEQUENCE waitlist_seq;
CREATE TABLE waitlist_entries (
    event_id      uuid NOT NULL REFERENCES events (id),
    user_id       uuid NOT NULL,
    id            uuid NOT NULL,
    seq           bigint NOT NULL,
    seats         integer NOT NULL CHECK (seats BETWEEN 1 AND 10),
    tier          text,
    offer_minutes integer NOT NULL CHECK (offer_minutes > 0),
    status        text NOT NULL CHECK (status IN ('waiting', 'offered')),
    -- How often entries behind it were served with seats it wanted (`domain::plan_offers`).
    passes        integer NOT NULL DEFAULT 0,
    booking_id    uuid,
    joined_at     timestamptz NOT NULL,
    offered_at    timestamptz,
    PRIMARY KEY (event_id, user_id),
    CONSTRAINT waitlist_entries_offer_named CHECK ((status = 'offered') = (booking_id IS NOT NULL))
);
-- The waiting entries of an event in their order: what every freeing transaction reads (and
-- locks), and what counts the entries ahead of one.
CREATE INDEX waitlist_entries_waiting_idx ON waitlist_entries (event_id, seq) WHERE status = 'waiting';
