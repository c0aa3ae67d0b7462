package tesseract

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/media/poppler"
)

// prose is sixty words: one OCR error in it is a word error rate of 0.017.
const prose = "Every morning the baker opened his shop before the sun rose over the hills and the " +
	"smell of fresh bread filled the narrow street where children walked slowly to school " +
	"while their parents hurried to the station and the old clock on the church tower " +
	"struck seven times as the first train left the town for the city far away"

func needOCR(t testing.TB) {
	t.Helper()
	mediatest.NeedTools(t, "tesseract", "pdftoppm")
}

func TestConformance(t *testing.T) {
	needOCR(t)
	const line = "The quick brown fox jumps over the lazy dog"
	png := mediatest.TextImage(t, line)
	mediatest.TestExtractor(t, OCR{}, []mediatest.ExtractCase{
		{Name: "scan.png", ContentType: "image/png", Data: png, Want: line},
		{Name: "scan.png", ContentType: "application/octet-stream", Data: png, Want: line},
	}, mediatest.ExtractCase{Name: "notes.txt", ContentType: "text/plain", Data: []byte("text")})
}

// TestImageFormats: text out equals text in for each image type.
func TestImageFormats(t *testing.T) {
	needOCR(t)
	mediatest.NeedTools(t, "convert")
	png := mediatest.TextImage(t, prose)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in.png"), png, 0o600)
	for ct, ext := range imageTypes {
		t.Run(ext, func(t *testing.T) {
			data := png
			if ext != ".png" {
				out := filepath.Join(dir, "out"+ext)
				mediatest.Command(t, "convert", filepath.Join(dir, "in.png"), out)
				data, _ = os.ReadFile(out)
			}
			got, err := OCR{}.Extract(t.Context(), mediatest.BytesSource("scan"+ext, ct, data))
			if err != nil {
				t.Fatal(err)
			}
			if wer := mediatest.WER(got.Text, prose); wer > 0.02 {
				t.Errorf("WER %.3f: %q", wer, got.Text)
			}
		})
	}
}

func TestLang(t *testing.T) {
	for in, want := range map[string]string{"": "eng", "eng": "eng", "eng+deu": "eng+deu", "chi_sim": "chi_sim"} {
		if got, err := Lang(in); got != want || err != nil {
			t.Errorf("Lang(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"ENG", "eng+", "+eng", "eng deu", "../etc", "eng;rm", "e-n", strings.Repeat("a", 101)} {
		if _, err := Lang(bad); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("Lang(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestBadImages(t *testing.T) {
	needOCR(t)
	png := mediatest.TextImage(t, "short")
	for _, tc := range []struct {
		name string
		data []byte
		lang string
		want error
		msg  string
	}{
		{"truncated", png[:len(png)/3], "", media.ErrInvalid, "cannot read"},
		{"garbage", []byte("not an image at all"), "", media.ErrInvalid, "cannot read"},
		{"bad lang", png, "eng;ls", media.ErrInvalid, "ocr_lang"},
		{"lang without data", png, "xyz", media.ErrUnsupported, "tesseract-ocr-xyz"},
		{"too many pixels", bigPNG(t), "", media.ErrTooLarge, "pixels"},
	} {
		src := mediatest.BytesSource("scan.png", "image/png", tc.data)
		src.Options.OCRLang = tc.lang
		_, err := OCR{}.Extract(t.Context(), src)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %v saying %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

// bigPNG is the header of a 10000x10000 PNG: DecodeConfig reads only that.
func bigPNG(t *testing.T) []byte {
	t.Helper()
	png := mediatest.TextImage(t, "x")
	b := slices.Clone(png[:33])
	// The IHDR chunk: width and height at bytes 16..23, its CRC at 29..32.
	copy(b[16:], []byte{0, 0, 0x27, 0x10, 0, 0, 0x27, 0x10})
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestMissingTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := OCR{}.Extract(t.Context(), mediatest.BytesSource("a.png", "image/png", []byte("x")))
	if !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), "tesseract-ocr") {
		t.Errorf("image without tesseract: %v", err)
	}
	_, err = OCR{Tesseract: "/bin/true"}.OCRPages(t.Context(), mediatest.BytesSource("a.pdf", "application/pdf", []byte("x")), []int{1}, "eng")
	if !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), "poppler-utils") {
		t.Errorf("PDF without pdftoppm: %v", err)
	}
	if err := (OCR{}).Installed(); !errors.Is(err, media.ErrUnsupported) {
		t.Errorf("Installed() = %v", err)
	}
}

// scanned is a PDF composition on poppler's text layer.
func scanned() PDF { return PDF{Text: poppler.Extractor{}, OCR: OCR{Workers: 2}} }

func TestPDFConformance(t *testing.T) {
	needOCR(t)
	mediatest.NeedTools(t, "pdfinfo", "pdftotext")
	pages := []string{"The first scanned page", "The second scanned page"}
	mediatest.TestExtractor(t, scanned(), []mediatest.ExtractCase{
		{Name: "scan.pdf", ContentType: "application/pdf", Data: mediatest.ScannedPDF(t, pages...), Want: strings.Join(pages, "\n\n")},
	}, mediatest.ExtractCase{Name: "scan.png", ContentType: "image/png", Data: []byte("x")})
}

// TestScannedAndMixedPDF: scanned pages come out as their text; in a PDF with a text page
// and a scanned one only the scanned one is OCR'd under fallback, and neither under off.
func TestScannedAndMixedPDF(t *testing.T) {
	needOCR(t)
	mediatest.NeedTools(t, "pdfinfo", "pdftotext", "qpdf")
	const textPage = "This page has a text layer made by enscript"
	scan := mediatest.ScannedPDF(t, prose)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "text.pdf"), mediatest.TextPDF(t, textPage), 0o600)
	os.WriteFile(filepath.Join(dir, "scan.pdf"), scan, 0o600)
	mediatest.Command(t, "qpdf", "--empty", "--pages", filepath.Join(dir, "text.pdf"), filepath.Join(dir, "scan.pdf"), "--", filepath.Join(dir, "mixed.pdf"))
	mixed, _ := os.ReadFile(filepath.Join(dir, "mixed.pdf"))

	got, err := scanned().Extract(t.Context(), mediatest.BytesSource("mixed.pdf", "application/pdf", mixed))
	if err != nil {
		t.Fatal(err)
	}
	p := got.Pages()
	if len(p) != 2 || p[0] != textPage || mediatest.WER(p[1], prose) > 0.02 || got.Metadata["ocr_pages"] != "1" {
		t.Errorf("mixed: pages %q, metadata %v", p, got.Metadata)
	}

	src := mediatest.BytesSource("mixed.pdf", "application/pdf", mixed)
	src.Options.OCRMode = media.OCROff
	got, err = scanned().Extract(t.Context(), src)
	if err != nil || got.Text != textPage || len(got.Warnings) != 1 || got.Metadata["ocr_pages"] != "" {
		t.Errorf("ocr_mode=off: %+v, %v", got, err)
	}
}

// fakeOCR records the pages asked for and answers "ocr N", or err.
type fakeOCR struct {
	asked *[]int
	err   error
}

func (f fakeOCR) OCRPages(_ context.Context, _ media.Source, pages []int, _ string) ([]string, error) {
	*f.asked = append(*f.asked, pages...)
	if f.err != nil {
		return nil, f.err
	}
	out := make([]string, len(pages))
	for i, p := range pages {
		out[i] = "ocr " + strconv.Itoa(p)
	}
	return out, nil
}

// fakeText is a text layer of the given pages.
type fakeText []string

func (f fakeText) Extract(context.Context, media.Source) (*media.Extracted, error) {
	text, sections := media.JoinPages(f)
	return &media.Extracted{Text: text, Sections: sections}, nil
}

func TestOCRModes(t *testing.T) {
	layer := fakeText{"text one", "", " \n", "text four"}
	for _, tc := range []struct {
		mode, lang string
		max        int
		asked      []int
		text       string
		err        error
	}{
		{"", "", 0, []int{2, 3}, "text one\n\nocr 2\n\nocr 3\n\ntext four", nil},
		{media.OCRFallback, "eng+deu", 0, []int{2, 3}, "text one\n\nocr 2\n\nocr 3\n\ntext four", nil},
		{media.OCRAlways, "", 0, []int{1, 2, 3, 4}, "ocr 1\n\nocr 2\n\nocr 3\n\nocr 4", nil},
		{media.OCROff, "", 0, nil, "text one\n\ntext four", nil},
		{media.OCRFallback, "", 1, nil, "", media.ErrTooLarge},
		{"sometimes", "", 0, nil, "", media.ErrInvalid},
		{media.OCRFallback, "ENG", 0, nil, "", media.ErrInvalid},
	} {
		var asked []int
		src := mediatest.BytesSource("a.pdf", "application/pdf", nil)
		src.Options = media.ExtractOptions{OCRMode: tc.mode, OCRLang: tc.lang, MaxOCRPages: tc.max}
		got, err := PDF{Text: layer, OCR: fakeOCR{asked: &asked}}.Extract(t.Context(), src)
		if !errors.Is(err, tc.err) || !slices.Equal(asked, tc.asked) {
			t.Errorf("mode %q: err %v, OCR asked for %v; want %v, %v", tc.mode, err, asked, tc.err, tc.asked)
		}
		if err == nil && (got.Text != tc.text || len(got.Sections) != 4) {
			t.Errorf("mode %q: text %q, %d sections", tc.mode, got.Text, len(got.Sections))
		}
	}
}

// TestCancelMidOCR: cancelling while tesseract runs kills it and leaves no temporary
// file. The tesseract here is a script that reports its pid through a FIFO and hangs.
func TestCancelMidOCR(t *testing.T) {
	needOCR(t)
	dir, root := t.TempDir(), t.TempDir()
	fifo := filepath.Join(dir, "pids")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "tesseract")
	os.WriteFile(script, []byte("#!/bin/sh\necho $$ > "+fifo+"\nexec sleep 300\n"), 0o700)
	ocr := OCR{Tesseract: script, TempRoot: root, Workers: 2}
	pdf := mediatest.ScannedPDF(t, "one", "two")

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := ocr.OCRPages(ctx, mediatest.BytesSource("scan.pdf", "application/pdf", pdf), []int{1, 2}, "eng")
		errc <- err
	}()
	f, err := os.Open(fifo) // blocks until a tesseract runs
	if err != nil {
		t.Fatal(err)
	}
	var line [32]byte
	n, _ := f.Read(line[:])
	f.Close()
	pid, _ := strconv.Atoi(strings.TrimSpace(string(line[:n])))
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if pid == 0 {
		t.Fatalf("no pid from %q", line[:n])
	}
	if err := syscall.Kill(pid, 0); err == nil {
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(st), ") Z ") {
			t.Errorf("tesseract %d still running after the cancel", pid)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("left in the temporary root: %v", entries)
	}
}

// TestOCRNotInstalled: under fallback a missing OCR keeps the text layer with a warning, and
// is the error when there is no text layer at all or ocr_mode=always.
func TestOCRNotInstalled(t *testing.T) {
	missing := fmt.Errorf("%w: tesseract is not installed", media.ErrUnsupported)
	for _, tc := range []struct {
		layer fakeText
		mode  string
		err   error
	}{
		{fakeText{"text", ""}, media.OCRFallback, nil},
		{fakeText{"", ""}, media.OCRFallback, media.ErrUnsupported},
		{fakeText{"text", ""}, media.OCRAlways, media.ErrUnsupported},
	} {
		var asked []int
		src := mediatest.BytesSource("a.pdf", "application/pdf", nil)
		src.Options.OCRMode = tc.mode
		got, err := PDF{Text: tc.layer, OCR: fakeOCR{&asked, missing}}.Extract(t.Context(), src)
		if !errors.Is(err, tc.err) {
			t.Errorf("%q %s: err = %v, want %v", tc.layer, tc.mode, err, tc.err)
		}
		if err == nil && (got.Text != "text" || len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "not installed")) {
			t.Errorf("%q %s: %+v", tc.layer, tc.mode, got)
		}
	}
}
