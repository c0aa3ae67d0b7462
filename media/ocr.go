package media

import (
	"context"
	"fmt"
	"io"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tldw-go/tldw/storage"
)

// The page caps of paged extractors (PDF) when ExtractOptions leaves them 0.
const (
	DefaultMaxPages    = 2000 // pages a PDF may have
	DefaultMaxOCRPages = 100  // pages of one item sent to OCR
)

// PageCap returns the page cap that applies under o.
func (o ExtractOptions) PageCap() int {
	if o.MaxPages > 0 {
		return o.MaxPages
	}
	return DefaultMaxPages
}

// OCRPageCap returns the OCR page cap that applies under o.
func (o ExtractOptions) OCRPageCap() int {
	if o.MaxOCRPages > 0 {
		return o.MaxOCRPages
	}
	return DefaultMaxOCRPages
}

// IsPDF reports whether src is a PDF: by sniffed type, or by extension when the sniffer
// could not tell.
func IsPDF(src Source) bool {
	ct, _, _ := mime.ParseMediaType(src.ContentType)
	switch ct {
	case "application/pdf":
		return true
	case "application/octet-stream", "":
		return strings.EqualFold(path.Ext(src.Name), ".pdf")
	}
	return false
}

// JoinPages is how paged extractors assemble their text: each page normalised and trimmed,
// pages separated by a blank line, one Section ("Page N") per page, empty pages included,
// so Sections[i] is always page i+1.
func JoinPages(pages []string) (string, []Section) {
	var b strings.Builder
	n := 0
	for _, p := range pages {
		n += len(p) + 2
	}
	b.Grow(n) // normalising rarely makes a page longer; growing a large text copies it
	sections := make([]Section, len(pages))
	for i, p := range pages {
		p = strings.TrimSpace(NormalizeText(p))
		if b.Len() > 0 && p != "" {
			b.WriteString("\n\n")
		}
		sections[i] = Section{Title: "Page " + strconv.Itoa(i+1), Offset: b.Len()}
		b.WriteString(p)
	}
	return b.String(), sections
}

// Pages returns the text of each of x's sections: for an Extracted made by JoinPages, the
// text of each page (without the blank lines between pages).
func (x *Extracted) Pages() []string {
	pages := make([]string, len(x.Sections))
	for i, s := range x.Sections {
		end := len(x.Text)
		if i+1 < len(x.Sections) {
			end = x.Sections[i+1].Offset
		}
		pages[i] = strings.TrimSpace(x.Text[s.Offset:end])
	}
	return pages
}

// SizeSwitch is an Extractor that hands a Source of known size up to Size bytes to Small
// and every other to Large. For PDFs: in-process PDFium (media/pdfium) is faster on small
// files, where starting poppler's two programs dominates, and poppler (media/poppler) on
// large ones; media/pdfium's package comment has the measurements.
type SizeSwitch struct {
	Small, Large Extractor
	Size         int64
}

// Extract is Small's or Large's Extract.
func (s SizeSwitch) Extract(ctx context.Context, src Source) (*Extracted, error) {
	if src.Size >= 0 && src.Size <= s.Size {
		return s.Small.Extract(ctx, src)
	}
	return s.Large.Extract(ctx, src)
}

// Spool copies src into a file called name in a new temporary directory under root ("" is
// os.TempDir()), named like Run's so that SweepTemp removes it after a crash, for programs
// that need their input on disk. It returns the file's path and a func removing the
// directory; the copy stops when ctx is done.
func Spool(ctx context.Context, root string, src Source, name string) (string, func(), error) {
	dir, err := os.MkdirTemp(root, TempPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("media: temporary directory: %w", err)
	}
	remove := func() { os.RemoveAll(dir) }
	file := filepath.Join(dir, name)
	if err := copyTo(ctx, file, src); err != nil {
		remove()
		return "", nil, err
	}
	return file, remove, nil
}

func copyTo(ctx context.Context, file string, src Source) error {
	rc, err := src.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, storage.ContextReader(ctx, rc)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
