DROP TABLE media_jobs;
DROP TABLE media_stages;
DROP TABLE media_chunks;
DROP TABLE media_content;
ALTER TABLE media_entries DROP COLUMN processing_updated_at;
ALTER TABLE media_entries DROP COLUMN processing_error;
ALTER TABLE media_entries DROP COLUMN chunk_count;
