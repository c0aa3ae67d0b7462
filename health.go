package tldw

import (
	"fmt"
	"os"

	"github.com/tldw-go/tldw/internal/httpapi"
)

// dirWritable reports whether a file can be created in dir.
func dirWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".healthcheck-*")
	if err != nil {
		return fmt.Errorf("media directory not writable: %w", err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// enoughDisk reports a degraded state when the file system holding dir has less than minMB
// free.
func enoughDisk(dir string, minMB int64) error {
	free, err := freeBytes(dir)
	if err != nil {
		return fmt.Errorf("%w: disk: %v", httpapi.ErrDegraded, err)
	}
	if free < uint64(minMB)<<20 {
		return fmt.Errorf("%w: %d MiB free, want %d", httpapi.ErrDegraded, free>>20, minMB)
	}
	return nil
}
