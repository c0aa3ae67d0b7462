ALTER TABLE users DROP COLUMN audio_tier;
