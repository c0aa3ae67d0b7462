// Package storagetest has an in-memory storage.Blobs (Memory) for tests and TestBlobs, the
// conformance suite every storage.Blobs implementation runs, in the spirit of
// testing/fstest.TestFS.
package storagetest
