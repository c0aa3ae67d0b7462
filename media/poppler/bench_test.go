package poppler

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tldw-go/tldw/media/mediatest"
)

var (
	bigOnce sync.Once
	bigPDF  []byte
)

// big is a 1,800-page text PDF (5.6 MB of text), made once per test binary.
func big(b *testing.B) []byte {
	bigOnce.Do(func() { bigPDF = mediatest.TextPDF(b, mediatest.SamplePages(1800)...) })
	return bigPDF
}

// BenchmarkExtract1800Pages compares the extractor with bare `pdftotext file -` on the
// same 1,800-page PDF (the goal: at most 1.2× + 150 ms). Run:
//
//	go test ./media/poppler -run '^$' -bench Extract1800 -benchtime 5x
func BenchmarkExtract1800Pages(b *testing.B) {
	mediatest.NeedTools(b, "pdfinfo", "pdftotext")
	data := big(b)
	b.Run("poppler", func(b *testing.B) {
		src := mediatest.BytesSource("big.pdf", "application/pdf", data)
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if x, err := (Extractor{}).Extract(b.Context(), src); err != nil || len(x.Sections) != 1800 {
				b.Fatal(err)
			}
		}
	})
	b.Run("pdftotext", func(b *testing.B) {
		file := filepath.Join(b.TempDir(), "big.pdf")
		os.WriteFile(file, data, 0o600)
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			cmd := exec.Command("pdftotext", file, "-")
			cmd.Stdout = io.Discard
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkExtract3Pages is a small document: the two program starts dominate.
func BenchmarkExtract3Pages(b *testing.B) {
	mediatest.NeedTools(b, "pdfinfo", "pdftotext")
	src := mediatest.BytesSource("small.pdf", "application/pdf", mediatest.TextPDF(b, mediatest.SamplePages(3)...))
	for b.Loop() {
		if _, err := (Extractor{}).Extract(b.Context(), src); err != nil {
			b.Fatal(err)
		}
	}
}
