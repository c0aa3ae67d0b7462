package tesseract

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/tldw-go/tldw/media"
)

// PageOCR reads the text of PDF pages from their pixels; OCR is the implementation.
type PageOCR interface {
	// OCRPages returns the text of pages (1-based), in order, in the tesseract language
	// lang.
	OCRPages(ctx context.Context, src media.Source, pages []int, lang string) ([]string, error)
}

var _ PageOCR = OCR{}

// PDF is the media.Extractor for PDFs that OCRs what has no text layer. Text reads the text
// layer (media/poppler or media/pdfium: one media.Section per page); then, by
// src.Options.OCRMode, OCR reads the pages without text (media.OCRFallback, the default),
// every page (media.OCRAlways), or none (media.OCROff: such pages stay empty, with a
// warning). When OCR is not installed, fallback keeps a text layer it has, with a warning,
// and fails with OCR's media.ErrUnsupported when there is none. More pages to OCR than src.Options.OCRPageCap() is media.ErrTooLarge before any
// OCR runs: the item fails at once rather than losing pages. It is safe for concurrent use
// when its fields are.
type PDF struct {
	Text media.Extractor
	OCR  PageOCR
}

var _ media.Extractor = PDF{}

// Extract returns the text of the PDF, one media.Section per page; Metadata["ocr_pages"]
// counts the pages read by OCR. Errors are Text's and OCR's, plus media.ErrInvalid for a
// bad ocr_mode or ocr_lang.
func (p PDF) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	if !media.IsPDF(src) {
		return nil, fmt.Errorf("%w: %s (%s) is not a PDF", media.ErrUnsupported, src.Name, src.ContentType)
	}
	mode := src.Options.OCRMode
	switch mode {
	case "":
		mode = media.OCRFallback
	case media.OCRFallback, media.OCRAlways, media.OCROff:
	default:
		return nil, fmt.Errorf("%w: ocr_mode %.20q is not %s, %s or %s", media.ErrInvalid, mode, media.OCRFallback, media.OCRAlways, media.OCROff)
	}
	lang, err := Lang(src.Options.OCRLang)
	if err != nil {
		return nil, err
	}
	x, err := p.Text.Extract(ctx, src)
	if err != nil {
		return nil, err
	}
	pages := x.Pages()
	var need []int // 1-based
	for i, t := range pages {
		if mode == media.OCRAlways || !hasText(t) {
			need = append(need, i+1)
		}
	}
	if len(need) == 0 {
		return x, nil
	}
	if mode == media.OCROff {
		x.Warnings = append(x.Warnings, fmt.Sprintf("%d of %d pages have no text layer and were not OCR'd (ocr_mode=off)", len(need), len(pages)))
		return x, nil
	}
	if max := src.Options.OCRPageCap(); len(need) > max {
		return nil, fmt.Errorf("%w: %s needs OCR of %d pages, more than the %d this server OCRs in one item", media.ErrTooLarge, src.Name, len(need), max)
	}
	texts, err := p.OCR.OCRPages(ctx, src, need, lang)
	if errors.Is(err, media.ErrUnsupported) && mode == media.OCRFallback && x.Text != "" {
		// No OCR here (tesseract missing): the text layer is still worth having.
		x.Warnings = append(x.Warnings, fmt.Sprintf("%d of %d pages have no text layer and were not OCR'd: %v", len(need), len(pages), err))
		return x, nil
	}
	if err != nil {
		return nil, err
	}
	for i, n := range need {
		pages[n-1] = texts[i]
	}
	text, sections := media.JoinPages(pages)
	if int64(len(text)) > src.Limit() {
		return nil, tooMuchText(src)
	}
	x.Text, x.Sections = text, sections
	if x.Metadata == nil {
		x.Metadata = map[string]string{}
	}
	x.Metadata[media.MetaOCRPages] = strconv.Itoa(len(need))
	x.Metadata["ocr_lang"] = lang
	return x, nil
}

// hasText reports whether a page's text layer has any letter or digit: a page with none
// (blank, or a scan with at most stray marks) is OCR'd.
func hasText(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) >= 0
}
