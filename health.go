package tldw

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/tldw-go/tldw/internal/httpapi"
	"github.com/tldw-go/tldw/storage"
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

// mediaHealthy checks the media store: the directory is writable, or the object store
// answers (a Stat of a key that does not exist).
func (a *App) mediaHealthy(ctx context.Context) error {
	if !strings.HasPrefix(a.Config.MediaStorageURL, "s3://") {
		return dirWritable(a.Config.MediaDir())
	}
	if _, err := a.Blobs.Stat(ctx, "healthcheck/probe"); err != nil && !errors.Is(err, storage.ErrNotExist) {
		return fmt.Errorf("media storage unreachable: %w", err)
	}
	return nil
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
