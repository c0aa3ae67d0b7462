-- Transcripts of audio and video items, one per item and model like tldw's Transcripts
-- (whisper_model, transcription, created_at), with their timed segments (JSON text); and
-- where each chunk of a transcript is spoken (milliseconds into the recording, NULL for
-- chunks of documents). Every row carries user_id; deleting an item or a user removes them.

CREATE TABLE media_transcripts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    media_id      INTEGER NOT NULL REFERENCES media_entries (id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    whisper_model TEXT NOT NULL CHECK (whisper_model <> ''),
    language      TEXT NOT NULL DEFAULT '',
    transcription TEXT NOT NULL,
    segments      TEXT NOT NULL DEFAULT '[]',
    created_at    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT media_transcripts_media_model_key UNIQUE (media_id, whisper_model)
);
CREATE INDEX media_transcripts_user_idx ON media_transcripts (user_id);

ALTER TABLE media_chunks ADD COLUMN start_ms INTEGER;
ALTER TABLE media_chunks ADD COLUMN end_ms INTEGER;
