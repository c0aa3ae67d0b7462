-- A user's audio tier (the transcription budget's minutes per day and live streams, by
-- AUDIO_TIER_LIMITS_JSON's tier names); '' is DEFAULT_AUDIO_TIER. Admins set it.
ALTER TABLE users ADD COLUMN audio_tier TEXT NOT NULL DEFAULT '';
