package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/storage"
	"github.com/tldw-go/tldw/storage/fsblob"
	"github.com/tldw-go/tldw/storage/storagetest"
)

func newStore(t *testing.T) *Encrypted {
	t.Helper()
	dir, err := fsblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEncrypted(dir, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestConformance runs the suite every storage backend passes.
func TestConformance(t *testing.T) {
	storagetest.TestBlobs(t, func(t *testing.T) storage.Blobs { return newStore(t) })
}

func TestCiphertextAtRest(t *testing.T) {
	ctx := context.Background()
	dir, _ := fsblob.Open(t.TempDir())
	e, _ := NewEncrypted(dir, bytes.Repeat([]byte{7}, 32))
	secret := strings.Repeat("top secret transcript ", 10000)
	if _, err := e.Put(ctx, "1/a.txt", strings.NewReader(secret), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, _, err := dir.Get(ctx, "1/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(rc)
	rc.Close()
	if bytes.Contains(raw, []byte("top secret")) {
		t.Fatal("plaintext stored")
	}
	// Flip one byte: reading must fail rather than return altered data.
	raw[len(raw)/2] ^= 1
	if _, err := dir.Put(ctx, "1/a.txt", bytes.NewReader(raw), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, _, err = e.Get(ctx, "1/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); err == nil {
		t.Fatal("tampered object decrypted without error")
	}
}
