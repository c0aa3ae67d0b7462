package mediatest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media"
)

// NeedTools skips the test when one of the programs is not on PATH, or fails it when
// TLDW_REQUIRE_TOOLS=1 (as CI sets after installing them).
func NeedTools(tb testing.TB, names ...string) {
	tb.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
				tb.Fatalf("%s not installed and TLDW_REQUIRE_TOOLS=1", n)
			}
			tb.Skipf("%s not installed", n)
		}
	}
}

// TextPDF returns a PDF with a text layer, one page per element of pages (each short enough
// for one A4 page of 10-point Courier), made by enscript and ps2pdf (ghostscript).
func TextPDF(tb testing.TB, pages ...string) []byte {
	tb.Helper()
	NeedTools(tb, "enscript", "ps2pdf")
	dir := tb.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte(strings.Join(pages, "\f")), 0o600); err != nil {
		tb.Fatal(err)
	}
	Command(tb, "enscript", "-B", "-q", "--word-wrap", "-p", filepath.Join(dir, "out.ps"), in)
	Command(tb, "ps2pdf", filepath.Join(dir, "out.ps"), filepath.Join(dir, "out.pdf"))
	return readFile(tb, filepath.Join(dir, "out.pdf"))
}

// TextImage returns a white 300-dpi PNG with text in black 12-point DejaVu Sans on it, as a
// clean scan would look, made by ImageMagick.
func TextImage(tb testing.TB, text string) []byte {
	tb.Helper()
	magick := "magick"
	if _, err := exec.LookPath(magick); err != nil {
		magick = "convert"
	}
	NeedTools(tb, magick)
	out := filepath.Join(tb.TempDir(), "page.png")
	Command(tb, magick, "-density", "300", "-units", "PixelsPerInch", "-size", "2000x", "-background", "white", "-fill", "black",
		"-font", "DejaVu-Sans", "-pointsize", "12", "caption:"+text, "-bordercolor", "white", "-border", "100", out)
	return readFile(tb, out)
}

// ScannedPDF returns a PDF of images and no text layer, one page per element of pages
// (TextImage renders), made by img2pdf.
func ScannedPDF(tb testing.TB, pages ...string) []byte {
	tb.Helper()
	NeedTools(tb, "img2pdf")
	dir := tb.TempDir()
	args := []string{"-o", filepath.Join(dir, "scan.pdf")}
	for i, p := range pages {
		f := filepath.Join(dir, strconv.Itoa(i)+".png")
		if err := os.WriteFile(f, TextImage(tb, p), 0o600); err != nil {
			tb.Fatal(err)
		}
		args = append(args, f)
	}
	Command(tb, "img2pdf", args...)
	return readFile(tb, filepath.Join(dir, "scan.pdf"))
}

// EncryptPDF returns pdf encrypted by qpdf (AES-256) with a user password, so it cannot be
// opened without one.
func EncryptPDF(tb testing.TB, pdf []byte) []byte {
	tb.Helper()
	NeedTools(tb, "qpdf")
	dir := tb.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		tb.Fatal(err)
	}
	Command(tb, "qpdf", "--encrypt", "user-secret", "owner-secret", "256", "--", in, out)
	return readFile(tb, out)
}

// WER is the word error rate of got against want: the word-level edit distance over the
// number of words in want (white space separates words; case and punctuation count).
func WER(got, want string) float64 {
	g, w := strings.Fields(got), strings.Fields(want)
	if len(w) == 0 {
		return float64(len(g))
	}
	prev, cur := make([]int, len(g)+1), make([]int, len(g)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(w); i++ {
		cur[0] = i
		for j := 1; j <= len(g); j++ {
			cost := 1
			if w[i-1] == g[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return float64(prev[len(g)]) / float64(len(w))
}

// Command runs a program for a fixture and fails the test when it fails.
func Command(tb testing.TB, name string, args ...string) {
	tb.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s: %v: %s", name, err, stderr.String())
	}
}

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestPDFExtractor is the suite every PDF text-layer extractor runs on top of
// TestExtractor: text out equals text in, one section per page (empty pages included), the
// page count and title in the result; encrypted, truncated, garbage and empty files are
// media.ErrInvalid (an encrypted one saying so), more pages than Options.MaxPages is
// media.ErrTooLarge; no temporary file is left behind (it sets TMPDIR, so x must make its
// temporary files under os.TempDir()).
func TestPDFExtractor(t *testing.T, x media.Extractor) {
	pages := []string{
		"The first page tells of a quiet village by the river.",
		"On the second page the miller loses his cat.",
		"The third page ends the story with a feast.",
	}
	data := TextPDF(t, pages...)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	TestExtractor(t, x, []ExtractCase{
		{Name: "story.pdf", ContentType: "application/pdf", Data: data, Want: strings.Join(pages, "\n\n")},
		{Name: "story.pdf", ContentType: "application/octet-stream", Data: data, Want: strings.Join(pages, "\n\n")},
	}, ExtractCase{Name: "story.txt", ContentType: "text/plain", Data: []byte("plain")})

	t.Run("Pages", func(t *testing.T) {
		in := []string{pages[0], "", pages[2]} // the empty page keeps its section
		got, err := x.Extract(t.Context(), BytesSource("doc.pdf", "application/pdf", TextPDF(t, in...)))
		if err != nil {
			t.Fatal(err)
		}
		if wer := WER(got.Text, strings.Join(in, " ")); wer > 0.02 {
			t.Errorf("WER %.3f: %q", wer, got.Text)
		}
		if p := got.Pages(); len(p) != 3 || p[0] != in[0] || p[1] != "" || p[2] != in[2] {
			t.Errorf("pages = %q", p)
		}
		if got.Metadata["pages"] != "3" || got.Title != "Enscript Output" {
			t.Errorf("metadata %v, title %q", got.Metadata, got.Title)
		}
	})
	t.Run("Bad", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			data []byte
			opts media.ExtractOptions
			want error
			msg  string
		}{
			{"encrypted", EncryptPDF(t, data), media.ExtractOptions{}, media.ErrInvalid, "encrypted"},
			{"truncated", data[:len(data)/2], media.ExtractOptions{}, media.ErrInvalid, "not a readable PDF"},
			{"garbage", []byte("%PDF-1.4\nnot really"), media.ExtractOptions{}, media.ErrInvalid, "not a readable PDF"},
			{"empty", nil, media.ExtractOptions{}, media.ErrInvalid, "not a readable PDF"},
			{"over the page cap", data, media.ExtractOptions{MaxPages: 2}, media.ErrTooLarge, "3 pages"},
		} {
			src := BytesSource("doc.pdf", "application/pdf", tc.data)
			src.Options = tc.opts
			_, err := x.Extract(t.Context(), src)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: err = %v, want %v saying %q", tc.name, err, tc.want, tc.msg)
			}
		}
	})
	t.Run("NoTempFilesLeft", func(t *testing.T) {
		if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
			t.Errorf("left in the temporary directory: %v", entries)
		}
	})
}

// SamplePages returns n pages of 50 lines of ten words each (about 3 KB a page), the same
// for every call: the text of benchmark PDFs.
func SamplePages(n int) []string {
	words := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu")
	pages := make([]string, n)
	k := 0
	for p := range pages {
		var b strings.Builder
		for range 50 {
			for w := range 10 {
				if w > 0 {
					b.WriteByte(' ')
				}
				k = (k*7 + 3) % len(words)
				b.WriteString(words[k])
			}
			b.WriteByte('\n')
		}
		pages[p] = b.String()
	}
	return pages
}
