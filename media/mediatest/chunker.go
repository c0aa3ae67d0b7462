package mediatest

import (
	"errors"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media"
)

// TestChunker is the conformance suite of media.Chunker for the methods it names: every
// chunk's Text is exactly text[Start:End], chunks are in order and numbered from 0, together
// they cover every word of the text, bad options are ErrInvalid and semantic is
// ErrUnsupported.
func TestChunker(t *testing.T, c media.Chunker, methods []string) {
	t.Helper()
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. It barked! Did it?\n\n", 40) +
		"Last paragraph with “quotes.” And a tail"
	for _, m := range methods {
		for _, o := range []media.ChunkOptions{{Method: m, Size: 7, Overlap: 2}, {Method: m, Size: 3}, {Method: m}} {
			chunks, err := c.Chunk(t.Context(), text, nil, o)
			if err != nil {
				t.Errorf("%+v: %v", o, err)
				continue
			}
			if len(chunks) == 0 {
				t.Errorf("%+v: no chunks", o)
				continue
			}
			covered := make([]bool, len(text))
			for i, ch := range chunks {
				if ch.Index != i || ch.Start < 0 || ch.End > len(text) || ch.Start >= ch.End || text[ch.Start:ch.End] != ch.Text {
					t.Fatalf("%+v: chunk %d = %+v is not text[Start:End] in order", o, i, ch)
				}
				if i > 0 && ch.Start < chunks[i-1].Start {
					t.Errorf("%+v: chunk %d starts before chunk %d", o, i, i-1)
				}
				for k := ch.Start; k < ch.End; k++ {
					covered[k] = true
				}
			}
			for k, r := range text {
				if !covered[k] && !strings.ContainsRune(" \n\t", r) {
					t.Errorf("%+v: byte %d (%q) is in no chunk", o, k, r)
					break
				}
			}
		}
	}
	for _, bad := range []media.ChunkOptions{{Method: "nonsense"}, {Size: 5, Overlap: 5}, {Size: -1}, {Overlap: -2, Size: 4}} {
		if _, err := c.Chunk(t.Context(), text, nil, bad); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := c.Chunk(t.Context(), text, nil, media.ChunkOptions{Method: media.ChunkSemantic}); !errors.Is(err, media.ErrUnsupported) {
		t.Errorf("semantic: %v, want ErrUnsupported", err)
	}
	if chunks, err := c.Chunk(t.Context(), "", nil, media.ChunkOptions{}); err != nil || len(chunks) != 0 {
		t.Errorf("empty text: %v %v, want no chunks", chunks, err)
	}
}
