package plaintext

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"

	"github.com/tldw-go/tldw/media"
)

// Extractor is the plain-text media.Extractor. The zero value is ready; it is safe for
// concurrent use.
type Extractor struct{}

var _ media.Extractor = Extractor{}

// extensions are the file name extensions read as text whatever the sniffer said, as long as
// it said some kind of text (Markdown and source code sniff as text/plain).
var extensions = map[string]bool{}

func init() {
	for _, e := range strings.Fields(`.txt .text .md .markdown .rst .adoc .org .tex .log .csv .tsv .json
		.jsonl .ndjson .xml .yaml .yml .toml .ini .cfg .conf .srt .vtt .go .py .js .mjs .ts .tsx .jsx .java
		.kt .c .h .cc .cpp .hpp .cs .rs .rb .php .pl .sh .bash .zsh .sql .css .scss .swift .scala .lua .r
		.m .hs .ex .exs .erl .clj .dart .vue .svelte .proto .graphql .dockerfile .makefile .mk`) {
		extensions[e] = true
	}
}

// Handles reports whether src is text: a text/* type (HTML and RTF have their own
// extractors), an XML or JSON type, or unknown bytes under a text extension.
func (Extractor) Handles(src media.Source) bool {
	ct, _, _ := mime.ParseMediaType(src.ContentType)
	switch {
	case ct == "text/html" || ct == "text/rtf" || ct == "application/xhtml+xml":
		return false
	case strings.HasPrefix(ct, "text/"), strings.HasSuffix(ct, "+xml"), strings.HasSuffix(ct, "+json"):
		return true
	case ct == "" || ct == "application/octet-stream":
		return extensions[strings.ToLower(path.Ext(src.Name))]
	}
	return textTypes[ct]
}

// textTypes are the types outside text/* that are text.
var textTypes = map[string]bool{
	"application/xml": true, "application/json": true, "application/x-ndjson": true, "application/yaml": true,
	"application/javascript": true, "application/x-subrip": true,
}

// Extract reads src as text. It returns errors wrapping media.ErrUnsupported (not a text
// type, or binary data), media.ErrTooLarge (text over src.Limit()), or the reader's error.
func (x Extractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	if !x.Handles(src) {
		return nil, fmt.Errorf("%w: %s (%s) is not a plain-text format", media.ErrUnsupported, src.Name, src.ContentType)
	}
	// UTF-16 doubles the bytes of the text it holds.
	raw, err := media.ReadSource(ctx, src, 2)
	if err != nil {
		return nil, err
	}
	text, enc, guessed, err := decode(raw, src.ContentType)
	if err != nil {
		return nil, err
	}
	text = media.NormalizeText(text)
	if int64(len(text)) > src.Limit() {
		return nil, fmt.Errorf("%w: the text of %s is over the %d byte limit", media.ErrTooLarge, src.Name, src.Limit())
	}
	out := &media.Extracted{Text: text, Title: title(text, path.Ext(src.Name)), Metadata: map[string]string{"encoding": enc}}
	if guessed {
		out.Warnings = append(out.Warnings, "character set not declared and not UTF-8: read as "+enc)
	}
	return out, nil
}

// decode returns raw as UTF-8, the encoding it was read as, and whether that was a guess.
func decode(raw []byte, contentType string) (string, string, bool, error) {
	var enc encoding.Encoding
	name := ""
	guessed := false
	switch {
	case bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}):
		return string(raw[3:]), "utf-8", false, nil
	case bytes.HasPrefix(raw, []byte{0xFF, 0xFE, 0, 0}):
		enc, name = utf32.UTF32(utf32.LittleEndian, utf32.ExpectBOM), "utf-32le"
	case bytes.HasPrefix(raw, []byte{0, 0, 0xFE, 0xFF}):
		enc, name = utf32.UTF32(utf32.BigEndian, utf32.ExpectBOM), "utf-32be"
	case bytes.HasPrefix(raw, []byte{0xFF, 0xFE}):
		enc, name = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), "utf-16le"
	case bytes.HasPrefix(raw, []byte{0xFE, 0xFF}):
		enc, name = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), "utf-16be"
	default:
		enc, name = utf16NoBOM(raw)
		guessed = enc != nil
	}
	if enc == nil && binary(raw) {
		return "", "", false, fmt.Errorf("%w: binary data, not text", media.ErrUnsupported)
	}
	if enc == nil && utf8.Valid(raw) {
		return string(raw), "utf-8", false, nil
	}
	if enc == nil {
		_, params, _ := mime.ParseMediaType(contentType)
		if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") {
			if e, err := htmlindex.Get(cs); err == nil {
				enc, name = e, strings.ToLower(cs)
			}
		}
	}
	if enc == nil {
		enc, name, guessed = charmap.Windows1252, "windows-1252", true
	}
	b, err := enc.NewDecoder().Bytes(raw)
	if err != nil {
		return "", "", false, fmt.Errorf("%w: not valid %s text", media.ErrInvalid, name)
	}
	return string(b), name, guessed, nil
}

// utf16NoBOM recognises UTF-16 without a byte-order mark by its zero bytes: text in mostly
// Latin script has a zero in the high byte of most code units and in the low byte of none
// (in the first 8 KiB). It returns nil for anything else.
func utf16NoBOM(raw []byte) (encoding.Encoding, string) {
	head := raw[:min(len(raw), 8<<10)&^1]
	var zeros [2]int
	for i, b := range head {
		if b == 0 {
			zeros[i%2]++
		}
	}
	units := len(head) / 2
	switch {
	case units < 2:
	case zeros[0] == 0 && zeros[1]*2 > units:
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "utf-16le"
	case zeros[1] == 0 && zeros[0]*2 > units:
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "utf-16be"
	}
	return nil, ""
}

// binary reports NUL bytes in the first 8 KiB: text in a BOM-less 8-bit or UTF-8 encoding
// has none.
func binary(raw []byte) bool {
	return bytes.IndexByte(raw[:min(len(raw), 8<<10)], 0) >= 0
}

// title finds a document title: Markdown's first "# " heading, or reStructuredText's first
// line underlined with "=".
func title(text, ext string) string {
	lines := strings.SplitN(text, "\n", 50)
	for i, l := range lines {
		l = strings.TrimSpace(l)
		switch strings.ToLower(ext) {
		case ".md", ".markdown":
			if t, ok := strings.CutPrefix(l, "# "); ok {
				return strings.TrimSpace(t)
			}
		case ".rst":
			if l != "" && i+1 < len(lines) {
				u := strings.TrimSpace(lines[i+1])
				if len(u) >= len(l) && strings.Trim(u, "=") == "" {
					return l
				}
			}
		}
	}
	return ""
}
