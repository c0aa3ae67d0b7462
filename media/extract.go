package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tldw-go/tldw/storage"

	"golang.org/x/text/unicode/norm"
)

// ErrUnsupported: no extractor handles the input's type (or the tool that would is not
// installed). Permanent: retrying cannot help.
var ErrUnsupported = errors.New("media: unsupported input")

// Source is one input an Extractor reads.
type Source struct {
	Name        string // the client's file name (its extension decides among text types)
	ContentType string // sniffed from the bytes
	Size        int64  // bytes, or -1 when unknown
	// Open returns the bytes from the start; an extractor may call it more than once.
	Open func() (io.ReadCloser, error)
	// MaxText bounds the extracted text in bytes; 0 means DefaultMaxText. More is ErrTooLarge.
	MaxText int64
	// Options are the client's processing choices that extractors honour.
	Options ExtractOptions
}

// ExtractOptions are the ingest form's choices that change extraction (tldw_server's
// AddMediaForm fields ocr_mode, ocr_lang). Zero values take the defaults.
type ExtractOptions struct {
	OCRMode     string // OCRFallback (default): OCR pages without a text layer; OCRAlways; OCROff
	OCRLang     string // tesseract language codes, "eng" by default ("eng+deu" for several)
	MaxPages    int    // page cap for paged formats (PDF); 0 = the extractor's default
	MaxOCRPages int    // cap on pages sent to OCR in one item; 0 = the extractor's default
}

// The ocr_mode values.
const (
	OCRFallback = "fallback"
	OCRAlways   = "always"
	OCROff      = "off"
)

// DefaultMaxText is the extracted-text cap when Source.MaxText is 0.
const DefaultMaxText = 64 << 20

// Limit returns the text cap that applies to s.
func (s Source) Limit() int64 {
	if s.MaxText > 0 {
		return s.MaxText
	}
	return DefaultMaxText
}

// Extracted is the text of a Source, as UTF-8 in Unicode NFC with "\n" line ends.
type Extracted struct {
	Text     string
	Title    string            // a title found in the input (a first heading, <title>), or ""
	Metadata map[string]string // what the format says about itself (encoding, page count, ...)
	Sections []Section         // chapter or page boundaries, in order; nil when the format has none
	Warnings []string          // what was lost or guessed, for the item's result
}

// Section is a chapter or page of an Extracted text.
type Section struct {
	Title  string
	Offset int // byte offset of the section's start in Extracted.Text
}

// Extractor turns a Source into text. Implementations return errors wrapping ErrUnsupported
// (a type they do not handle), ErrInvalid (corrupt, encrypted or otherwise unreadable input:
// permanent), ErrTooLarge (over a limit: permanent), or another error for a failure a retry
// may cure. They are safe for concurrent use and stop when ctx is done.
type Extractor interface {
	Extract(ctx context.Context, src Source) (*Extracted, error)
}

// NormalizeText is how every extractor finishes its text: "\n" line ends, no control
// characters other than tab and newline (nor U+FEFF), Unicode NFC.
func NormalizeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return '\n'
		case r == '\t' || r == '\n':
			return r
		case r < 0x20 || r == 0x7F || r == 0xFEFF:
			return -1
		}
		return r
	}, s)
	return norm.NFC.String(s)
}

// ReadSource reads all of src, refusing with ErrTooLarge an input of more than factor times
// its text limit (markup and compression make inputs larger than their text; beyond such a
// factor the text would be over the limit anyway). The read stops when ctx is done.
func ReadSource(ctx context.Context, src Source, factor int64) ([]byte, error) {
	rc, err := src.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	max := factor * src.Limit()
	raw, err := io.ReadAll(storage.LimitReader(storage.ContextReader(ctx, rc), max))
	if errors.Is(err, storage.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %s is larger than this server reads for its text", ErrTooLarge, src.Name)
	}
	return raw, err
}
