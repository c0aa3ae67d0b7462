package tesseract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of JPEG sizes
	_ "image/png"  // and PNG sizes
	"io"
	"mime"
	"os"
	"path"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tldw-go/tldw/media"
)

// The Debian/Ubuntu packages of the programs: tesseract itself (English data comes with
// tesseract-ocr-eng; another language L with tesseract-ocr-L), and pdftoppm.
const (
	Package        = "tesseract-ocr"
	PopplerPackage = "poppler-utils"
)

// Defaults for the zero fields of OCR.
const (
	DefaultTimeout = 2 * time.Minute // per page
	DefaultMemory  = 1 << 30         // per program run
	DefaultLang    = "eng"
	// DPI is the resolution PDF pages are rasterised at: what tesseract is trained for.
	DPI = 300
	// MaxPixels bounds the size of an image (or a rasterised page) sent to tesseract.
	MaxPixels = 50_000_000
)

// OCR runs tesseract on images and on the pages of PDFs (rasterised by poppler's pdftoppm).
// Every program runs through media.Run with OMP_THREAD_LIMIT=1, so one page takes one
// core; pages run in parallel up to Workers. The zero value finds the programs on PATH; it
// is safe for concurrent use.
type OCR struct {
	Tesseract, PDFToPPM string        // program paths; "" looks them up on PATH
	Workers             int           // pages OCR'd at once per call; 0 is runtime.NumCPU()
	TempRoot            string        // where temporary directories go; "" is os.TempDir()
	Timeout             time.Duration // per program run; 0 is DefaultTimeout
	MemoryBytes         int64         // address-space limit per run; 0 is DefaultMemory
}

var _ media.Extractor = OCR{}

// imageTypes are the image types Extract reads, with their extensions.
var imageTypes = map[string]string{
	"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/tiff": ".tif",
}

// Installed returns nil when tesseract and pdftoppm are found, else an ErrUnsupported
// error naming the package to install.
func (o OCR) Installed() error {
	if _, err := media.LookPath(o.Tesseract, "tesseract", Package); err != nil {
		return err
	}
	_, err := media.LookPath(o.PDFToPPM, "pdftoppm", PopplerPackage)
	return err
}

// Extract returns the text of an image (png, jpeg, webp, tiff; a multi-page TIFF has one
// media.Section per page) in src.Options.OCRLang. Errors wrap media.ErrUnsupported (another
// type, tesseract or the language's data not installed), media.ErrInvalid (a bad language
// code, an unreadable image), media.ErrTooLarge (more than MaxPixels, or text over
// src.Limit()), media.ErrTimeout, or ctx's error.
func (o OCR) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	ext := imageExt(src)
	if ext == "" {
		return nil, fmt.Errorf("%w: %s (%s) is not an image tesseract reads", media.ErrUnsupported, src.Name, src.ContentType)
	}
	lang, err := Lang(src.Options.OCRLang)
	if err != nil {
		return nil, err
	}
	prog, err := media.LookPath(o.Tesseract, "tesseract", Package)
	if err != nil {
		return nil, err
	}
	file, done, err := media.Spool(ctx, o.TempRoot, src, "in"+ext)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := checkPixels(file, src.Name); err != nil {
		return nil, err
	}
	out := &media.CappedBuffer{Max: src.Limit() + 1<<10}
	if err := media.Run(ctx, o.command(prog, nil, out, file, "stdout", "-l", lang)); err != nil {
		return nil, o.tesseractError(err, out, src)
	}
	pages := strings.Split(strings.TrimSuffix(out.Buf.String(), "\f"), "\f")
	text, sections := media.JoinPages(pages)
	if int64(len(text)) > src.Limit() {
		return nil, tooMuchText(src)
	}
	if len(sections) == 1 {
		sections = nil
	}
	return &media.Extracted{Text: text, Sections: sections, Metadata: map[string]string{
		"format": strings.TrimPrefix(ext, "."), "extractor": "tesseract", "ocr_lang": lang,
		media.MetaOCRPages: strconv.Itoa(len(pages))}}, nil
}

// OCRPages returns the text of pages (1-based page numbers) of the PDF src, in the order
// given, in lang (a code Lang accepts). Each page is rasterised at DPI by pdftoppm and read
// by tesseract; up to Workers pages at once. The first failure cancels the rest. Errors are
// Extract's, plus media.ErrUnsupported naming poppler-utils when pdftoppm is missing.
func (o OCR) OCRPages(ctx context.Context, src media.Source, pages []int, lang string) ([]string, error) {
	lang, err := Lang(lang)
	if err != nil {
		return nil, err
	}
	tess, err := media.LookPath(o.Tesseract, "tesseract", Package)
	if err != nil {
		return nil, err
	}
	ppm, err := media.LookPath(o.PDFToPPM, "pdftoppm", PopplerPackage)
	if err != nil {
		return nil, err
	}
	file, done, err := media.Spool(ctx, o.TempRoot, src, "in.pdf")
	if err != nil {
		return nil, err
	}
	defer done()

	workers := o.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	texts := make([]string, len(pages))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(pages)) {
		wg.Go(func() {
			for i := range next {
				t, err := o.page(ctx, tess, ppm, file, pages[i], lang, src)
				if err != nil {
					cancel(err)
					return
				}
				texts[i] = t
			}
		})
	}
feed:
	for i := range pages {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return texts, nil
}

// page rasterises one page of file and OCRs it.
func (o OCR) page(ctx context.Context, tess, ppm, file string, page int, lang string, src media.Source) (string, error) {
	n := strconv.Itoa(page)
	img := &media.CappedBuffer{Max: MaxPixels + 1<<10} // 8-bit grey PGM: a byte a pixel, and a header
	err := media.Run(ctx, o.command(ppm, nil, img, "-f", n, "-l", n, "-r", strconv.Itoa(DPI), "-gray", file))
	switch {
	case img.Over:
		return "", fmt.Errorf("%w: page %d of %s is too large to OCR", media.ErrTooLarge, page, src.Name)
	case err != nil && ctx.Err() == nil && !errors.Is(err, media.ErrTimeout):
		return "", fmt.Errorf("%w: page %d of %s cannot be rasterised (%v)", media.ErrInvalid, page, src.Name, err)
	case err != nil:
		return "", err
	}
	out := &media.CappedBuffer{Max: src.Limit() + 1<<10}
	if err := media.Run(ctx, o.command(tess, bytes.NewReader(img.Buf.Bytes()), out, "stdin", "stdout", "-l", lang, "--dpi", strconv.Itoa(DPI))); err != nil {
		return "", o.tesseractError(err, out, src)
	}
	return out.Buf.String(), nil
}

func (o OCR) command(prog string, stdin io.Reader, stdout io.Writer, args ...string) media.Command {
	c := media.Command{Path: prog, Args: args, Stdin: stdin, Stdout: stdout, TempRoot: o.TempRoot, Timeout: o.Timeout, MemoryBytes: o.MemoryBytes}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MemoryBytes == 0 {
		c.MemoryBytes = DefaultMemory
	}
	return c
}

// missingLang finds the language tesseract has no data for in its error.
var missingLang = regexp.MustCompile(`Failed loading language '([a-z_]+)'`)

// tesseractError turns a failed tesseract run into the error to return.
func (o OCR) tesseractError(err error, out *media.CappedBuffer, src media.Source) error {
	if out.Over {
		return tooMuchText(src)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, media.ErrTimeout) {
		return err
	}
	if m := missingLang.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%w: tesseract has no data for the language %q (Debian/Ubuntu package %s-%s)", media.ErrUnsupported, m[1], Package, strings.ReplaceAll(m[1], "_", "-"))
	}
	return fmt.Errorf("%w: tesseract cannot read %s (%v)", media.ErrInvalid, src.Name, err)
}

func tooMuchText(src media.Source) error {
	return fmt.Errorf("%w: the text of %s is larger than this server keeps", media.ErrTooLarge, src.Name)
}

// langCode is what OCRLang may be: tesseract language codes joined by '+'.
var langCode = regexp.MustCompile(`^[a-z_]+(\+[a-z_]+)*$`)

// Lang returns the tesseract language of an ocr_lang form value: DefaultLang for "", the
// value itself when it is codes of lower-case letters and '_' joined by '+' ("eng",
// "eng+deu", "chi_sim"), else a media.ErrInvalid error.
func Lang(s string) (string, error) {
	if s == "" {
		return DefaultLang, nil
	}
	if len(s) > 100 || !langCode.MatchString(s) {
		return "", fmt.Errorf("%w: ocr_lang %.40q is not tesseract language codes joined by '+' (such as eng or eng+deu)", media.ErrInvalid, s)
	}
	return s, nil
}

// imageExt returns the extension of src's image type, or "" when it is not one tesseract
// reads.
func imageExt(src media.Source) string {
	ct, _, _ := mime.ParseMediaType(src.ContentType)
	if ext, ok := imageTypes[ct]; ok {
		return ext
	}
	if ct == "application/octet-stream" || ct == "" {
		ext := strings.ToLower(path.Ext(src.Name))
		for _, e := range imageTypes {
			if ext == e || ext == ".jpeg" && e == ".jpg" || ext == ".tiff" && e == ".tif" {
				return e
			}
		}
	}
	return ""
}

// checkPixels refuses a PNG or JPEG of more than MaxPixels (other formats are bounded by the
// memory limit alone).
func checkPixels(file, name string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return nil // not PNG or JPEG, or broken: tesseract says which
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return fmt.Errorf("%w: %s is a %dx%d %s, more pixels than this server OCRs", media.ErrTooLarge, name, cfg.Width, cfg.Height, format)
	}
	return nil
}
