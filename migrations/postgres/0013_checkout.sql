-- Issue 22, a checkout that cannot surprise.
--
-- A booking's hold may be extended once: `extended_at` is set by the extension's own conditional
-- UPDATE (`WHERE extended_at IS NULL` and a running hold), so of two extensions at once exactly
-- one wins, and the second finds it set.
ALTER TABLE bookings ADD COLUMN extended_at timestamptz;
