package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/media"
)

const mediaUsage = `usage:
  tldwd media jobs [--user NAME|ID] [--state queued|running|retrying|completed|failed|cancelled] [--limit N] [--json]
  tldwd media cancel JOB [--json]
  tldwd media retry JOB [--wait] [--json]
  tldwd media reprocess --id N [--chunk-method M] [--chunk-size N] [--chunk-overlap N] [--ocr-mode fallback|always|off] [--wait] [--json]`

// cliAdmin is the actor of the media commands: an operator who may read every user's items
// and jobs. Changes are made as the job's or item's owner (media.Service changes only the
// actor's own), see ownerActor.
var cliAdmin = media.Actor{Username: "tldwd-cli", ReadAny: true, UserAgent: "tldwd-cli"}

// ownerActor acts for user uid, for the changes media.Service allows only to an owner.
func ownerActor(uid int64) media.Actor {
	return media.Actor{UserID: uid, Username: "tldwd-cli", UserAgent: "tldwd-cli"}
}

// mediaCmd runs `tldwd media jobs|cancel|retry|reprocess` against the configured database.
// retry and reprocess enqueue durable jobs that any running server's workers (or this
// process's, while it waits) carry out; --wait follows the item until it finishes.
func mediaCmd(ctx context.Context, h host, o options, args []string) int {
	usage := func() int {
		fmt.Fprintln(h.stderr, mediaUsage)
		return 2
	}
	if len(args) == 0 {
		return usage()
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("media "+sub, flag.ContinueOnError)
	fs.SetOutput(h.stderr)
	user := fs.String("user", "", "only this user's jobs (name, email or id)")
	state := fs.String("state", "", "only jobs in this state")
	limit := fs.Int("limit", 50, "jobs to list (1..100)")
	asJSON := fs.Bool("json", false, "print JSON")
	wait := fs.Bool("wait", false, "wait until the item has finished processing, showing its stages")
	itemID := fs.Int64("id", 0, "media item id")
	method := fs.String("chunk-method", "", "words, sentences, paragraphs, tokens or ebook_chapters (default words)")
	size := fs.Int("chunk-size", 0, "chunk size (default the method's)")
	overlap := fs.Int("chunk-overlap", 0, "chunk overlap")
	ocr := fs.String("ocr-mode", "", "fallback, always or off; extracts the text again (default: re-chunk the stored text)")
	pos, err := parseAfterPositional(fs, args)
	if err != nil {
		return 2
	}
	var jobID int64
	switch sub {
	case "jobs":
		if len(pos) != 0 || (*state != "" && !slices.Contains(jobStates, media.JobState(*state))) || *limit < 1 || *limit > media.MaxPerPage {
			return usage()
		}
	case "cancel", "retry":
		if len(pos) != 1 {
			return usage()
		}
		if jobID, err = strconv.ParseInt(pos[0], 10, 64); err != nil || jobID <= 0 {
			return usage()
		}
	case "reprocess":
		if len(pos) != 0 || *itemID <= 0 || (*ocr != "" && !slices.Contains(ocrModes, *ocr)) {
			return usage()
		}
	default:
		return usage()
	}
	app, code := openApp(ctx, h, o)
	if app == nil {
		return code
	}
	defer app.Close()
	svc := app.Media()
	var job *media.Job
	switch sub {
	case "jobs":
		f := media.JobFilter{Limit: *limit}
		if *state != "" {
			f.States = []media.JobState{media.JobState(*state)}
		}
		if *user != "" {
			u, err := findUser(ctx, app, *user)
			if err != nil {
				return fail(h, err)
			}
			f.UserID = u.ID
		}
		jobs, err := svc.ListJobs(ctx, cliAdmin, f)
		if err != nil {
			return fail(h, err)
		}
		return printJobs(ctx, h, app, jobs, *asJSON)
	case "cancel", "retry":
		j, err := svc.JobOf(ctx, cliAdmin, jobID)
		if err != nil {
			return fail(h, notFound(err, "job", jobID))
		}
		if sub == "cancel" {
			if job, err = svc.CancelJob(ctx, ownerActor(j.UserID), jobID); err != nil {
				return fail(h, err)
			}
			if !*asJSON {
				switch {
				case job.State == media.JobCancelled && j.State != media.JobCancelled:
					fmt.Fprintf(h.stdout, "job %d cancelled (item %d)\n", job.ID, job.ItemID)
				case j.State.Terminal():
					fmt.Fprintf(h.stdout, "job %d is already %s; nothing to cancel\n", job.ID, j.State)
				default:
					fmt.Fprintf(h.stdout, "job %d is %s; its worker was told to stop\n", job.ID, job.State)
				}
			}
			*wait = false
			break
		}
		if job, err = svc.RetryJob(ctx, ownerActor(j.UserID), jobID); err != nil {
			return fail(h, err)
		}
		if !*asJSON {
			fmt.Fprintf(h.stdout, "job %d queued again (item %d)\n", job.ID, job.ItemID)
		}
	case "reprocess":
		p, err := svc.ProcessingOf(ctx, cliAdmin, *itemID)
		if err != nil {
			return fail(h, notFound(err, "media item", *itemID))
		}
		po := media.ProcessOptions{Chunk: media.ChunkOptions{Method: *method, Size: *size, Overlap: *overlap}}
		if *ocr != "" {
			po.From, po.Extract.OCRMode = media.StageProbe, *ocr
		}
		if job, err = svc.Reprocess(ctx, ownerActor(p.UserID), *itemID, po); err != nil {
			return fail(h, err)
		}
		if !*asJSON {
			fmt.Fprintf(h.stdout, "item %d queued for processing from %s as job %d\n", job.ItemID, job.Options.From, job.ID)
		}
	}
	out := struct {
		Job  jobRow   `json:"job"`
		Item *itemRow `json:"item,omitempty"`
	}{Job: newJobRow(job, "", "")}
	code = 0
	if *wait {
		p, j, err := waitItem(ctx, svc, job, newProgress(h.stdout, !*asJSON, isTerminal(h.stdout)))
		if err != nil && ctx.Err() != nil {
			return fail(h, fmt.Errorf("stopped waiting; job %d goes on (see tldwd media jobs)", job.ID))
		}
		if err != nil {
			return fail(h, err)
		}
		out.Job, out.Item = newJobRow(j, "", ""), newItemRow(p)
		if p.Status != media.StatusProcessed {
			fmt.Fprintf(h.stderr, "tldwd: item %d %s: %s\n", p.ItemID, p.Status, p.Error)
			code = 1
		} else if !*asJSON {
			fmt.Fprintf(h.stdout, "item %d processed: %d chunks, %d words\n", p.ItemID, p.ChunkCount, p.WordCount)
		}
	}
	if *asJSON {
		return writeJSON(h, out, code)
	}
	return code
}

// jobStates are the values --state accepts.
var jobStates = []media.JobState{media.JobQueued, media.JobRunning, media.JobRetrying, media.JobCompleted, media.JobFailed, media.JobCancelled}

// ocrModes are the values --ocr-mode accepts.
var ocrModes = []string{media.OCRFallback, media.OCRAlways, media.OCROff}

// notFound turns a media.ErrNotFound into "no <what> <id>".
func notFound(err error, what string, id int64) error {
	if errors.Is(err, media.ErrNotFound) {
		return fmt.Errorf("no %s %d", what, id)
	}
	return err
}

// jobRow is one job as `media jobs` prints it.
type jobRow struct {
	ID          int64     `json:"id"`
	UserID      int64     `json:"user_id"`
	User        string    `json:"user,omitempty"`
	ItemID      int64     `json:"item_id"`
	State       string    `json:"state"`
	Attempt     int       `json:"attempt"`
	MaxAttempts int       `json:"max_attempts"`
	Stage       string    `json:"stage,omitempty"`
	Error       string    `json:"error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func newJobRow(j *media.Job, user, stage string) jobRow {
	updated := j.CreatedAt
	if j.FinishedAt != nil {
		updated = *j.FinishedAt
	} else if j.AttemptedAt != nil {
		updated = *j.AttemptedAt
	}
	return jobRow{ID: j.ID, UserID: j.UserID, User: user, ItemID: j.ItemID, State: string(j.State),
		Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, Stage: stage, Error: j.Error,
		CreatedAt: j.CreatedAt.UTC(), UpdatedAt: updated.UTC()}
}

// itemRow is an item's processing state after --wait.
type itemRow struct {
	ID         int64             `json:"id"`
	Status     string            `json:"status"`
	Error      string            `json:"error,omitempty"`
	ChunkCount int               `json:"chunk_count"`
	WordCount  int               `json:"word_count"`
	Stages     map[string]string `json:"stages"`
}

func newItemRow(p *media.Processing) *itemRow {
	r := &itemRow{ID: p.ItemID, Status: string(p.Status), Error: p.Error, ChunkCount: p.ChunkCount,
		WordCount: p.WordCount, Stages: map[string]string{}}
	for _, s := range media.Stages() {
		r.Stages[string(s)] = string(p.Stage(s).Status)
	}
	return r
}

// printJobs prints jobs as a table or JSON, with their owners' names and, for each item's
// newest job, the item's current stage.
func printJobs(ctx context.Context, h host, app *tldw.App, jobs []media.Job, asJSON bool) int {
	names, seen := map[int64]string{}, map[int64]bool{}
	rows := make([]jobRow, 0, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		if _, ok := names[j.UserID]; !ok {
			if u, err := app.Users.UserByID(ctx, j.UserID); err == nil {
				names[j.UserID] = u.Username
			}
		}
		stage := ""
		if !seen[j.ItemID] { // jobs come newest first: the item's state is this job's
			seen[j.ItemID] = true
			if p, err := app.Media().ProcessingOf(ctx, cliAdmin, j.ItemID); err == nil {
				stage = currentStage(p)
			}
		}
		rows = append(rows, newJobRow(j, names[j.UserID], stage))
	}
	if asJSON {
		return writeJSON(h, rows, 0)
	}
	tw := tabwriter.NewWriter(h.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tITEM\tSTATE\tATTEMPT\tSTAGE\tERROR\tUPDATED")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%d/%d\t%s\t%s\t%s\n", r.ID, orDash(r.User), r.ItemID, r.State,
			r.Attempt, r.MaxAttempts, orDash(r.Stage), orDash(trim(r.Error, 60)), r.UpdatedAt.Format(time.RFC3339))
	}
	tw.Flush()
	return 0
}

// currentStage is the running stage, else the failed one, else the last one done.
func currentStage(p *media.Processing) string {
	last := ""
	for _, s := range media.Stages() {
		switch p.Stage(s).Status {
		case media.StageRunning, media.StageFailed:
			return string(s)
		case media.StageDone:
			last = string(s)
		}
	}
	return last
}

// trim makes s one line of at most n runes.
func trim(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeJSON prints v as indented JSON and returns code.
func writeJSON(h host, v any, code int) int {
	enc := json.NewEncoder(h.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(h, err)
	}
	return code
}

// waitItem reads the item's processing state from the database until it has finished,
// showing each change on pr, then until its job has finished too (River records that just
// after the item's last stage), so that the next reprocess of the item is not refused.
func waitItem(ctx context.Context, svc *media.Service, job *media.Job, pr *progress) (*media.Processing, *media.Job, error) {
	defer pr.done()
	var p *media.Processing
	pause := 20 * time.Millisecond
	for {
		var err error
		if p == nil || !p.Status.Terminal() {
			if p, err = svc.ProcessingOf(ctx, cliAdmin, job.ItemID); err != nil {
				return nil, nil, err
			}
			pr.show(p)
		}
		if p.Status.Terminal() {
			if job, err = svc.JobOf(ctx, cliAdmin, job.ID); err != nil {
				return nil, nil, err
			}
			if job.State.Terminal() {
				return p, job, nil
			}
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, media.WaitPoll)
	}
}

// progress shows an item's stages while it is processed: on a terminal one bar redrawn in
// place, elsewhere one plain line per change.
type progress struct {
	w    io.Writer
	on   bool // show anything (not with --json)
	tty  bool
	last string
}

func newProgress(w io.Writer, on, tty bool) *progress { return &progress{w: w, on: on, tty: tty} }

// barWidth is the bar's length in cells.
const barWidth = 24

func (pr *progress) show(p *media.Processing) {
	if !pr.on {
		return
	}
	all := media.Stages()
	finished, now := 0, string(p.Status)
	for _, s := range all {
		switch st := p.Stage(s); st.Status {
		case media.StageDone, media.StageSkipped, media.StageFailed:
			finished++
		case media.StageRunning:
			now = string(s)
		}
	}
	line := fmt.Sprintf("item %d %d/%d %s", p.ItemID, finished, len(all), now)
	if line == pr.last {
		return
	}
	pr.last = line
	if !pr.tty {
		fmt.Fprintln(pr.w, line)
		return
	}
	fill := finished * barWidth / len(all)
	fmt.Fprintf(pr.w, "\r[%s%s] %-40s", strings.Repeat("#", fill), strings.Repeat("-", barWidth-fill), line)
}

// done ends the bar's line.
func (pr *progress) done() {
	if pr.on && pr.tty && pr.last != "" {
		fmt.Fprintln(pr.w)
	}
}

// isTerminal reports whether w is a character device (a terminal), where the bar is drawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
