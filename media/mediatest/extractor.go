package mediatest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tldw-go/tldw/media"
)

// ExtractCase is one input of TestExtractor and the text it must give.
type ExtractCase struct {
	Name        string // the file name
	ContentType string // as the sniffer would say
	Data        []byte
	Want        string // the text; compared after trimming surrounding white space
}

// BytesSource is a media.Source over data.
func BytesSource(name, contentType string, data []byte) media.Source {
	return media.Source{Name: name, ContentType: contentType, Size: int64(len(data)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// TestExtractor is the conformance suite of media.Extractor: every case gives its text as
// UTF-8 NFC with "\n" line ends, a cancelled context stops it, a text cap is enforced with
// ErrTooLarge, and unsupported is an input the extractor must refuse with ErrUnsupported.
func TestExtractor(t *testing.T, x media.Extractor, cases []ExtractCase, unsupported ExtractCase) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("TestExtractor needs at least one case")
	}
	for _, c := range cases {
		t.Run("Extract/"+c.Name, func(t *testing.T) {
			got, err := x.Extract(t.Context(), BytesSource(c.Name, c.ContentType, c.Data))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if strings.TrimSpace(got.Text) != strings.TrimSpace(c.Want) {
				t.Errorf("text = %q, want %q", got.Text, c.Want)
			}
			if !utf8.ValidString(got.Text) || strings.Contains(got.Text, "\r") {
				t.Errorf("text is not UTF-8 with \\n line ends: %q", got.Text)
			}
			for i, s := range got.Sections {
				if s.Offset < 0 || s.Offset > len(got.Text) || (i > 0 && s.Offset < got.Sections[i-1].Offset) {
					t.Errorf("section %d offset %d out of order or range", i, s.Offset)
				}
			}
		})
	}
	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		c := cases[0]
		if _, err := x.Extract(ctx, BytesSource(c.Name, c.ContentType, c.Data)); !errors.Is(err, context.Canceled) {
			t.Errorf("Extract with a cancelled context = %v, want context.Canceled", err)
		}
	})
	t.Run("TextCap", func(t *testing.T) {
		c := cases[0]
		src := BytesSource(c.Name, c.ContentType, c.Data)
		src.MaxText = int64(len(strings.TrimSpace(c.Want)) / 2)
		if src.MaxText == 0 {
			t.Fatal("the first case must have at least two bytes of text")
		}
		if _, err := x.Extract(t.Context(), src); !errors.Is(err, media.ErrTooLarge) {
			t.Errorf("Extract over the text cap = %v, want ErrTooLarge", err)
		}
	})
	t.Run("Unsupported", func(t *testing.T) {
		_, err := x.Extract(t.Context(), BytesSource(unsupported.Name, unsupported.ContentType, unsupported.Data))
		if !errors.Is(err, media.ErrUnsupported) {
			t.Errorf("Extract(%s) = %v, want ErrUnsupported", unsupported.Name, err)
		}
	})
}
