-- Media processing (package media's Pipeline and Jobs): per-item processing state, the
-- extracted content, its chunks, per-stage records and the item ↔ job link. River's own
-- tables (river_job, ...) are created by River's migrations, which Migrate applies after
-- these. Every row carries user_id; deleting an item or a user removes its rows.

ALTER TABLE media_entries ADD COLUMN chunk_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE media_entries ADD COLUMN processing_error TEXT NOT NULL DEFAULT '';
ALTER TABLE media_entries ADD COLUMN processing_updated_at TIMESTAMP;

-- One row per processed item: tldw's content{text, word_count, metadata}. JSON is text.
CREATE TABLE media_content (
    media_id   INTEGER PRIMARY KEY REFERENCES media_entries (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content    TEXT NOT NULL,
    word_count INTEGER NOT NULL DEFAULT 0 CHECK (word_count >= 0),
    metadata   TEXT NOT NULL DEFAULT '{}',
    sections   TEXT NOT NULL DEFAULT '[]',
    segments   TEXT NOT NULL DEFAULT '[]',
    analysis   TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX media_content_user_idx ON media_content (user_id);

-- Chunks with byte offsets into media_content.content.
CREATE TABLE media_chunks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    media_id    INTEGER NOT NULL REFERENCES media_entries (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL CHECK (chunk_index >= 0),
    chunk_text  TEXT NOT NULL,
    start_char  INTEGER NOT NULL CHECK (start_char >= 0),
    end_char    INTEGER NOT NULL,
    section     TEXT NOT NULL DEFAULT '',
    CONSTRAINT media_chunks_media_index_key UNIQUE (media_id, chunk_index),
    CHECK (end_char >= start_char)
);
CREATE INDEX media_chunks_user_idx ON media_chunks (user_id);

-- One row per item and stage of its current processing run.
CREATE TABLE media_stages (
    media_id    INTEGER NOT NULL REFERENCES media_entries (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage       TEXT NOT NULL CHECK (stage <> ''),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'skipped')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP,
    warnings    TEXT NOT NULL DEFAULT '[]',
    error       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (media_id, stage)
);
CREATE INDEX media_stages_user_idx ON media_stages (user_id);

-- Which River job processes which item, for per-user job lists and the per-user limit;
-- slot_at is set while the job holds one of its user's slots (MEDIA_MAX_ACTIVE_JOBS_PER_USER);
-- cancel_requested tells a cancellation by the owner from a permanent failure.
CREATE TABLE media_jobs (
    job_id     INTEGER PRIMARY KEY,
    media_id   INTEGER NOT NULL REFERENCES media_entries (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slot_at    TIMESTAMP,
    cancel_requested BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX media_jobs_user_idx ON media_jobs (user_id, job_id DESC);
CREATE INDEX media_jobs_media_idx ON media_jobs (media_id);
