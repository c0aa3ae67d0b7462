ALTER TABLE media_entries DROP COLUMN word_count;
