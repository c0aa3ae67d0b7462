// Package pdfium is the PDF media.Extractor that needs no external program: PDFium compiled
// to WebAssembly (github.com/klippa-app/go-pdfium's webassembly mode) running on wazero, in
// process, with no file system, a memory limit per document and a timeout. It gives the
// same result as media/poppler: the text, one media.Section per page, the page cap, and an
// encrypted (password-protected) or corrupt PDF as media.ErrInvalid.
//
// Measured (the benchmarks of this package and media/poppler; 2 shared vCPUs under load,
// so ratios matter more than times):
//
//	1,800-page text PDF (2.3 MB, 5.6 MB of text)   pdftotext alone  6.1 s
//	                                               media/poppler    7.4 s (1.2×)
//	                                               media/pdfium    12.4 s (2.0×)
//	3-page text PDF                                media/poppler   264 ms
//	                                               media/pdfium     51 ms
//	start (first Extract)                          compile         15 s
//	                                               CacheDir set    0.7 s
//
// PDFium in WebAssembly runs about 1.7 times slower per page than native pdftotext, but
// it starts no process: it wins below some tens of pages, poppler above. So: with
// poppler-utils installed, media.SizeSwitch{Small: pdfium, Large: poppler}; without it,
// this package alone.
package pdfium
