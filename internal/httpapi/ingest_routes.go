package httpapi

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
)

// routes are the processing job routes: a user's ingest jobs (admins: everyone's), their
// progress as Server-Sent Events, cancel, retry, and reprocessing an item with new options.
func (s *ingestAPI) routes() []route {
	unavailable := "Media processing is not enabled on this server"
	job := map[int]string{401: "Not authenticated", 403: "Not allowed", 404: "No such job of yours", 503: unavailable}
	with := func(m, extra map[int]string) map[int]string {
		out := maps.Clone(m)
		maps.Copy(out, extra)
		return out
	}
	return []route{
		{Method: http.MethodGet, Path: "/api/v1/media/ingest/jobs", Tag: "media", Perm: auth.PermMediaRead, TrailingSlash: true,
			Summary: "List your processing jobs, newest first (admins: every user's, or user_id's)",
			Query: []param{
				{Name: "state", Description: "Only jobs in these states (comma-separated: queued, running, retrying, completed, failed, cancelled)", Type: "string"},
				{Name: "user_id", Description: "Admins: only this user's jobs", Type: "integer", Range: []int64{1}},
				{Name: "page", Description: "Page number, from 1 (default 1)", Type: "integer", Range: []int64{1, 1 << 30}},
				{Name: "results_per_page", Description: "Jobs per page, 1-100 (default 10)", Type: "integer", Range: []int64{1, media.MaxPerPage}},
			},
			ID: "listIngestJobs", Response: jobList{},
			Responses: with(job, map[int]string{200: "Jobs and pagination", 400: "Invalid parameter"}),
			Handler:   s.handleJobList},
		{Method: http.MethodGet, Path: "/api/v1/media/ingest/jobs/{id:[0-9]+}", Tag: "media", Perm: auth.PermMediaRead,
			ID: "getIngestJob", Response: jobJSON{},
			Summary:   "Get a processing job with its item's stages and progress",
			Responses: with(job, map[int]string{200: "The job"}),
			Handler:   s.handleJobGet},
		{Method: http.MethodDelete, Path: "/api/v1/media/ingest/jobs/{id:[0-9]+}", Tag: "media", Perm: auth.PermMediaWrite,
			ID: "cancelIngestJob", Response: jobJSON{},
			Summary:   "Cancel a processing job",
			Responses: with(job, map[int]string{200: "The cancelled job"}),
			Handler:   s.handleJobCancel},
		{Method: http.MethodPost, Path: "/api/v1/media/ingest/jobs/{id:[0-9]+}/retry", Tag: "media", Perm: auth.PermMediaWrite,
			ID: "retryIngestJob", Response: jobJSON{},
			Summary:   "Run a failed or cancelled processing job again",
			Responses: with(job, map[int]string{202: "The job, queued again", 409: "The job is running or completed"}),
			Handler:   s.handleJobRetry},
		{Method: http.MethodGet, Path: "/api/v1/media/ingest/jobs/{id:[0-9]+}/events", Tag: "media", Perm: auth.PermMediaRead,
			Summary: "Follow a processing job as Server-Sent Events: \"stage\" when a stage changes, \"state\" when the job's " +
				"state does (each with stage, percent, message); the stream ends after the final state",
			ID: "streamIngestJobEvents", Produces: "text/event-stream", Stream: streamSSE,
			Responses: with(job, map[int]string{200: "The event stream"}),
			Handler:   s.handleJobEvents},
		{Method: http.MethodPost, Path: "/api/v1/media/{id:[0-9]+}/reprocess", Tag: "media", Perm: auth.PermMediaWrite,
			Summary: "Process an item again with new options (JSON: chunk_method, chunk_size, chunk_overlap, perform_chunking, " +
				"ocr_mode, ocr_lang); the stored text is re-chunked, or extracted again when there is none",
			ID: "reprocessMedia", Body: "application/json", BodyOptional: true, Request: reprocessRequest{}, Response: jobJSON{},
			Responses: map[int]string{202: "The new job", 401: "Not authenticated", 403: "Not allowed",
				404: "No such item of yours", 409: "The item is still being processed", 415: "Body is not JSON",
				422: "Invalid options", 503: unavailable},
			Handler: s.handleReprocess},
	}
}

// jobService returns Options.Media when it processes items, or a 503.
func (s *ingestAPI) jobService() (*media.Service, error) {
	if s.o.Media == nil || s.o.Media.Jobs == nil || s.o.Media.Processing == nil {
		return nil, Errorf(http.StatusServiceUnavailable, "service_unavailable", "media processing is not enabled on this server")
	}
	return s.o.Media, nil
}

// errJobNotFound answers a job that does not exist or is not the caller's.
var errJobNotFound = &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "Job not found"}

// jobTarget is jobService plus the {id} path variable.
func (s *ingestAPI) jobTarget(r *http.Request) (*media.Service, int64, error) {
	svc, err := s.jobService()
	if err != nil {
		return nil, 0, err
	}
	id, err := pathInt64(r, "id")
	if err != nil {
		return nil, 0, errJobNotFound
	}
	return svc, id, nil
}

// jobError maps a job's ErrNotFound to "Job not found"; other errors pass.
func jobError(err error) error {
	if errors.Is(err, media.ErrNotFound) {
		return errJobNotFound
	}
	return err
}

// jobOptionsJSON are a job's processing options in the form's words.
type jobOptionsJSON struct {
	From            string `json:"from"`
	ChunkMethod     string `json:"chunk_method"`
	ChunkSize       int    `json:"chunk_size"`
	ChunkOverlap    int    `json:"chunk_overlap"`
	PerformChunking bool   `json:"perform_chunking"`
	OCRMode         string `json:"ocr_mode"`
	OCRLang         string `json:"ocr_lang"`
}

// stageJSON is one processing stage of an item.
type stageJSON struct {
	Stage      string   `json:"stage"`
	Status     string   `json:"status"`
	Attempts   int      `json:"attempts"`
	StartedAt  *string  `json:"started_at"`
	FinishedAt *string  `json:"finished_at"`
	Warnings   []string `json:"warnings"`
	Error      string   `json:"error"`
}

// processingJSON is an item's processing state.
type processingJSON struct {
	Status     string      `json:"status"`
	Error      string      `json:"error"`
	ChunkCount int         `json:"chunk_count"`
	WordCount  int         `json:"word_count"`
	Percent    int         `json:"percent"`
	Stages     []stageJSON `json:"stages"`
	UpdatedAt  string      `json:"updated_at"`
}

// jobJSON is a processing job as the API shows it. Processing is its item's state, on the
// single-job routes only.
type jobJSON struct {
	ID          int64           `json:"id"`
	JobID       int64           `json:"job_id"`
	MediaID     int64           `json:"media_id"`
	UserID      int64           `json:"user_id"`
	State       string          `json:"state" oapi:"enum=queued|running|retrying|completed|failed|cancelled"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	Error       string          `json:"error"`
	Options     jobOptionsJSON  `json:"options"`
	CreatedAt   string          `json:"created_at"`
	AttemptedAt *string         `json:"attempted_at"`
	FinishedAt  *string         `json:"finished_at"`
	Processing  *processingJSON `json:"processing,omitempty"`
}

func newJobJSON(j *media.Job, p *media.Processing) jobJSON {
	o := j.Options
	out := jobJSON{ID: j.ID, JobID: j.ID, MediaID: j.ItemID, UserID: j.UserID, State: string(j.State),
		Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, Error: j.Error,
		Options: jobOptionsJSON{From: string(o.From), ChunkMethod: o.Chunk.Method, ChunkSize: o.Chunk.Size,
			ChunkOverlap: o.Chunk.Overlap, PerformChunking: !o.NoChunking, OCRMode: o.Extract.OCRMode, OCRLang: o.Extract.OCRLang},
		CreatedAt: formatTime(j.CreatedAt), AttemptedAt: formatTimePtr(j.AttemptedAt), FinishedAt: formatTimePtr(j.FinishedAt)}
	if p != nil {
		pj := newProcessingJSON(p, j.Options.From)
		out.Processing = &pj
	}
	return out
}

func newProcessingJSON(p *media.Processing, from media.Stage) processingJSON {
	out := processingJSON{Status: string(p.Status), Error: p.Error, ChunkCount: p.ChunkCount, WordCount: p.WordCount,
		Percent: percentDone(p, from), Stages: []stageJSON{}, UpdatedAt: formatTime(p.UpdatedAt)}
	for _, st := range p.Stages {
		out.Stages = append(out.Stages, stageJSON{Stage: string(st.Stage), Status: string(st.Status), Attempts: st.Attempts,
			StartedAt: formatTimePtr(st.StartedAt), FinishedAt: formatTimePtr(st.FinishedAt),
			Warnings: append([]string{}, st.Warnings...), Error: st.Error})
	}
	return out
}

// percentDone estimates how far a run from stage from has come: 100 once processing has
// ended, else the share of its stages done or skipped (extract and transcribe count as one:
// an item runs only one of them), at most 99.
func percentDone(p *media.Processing, from media.Stage) int {
	if p.Status.Terminal() {
		return 100
	}
	if from == "" {
		from = media.StageProbe
	}
	stages, err := media.StagesFrom(from)
	if err != nil || len(stages) == 0 {
		return 0
	}
	total, done := 0, 0
	for _, st := range stages {
		if st == media.StageTranscribe && slices.Contains(stages, media.StageExtract) {
			continue
		}
		total++
		state := p.Stage(st)
		if st == media.StageExtract {
			if tr := p.Stage(media.StageTranscribe); tr.Status == media.StageDone {
				state = tr
			}
		}
		if state.Status == media.StageDone || state.Status == media.StageSkipped {
			done++
		}
	}
	return min(99, 100*done/total)
}

// jobStates parses the state filter: comma-separated (or repeated) job states.
func jobStates(vs []string) ([]media.JobState, error) {
	known := []media.JobState{media.JobQueued, media.JobRunning, media.JobRetrying, media.JobCompleted, media.JobFailed, media.JobCancelled}
	var out []media.JobState
	for _, v := range vs {
		for p := range strings.SplitSeq(v, ",") {
			st := media.JobState(strings.ToLower(strings.TrimSpace(p)))
			if st == "" {
				continue
			}
			if !slices.Contains(known, st) {
				return nil, Errorf(http.StatusBadRequest, "invalid_parameter",
					"state must be queued, running, retrying, completed, failed or cancelled")
			}
			if !slices.Contains(out, st) {
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// handleJobList serves GET /api/v1/media/ingest/jobs.
func (s *ingestAPI) handleJobList(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.jobService()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := mediaPageParams(q)
	if err != nil {
		return err
	}
	states, err := jobStates(q["state"])
	if err != nil {
		return err
	}
	a := (&mediaAPI{s.core}).mediaActor(r)
	f := media.JobFilter{States: states, Limit: page.PerPage, Offset: (page.Page - 1) * page.PerPage}
	if v := strings.TrimSpace(q.Get("user_id")); v != "" {
		uid, err := strconv.ParseInt(v, 10, 64)
		if err != nil || uid < 1 {
			return Errorf(http.StatusBadRequest, "invalid_parameter", "user_id must be a positive integer")
		}
		f.UserID = uid // ListJobs forces it to the caller's own for non-admins
	}
	jobs, err := svc.ListJobs(r.Context(), a, f)
	if err != nil {
		return err
	}
	out := make([]jobJSON, 0, len(jobs))
	for i := range jobs {
		out = append(out, newJobJSON(&jobs[i], nil))
	}
	s.writeJSON(w, r, http.StatusOK, jobList{Jobs: out, Pagination: jobPagination{Page: page.Page, ResultsPerPage: page.PerPage}})
	return nil
}

// jobList is the body of GET /api/v1/media/ingest/jobs.
type jobList struct {
	Jobs       []jobJSON     `json:"jobs"`
	Pagination jobPagination `json:"pagination"`
}

// jobPagination is a job list's page (jobs are not counted: a page shorter than
// results_per_page is the last).
type jobPagination struct {
	Page           int `json:"page"`
	ResultsPerPage int `json:"results_per_page"`
}

// jobWithProcessing reads a job and its item's processing state (absent when the item is
// gone).
func (s *ingestAPI) jobWithProcessing(ctx context.Context, svc *media.Service, a media.Actor, j *media.Job) (jobJSON, error) {
	p, err := svc.ProcessingOf(ctx, a, j.ItemID)
	if err != nil && !errors.Is(err, media.ErrNotFound) {
		return jobJSON{}, err
	}
	return newJobJSON(j, p), nil
}

// handleJobGet serves GET /api/v1/media/ingest/jobs/{id}.
func (s *ingestAPI) handleJobGet(w http.ResponseWriter, r *http.Request) error {
	return s.jobAction(w, r, http.StatusOK, (*media.Service).JobOf)
}

// handleJobCancel serves DELETE /api/v1/media/ingest/jobs/{id}.
func (s *ingestAPI) handleJobCancel(w http.ResponseWriter, r *http.Request) error {
	return s.jobAction(w, r, http.StatusOK, (*media.Service).CancelJob)
}

// handleJobRetry serves POST /api/v1/media/ingest/jobs/{id}/retry.
func (s *ingestAPI) handleJobRetry(w http.ResponseWriter, r *http.Request) error {
	return s.jobAction(w, r, http.StatusAccepted, (*media.Service).RetryJob)
}

// jobAction runs fn on job {id} and answers with the job and its item's state.
func (s *ingestAPI) jobAction(w http.ResponseWriter, r *http.Request, status int,
	fn func(*media.Service, context.Context, media.Actor, int64) (*media.Job, error)) error {
	svc, id, err := s.jobTarget(r)
	if err != nil {
		return err
	}
	a := (&mediaAPI{s.core}).mediaActor(r)
	j, err := fn(svc, r.Context(), a, id)
	if err != nil {
		if errors.Is(err, media.ErrConflict) {
			return Errorf(http.StatusConflict, "conflict", "Only a failed or cancelled job can be retried")
		}
		return jobError(err)
	}
	out, err := s.jobWithProcessing(r.Context(), svc, a, j)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, status, out)
	return nil
}

// jobEvent is the data of one event of a job's stream.
type jobEvent struct {
	JobID   int64  `json:"job_id"`
	MediaID int64  `json:"media_id"`
	State   string `json:"state"`
	Stage   string `json:"stage"`
	Status  string `json:"status"` // the stage's status ("stage" events) or the item's ("state" events)
	Percent int    `json:"percent"`
	Message string `json:"message"`
}

// handleJobEvents serves GET /api/v1/media/ingest/jobs/{id}/events: the job's progress
// read from the database (so any replica's work shows), polled at growing intervals up to
// media.WaitPoll. A "stage" event is sent when a stage changes status, a "state" event when
// the job's state does; the stream ends after the state event of a finished job.
func (s *ingestAPI) handleJobEvents(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.jobTarget(r)
	if err != nil {
		return err
	}
	a := (&mediaAPI{s.core}).mediaActor(r)
	j, err := svc.JobOf(r.Context(), a, id)
	if err != nil {
		return jobError(err)
	}
	events := make(chan sseEvent)
	ctx := r.Context()
	go func() {
		defer close(events)
		send := func(name string, ev jobEvent) bool {
			select {
			case events <- sseEvent{Name: name, Data: ev}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		stages := map[media.Stage]media.StageStatus{}
		lastState := media.JobState("")
		wait := 5 * time.Millisecond
		for {
			p, err := svc.ProcessingOf(ctx, a, j.ItemID)
			if err != nil && !errors.Is(err, media.ErrNotFound) {
				s.logger(r).WarnContext(ctx, "job events: read processing", "job", j.ID, "error", err)
				return
			}
			ev := jobEvent{JobID: j.ID, MediaID: j.ItemID, State: string(j.State)}
			if p != nil {
				ev.Percent = percentDone(p, j.Options.From)
				for _, st := range p.Stages {
					if stages[st.Stage] == st.Status {
						continue
					}
					stages[st.Stage] = st.Status
					se := ev
					se.Stage, se.Status, se.Message = string(st.Stage), string(st.Status), st.Error
					if se.Message == "" {
						se.Message = string(st.Stage) + " " + string(st.Status)
					}
					if !send("stage", se) {
						return
					}
				}
			}
			if j.State != lastState {
				lastState = j.State
				ev.Message = j.Error
				if p != nil {
					ev.Status = string(p.Status)
					if ev.Message == "" {
						ev.Message = p.Error
					}
				}
				if j.State.Terminal() {
					ev.Percent = 100
				}
				if ev.Message == "" {
					ev.Message = "job " + string(j.State)
				}
				if !send("state", ev) || j.State.Terminal() {
					return
				}
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, media.WaitPoll)
			if j, err = svc.JobOf(ctx, a, id); err != nil {
				if ctx.Err() == nil {
					s.logger(r).WarnContext(ctx, "job events: read job", "job", id, "error", err)
				}
				return
			}
		}
	}()
	return s.serveSSE(w, r, events)
}

// reprocessRequest is the body of POST /api/v1/media/{id}/reprocess.
type reprocessRequest struct {
	ChunkMethod     string `json:"chunk_method,omitempty" oapi:"enum=words|sentences|paragraphs|tokens|ebook_chapters|semantic" doc:"Default words"`
	ChunkSize       int    `json:"chunk_size,omitempty" oapi:"min=0" doc:"Units per chunk; 0 or absent: 500"`
	ChunkOverlap    int    `json:"chunk_overlap,omitempty" oapi:"min=0" doc:"Units shared by neighbouring chunks; default 200"`
	PerformChunking *bool  `json:"perform_chunking,omitempty" doc:"false stores the text without chunks"`
	OCRMode         string `json:"ocr_mode,omitempty" oapi:"enum=fallback|always|off" doc:"Re-extracts the original when given"`
	OCRLang         string `json:"ocr_lang,omitempty" doc:"tesseract language codes joined by '+' (eng, eng+deu); re-extracts when given"`
}

// handleReprocess serves POST /api/v1/media/{id}/reprocess: 202 with the new job.
func (s *ingestAPI) handleReprocess(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.jobService()
	if err != nil {
		return err
	}
	id, err := mediaID(r)
	if err != nil {
		return err
	}
	var req reprocessRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if req.ChunkSize < 0 || req.ChunkOverlap < 0 {
		return mediaFieldError("chunk_size", "chunk_size and chunk_overlap must be non-negative integers")
	}
	o := media.ProcessOptions{
		Chunk:   media.ChunkOptions{Method: strings.ToLower(strings.TrimSpace(req.ChunkMethod)), Size: req.ChunkSize, Overlap: req.ChunkOverlap},
		Extract: media.ExtractOptions{OCRMode: strings.ToLower(strings.TrimSpace(req.OCRMode)), OCRLang: strings.TrimSpace(req.OCRLang)},
	}
	o.NoChunking = req.PerformChunking != nil && !*req.PerformChunking
	if o.Extract.OCRMode != "" || o.Extract.OCRLang != "" {
		o.From = media.StageProbe // new OCR options only matter when the original is read again
	}
	if err := checkProcessOptions(o); err != nil {
		return err
	}
	a := (&mediaAPI{s.core}).mediaActor(r)
	j, err := svc.Reprocess(r.Context(), a, id, o)
	if errors.Is(err, media.ErrConflict) {
		return Errorf(http.StatusConflict, "conflict", "The item is still being processed; cancel its job or wait for it")
	}
	if err != nil {
		return err
	}
	out, err := s.jobWithProcessing(r.Context(), svc, a, j)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusAccepted, out)
	return nil
}
