-- The storage-quota ledger (sqlstore.Ledger). Amounts are in the resource's unit (bytes for
-- storage_bytes). quota_usage has one row per subject and resource: committed usage, the sum
-- of live reservations and the limit (-1 = unlimited). Reservations are rows that a commit,
-- release or the sweeper deletes, moving their amount out of quota_usage.reserved in the same
-- transaction. Timestamps are fixed-width UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'.

CREATE TABLE quota_usage (
    subject     TEXT NOT NULL,
    resource    TEXT NOT NULL,
    used        INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    reserved    INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    limit_bytes INTEGER NOT NULL DEFAULT -1 CHECK (limit_bytes >= -1),
    updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (subject, resource)
);

CREATE TABLE quota_reservations (
    id         TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    resource   TEXT NOT NULL,
    amount     INTEGER NOT NULL CHECK (amount >= 0),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    FOREIGN KEY (subject, resource) REFERENCES quota_usage (subject, resource) ON DELETE CASCADE
);
CREATE INDEX quota_reservations_expires_idx ON quota_reservations (expires_at);
