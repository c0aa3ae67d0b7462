package readability

import (
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media/mediatest"
	"golang.org/x/text/encoding/charmap"
)

// article is a page with navigation, an advert and a script around a real article.
var article = `<!DOCTYPE html><html><head><title>Site | The Long Article</title>
<script>var tracking = "do not extract me";</script><style>p{color:red}</style></head>
<body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
<div class="ad">Buy now! Limited offer!</div>
<article><h1>The Long Article</h1>
<p>` + strings.Repeat("Readability finds the main content of a page by scoring paragraphs. ", 8) + `</p>
<p>` + strings.Repeat("A second paragraph keeps the article long enough to be chosen. ", 8) + `</p>
</article><footer>Copyright footer text</footer></body></html>`

func TestConformance(t *testing.T) {
	mediatest.TestExtractor(t, Extractor{}, []mediatest.ExtractCase{
		{Name: "note.html", ContentType: "text/html; charset=utf-8",
			Data: []byte("<html><head><title>T</title><script>x()</script></head><body><p>Hello <b>bold</b> world.</p><p hidden>secret</p><div>Second line</div></body></html>"),
			Want: "Hello bold world.\n\nSecond line"},
	}, mediatest.ExtractCase{Name: "a.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4")})
}

func TestArticle(t *testing.T) {
	got, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource("page.html", "text/html", []byte(article)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Readability finds the main content", "A second paragraph keeps"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("article text lacks %q:\n%s", want, got.Text)
		}
	}
	for _, bad := range []string{"do not extract me", "Buy now", "Home", "Copyright footer", "color:red"} {
		if strings.Contains(got.Text, bad) {
			t.Errorf("article text contains clutter %q:\n%s", bad, got.Text)
		}
	}
	if got.Metadata["extraction"] != "readability" || !strings.Contains(got.Title, "The Long Article") {
		t.Errorf("metadata %v, title %q", got.Metadata, got.Title)
	}
}

func TestCharsets(t *testing.T) {
	latin, _ := charmap.ISO8859_1.NewEncoder().String("<p>Café crème brûlée</p>")
	meta := `<html><head><meta charset="iso-8859-1"></head><body>` + latin + `</body></html>`
	for name, tc := range map[string]struct{ ctype, page string }{
		"from Content-Type": {"text/html; charset=iso-8859-1", latin},
		"from <meta>":       {"text/html", meta},
	} {
		got, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource("p.html", tc.ctype, []byte(tc.page)))
		if err != nil || got.Text != "Café crème brûlée" {
			t.Errorf("%s: %q %v", name, got.Text, err)
		}
	}
}

func TestHandles(t *testing.T) {
	for _, tc := range []struct {
		name, ctype string
		want        bool
	}{
		{"a.bin", "text/html; charset=utf-8", true}, {"a.xhtml", "application/xhtml+xml", true},
		{"a.html", "text/plain", true}, {"a.html", "application/pdf", false}, {"a.txt", "text/plain", false},
	} {
		if got := (Extractor{}).Handles(mediatest.BytesSource(tc.name, tc.ctype, nil)); got != tc.want {
			t.Errorf("Handles(%s, %s) = %v", tc.name, tc.ctype, got)
		}
	}
}
