-- audit_log holds the tamper-evident audit trail: one row per event, hash-chained
-- by seq (see package audit). Columns follow the deployment guide and tldw_server;
-- there is deliberately no foreign key to users, since audit rows outlive users.
-- Times are fixed-width UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', so they sort and
-- compare as text (also against datetime('now', '-30 days')).
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    seq            INTEGER NOT NULL UNIQUE,
    user_id        INTEGER,
    username       TEXT,
    action         TEXT NOT NULL,
    target_type    TEXT,
    target_id      TEXT,
    ip_address     TEXT,
    user_agent     TEXT,
    request_id     TEXT,
    request_method TEXT,
    request_path   TEXT,
    success        BOOLEAN NOT NULL,
    error_message  TEXT,
    details        TEXT,
    created_at     TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at DESC, seq DESC);
CREATE INDEX audit_log_action_created_at_idx ON audit_log (action, created_at DESC, seq DESC);
CREATE INDEX audit_log_user_id_created_at_idx ON audit_log (user_id, created_at DESC, seq DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id);

-- audit_chain_head is the one-row position of the newest chain record. Each write
-- batch updates it first, which takes the database write lock.
CREATE TABLE audit_chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- audit_checkpoints holds signed head checkpoints and the purge checkpoints that
-- verification starts from after a retention purge.
CREATE TABLE audit_checkpoints (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('head', 'purge')),
    seq        INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    mac        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_checkpoints_kind_seq_idx ON audit_checkpoints (kind, seq DESC, id DESC);
