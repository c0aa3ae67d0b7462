ALTER TABLE media_chunks DROP COLUMN end_ms;
ALTER TABLE media_chunks DROP COLUMN start_ms;
DROP TABLE media_transcripts;
