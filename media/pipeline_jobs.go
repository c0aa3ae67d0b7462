package media

import (
	"context"
	"errors"
	"time"

	"github.com/tldw-go/tldw/quota"
)

// ProcessOptions say how to process an item; they travel with its job. Zero values take the
// defaults (all stages, tldw's chunking defaults, no analysis).
type ProcessOptions struct {
	From       Stage             `json:"from,omitempty"` // first stage to run; "" = StageProbe
	Extract    ExtractOptions    `json:"extract"`
	Chunk      ChunkOptions      `json:"chunk"`
	NoChunking bool              `json:"no_chunking,omitempty"` // perform_chunking=false
	Analyze    bool              `json:"analyze,omitempty"`     // perform_analysis, when a Summarizer exists
	Summarize  SummarizeOptions  `json:"summarize"`
	Transcribe TranscribeChoices `json:"transcribe"`
}

// JobState is where a processing job is.
type JobState string

// The job states.
const (
	JobQueued    JobState = "queued"    // waiting (or snoozed behind the user's other jobs)
	JobRunning   JobState = "running"   // a worker has it
	JobRetrying  JobState = "retrying"  // failed transiently; runs again after a backoff
	JobCompleted JobState = "completed" // done
	JobFailed    JobState = "failed"    // failed for good (permanent error or out of attempts)
	JobCancelled JobState = "cancelled" // cancelled by its owner, or permanently failed at once
)

// Terminal reports whether the job will not run again.
func (s JobState) Terminal() bool {
	return s == JobCompleted || s == JobFailed || s == JobCancelled
}

// Job is one durable processing job of one item.
type Job struct {
	ID          int64
	ItemID      int64
	UserID      int64
	State       JobState
	Attempt     int // attempts so far
	MaxAttempts int
	Error       string // the last attempt's error, or ""
	Options     ProcessOptions
	CreatedAt   time.Time
	AttemptedAt *time.Time // the last attempt's start
	FinishedAt  *time.Time
}

// JobFilter selects jobs for Jobs.List, newest first.
type JobFilter struct {
	UserID int64      // 0: every user's (admins)
	States []JobState // empty: any
	Limit  int        // 1..MaxPerPage; 0 = 50
	Offset int
}

// JobRun is one attempt of a job, as a JobHandler sees it.
type JobRun struct {
	Job
	// Last is set on the job's final attempt: a transient failure now fails the item.
	Last bool
}

// JobHandler runs one attempt of a job. A returned error wrapping a permanent sentinel (see
// Permanent) ends the job at once; any other error is retried with backoff.
type JobHandler func(ctx context.Context, run JobRun) error

// Jobs keeps durable processing jobs. Every method taking a userID touches only that user's
// jobs (another user's job is ErrNotFound). Implementations are safe for concurrent use
// across processes: a job runs on one worker at a time, and a worker that dies mid-job
// leaves it to be run again. mediatest.TestJobs is the conformance suite.
type Jobs interface {
	// CreateItem records it like Store.Create and, in the same transaction, resets its
	// processing (ProcessingStore.Reset) and enqueues its job. Errors as Store.Create.
	CreateItem(ctx context.Context, it *Item, o ProcessOptions) (*Job, error)
	// Enqueue resets the user's item's processing from o.From and enqueues a job for it.
	// ErrNotFound; ErrInvalid for an unknown stage; ErrConflict while another of the item's
	// jobs is not finished.
	Enqueue(ctx context.Context, userID, itemID int64, o ProcessOptions) (*Job, error)
	// Get returns a job; userID 0 reads any user's (admins). ErrNotFound.
	Get(ctx context.Context, userID, id int64) (*Job, error)
	// List returns jobs matching f, newest first.
	List(ctx context.Context, f JobFilter) ([]Job, error)
	// Cancel stops a job (a running one is told to stop) and marks its item cancelled.
	// ErrNotFound; a finished job is returned unchanged.
	Cancel(ctx context.Context, userID, id int64) (*Job, error)
	// Retry runs a failed or cancelled job again from the stage that did not finish (a
	// queued one is made available at once). ErrNotFound; ErrConflict for a running or
	// completed job.
	Retry(ctx context.Context, userID, id int64) (*Job, error)
}

// ErrCancelled marks processing stopped because its job was cancelled.
var ErrCancelled = errors.New("media: processing cancelled")

// Permanent reports whether err is one retrying cannot cure: unsupported, invalid (corrupt,
// encrypted), too large, over a quota, the item gone, or cancelled.
func Permanent(err error) bool {
	for _, p := range []error{ErrUnsupported, ErrInvalid, ErrTooLarge, ErrQuotaExceeded,
		quota.ErrExceeded, ErrNotFound, ErrCancelled} {
		if errors.Is(err, p) {
			return true
		}
	}
	return false
}
