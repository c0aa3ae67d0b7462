package pdfium

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
)

// shared is the Extractor of this package's tests: PDFium is compiled once, into
// cacheDir.
var (
	shared   *Extractor
	cacheDir string
)

func TestMain(m *testing.M) {
	cacheDir, _ = os.MkdirTemp("", "pdfium-cache-")
	shared = &Extractor{Workers: 2, CacheDir: cacheDir}
	code := m.Run()
	shared.Close()
	os.RemoveAll(cacheDir)
	os.Exit(code)
}

func TestPDFExtractor(t *testing.T) {
	mediatest.TestPDFExtractor(t, shared)
}

// cancelOnEOF is a reader that cancels a context when its data has been read.
type cancelOnEOF struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c cancelOnEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.cancel()
	}
	return n, err
}
func (cancelOnEOF) Close() error { return nil }

// TestCancelAndTimeout: a cancel once the input is read, or a deadline, ends the
// extraction with the context's error, leaves no temporary file, and the pool keeps
// working.
func TestCancelAndTimeout(t *testing.T) {
	data := mediatest.TextPDF(t, "one", "two", "three")
	root := t.TempDir()
	t.Setenv("TMPDIR", root)
	x := shared

	ctx, cancel := context.WithCancel(t.Context())
	src := mediatest.BytesSource("doc.pdf", "application/pdf", data)
	src.Open = func() (io.ReadCloser, error) { return cancelOnEOF{bytes.NewReader(data), cancel}, nil }
	if _, err := x.Extract(ctx, src); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	if _, err := x.Extract(ctx, mediatest.BytesSource("doc.pdf", "application/pdf", data)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: err = %v, want context.DeadlineExceeded", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("left in the temporary root: %v", entries)
	}
	got, err := x.Extract(t.Context(), mediatest.BytesSource("doc.pdf", "application/pdf", data))
	if err != nil || len(got.Sections) != 3 {
		t.Errorf("after a cancel: %+v, %v", got, err)
	}
}

// TestCompilationCache: shared fills its cache directory; a second Extractor starts from
// it, and its Timeout ends an extraction with ErrTimeout.
func TestCompilationCache(t *testing.T) {
	data := mediatest.TextPDF(t, "cached")
	if _, err := shared.Extract(t.Context(), mediatest.BytesSource("doc.pdf", "application/pdf", data)); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(cacheDir); len(entries) == 0 {
		t.Error("the cache directory is empty")
	}
	x := &Extractor{Workers: 1, CacheDir: cacheDir, Timeout: time.Nanosecond}
	defer x.Close()
	_, err := x.Extract(t.Context(), mediatest.BytesSource("doc.pdf", "application/pdf", data))
	if !errors.Is(err, media.ErrTimeout) {
		t.Errorf("with a 1ns Timeout: err = %v, want ErrTimeout", err)
	}
}

// TestConcurrent: more documents at once than Workers all come out right.
func TestConcurrent(t *testing.T) {
	docs := [][]string{{"first document"}, {"second", "document"}, {"third"}, {"fourth one", "", "end"}}
	errs := make(chan error, len(docs))
	for _, pages := range docs {
		data := mediatest.TextPDF(t, pages...)
		go func() {
			got, err := shared.Extract(t.Context(), mediatest.BytesSource("doc.pdf", "application/pdf", data))
			if err == nil && len(got.Sections) != len(pages) {
				err = fmt.Errorf("%d sections for %q", len(got.Sections), pages)
			}
			errs <- err
		}()
	}
	for range docs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
