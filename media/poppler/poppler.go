package poppler

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tldw-go/tldw/media"
)

// Package is the Debian/Ubuntu package that provides the programs.
const Package = "poppler-utils"

// Defaults for the zero fields of Extractor.
const (
	DefaultTimeout = 5 * time.Minute
	DefaultMemory  = 2 << 30
)

// Extractor is the PDF media.Extractor on poppler's pdfinfo and pdftotext. The zero value
// finds them on PATH; it is safe for concurrent use.
type Extractor struct {
	PDFInfo, PDFToText string        // program paths; "" looks them up on PATH
	TempRoot           string        // where temporary directories go; "" is os.TempDir()
	Timeout            time.Duration // per program run; 0 is DefaultTimeout
	MemoryBytes        int64         // address-space limit per run; 0 is DefaultMemory
}

var _ media.Extractor = Extractor{}

// Installed returns nil when pdfinfo and pdftotext are found, else an ErrUnsupported error
// naming the package to install.
func (x Extractor) Installed() error {
	if _, err := media.LookPath(x.PDFInfo, "pdfinfo", Package); err != nil {
		return err
	}
	_, err := media.LookPath(x.PDFToText, "pdftotext", Package)
	return err
}

// Extract returns the PDF's text, one media.Section per page (media.JoinPages). Errors wrap
// media.ErrUnsupported (not a PDF, or poppler not installed), media.ErrInvalid (corrupt, or
// encrypted with a password), media.ErrTooLarge (more pages than src.Options.PageCap(), or
// text over src.Limit()), media.ErrTimeout, or ctx's error.
func (x Extractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	if !media.IsPDF(src) {
		return nil, fmt.Errorf("%w: %s (%s) is not a PDF", media.ErrUnsupported, src.Name, src.ContentType)
	}
	info, err := media.LookPath(x.PDFInfo, "pdfinfo", Package)
	if err != nil {
		return nil, err
	}
	totext, err := media.LookPath(x.PDFToText, "pdftotext", Package)
	if err != nil {
		return nil, err
	}
	file, done, err := media.Spool(ctx, x.TempRoot, src, "in.pdf")
	if err != nil {
		return nil, err
	}
	defer done()

	// pdfinfo (the page count, the metadata) runs alongside pdftotext, which stops at the
	// page cap: on a large file the text does not wait for the count. A file over the cap,
	// or one pdfinfo refuses, stops pdftotext.
	maxPages := src.Options.PageCap()
	run, stop := context.WithCancel(ctx)
	defer stop()
	type infoResult struct {
		meta  map[string]string
		pages int
		err   error
	}
	infoc := make(chan infoResult, 1)
	go func() {
		meta, err := x.info(run, info, file, src.Name)
		pages, _ := strconv.Atoi(meta["pages"])
		switch {
		case err != nil:
		case pages <= 0:
			err = fmt.Errorf("%w: %s has no pages", media.ErrInvalid, src.Name)
		case pages > maxPages:
			err = fmt.Errorf("%w: %s has %d pages, more than the %d this server reads", media.ErrTooLarge, src.Name, pages, maxPages)
		}
		if err != nil {
			stop()
		}
		infoc <- infoResult{meta, pages, err}
	}()

	// pdftotext's default mode (not -layout) follows the reading order: columns one after
	// the other, where -layout interleaves their lines. Each page ends with a form feed.
	out := &media.CappedBuffer{Max: 2*src.Limit() + int64(maxPages)}
	err = media.Run(run, x.command(totext, out, "-enc", "UTF-8", "-eol", "unix", "-l", strconv.Itoa(maxPages), file, "-"))
	ir := <-infoc
	if ir.err != nil {
		if errors.Is(ir.err, media.ErrInvalid) || errors.Is(ir.err, media.ErrTooLarge) {
			return nil, ir.err
		}
		return nil, toolError(ir.err, src.Name)
	}
	meta, pages := ir.meta, ir.pages
	if out.Over {
		return nil, fmt.Errorf("%w: the text of %s is larger than this server keeps", media.ErrTooLarge, src.Name)
	}
	if err != nil {
		return nil, toolError(err, src.Name)
	}
	raw := strings.Split(strings.TrimSuffix(out.Buf.String(), "\f"), "\f")
	for len(raw) < pages {
		raw = append(raw, "")
	}
	text, sections := media.JoinPages(raw[:pages])
	if int64(len(text)) > src.Limit() {
		return nil, fmt.Errorf("%w: the text of %s is larger than this server keeps", media.ErrTooLarge, src.Name)
	}
	res := &media.Extracted{Text: text, Sections: sections, Title: meta["title"], Metadata: map[string]string{"format": "pdf", "extractor": "poppler"}}
	for _, k := range []string{"pages", "author", "subject", "creator", "producer", "pdf_version", "encrypted"} {
		if v := meta[k]; v != "" && (k != "encrypted" || v != "no") {
			res.Metadata[k] = v
		}
	}
	return res, nil
}

// info runs pdfinfo and returns its fields under lower-case, snake-case keys ("pages",
// "title", "pdf_version", "encrypted", ...).
func (x Extractor) info(ctx context.Context, prog, file, name string) (map[string]string, error) {
	out := &media.CappedBuffer{Max: 1 << 20}
	if err := media.Run(ctx, x.command(prog, out, "-enc", "UTF-8", file)); err != nil {
		return nil, toolError(err, name)
	}
	meta := map[string]string{}
	sc := bufio.NewScanner(&out.Buf)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), " ", "_")
		meta[k] = strings.TrimSpace(v)
	}
	return meta, nil
}

func (x Extractor) command(prog string, stdout io.Writer, args ...string) media.Command {
	c := media.Command{Path: prog, Args: args, Stdout: stdout, TempRoot: x.TempRoot, Timeout: x.Timeout, MemoryBytes: x.MemoryBytes}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MemoryBytes == 0 {
		c.MemoryBytes = DefaultMemory
	}
	return c
}

// toolError turns a failed run into the error Extract returns: a cancel or timeout as it
// is, a password prompt as an encrypted PDF, anything else as a PDF poppler cannot read.
func toolError(err error, name string) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, media.ErrTimeout):
		return err
	case strings.Contains(err.Error(), "Incorrect password"):
		return fmt.Errorf("%w: %s is encrypted: it is password-protected, and this server does not read password-protected PDFs", media.ErrInvalid, name)
	}
	return fmt.Errorf("%w: %s is not a readable PDF (%v)", media.ErrInvalid, name, err)
}
