-- Door staff: an account an admin makes `staff` scans tickets and sees the door's counts.
-- SQLite cannot change a CHECK constraint in place, and sqlx runs each migration in a
-- transaction, where `PRAGMA foreign_keys = OFF` does nothing. So the table is rebuilt under the
-- same name with its foreign keys deferred: dropping it leaves the reservations and payments of
-- its accounts pointing at missing rows for a moment, and putting every row back before the
-- commit resolves each of them (a violation still open at the commit would fail it).
PRAGMA defer_foreign_keys = ON;
CREATE TABLE users_before_staff AS SELECT * FROM users;
DROP TABLE users;
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'staff', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    token_version INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT users_email_key UNIQUE (email)
);
INSERT INTO users (id, email, name, password_hash, role, disabled, created_at, token_version)
    SELECT id, email, name, password_hash, role, disabled, created_at, token_version FROM users_before_staff;
DROP TABLE users_before_staff;
