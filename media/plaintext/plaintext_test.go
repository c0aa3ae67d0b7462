package plaintext

import (
	"errors"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

func utf16le(t *testing.T, s string) []byte {
	b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encode returns s in e.
func encode(t *testing.T, e encoding.Encoding, s string) []byte {
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func latin1(t *testing.T, s string) []byte {
	b, err := charmap.ISO8859_1.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	const fr = "Le café de la gare — déjà vu.\nÀ bientôt."
	mediatest.TestExtractor(t, Extractor{}, []mediatest.ExtractCase{
		{Name: "notes.txt", ContentType: "text/plain; charset=utf-8", Data: []byte("first line\r\nsecond line\r\n"), Want: "first line\nsecond line"},
		{Name: "bom.txt", ContentType: "text/plain", Data: append([]byte{0xEF, 0xBB, 0xBF}, "with a BOM"...), Want: "with a BOM"},
		{Name: "wide.txt", ContentType: "text/plain; charset=utf-16le", Data: utf16le(t, fr), Want: fr},
		{Name: "wide-be.txt", ContentType: "text/plain; charset=utf-16be", Data: encode(t, unicode.UTF16(unicode.BigEndian, unicode.UseBOM), fr), Want: fr},
		{Name: "wider.txt", ContentType: "text/plain; charset=utf-32le", Data: encode(t, utf32.UTF32(utf32.LittleEndian, utf32.UseBOM), fr), Want: fr},
		{Name: "wider-be.txt", ContentType: "text/plain", Data: encode(t, utf32.UTF32(utf32.BigEndian, utf32.UseBOM), fr), Want: fr},
		{Name: "nobom.txt", ContentType: "application/octet-stream", Data: encode(t, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), fr), Want: fr},
		{Name: "nobom-be.csv", ContentType: "application/octet-stream", Data: encode(t, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "a,b\n1,2"), Want: "a,b\n1,2"},
		{Name: "run", ContentType: "text/x-shellscript", Data: []byte("#!/bin/sh\necho hi\n"), Want: "#!/bin/sh\necho hi"},
		{Name: "logo.svg", ContentType: "image/svg+xml", Data: []byte("<svg><text>T</text></svg>"), Want: "<svg><text>T</text></svg>"},
		{Name: "latin1.txt", ContentType: "text/plain; charset=iso-8859-1", Data: latin1(t, "Le café"), Want: "Le café"},
		{Name: "decomposed.md", ContentType: "text/plain", Data: []byte("# Cafe\u0301\n\nbody"), Want: "# Café\n\nbody"},
		{Name: "main.go", ContentType: "text/plain", Data: []byte("package main\n\nfunc main() {}\n"), Want: "package main\n\nfunc main() {}"},
		{Name: "data.csv", ContentType: "text/csv", Data: []byte("a,b\n1,2\n"), Want: "a,b\n1,2"},
		{Name: "doc.json", ContentType: "application/json", Data: []byte(`{"k": "v"}`), Want: `{"k": "v"}`},
		{Name: "feed.xml", ContentType: "text/xml; charset=utf-8", Data: []byte("<a>x</a>"), Want: "<a>x</a>"},
	}, mediatest.ExtractCase{Name: "photo.png", ContentType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n\x00\x00")})
}

func TestGuessedCharset(t *testing.T) {
	got, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource("old.txt", "text/plain", []byte("na\xefve \x93quotes\x94")))
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "naïve “quotes”" || got.Metadata["encoding"] != "windows-1252" || len(got.Warnings) != 1 {
		t.Errorf("got %+v", got)
	}
}

func TestGuessedUTF16(t *testing.T) {
	got, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource("w.txt", "application/octet-stream",
		encode(t, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "plain words")))
	if err != nil || got.Text != "plain words" || got.Metadata["encoding"] != "utf-16le" || len(got.Warnings) != 1 {
		t.Errorf("got %+v, %v", got, err)
	}
}

// TestRoutedHere checks that every text input media.FormatOf routes to FormatText is one this
// extractor handles.
func TestRoutedHere(t *testing.T) {
	for _, src := range []media.Source{
		{Name: "a.txt", ContentType: "text/plain"}, {Name: "a.md", ContentType: "text/markdown"},
		{Name: "a.rst", ContentType: "text/plain"}, {Name: "a.py", ContentType: "text/x-python"},
		{Name: "run", ContentType: "text/x-shellscript"}, {Name: "a.csv", ContentType: "text/csv"},
		{Name: "a.json", ContentType: "application/json"}, {Name: "a.geojson", ContentType: "application/geo+json"},
		{Name: "a.xml", ContentType: "text/xml"}, {Name: "a.rss", ContentType: "application/rss+xml"},
		{Name: "a.srt", ContentType: "application/x-subrip"}, {Name: "a.vtt", ContentType: "text/vtt"},
		{Name: "a.js", ContentType: "text/javascript"}, {Name: "a.ics", ContentType: "text/calendar"},
		{Name: "a.txt", ContentType: "application/octet-stream"}, {Name: "a.go", ContentType: ""},
	} {
		if f, err := media.FormatOf(src); err != nil || f != media.FormatText {
			t.Errorf("FormatOf(%s, %s) = %s, %v", src.Name, src.ContentType, f, err)
		}
		if !(Extractor{}).Handles(src) {
			t.Errorf("%s (%s) is routed here but not handled", src.Name, src.ContentType)
		}
	}
}

func TestTitles(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"a.md", "intro\n# The Title \nbody", "The Title"},
		{"a.rst", "\nMy Document\n===========\n\ntext", "My Document"},
		{"a.txt", "# not markdown", ""},
	} {
		got, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource(tc.name, "text/plain", []byte(tc.text)))
		if err != nil || got.Title != tc.want {
			t.Errorf("%s: title %q %v, want %q", tc.name, got.Title, err, tc.want)
		}
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct{ name, ctype, data string }{
		{"page.html", "text/html", "<p>x</p>"},         // HTML has its own extractor
		{"letter.rtf", "text/rtf", `{\rtf1 x}`},        // so does RTF
		{"report.txt", "application/pdf", "%PDF-1.7"},  // the bytes win over a text extension
		{"blob.txt", "text/plain", "ab\x00\x00\x01cd"}, // binary data under a text name
		{"noext", "application/octet-stream", "text"},  // nothing says text
	} {
		_, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource(tc.name, tc.ctype, []byte(tc.data)))
		if !errors.Is(err, media.ErrUnsupported) {
			t.Errorf("%s (%s): %v, want ErrUnsupported", tc.name, tc.ctype, err)
		}
	}
	long := strings.Repeat("word ", 1000)
	src := mediatest.BytesSource("big.txt", "text/plain", []byte(long))
	src.MaxText = 100
	if _, err := (Extractor{}).Extract(t.Context(), src); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("over the cap: %v", err)
	}
}
