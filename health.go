package tldw

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tldw-go/tldw/internal/httpapi"
	"github.com/tldw-go/tldw/storage/redisstore"
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

// redisConn is a Redis client that connects lazily, so a Redis that is down at start only
// degrades the server, and a Redis that comes back is used again without a restart.
type redisConn struct {
	url     string
	maxConn int
	logger  *slog.Logger

	mu     sync.Mutex
	client *redisstore.Client
	last   time.Time
}

func newRedisConn(url string, maxConn int, logger *slog.Logger) *redisConn {
	return &redisConn{url: url, maxConn: maxConn, logger: logger}
}

// get returns the client, dialling at most once a second while Redis is unreachable.
func (r *redisConn) get() (*redisstore.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		return r.client, nil
	}
	if time.Since(r.last) < time.Second {
		return nil, fmt.Errorf("redis unreachable")
	}
	r.last = time.Now()
	c, err := redisstore.Open(r.url, redisstore.Options{MaxConnections: r.maxConn})
	if err != nil {
		r.logger.Warn("redis unreachable", "err", err)
		return nil, err
	}
	r.client = c
	return c, nil
}

// Ping checks Redis; a failure degrades health, it never makes the server unhealthy.
func (r *redisConn) Ping(ctx context.Context) error {
	c, err := r.get()
	if err != nil {
		return fmt.Errorf("%w: %v", httpapi.ErrDegraded, err)
	}
	if err := c.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %v", httpapi.ErrDegraded, err)
	}
	return nil
}

func (r *redisConn) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		return r.client.Close()
	}
	return nil
}
