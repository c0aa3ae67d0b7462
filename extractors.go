package tldw

import (
	"path/filepath"
	"sync"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/email"
	"github.com/tldw-go/tldw/media/epub"
	"github.com/tldw-go/tldw/media/ooxml"
	"github.com/tldw-go/tldw/media/pandoc"
	"github.com/tldw-go/tldw/media/pdfium"
	"github.com/tldw-go/tldw/media/plaintext"
	"github.com/tldw-go/tldw/media/poppler"
	"github.com/tldw-go/tldw/media/readability"
	"github.com/tldw-go/tldw/media/tesseract"
	"github.com/tldw-go/tldw/media/tiktoken"
)

// defaultExtractor routes each input by format (media.Extractors) to the built-in
// adapters. PDFs go to poppler when it is installed and to PDFium in WebAssembly when not:
// poppler is the faster on large files and starts no compiler; in-process PDFium needs no
// tool at all (it compiles once, then loads from <DataDir>/cache/pdfium). Pages without a
// text layer, and images, go to tesseract when it is installed. The returned func releases
// PDFium.
func (a *App) defaultExtractor() (media.Extractor, func() error) {
	tmp := a.Config.TempDir()
	html := readability.Extractor{}
	ocr := tesseract.OCR{TempRoot: tmp}
	pdf := &pdfium.Extractor{TempRoot: tmp, CacheDir: filepath.Join(a.Config.DataDir, "cache", "pdfium")}
	var text media.Extractor = pdf
	if (poppler.Extractor{}).Installed() == nil {
		text = poppler.Extractor{TempRoot: tmp}
	}
	var image media.Extractor = ocr
	if err := ocr.Installed(); err != nil {
		image = media.Unavailable(media.Tool{Name: "tesseract", Package: "tesseract-ocr"})
	}
	doc := pandoc.Extractor{TempRoot: tmp}
	return media.Extractors{
		media.FormatText:   plaintext.Extractor{},
		media.FormatHTML:   html,
		media.FormatOffice: ooxml.Extractor{},
		media.FormatEPUB:   epub.Extractor{HTML: html},
		media.FormatEmail:  email.Extractor{HTML: html},
		media.FormatPDF:    tesseract.PDF{Text: text, OCR: ocr},
		media.FormatImage:  image,
		media.FormatODT:    doc,
		media.FormatRTF:    doc,
	}, pdf.Close
}

// tokens is chunk_method=tokens' tokenizer (cl100k_base), loaded on first use: it takes
// about 24 MB and half a second, which servers that never chunk by tokens should not pay.
func (a *App) tokens() func(string) [][2]int {
	load := sync.OnceValues(tiktoken.New)
	return func(text string) [][2]int {
		t, err := load()
		if err != nil { // the ranks are embedded: only a broken build gets here
			a.Logger.Error("tokenizer unavailable", "err", err)
			return nil
		}
		return t.Tokens(text)
	}
}
