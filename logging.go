package tldw

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// newLogger builds the slog logger that LOG_LEVEL, LOG_FORMAT and LOG_FILE describe. The
// returned file is nil when logging goes to stderr.
func newLogger(cfg Config, out io.Writer) (*slog.Logger, *reopenFile, error) {
	w := out
	if w == nil {
		w = os.Stderr
	}
	var f *reopenFile
	if cfg.LogFile != "" {
		var err error
		if f, err = openReopenFile(cfg.LogFile); err != nil {
			return nil, nil, err
		}
		w = f
	}
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h), f, nil
}

// reopenFile is an append-only log file that can be reopened after logrotate moved it.
// Safe for concurrent use.
type reopenFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func openReopenFile(path string) (*reopenFile, error) {
	r := &reopenFile{path: path}
	if err := r.Reopen(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *reopenFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Write(p)
}

// Reopen opens the path anew (creating it) and closes the previous handle.
func (r *reopenFile) Reopen() error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o750); err != nil {
		return fmt.Errorf("tldw: log directory: %w", err)
	}
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("tldw: open log file: %w", err)
	}
	r.mu.Lock()
	old := r.f
	r.f = f
	r.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

func (r *reopenFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}
