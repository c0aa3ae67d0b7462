package mediatest

import (
	"context"
	"fmt"
	"strings"

	"github.com/tldw-go/tldw/media"
)

// ExtractorFunc is a media.Extractor made of a function, for tests.
type ExtractorFunc func(ctx context.Context, src media.Source) (*media.Extracted, error)

// Extract implements media.Extractor.
func (f ExtractorFunc) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	return f(ctx, src)
}

// TranscriberFunc is a media.Transcriber made of a function, for tests.
type TranscriberFunc func(ctx context.Context, a media.Audio, o media.TranscribeOptions) (*media.Transcript, error)

// Transcribe implements media.Transcriber.
func (f TranscriberFunc) Transcribe(ctx context.Context, a media.Audio, o media.TranscribeOptions) (*media.Transcript, error) {
	return f(ctx, a, o)
}

// IndexerFunc is a media.Indexer made of a function, for tests.
type IndexerFunc func(ctx context.Context, it *media.Item, c *media.Content, chunks []media.Chunk) error

// Index implements media.Indexer.
func (f IndexerFunc) Index(ctx context.Context, it *media.Item, c *media.Content, chunks []media.Chunk) error {
	return f(ctx, it, c, chunks)
}

// SummarizerFunc is a media.Summarizer made of a function, for tests.
type SummarizerFunc func(ctx context.Context, text string, o media.SummarizeOptions) (*media.Summary, error)

// Summarize implements media.Summarizer.
func (f SummarizerFunc) Summarize(ctx context.Context, text string, o media.SummarizeOptions) (*media.Summary, error) {
	return f(ctx, text, o)
}

// PlainText is a minimal Extractor for tests: text/* sources are their own text
// (normalised); anything else is ErrUnsupported.
var PlainText = ExtractorFunc(func(ctx context.Context, src media.Source) (*media.Extracted, error) {
	if !strings.HasPrefix(src.ContentType, "text/") {
		return nil, fmt.Errorf("%w: %s is not text", media.ErrUnsupported, src.ContentType)
	}
	raw, err := media.ReadSource(ctx, src, 1)
	if err != nil {
		return nil, err
	}
	return &media.Extracted{Text: media.NormalizeText(string(raw))}, nil
})
