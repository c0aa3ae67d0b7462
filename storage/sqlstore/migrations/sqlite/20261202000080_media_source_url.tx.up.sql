-- The URL an item was fetched from (URL ingest, media.Service.UploadURL); '' for uploads.
ALTER TABLE media_entries ADD COLUMN source_url TEXT NOT NULL DEFAULT '';
