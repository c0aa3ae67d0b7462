-- tldw_meta holds small server-wide facts (schema notes, instance id, ...).
CREATE TABLE tldw_meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
