package pandoc_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/media/pandoc"
)

const (
	odtType = "application/vnd.oasis.opendocument.text"
	rtfType = "text/rtf"
)

// requirePandoc skips the test when pandoc is missing, or fails it when TLDW_REQUIRE_TOOLS=1.
func requirePandoc(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pandoc"); err != nil {
		if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
			t.Fatal("pandoc not installed and TLDW_REQUIRE_TOOLS=1")
		}
		t.Skip("pandoc not installed")
	}
}

// convert makes a fixture: markdown turned into format by pandoc itself.
func convert(t *testing.T, markdown, format string) []byte {
	t.Helper()
	var out bytes.Buffer
	err := media.Run(t.Context(), media.Command{Path: "pandoc", Args: []string{"--from=markdown", "--to=" + format, "--standalone", "--output=-"},
		Stdin: strings.NewReader(markdown), Stdout: &out, Timeout: time.Minute})
	if err != nil {
		t.Fatalf("pandoc to %s: %v", format, err)
	}
	return out.Bytes()
}

func TestConformance(t *testing.T) {
	requirePandoc(t)
	const text = "The first paragraph of the letter.\n\nA second one, with an accent: déjà vu"
	mediatest.TestExtractor(t, pandoc.Extractor{}, []mediatest.ExtractCase{
		{Name: "letter.odt", ContentType: odtType, Data: convert(t, text, "odt"), Want: text},
		{Name: "letter.rtf", ContentType: rtfType, Data: convert(t, text, "rtf"), Want: text},
		{Name: "fallbacks.rtf", ContentType: rtfType, Data: []byte(`{\rtf1\ansi {\pard caf\u233?s na\u239\'efve \\u233?x {\uc0 \u252 ber}\par}}`),
			Want: `cafés naïve \u233?x über`},
		{Name: "zipped.odt", ContentType: "application/zip", Data: convert(t, text, "odt"), Want: text},
	}, mediatest.ExtractCase{Name: "paper.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.7")})
}

// document is a generated text of headings, paragraphs and a list, in markdown, and its
// words.
func document(paragraphs int) (markdown string, words []string) {
	vocab := strings.Fields("alpha beta gamma delta epsilon café naïve über Straße résumé zebra quartz")
	var b strings.Builder
	for p := range paragraphs {
		if p%5 == 0 {
			fmt.Fprintf(&b, "# Chapter %d\n\n", p/5+1)
			words = append(words, "Chapter", fmt.Sprint(p/5+1))
		}
		for i := range 40 {
			w := vocab[(p*7+i*3+i*i)%len(vocab)]
			b.WriteString(w + " ")
			words = append(words, w)
		}
		b.WriteString("end.\n\n")
		words = append(words, "end")
		if p%4 == 1 {
			b.WriteString("- first item\n- second item\n\n")
			words = append(words, "first", "item", "second", "item")
		}
	}
	return b.String(), words
}

// wordErrorRate is the word-level edit distance of got from want, over len(want); words
// are compared without surrounding punctuation.
func wordErrorRate(want []string, got string) float64 {
	var g []string
	for _, w := range strings.Fields(got) {
		if w = strings.TrimFunc(w, unicode.IsPunct); w != "" {
			g = append(g, w)
		}
	}
	prev := make([]int, len(g)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(want); i++ {
		cur := make([]int, len(g)+1)
		cur[0] = i
		for j := 1; j <= len(g); j++ {
			sub := prev[j-1]
			if strings.TrimFunc(want[i-1], unicode.IsPunct) != g[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev = cur
	}
	return float64(prev[len(g)]) / float64(len(want))
}

func TestTextOutEqualsTextIn(t *testing.T) {
	requirePandoc(t)
	md, words := document(40)
	for _, tc := range []struct{ format, name, ctype string }{{"odt", "book.odt", odtType}, {"rtf", "book.rtf", rtfType}} {
		got, err := pandoc.Extractor{}.Extract(t.Context(), mediatest.BytesSource(tc.name, tc.ctype, convert(t, md, tc.format)))
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		if wer := wordErrorRate(words, got.Text); wer > 0.02 {
			t.Errorf("%s: word error rate %.3f over %d words; text starts %q", tc.format, wer, len(words), got.Text[:min(300, len(got.Text))])
		}
		if got.Metadata["format"] != tc.format {
			t.Errorf("%s: metadata %v", tc.format, got.Metadata)
		}
	}
	if wer := wordErrorRate(words, "alpha beta"); wer < 0.5 {
		t.Errorf("wordErrorRate misses a wrong text: %.3f", wer)
	}
}

// zipOf builds a zip with the given entries, in order.
func zipOf(t *testing.T, entries map[string][]byte, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range order {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(entries[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRefusals(t *testing.T) {
	requirePandoc(t)
	odt := convert(t, "some text", "odt")
	bomb := zipOf(t, map[string][]byte{"content.xml": []byte("<x/>"), "Pictures/zeros": make([]byte, 20<<20)}, "content.xml", "Pictures/zeros")
	for _, tc := range []struct {
		name, ctype string
		data        []byte
		want        error
	}{
		{"truncated.odt", odtType, odt[:len(odt)/2], media.ErrInvalid},
		{"nocontent.odt", odtType, zipOf(t, map[string][]byte{"mimetype": []byte(odtType)}, "mimetype"), media.ErrInvalid},
		{"bomb.odt", odtType, bomb, media.ErrInvalid},
		{"garbage.rtf", "application/octet-stream", []byte("not rich text at all"), media.ErrInvalid},
		{"sheet.ods", "application/vnd.oasis.opendocument.spreadsheet", odt, media.ErrUnsupported},
		{"notes.rtf", "text/plain", []byte("plain"), media.ErrUnsupported}, // the bytes say text: not RTF
	} {
		_, err := pandoc.Extractor{}.Extract(t.Context(), mediatest.BytesSource(tc.name, tc.ctype, tc.data))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestMissingPandoc(t *testing.T) {
	x := pandoc.Extractor{Path: "/nonexistent/pandoc"}
	_, err := x.Extract(t.Context(), mediatest.BytesSource("a.odt", odtType, []byte("PK")))
	if !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), "install the pandoc package") {
		t.Errorf("missing pandoc: %v", err)
	}
}

func TestLimits(t *testing.T) {
	requirePandoc(t)
	md, _ := document(200)
	odt := convert(t, md, "odt")
	root := t.TempDir()

	_, err := pandoc.Extractor{HeapMB: 6, TempRoot: root}.Extract(t.Context(), mediatest.BytesSource("big.odt", odtType, odt))
	if !errors.Is(err, media.ErrTooLarge) || !strings.Contains(err.Error(), "6 MiB heap") {
		t.Errorf("over the heap cap: %v", err)
	}
	_, err = pandoc.Extractor{Timeout: time.Nanosecond, TempRoot: root}.Extract(t.Context(), mediatest.BytesSource("big.odt", odtType, odt))
	if !errors.Is(err, media.ErrTimeout) {
		t.Errorf("past the timeout: %v", err)
	}
	src := mediatest.BytesSource("big.odt", odtType, odt)
	src.MaxText = int64(len(odt)) // the file passes ReadSource, its text does not fit
	if _, err = (pandoc.Extractor{TempRoot: root}).Extract(t.Context(), src); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("over the text cap: %v", err)
	}
	if left, _ := os.ReadDir(root); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
