package mediatest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

// ProcessingFixture is what TestProcessingStore needs: the item store, the processing store
// over it, and two fresh users.
type ProcessingFixture struct {
	Store      media.Store
	Processing media.ProcessingStore
	Alice, Bob int64
}

// TestProcessingStore is the media.ProcessingStore conformance suite: reset and stage
// records, status and its effect on the item, content and analysis round trips, chunk
// replacement and paging, and user isolation. open is called once per subtest.
func TestProcessingStore(t *testing.T, open func(t *testing.T) ProcessingFixture) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f ProcessingFixture)
	}{
		{"StagesAndStatus", testStagesAndStatus},
		{"Content", testContent},
		{"Chunks", testChunks},
		{"ChunkTimes", testChunkTimes},
		{"Transcripts", testTranscripts},
		{"Isolation", testProcessingIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func testStagesAndStatus(t *testing.T, f ProcessingFixture) {
	ctx := context.Background()
	it := create(t, f.Store, item(f.Alice, 1))
	p := f.Processing
	if err := p.Reset(ctx, f.Alice, it.ID, "", base); err != nil {
		t.Fatal(err)
	}
	pr, err := p.Processing(ctx, f.Alice, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Status != media.StatusQueued || len(pr.Stages) != len(media.Stages()) || pr.ChunkCount != 0 {
		t.Fatalf("after Reset: %+v", pr)
	}
	for _, s := range pr.Stages {
		if s.Status != media.StagePending || s.Attempts != 0 {
			t.Errorf("after Reset: stage %+v", s)
		}
	}
	start, end := base.Add(time.Second), base.Add(2*time.Second)
	want := media.StageState{Stage: media.StageExtract, Status: media.StageDone, Attempts: 2,
		StartedAt: &start, FinishedAt: &end, Warnings: []string{"guessed the charset"}}
	if err := p.SetStage(ctx, f.Alice, it.ID, want); err != nil {
		t.Fatal(err)
	}
	failed := media.StageState{Stage: media.StageChunk, Status: media.StageFailed, Attempts: 1, StartedAt: &end, Error: "boom"}
	if err := p.SetStage(ctx, f.Alice, it.ID, failed); err != nil {
		t.Fatal(err)
	}
	if err := p.SetStatus(ctx, f.Alice, it.ID, media.StatusFailed, "chunk: boom", end); err != nil {
		t.Fatal(err)
	}
	pr, err = p.Processing(ctx, f.Alice, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Status != media.StatusFailed || pr.Error != "chunk: boom" || pr.ItemID != it.ID || pr.UserID != f.Alice {
		t.Errorf("status = %+v", pr)
	}
	if got := pr.Stage(media.StageExtract); !reflect.DeepEqual(got, want) {
		t.Errorf("extract stage = %+v, want %+v", got, want)
	}
	if got := pr.Stage(media.StageChunk); got.Status != media.StageFailed || got.Error != "boom" || got.FinishedAt != nil {
		t.Errorf("chunk stage = %+v", got)
	}
	for i, s := range media.Stages() {
		if pr.Stages[i].Stage != s {
			t.Errorf("stage %d = %s, want %s (stage order)", i, pr.Stages[i].Stage, s)
		}
	}
	if got, err := f.Store.ByID(ctx, f.Alice, it.ID); err != nil || got.Status != media.StatusFailed {
		t.Errorf("item status = %v, %v; want failed", got, err)
	}
	// A reset from chunk leaves the earlier stages alone.
	if err := p.Reset(ctx, f.Alice, it.ID, media.StageChunk, end); err != nil {
		t.Fatal(err)
	}
	pr, _ = p.Processing(ctx, f.Alice, it.ID)
	if pr.Status != media.StatusQueued || pr.Error != "" || pr.Stage(media.StageExtract).Status != media.StageDone ||
		pr.Stage(media.StageChunk).Status != media.StagePending {
		t.Errorf("after Reset(chunk): %+v", pr)
	}
	if err := p.SetStage(ctx, f.Alice, it.ID, media.StageState{Stage: "bogus", Status: media.StageDone}); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("unknown stage: %v, want ErrInvalid", err)
	}
	if err := p.SetStage(ctx, f.Alice, it.ID, media.StageState{Stage: media.StageIndex, Status: "meh"}); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("unknown stage status: %v, want ErrInvalid", err)
	}
	if err := p.Reset(ctx, f.Alice, it.ID, "bogus", end); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("Reset from an unknown stage: %v, want ErrInvalid", err)
	}
}

func testContent(t *testing.T, f ProcessingFixture) {
	ctx := context.Background()
	it := create(t, f.Store, item(f.Alice, 2))
	p := f.Processing
	if _, err := p.Content(ctx, f.Alice, it.ID); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Content before extraction: %v, want ErrNotFound", err)
	}
	if err := p.SetAnalysis(ctx, f.Alice, it.ID, "x", base); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("SetAnalysis before content: %v, want ErrNotFound", err)
	}
	want := &media.Content{ItemID: it.ID, UserID: f.Alice, Text: "Chapter one.\nÉtude — naïve café.", WordCount: 5,
		Metadata: map[string]string{"encoding": "utf-8"}, Sections: []media.Section{{Title: "One", Offset: 0}},
		Segments: []media.Segment{{Start: time.Second, End: 2 * time.Second, Text: "Chapter one."}}, UpdatedAt: base}
	if err := p.SetContent(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := p.SetAnalysis(ctx, f.Alice, it.ID, "A short summary.", base); err != nil {
		t.Fatal(err)
	}
	want.Analysis = "A short summary."
	got, err := p.Content(ctx, f.Alice, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Content = %+v\nwant %+v", got, want)
	}
	if pr, _ := p.Processing(ctx, f.Alice, it.ID); pr.WordCount != 5 {
		t.Errorf("Processing.WordCount = %d, want 5", pr.WordCount)
	}
	repl := &media.Content{ItemID: it.ID, UserID: f.Alice, Text: "new", WordCount: 1, UpdatedAt: base.Add(time.Hour)}
	if err := p.SetContent(ctx, repl); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Content(ctx, f.Alice, it.ID); got.Text != "new" || got.Analysis != "" || len(got.Sections) != 0 {
		t.Errorf("after replacing: %+v", got)
	}
}

func testChunks(t *testing.T, f ProcessingFixture) {
	ctx := context.Background()
	it := create(t, f.Store, item(f.Alice, 3))
	p := f.Processing
	if got, err := p.Chunks(ctx, f.Alice, it.ID, 0, -1); err != nil || len(got) != 0 {
		t.Errorf("Chunks before chunking = %v, %v", got, err)
	}
	var chunks []media.Chunk
	for i := range 7 {
		chunks = append(chunks, media.Chunk{Index: i, Text: "chunk " + string(rune('a'+i)), Start: i * 10, End: i*10 + 7, Section: "S"})
	}
	if err := p.SetChunks(ctx, f.Alice, it.ID, chunks); err != nil {
		t.Fatal(err)
	}
	got, err := p.Chunks(ctx, f.Alice, it.ID, 0, -1)
	if err != nil || !reflect.DeepEqual(got, chunks) {
		t.Errorf("Chunks = %+v, %v\nwant %+v", got, err, chunks)
	}
	if got, _ := p.Chunks(ctx, f.Alice, it.ID, 2, 3); !reflect.DeepEqual(got, chunks[2:5]) {
		t.Errorf("Chunks(2, 3) = %+v", got)
	}
	if got, _ := p.Chunks(ctx, f.Alice, it.ID, 6, 10); !reflect.DeepEqual(got, chunks[6:]) {
		t.Errorf("Chunks(6, 10) = %+v", got)
	}
	if pr, _ := p.Processing(ctx, f.Alice, it.ID); pr.ChunkCount != 7 {
		t.Errorf("ChunkCount = %d, want 7", pr.ChunkCount)
	}
	if err := p.SetChunks(ctx, f.Alice, it.ID, chunks[:2]); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Chunks(ctx, f.Alice, it.ID, 0, -1); len(got) != 2 {
		t.Errorf("after replacing: %d chunks, want 2", len(got))
	}
	if pr, _ := p.Processing(ctx, f.Alice, it.ID); pr.ChunkCount != 2 {
		t.Errorf("ChunkCount after replacing = %d, want 2", pr.ChunkCount)
	}
	if err := p.SetContent(ctx, &media.Content{ItemID: it.ID, UserID: f.Alice, Text: "chunk a chunk b", WordCount: 4}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time there is nothing to delete
		if err := p.DeleteContent(ctx, f.Alice, it.ID); err != nil {
			t.Fatalf("DeleteContent: %v", err)
		}
	}
	if _, err := p.Content(ctx, f.Alice, it.ID); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Content after DeleteContent: %v, want ErrNotFound", err)
	}
	if got, err := p.Chunks(ctx, f.Alice, it.ID, 0, -1); err != nil || len(got) != 0 {
		t.Errorf("Chunks after DeleteContent = %v, %v", got, err)
	}
	if pr, _ := p.Processing(ctx, f.Alice, it.ID); pr.ChunkCount != 0 || pr.WordCount != 0 {
		t.Errorf("after DeleteContent: ChunkCount %d, WordCount %d, want 0", pr.ChunkCount, pr.WordCount)
	}
}

func testProcessingIsolation(t *testing.T, f ProcessingFixture) {
	ctx := context.Background()
	it := create(t, f.Store, item(f.Alice, 4))
	p := f.Processing
	if err := p.SetContent(ctx, &media.Content{ItemID: it.ID, UserID: f.Alice, Text: "secret", WordCount: 1}); err != nil {
		t.Fatal(err)
	}
	bob, id := f.Bob, it.ID
	checks := map[string]error{
		"Reset":         p.Reset(ctx, bob, id, "", base),
		"SetStatus":     p.SetStatus(ctx, bob, id, media.StatusFailed, "x", base),
		"SetStage":      p.SetStage(ctx, bob, id, media.StageState{Stage: media.StageProbe, Status: media.StageDone}),
		"SetContent":    p.SetContent(ctx, &media.Content{ItemID: id, UserID: bob, Text: "mine"}),
		"SetChunks":     p.SetChunks(ctx, bob, id, []media.Chunk{{Text: "x", End: 1}}),
		"Analysis":      p.SetAnalysis(ctx, bob, id, "x", base),
		"SetTranscript": p.SetTranscript(ctx, &media.StoredTranscript{ItemID: id, UserID: bob, Model: "m", Text: "x"}),
		"Delete":        p.DeleteContent(ctx, bob, id),
	}
	_, checks["Transcripts"] = p.Transcripts(ctx, bob, id)
	_, checks["Processing"] = p.Processing(ctx, bob, id)
	_, checks["Content"] = p.Content(ctx, bob, id)
	_, checks["Chunks"] = p.Chunks(ctx, bob, id, 0, -1)
	_, checks["Missing"] = p.Processing(ctx, f.Alice, id+1_000_000)
	for name, err := range checks {
		wantErr(t, name+" by another user", err, media.ErrNotFound)
	}
	if c, err := p.Content(ctx, f.Alice, id); err != nil || c.Text != "secret" {
		t.Errorf("Alice's content after Bob's attempts: %+v, %v", c, err)
	}
	if got, _ := f.Store.ByID(ctx, f.Alice, id); got.Status != media.StatusStored {
		t.Errorf("Alice's item status after Bob's attempts: %s", got.Status)
	}
}

func testChunkTimes(t *testing.T, f ProcessingFixture) {
	ctx := context.Background()
	it := create(t, f.Store, item(f.Alice, 5))
	at := func(d time.Duration) *time.Duration { return &d }
	chunks := []media.Chunk{
		{Index: 0, Text: "hello there", Start: 0, End: 11, StartTime: at(0), EndTime: at(1500 * time.Millisecond)},
		{Index: 1, Text: "general", Start: 12, End: 19, StartTime: at(1500 * time.Millisecond), EndTime: at(2 * time.Hour)},
		{Index: 2, Text: "untimed", Start: 20, End: 27},
	}
	if err := f.Processing.SetChunks(ctx, f.Alice, it.ID, chunks); err != nil {
		t.Fatal(err)
	}
	got, err := f.Processing.Chunks(ctx, f.Alice, it.ID, 0, -1)
	if err != nil || !reflect.DeepEqual(got, chunks) {
		t.Errorf("Chunks = %+v, %v\nwant %+v", got, err, chunks)
	}
}

func testTranscripts(t *testing.T, f ProcessingFixture) {
	ctx := context.Background()
	it := create(t, f.Store, item(f.Alice, 6))
	p := f.Processing
	if got, err := p.Transcripts(ctx, f.Alice, it.ID); err != nil || len(got) != 0 {
		t.Errorf("Transcripts before any = %v, %v", got, err)
	}
	if _, err := p.Transcripts(ctx, f.Alice, it.ID+1_000_000); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Transcripts of a missing item: %v, want ErrNotFound", err)
	}
	tiny := &media.StoredTranscript{ItemID: it.ID, UserID: f.Alice, Model: "tiny", Language: "en", Text: "Hello wörld.",
		Segments: []media.Segment{{Start: 0, End: 900 * time.Millisecond, Text: "Hello"},
			{Start: time.Second, End: 2 * time.Second, Text: "wörld.", Speaker: "S1"}}, CreatedAt: base}
	large := &media.StoredTranscript{ItemID: it.ID, UserID: f.Alice, Model: "large", Text: "Hello, world.",
		CreatedAt: base.Add(time.Minute)}
	for _, tr := range []*media.StoredTranscript{tiny, large} {
		if err := p.SetTranscript(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	got, err := p.Transcripts(ctx, f.Alice, it.ID)
	if err != nil || len(got) != 2 || !reflect.DeepEqual(got[0], *large) || !reflect.DeepEqual(got[1], *tiny) {
		t.Fatalf("Transcripts = %+v, %v\nwant large then tiny", got, err)
	}
	if err := p.SetTranscript(ctx, &media.StoredTranscript{ItemID: it.ID, UserID: f.Alice, Text: "x"}); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("SetTranscript without a model: %v, want ErrInvalid", err)
	}
	// The same model again replaces its transcript.
	again := &media.StoredTranscript{ItemID: it.ID, UserID: f.Alice, Model: "tiny", Text: "Hello world again.",
		CreatedAt: base.Add(2 * time.Minute)}
	if err := p.SetTranscript(ctx, again); err != nil {
		t.Fatal(err)
	}
	got, _ = p.Transcripts(ctx, f.Alice, it.ID)
	if len(got) != 2 || !reflect.DeepEqual(got[0], *again) || got[1].Model != "large" {
		t.Errorf("after replacing tiny: %+v", got)
	}
}
