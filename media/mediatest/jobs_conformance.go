package mediatest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

// JobsFixture is what TestJobs needs: the item and processing stores the jobs share, two
// fresh users, and Open, which returns Jobs whose workers run h (nil: enqueue only) with
// at least 3 workers and a per-user limit of 2, stopped when the test ends.
type JobsFixture struct {
	Store      media.Store
	Processing media.ProcessingStore
	Alice, Bob int64
	Open       func(t *testing.T, h media.JobHandler) media.Jobs
}

// TestJobs is the media.Jobs conformance suite: enqueueing with the item, reads and user
// isolation, completion, permanent failures without retries, transient failures retried,
// cancellation of queued and running jobs, retry, reprocessing and the per-user limit.
// open is called once per subtest.
func TestJobs(t *testing.T, open func(t *testing.T) JobsFixture) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f JobsFixture)
	}{
		{"CreateItemEnqueues", testCreateItemEnqueues},
		{"Completes", testJobCompletes},
		{"PermanentFailsAtOnce", testJobPermanent},
		{"TransientRetries", testJobTransient},
		{"Cancel", testJobCancel},
		{"RetryAndEnqueue", testJobRetryAndEnqueue},
		{"PerUserLimit", testJobPerUserLimit},
		{"DeletedItem", testJobDeletedItem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// Eventually polls cond every few milliseconds until it holds, failing the test after 60 s.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// jobItem creates an item of user u with its job.
func jobItem(t *testing.T, jobs media.Jobs, u int64, n int, o media.ProcessOptions) (*media.Item, *media.Job) {
	t.Helper()
	it := item(u, n)
	job, err := jobs.CreateItem(context.Background(), it, o)
	if err != nil {
		t.Fatalf("CreateItem: %v", err)
	}
	return it, job
}

// waitJob waits until the user's job is in state want.
func waitJob(t *testing.T, jobs media.Jobs, u, id int64, want media.JobState) *media.Job {
	t.Helper()
	var job *media.Job
	Eventually(t, fmt.Sprintf("job %d to be %s", id, want), func() bool {
		var err error
		job, err = jobs.Get(context.Background(), u, id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		return job.State == want
	})
	return job
}

func testCreateItemEnqueues(t *testing.T, f JobsFixture) {
	ctx := context.Background()
	jobs := f.Open(t, nil)
	o := media.ProcessOptions{Chunk: media.ChunkOptions{Method: media.ChunkSentences, Size: 3}}
	it, job := jobItem(t, jobs, f.Alice, 1, o)
	if it.ID <= 0 || it.Status != media.StatusQueued || job.ID <= 0 || job.ItemID != it.ID || job.UserID != f.Alice ||
		job.State != media.JobQueued || job.Options.Chunk != o.Chunk {
		t.Fatalf("CreateItem: item %+v, job %+v", it, job)
	}
	if got, err := f.Store.ByID(ctx, f.Alice, it.ID); err != nil || got.Status != media.StatusQueued {
		t.Errorf("stored item = %+v, %v; want queued", got, err)
	}
	pr, err := f.Processing.Processing(ctx, f.Alice, it.ID)
	if err != nil || pr.Status != media.StatusQueued || pr.Stage(media.StageProbe).Status != media.StagePending {
		t.Errorf("processing = %+v, %v", pr, err)
	}
	got, err := jobs.Get(ctx, f.Alice, job.ID)
	if err != nil || got.ItemID != it.ID || got.Options.Chunk != o.Chunk || got.State != media.JobQueued {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if _, err := jobs.Get(ctx, f.Bob, job.ID); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Get by another user: %v, want ErrNotFound", err)
	}
	if _, err := jobs.Get(ctx, 0, job.ID); err != nil {
		t.Errorf("Get by an admin (user 0): %v", err)
	}
	if _, err := jobs.Cancel(ctx, f.Bob, job.ID); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Cancel by another user: %v, want ErrNotFound", err)
	}
	if _, err := jobs.Enqueue(ctx, f.Alice, it.ID, media.ProcessOptions{}); !errors.Is(err, media.ErrConflict) {
		t.Errorf("Enqueue while the item's job is queued: %v, want ErrConflict", err)
	}
	_, job2 := jobItem(t, jobs, f.Alice, 2, media.ProcessOptions{})
	_, bobs := jobItem(t, jobs, f.Bob, 3, media.ProcessOptions{})
	list, err := jobs.List(ctx, media.JobFilter{UserID: f.Alice})
	if err != nil || len(list) != 2 || list[0].ID != job2.ID || list[1].ID != job.ID {
		t.Errorf("List(Alice) = %+v, %v; want her two jobs, newest first", list, err)
	}
	if list, _ := jobs.List(ctx, media.JobFilter{UserID: f.Alice, States: []media.JobState{media.JobCompleted}}); len(list) != 0 {
		t.Errorf("List(completed) = %+v, want none", list)
	}
	all, err := jobs.List(ctx, media.JobFilter{Limit: 100})
	found := 0
	for _, j := range all {
		if j.ID == job.ID || j.ID == job2.ID || j.ID == bobs.ID {
			found++
		}
	}
	if err != nil || found != 3 {
		t.Errorf("List(all users) found %d of 3 jobs, %v", found, err)
	}
	// A failed create leaves no job behind.
	dup := item(f.Alice, 1)
	if _, err := jobs.CreateItem(ctx, dup, media.ProcessOptions{}); !errors.Is(err, media.ErrConflict) {
		t.Errorf("CreateItem of a duplicate: %v, want ErrConflict", err)
	}
	if list, _ := jobs.List(ctx, media.JobFilter{UserID: f.Alice}); len(list) != 2 {
		t.Errorf("after a failed create: %d jobs, want 2", len(list))
	}
	if _, err := jobs.CreateItem(ctx, item(f.Alice, 9), media.ProcessOptions{From: "bogus"}); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("CreateItem from an unknown stage: %v, want ErrInvalid", err)
	}
}

// recorder is a JobHandler that records attempts and behaves as fn says.
type recorder struct {
	mu   sync.Mutex
	runs []media.JobRun
	fn   func(ctx context.Context, r media.JobRun) error
}

func (r *recorder) handle(ctx context.Context, run media.JobRun) error {
	r.mu.Lock()
	r.runs = append(r.runs, run)
	r.mu.Unlock()
	if r.fn == nil {
		return nil
	}
	return r.fn(ctx, run)
}

func (r *recorder) count(itemID int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, run := range r.runs {
		if run.ItemID == itemID {
			n++
		}
	}
	return n
}

func testJobCompletes(t *testing.T, f JobsFixture) {
	rec := &recorder{}
	jobs := f.Open(t, rec.handle)
	o := media.ProcessOptions{Analyze: true}
	it, job := jobItem(t, jobs, f.Alice, 1, o)
	done := waitJob(t, jobs, f.Alice, job.ID, media.JobCompleted)
	if done.Attempt != 1 || done.FinishedAt == nil || done.AttemptedAt == nil || done.Error != "" {
		t.Errorf("completed job = %+v", done)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.runs) != 1 || rec.runs[0].ItemID != it.ID || rec.runs[0].UserID != f.Alice ||
		!rec.runs[0].Options.Analyze || rec.runs[0].Attempt != 1 || rec.runs[0].ID != job.ID {
		t.Errorf("handler runs = %+v, want one for the item", rec.runs)
	}
}

func testJobPermanent(t *testing.T, f JobsFixture) {
	rec := &recorder{fn: func(context.Context, media.JobRun) error {
		return fmt.Errorf("extract: %w: encrypted PDF", media.ErrInvalid)
	}}
	jobs := f.Open(t, rec.handle)
	it, job := jobItem(t, jobs, f.Alice, 1, media.ProcessOptions{})
	got := waitJob(t, jobs, f.Alice, job.ID, media.JobFailed)
	if got.Attempt != 1 || !strings.Contains(got.Error, "encrypted PDF") {
		t.Errorf("failed job = %+v, want one attempt and the message", got)
	}
	if n := rec.count(it.ID); n != 1 {
		t.Errorf("handler ran %d times, want 1 (no retries)", n)
	}
}

func testJobTransient(t *testing.T, f JobsFixture) {
	rec := &recorder{}
	rec.fn = func(_ context.Context, r media.JobRun) error {
		if r.Attempt == 1 {
			return errors.New("connection reset by peer")
		}
		return nil
	}
	jobs := f.Open(t, rec.handle)
	it, job := jobItem(t, jobs, f.Alice, 1, media.ProcessOptions{})
	got := waitJob(t, jobs, f.Alice, job.ID, media.JobCompleted)
	if got.Attempt != 2 || got.Error != "connection reset by peer" {
		t.Errorf("job = %+v, want completed on attempt 2 with the first attempt's error", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.runs) != 2 || rec.runs[0].Last || rec.runs[1].Attempt != 2 || rec.runs[0].ItemID != it.ID {
		t.Errorf("runs = %+v", rec.runs)
	}
}

func testJobCancel(t *testing.T, f JobsFixture) {
	ctx := context.Background()
	// A queued job, with no workers.
	queued := f.Open(t, nil)
	it, job := jobItem(t, queued, f.Alice, 1, media.ProcessOptions{})
	got, err := queued.Cancel(ctx, f.Alice, job.ID)
	if err != nil || got.State != media.JobCancelled {
		t.Fatalf("Cancel(queued) = %+v, %v", got, err)
	}
	if it2, _ := f.Store.ByID(ctx, f.Alice, it.ID); it2.Status != media.StatusCancelled {
		t.Errorf("item status after cancelling its queued job: %s", it2.Status)
	}
	if again, err := queued.Cancel(ctx, f.Alice, job.ID); err != nil || again.State != media.JobCancelled {
		t.Errorf("Cancel again = %+v, %v", again, err)
	}
	// A running job: its context ends with media.ErrCancelled.
	started := make(chan struct{}, 1)
	causes := make(chan error, 1)
	rec := &recorder{fn: func(ctx context.Context, _ media.JobRun) error {
		started <- struct{}{}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	}}
	jobs := f.Open(t, rec.handle)
	_, job = jobItem(t, jobs, f.Bob, 2, media.ProcessOptions{})
	<-started
	if _, err := jobs.Cancel(ctx, f.Bob, job.ID); err != nil {
		t.Fatal(err)
	}
	if cause := <-causes; !errors.Is(cause, media.ErrCancelled) {
		t.Errorf("running job's context cause = %v, want media.ErrCancelled", cause)
	}
	waitJob(t, jobs, f.Bob, job.ID, media.JobCancelled)
}

func testJobRetryAndEnqueue(t *testing.T, f JobsFixture) {
	ctx := context.Background()
	var fail sync.Map // item id → bool
	rec := &recorder{fn: func(_ context.Context, r media.JobRun) error {
		if v, _ := fail.Load(r.ItemID); v == true {
			return fmt.Errorf("%w: nope", media.ErrUnsupported)
		}
		return nil
	}}
	jobs := f.Open(t, rec.handle)
	it := item(f.Alice, 1)
	// Fail the first run for good, then retry it.
	if err := f.Store.Create(ctx, it); err != nil {
		t.Fatal(err)
	}
	fail.Store(it.ID, true)
	job, err := jobs.Enqueue(ctx, f.Alice, it.ID, media.ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, jobs, f.Alice, job.ID, media.JobFailed)
	fail.Store(it.ID, false)
	if _, err := jobs.Retry(ctx, f.Bob, job.ID); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Retry by another user: %v, want ErrNotFound", err)
	}
	if _, err := jobs.Retry(ctx, f.Alice, job.ID); err != nil {
		t.Fatal(err)
	}
	waitJob(t, jobs, f.Alice, job.ID, media.JobCompleted)
	if n := rec.count(it.ID); n != 2 {
		t.Errorf("handler ran %d times, want 2", n)
	}
	if _, err := jobs.Retry(ctx, f.Alice, job.ID); !errors.Is(err, media.ErrConflict) {
		t.Errorf("Retry of a completed job: %v, want ErrConflict", err)
	}
	// Reprocess from chunk.
	re, err := jobs.Enqueue(ctx, f.Alice, it.ID, media.ProcessOptions{From: media.StageChunk})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, jobs, f.Alice, re.ID, media.JobCompleted)
	rec.mu.Lock()
	last := rec.runs[len(rec.runs)-1]
	rec.mu.Unlock()
	if last.Options.From != media.StageChunk || last.ItemID != it.ID {
		t.Errorf("reprocess run = %+v", last)
	}
	for name, err := range map[string]error{
		"another user's item": errOnly(jobs.Enqueue(ctx, f.Bob, it.ID, media.ProcessOptions{})),
		"a missing item":      errOnly(jobs.Enqueue(ctx, f.Alice, it.ID+1_000_000, media.ProcessOptions{})),
	} {
		wantErr(t, "Enqueue for "+name, err, media.ErrNotFound)
	}
	if _, err := jobs.Enqueue(ctx, f.Alice, it.ID, media.ProcessOptions{From: "bogus"}); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("Enqueue from an unknown stage: %v, want ErrInvalid", err)
	}
}

func errOnly(_ *media.Job, err error) error { return err }

func testJobPerUserLimit(t *testing.T, f JobsFixture) {
	var (
		mu      sync.Mutex
		running = map[int64]int{} // user → running now
		most    = map[int64]int{} // user → most at once
	)
	release := make(chan struct{})
	rec := &recorder{fn: func(ctx context.Context, r media.JobRun) error {
		mu.Lock()
		running[r.UserID]++
		most[r.UserID] = max(most[r.UserID], running[r.UserID])
		mu.Unlock()
		defer func() { mu.Lock(); running[r.UserID]--; mu.Unlock() }()
		if r.UserID == f.Bob {
			return nil
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	jobs := f.Open(t, rec.handle)
	var alice []*media.Job
	for i := range 6 {
		_, j := jobItem(t, jobs, f.Alice, i+1, media.ProcessOptions{})
		alice = append(alice, j)
	}
	Eventually(t, "two of Alice's jobs to run", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return running[f.Alice] == 2
	})
	_, bob := jobItem(t, jobs, f.Bob, 100, media.ProcessOptions{})
	waitJob(t, jobs, f.Bob, bob.ID, media.JobCompleted) // while Alice's two still hold their slots
	mu.Lock()
	if running[f.Alice] != 2 || most[f.Alice] != 2 {
		t.Errorf("Alice: %d running, at most %d at once; want 2 and 2", running[f.Alice], most[f.Alice])
	}
	mu.Unlock()
	close(release)
	for _, j := range alice {
		waitJob(t, jobs, f.Alice, j.ID, media.JobCompleted)
	}
	mu.Lock()
	defer mu.Unlock()
	if most[f.Alice] > 2 {
		t.Errorf("Alice had %d jobs running at once, want at most 2", most[f.Alice])
	}
}

// testJobDeletedItem: a job whose item was deleted still runs once (and ends), rather
// than waiting for a slot forever.
func testJobDeletedItem(t *testing.T, f JobsFixture) {
	ctx := context.Background()
	it, _ := jobItem(t, f.Open(t, nil), f.Alice, 1, media.ProcessOptions{})
	if err := f.Store.Delete(ctx, f.Alice, it.ID); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{fn: func(context.Context, media.JobRun) error {
		return fmt.Errorf("%w: media item", media.ErrNotFound)
	}}
	jobs := f.Open(t, rec.handle)
	Eventually(t, "the deleted item's job to run", func() bool { return rec.count(it.ID) == 1 })
	if list, err := jobs.List(ctx, media.JobFilter{UserID: f.Alice}); err != nil || len(list) != 0 {
		t.Errorf("jobs after the item was deleted = %+v, %v; want none", list, err)
	}
}
