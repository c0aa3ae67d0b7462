package ooxml

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
)

// zipOf builds a zip with the given parts.
func zipOf(t testing.TB, parts map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range parts {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const wNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"`

// docx makes word/document.xml from paragraphs; a paragraph "Title:x" gets the Title style.
func docx(t testing.TB, paras ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ` + wNS + `><w:body>`)
	for _, p := range paras {
		if title, ok := strings.CutPrefix(p, "Title:"); ok {
			fmt.Fprintf(&b, `<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>%s</w:t></w:r></w:p>`, title)
			continue
		}
		b.WriteString(`<w:p>`)
		for i, run := range strings.Split(p, "|") {
			if i > 0 {
				b.WriteString(`<w:r><w:tab/></w:r>`)
			}
			fmt.Fprintf(&b, `<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">%s</w:t></w:r>`, run)
		}
		b.WriteString(`</w:p>`)
	}
	b.WriteString(`</w:body></w:document>`)
	return zipOf(t, map[string]string{"[Content_Types].xml": "<Types/>", "word/document.xml": b.String()})
}

func slide(text ...string) string {
	var b strings.Builder
	b.WriteString(`<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>`)
	for _, t := range text {
		fmt.Fprintf(&b, `<p:sp><p:txBody><a:p><a:r><a:t>%s</a:t></a:r></a:p></p:txBody></p:sp>`, t)
	}
	b.WriteString(`</p:spTree></p:cSld></p:sld>`)
	return b.String()
}

func TestConformance(t *testing.T) {
	pptx := zipOf(t, map[string]string{"ppt/slides/slide2.xml": slide("Second"), "ppt/slides/slide10.xml": slide("Tenth", "more"),
		"ppt/slides/slide1.xml": slide("First &amp; foremost")})
	mediatest.TestExtractor(t, Extractor{}, []mediatest.ExtractCase{
		{Name: "report.docx", ContentType: docxType, Data: docx(t, "Title:Quarterly Report", "Revenue grew.", "a|b|c", "Café"),
			Want: "Quarterly Report\n\nRevenue grew.\n\na\tb\tc\n\nCafé"},
		{Name: "deck.pptx", ContentType: "application/zip", Data: pptx, Want: "First & foremost\n\nSecond\n\nTenth\nmore"},
	}, mediatest.ExtractCase{Name: "a.txt", ContentType: "text/plain", Data: []byte("x")})
}

func TestDocxTitleAndSlides(t *testing.T) {
	got, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource("r.docx", docxType, docx(t, "intro", "Title:The Title")))
	if err != nil || got.Title != "The Title" {
		t.Errorf("title %q %v", got.Title, err)
	}
	pptx := zipOf(t, map[string]string{"ppt/slides/slide1.xml": slide("one"), "ppt/slides/slide2.xml": slide("two")})
	got, err = Extractor{}.Extract(t.Context(), mediatest.BytesSource("d.pptx", pptxType, pptx))
	if err != nil || len(got.Sections) != 2 || got.Sections[1].Title != "Slide 2" || !strings.HasPrefix(got.Text[got.Sections[1].Offset:], "two") {
		t.Errorf("sections %+v text %q %v", got.Sections, got.Text, err)
	}
}

func TestBadInputs(t *testing.T) {
	bomb := zipOf(t, map[string]string{"word/document.xml": `<w:document ` + wNS + `><w:body><w:p><w:r><w:t>` +
		strings.Repeat("0", 16<<20) + `</w:t></w:r></w:p></w:body></w:document>`})
	for name, data := range map[string][]byte{
		"not a zip":      []byte("PK\x03\x04 truncated garbage"),
		"no document":    zipOf(t, map[string]string{"other.xml": "<x/>"}),
		"malformed xml":  zipOf(t, map[string]string{"word/document.xml": "<w:document><w:body><w:p>"}),
		"zip bomb ratio": bomb,
	} {
		_, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource("x.docx", docxType, data))
		if !errors.Is(err, media.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := (Extractor{}).Extract(t.Context(), mediatest.BytesSource("d.pptx", pptxType, zipOf(t, map[string]string{"x": ""}))); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("pptx without slides: %v", err)
	}
}

// BenchmarkDocx5MB extracts a DOCX whose document.xml is about 5 MB.
func BenchmarkDocx5MB(b *testing.B) {
	var paras []string
	for i := 0; len(paras)*180 < 5<<20; i++ {
		paras = append(paras, fmt.Sprintf("Paragraph %d has some words in it, and a second clause|with a tab", i))
	}
	data := docx(b, paras...)
	b.SetBytes(5 << 20)
	for b.Loop() {
		if _, err := (Extractor{}).Extract(b.Context(), mediatest.BytesSource("big.docx", docxType, data)); err != nil {
			b.Fatal(err)
		}
	}
}

// The Word part's scanner reads what encoding/xml read: entities and character references,
// CDATA, comments and processing instructions skipped, '>' inside attribute values,
// self-closing elements, styles from attributes; and refuses what it refused.
func TestDocxScanner(t *testing.T) {
	part := func(body string) []byte {
		return zipOf(t, map[string]string{"word/document.xml": `<?xml version="1.0" encoding="UTF-8"?>` +
			`<!-- c --><w:document ` + wNS + `><w:body>` + body + `</w:body></w:document>`})
	}
	got, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource("x.docx", docxType, part(
		`<w:p><w:pPr><w:pStyle w:val='Heading1' w:x="a>b"/></w:pPr><w:r><w:t>A &amp; B &lt;&#233;&#x4E2D;&quot;</w:t></w:r></w:p>`+
			`<w:p><w:r><w:t/><w:t xml:space="preserve"><![CDATA[x < y]]> z</w:t><w:br/><!-- skip <w:t>no</w:t> --><w:t>next</w:t></w:r></w:p>`+
			`<w:p><w:r><w:t>  </w:t></w:r></w:p><w:p/><w:p><w:r><w:instrText>HYPERLINK</w:instrText><w:t>end</w:t></w:r></w:p>`)))
	if err != nil {
		t.Fatal(err)
	}
	if want := "A & B <é中\"\n\nx < y z\nnext\n\nend"; got.Text != want || got.Title != `A & B <é中"` {
		t.Errorf("text %q title %q, want %q", got.Text, got.Title, want)
	}
	for name, body := range map[string]string{
		"mismatched":     `<w:p><w:r></w:p></w:r>`,
		"unclosed":       `<w:p><w:r><w:t>x`,
		"bare ampersand": `<w:p><w:r><w:t>a & b</w:t></w:r></w:p>`,
		"unknown entity": `<w:p><w:r><w:t>&nbsp;</w:t></w:r></w:p>`,
		"bad reference":  `<w:p><w:r><w:t>&#xD800;</w:t></w:r></w:p>`,
		"open comment":   `<w:p><!-- </w:p>`,
		"not UTF-8":      "<w:p><w:r><w:t>\xff</w:t></w:r></w:p>",
	} {
		if _, err := (Extractor{}).Extract(t.Context(), mediatest.BytesSource("x.docx", docxType, part(body))); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
