package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage"
)

// Pipeline processes stored items: probe → extract (or transcribe) → chunk → index →
// analyze. Each stage's state, timings, warnings and error are recorded in Processing as it
// goes, so progress is read from the database. A nil hook (Extractor, Transcriber, Chunker,
// Indexer, Summarizer) makes its stage skipped (an item that needs a missing Extractor or
// Transcriber fails with ErrUnsupported). A run may start at any stage: the later stages
// read what the earlier ones stored (reprocessing with new chunk options re-runs chunk →
// index → analyze without extracting again). Set the fields before the first call; Store,
// Processing and Blobs are required. Safe for concurrent use.
type Pipeline struct {
	Store      Store
	Processing ProcessingStore
	Blobs      storage.Blobs

	Extractor   Extractor
	Transcriber Transcriber
	AV          AV // probes and decodes audio and video for the Transcriber
	Chunker     Chunker
	Indexer     Indexer
	Summarizer  Summarizer

	// TempDir is where transcription makes its temporary directory ("" = os.TempDir()).
	TempDir string
	// MaxText caps an item's text in bytes (Source.MaxText); 0 = DefaultMaxText.
	MaxText int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives stage failures; nil discards them.
	Logger *slog.Logger
	// Ledger, when set, charges the extracted text and the chunks to the owner's storage
	// quota (reserve before storing, commit with it; re-processing charges the difference),
	// and keeps the daily OCR budget.
	Ledger quota.Ledger
	// OCRPagesPerDay is each user's daily budget of pages read by OCR
	// (MEDIA_OCR_PAGES_PER_DAY, counted from Extracted.Metadata[MetaOCRPages]); 0 means
	// unlimited. Needs Ledger.
	OCRPagesPerDay int64
	// Audit receives quota_exceeded events of the quota and budget checks; nil drops them.
	Audit audit.Sink
	// AudioBudget, when set, charges the decoded duration of every transcription to the
	// owner's daily transcription minutes (reserved before transcribing, committed after);
	// nil is unlimited.
	AudioBudget *AudioBudget

	waiters itemWaiters // WaitProcessed calls of this process, woken when a run ends
}

// errGone marks a job whose item was deleted.
var errGone = errors.New("media: item deleted before processing")

// run is one processing run's working state.
type run struct {
	it      *Item
	o       ProcessOptions
	av      bool // audio or video: transcribe, not extract
	content *Content
	chunks  []Chunk
	loaded  bool // chunks holds the stored chunks
}

// Handle is the JobHandler of processing jobs: it runs the job's stages from
// Options.From, skipping those already done in this run (a retry or a rescued job resumes
// where it stopped), and records the outcome. A permanent error (Permanent) or a transient
// one on the last attempt fails the item with the error's message; a transient one
// otherwise leaves it queued for the retry. It returns the stage's error.
func (p *Pipeline) Handle(ctx context.Context, jr JobRun) error {
	defer p.waiters.wake(jr.ItemID) // after the outcome is recorded
	err := p.handle(ctx, jr)
	if err == nil {
		return nil
	}
	st, msg := StatusQueued, errorMessage(err)
	switch {
	case errors.Is(err, ErrCancelled) || errors.Is(context.Cause(ctx), ErrCancelled):
		st = StatusCancelled
	case Permanent(err) || jr.Last:
		st = StatusFailed
	}
	if errors.Is(err, errGone) {
		return err // the item is gone: nothing to record
	}
	if serr := p.Processing.SetStatus(context.WithoutCancel(ctx), jr.UserID, jr.ItemID, st, msg, p.now()); serr != nil {
		p.log().ErrorContext(ctx, "media: record processing failure", "item", jr.ItemID, "error", serr)
	}
	return err
}

func (p *Pipeline) handle(ctx context.Context, jr JobRun) error {
	it, err := p.Store.ByID(ctx, jr.UserID, jr.ItemID)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %w", errGone, err)
	}
	if err != nil {
		return err
	}
	todo, err := StagesFrom(jr.Options.From)
	if err != nil {
		return err
	}
	pr, err := p.Processing.Processing(ctx, jr.UserID, jr.ItemID)
	if err != nil {
		return err
	}
	if err := p.Processing.SetStatus(ctx, jr.UserID, jr.ItemID, StatusProcessing, "", p.now()); err != nil {
		return err
	}
	r := &run{it: it, o: jr.Options, av: isAV(it)}
	for _, s := range todo {
		prev := pr.Stage(s)
		if prev.Status == StageDone || prev.Status == StageSkipped {
			continue // done earlier in this run (before a retry or a crash)
		}
		if err := p.stage(ctx, r, s, prev.Attempts); err != nil {
			return err
		}
	}
	return p.Processing.SetStatus(ctx, jr.UserID, jr.ItemID, StatusProcessed, "", p.now())
}

// stage runs and records one stage.
func (p *Pipeline) stage(ctx context.Context, r *run, s Stage, attempts int) error {
	start := p.now()
	st := StageState{Stage: s, Status: StageRunning, Attempts: attempts + 1, StartedAt: &start}
	if err := p.Processing.SetStage(ctx, r.it.UserID, r.it.ID, st); err != nil {
		return err
	}
	warnings, skip, err := p.do(ctx, r, s)
	end := p.now()
	st.FinishedAt, st.Warnings = &end, warnings
	switch {
	case err != nil:
		st.Status, st.Error = StageFailed, errorMessage(err)
	case skip != "":
		st.Status, st.Warnings = StageSkipped, append(st.Warnings, skip)
	default:
		st.Status = StageDone
	}
	if serr := p.Processing.SetStage(context.WithoutCancel(ctx), r.it.UserID, r.it.ID, st); serr != nil && err == nil {
		return serr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	return nil
}

// do performs stage s; skip, when not "", says why the stage was skipped.
func (p *Pipeline) do(ctx context.Context, r *run, s Stage) (warnings []string, skip string, err error) {
	switch s {
	case StageProbe:
		return nil, "", p.probe(ctx, r)
	case StageExtract:
		if r.av {
			return nil, "audio and video are transcribed", nil
		}
		return p.extract(ctx, r)
	case StageTranscribe:
		if !r.av {
			return nil, "not audio or video", nil
		}
		return p.transcribe(ctx, r)
	case StageChunk:
		if r.o.NoChunking {
			return nil, "chunking not requested", nil
		}
		if p.Chunker == nil {
			return nil, "no chunker configured", nil
		}
		return nil, "", p.chunk(ctx, r)
	case StageIndex:
		if p.Indexer == nil {
			return nil, "no indexer configured", nil
		}
		return nil, "", p.index(ctx, r)
	case StageAnalyze:
		switch {
		case !r.o.Analyze:
			return nil, "analysis not requested", nil
		case p.Summarizer == nil:
			return nil, "no summarizer configured", nil
		}
		return nil, "", p.analyze(ctx, r)
	}
	return nil, "", fmt.Errorf("%w: unknown stage %q", ErrInvalid, s)
}

// probe checks that the original is there.
func (p *Pipeline) probe(ctx context.Context, r *run) error {
	_, err := p.Blobs.Stat(ctx, r.it.BlobKey)
	if errors.Is(err, storage.ErrNotExist) {
		return fmt.Errorf("%w: the original file of item %d is missing from storage", ErrInvalid, r.it.ID)
	}
	return err
}

func (p *Pipeline) open(ctx context.Context, r *run) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		rc, _, err := p.Blobs.Get(ctx, r.it.BlobKey)
		if errors.Is(err, storage.ErrNotExist) {
			return nil, fmt.Errorf("%w: the original file is missing from storage", ErrInvalid)
		}
		return rc, err
	}
}

func (p *Pipeline) extract(ctx context.Context, r *run) ([]string, string, error) {
	if p.Extractor == nil {
		return nil, "", fmt.Errorf("%w: no text extractor is configured", ErrUnsupported)
	}
	opts, capped, err := p.ocrOptions(ctx, r.it, r.o.Extract)
	if err != nil {
		return nil, "", err
	}
	x, err := p.Extractor.Extract(ctx, Source{Name: r.it.Filename, ContentType: r.it.ContentType,
		Size: r.it.Size, Open: p.open(ctx, r), MaxText: p.MaxText, Options: opts})
	if capped && errors.Is(err, ErrTooLarge) {
		return nil, "", fmt.Errorf("%w: the OCR pages left today cap this item (%s)",
			budgetError(p.ocrBudget(), CodeOCRPagesPerDay, int64(opts.MaxOCRPages)), errorMessage(err))
	}
	if err != nil {
		return nil, "", err
	}
	if err := p.chargeOCR(ctx, r.it, x); err != nil {
		return nil, "", err
	}
	md := map[string]string{}
	for k, v := range x.Metadata {
		md[k] = v
	}
	if x.Title != "" {
		md["title"] = x.Title
	}
	c := &Content{ItemID: r.it.ID, UserID: r.it.UserID, Text: x.Text, WordCount: WordCount(x.Text),
		Metadata: md, Sections: x.Sections, UpdatedAt: p.now()}
	if err := p.setContent(ctx, r, c); err != nil {
		return nil, "", err
	}
	r.content = c
	return x.Warnings, "", nil
}

// copyOriginal copies the item's original from Blobs to the local file dst (ffmpeg needs a
// seekable file).
func (p *Pipeline) copyOriginal(ctx context.Context, r *run, dst string) error {
	rc, err := p.open(ctx, r)()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("media: temporary file: %w", err)
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("media: copy original: %w", err)
	}
	return nil
}

// setContent stores c in place of the item's content, charging the difference in bytes to
// the owner's quota and checking that the chunks still to come fit too.
func (p *Pipeline) setContent(ctx context.Context, r *run, c *Content) error {
	var (
		old       *Content
		oldChunks []Chunk
		err       error
	)
	if p.Ledger != nil {
		if old, err = p.Processing.Content(ctx, r.it.UserID, r.it.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if oldChunks, err = p.Processing.Chunks(ctx, r.it.UserID, r.it.ID, 0, -1); err != nil {
			return err
		}
	}
	extra := max(0, p.estimateChunkBytes(r.o, contentBytes(c))-chunkBytes(oldChunks))
	err = p.charge(ctx, r.it, contentBytes(old), contentBytes(c), extra,
		func(ctx context.Context) error { return p.Processing.SetContent(ctx, c) })
	if errors.Is(err, ErrQuotaExceeded) && (old != nil || len(oldChunks) > 0) {
		return p.dropDerived(ctx, r.it, err) // a reprocessed item keeps no stale text either
	}
	return err
}

// loadContent reads the stored content unless this run made it.
func (p *Pipeline) loadContent(ctx context.Context, r *run) error {
	if r.content != nil {
		return nil
	}
	c, err := p.Processing.Content(ctx, r.it.UserID, r.it.ID)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: item %d has no extracted text yet; process it from the start", ErrInvalid, r.it.ID)
	}
	if err != nil {
		return err
	}
	r.content = c
	return nil
}

func (p *Pipeline) chunk(ctx context.Context, r *run) error {
	if err := p.loadContent(ctx, r); err != nil {
		return err
	}
	chunks, err := p.Chunker.Chunk(ctx, r.content.Text, r.content.Sections, r.o.Chunk)
	if err != nil {
		return err
	}
	TimeChunks(r.content.Text, r.content.Segments, chunks)
	var old []Chunk
	if p.Ledger != nil {
		if old, err = p.Processing.Chunks(ctx, r.it.UserID, r.it.ID, 0, -1); err != nil {
			return err
		}
	}
	err = p.charge(ctx, r.it, chunkBytes(old), chunkBytes(chunks), 0, func(ctx context.Context) error {
		return p.Processing.SetChunks(ctx, r.it.UserID, r.it.ID, chunks)
	})
	if errors.Is(err, ErrQuotaExceeded) {
		r.content = nil
		return p.dropDerived(ctx, r.it, err)
	}
	if err != nil {
		return err
	}
	r.chunks, r.loaded = chunks, true
	return nil
}

func (p *Pipeline) index(ctx context.Context, r *run) error {
	if err := p.loadContent(ctx, r); err != nil {
		return err
	}
	if !r.loaded {
		chunks, err := p.Processing.Chunks(ctx, r.it.UserID, r.it.ID, 0, -1)
		if err != nil {
			return err
		}
		r.chunks, r.loaded = chunks, true
	}
	return p.Indexer.Index(ctx, r.it, r.content, r.chunks)
}

func (p *Pipeline) analyze(ctx context.Context, r *run) error {
	if err := p.loadContent(ctx, r); err != nil {
		return err
	}
	s, err := p.Summarizer.Summarize(ctx, r.content.Text, r.o.Summarize)
	if err != nil {
		return err
	}
	return p.Processing.SetAnalysis(ctx, r.it.UserID, r.it.ID, s.Text, p.now())
}

// isAV reports whether the item is audio or video.
func isAV(it *Item) bool {
	return it.MediaType == TypeAudio || it.MediaType == TypeVideo ||
		strings.HasPrefix(it.ContentType, "audio/") || strings.HasPrefix(it.ContentType, "video/")
}

// errorMessage is the message stored for err: its text without the package prefixes of
// the sentinels ("media: unsupported input: x" → "unsupported input: x").
func errorMessage(err error) string {
	return strings.ReplaceAll(err.Error(), "media: ", "")
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Pipeline) log() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}
