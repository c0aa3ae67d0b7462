package media_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
)

func TestTextChunkerConformance(t *testing.T) {
	mediatest.TestChunker(t, media.TextChunker{}, []string{media.ChunkWords, media.ChunkSentences,
		media.ChunkParagraphs, media.ChunkEbookChapters})
}

func texts(chunks []media.Chunk) []string {
	var out []string
	for _, c := range chunks {
		out = append(out, c.Text)
	}
	return out
}

func TestTextChunker(t *testing.T) {
	c := media.TextChunker{}
	for _, tc := range []struct {
		name string
		text string
		o    media.ChunkOptions
		want []string
	}{
		{"words with overlap", "a b c d e f g", media.ChunkOptions{Method: "words", Size: 3, Overlap: 1},
			[]string{"a b c", "c d e", "e f g"}},
		{"words, last window short", "a b c d", media.ChunkOptions{Method: "words", Size: 3, Overlap: 0},
			[]string{"a b c", "d"}},
		{"sentences", "Dr. Who? Yes. He said “go.” Then left…  OK", media.ChunkOptions{Method: "sentences", Size: 2, Overlap: 0},
			[]string{"Dr. Who?", "Yes. He said “go.”", "Then left…  OK"}},
		{"cjk sentences", "你好。再见！", media.ChunkOptions{Method: "sentences", Size: 1}, []string{"你好。", "再见！"}},
		{"paragraphs", "one\nstill one\n\n\n  two\n \nthree\n", media.ChunkOptions{Method: "paragraphs", Size: 1},
			[]string{"one\nstill one", "two", "three"}},
	} {
		got, err := c.Chunk(t.Context(), tc.text, nil, tc.o)
		if err != nil || !reflect.DeepEqual(texts(got), tc.want) {
			t.Errorf("%s: %q %v, want %q", tc.name, texts(got), err, tc.want)
		}
	}
}

func TestChapterChunks(t *testing.T) {
	text := "Chapter one text here. Chapter two is longer than the size allows."
	two := strings.Index(text, "Chapter two")
	got, err := media.TextChunker{}.Chunk(t.Context(), text, []media.Section{{Title: "One", Offset: 0}, {Title: "Two", Offset: two}},
		media.ChunkOptions{Method: media.ChunkEbookChapters, Size: 6, Overlap: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Chapter one text here.", "Chapter two is longer than the", "the size allows."}
	if !reflect.DeepEqual(texts(got), want) || got[0].Section != "One" || got[1].Section != "Two" || got[2].Index != 2 {
		t.Errorf("chapters: %+v", got)
	}
}

func TestChunkOptionsDefaults(t *testing.T) {
	o, err := media.ChunkOptions{}.Normalized()
	if err != nil || o != (media.ChunkOptions{Method: "words", Size: 500, Overlap: 200}) {
		t.Errorf("defaults = %+v %v, want tldw's words/500/200", o, err)
	}
	if _, err := (media.ChunkOptions{Method: media.ChunkTokens}).Normalized(); err != nil {
		t.Errorf("tokens is a known method: %v", err)
	}
	if _, err := (media.TextChunker{}).Chunk(t.Context(), "x", nil, media.ChunkOptions{Method: media.ChunkTokens}); !errors.Is(err, media.ErrUnsupported) {
		t.Errorf("tokens without a tokenizer: %v, want ErrUnsupported", err)
	}
}

// WordCount counts what the words chunker cuts (runs of non-space, Unicode spaces
// included) and allocates nothing, however long the text.
func TestWordCount(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int
	}{
		{"", 0}, {"   \n\t", 0}, {"one", 1}, {" one  two\nthree\t", 3},
		{"naïve café\u00a0déjà\u2003vu", 4}, {"a\u0085b\u3000c", 3}, {"日本語 テキスト", 2},
	} {
		if got := media.WordCount(tc.text); got != tc.want {
			t.Errorf("WordCount(%q) = %d, want %d", tc.text, got, tc.want)
		}
		chunks, err := media.TextChunker{}.Chunk(t.Context(), tc.text, nil, media.ChunkOptions{Size: 1, Overlap: 0})
		if err != nil || len(chunks) != tc.want {
			t.Errorf("%q: %d word chunks (%v), WordCount %d", tc.text, len(chunks), err, tc.want)
		}
	}
	long := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20000)
	if n := testing.AllocsPerRun(5, func() { media.WordCount(long) }); n != 0 {
		t.Errorf("WordCount allocates %v times", n)
	}
}
