-- The word count of an item's content, kept on media_entries next to chunk_count: reading
-- the processing state (polled while an item processes) then never touches media_content,
-- whose large text SQLite would walk through to reach its word_count column.
ALTER TABLE media_entries ADD COLUMN word_count INTEGER NOT NULL DEFAULT 0;
UPDATE media_entries SET word_count = coalesce((SELECT c.word_count FROM media_content c
    WHERE c.media_id = media_entries.id), 0);
