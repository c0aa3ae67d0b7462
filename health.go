package tldw

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tldw-go/tldw/internal/httpapi"
	"github.com/tldw-go/tldw/media"
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

// serverTools are the programs the default extractors run (media.KnownTools also lists
// what later stages and the tests use).
var serverTools = []string{"pdfinfo", "pdftotext", "pdftoppm", "tesseract", "pandoc", "prlimit"}

// mediaToolsCheck is the media_tools health check: an error naming the missing programs
// and their packages. The programs are looked for once, on the first health request (not at
// Open: most Apps, tests among them, never need the answer), and the result is logged;
// `tldwd check-config` shows paths and versions.
func (a *App) mediaToolsCheck() func(context.Context) error {
	detect := sync.OnceValue(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var tools []media.Tool
		for _, t := range media.KnownTools() {
			if slices.Contains(serverTools, t.Name) {
				tools = append(tools, t)
			}
		}
		var missing []string
		for _, st := range media.DetectTools(ctx, tools...) {
			if !st.Found {
				missing = append(missing, fmt.Sprintf("%s (package %s)", st.Name, st.Package))
			}
		}
		if len(missing) == 0 {
			return nil
		}
		a.Logger.Warn("media tools missing: inputs that need them fail with a message naming the package", "missing", strings.Join(missing, ", "))
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	})
	return func(context.Context) error { return detect() }
}
