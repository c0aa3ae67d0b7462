// Command encryptblob plugs a custom storage.Blobs into tldw: every media file is encrypted
// with AES-256-GCM (in 64 KiB chunks, so uploads still stream) before it reaches the
// directory store, and decrypted on the way out.
//
//	TLDW_MEDIA_KEY=$(openssl rand -hex 32) go run ./examples/encryptblob
//
// A backend only has to implement storage.Blobs and pass storagetest.TestBlobs (see
// main_test.go); tldw finds optional extras such as storage.Lister by type assertion.
package main
