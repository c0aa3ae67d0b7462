ALTER TABLE media_entries DROP COLUMN source_url;
