-- Plans of the hold that do not depend on what an ANALYZE happened to see (issue 18).
--
-- Statistics taken while the store held a few holds of one buyer on one event (a new
-- deployment's first sales, which autovacuum analyzes after 50 rows; the bench's fresh store) say
-- every reservation is that event's and that buyer's, so a condition on either looks as if it
-- selected the whole table. The hold statement's generic plan, made per connection and kept while
-- the table grew, then found a buyer's hold slots by reading every held row (the lapsing index,
-- whole) or every reservation of the event, instead of probing the slot index: each hold cost
-- O(rows) (`plan_tests.rs`, `…after_one_buyers_holds_were_analyzed`; in the bench, holds fell from
-- 2,300 to 600 a second after its fresh phase).
--
-- 1. The lapsing index serves the reads that name a hold's lapse (`expires_at <= $1`, the sweep),
--    and only those: any condition on `expires_at` implies `expires_at IS NOT NULL` (the operators
--    are strict), so a read without one can no longer take this index.
DROP INDEX reservations_lapsing_idx;
CREATE INDEX reservations_lapsing_idx ON reservations (expires_at) WHERE status = 'held' AND expires_at IS NOT NULL;
-- 2. The columns a hot read probes by (a reservation's buyer and event, a seat's venue) get no
--    statistics: whatever rows ANALYZE samples (ten holds of one buyer say that buyer is every
--    row, and an event or buyer not among them none), the planner then judges a condition on them
--    by its default share, a small one, and a probe by buyer and event, or the seat map's ordered
--    read of a venue, stays the cheapest plan in a generic plan and in a custom one alike. Every
--    read by these columns is an index probe, so nothing else leans on their statistics.
ALTER TABLE reservations ALTER COLUMN user_id SET STATISTICS 0;
ALTER TABLE reservations ALTER COLUMN event_id SET STATISTICS 0;
ALTER TABLE seats ALTER COLUMN venue_id SET STATISTICS 0;
