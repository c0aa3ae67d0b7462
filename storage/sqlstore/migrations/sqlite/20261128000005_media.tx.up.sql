-- Media items (package media's Store): stored uploads, their keywords and links.
-- Every row carries user_id and every query filters on it. Timestamps are
-- fixed-width UTC text as in the other tables; booleans are 0/1.
-- The deployment guide creates idx_media_user_created on media_entries(user_id,
-- created_at DESC) itself, so no index here may take that name.
-- AUTOINCREMENT: media ids are never reused (clients keep them).

CREATE TABLE media_entries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        TEXT NOT NULL CHECK (title <> ''),
    author       TEXT NOT NULL DEFAULT '',
    media_type   TEXT NOT NULL CHECK (media_type <> ''),
    filename     TEXT NOT NULL DEFAULT '',
    content_type TEXT NOT NULL DEFAULT 'application/octet-stream',
    size_bytes   INTEGER NOT NULL CHECK (size_bytes >= 0),
    content_hash TEXT NOT NULL CHECK (content_hash <> ''),
    blob_key     TEXT NOT NULL UNIQUE CHECK (blob_key <> ''),
    status       TEXT NOT NULL CHECK (status <> ''),
    is_trash     BOOLEAN NOT NULL DEFAULT 0,
    trash_date   TIMESTAMP,
    created_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT media_entries_user_hash_key UNIQUE (user_id, content_hash),
    CHECK (is_trash = (trash_date IS NOT NULL))
);
-- Lists: a user's items in or out of the trash, newest first.
CREATE INDEX media_entries_user_trash_created_idx
    ON media_entries (user_id, is_trash, created_at DESC, id DESC);

-- Keywords are per user, stored normalised (trimmed, lower case).
CREATE TABLE keywords (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    keyword    TEXT NOT NULL CHECK (keyword <> ''),
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT keywords_user_keyword_key UNIQUE (user_id, keyword)
);

CREATE TABLE media_keywords (
    media_id   INTEGER NOT NULL REFERENCES media_entries (id) ON DELETE CASCADE,
    keyword_id INTEGER NOT NULL REFERENCES keywords (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (media_id, keyword_id)
);
CREATE INDEX media_keywords_keyword_idx ON media_keywords (keyword_id);
CREATE INDEX media_keywords_user_idx ON media_keywords (user_id);
