-- Accounts and everything that authenticates them (package auth's stores).
-- Timestamps are fixed-width UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (as in
-- audit_log), so they sort and compare as text, also against CURRENT_TIMESTAMP
-- and datetime('now'). Booleans are 0/1.
-- AUTOINCREMENT keeps ids from being reused after a delete: session and user
-- ids travel inside tokens.

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid                 TEXT NOT NULL UNIQUE,
    username             TEXT NOT NULL,
    username_canon       TEXT NOT NULL UNIQUE,
    email                TEXT NOT NULL,
    email_canon          TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    role                 TEXT NOT NULL DEFAULT 'user'
                         CHECK (role IN ('admin', 'moderator', 'user', 'service')),
    is_active            BOOLEAN NOT NULL DEFAULT 1,
    is_verified          BOOLEAN NOT NULL DEFAULT 0,
    must_change_password BOOLEAN NOT NULL DEFAULT 0,
    created_at           TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at           TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_login           TIMESTAMP,
    created_by           INTEGER REFERENCES users (id) ON DELETE SET NULL,
    storage_quota_mb     INTEGER,
    storage_used_bytes   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX users_role_active_idx ON users (role, is_active);

CREATE TABLE password_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX password_history_user_idx ON password_history (user_id, id);

-- is_active mirrors revoked_at IS NULL for tldw_server compatibility.
-- The deployment guide creates idx_sessions_token on token_hash itself.
CREATE TABLE sessions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash         TEXT NOT NULL DEFAULT '',
    refresh_hash       TEXT NOT NULL UNIQUE,
    prev_refresh_hash  TEXT,
    rotated_at         TIMESTAMP,
    ip_address         TEXT NOT NULL DEFAULT '',
    user_agent         TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMP NOT NULL,
    last_activity      TIMESTAMP NOT NULL,
    expires_at         TIMESTAMP NOT NULL,
    refresh_expires_at TIMESTAMP NOT NULL,
    revoked_at         TIMESTAMP,
    revoke_reason      TEXT,
    is_active          BOOLEAN NOT NULL DEFAULT 1,
    CHECK (is_active = (revoked_at IS NULL))
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_prev_refresh_hash_idx ON sessions (prev_refresh_hash);

CREATE TABLE registration_codes (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    code                 TEXT NOT NULL UNIQUE,
    max_uses             INTEGER NOT NULL DEFAULT 1 CHECK (max_uses > 0),
    times_used           INTEGER NOT NULL DEFAULT 0 CHECK (times_used >= 0 AND times_used <= max_uses),
    expires_at           TIMESTAMP NOT NULL,
    role_to_grant        TEXT NOT NULL DEFAULT 'user'
                         CHECK (role_to_grant IN ('admin', 'moderator', 'user', 'service')),
    allowed_email_domain TEXT,
    is_active            BOOLEAN NOT NULL DEFAULT 1,
    created_by           INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at           TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- scopes is a comma-separated list ("read,write").
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id       TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    key_prefix   TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL DEFAULT 'read',
    expires_at   TIMESTAMP,
    last_used_at TIMESTAMP,
    created_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);

-- Failed logins per key ("user:<canonical>" or "ip:<addr>") and the lock they led to.
CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    window_start TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);
