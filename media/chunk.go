package media

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The chunk_method values of tldw_server's ingest form.
const (
	ChunkWords         = "words"
	ChunkSentences     = "sentences"
	ChunkParagraphs    = "paragraphs"
	ChunkTokens        = "tokens"
	ChunkEbookChapters = "ebook_chapters"
	ChunkSemantic      = "semantic"
)

// tldw_server's defaults for chunk_size and chunk_overlap.
const (
	DefaultChunkSize    = 500
	DefaultChunkOverlap = 200
)

// ChunkOptions say how to cut a text. Size and Overlap count the method's units (words,
// sentences, paragraphs, tokens); zero values take tldw's defaults (500 and 200, with the
// overlap capped below the size).
type ChunkOptions struct {
	Method  string
	Size    int
	Overlap int
}

// Normalized returns o with defaults filled in, or an ErrInvalid-wrapped error for an
// unknown method or sizes out of range, and ErrUnsupported for a method that needs what
// this server lacks (semantic needs embeddings).
func (o ChunkOptions) Normalized() (ChunkOptions, error) {
	if o.Method == "" {
		o.Method = ChunkWords
	}
	switch o.Method {
	case ChunkWords, ChunkSentences, ChunkParagraphs, ChunkTokens, ChunkEbookChapters:
	case ChunkSemantic:
		return o, fmt.Errorf("%w: chunk_method semantic is not available (it needs embeddings)", ErrUnsupported)
	default:
		return o, Detailf(ErrInvalid, "unknown chunk_method %q", o.Method)
	}
	if o.Size < 0 || o.Size > 100_000 || o.Overlap < 0 {
		return o, Detailf(ErrInvalid, "chunk_size must be 1..100000 and chunk_overlap at least 0")
	}
	if o.Size == 0 {
		o.Size = DefaultChunkSize
		if o.Overlap == 0 {
			o.Overlap = min(DefaultChunkOverlap, o.Size-1)
		}
	}
	if o.Overlap >= o.Size {
		return o, Detailf(ErrInvalid, "chunk_overlap (%d) must be smaller than chunk_size (%d)", o.Overlap, o.Size)
	}
	return o, nil
}

// Chunk is one piece of an item's text: Text is exactly content[Start:End] (byte offsets).
type Chunk struct {
	Index      int
	Text       string
	Start, End int
	Section    string // the chapter it belongs to (ebook_chapters), else ""
	// StartTime and EndTime are where the chunk's words are spoken in the recording, for
	// a transcript's chunks (from the segments its text overlaps); nil otherwise.
	StartTime, EndTime *time.Duration
}

// Chunker cuts a text into chunks. Implementations return chunks in order, each with its
// offsets into text, and errors from ChunkOptions.Normalized (or ErrUnsupported for a
// method they do not implement). Safe for concurrent use.
type Chunker interface {
	Chunk(ctx context.Context, text string, sections []Section, o ChunkOptions) ([]Chunk, error)
}

// TextChunker is the Chunker for words, sentences, paragraphs and ebook_chapters (chapters
// longer than Size words are cut by words inside the chapter). Tokens are counted by
// Tokens; with no Tokens function, tokens is ErrUnsupported. The zero value is ready.
type TextChunker struct {
	// Tokens returns the byte spans of text's tokens under a BPE tokenizer.
	Tokens func(text string) [][2]int
}

var _ Chunker = TextChunker{}

// Chunk implements Chunker.
func (c TextChunker) Chunk(ctx context.Context, text string, sections []Section, o ChunkOptions) ([]Chunk, error) {
	o, err := o.Normalized()
	if err != nil {
		return nil, err
	}
	var spans [][2]int
	switch o.Method {
	case ChunkWords:
		spans = wordSpans(text, 0)
	case ChunkSentences:
		spans = sentenceSpans(text)
	case ChunkParagraphs:
		spans = paragraphSpans(text)
	case ChunkTokens:
		if c.Tokens == nil {
			return nil, fmt.Errorf("%w: chunk_method tokens needs a tokenizer", ErrUnsupported)
		}
		spans = c.Tokens(text)
	case ChunkEbookChapters:
		return chapterChunks(ctx, text, sections, o)
	}
	return window(ctx, text, spans, o, "", 0)
}

// window groups spans Size at a time, each group starting Size-Overlap spans after the last.
func window(ctx context.Context, text string, spans [][2]int, o ChunkOptions, section string, first int) ([]Chunk, error) {
	var out []Chunk
	step := o.Size - o.Overlap
	for i := 0; i < len(spans); i += step {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		j := min(i+o.Size, len(spans))
		start, end := spans[i][0], spans[j-1][1]
		out = append(out, Chunk{Index: first + len(out), Text: text[start:end], Start: start, End: end, Section: section})
		if j == len(spans) {
			break
		}
	}
	return out, nil
}

// chapterChunks makes one chunk per section (chapter), cutting long chapters by words. With
// no sections the whole text is one chapter.
func chapterChunks(ctx context.Context, text string, sections []Section, o ChunkOptions) ([]Chunk, error) {
	if len(sections) == 0 {
		sections = []Section{{Offset: 0}}
	}
	var out []Chunk
	for i, s := range sections {
		end := len(text)
		if i+1 < len(sections) {
			end = sections[i+1].Offset
		}
		if s.Offset < 0 || s.Offset > end || end > len(text) {
			return nil, Detailf(ErrInvalid, "section %d offsets out of order", i)
		}
		chunks, err := window(ctx, text, wordSpans(text[s.Offset:end], s.Offset), o, s.Title, len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, chunks...)
	}
	return out, nil
}

// wordSpans returns the byte spans of the runs of non-space characters in s, shifted by base.
func wordSpans(s string, base int) [][2]int {
	out := make([][2]int, 0, WordCount(s)) // counting first is cheaper than growing the slice
	start := -1
	for i := 0; i < len(s); {
		c, at := s[i], i
		var space bool
		if c < utf8.RuneSelf {
			space, i = asciiSpace[c], i+1
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			space, i = unicode.IsSpace(r), i+size
		}
		switch {
		case space && start >= 0:
			out = append(out, [2]int{base + start, base + at})
			start = -1
		case !space && start < 0:
			start = at
		}
	}
	if start >= 0 {
		out = append(out, [2]int{base + start, base + len(s)})
	}
	return out
}

// asciiSpace marks the ASCII characters unicode.IsSpace accepts.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// sentenceSpans cuts s after sentence-ending punctuation (. ! ? … and their CJK forms, with
// closing quotes or brackets) followed by white space, and at blank lines.
func sentenceSpans(s string) [][2]int {
	var out [][2]int
	start := -1
	flush := func(end int) {
		if start >= 0 {
			if t := strings.TrimRightFunc(s[start:end], unicode.IsSpace); t != "" {
				out = append(out, [2]int{start, start + len(t)})
			}
			start = -1
		}
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if start < 0 && !unicode.IsSpace(r) {
			start = i
		}
		i += n
		switch {
		case strings.ContainsRune(".!?…。！？", r):
			for i < len(s) {
				c, n := utf8.DecodeRuneInString(s[i:])
				if !strings.ContainsRune(`.!?…"'”’)]」`, c) {
					break
				}
				i += n
			}
			if next, _ := utf8.DecodeRuneInString(s[i:]); i == len(s) || unicode.IsSpace(next) || r >= 0x3000 {
				flush(i)
			}
		case r == '\n' && strings.HasPrefix(strings.TrimLeft(s[i:], " \t"), "\n"):
			flush(i) // a blank line ends a sentence (headings, list items)
		}
	}
	flush(len(s))
	return out
}

// paragraphSpans cuts s at blank lines.
func paragraphSpans(s string) [][2]int {
	var out [][2]int
	pos, inPara := 0, false
	for _, line := range strings.SplitAfter(s, "\n") {
		body := strings.TrimSpace(line)
		switch {
		case body == "":
			inPara = false
		case inPara:
			out[len(out)-1][1] = pos + len(strings.TrimRightFunc(line, unicode.IsSpace))
		default:
			lead := len(line) - len(strings.TrimLeftFunc(line, unicode.IsSpace))
			out = append(out, [2]int{pos + lead, pos + len(strings.TrimRightFunc(line, unicode.IsSpace))})
			inPara = true
		}
		pos += len(line)
	}
	return out
}
