package media

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

// The processing states of an item (Item.Status after upload).
const (
	StatusQueued     Status = "queued"     // waiting for a worker
	StatusProcessing Status = "processing" // a worker is running its stages
	StatusProcessed  Status = "processed"  // every stage is done or skipped
	StatusFailed     Status = "failed"     // a stage failed for good; Processing.Error says why
	StatusCancelled  Status = "cancelled"  // its job was cancelled
)

// Terminal reports whether processing has ended in st (or never started: StatusStored).
func (st Status) Terminal() bool {
	switch st {
	case StatusQueued, StatusProcessing:
		return false
	}
	return true
}

// Stage is one step of the Pipeline.
type Stage string

// The stages, in the order they run. An item goes through extract or transcribe (the other
// is skipped).
const (
	StageProbe      Stage = "probe"      // the original exists; extract or transcribe?
	StageExtract    Stage = "extract"    // documents → text (Extractor)
	StageTranscribe Stage = "transcribe" // audio and video → text (Transcriber)
	StageChunk      Stage = "chunk"      // text → chunks (Chunker)
	StageIndex      Stage = "index"      // chunks → search index (Indexer)
	StageAnalyze    Stage = "analyze"    // text → summary (Summarizer)
)

var stages = []Stage{StageProbe, StageExtract, StageTranscribe, StageChunk, StageIndex, StageAnalyze}

// Stages returns the stages in order (a fresh slice).
func Stages() []Stage { return slices.Clone(stages) }

// StagesFrom returns the stages from `from` on ("" = all). ErrInvalid for an unknown stage.
func StagesFrom(from Stage) ([]Stage, error) {
	if from == "" {
		return Stages(), nil
	}
	i := slices.Index(stages, from)
	if i < 0 {
		return nil, fmt.Errorf("%w: unknown processing stage %q", ErrInvalid, from)
	}
	return slices.Clone(stages[i:]), nil
}

// StageStatus is where one stage of an item is.
type StageStatus string

// The stage states.
const (
	StagePending StageStatus = "pending"
	StageRunning StageStatus = "running"
	StageDone    StageStatus = "done"
	StageFailed  StageStatus = "failed"
	StageSkipped StageStatus = "skipped"
)

// StageState is the recorded state of one stage of one item.
type StageState struct {
	Stage      Stage
	Status     StageStatus
	Attempts   int // how many times the stage started in this processing run
	StartedAt  *time.Time
	FinishedAt *time.Time
	Warnings   []string
	Error      string
}

// Processing is an item's processing state, as the database has it.
type Processing struct {
	ItemID, UserID int64
	Status         Status
	Error          string // why it failed, for StatusFailed (and the last transient error while retrying)
	ChunkCount     int
	WordCount      int
	Stages         []StageState // in stage order; stages never recorded are absent
	UpdatedAt      time.Time
}

// Stage returns the recorded state of s, or a pending one.
func (p *Processing) Stage(s Stage) StageState {
	for _, st := range p.Stages {
		if st.Stage == s {
			return st
		}
	}
	return StageState{Stage: s, Status: StagePending}
}

// Content is an item's derived text.
type Content struct {
	ItemID, UserID int64
	Text           string
	WordCount      int
	Metadata       map[string]string
	Sections       []Section
	Segments       []Segment // timestamps, for transcripts
	Analysis       string    // the Summarizer's output, or ""
	UpdatedAt      time.Time
}

// ProcessingStore keeps processing state, content and chunks of items. Every method takes
// the owner's user id and touches only that user's items: another user's item is
// ErrNotFound. Implementations are safe for concurrent use; mediatest.TestProcessingStore is
// their conformance suite.
type ProcessingStore interface {
	// Reset starts a processing run at stage from ("" = all): those stages become pending
	// with no attempts, the item's status StatusQueued and its error empty. ErrNotFound.
	Reset(ctx context.Context, userID, itemID int64, from Stage, at time.Time) error
	// SetStatus records the item's status and error message. ErrNotFound.
	SetStatus(ctx context.Context, userID, itemID int64, st Status, msg string, at time.Time) error
	// SetStage records one stage's state (replacing it). ErrNotFound; ErrInvalid for an
	// unknown stage or status.
	SetStage(ctx context.Context, userID, itemID int64, s StageState) error
	// Processing returns the item's processing state. ErrNotFound.
	Processing(ctx context.Context, userID, itemID int64) (*Processing, error)
	// SetContent replaces the item's content (c.ItemID, c.UserID). ErrNotFound.
	SetContent(ctx context.Context, c *Content) error
	// Content returns the item's content. ErrNotFound when the item or its content is absent.
	Content(ctx context.Context, userID, itemID int64) (*Content, error)
	// SetAnalysis stores the analysis in the item's content. ErrNotFound without content.
	SetAnalysis(ctx context.Context, userID, itemID int64, text string, at time.Time) error
	// SetChunks replaces the item's chunks and its chunk count. ErrNotFound.
	SetChunks(ctx context.Context, userID, itemID int64, chunks []Chunk) error
	// Chunks returns n chunks (n < 0: all) from index first, in order. ErrNotFound for
	// an absent item; an item without chunks gives none.
	Chunks(ctx context.Context, userID, itemID int64, first, n int) ([]Chunk, error)
	// DeleteContent removes the item's content and chunks (its chunk count becomes 0), as
	// when processing fails over the storage quota; an item without them is left as it is.
	// ErrNotFound for an absent item.
	DeleteContent(ctx context.Context, userID, itemID int64) error
	// SetTranscript stores t (t.ItemID, t.UserID) in place of the item's transcript by the
	// same model. ErrNotFound.
	SetTranscript(ctx context.Context, t *StoredTranscript) error
	// Transcripts returns the item's transcripts, newest first. ErrNotFound for an absent
	// item; an item without transcripts gives none.
	Transcripts(ctx context.Context, userID, itemID int64) ([]StoredTranscript, error)
}

// StoredTranscript is one transcript of an item by one model, as stored (tldw's
// Transcripts row: whisper_model, transcription, created_at, plus the segments).
type StoredTranscript struct {
	ItemID, UserID int64
	Model          string // the transcriber's model (whisper_model); never ""
	Language       string
	Text           string
	Segments       []Segment
	CreatedAt      time.Time
}

// WordCount counts the white-space separated words of s (the runs wordSpans finds),
// without allocating.
func WordCount(s string) int {
	n, in := 0, false
	for i := 0; i < len(s); {
		c := s[i]
		var space bool
		if c < utf8.RuneSelf {
			space, i = asciiSpace[c], i+1
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			space, i = unicode.IsSpace(r), i+size
		}
		if !space && !in {
			n++
		}
		in = !space
	}
	return n
}
