package media_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

func TestSizeSwitch(t *testing.T) {
	s := media.SizeSwitch{Small: named("small"), Large: named("large"), Size: 100}
	for size, want := range map[int64]string{0: "small", 100: "small", 101: "large", -1: "large"} {
		if got, _ := s.Extract(t.Context(), media.Source{Size: size}); got.Text != want {
			t.Errorf("size %d went to %s", size, got.Text)
		}
	}
}

func TestSpool(t *testing.T) {
	root := t.TempDir()
	src := media.Source{Name: "a.pdf", Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("%PDF-1.4")), nil }}
	file, remove, err := media.Spool(t.Context(), root, src, "in.pdf")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != "%PDF-1.4" || !strings.HasPrefix(filepath.Base(filepath.Dir(file)), media.TempPrefix) {
		t.Errorf("spooled %q to %s", b, file)
	}
	remove()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := media.Spool(ctx, root, src, "in.pdf"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
