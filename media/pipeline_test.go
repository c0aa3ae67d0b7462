package media_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
	"github.com/tldw-go/tldw/storage"
	"github.com/tldw-go/tldw/storage/storagetest"
)

// pipelineFixture is a Pipeline on in-memory stores with one stored item.
type pipelineFixture struct {
	p       *media.Pipeline
	store   *mediatest.Memory
	proc    *mediatest.Processing
	it      *media.Item
	extract atomic.Int32 // extractor calls
}

func newPipeline(t *testing.T, name, ctype, mediaType, body string) *pipelineFixture {
	t.Helper()
	ctx := context.Background()
	f := &pipelineFixture{store: mediatest.NewMemory()}
	f.proc = mediatest.NewProcessing(f.store)
	blobs := storagetest.Memory()
	key := "1/2026/12/" + name
	if _, err := blobs.Put(ctx, key, strings.NewReader(body), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	f.it = &media.Item{UserID: 1, Title: name, MediaType: mediaType, Filename: name, ContentType: ctype,
		Size: int64(len(body)), ContentHash: fmt.Sprintf("%064d", 1), BlobKey: key, Status: media.StatusQueued}
	if err := f.store.Create(ctx, f.it); err != nil {
		t.Fatal(err)
	}
	if err := f.proc.Reset(ctx, 1, f.it.ID, "", f.it.CreatedAt); err != nil {
		t.Fatal(err)
	}
	f.p = &media.Pipeline{Store: f.store, Processing: f.proc, Blobs: blobs, Chunker: media.TextChunker{},
		Extractor: mediatest.ExtractorFunc(func(ctx context.Context, src media.Source) (*media.Extracted, error) {
			f.extract.Add(1)
			return mediatest.PlainText(ctx, src)
		})}
	return f
}

func (f *pipelineFixture) run(o media.ProcessOptions, attempt int, last bool) error {
	return f.p.Handle(context.Background(), media.JobRun{Job: media.Job{ItemID: f.it.ID, UserID: f.it.UserID,
		Options: o, Attempt: attempt, MaxAttempts: 3}, Last: last})
}

func (f *pipelineFixture) state(t *testing.T) *media.Processing {
	t.Helper()
	pr, err := f.proc.Processing(context.Background(), f.it.UserID, f.it.ID)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func wantStages(t *testing.T, pr *media.Processing, want map[media.Stage]media.StageStatus) {
	t.Helper()
	for s, st := range want {
		if got := pr.Stage(s); got.Status != st {
			t.Errorf("stage %s = %s (%+v), want %s", s, got.Status, got, st)
		}
	}
}

var words = strings.Repeat("alpha beta gamma delta ", 300) // 1200 words

func TestPipelineText(t *testing.T) {
	f := newPipeline(t, "notes.txt", "text/plain; charset=utf-8", media.TypeDocument, words)
	if err := f.run(media.ProcessOptions{}, 1, false); err != nil {
		t.Fatal(err)
	}
	pr := f.state(t)
	if pr.Status != media.StatusProcessed || pr.Error != "" || pr.WordCount != 1200 {
		t.Fatalf("processing = %+v", pr)
	}
	wantStages(t, pr, map[media.Stage]media.StageStatus{media.StageProbe: media.StageDone,
		media.StageExtract: media.StageDone, media.StageTranscribe: media.StageSkipped,
		media.StageChunk: media.StageDone, media.StageIndex: media.StageSkipped, media.StageAnalyze: media.StageSkipped})
	ex := pr.Stage(media.StageExtract)
	if ex.Attempts != 1 || ex.StartedAt == nil || ex.FinishedAt == nil || ex.FinishedAt.Before(*ex.StartedAt) {
		t.Errorf("extract timings = %+v", ex)
	}
	if w := pr.Stage(media.StageIndex).Warnings; len(w) != 1 || !strings.Contains(w[0], "no indexer") {
		t.Errorf("index stage warnings = %q, want why it was skipped", w)
	}
	c, err := f.proc.Content(context.Background(), 1, f.it.ID)
	if err != nil || c.Text != words {
		t.Fatalf("content = %v, %v", c, err)
	}
	// 1200 words in windows of 500 advancing by 300: 0-500, 300-800, 600-1100, 900-1200.
	chunks, _ := f.proc.Chunks(context.Background(), 1, f.it.ID, 0, -1)
	if pr.ChunkCount != 4 || len(chunks) != 4 || chunks[3].Text != c.Text[chunks[3].Start:chunks[3].End] {
		t.Errorf("chunk count %d, chunks %d", pr.ChunkCount, len(chunks))
	}
}

func TestPipelinePermanentFailure(t *testing.T) {
	f := newPipeline(t, "blob.bin", "application/octet-stream", media.TypeDocument, "\x00\x01")
	err := f.run(media.ProcessOptions{}, 1, false)
	if !errors.Is(err, media.ErrUnsupported) || !media.Permanent(err) {
		t.Fatalf("Handle = %v, want a permanent ErrUnsupported", err)
	}
	pr := f.state(t)
	if pr.Status != media.StatusFailed || !strings.Contains(pr.Error, "application/octet-stream is not text") ||
		strings.Contains(pr.Error, "media: ") {
		t.Errorf("processing = %+v, want failed with the extractor's message", pr)
	}
	wantStages(t, pr, map[media.Stage]media.StageStatus{media.StageProbe: media.StageDone,
		media.StageExtract: media.StageFailed, media.StageChunk: media.StagePending})
}

func TestPipelineTransientFailureResumes(t *testing.T) {
	f := newPipeline(t, "notes.txt", "text/plain", media.TypeDocument, words)
	var fail atomic.Bool
	fail.Store(true)
	f.p.Chunker = chunkerFunc(func(ctx context.Context, text string, s []media.Section, o media.ChunkOptions) ([]media.Chunk, error) {
		if fail.Load() {
			return nil, errors.New("database hiccup")
		}
		return media.TextChunker{}.Chunk(ctx, text, s, o)
	})
	err := f.run(media.ProcessOptions{}, 1, false)
	if err == nil || media.Permanent(err) {
		t.Fatalf("Handle = %v, want a transient error", err)
	}
	if pr := f.state(t); pr.Status != media.StatusQueued || !strings.Contains(pr.Error, "database hiccup") {
		t.Errorf("after a transient failure: %+v, want queued with the error", pr)
	}
	fail.Store(false)
	if err := f.run(media.ProcessOptions{}, 2, false); err != nil {
		t.Fatal(err)
	}
	pr := f.state(t)
	if pr.Status != media.StatusProcessed || pr.ChunkCount != 4 || pr.Stage(media.StageChunk).Attempts != 2 {
		t.Errorf("after the retry: %+v", pr)
	}
	if n := f.extract.Load(); n != 1 {
		t.Errorf("extractor ran %d times, want 1 (the retry resumes at chunk)", n)
	}
	// The same failure on the last attempt fails the item.
	g := newPipeline(t, "notes.txt", "text/plain", media.TypeDocument, words)
	g.p.Chunker = chunkerFunc(func(context.Context, string, []media.Section, media.ChunkOptions) ([]media.Chunk, error) {
		return nil, errors.New("database hiccup")
	})
	if err := g.run(media.ProcessOptions{}, 3, true); err == nil {
		t.Fatal("no error")
	}
	if pr := g.state(t); pr.Status != media.StatusFailed {
		t.Errorf("after the last attempt: %+v, want failed", pr)
	}
}

type chunkerFunc func(ctx context.Context, text string, s []media.Section, o media.ChunkOptions) ([]media.Chunk, error)

func (f chunkerFunc) Chunk(ctx context.Context, text string, s []media.Section, o media.ChunkOptions) ([]media.Chunk, error) {
	return f(ctx, text, s, o)
}

func TestPipelineReprocessFromChunk(t *testing.T) {
	ctx := context.Background()
	f := newPipeline(t, "notes.txt", "text/plain", media.TypeDocument, words)
	if err := f.run(media.ProcessOptions{}, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := f.proc.Reset(ctx, 1, f.it.ID, media.StageChunk, f.it.CreatedAt); err != nil {
		t.Fatal(err)
	}
	o := media.ProcessOptions{From: media.StageChunk, Chunk: media.ChunkOptions{Method: media.ChunkWords, Size: 100, Overlap: 0}}
	if err := f.run(o, 1, false); err != nil {
		t.Fatal(err)
	}
	pr := f.state(t)
	if pr.Status != media.StatusProcessed || pr.ChunkCount != 12 {
		t.Errorf("after reprocessing: %+v, want 12 chunks", pr)
	}
	if n := f.extract.Load(); n != 1 {
		t.Errorf("extractor ran %d times, want 1", n)
	}
	// Reprocessing an item that was never extracted says so.
	g := newPipeline(t, "fresh.txt", "text/plain", media.TypeDocument, words)
	err := g.run(media.ProcessOptions{From: media.StageChunk}, 1, false)
	if !errors.Is(err, media.ErrInvalid) || !strings.Contains(g.state(t).Error, "no extracted text") {
		t.Errorf("chunk without text = %v (%q)", err, g.state(t).Error)
	}
}

func TestPipelineHooks(t *testing.T) {
	f := newPipeline(t, "notes.txt", "text/plain", media.TypeDocument, words)
	var indexed []media.Chunk
	f.p.Indexer = mediatest.IndexerFunc(func(_ context.Context, it *media.Item, c *media.Content, chunks []media.Chunk) error {
		if it.ID != f.it.ID || c.Text != words {
			return errors.New("wrong item")
		}
		indexed = chunks
		return nil
	})
	f.p.Summarizer = mediatest.SummarizerFunc(func(_ context.Context, text string, o media.SummarizeOptions) (*media.Summary, error) {
		return &media.Summary{Text: fmt.Sprintf("%d words; prompt %q", media.WordCount(text), o.Prompt)}, nil
	})
	o := media.ProcessOptions{Analyze: true, Summarize: media.SummarizeOptions{Prompt: "be brief"}}
	if err := f.run(o, 1, false); err != nil {
		t.Fatal(err)
	}
	pr := f.state(t)
	wantStages(t, pr, map[media.Stage]media.StageStatus{media.StageIndex: media.StageDone, media.StageAnalyze: media.StageDone})
	if len(indexed) != 4 {
		t.Errorf("indexer got %d chunks, want 4", len(indexed))
	}
	c, _ := f.proc.Content(context.Background(), 1, f.it.ID)
	if c.Analysis != `1200 words; prompt "be brief"` {
		t.Errorf("analysis = %q", c.Analysis)
	}
}

func TestPipelineAudio(t *testing.T) {
	f := newPipeline(t, "talk.mp3", "audio/mpeg", media.TypeAudio, "ID3 not really audio")
	err := f.run(media.ProcessOptions{}, 1, false)
	if !errors.Is(err, media.ErrUnsupported) || !strings.Contains(f.state(t).Error, "transcription is not available") {
		t.Fatalf("audio without a transcriber: %v (%q)", err, f.state(t).Error)
	}
	g := newPipeline(t, "talk.mp3", "audio/mpeg", media.TypeAudio, "ID3 not really audio")
	g.p.AV = copyAV{}
	g.p.Transcriber = mediatest.TranscriberFunc(func(_ context.Context, a media.Audio, o media.TranscribeOptions) (*media.Transcript, error) {
		b, _ := os.ReadFile(a.Path)
		return &media.Transcript{Text: "heard: " + string(b), Language: o.Language,
			Segments: []media.Segment{{End: 1, Text: "heard"}}}, nil
	})
	o := media.ProcessOptions{}
	o.Transcribe.Language = "en"
	if err := g.run(o, 1, false); err != nil {
		t.Fatal(err)
	}
	pr := g.state(t)
	wantStages(t, pr, map[media.Stage]media.StageStatus{media.StageExtract: media.StageSkipped,
		media.StageTranscribe: media.StageDone, media.StageChunk: media.StageDone})
	c, _ := g.proc.Content(context.Background(), 1, g.it.ID)
	if c.Text != "heard: ID3 not really audio" || c.Metadata["language"] != "en" || len(c.Segments) != 1 || g.extract.Load() != 0 {
		t.Errorf("content = %+v, extract calls %d", c, g.extract.Load())
	}
}

func TestPipelineMissingOriginalAndItem(t *testing.T) {
	ctx := context.Background()
	f := newPipeline(t, "notes.txt", "text/plain", media.TypeDocument, words)
	if err := f.p.Blobs.Delete(ctx, f.it.BlobKey); err != nil {
		t.Fatal(err)
	}
	if err := f.run(media.ProcessOptions{}, 1, false); !errors.Is(err, media.ErrInvalid) || f.state(t).Stage(media.StageProbe).Status != media.StageFailed {
		t.Errorf("missing original: %v, probe %+v", err, f.state(t).Stage(media.StageProbe))
	}
	if err := f.store.Delete(ctx, 1, f.it.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.run(media.ProcessOptions{}, 1, false); !errors.Is(err, media.ErrNotFound) || !media.Permanent(err) {
		t.Errorf("deleted item: %v, want a permanent ErrNotFound", err)
	}
}

func TestPermanent(t *testing.T) {
	for err, want := range map[error]bool{
		fmt.Errorf("x: %w", media.ErrUnsupported):   true,
		fmt.Errorf("x: %w", media.ErrInvalid):       true,
		fmt.Errorf("x: %w", media.ErrTooLarge):      true,
		fmt.Errorf("x: %w", media.ErrQuotaExceeded): true,
		errors.New("connection reset"):              false,
		context.DeadlineExceeded:                    false,
	} {
		if got := media.Permanent(err); got != want {
			t.Errorf("Permanent(%v) = %v, want %v", err, got, want)
		}
	}
}

// copyAV is an AV whose "decoding" copies the file, so a test transcriber sees the upload.
type copyAV struct{}

func (copyAV) Probe(context.Context, string) (*media.AVInfo, error) {
	return &media.AVInfo{Duration: time.Second, HasAudio: true}, nil
}

func (copyAV) Decode(_ context.Context, path, dst string, _ media.DecodeOptions) error {
	b, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(dst, b, 0o600)
	}
	return err
}

func (copyAV) Thumbnail(context.Context, string, time.Duration) ([]byte, error) { return nil, nil }

func (copyAV) Silences(context.Context, string, media.SilenceOptions) ([]media.Interval, error) {
	return nil, nil
}

// countingProcessing counts reads of the processing state.
type countingProcessing struct {
	media.ProcessingStore
	reads atomic.Int32
}

func (c *countingProcessing) Processing(ctx context.Context, uid, id int64) (*media.Processing, error) {
	c.reads.Add(1)
	return c.ProcessingStore.Processing(ctx, uid, id)
}

// A run in this process wakes WaitProcessed as soon as it ends: the waiter does not sleep
// out its poll interval (which is up to media.WaitFallbackPoll with a Pipeline).
func TestWaitProcessedWokenByRun(t *testing.T) {
	f := newPipeline(t, "notes.txt", "text/plain; charset=utf-8", media.TypeDocument, words)
	cp := &countingProcessing{ProcessingStore: f.proc}
	svc := &media.Service{Store: f.store, Processing: cp, Pipeline: f.p}
	type result struct {
		p   *media.Processing
		err error
		at  time.Time
	}
	got := make(chan result, 1)
	go func() {
		p, err := svc.WaitProcessed(t.Context(), f.it.UserID, f.it.ID)
		got <- result{p, err, time.Now()}
	}()
	// Eight reads in, the waiter sleeps for at least 640 ms before its next one.
	deadline := time.Now().Add(10 * time.Second)
	for cp.reads.Load() < 8 {
		if time.Now().After(deadline) {
			t.Fatal("the waiter does not poll")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let it go to sleep after its read
	if err := f.run(media.ProcessOptions{}, 1, false); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	r := <-got
	if r.err != nil || r.p.Status != media.StatusProcessed {
		t.Fatalf("WaitProcessed = %+v, %v", r.p, r.err)
	}
	if lag := r.at.Sub(ended); lag > 300*time.Millisecond {
		t.Errorf("WaitProcessed returned %v after the run ended; want it woken at once", lag)
	}
}

// An item whose chunks do not fit in the owner's storage quota fails with nothing derived
// left: no content, no chunks, and the quota charged for its original only.
func TestPipelineChunkOverQuotaLeavesNothing(t *testing.T) {
	ctx := context.Background()
	f := newPipeline(t, "notes.txt", "text/plain; charset=utf-8", media.TypeDocument, words)
	l := quotatest.NewMemory()
	f.p.Ledger = l
	orig := int64(len(words))
	if err := l.Add(ctx, "1", quota.ResourceStorage, orig); err != nil { // the upload's charge
		t.Fatal(err)
	}
	if err := l.SetLimit(ctx, "1", quota.ResourceStorage, 4*orig); err != nil {
		t.Fatal(err)
	}
	used := func() int64 {
		u, err := l.Usage(ctx, "1")
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range u {
			if x.Resource == quota.ResourceStorage {
				return x.Used + x.Reserved
			}
		}
		return 0
	}
	if err := f.run(media.ProcessOptions{}, 1, false); err != nil {
		t.Fatal(err)
	}
	if pr := f.state(t); pr.Status != media.StatusProcessed || used() <= 2*orig {
		t.Fatalf("first run: %s, %d bytes used", pr.Status, used())
	}
	// Re-chunked by 10 words with an overlap of 9, the chunks hold each word ten times.
	o := media.ProcessOptions{From: media.StageChunk, Chunk: media.ChunkOptions{Size: 10, Overlap: 9}}
	if err := f.proc.Reset(ctx, 1, f.it.ID, media.StageChunk, time.Now()); err != nil {
		t.Fatal(err)
	}
	err := f.run(o, 1, false)
	if !errors.Is(err, media.ErrQuotaExceeded) {
		t.Fatalf("re-chunk over the quota: %v, want ErrQuotaExceeded", err)
	}
	pr := f.state(t)
	if pr.Status != media.StatusFailed || pr.ChunkCount != 0 || pr.WordCount != 0 {
		t.Errorf("after the failure: %+v, want failed with no chunks and no words", pr)
	}
	if _, err := f.proc.Content(ctx, 1, f.it.ID); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("content after the failure: %v, want ErrNotFound", err)
	}
	if got := used(); got != orig {
		t.Errorf("storage used after the failure = %d, want the original's %d", got, orig)
	}
}

// ProcessEphemeral runs at most EphemeralPerUser inputs of one user at once; one more is
// ErrTooManyJobs at once, other users are not held up, and a finished call frees its slot.
func TestProcessEphemeralPerUserBound(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	x := mediatest.ExtractorFunc(func(ctx context.Context, src media.Source) (*media.Extracted, error) {
		if src.Name == "slow.txt" {
			entered <- struct{}{}
			<-release
		}
		return mediatest.PlainText(ctx, src)
	})
	svc := &media.Service{Pipeline: &media.Pipeline{Extractor: x}, Sniffer: sniffer{}, EphemeralPerUser: 2}
	in := func(user int64, name string) media.Ephemeral {
		return media.Ephemeral{Actor: media.Actor{UserID: user}, Filename: name, MediaType: media.TypeDocument, Size: 5,
			Process: media.ProcessOptions{NoChunking: true},
			Open:    func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("hello")), nil }}
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := svc.ProcessEphemeral(context.Background(), in(1, "slow.txt"))
			errs <- err
		}()
		<-entered
	}
	if _, err := svc.ProcessEphemeral(context.Background(), in(1, "fast.txt")); !errors.Is(err, media.ErrTooManyJobs) {
		t.Errorf("a third input of the same user: %v, want ErrTooManyJobs", err)
	}
	if out, err := svc.ProcessEphemeral(context.Background(), in(2, "fast.txt")); err != nil || out.Text != "hello" {
		t.Errorf("another user's input: %+v, %v", out, err)
	}
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if _, err := svc.ProcessEphemeral(context.Background(), in(1, "fast.txt")); err != nil {
		t.Errorf("after the slow ones ended: %v", err)
	}
}
