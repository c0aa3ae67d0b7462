package tldw_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media/mediatest"
)

// ingestServer opens a processing App served over httptest with one user, and returns the
// server and the user's access token.
func ingestServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	app := openApp(t, processingConfig(t.TempDir()))
	t.Cleanup(func() { app.Close() })
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	mediaUser(t, app, "ingester")
	return srv, loginToken(t, srv.URL, "ingester")
}

// apiCall sends a request with the token and returns the status and body.
func apiCall(t *testing.T, srv *httptest.Server, token, method, path, ct string, body io.Reader, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// addForm is a /media/add form: the file first, then the fields (as curl -F files=@x -F k=v
// sends them).
func addForm(t *testing.T, name, content string, fields ...string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("files", name)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, content)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), &buf
}

// addResult is the part of a /media/add result these tests read.
type addResult struct {
	Results []struct {
		Status  string  `json:"status"`
		Content *string `json:"content"`
		Chunks  int     `json:"chunks"`
		DBID    int64   `json:"db_id"`
		MediaID int64   `json:"media_id"`
		JobID   *int64  `json:"job_id"`
	} `json:"results"`
	ProcessedCount int `json:"processed_count"`
}

// TestMediaAddHTTPProcesses: a .txt posted to /media/add (fields after the file) comes back
// with its text and chunk count, and GET /media/{id} shows the text and the late title.
func TestMediaAddHTTPProcesses(t *testing.T) {
	srv, token := ingestServer(t)
	ct, body := addForm(t, "notes.txt", article, "media_type", "document", "title", "Fox notes")
	code, b := apiCall(t, srv, token, http.MethodPost, "/api/v1/media/add", ct, body)
	var res addResult
	if err := json.Unmarshal(b, &res); err != nil || code != http.StatusOK || len(res.Results) != 1 {
		t.Fatalf("add = %d %v\n%s", code, err, b)
	}
	r0 := res.Results[0]
	if r0.Status != "Success" || r0.Content == nil || strings.TrimSpace(*r0.Content) != strings.TrimSpace(article) ||
		r0.Chunks != 3 || r0.MediaID != r0.DBID || r0.JobID == nil {
		t.Fatalf("result = %s", b)
	}
	code, b = apiCall(t, srv, token, http.MethodGet, fmt.Sprintf("/api/v1/media/%d", r0.DBID), "", nil)
	var got struct {
		Title      string         `json:"title"`
		Processing map[string]any `json:"processing"`
		Content    struct {
			Text      string `json:"text"`
			WordCount int    `json:"word_count"`
		} `json:"content"`
		HasOriginalFile bool `json:"has_original_file"`
	}
	if err := json.Unmarshal(b, &got); err != nil || code != http.StatusOK {
		t.Fatalf("get = %d %v\n%s", code, err, b)
	}
	if got.Title != "Fox notes" || strings.TrimSpace(got.Content.Text) != strings.TrimSpace(article) ||
		got.Content.WordCount != 1080 || got.Processing["status"] != "processed" ||
		got.Processing["chunking_status"] != "completed" || !got.HasOriginalFile {
		t.Errorf("get = %s", b[:min(len(b), 400)])
	}
}

// TestMediaAddHTTPAsyncJobs: async=true answers 202 with a job id; the job completes (read
// by polling), its event stream ends with the final state, and reprocessing with smaller
// chunks changes the chunk count.
func TestMediaAddHTTPAsyncJobs(t *testing.T) {
	srv, token := ingestServer(t)
	ct, body := addForm(t, "async.txt", article, "media_type", "document", "async", "true")
	code, b := apiCall(t, srv, token, http.MethodPost, "/api/v1/media/add", ct, body)
	var res addResult
	if err := json.Unmarshal(b, &res); err != nil || code != http.StatusAccepted || res.Results[0].Status != "Queued" ||
		res.Results[0].JobID == nil {
		t.Fatalf("async add = %d %v\n%s", code, err, b)
	}
	jobPath := fmt.Sprintf("/api/v1/media/ingest/jobs/%d", *res.Results[0].JobID)
	type job struct {
		ID         int64  `json:"id"`
		MediaID    int64  `json:"media_id"`
		State      string `json:"state"`
		Processing struct {
			ChunkCount int `json:"chunk_count"`
		} `json:"processing"`
	}
	readJob := func(path string) job {
		code, b := apiCall(t, srv, token, http.MethodGet, path, "", nil)
		var j job
		if err := json.Unmarshal(b, &j); err != nil || code != http.StatusOK {
			t.Fatalf("GET %s = %d %v\n%s", path, code, err, b)
		}
		return j
	}
	var j job
	mediatest.Eventually(t, "the async job to complete", func() bool {
		j = readJob(jobPath)
		return j.State == "completed"
	})
	if j.Processing.ChunkCount != 3 {
		t.Errorf("job = %+v, want 3 chunks", j)
	}
	if last := lastEvent(t, srv, token, jobPath+"/events"); !strings.Contains(last, `"state":"completed"`) ||
		!strings.Contains(last, `"percent":100`) {
		t.Errorf("last event = %q", last)
	}

	code, b = apiCall(t, srv, token, http.MethodPost, fmt.Sprintf("/api/v1/media/%d/reprocess", j.MediaID), "application/json",
		strings.NewReader(`{"chunk_method":"words","chunk_size":100,"chunk_overlap":0}`))
	var re job
	if err := json.Unmarshal(b, &re); err != nil || code != http.StatusAccepted || re.ID == j.ID {
		t.Fatalf("reprocess = %d %v\n%s", code, err, b)
	}
	again := fmt.Sprintf("/api/v1/media/ingest/jobs/%d", re.ID)
	if last := lastEvent(t, srv, token, again+"/events"); !strings.Contains(last, `"state":"completed"`) {
		t.Fatalf("reprocess last event = %q", last)
	}
	if n := readJob(again).Processing.ChunkCount; n != 11 {
		t.Errorf("chunks after reprocess = %d, want 11 (1080 words by 100)", n)
	}
}

// lastEvent reads an event stream to its end and returns its last event block.
func lastEvent(t *testing.T, srv *httptest.Server, token, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var last, cur strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "" {
			if cur.Len() > 0 && !strings.HasPrefix(cur.String(), ":") {
				last.Reset()
				last.WriteString(cur.String())
			}
			cur.Reset()
			continue
		}
		cur.WriteString(sc.Text() + "\n")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return last.String()
}

// TestMediaAddHTTPURL: a web page by URL (an allowlisted local server) comes back as its
// article text; a URL to a refused address is that URL's url_not_allowed error (207).
func TestMediaAddHTTPURL(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>Foxes</title></head><body><nav>Home | About</nav>`+
			`<article><h1>On foxes</h1><p>`+article+`</p></article></body></html>`)
	}))
	defer page.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(page.URL, "http://"), ":")
	cfg := processingConfig(t.TempDir())
	cfg.MediaURLAllowlist = []string{"localhost"}
	app := openApp(t, cfg)
	t.Cleanup(func() { app.Close() })
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	mediaUser(t, app, "surfer")
	token := loginToken(t, srv.URL, "surfer")

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("urls", "http://localhost:"+port+"/foxes.html")
	mw.WriteField("urls", "http://127.0.0.1:"+port+"/foxes.html")
	mw.WriteField("media_type", "document")
	mw.Close()
	code, b := apiCall(t, srv, token, http.MethodPost, "/api/v1/media/add", mw.FormDataContentType(), &buf)
	var res struct {
		Results []struct {
			Status    string  `json:"status"`
			Content   *string `json:"content"`
			ErrorCode string  `json:"error_code"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &res); err != nil || code != http.StatusMultiStatus || len(res.Results) != 2 {
		t.Fatalf("add = %d %v\n%s", code, err, b)
	}
	if r := res.Results[0]; r.Status != "Success" || r.Content == nil || !strings.Contains(*r.Content, "The quick brown fox") ||
		strings.Contains(*r.Content, "Home | About") {
		t.Errorf("page result = %s", b[:min(len(b), 600)])
	}
	if r := res.Results[1]; r.Status != "Error" || r.ErrorCode != "url_not_allowed" {
		t.Errorf("loopback result = %+v", r)
	}
}

// TestMediaProcessPDFsHTTP: process-pdfs answers with a generated PDF's text and stores
// nothing.
func TestMediaProcessPDFsHTTP(t *testing.T) {
	srv, token := ingestServer(t)
	pdf := mediatest.TextPDF(t, "The quick brown fox jumps over the lazy dog.")
	ct, body := addForm(t, "fox.pdf", string(pdf))
	code, b := apiCall(t, srv, token, http.MethodPost, "/api/v1/media/process-pdfs", ct, body)
	var res addResult
	if err := json.Unmarshal(b, &res); err != nil || code != http.StatusOK || len(res.Results) != 1 {
		t.Fatalf("process-pdfs = %d %v\n%s", code, err, b)
	}
	if r := res.Results[0]; r.Status != "Success" || r.Content == nil || mediatest.WER(*r.Content, "The quick brown fox jumps over the lazy dog.") > 0.02 ||
		r.Chunks != 1 || r.DBID != 0 {
		t.Errorf("result = %s", b)
	}
	code, b = apiCall(t, srv, token, http.MethodGet, "/api/v1/media", "", nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"total_items":0`) {
		t.Errorf("list after process-pdfs = %d %s", code, b)
	}
}
