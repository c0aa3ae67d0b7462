// Package pdfium is the PDF media.Extractor that needs no external program: PDFium compiled
// to WebAssembly (github.com/klippa-app/go-pdfium's webassembly mode) running on wazero, in
// process, with no file system, a memory limit per document and a timeout. It gives the
// same result as media/poppler: the text, one media.Section per page, the page cap, and an
// encrypted (password-protected) or corrupt PDF as media.ErrInvalid.
//
// It is the embedded default; media/poppler is used when poppler-utils is installed.
// Figures are in BENCHMARKS below.
package pdfium
