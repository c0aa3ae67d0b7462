package pdfium

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	gopdfium "github.com/klippa-app/go-pdfium"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/tldw-go/tldw/media"
)

// Defaults for the zero fields of Extractor.
const (
	DefaultTimeout = 5 * time.Minute
	DefaultMemory  = 1 << 30 // WebAssembly memory of one document's PDFium instance
)

// Extractor is the PDF media.Extractor on PDFium compiled to WebAssembly. Its fields may be
// set until the first Extract; the zero value is ready. The WebAssembly pool is made on the
// first Extract (compiling PDFium takes a few seconds, once per Extractor) and released by
// Close. It is safe for concurrent use; at most Workers documents are read at once, the
// others wait.
type Extractor struct {
	Workers     int           // documents read at once; 0 is runtime.NumCPU()
	MemoryBytes int64         // WebAssembly memory limit of each document; 0 is DefaultMemory
	Timeout     time.Duration // per document; 0 is DefaultTimeout
	TempRoot    string        // where the input is spooled; "" is os.TempDir()
	// CacheDir keeps compiled PDFium across restarts (a restart then starts in well under a
	// second instead of seconds); "" compiles it in memory at every start.
	CacheDir string

	once    sync.Once
	pool    gopdfium.Pool
	initErr error
}

var _ media.Extractor = (*Extractor)(nil)

// Close releases the WebAssembly pool. The Extractor must not be used afterwards.
func (x *Extractor) Close() error {
	x.once.Do(func() { x.initErr = errors.New("pdfium: extractor closed") })
	if x.pool == nil {
		return nil
	}
	return x.pool.Close()
}

func (x *Extractor) init() error {
	x.once.Do(func() {
		workers := x.Workers
		if workers <= 0 {
			workers = runtime.NumCPU()
		}
		mem := x.MemoryBytes
		if mem <= 0 {
			mem = DefaultMemory
		}
		rc := wazero.NewRuntimeConfig().
			WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
			WithMemoryLimitPages(uint32(mem >> 16)).
			WithCloseOnContextDone(true) // Kill stops a running call
		if x.CacheDir != "" {
			cache, err := wazero.NewCompilationCacheWithDir(x.CacheDir)
			if err != nil {
				x.initErr = fmt.Errorf("pdfium: compilation cache: %w", err)
				return
			}
			rc = rc.WithCompilationCache(cache)
		}
		x.pool, x.initErr = webassembly.Init(webassembly.Config{
			MaxIdle:  workers,
			MaxTotal: workers,
			// No file system: documents are handed over as readers.
			FSConfig:      wazero.NewFSConfig(),
			Stdout:        io.Discard,
			Stderr:        io.Discard,
			RuntimeConfig: rc,
		})
		if x.initErr != nil {
			x.initErr = fmt.Errorf("pdfium: starting the WebAssembly runtime: %w", x.initErr)
		}
	})
	return x.initErr
}

// Extract returns the PDF's text, one media.Section per page (media.JoinPages). Errors wrap
// media.ErrUnsupported (not a PDF), media.ErrInvalid (corrupt, or encrypted with a
// password), media.ErrTooLarge (more pages than src.Options.PageCap(), or text over
// src.Limit()), media.ErrTimeout, or ctx's error.
func (x *Extractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	if !media.IsPDF(src) {
		return nil, fmt.Errorf("%w: %s (%s) is not a PDF", media.ErrUnsupported, src.Name, src.ContentType)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := x.init(); err != nil {
		return nil, err
	}
	timeout := x.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, media.ErrTimeout)
	defer cancel()

	// PDFium reads the document through a ReadSeeker: spooled to disk, it is not held in
	// memory.
	file, done, err := media.Spool(ctx, x.TempRoot, src, "in.pdf")
	if err != nil {
		return nil, cause(ctx, err)
	}
	defer done()
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, fmt.Errorf("%w: %s is not a readable PDF (empty)", media.ErrInvalid, src.Name)
	}

	inst, err := x.pool.GetInstanceWithContext(ctx)
	if err != nil {
		return nil, cause(ctx, fmt.Errorf("pdfium: %w", err))
	}
	// A cancel kills the instance, which aborts the call in flight.
	stop := context.AfterFunc(ctx, func() { inst.Kill() })
	defer func() {
		if stop() {
			inst.Close()
		}
	}()
	x2, err := read(ctx, inst, f, size, src)
	if err != nil {
		return nil, cause(ctx, err)
	}
	return x2, nil
}

// read extracts the text of the document in f with inst.
func read(ctx context.Context, inst gopdfium.Pdfium, f io.ReadSeeker, size int64, src media.Source) (*media.Extracted, error) {
	doc, err := inst.OpenDocument(&requests.OpenDocument{FileReader: f, FileReaderSize: size})
	switch {
	case errors.Is(err, pdfiumerrors.ErrPassword):
		return nil, fmt.Errorf("%w: %s is encrypted: it is password-protected, and this server does not read password-protected PDFs", media.ErrInvalid, src.Name)
	case err != nil:
		return nil, fmt.Errorf("%w: %s is not a readable PDF (%v)", media.ErrInvalid, src.Name, err)
	}
	defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document})

	count, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		return nil, err
	}
	if count.PageCount <= 0 {
		return nil, fmt.Errorf("%w: %s has no pages", media.ErrInvalid, src.Name)
	}
	if max := src.Options.PageCap(); count.PageCount > max {
		return nil, fmt.Errorf("%w: %s has %d pages, more than the %d this server reads", media.ErrTooLarge, src.Name, count.PageCount, max)
	}
	pages := make([]string, count.PageCount)
	var total int64
	for i := range pages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if pages[i], err = pageText(inst, doc.Document, i); err != nil {
			return nil, fmt.Errorf("%w: %s: page %d: %v", media.ErrInvalid, src.Name, i+1, err)
		}
		if total += int64(len(pages[i])); total > 2*src.Limit() {
			break // surely over the cap, checked below
		}
	}
	text, sections := media.JoinPages(pages)
	if int64(len(text)) > src.Limit() {
		return nil, fmt.Errorf("%w: the text of %s is larger than this server keeps", media.ErrTooLarge, src.Name)
	}
	x := &media.Extracted{Text: text, Sections: sections, Metadata: map[string]string{
		"format": "pdf", "extractor": "pdfium", "pages": strconv.Itoa(count.PageCount)}}
	if meta, err := inst.GetMetaData(&requests.GetMetaData{Document: doc.Document}); err == nil {
		for _, tag := range meta.Tags {
			if v := strings.TrimSpace(tag.Value); v != "" && tag.Tag != "CreationDate" && tag.Tag != "ModDate" {
				x.Metadata[strings.ToLower(tag.Tag)] = v
			}
		}
	}
	x.Title = x.Metadata["title"]
	delete(x.Metadata, "title")
	if rev, err := inst.FPDF_GetSecurityHandlerRevision(&requests.FPDF_GetSecurityHandlerRevision{Document: doc.Document}); err == nil && rev.SecurityHandlerRevision != -1 {
		x.Metadata["encrypted"] = "yes"
	}
	return x, nil
}

// pageText returns the text of page i (0-based) of doc.
func pageText(inst gopdfium.Pdfium, doc references.FPDF_DOCUMENT, i int) (string, error) {
	page, err := inst.FPDF_LoadPage(&requests.FPDF_LoadPage{Document: doc, Index: i})
	if err != nil {
		return "", err
	}
	defer inst.FPDF_ClosePage(&requests.FPDF_ClosePage{Page: page.Page})
	tp, err := inst.FPDFText_LoadPage(&requests.FPDFText_LoadPage{Page: requests.Page{ByReference: &page.Page}})
	if err != nil {
		return "", err
	}
	defer inst.FPDFText_ClosePage(&requests.FPDFText_ClosePage{TextPage: tp.TextPage})
	n, err := inst.FPDFText_CountChars(&requests.FPDFText_CountChars{TextPage: tp.TextPage})
	if err != nil || n.Count <= 0 {
		return "", err
	}
	t, err := inst.FPDFText_GetText(&requests.FPDFText_GetText{TextPage: tp.TextPage, Count: n.Count})
	if err != nil {
		return "", err
	}
	return t.Text, nil
}

// cause returns ctx's cause (an ErrTimeout-wrapped error past the timeout, or the cancel)
// when ctx is done, else err.
func cause(ctx context.Context, err error) error {
	switch c := context.Cause(ctx); {
	case errors.Is(c, media.ErrTimeout):
		return fmt.Errorf("%w: pdfium ran longer than its time limit", media.ErrTimeout)
	case c != nil:
		return c
	}
	return err
}
