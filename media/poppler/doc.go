// Package poppler is the PDF media.Extractor on poppler's command-line tools (Debian package
// poppler-utils): pdfinfo for the page count, encryption and metadata, then pdftotext for
// the text in reading order, one media.Section per page. Both run through media.Run (own
// temporary directory, timeout, memory limit, process group killed on cancel).
//
// Measured against media/pdfium (PDFium in WebAssembly, no external tool) on a generated
// 1,800-page text PDF: see BenchmarkExtract in this package's tests and the figures in the
// media/pdfium package comment. Prefer this adapter when Installed returns nil, and
// media/pdfium otherwise.
package poppler
