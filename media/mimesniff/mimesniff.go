package mimesniff

import (
	"path"
	"strings"

	"github.com/gabriel-vasile/mimetype"

	"github.com/tldw-go/tldw/media"
)

// Sniffer names content types from bytes. The zero value is ready to use and safe for
// concurrent use.
type Sniffer struct{}

var _ media.Sniffer = Sniffer{}

// New returns a Sniffer.
func New() Sniffer { return Sniffer{} }

// textRefinements are the more precise types a plain-text file gets from its extension;
// anything the bytes identify beyond text/plain (HTML, SVG, JSON, ...) is never overridden.
var textRefinements = map[string]string{
	".md":       "text/markdown",
	".markdown": "text/markdown",
}

// Sniff returns the MIME type of the file that starts with head, such as "video/mp4",
// "application/pdf" or "text/plain; charset=utf-8", and "application/octet-stream" when the
// format is unknown. The filename refines only plain text (".md" → text/markdown).
func Sniff(head []byte, filename string) string {
	m := mimetype.Detect(head)
	t := m.String()
	if m.Is("text/plain") {
		if r, ok := textRefinements[strings.ToLower(path.Ext(filename))]; ok {
			if _, params, found := strings.Cut(t, ";"); found {
				return r + ";" + params
			}
			return r
		}
	}
	return t
}

// Sniff implements media.Sniffer with the package-level Sniff.
func (Sniffer) Sniff(head []byte, filename string) string { return Sniff(head, filename) }
