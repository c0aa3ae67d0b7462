package tldw

import (
	"context"
	"fmt"

	"github.com/tldw-go/tldw/internal/httpapi"
	"github.com/tldw-go/tldw/storage"
)

// mediaHealthy asks the media store whether it is usable, when it can tell (storage.Pinger);
// a store that cannot is taken as healthy.
func (a *App) mediaHealthy(ctx context.Context) error {
	p, ok := a.Blobs.(storage.Pinger)
	if !ok {
		return nil
	}
	if err := p.Ping(ctx); err != nil {
		return fmt.Errorf("media storage: %w", err)
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
