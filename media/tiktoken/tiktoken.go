package tiktoken

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	tk "github.com/pkoukk/tiktoken-go"
	loader "github.com/pkoukk/tiktoken-go-loader"

	"github.com/tldw-go/tldw/media"
)

// cl100kPattern is cl100k_base's pre-tokenisation pattern, as tiktoken-go v0.1.8 has it.
const cl100kPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// Tokenizer cuts text into cl100k_base tokens (the encoding of GPT-4 and OpenAI's
// text-embedding-3 models). Safe for concurrent use; build one and share it.
type Tokenizer struct {
	enc *tk.Tiktoken
}

// New loads the embedded cl100k_base ranks (about 100k entries; tens of milliseconds). It
// fails only if the embedded data is damaged.
func New() (*Tokenizer, error) {
	// The encoding is built here rather than through tiktoken.GetEncoding, whose default
	// loader downloads the ranks and which a global setter would have to redirect.
	ranks, err := loader.NewOfflineLoader().LoadTiktokenBpe("cl100k_base.tiktoken")
	if err != nil {
		return nil, fmt.Errorf("tiktoken: embedded cl100k_base: %w", err)
	}
	bpe, err := tk.NewCoreBPE(ranks, map[string]int{}, cl100kPattern)
	if err != nil {
		return nil, fmt.Errorf("tiktoken: cl100k_base: %w", err)
	}
	enc := &tk.Encoding{Name: "cl100k_base", PatStr: cl100kPattern, MergeableRanks: ranks, SpecialTokens: map[string]int{}}
	return &Tokenizer{enc: tk.NewTiktoken(bpe, enc, map[string]any{})}, nil
}

// Chunker returns the media.TextChunker that counts tokens with t.
func (t *Tokenizer) Chunker() media.TextChunker { return media.TextChunker{Tokens: t.Tokens} }

// Tokens returns the byte spans of text's tokens, in order, without the white space at
// their edges; tokens of white space alone are left out, and a character split across
// tokens stays whole in one span. Special tokens such as <|endoftext|> are ordinary text.
// Bytes that are not UTF-8 are one span each.
func (t *Tokenizer) Tokens(text string) [][2]int {
	var spans [][2]int
	for base := 0; base < len(text); {
		end := cut(text, base)
		for seg := text[base:end]; seg != ""; {
			n := validPrefix(seg)
			if n == 0 {
				spans = append(spans, [2]int{base, base + 1})
				n = 1
			} else {
				spans = t.valid(spans, seg[:n], base)
			}
			seg, base = seg[n:], base+n
		}
	}
	return spans
}

// segment is how much text one call of the encoder sees: it holds the text as runes and
// every match, so whole texts would cost many times their size in memory.
const segment = 64 << 10

// cut returns where the segment of text starting at base ends: after its last newline, else
// after its last space, else at a character boundary. Cutting after white space changes no
// token but white space ones, which Tokens leaves out.
func cut(text string, base int) int {
	if len(text)-base <= segment {
		return len(text)
	}
	window := text[base : base+segment]
	if i := strings.LastIndexByte(window, '\n'); i > 0 {
		return base + i + 1
	}
	if i := strings.LastIndexAny(window, " \t"); i > 0 {
		return base + i + 1
	}
	end := base + segment
	for end > base+1 && !utf8.RuneStart(text[end]) {
		end--
	}
	return end
}

// valid appends the token spans of s, valid UTF-8 found at offset base of the whole text.
func (t *Tokenizer) valid(spans [][2]int, s string, base int) [][2]int {
	start, pos := 0, 0
	for _, id := range t.enc.EncodeOrdinary(s) {
		pos += len(t.enc.Decode([]int{id}))
		if pos < len(s) && !utf8.RuneStart(s[pos]) {
			continue // the next token holds the rest of this character
		}
		tok := s[start:pos]
		lead := len(tok) - len(strings.TrimLeftFunc(tok, unicode.IsSpace))
		if body := strings.TrimSpace(tok); body != "" {
			spans = append(spans, [2]int{base + start + lead, base + start + lead + len(body)})
		}
		start = pos
	}
	return spans
}

// validPrefix returns the length of the longest valid UTF-8 prefix of s.
func validPrefix(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return len(s)
}
