// Package storage defines Blobs, the streaming object storage that media files live in, and
// its errors. Implementations are named after their technology: storage/fsblob (a local
// directory, the default) and storage/s3blob (S3-compatible object storage); storagetest has
// an in-memory fake and the conformance suite every implementation runs. Optional extras
// (Lister) are found by type assertion.
package storage
