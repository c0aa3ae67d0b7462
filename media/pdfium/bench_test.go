package pdfium

import (
	"testing"

	"github.com/tldw-go/tldw/media/mediatest"
)

// BenchmarkExtract1800Pages reads the 1,800-page PDF of media/poppler's benchmark of the
// same name (the pool already started). Run:
//
//	go test ./media/pdfium -run '^$' -bench . -benchtime 5x
func BenchmarkExtract1800Pages(b *testing.B) {
	data := mediatest.TextPDF(b, mediatest.SamplePages(1800)...)
	src := mediatest.BytesSource("big.pdf", "application/pdf", data)
	if _, err := shared.Extract(b.Context(), src); err != nil { // start the pool
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if x, err := shared.Extract(b.Context(), src); err != nil || len(x.Sections) != 1800 {
			b.Fatal(err)
		}
	}
}

// BenchmarkStart is the first Extract of a new Extractor (of a one-page PDF): compiling
// PDFium, or loading it from the compilation cache.
func BenchmarkStart(b *testing.B) {
	src := mediatest.BytesSource("one.pdf", "application/pdf", mediatest.TextPDF(b, "one page"))
	for _, tc := range []struct{ name, cache string }{{"compile", ""}, {"cached", cacheDir}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				x := &Extractor{Workers: 1, CacheDir: tc.cache}
				if _, err := x.Extract(b.Context(), src); err != nil {
					b.Fatal(err)
				}
				x.Close()
			}
		})
	}
}

// BenchmarkExtract3Pages is a small document (the pool already started).
func BenchmarkExtract3Pages(b *testing.B) {
	src := mediatest.BytesSource("small.pdf", "application/pdf", mediatest.TextPDF(b, mediatest.SamplePages(3)...))
	if _, err := shared.Extract(b.Context(), src); err != nil { // start the pool
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := shared.Extract(b.Context(), src); err != nil {
			b.Fatal(err)
		}
	}
}
