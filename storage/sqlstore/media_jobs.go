package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"github.com/tldw-go/tldw/media"
)

// Defaults of JobsOptions.
const (
	DefaultJobTimeout    = 30 * time.Minute
	DefaultJobAttempts   = 5
	DefaultPerUserJobs   = 2
	DefaultJobSnooze     = 500 * time.Millisecond
	defaultFetchCooldown = 5 * time.Millisecond
	jobRetention         = 7 * 24 * time.Hour
	mediaQueue           = "tldw_media"
)

// JobsOptions configures Jobs.
type JobsOptions struct {
	// Handler runs one attempt of a job (media.Pipeline.Handle). Nil makes an insert-only
	// Jobs: it enqueues, lists and cancels, and Start runs nothing.
	Handler media.JobHandler
	// Workers bounds the jobs this process runs at once (MEDIA_WORKERS); 0 = the number of
	// CPUs.
	Workers int
	// PerUser bounds one user's running jobs across all processes on the database
	// (MEDIA_MAX_ACTIVE_JOBS_PER_USER); 0 = 2.
	PerUser int
	// JobTimeout cancels an attempt running longer; 0 = DefaultJobTimeout.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before it is taken to belong to a dead
	// worker (kill -9, a lost host) and run again; it must exceed JobTimeout. 0 =
	// JobTimeout plus a tenth of it, at least 5 s more (River cancels an attempt at its
	// timeout, so only a dead worker's job is still running then).
	RescueAfter time.Duration
	// MaxAttempts bounds attempts of a transiently failing job; 0 = DefaultJobAttempts.
	MaxAttempts int
	// Snooze is how long a job over its user's limit waits before trying again; the user's
	// other queued jobs wait as long, so other users' jobs go first. 0 = DefaultJobSnooze.
	Snooze time.Duration
	// FetchPollInterval is how often idle workers look for jobs besides being notified of
	// new ones; 0 = Snooze.
	FetchPollInterval time.Duration
	// Logger receives River's and the workers' logs; nil discards them.
	Logger *slog.Logger
}

// Jobs is the SQL media.Jobs on River (riverqueue/river): riversqlite on SQLite,
// riverdatabasesql on PostgreSQL (with LISTEN/NOTIFY through the pgx pool for a DB from
// Open, polling for a DB from New). A job is a River job of kind tldw_media_process in
// queue tldw_media, linked to its item by media_jobs; it is inserted in the transaction that
// creates or resets the item. River locks each job for one worker (FOR UPDATE SKIP LOCKED
// on PostgreSQL), retries failures with its exponential backoff, cancels at once on a
// permanent error and rescues jobs left running by a dead process after RescueAfter.
//
// The per-user limit is checked by the worker against the database (River's per-key
// concurrency limits are in River Pro only): a job first claims one of its user's slots
// (claimSlot); one that finds them all held by running jobs snoozes for Snooze (not
// counting as an attempt) and pushes the user's other queued jobs back as far, so one
// user's backlog costs other users at most one fetch.
// Safe for concurrent use.
type Jobs struct {
	db     *DB
	o      JobsOptions
	client *river.Client[*sql.Tx]
	proc   *Processing
	log    *slog.Logger
	// stopping is set when Stop cancels running jobs.
	stopping atomic.Bool
}

var _ media.Jobs = (*Jobs)(nil)

// processArgs are a processing job's River arguments.
type processArgs struct {
	ItemID  int64                `json:"item_id"`
	UserID  int64                `json:"user_id"`
	Options media.ProcessOptions `json:"options"`
}

// Kind implements river.JobArgs.
func (processArgs) Kind() string { return "tldw_media_process" }

// riverDriver returns the River driver for db's dialect.
func (db *DB) riverDriver() (riverdriver.Driver[*sql.Tx], error) {
	switch {
	case db.dialect == dialectSQLite:
		return riversqlite.New(db.bun.DB), nil
	case db.dialect == dialectPostgres && db.pool != nil:
		return riverdatabasesql.NewWithPgxListener(db.bun.DB, db.pool), nil
	case db.dialect == dialectPostgres:
		return riverdatabasesql.New(db.bun.DB), nil
	}
	return nil, fmt.Errorf("%w: no job queue for dialect %q", ErrInvalid, db.dialect)
}

// Jobs returns the processing jobs on db. ErrInvalid for bad options or dialect.
func (db *DB) Jobs(o JobsOptions) (*Jobs, error) {
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.PerUser <= 0 {
		o.PerUser = DefaultPerUserJobs
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = DefaultJobTimeout
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = o.JobTimeout + max(o.JobTimeout/10, 5*time.Second)
	}
	if o.RescueAfter <= o.JobTimeout {
		return nil, fmt.Errorf("%w: job rescue (%v) must come after the job timeout (%v)", ErrInvalid, o.RescueAfter, o.JobTimeout)
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultJobAttempts
	}
	if o.Snooze <= 0 {
		o.Snooze = DefaultJobSnooze
	}
	if o.FetchPollInterval <= 0 {
		o.FetchPollInterval = o.Snooze
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	drv, err := db.riverDriver()
	if err != nil {
		return nil, err
	}
	j := &Jobs{db: db, o: o, proc: db.Processing(), log: logger}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &processWorker{j: j}); err != nil {
		return nil, fmt.Errorf("sqlstore: jobs: %w", err)
	}
	cfg := &river.Config{
		Workers:                     workers,
		JobTimeout:                  o.JobTimeout,
		RescueStuckJobsAfter:        o.RescueAfter,
		MaxAttempts:                 o.MaxAttempts,
		FetchPollInterval:           o.FetchPollInterval,
		FetchCooldown:               defaultFetchCooldown,
		CompletedJobRetentionPeriod: jobRetention,
		CancelledJobRetentionPeriod: jobRetention,
		DiscardedJobRetentionPeriod: jobRetention,
		Logger:                      slog.New(quiet{logger.Handler()}),
	}
	if o.Handler != nil {
		cfg.Queues = map[string]river.QueueConfig{mediaQueue: {MaxWorkers: o.Workers}}
	}
	client, err := river.NewClient(drv, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: jobs: %v", ErrInvalid, err)
	}
	j.client = client
	return j, nil
}

// Start starts the workers (with a Handler; otherwise it does nothing). Jobs keep running
// until Stop.
func (j *Jobs) Start(ctx context.Context) error {
	if j.o.Handler == nil {
		return nil
	}
	if err := j.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("sqlstore: start job workers: %w", err)
	}
	return nil
}

// Stop lets running jobs finish until ctx is done, then cancels them (they are retried
// later, by this or another process) and waits for the workers to exit.
func (j *Jobs) Stop(ctx context.Context) error {
	if j.o.Handler == nil {
		return nil
	}
	err := j.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		j.stopping.Store(true)
		hard, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = j.client.StopAndCancel(hard)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("sqlstore: stop job workers: %w", err)
	}
	return nil
}

// processWorker runs processing jobs.
type processWorker struct {
	river.WorkerDefaults[processArgs]
	j *Jobs
}

// Work checks the user's limit and runs the handler, translating its error for River.
func (w *processWorker) Work(ctx context.Context, job *river.Job[processArgs]) error {
	j := w.j
	ok, err := j.claimSlot(ctx, job.Args.UserID, job.ID)
	if err != nil {
		return err
	}
	if !ok {
		j.deferUser(ctx, job.Args.UserID)
		return river.JobSnooze(j.o.Snooze)
	}
	defer j.releaseSlot(ctx, job.ID)
	// The pipeline sees media.ErrCancelled as the cause when the owner cancels the job.
	run, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() {
		cause := context.Cause(ctx)
		if errors.Is(cause, river.ErrJobCancelledRemotely) {
			cause = media.ErrCancelled
		}
		cancel(cause)
	})
	defer stop()
	jb := toJob(job.JobRow, job.Args, false)
	err = j.o.Handler(run, media.JobRun{Job: *jb, Last: job.Attempt >= job.MaxAttempts})
	switch {
	case err == nil:
		return nil
	case media.Permanent(err), errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
		return river.JobCancel(err)
	case j.stopping.Load() && ctx.Err() != nil:
		return river.JobSnooze(0) // cut off by Stop: run again at once, here or elsewhere, no attempt used
	}
	return err
}

// slotLockKey prefixes the per-user PostgreSQL advisory lock that serialises slot claims.
const slotLockKey = int64(0x746c64776a6f6273) // "tldwjobs"

// claimSlot takes one of the user's PerUser slots for the job, unless other running jobs
// of the user hold them all. Claims of one user are serialised (an advisory lock on
// PostgreSQL, the single writer on SQLite), so the limit holds across processes. A slot is
// held while its job is running: a job that ends or is rescued no longer counts.
func (j *Jobs) claimSlot(ctx context.Context, userID, jobID int64) (bool, error) {
	var ok bool
	err := j.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if j.db.dialect == dialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, slotLockKey^userID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE media_jobs SET slot_at = ? WHERE job_id = ? AND (
			SELECT count(*) FROM media_jobs m JOIN river_job r ON r.id = m.job_id
			WHERE m.user_id = ? AND m.slot_at IS NOT NULL AND r.state = 'running' AND m.job_id <> ?) < ?`,
			j.db.timeArg(utc(time.Now())), jobID, userID, jobID, j.o.PerUser)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 1 {
			ok = n == 1
			return err
		}
		// Not claimed: the slots are taken, or the item (and with it the link) is gone, and
		// then the job needs no slot: it runs to find that out and ends.
		var links int
		err = tx.NewRaw(`SELECT count(*) FROM media_jobs WHERE job_id = ?`, jobID).Scan(ctx, &links)
		ok = links == 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: claim a job slot: %v", err)
	}
	return ok, nil
}

// releaseSlot gives the job's slot back.
func (j *Jobs) releaseSlot(ctx context.Context, jobID int64) {
	if _, err := j.db.bun.ExecContext(context.WithoutCancel(ctx), `UPDATE media_jobs SET slot_at = NULL WHERE job_id = ?`, jobID); err != nil {
		j.log.WarnContext(ctx, "media jobs: release a job slot", "job", jobID, "error", err)
	}
}

// deferUser pushes the user's available jobs back by Snooze, so that the next fetch finds
// other users' jobs first. Failing is harmless (the jobs snooze one by one instead).
func (j *Jobs) deferUser(ctx context.Context, userID int64) {
	until := time.Now().Add(j.o.Snooze)
	_, err := j.db.bun.ExecContext(ctx, `UPDATE river_job SET scheduled_at = ?
		WHERE state = 'available' AND scheduled_at < ? AND queue = ?
		AND id IN (SELECT job_id FROM media_jobs WHERE user_id = ?)`,
		j.riverTime(until), j.riverTime(until), mediaQueue, userID)
	if err != nil {
		j.log.WarnContext(ctx, "media jobs: defer a user's queued jobs", "user", userID, "error", err)
	}
}

// riverTime is t as River stores it: text of a fixed layout on SQLite.
func (j *Jobs) riverTime(t time.Time) any {
	if j.db.dialect == dialectSQLite {
		return t.UTC().Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
	}
	return t.UTC()
}

// CreateItem implements media.Jobs.
func (j *Jobs) CreateItem(ctx context.Context, it *media.Item, o media.ProcessOptions) (*media.Job, error) {
	if _, err := media.StagesFrom(o.From); err != nil {
		return nil, err
	}
	var job *media.Job
	err := j.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ctx = context.WithValue(ctx, txKey{j.db}, tx)
		if err := j.db.Media().Create(ctx, it); err != nil {
			return err
		}
		var err error
		job, err = j.enqueue(ctx, tx, it.UserID, it.ID, o, it.CreatedAt)
		return err
	})
	if err != nil {
		return nil, mediaErr("create media item", err)
	}
	it.Status = media.StatusQueued
	return job, nil
}

// enqueue resets the item's processing and inserts its job, in tx.
func (j *Jobs) enqueue(ctx context.Context, tx bun.Tx, userID, itemID int64, o media.ProcessOptions, at time.Time) (*media.Job, error) {
	if err := j.proc.reset(ctx, tx, userID, itemID, o.From, at); err != nil {
		return nil, err
	}
	res, err := j.client.InsertTx(ctx, tx.Tx, processArgs{ItemID: itemID, UserID: userID, Options: o},
		&river.InsertOpts{Queue: mediaQueue, MaxAttempts: j.o.MaxAttempts})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: enqueue processing: %v", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO media_jobs (job_id, media_id, user_id, created_at)
		VALUES (?, ?, ?, ?)`, res.Job.ID, itemID, userID, j.db.timeArg(orNow(at))); err != nil {
		return nil, err
	}
	return toJob(res.Job, processArgs{ItemID: itemID, UserID: userID, Options: o}, false), nil
}

// Enqueue implements media.Jobs.
func (j *Jobs) Enqueue(ctx context.Context, userID, itemID int64, o media.ProcessOptions) (*media.Job, error) {
	if _, err := media.StagesFrom(o.From); err != nil {
		return nil, err
	}
	var job *media.Job
	err := j.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var busy int
		err := tx.NewRaw(`SELECT count(*) FROM media_jobs m JOIN river_job r ON r.id = m.job_id
			WHERE m.media_id = ? AND m.user_id = ? AND r.state NOT IN ('completed', 'cancelled', 'discarded')`,
			itemID, userID).Scan(ctx, &busy)
		if err != nil {
			return err
		}
		if busy > 0 {
			return fmt.Errorf("%w: the item is already being processed", media.ErrConflict)
		}
		job, err = j.enqueue(ctx, tx, userID, itemID, o, time.Now())
		return err
	})
	if err != nil {
		return nil, mediaErr("enqueue processing", err)
	}
	return job, nil
}

// link is a media_jobs row.
type link struct {
	JobID           int64 `bun:"job_id"`
	CancelRequested bool  `bun:"cancel_requested"`
}

// linkOf returns the job's link, checking the owner (userID 0: any). ErrNotFound.
func (j *Jobs) linkOf(ctx context.Context, userID, id int64) (link, error) {
	q, args := `SELECT job_id, cancel_requested FROM media_jobs WHERE job_id = ?`, []any{id}
	if userID != 0 {
		q, args = q+` AND user_id = ?`, append(args, userID)
	}
	var l link
	if err := j.db.bun.NewRaw(q, args...).Scan(ctx, &l); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return l, fmt.Errorf("%w: job %d", media.ErrNotFound, id)
		}
		return l, mediaErr("get job", err)
	}
	return l, nil
}

// get reads a job's River row.
func (j *Jobs) get(ctx context.Context, l link) (*media.Job, error) {
	row, err := j.client.JobGet(ctx, l.JobID)
	if errors.Is(err, river.ErrNotFound) {
		return nil, fmt.Errorf("%w: job %d", media.ErrNotFound, l.JobID)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get job: %v", err)
	}
	return rowJob(row, l.CancelRequested)
}

func rowJob(row *rivertype.JobRow, cancelled bool) (*media.Job, error) {
	var args processArgs
	if err := json.Unmarshal(row.EncodedArgs, &args); err != nil {
		return nil, fmt.Errorf("sqlstore: decode job %d: %w", row.ID, err)
	}
	return toJob(row, args, cancelled), nil
}

// toJob converts a River row; cancelled says the owner asked for the cancellation.
func toJob(row *rivertype.JobRow, args processArgs, cancelled bool) *media.Job {
	job := &media.Job{ID: row.ID, ItemID: args.ItemID, UserID: args.UserID, Attempt: row.Attempt,
		MaxAttempts: row.MaxAttempts, Options: args.Options, CreatedAt: row.CreatedAt.UTC(),
		AttemptedAt: timePtr(row.AttemptedAt), FinishedAt: timePtr(row.FinalizedAt)}
	if n := len(row.Errors); n > 0 {
		job.Error = strings.ReplaceAll(row.Errors[n-1].Error, "media: ", "")
	}
	switch row.State {
	case rivertype.JobStateRunning:
		job.State = media.JobRunning
	case rivertype.JobStateRetryable:
		job.State = media.JobRetrying
	case rivertype.JobStateCompleted:
		job.State = media.JobCompleted
	case rivertype.JobStateDiscarded:
		job.State = media.JobFailed
	case rivertype.JobStateCancelled:
		job.State = media.JobFailed
		if cancelled {
			job.State = media.JobCancelled
		}
	default: // available, scheduled (snoozed), pending
		job.State = media.JobQueued
	}
	return job
}

// riverStates maps job states to River's.
func riverStates(s media.JobState) []string {
	switch s {
	case media.JobQueued:
		return []string{"available", "scheduled", "pending"}
	case media.JobRunning:
		return []string{"running"}
	case media.JobRetrying:
		return []string{"retryable"}
	case media.JobCompleted:
		return []string{"completed"}
	case media.JobFailed:
		return []string{"discarded", "cancelled"} // cancelled ones are refined below
	case media.JobCancelled:
		return []string{"cancelled"}
	}
	return nil
}

// Get implements media.Jobs.
func (j *Jobs) Get(ctx context.Context, userID, id int64) (*media.Job, error) {
	l, err := j.linkOf(ctx, userID, id)
	if err != nil {
		return nil, err
	}
	return j.get(ctx, l)
}

// List implements media.Jobs.
func (j *Jobs) List(ctx context.Context, f media.JobFilter) ([]media.Job, error) {
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 0 || f.Limit > media.MaxPerPage || f.Offset < 0 {
		return nil, fmt.Errorf("%w: limit must be 1..%d and offset at least 0", media.ErrInvalid, media.MaxPerPage)
	}
	q := `SELECT m.job_id, m.cancel_requested FROM media_jobs m JOIN river_job r ON r.id = m.job_id WHERE 1 = 1`
	var args []any
	if f.UserID != 0 {
		q, args = q+` AND m.user_id = ?`, append(args, f.UserID)
	}
	var states []string
	for _, s := range f.States {
		rs := riverStates(s)
		if rs == nil {
			return nil, fmt.Errorf("%w: unknown job state %q", media.ErrInvalid, s)
		}
		states = append(states, rs...)
	}
	if len(states) > 0 {
		q, args = q+` AND r.state IN (?)`, append(args, bun.List(states))
	}
	q += ` ORDER BY m.job_id DESC LIMIT ? OFFSET ?`
	args = append(args, f.Limit, f.Offset)
	var links []link
	if err := j.db.bun.NewRaw(q, args...).Scan(ctx, &links); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, mediaErr("list jobs", err)
	}
	out := make([]media.Job, 0, len(links))
	for _, l := range links {
		job, err := j.get(ctx, l)
		if errors.Is(err, media.ErrNotFound) {
			continue // removed by River's retention meanwhile
		}
		if err != nil {
			return nil, err
		}
		if len(f.States) > 0 && !containsState(f.States, job.State) {
			continue
		}
		out = append(out, *job)
	}
	return out, nil
}

func containsState(ss []media.JobState, s media.JobState) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Cancel implements media.Jobs.
func (j *Jobs) Cancel(ctx context.Context, userID, id int64) (*media.Job, error) {
	l, err := j.linkOf(ctx, userID, id)
	if err != nil {
		return nil, err
	}
	job, err := j.get(ctx, l)
	if err != nil || job.State.Terminal() {
		return job, err
	}
	if _, err := j.db.bun.ExecContext(ctx, `UPDATE media_jobs SET cancel_requested = TRUE WHERE job_id = ?`, id); err != nil {
		return nil, mediaErr("cancel job", err)
	}
	row, err := j.client.JobCancel(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: cancel job: %v", err)
	}
	if row.State == rivertype.JobStateCancelled {
		// It was not running, so no worker records the cancellation: do it here.
		if err := j.proc.SetStatus(ctx, job.UserID, job.ItemID, media.StatusCancelled, "cancelled", time.Now()); err != nil && !errors.Is(err, media.ErrNotFound) {
			return nil, err
		}
	}
	return rowJob(row, true)
}

// Retry implements media.Jobs.
func (j *Jobs) Retry(ctx context.Context, userID, id int64) (*media.Job, error) {
	l, err := j.linkOf(ctx, userID, id)
	if err != nil {
		return nil, err
	}
	job, err := j.get(ctx, l)
	if err != nil {
		return nil, err
	}
	if job.State == media.JobRunning || job.State == media.JobCompleted {
		return nil, fmt.Errorf("%w: job %d is %s", media.ErrConflict, id, job.State)
	}
	err = j.db.runInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE media_jobs SET cancel_requested = FALSE WHERE job_id = ?`, id); err != nil {
			return err
		}
		if err := j.proc.setStatus(ctx, tx, job.UserID, job.ItemID, media.StatusQueued, "", time.Now()); err != nil {
			return err
		}
		_, err := j.client.JobRetryTx(ctx, tx.Tx, id)
		return err
	})
	if err != nil {
		return nil, mediaErr("retry job", err)
	}
	return j.Get(ctx, userID, id)
}
