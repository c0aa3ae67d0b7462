// Package tesseract is OCR on the tesseract program (Debian packages tesseract-ocr and
// tesseract-ocr-LANG for each language): OCR is the media.Extractor of images (png, jpeg,
// webp, tiff) and, rasterising with poppler's pdftoppm at 300 dpi, reads PDF pages; PDF is
// the media.Extractor that completes a PDF text-layer extractor (media/poppler or
// media/pdfium, passed in as a media.Extractor) with OCR of the pages that have no text
// layer, as ocr_mode (fallback, always, off) and ocr_lang ask.
//
// Each page is one tesseract run with OMP_THREAD_LIMIT=1 (one core), through media.Run
// (own temporary directory, timeout, memory limit, process group killed on cancel); the
// pages of an item run in parallel up to OCR.Workers, the job's CPU budget.
package tesseract
