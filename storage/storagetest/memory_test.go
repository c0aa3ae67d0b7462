package storagetest_test

import (
	"testing"

	"github.com/tldw-go/tldw/storage"
	"github.com/tldw-go/tldw/storage/storagetest"
)

func TestMemory(t *testing.T) {
	storagetest.TestBlobs(t, func(*testing.T) storage.Blobs { return storagetest.Memory() })
}

func TestMemoryIsLister(t *testing.T) {
	if _, ok := storagetest.Memory().(storage.Lister); !ok {
		t.Fatal("Memory() does not implement storage.Lister")
	}
}
