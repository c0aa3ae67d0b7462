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

func TestPDFExtractor(t *testing.T) {
	mediatest.NeedTools(t, "pdfinfo", "pdftotext")
	mediatest.TestPDFExtractor(t, Extractor{})
}

// TestMissingTool: without poppler the error is ErrUnsupported naming the package.
func TestMissingTool(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, x := range []Extractor{{}, {PDFToText: "/nonexistent/pdftotext"}} {
		_, err := x.Extract(t.Context(), mediatest.BytesSource("doc.pdf", "application/pdf", []byte("%PDF-1.4")))
		if !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), "poppler-utils") {
			t.Errorf("err = %v, want ErrUnsupported naming poppler-utils", err)
		}
		if err := x.Installed(); !errors.Is(err, media.ErrUnsupported) {
			t.Errorf("Installed() = %v", err)
		}
	}
}

// TestReadingOrder: two columns (enscript -2) come out column after column.
func TestReadingOrder(t *testing.T) {
	mediatest.NeedTools(t, "pdfinfo", "pdftotext", "enscript", "ps2pdf")
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
	got, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource("doc.pdf", "application/pdf", data))
	if err != nil {
		t.Fatal(err)
	}
	if wer := mediatest.WER(got.Text, strings.Join(append(left, right...), " ")); wer > 0.02 {
		t.Errorf("two columns read as %q (WER %.2f)", got.Text, wer)
	}
}
