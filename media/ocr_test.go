package media_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tldw-go/tldw/media"
)

func TestJoinPages(t *testing.T) {
	in := []string{"  one\r\nline ", "", "\fthree\n", ""}
	text, sections := media.JoinPages(in)
	if text != "one\nline\n\nthree" {
		t.Errorf("text = %q", text)
	}
	x := &media.Extracted{Text: text, Sections: sections}
	if got := x.Pages(); !slices.Equal(got, []string{"one\nline", "", "three", ""}) {
		t.Errorf("Pages() = %q", got)
	}
	if len(sections) != 4 || sections[2].Title != "Page 3" || text[sections[2].Offset:] != "three" {
		t.Errorf("sections = %+v", sections)
	}
}

func TestIsPDF(t *testing.T) {
	for _, tc := range []struct {
		name, ct string
		want     bool
	}{
		{"a.pdf", "application/pdf", true},
		{"a.bin", "application/pdf", true},
		{"a.PDF", "application/octet-stream", true},
		{"a.pdf", "text/plain", false},
		{"a.txt", "", false},
	} {
		if got := media.IsPDF(media.Source{Name: tc.name, ContentType: tc.ct}); got != tc.want {
			t.Errorf("IsPDF(%s, %s) = %v", tc.name, tc.ct, got)
		}
	}
}

// named is an Extractor that answers its name.
type named string

func (n named) Extract(context.Context, media.Source) (*media.Extracted, error) {
	return &media.Extracted{Text: string(n)}, nil
}

func TestSizeSwitch(t *testing.T) {
	s := media.SizeSwitch{Small: named("small"), Large: named("large"), Size: 100}
	for size, want := range map[int64]string{0: "small", 100: "small", 101: "large", -1: "large"} {
		if got, _ := s.Extract(t.Context(), media.Source{Size: size}); got.Text != want {
			t.Errorf("size %d went to %s", size, got.Text)
		}
	}
}
