package tiktoken_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/media/tiktoken"
)

func tokenizer(t *testing.T) *tiktoken.Tokenizer {
	t.Helper()
	tok, err := tiktoken.New()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func texts(text string, spans [][2]int) []string {
	var out []string
	for _, s := range spans {
		out = append(out, text[s[0]:s[1]])
	}
	return out
}

func TestConformance(t *testing.T) {
	mediatest.TestChunker(t, tokenizer(t).Chunker(), []string{media.ChunkTokens, media.ChunkWords, media.ChunkSentences})
}

// TestKnownTokens checks the encoding against cl100k_base's published tokenisation.
func TestKnownTokens(t *testing.T) {
	tok := tokenizer(t)
	for text, want := range map[string]string{
		"tiktoken is great!": "t|ik|token|is|great|!",
		"hello world":        "hello|world",
	} {
		if got := strings.Join(texts(text, tok.Tokens(text)), "|"); got != want {
			t.Errorf("%q: tokens %s, want %s", text, got, want)
		}
	}
	// Special tokens are ordinary text: several tokens, never the one special token.
	const special = "<|endoftext|>"
	if got := texts(special, tok.Tokens(special)); len(got) < 3 || strings.Join(got, "") != special {
		t.Errorf("%s: tokens %q", special, got)
	}
}

// checkSpans checks that every span maps back into text: in order, whole characters, no
// white space at the edges, and nothing but white space between them.
func checkSpans(t *testing.T, text string, spans [][2]int) {
	t.Helper()
	pos := 0
	for i, s := range spans {
		if s[0] < pos || s[1] <= s[0] || s[1] > len(text) {
			t.Fatalf("span %d %v out of order (previous end %d)", i, s, pos)
		}
		gap, body := text[pos:s[0]], text[s[0]:s[1]]
		switch {
		case strings.TrimSpace(gap) != "":
			t.Errorf("span %d: %q lies between tokens", i, gap)
		case strings.TrimSpace(body) != body:
			t.Errorf("span %d %q has white space at an edge", i, body)
		case !utf8.ValidString(body) && body != "\xff":
			t.Errorf("span %d %q splits a character", i, body)
		}
		pos = s[1]
	}
	if strings.TrimSpace(text[pos:]) != "" {
		t.Errorf("text after the last token: %q", text[pos:])
	}
	noSpace := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
	}
	if got := strings.Join(texts(text, spans), ""); noSpace(got) != noSpace(text) {
		t.Errorf("tokens do not rebuild the text")
	}
}

func TestOffsets(t *testing.T) {
	text := "Café au lait, naïve résumé.\n\n日本語のテキスト。 Emoji 👍🏽 and 🇫🇷 flags;\tcode: fmt.Println(\"x\") \xff bad byte\n  trailing  "
	spans := tokenizer(t).Tokens(text)
	if len(spans) < 20 {
		t.Fatalf("only %d tokens", len(spans))
	}
	checkSpans(t, text, spans)
}

// TestLongText crosses the encoder's segments: after newlines, after spaces, and inside a
// run of characters with no white space. Lines tokenise as they do alone.
func TestLongText(t *testing.T) {
	tok := tokenizer(t)
	line := "The quick brown fox jumps over the lazy dog, naïvely.\n"
	lines := strings.Repeat(line, 1300)
	text := lines + strings.Repeat("word ", 14000) + strings.Repeat("日本語", 8000) + "\xff end"
	spans := tok.Tokens(text)
	checkSpans(t, text, spans)
	one := tok.Tokens(line)
	for i, s := range spans {
		if s[1] > len(lines) {
			if i != len(one)*1300 {
				t.Errorf("%d tokens in the lines, want %d", i, len(one)*1300)
			}
			break
		}
		if w := one[i%len(one)]; text[s[0]:s[1]] != line[w[0]:w[1]] {
			t.Fatalf("token %d = %q, want %q", i, text[s[0]:s[1]], line[w[0]:w[1]])
		}
	}
}

func TestTokenChunks(t *testing.T) {
	tok := tokenizer(t)
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 30)
	chunks, err := tok.Chunker().Chunk(t.Context(), text, nil, media.ChunkOptions{Method: media.ChunkTokens, Size: 10, Overlap: 0})
	if err != nil {
		t.Fatal(err)
	}
	// Ten tokens per sentence: each chunk is one sentence (its trailing space left out).
	if len(chunks) != 30 || chunks[0].Text != "The quick brown fox jumps over the lazy dog." || chunks[1].Start != 45 {
		t.Errorf("%d chunks, first %+v, second %+v", len(chunks), chunks[0], chunks[1])
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := tiktoken.New(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokens(b *testing.B) {
	tok, err := tiktoken.New()
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("The quick brown fox jumps over the lazy dog; naïve café, 日本語. ", 16<<10) // 1 MiB
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Tokens(text)
	}
}
