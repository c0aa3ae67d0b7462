-- The storage-quota ledger (sqlstore.Ledger). Amounts are in the resource's unit (bytes for
-- storage_bytes). quota_usage has one row per subject and resource: committed usage, the sum
-- of live reservations and the limit (-1 = unlimited). Reservations are rows that a commit,
-- release or the sweeper deletes, moving their amount out of quota_usage.reserved in the same
-- transaction.

CREATE TABLE quota_usage (
    subject     TEXT NOT NULL,
    resource    TEXT NOT NULL,
    used        BIGINT NOT NULL DEFAULT 0 CHECK (used >= 0),
    reserved    BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    limit_bytes BIGINT NOT NULL DEFAULT -1 CHECK (limit_bytes >= -1),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, resource)
);

CREATE TABLE quota_reservations (
    id         TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    resource   TEXT NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount >= 0),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (subject, resource) REFERENCES quota_usage (subject, resource) ON DELETE CASCADE
);
CREATE INDEX quota_reservations_expires_idx ON quota_reservations (expires_at);
