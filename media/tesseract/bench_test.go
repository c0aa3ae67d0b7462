package tesseract

import (
	"testing"

	"github.com/tldw-go/tldw/media/mediatest"
)

// BenchmarkOCRPage is one scanned page (sixty words at 12 points) rasterised at 300 dpi
// and OCR'd. Run:
//
//	go test ./media/tesseract -run '^$' -bench OCRPage -benchtime 5x
func BenchmarkOCRPage(b *testing.B) {
	needOCR(b)
	src := mediatest.BytesSource("scan.pdf", "application/pdf", mediatest.ScannedPDF(b, prose))
	for b.Loop() {
		texts, err := (OCR{}).OCRPages(b.Context(), src, []int{1}, "eng")
		if err != nil || mediatest.WER(texts[0], prose) > 0.02 {
			b.Fatal(texts, err)
		}
	}
}
