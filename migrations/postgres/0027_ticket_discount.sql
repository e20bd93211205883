-- What was paid for each ticket (issue 21: reports count revenue net of discounts): the seat's
-- share of its checkout's code discount, copied from its reservation when the confirm issues the
-- ticket, so that the reports, which read tickets alone, count `price_cents - discount_cents`.
-- Tickets issued before this migration take their reservation's share.
ALTER TABLE tickets ADD COLUMN discount_cents bigint NOT NULL DEFAULT 0;
UPDATE tickets t SET discount_cents = r.discount_cents
FROM reservations r
WHERE r.id = t.reservation_id AND r.discount_cents <> 0;
