-- A key may have a request rate of its own, below its user's API_RATE_LIMIT (0: none).
ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute INTEGER NOT NULL DEFAULT 0;
