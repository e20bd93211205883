-- Sales across events over a window of time (issue 21, `GET /admin/reports/sales?from&to`): the
-- tickets issued in the window and those revoked in it are each one range of an index, whatever
-- the number of tickets outside it. Revoked tickets are few: that index holds only them.
CREATE INDEX tickets_issued_idx ON tickets (issued_at);
CREATE INDEX tickets_revoked_idx ON tickets (revoked_at) WHERE revoked_at IS NOT NULL;
