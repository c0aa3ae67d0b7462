package media_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
)

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct {
		name, ctype string
		want        media.Format
	}{
		{"notes.txt", "text/plain; charset=utf-8", media.FormatText},
		{"README.md", "text/plain; charset=utf-8", media.FormatText}, // markdown sniffs as text/plain
		{"README.md", "text/markdown; charset=utf-8", media.FormatText},
		{"guide.rst", "text/plain; charset=utf-8", media.FormatText},
		{"main.go", "text/plain; charset=utf-8", media.FormatText},
		{"tool.py", "text/x-python", media.FormatText},
		{"run.sh", "text/x-shellscript", media.FormatText},
		{"data.csv", "text/csv", media.FormatText},
		{"doc.json", "application/json", media.FormatText},
		{"feed.xml", "text/xml; charset=utf-8", media.FormatText},
		{"drawing.svg", "image/svg+xml", media.FormatText},
		{"wide.txt", "application/octet-stream", media.FormatText}, // UTF-16 without a BOM
		{"noname", "text/plain", media.FormatText},
		{"page.html", "text/html; charset=utf-8", media.FormatHTML},
		{"page.html", "text/plain; charset=utf-8", media.FormatHTML}, // the extension wins for text
		{"page.txt", "text/html", media.FormatHTML},                  // but plain text never hides HTML
		{"page.xhtml", "text/xml", media.FormatHTML},
		{"box.mbox", "text/plain; charset=utf-8", media.FormatEmail},
		{"msg.eml", "message/rfc822", media.FormatEmail},
		{"report.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", media.FormatOffice},
		{"report.docx", "application/zip", media.FormatOffice},
		{"deck.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", media.FormatOffice},
		{"sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", media.FormatOffice},
		{"book.epub", "application/epub+zip", media.FormatEPUB},
		{"book.epub", "application/zip", media.FormatEPUB},
		{"letter.odt", "application/vnd.oasis.opendocument.text", media.FormatODT},
		{"letter.odt", "application/zip", media.FormatODT},
		{"letter.rtf", "text/rtf", media.FormatRTF},
		{"paper.pdf", "application/pdf", media.FormatPDF},
		{"paper.pdf", "application/octet-stream", media.FormatPDF}, // corrupt: the PDF extractor says so
		{"paper.txt", "application/pdf", media.FormatPDF},          // the bytes win over a text extension
		{"scan.png", "image/png", media.FormatImage},
		{"scan.jpg", "image/jpeg", media.FormatImage},
		{"scan.webp", "image/webp", media.FormatImage},
		{"scan.tiff", "image/tiff", media.FormatImage},
	} {
		got, err := media.FormatOf(media.Source{Name: tc.name, ContentType: tc.ctype})
		if err != nil || got != tc.want {
			t.Errorf("FormatOf(%s, %s) = %q, %v; want %q", tc.name, tc.ctype, got, err, tc.want)
		}
	}
}

func TestFormatOfRefusals(t *testing.T) {
	for _, tc := range []struct{ name, ctype, want string }{
		{"bundle.zip", "application/zip", "archives are not unpacked"},
		{"notes.txt", "application/zip", "archives are not unpacked"},
		{"src.tar", "application/x-tar", "archives are not unpacked"},
		{"src.tar.gz", "application/gzip", "archives are not unpacked"},
		{"a.7z", "application/x-7z-compressed", "archives are not unpacked"},
		{"a.rar", "application/vnd.rar", "archives are not unpacked"},
		{"app.jar", "application/java-archive", "archives are not unpacked"},
		{"prog.exe", "application/vnd.microsoft.portable-executable", "application/vnd.microsoft.portable-executable"},
		{"blob", "application/octet-stream", "application/octet-stream"},
		{"blob", "", "unknown"},
		{"song.mp3", "audio/mpeg", "audio/mpeg"},
	} {
		_, err := media.FormatOf(media.Source{Name: tc.name, ContentType: tc.ctype})
		if !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("FormatOf(%s, %s) = %v; want ErrUnsupported naming %q", tc.name, tc.ctype, err, tc.want)
		}
	}
}

// named is a fake Extractor that says which one ran.
type named string

func (n named) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if int64(len(n)) > src.Limit() {
		return nil, media.ErrTooLarge
	}
	return &media.Extracted{Text: string(n)}, nil
}

func TestExtractors(t *testing.T) {
	x := media.Extractors{media.FormatText: named("by the text extractor"), media.FormatHTML: named("by the html extractor")}
	mediatest.TestExtractor(t, x, []mediatest.ExtractCase{
		{Name: "README.md", ContentType: "text/plain", Want: "by the text extractor"},
		{Name: "page.html", ContentType: "text/plain", Want: "by the html extractor"},
	}, mediatest.ExtractCase{Name: "a.zip", ContentType: "application/zip"})

	// An embedder replaces an entry; a format with none is unsupported, naming it.
	x[media.FormatText] = named("replaced")
	if got, err := x.Extract(t.Context(), mediatest.BytesSource("a.txt", "text/plain", nil)); err != nil || got.Text != "replaced" {
		t.Errorf("replaced entry: %v %v", got, err)
	}
	_, err := x.Extract(t.Context(), mediatest.BytesSource("a.pdf", "application/pdf", nil))
	if !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), "pdf extractor") {
		t.Errorf("no pdf entry: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	x := media.Extractors{media.FormatODT: media.Unavailable(media.Tool{Name: "pandoc", Package: "pandoc"})}
	_, err := x.Extract(t.Context(), mediatest.BytesSource("letter.odt", "application/vnd.oasis.opendocument.text", nil))
	if !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), "install the pandoc package") {
		t.Errorf("missing tool: %v", err)
	}
}
