package poppler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
)

var pages = []string{
	"The first page tells of a quiet village by the river.",
	"On the second page the miller loses his cat.",
	"The third page ends the story with a feast.",
}

func needPoppler(t *testing.T) {
	t.Helper()
	mediatest.NeedTools(t, "pdfinfo", "pdftotext")
}

func pdfSource(data []byte) media.Source {
	return mediatest.BytesSource("doc.pdf", "application/pdf", data)
}

func TestConformance(t *testing.T) {
	needPoppler(t)
	data := mediatest.TextPDF(t, pages...)
	mediatest.TestExtractor(t, Extractor{}, []mediatest.ExtractCase{
		{Name: "story.pdf", ContentType: "application/pdf", Data: data, Want: strings.Join(pages, "\n\n")},
		{Name: "story.pdf", ContentType: "application/octet-stream", Data: data, Want: strings.Join(pages, "\n\n")},
	}, mediatest.ExtractCase{Name: "story.txt", ContentType: "text/plain", Data: []byte("plain")})
}

// TestPagesAndMetadata: text out equals text in (word error rate), one section per page,
// pdfinfo's fields in the metadata.
func TestPagesAndMetadata(t *testing.T) {
	needPoppler(t)
	in := []string{pages[0], "", pages[2]} // an empty page keeps its section
	got, err := Extractor{}.Extract(t.Context(), pdfSource(mediatest.TextPDF(t, in...)))
	if err != nil {
		t.Fatal(err)
	}
	if wer := mediatest.WER(got.Text, strings.Join(in, " ")); wer > 0.02 {
		t.Errorf("WER %.3f: %q", wer, got.Text)
	}
	if p := got.Pages(); len(p) != 3 || p[0] != in[0] || p[1] != "" || p[2] != in[2] {
		t.Errorf("pages = %q", p)
	}
	if got.Metadata["pages"] != "3" || got.Metadata["extractor"] != "poppler" || got.Title != "Enscript Output" {
		t.Errorf("metadata %v, title %q", got.Metadata, got.Title)
	}
}

func TestBadPDFs(t *testing.T) {
	needPoppler(t)
	data := mediatest.TextPDF(t, pages...)
	tests := []struct {
		name string
		data []byte
		opts media.ExtractOptions
		want error
		msg  string
	}{
		{"encrypted", mediatest.EncryptPDF(t, data), media.ExtractOptions{}, media.ErrInvalid, "encrypted"},
		{"truncated", data[:len(data)/2], media.ExtractOptions{}, media.ErrInvalid, "not a readable PDF"},
		{"garbage", []byte("%PDF-1.4\nnot really"), media.ExtractOptions{}, media.ErrInvalid, "not a readable PDF"},
		{"empty", nil, media.ExtractOptions{}, media.ErrInvalid, "not a readable PDF"},
		{"over the page cap", data, media.ExtractOptions{MaxPages: 2}, media.ErrTooLarge, "3 pages"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := pdfSource(tc.data)
			src.Options = tc.opts
			_, err := Extractor{}.Extract(t.Context(), src)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want %v saying %q", err, tc.want, tc.msg)
			}
		})
	}
}

// TestMissingTool: without poppler the error is ErrUnsupported naming the package.
func TestMissingTool(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, x := range []Extractor{{}, {PDFToText: "/nonexistent/pdftotext"}} {
		_, err := x.Extract(t.Context(), pdfSource([]byte("%PDF-1.4")))
		if !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), "poppler-utils") {
			t.Errorf("err = %v, want ErrUnsupported naming poppler-utils", err)
		}
		if err := x.Installed(); !errors.Is(err, media.ErrUnsupported) {
			t.Errorf("Installed() = %v", err)
		}
	}
}

// TestNoTempFilesLeft: after success, failure and cancel the temporary root is empty.
func TestNoTempFilesLeft(t *testing.T) {
	needPoppler(t)
	root := t.TempDir()
	x := Extractor{TempRoot: root}
	data := mediatest.TextPDF(t, pages...)
	x.Extract(t.Context(), pdfSource(data))
	x.Extract(t.Context(), pdfSource(data[:100]))
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("left in the temporary root: %v", entries)
	}
}

// TestReadingOrder: two columns (enscript -2) come out column after column.
func TestReadingOrder(t *testing.T) {
	needPoppler(t)
	mediatest.NeedTools(t, "enscript", "ps2pdf")
	var left, right []string
	for i := range 20 {
		left = append(left, fmt.Sprintf("left%d", i))
		right = append(right, fmt.Sprintf("right%d", i))
	}
	// enscript -2 lays two logical pages side by side on one sheet.
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte(strings.Join(left, "\n")+"\f"+strings.Join(right, "\n")), 0o600)
	mediatest.Command(t, "enscript", "-2", "-B", "-q", "-p", filepath.Join(dir, "out.ps"), in)
	mediatest.Command(t, "ps2pdf", filepath.Join(dir, "out.ps"), filepath.Join(dir, "out.pdf"))
	data, _ := os.ReadFile(filepath.Join(dir, "out.pdf"))
	got, err := Extractor{}.Extract(t.Context(), pdfSource(data))
	if err != nil {
		t.Fatal(err)
	}
	if wer := mediatest.WER(got.Text, strings.Join(append(left, right...), " ")); wer > 0.02 {
		t.Errorf("two columns read as %q (WER %.2f)", got.Text, wer)
	}
}
