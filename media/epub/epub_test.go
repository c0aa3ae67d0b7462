package epub

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/media/readability"
)

// book builds an EPUB whose spine lists the chapters in order (stored in reverse in the zip).
func book(t *testing.T, extra map[string]string, chapters ...string) []byte {
	t.Helper()
	parts := map[string]string{
		"mimetype":               "application/epub+zip",
		"META-INF/container.xml": `<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>`,
	}
	var manifest, spine strings.Builder
	for i, c := range chapters {
		name := fmt.Sprintf("ch %d.xhtml", i+1)
		fmt.Fprintf(&manifest, `<item id="c%d" href="%s" media-type="application/xhtml+xml"/>`, i, strings.ReplaceAll(name, " ", "%20"))
		fmt.Fprintf(&spine, `<itemref idref="c%d"/>`, i)
		parts["OEBPS/"+name] = c
	}
	manifest.WriteString(`<item id="css" href="style.css" media-type="text/css"/>`)
	parts["OEBPS/content.opf"] = `<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>A Small Book</dc:title><dc:creator>Ann Author</dc:creator><dc:language>en</dc:language></metadata><manifest>` +
		manifest.String() + `</manifest><spine>` + spine.String() + `</spine></package>`
	for k, v := range extra {
		parts[k] = v
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range parts {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

func chapter(title, body string) string {
	return `<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>` + title +
		`</title></head><body><h1>` + title + `</h1><p>` + body + `</p></body></html>`
}

func TestConformance(t *testing.T) {
	data := book(t, nil, chapter("One", "It was a dark night."), chapter("Two", "Then came the dawn."))
	mediatest.TestExtractor(t, Extractor{HTML: readability.Extractor{}}, []mediatest.ExtractCase{
		{Name: "book.epub", ContentType: "application/epub+zip", Data: data, Want: "One\n\nIt was a dark night.\n\nTwo\n\nThen came the dawn."},
	}, mediatest.ExtractCase{Name: "x.docx", ContentType: "application/zip", Data: data})
}

func TestChaptersAndMetadata(t *testing.T) {
	data := book(t, nil, chapter("One", "First."), chapter("Two", "Second."), chapter("Three", "Third."))
	got, err := Extractor{HTML: readability.Extractor{}}.Extract(t.Context(), mediatest.BytesSource("b.epub", "application/epub+zip", data))
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "A Small Book" || got.Metadata["author"] != "Ann Author" || len(got.Sections) != 3 {
		t.Fatalf("got %+v", got)
	}
	for i, want := range []string{"One", "Two", "Three"} {
		s := got.Sections[i]
		if s.Title != want || !strings.HasPrefix(got.Text[s.Offset:], want) {
			t.Errorf("section %d = %+v, text there %.20q", i, s, got.Text[s.Offset:])
		}
	}
	chunks, err := media.TextChunker{}.Chunk(t.Context(), got.Text, got.Sections, media.ChunkOptions{Method: media.ChunkEbookChapters, Size: 100, Overlap: 0})
	if err != nil || len(chunks) != 3 || chunks[2].Section != "Three" {
		t.Errorf("ebook_chapters chunks %+v %v", chunks, err)
	}
}

func TestBadBooks(t *testing.T) {
	x := Extractor{HTML: readability.Extractor{}}
	for name, data := range map[string][]byte{
		"drm":         book(t, map[string]string{"META-INF/encryption.xml": "<encryption/>"}, chapter("One", "x")),
		"no chapters": book(t, nil),
		"no package":  book(t, map[string]string{"META-INF/container.xml": "<container><rootfiles/></container>"}, chapter("One", "x")),
		"not a zip":   []byte("PK\x03\x04nope"),
	} {
		if _, err := x.Extract(t.Context(), mediatest.BytesSource("b.epub", "application/epub+zip", data)); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
