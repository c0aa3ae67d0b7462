package media

import (
	"context"
	"time"
)

// Transcriber turns speech into text with timestamps. It hears Audio: a WAV file of
// SampleRate Hz mono 16-bit PCM (AV.Decode makes it from any upload), and returns segments
// timed from the file's start. Errors wrap ErrUnsupported (a language or model it cannot
// handle), ErrInvalid (corrupt input), ErrTooLarge, or another error for a failure a retry
// may cure. Safe for concurrent use; it stops when ctx is done. mediatest.TestTranscriber
// is the conformance suite.
type Transcriber interface {
	Transcribe(ctx context.Context, a Audio, o TranscribeOptions) (*Transcript, error)
}

// Audio is the speech a Transcriber hears.
type Audio struct {
	Path     string        // a WAV file (SampleRate Hz, mono, s16le), readable until Transcribe returns
	Duration time.Duration // its length
}

// TranscribeOptions are the ingest form's transcription choices.
type TranscribeOptions struct {
	Name        string // the client's file name
	ContentType string // sniffed
	Model       string // transcription_model; "" = the transcriber's default
	Language    string // transcription_language; "" = detect
	Prompt      string // a hint of vocabulary or style (OpenAI's prompt), or ""
	Diarize     bool
}

// Transcript is what a Transcriber heard.
type Transcript struct {
	Text     string
	Language string
	Model    string
	Segments []Segment
	Warnings []string
}

// Segment is a timed stretch of a Transcript.
type Segment struct {
	Start, End time.Duration
	Text       string
	Speaker    string // with diarization, else ""
}

// Indexer makes an item's chunks searchable (issue 11's search). Index replaces what was
// indexed for the item before. Safe for concurrent use.
type Indexer interface {
	Index(ctx context.Context, it *Item, c *Content, chunks []Chunk) error
}

// Summarizer writes an analysis (summary) of a text (issue 11's analysis). Safe for
// concurrent use; errors are classified like an Extractor's.
type Summarizer interface {
	Summarize(ctx context.Context, text string, o SummarizeOptions) (*Summary, error)
}

// SummarizeOptions are the ingest form's analysis choices.
type SummarizeOptions struct {
	Prompt       string `json:"prompt,omitempty"`        // custom_prompt
	SystemPrompt string `json:"system_prompt,omitempty"` // system_prompt
	Model        string `json:"model,omitempty"`         // api_name / model_name
}

// Summary is a Summarizer's analysis.
type Summary struct {
	Text  string
	Model string
}
