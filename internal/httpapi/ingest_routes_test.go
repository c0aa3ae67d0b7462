package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/media/plaintext"
)

// memJobs is an in-memory media.Jobs that runs each job once, in a goroutine, through the
// handler; while gate is open (not closed) jobs wait for it before running.
type memJobs struct {
	mu    sync.Mutex
	store *mediatest.Memory
	proc  *mediatest.Processing
	run   media.JobHandler
	gate  chan struct{}
	jobs  map[int64]*media.Job
	next  int64
}

func (m *memJobs) add(ctx context.Context, userID, itemID int64, o media.ProcessOptions) (*media.Job, error) {
	from := o.From
	if from == "" {
		from = media.StageProbe
	}
	if err := m.proc.Reset(ctx, userID, itemID, from, time.Now()); err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.next++
	j := &media.Job{ID: m.next, ItemID: itemID, UserID: userID, State: media.JobQueued, MaxAttempts: 1, Options: o,
		CreatedAt: time.Now()}
	m.jobs[j.ID] = j
	out := *j
	m.mu.Unlock()
	m.start(j.ID)
	return &out, nil
}

// start runs job id once the gate opens, unless it was cancelled by then.
func (m *memJobs) start(id int64) {
	gate := m.gate
	go func() {
		<-gate
		m.mu.Lock()
		j := m.jobs[id]
		if j.State != media.JobQueued {
			m.mu.Unlock()
			return
		}
		now := time.Now()
		j.State, j.Attempt, j.AttemptedAt = media.JobRunning, j.Attempt+1, &now
		run := media.JobRun{Job: *j, Last: true}
		m.mu.Unlock()
		err := m.run(context.Background(), run)
		m.mu.Lock()
		defer m.mu.Unlock()
		end := time.Now()
		j.State, j.FinishedAt = media.JobCompleted, &end
		if err != nil {
			j.State, j.Error = media.JobFailed, err.Error()
		}
	}()
}

func (m *memJobs) CreateItem(ctx context.Context, it *media.Item, o media.ProcessOptions) (*media.Job, error) {
	if err := m.store.Create(ctx, it); err != nil {
		return nil, err
	}
	return m.add(ctx, it.UserID, it.ID, o)
}

func (m *memJobs) Enqueue(ctx context.Context, userID, itemID int64, o media.ProcessOptions) (*media.Job, error) {
	if _, err := m.store.ByID(ctx, userID, itemID); err != nil {
		return nil, err
	}
	m.mu.Lock()
	for _, j := range m.jobs {
		if j.ItemID == itemID && !j.State.Terminal() {
			m.mu.Unlock()
			return nil, media.ErrConflict
		}
	}
	m.mu.Unlock()
	return m.add(ctx, userID, itemID, o)
}

func (m *memJobs) Get(_ context.Context, userID, id int64) (*media.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok || (userID != 0 && j.UserID != userID) {
		return nil, media.ErrNotFound
	}
	out := *j
	return &out, nil
}

func (m *memJobs) List(_ context.Context, f media.JobFilter) ([]media.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []media.Job
	for id := m.next; id > 0; id-- {
		j := m.jobs[id]
		if (f.UserID == 0 || j.UserID == f.UserID) && (len(f.States) == 0 || slices.Contains(f.States, j.State)) {
			out = append(out, *j)
		}
	}
	out = out[min(f.Offset, len(out)):]
	return out[:min(f.Limit, len(out))], nil
}

func (m *memJobs) Cancel(ctx context.Context, userID, id int64) (*media.Job, error) {
	m.mu.Lock()
	j, ok := m.jobs[id]
	if !ok || j.UserID != userID {
		m.mu.Unlock()
		return nil, media.ErrNotFound
	}
	if j.State.Terminal() {
		out := *j
		m.mu.Unlock()
		return &out, nil
	}
	now := time.Now()
	j.State, j.FinishedAt = media.JobCancelled, &now
	out := *j
	m.mu.Unlock()
	return &out, m.proc.SetStatus(ctx, userID, j.ItemID, media.StatusCancelled, "cancelled", now)
}

func (m *memJobs) Retry(ctx context.Context, userID, id int64) (*media.Job, error) {
	m.mu.Lock()
	j, ok := m.jobs[id]
	if !ok || j.UserID != userID {
		m.mu.Unlock()
		return nil, media.ErrNotFound
	}
	if j.State != media.JobFailed && j.State != media.JobCancelled {
		m.mu.Unlock()
		return nil, media.ErrConflict
	}
	j.State, j.FinishedAt, j.Error = media.JobQueued, nil, ""
	out := *j
	m.mu.Unlock()
	if err := m.proc.Reset(ctx, userID, j.ItemID, media.StageProbe, time.Now()); err != nil {
		return nil, err
	}
	m.start(id)
	return &out, nil
}

// newProcessingServer is a media server whose items are processed (plain text extraction,
// word chunks) by memJobs; with held, jobs wait until release is called.
func newProcessingServer(t *testing.T, held bool) (ms *mediaServer, jobs *memJobs, release func()) {
	t.Helper()
	ms = newMediaServer(t, false)
	proc := mediatest.NewProcessing(ms.Items)
	p := &media.Pipeline{Store: ms.Items, Processing: proc, Blobs: ms.Blobs, Extractor: plaintext.Extractor{},
		Chunker: media.TextChunker{}}
	jobs = &memJobs{store: ms.Items, proc: proc, run: p.Handle, gate: make(chan struct{}), jobs: map[int64]*media.Job{}}
	var once sync.Once
	release = func() { once.Do(func() { close(jobs.gate) }) }
	if !held {
		release()
	}
	t.Cleanup(release)
	ms.Media.Jobs, ms.Media.Processing, ms.Media.Pipeline, ms.Media.AddWait = jobs, proc, p, time.Minute
	return ms, jobs, release
}

// processedResult is the part of a /media/add result the processing tests read.
type processedResult struct {
	Status   string   `json:"status"`
	Content  *string  `json:"content"`
	Chunks   int      `json:"chunks"`
	DBID     *int64   `json:"db_id"`
	JobID    *int64   `json:"job_id"`
	Error    *string  `json:"error"`
	Warnings []string `json:"warnings"`
}

func decodeProcessed(t *testing.T, body []byte) []processedResult {
	t.Helper()
	var res struct {
		Results []processedResult `json:"results"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("decode: %v\n%s", err, body)
	}
	return res.Results
}

var words300 = strings.TrimSpace(strings.Repeat("alpha beta gamma ", 100))

// TestMediaAddWaitsForProcessing: /media/add answers with the extracted text and chunk
// count; fields after the file (title, chunking) apply; GET /media/{id} shows the text.
func TestMediaAddWaitsForProcessing(t *testing.T) {
	ms, _, _ := newProcessingServer(t, false)
	rec := ms.add(t, callerUser, formFile("files", "notes.txt", words300), formField("media_type", "document"),
		formField("title", "Late title"), formField("chunk_size", "100"), formField("chunk_overlap", "0"),
		formField("hotwords", "alpha"))
	if rec.Code != http.StatusOK {
		t.Fatalf("add = %d\n%s", rec.Code, rec.Body)
	}
	r0 := decodeProcessed(t, rec.Body.Bytes())[0]
	if r0.Status != "Success" || r0.Content == nil || *r0.Content != words300 || r0.Chunks != 3 || r0.JobID == nil ||
		!slices.Contains(r0.Warnings, "Not applied by this server: hotwords") {
		t.Fatalf("result = %s", rec.Body)
	}
	path := fmt.Sprintf("/api/v1/media/%d", *r0.DBID)
	rec = ms.call(t, callerUser, http.MethodGet, path, "", nil)
	var got struct {
		Title      string         `json:"title"`
		Status     string         `json:"status"`
		Source     map[string]any `json:"source"`
		Processing map[string]any `json:"processing"`
		Content    map[string]any `json:"content"`
		Versions   []any          `json:"versions"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("get = %d %v\n%s", rec.Code, err, rec.Body)
	}
	if got.Title != "Late title" || got.Source["title"] != "Late title" || got.Status != "processed" ||
		got.Processing["status"] != "processed" || got.Processing["chunking_status"] != "completed" ||
		got.Content["text"] != words300 || got.Content["word_count"] != float64(300) || got.Versions == nil {
		t.Errorf("get = %s", rec.Body)
	}
	rec = ms.call(t, callerUser, http.MethodGet, path+"?include_content=false", "", nil)
	if m := decodeJSON(t, rec); rec.Code != http.StatusOK || m["content"].(map[string]any)["text"] != nil {
		t.Errorf("include_content=false = %d %s", rec.Code, rec.Body)
	}
	if rec := ms.call(t, callerUser, http.MethodGet, path+"?include_content=maybe", "", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("include_content=maybe = %d", rec.Code)
	}
	// versions: the current text is version 1 (its text only with include_version_content).
	if len(got.Versions) != 1 {
		t.Fatalf("versions = %v, want the current version", got.Versions)
	}
	v := got.Versions[0].(map[string]any)
	if v["version_number"] != float64(1) || v["media_id"] != float64(*r0.DBID) || v["created_at"] == "" || v["content"] != nil {
		t.Errorf("version = %v", v)
	}
	rec = ms.call(t, callerUser, http.MethodGet, path+"?include_content=false&include_version_content=true", "", nil)
	if m := decodeJSON(t, rec); len(m["versions"].([]any)) != 1 || m["versions"].([]any)[0].(map[string]any)["content"] != words300 {
		t.Errorf("include_version_content=true: %s", rec.Body)
	}
	// Another user does not see the item.
	if rec := ms.call(t, callerModerator, http.MethodGet, path, "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("other user's item = %d", rec.Code)
	}
}

// TestMediaAddProcessingFailure: an input the extractor refuses is an Error result (207)
// with the extractor's message; bad processing options are a 422 before anything is stored.
func TestMediaAddProcessingFailure(t *testing.T) {
	ms, _, _ := newProcessingServer(t, false)
	rec := ms.add(t, callerUser, formField("media_type", "document"), formFile("files", "blob.bin", "\x00\x01\x02\x03binary"))
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("add = %d\n%s", rec.Code, rec.Body)
	}
	if r0 := decodeProcessed(t, rec.Body.Bytes())[0]; r0.Status != "Error" || r0.Error == nil || *r0.Error == "" || r0.DBID == nil {
		t.Errorf("result = %s", rec.Body)
	}
	for _, tc := range []struct{ field, value, want string }{
		{"chunk_method", "semantic", "not available"},
		{"chunk_method", "bogus", "chunk_method"},
		{"chunk_size", "ten", "chunk_size"},
		{"chunk_overlap", "600", "chunk_overlap"},
		{"ocr_mode", "sometimes", "ocr_mode"},
		{"ocr_lang", "../eng", "ocr_lang"},
		{"perform_chunking", "perhaps", "perform_chunking"},
	} {
		rec := ms.add(t, callerModerator, formField("media_type", "document"), formFile("files", "x.txt", "some words"),
			formField(tc.field, tc.value))
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s=%s: %d %s", tc.field, tc.value, rec.Code, rec.Body)
		}
	}
	ms.wantEmpty(t, callerModerator)
}

// jobBody is the part of a job the tests read.
type jobBody struct {
	ID         int64  `json:"id"`
	MediaID    int64  `json:"media_id"`
	State      string `json:"state"`
	Processing *struct {
		Status     string `json:"status"`
		ChunkCount int    `json:"chunk_count"`
		Percent    int    `json:"percent"`
	} `json:"processing"`
}

func decodeJob(t *testing.T, body []byte) jobBody {
	t.Helper()
	var j jobBody
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatalf("decode job: %v\n%s", err, body)
	}
	return j
}

// TestIngestJobsLifecycle: async add → 202 with a job id; the job lists, reads, cancels,
// retries; its event stream ends with the final state; reprocessing changes the chunks.
func TestIngestJobsLifecycle(t *testing.T) {
	ms, _, release := newProcessingServer(t, true)
	rec := ms.add(t, callerUser, formField("media_type", "document"), formFile("files", "a.txt", words300), formField("async", "true"))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("async add = %d\n%s", rec.Code, rec.Body)
	}
	r0 := decodeProcessed(t, rec.Body.Bytes())[0]
	if r0.Status != "Queued" || r0.JobID == nil || r0.Content != nil {
		t.Fatalf("async result = %s", rec.Body)
	}
	jobPath := fmt.Sprintf("/api/v1/media/ingest/jobs/%d", *r0.JobID)

	// Prefer: respond-async does the same.
	body, ct := multipartForm(t, formField("media_type", "document"), formFile("files", "b.txt", "other words"))
	rec = ms.call(t, callerUser, http.MethodPost, "/api/v1/media/add", body, map[string]string{"Content-Type": ct, "Prefer": "respond-async"})
	if rec.Code != http.StatusAccepted || rec.Header().Get("Preference-Applied") != "respond-async" {
		t.Fatalf("Prefer: respond-async = %d\n%s", rec.Code, rec.Body)
	}
	second := *decodeProcessed(t, rec.Body.Bytes())[0].JobID

	rec = ms.call(t, callerUser, http.MethodGet, "/api/v1/media/ingest/jobs?state=queued", "", nil)
	var list struct {
		Jobs []jobBody `json:"jobs"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != http.StatusOK || len(list.Jobs) != 2 ||
		list.Jobs[0].ID != second {
		t.Fatalf("list = %d %v\n%s", rec.Code, err, rec.Body)
	}
	for path, want := range map[string]int{
		"/api/v1/media/ingest/jobs?state=bogus":             http.StatusBadRequest,
		"/api/v1/media/ingest/jobs?results_per_page=0":      http.StatusBadRequest,
		"/api/v1/media/ingest/jobs/?state=completed,failed": http.StatusOK,
		"/api/v1/media/ingest/jobs/999":                     http.StatusNotFound,
	} {
		if rec := ms.call(t, callerUser, http.MethodGet, path, "", nil); rec.Code != want {
			t.Errorf("GET %s = %d, want %d\n%s", path, rec.Code, want, rec.Body)
		}
	}
	// Another user neither sees nor cancels the job; an admin sees it.
	if rec := ms.call(t, callerModerator, http.MethodGet, jobPath, "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("other user's job = %d", rec.Code)
	}
	if rec := ms.call(t, callerModerator, http.MethodDelete, jobPath, "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("other user's cancel = %d", rec.Code)
	}
	if rec := ms.call(t, callerAdmin, http.MethodGet, jobPath, "", nil); rec.Code != http.StatusOK {
		t.Errorf("admin reads the job = %d", rec.Code)
	}
	rec = ms.call(t, callerAdmin, http.MethodGet, "/api/v1/media/ingest/jobs?user_id="+ms.id(callerUser), "", nil)
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list.Jobs) != 2 {
		t.Errorf("admin list = %d\n%s", rec.Code, rec.Body)
	}

	// Cancel the first job, then retry it.
	rec = ms.call(t, callerUser, http.MethodDelete, jobPath, "", nil)
	if j := decodeJob(t, rec.Body.Bytes()); rec.Code != http.StatusOK || j.State != "cancelled" || j.Processing == nil ||
		j.Processing.Status != "cancelled" {
		t.Fatalf("cancel = %d\n%s", rec.Code, rec.Body)
	}
	rec = ms.call(t, callerUser, http.MethodPost, jobPath+"/retry", "", nil)
	if j := decodeJob(t, rec.Body.Bytes()); rec.Code != http.StatusAccepted || j.State != "queued" {
		t.Fatalf("retry = %d\n%s", rec.Code, rec.Body)
	}
	if rec := ms.call(t, callerUser, http.MethodPost, jobPath+"/retry", "", nil); rec.Code != http.StatusConflict {
		t.Errorf("retry of a queued job = %d", rec.Code)
	}

	// The event stream follows the job to its end.
	release()
	rec = ms.call(t, callerUser, http.MethodGet, jobPath+"/events", "", nil)
	events := sseEvents(t, rec.Body.String())
	if rec.Code != http.StatusOK || len(events) < 2 || events[len(events)-1].name != "state" ||
		events[len(events)-1].data["state"] != "completed" || events[len(events)-1].data["percent"] != float64(100) {
		t.Fatalf("events = %d\n%s", rec.Code, rec.Body)
	}
	var stages []string
	for _, ev := range events {
		if ev.name == "stage" && ev.data["status"] == "done" {
			stages = append(stages, ev.data["stage"].(string))
		}
	}
	if !slices.Contains(stages, "extract") || !slices.Contains(stages, "chunk") {
		t.Errorf("stage events = %v\n%s", stages, rec.Body)
	}
	rec = ms.call(t, callerUser, http.MethodGet, jobPath, "", nil)
	if j := decodeJob(t, rec.Body.Bytes()); j.State != "completed" || j.Processing.ChunkCount != 1 || j.Processing.Percent != 100 {
		t.Fatalf("job after the stream = %s", rec.Body)
	}

	// Reprocess with smaller chunks.
	itemPath := fmt.Sprintf("/api/v1/media/%d/reprocess", j0(t, ms, jobPath).MediaID)
	for body, want := range map[string]int{
		`{"chunk_method":"semantic"}`: http.StatusUnprocessableEntity,
		`{"ocr_mode":"never"}`:        http.StatusUnprocessableEntity,
		`{"chunk_size":-1}`:           http.StatusUnprocessableEntity,
		`{"chunk_size":"big"}`:        http.StatusUnprocessableEntity,
		`not json`:                    http.StatusBadRequest,
	} {
		if rec := ms.call(t, callerUser, http.MethodPost, itemPath, body, nil); rec.Code != want {
			t.Errorf("reprocess %s = %d, want %d\n%s", body, rec.Code, want, rec.Body)
		}
	}
	if rec := ms.call(t, callerModerator, http.MethodPost, itemPath, `{}`, nil); rec.Code != http.StatusNotFound {
		t.Errorf("reprocess another user's item = %d", rec.Code)
	}
	rec = ms.call(t, callerUser, http.MethodPost, itemPath, `{"chunk_method":"words","chunk_size":50,"chunk_overlap":0}`, nil)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("reprocess = %d\n%s", rec.Code, rec.Body)
	}
	again := fmt.Sprintf("/api/v1/media/ingest/jobs/%d", decodeJob(t, rec.Body.Bytes()).ID)
	rec = ms.call(t, callerUser, http.MethodGet, again+"/events", "", nil)
	if evs := sseEvents(t, rec.Body.String()); evs[len(evs)-1].data["state"] != "completed" {
		t.Fatalf("reprocess events:\n%s", rec.Body)
	}
	if j := j0(t, ms, again); j.Processing.ChunkCount != 6 {
		t.Errorf("chunks after reprocess = %d, want 6", j.Processing.ChunkCount)
	}
}

// j0 reads a job.
func j0(t *testing.T, ms *mediaServer, path string) jobBody {
	t.Helper()
	rec := ms.call(t, callerUser, http.MethodGet, path, "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", path, rec.Code, rec.Body)
	}
	return decodeJob(t, rec.Body.Bytes())
}

// sseEvent is one parsed Server-Sent Event.
type parsedEvent struct {
	name string
	data map[string]any
}

// sseEvents parses an event stream's events (comments skipped).
func sseEvents(t *testing.T, stream string) []parsedEvent {
	t.Helper()
	var out []parsedEvent
	for block := range strings.SplitSeq(stream, "\n\n") {
		var ev parsedEvent
		for line := range strings.SplitSeq(block, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				ev.name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				if err := json.Unmarshal([]byte(v), &ev.data); err != nil {
					t.Fatalf("event data %q: %v", v, err)
				}
			}
		}
		if ev.data != nil {
			out = append(out, ev)
		}
	}
	return out
}

// TestIngestJobsUnavailable: without processing the job routes are a 503.
func TestIngestJobsUnavailable(t *testing.T) {
	ms := newMediaServer(t, false)
	id := ms.upload(t, callerUser, "a.txt", "words")
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/v1/media/ingest/jobs", ""},
		{http.MethodGet, "/api/v1/media/ingest/jobs/1", ""},
		{http.MethodGet, "/api/v1/media/ingest/jobs/1/events", ""},
		{http.MethodDelete, "/api/v1/media/ingest/jobs/1", ""},
		{http.MethodPost, "/api/v1/media/ingest/jobs/1/retry", ""},
		{http.MethodPost, fmt.Sprintf("/api/v1/media/%d/reprocess", id), "{}"},
	} {
		if rec := ms.call(t, callerUser, c.method, c.path, c.body, nil); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s = %d\n%s", c.method, c.path, rec.Code, rec.Body)
		}
	}
	for _, name := range processRoutes {
		body, ct := multipartForm(t, formFile("files", "a.txt", "words"))
		if rec := ms.call(t, callerUser, http.MethodPost, "/api/v1/media/"+name, body, map[string]string{"Content-Type": ct}); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s = %d\n%s", name, rec.Code, rec.Body)
		}
	}
}

// processRoutes are the ephemeral processing routes.
var processRoutes = []string{"process-documents", "process-pdfs", "process-ebooks", "process-emails", "process-code"}

// TestMediaProcessEphemeral: the process-* routes answer with the text and chunk count of
// each file, store nothing and leave no temporary file; bad options are a 422.
func TestMediaProcessEphemeral(t *testing.T) {
	ms, _, _ := newProcessingServer(t, false)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, name := range processRoutes {
		body, ct := multipartForm(t, formFile("files", "notes.txt", words300), formField("chunk_size", "100"),
			formField("chunk_overlap", "0"), formField("media_type", "video"), formField("urls", "https://example.com/x"))
		rec := ms.call(t, callerUser, http.MethodPost, "/api/v1/media/"+name, body, map[string]string{"Content-Type": ct})
		if rec.Code != http.StatusMultiStatus {
			t.Fatalf("%s = %d\n%s", name, rec.Code, rec.Body)
		}
		res := decodeProcessed(t, rec.Body.Bytes())
		if len(res) != 2 || res[0].Status != "Success" || res[0].Content == nil || *res[0].Content != words300 ||
			res[0].Chunks != 3 || res[0].DBID != nil || res[1].Status != "Error" {
			t.Errorf("%s results = %s", name, rec.Body)
		}
	}
	body, ct := multipartForm(t, formFile("files", "notes.txt", words300), formField("chunk_method", "semantic"))
	if rec := ms.call(t, callerUser, http.MethodPost, "/api/v1/media/process-documents", body, map[string]string{"Content-Type": ct}); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("semantic = %d\n%s", rec.Code, rec.Body)
	}
	body, ct = multipartForm(t, formFile("files", "blob.bin", "\x00\x01\x02binary"))
	rec := ms.call(t, callerUser, http.MethodPost, "/api/v1/media/process-documents", body, map[string]string{"Content-Type": ct})
	if res := decodeProcessed(t, rec.Body.Bytes()); rec.Code != http.StatusMultiStatus || res[0].Status != "Error" || res[0].Error == nil {
		t.Errorf("binary = %d\n%s", rec.Code, rec.Body)
	}
	ms.wantEmpty(t, callerUser)
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
