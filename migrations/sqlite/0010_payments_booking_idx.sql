-- Every payment of a booking, failed ones too, by one index: deleting a booking (a multi-seat hold
-- that lost one of its seats is undone, booking and all) makes SQLite check that no payment still
-- names it, and payments_booking_open_uq, which leaves failed payments out, cannot answer that
-- check, so each such delete read the whole payments table.
CREATE INDEX payments_booking_idx ON payments (booking_id);
