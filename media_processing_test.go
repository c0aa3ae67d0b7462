package tldw_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/storage/sqlstore"
)

// waitJob waits until the user's job reaches state (River records a job's end just after
// the handler returns, so it may trail the item's status briefly).
func waitJob(t testing.TB, app *tldw.App, uid, id int64, state media.JobState) *media.Job {
	t.Helper()
	var job *media.Job
	mediatest.Eventually(t, fmt.Sprintf("job %d to be %s", id, state), func() bool {
		var err error
		if job, err = app.Media().JobOf(context.Background(), media.Actor{UserID: uid}, id); err != nil {
			t.Fatal(err)
		}
		return job.State == state
	})
	return job
}

// processingConfig is a quiet SQLite App configuration in dir.
func processingConfig(dir string) tldw.Config {
	cfg := tldw.DefaultConfig()
	cfg.DataDir = dir
	cfg.LogLevel = 8
	cfg.MediaWorkers = 4
	return cfg
}

// mediaUser creates a user and returns its id.
func mediaUser(t testing.TB, app *tldw.App, name string) int64 {
	t.Helper()
	u, err := app.Accounts().CreateUser(context.Background(), auth.SystemPrincipal(), auth.NewUser{
		Username: name, Email: name + "@example.com", Password: "Brave-Falcon-92!", Role: auth.RoleUser,
	}, auth.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// upload stores one file of the user through the media service.
func upload(t testing.TB, app *tldw.App, uid int64, name, body string) *media.Result {
	t.Helper()
	res, err := app.Media().Upload(context.Background(), media.Upload{Actor: media.Actor{UserID: uid},
		Filename: name, MediaType: media.TypeDocument, Body: strings.NewReader(body), DeclaredSize: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitProcessed waits (up to 90 s) for the item to finish processing.
func waitProcessed(t testing.TB, app *tldw.App, uid, id int64) *media.Processing {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := app.Media().WaitProcessed(ctx, uid, id)
	if err != nil {
		t.Fatalf("WaitProcessed(%d): %v (state %+v)", id, err, p)
	}
	return p
}

var article = strings.Repeat("The quick brown fox jumps over the lazy dog. ", 120) // 1080 words

// TestMediaProcessingEndToEnd uploads a text file and a web page and reads back their text
// and chunks; an unsupported file fails at once with a clear message and no retry.
func TestMediaProcessingEndToEnd(t *testing.T) {
	ctx := context.Background()
	app := openApp(t, processingConfig(t.TempDir()))
	defer app.Close()
	uid := mediaUser(t, app, "reader")
	me := media.Actor{UserID: uid}

	txt := upload(t, app, uid, "notes.txt", article)
	if txt.Job == nil || txt.Item.Status != media.StatusQueued {
		t.Fatalf("upload result = %+v, want a queued item with a job", txt)
	}
	p := waitProcessed(t, app, uid, txt.Item.ID)
	if p.Status != media.StatusProcessed || p.WordCount != 1080 || p.ChunkCount != 3 {
		t.Fatalf("processing = %+v, want processed, 1080 words, 3 chunks (500 words, 200 overlap)", p)
	}
	c, err := app.Media().ContentOf(ctx, me, txt.Item.ID)
	if err != nil || strings.TrimSpace(c.Text) != strings.TrimSpace(article) {
		t.Fatalf("content = %q, %v", c.Text[:min(len(c.Text), 80)], err)
	}
	chunks, err := app.Media().ChunksOf(ctx, me, txt.Item.ID, 0, -1)
	if err != nil || len(chunks) != 3 || chunks[2].Text != c.Text[chunks[2].Start:chunks[2].End] {
		t.Fatalf("chunks = %d, %v", len(chunks), err)
	}
	if it, _ := app.Media().Store.ByID(ctx, uid, txt.Item.ID); it.Status != media.StatusProcessed {
		t.Errorf("stored item status = %s", it.Status)
	}
	if job := waitJob(t, app, uid, txt.Job.ID, media.JobCompleted); job.ItemID != txt.Item.ID || job.Attempt != 1 {
		t.Errorf("job = %+v", job)
	}

	page := upload(t, app, uid, "page.html", `<!doctype html><html><head><title>Foxes</title></head><body>
		<nav>Home | About</nav><article><h1>On foxes</h1><p>`+article+`</p></article></body></html>`)
	p = waitProcessed(t, app, uid, page.Item.ID)
	c, _ = app.Media().ContentOf(ctx, me, page.Item.ID)
	if p.Status != media.StatusProcessed || !strings.Contains(c.Text, "quick brown fox") || p.ChunkCount == 0 {
		t.Errorf("web page: %+v, text %q", p, c.Text[:min(len(c.Text), 80)])
	}

	doc := upload(t, app, uid, "report.docx", docx(t, "Quarterly report", "Foxes outran the dogs again."))
	p = waitProcessed(t, app, uid, doc.Item.ID)
	c, _ = app.Media().ContentOf(ctx, me, doc.Item.ID)
	if p.Status != media.StatusProcessed || c == nil || !strings.Contains(c.Text, "Quarterly report") ||
		!strings.Contains(c.Text, "Foxes outran the dogs again.") || p.ChunkCount != 1 {
		t.Errorf("docx: %+v, content %+v", p, c)
	}

	bin := upload(t, app, uid, "blob.bin", "\x00\x01\x02\x03 binary")
	p = waitProcessed(t, app, uid, bin.Item.ID)
	if p.Status != media.StatusFailed || !strings.Contains(p.Error, "blob.bin has type application/octet-stream, which this server does not extract text from") {
		t.Errorf("unsupported file: %+v, want failed with the reason", p)
	}
	if job := waitJob(t, app, uid, bin.Job.ID, media.JobFailed); job.Attempt != 1 || !strings.Contains(job.Error, "does not extract text") {
		t.Errorf("unsupported file's job = %+v, want failed after one attempt", job)
	}

	// Reprocessing with new chunk options re-chunks the stored text.
	re, err := app.Media().Reprocess(ctx, me, txt.Item.ID, media.ProcessOptions{Chunk: media.ChunkOptions{Method: media.ChunkSentences, Size: 10, Overlap: 0}})
	if err != nil || re.Options.From != media.StageChunk {
		t.Fatalf("Reprocess = %+v, %v", re, err)
	}
	if p = waitProcessed(t, app, uid, txt.Item.ID); p.ChunkCount != 12 {
		t.Errorf("after reprocessing by 10 sentences: %d chunks, want 12", p.ChunkCount)
	}
	jobs, err := app.Media().ListJobs(ctx, me, media.JobFilter{})
	if err != nil || len(jobs) != 5 {
		t.Errorf("ListJobs = %d jobs, %v; want 5", len(jobs), err)
	}
}

// TestMediaProcessingDefaultExtractors runs the App's default extractors on what a
// newcomer uploads first: a text PDF, a scanned PDF and a photo of text (OCR), and chunks
// by tokens.
func TestMediaProcessingDefaultExtractors(t *testing.T) {
	mediatest.NeedTools(t, "enscript", "ps2pdf", "img2pdf", "convert", "pdftotext", "pdftoppm", "tesseract", "pandoc")
	ctx := context.Background()
	app := openApp(t, processingConfig(t.TempDir()))
	defer app.Close()
	rec := httptest.NewRecorder()
	app.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/health", nil))
	if !strings.Contains(rec.Body.String(), `"media_tools":"ok"`) {
		t.Errorf("health with every tool installed = %s, want media_tools ok", rec.Body)
	}
	uid := mediaUser(t, app, "scanner")
	me := media.Actor{UserID: uid}
	pages := []string{"The first page speaks of foxes and hounds.", "The second page speaks of rivers and hills."}
	cases := []struct {
		name, body string
		want       []string
	}{
		{"text.pdf", string(mediatest.TextPDF(t, pages...)), pages},
		{"scan.pdf", string(mediatest.ScannedPDF(t, "A scanned letter about foxes")), []string{"scanned letter about foxes"}},
		{"photo.png", string(mediatest.TextImage(t, "A photo of a sign about hills")), []string{"photo of a sign about hills"}},
	}
	for _, c := range cases {
		res := upload(t, app, uid, c.name, c.body)
		p := waitProcessed(t, app, uid, res.Item.ID)
		content, err := app.Media().ContentOf(ctx, me, res.Item.ID)
		if p.Status != media.StatusProcessed || err != nil {
			t.Fatalf("%s: %+v, %v", c.name, p, err)
		}
		for _, w := range c.want {
			if !strings.Contains(strings.Join(strings.Fields(content.Text), " "), w) {
				t.Errorf("%s: text %q lacks %q", c.name, content.Text, w)
			}
		}
	}

	txt := upload(t, app, uid, "tokens.txt", article)
	waitJob(t, app, uid, txt.Job.ID, media.JobCompleted)
	if _, err := app.Media().Reprocess(ctx, me, txt.Item.ID, media.ProcessOptions{Chunk: media.ChunkOptions{Method: media.ChunkTokens, Size: 100, Overlap: 0}}); err != nil {
		t.Fatal(err)
	}
	// "The quick brown fox jumps over the lazy dog." is 10 cl100k tokens; 120 of them in 100s.
	if p := waitProcessed(t, app, uid, txt.Item.ID); p.ChunkCount != 12 {
		t.Errorf("chunk_method=tokens, 100 per chunk: %d chunks, want 12", p.ChunkCount)
	}
}

// docx builds a minimal Word document with one paragraph per argument.
func docx(t *testing.T, paras ...string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var body strings.Builder
	for _, p := range paras {
		body.WriteString(`<w:p><w:r><w:t>` + p + `</w:t></w:r></w:p>`)
	}
	for name, data := range map[string]string{
		"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ` +
			`ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
		"word/document.xml": `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			body.String() + `</w:body></w:document>`,
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestMediaProcessingTransientRetry: an extractor failure that is not permanent is retried
// (River's backoff) and the item completes on the second attempt.
func TestMediaProcessingTransientRetry(t *testing.T) {
	app := tldw.New(processingConfig(t.TempDir()))
	var calls atomic.Int32
	app.Extractor = mediatest.ExtractorFunc(func(ctx context.Context, src media.Source) (*media.Extracted, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("storage backend timed out")
		}
		return mediatest.PlainText(ctx, src)
	})
	if err := app.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	uid := mediaUser(t, app, "retrier")
	res := upload(t, app, uid, "notes.txt", article)
	p := waitProcessed(t, app, uid, res.Item.ID)
	job := waitJob(t, app, uid, res.Job.ID, media.JobCompleted)
	if p.Status != media.StatusProcessed || calls.Load() != 2 || job.Attempt != 2 || job.Error != "extract: storage backend timed out" {
		t.Errorf("processing %+v, %d extractor calls, job %+v; want processed on attempt 2", p, calls.Load(), job)
	}
	if ex := p.Stage(media.StageExtract); ex.Attempts != 2 || ex.Status != media.StageDone {
		t.Errorf("extract stage = %+v, want done after 2 attempts", ex)
	}
}

// TestMediaJobSurvivesKill starts a child process (this test binary) that uploads a file
// and blocks in the extractor; the child is killed with SIGKILL mid-job, and a new App on
// the same database rescues the job and completes the item.
func TestMediaJobSurvivesKill(t *testing.T) {
	if dir := os.Getenv("TLDW_TEST_KILL_CHILD"); dir != "" {
		killChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMediaJobSurvivesKill$")
	cmd.Env = append(os.Environ(), "TLDW_TEST_KILL_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var uid, id int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, _ := fmt.Sscanf(sc.Text(), "item %d %d", &uid, &id); n == 2 {
			break
		}
	}
	if id == 0 {
		t.Fatal("the child reported no item")
	}
	cfg := processingConfig(dir)
	db, err := sqlstore.Open(context.Background(), cfg.ResolvedDatabaseURL(), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mediatest.Eventually(t, "the child to be extracting", func() bool {
		p, err := db.Processing().Processing(context.Background(), uid, id)
		return err == nil && p.Stage(media.StageExtract).Status == media.StageRunning
	})
	db.Close()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup, the job stays "running"
		t.Fatal(err)
	}
	_ = cmd.Wait()

	cfg.MediaJobTimeout = time.Second // rescue after 6 s
	app := openApp(t, cfg)
	defer app.Close()
	p := waitProcessed(t, app, uid, id)
	c, _ := app.Media().ContentOf(context.Background(), media.Actor{UserID: uid}, id)
	if p.Status != media.StatusProcessed || c == nil || strings.TrimSpace(c.Text) != strings.TrimSpace(article) {
		t.Fatalf("after the restart: %+v", p)
	}
	if ex := p.Stage(media.StageExtract); ex.Attempts != 2 {
		t.Errorf("extract stage = %+v, want a second attempt", ex)
	}
}

// killChild is the child of TestMediaJobSurvivesKill: it uploads, reports the item and
// blocks in the extractor until it is killed.
func killChild(t *testing.T, dir string) {
	app := tldw.New(processingConfig(dir))
	app.Config.MediaJobTimeout = 10 * time.Minute
	app.Extractor = mediatest.ExtractorFunc(func(ctx context.Context, _ media.Source) (*media.Extracted, error) {
		select {} // until SIGKILL
	})
	if err := app.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	uid := mediaUser(t, app, "victim")
	res := upload(t, app, uid, "notes.txt", article)
	fmt.Printf("item %d %d\n", uid, res.Item.ID)
	select {}
}

// countingExtractor counts extractions per item (by file name) across Apps.
type countingExtractor struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingExtractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	c.mu.Lock()
	c.calls[src.Name]++
	c.mu.Unlock()
	return mediatest.PlainText(ctx, src)
}

// TestMediaProcessingTwoReplicas: two Apps on one PostgreSQL process 50 items, and no
// item is extracted twice.
func TestMediaProcessingTwoReplicas(t *testing.T) {
	dbURL := testenv.Postgres(t)
	mediaDir := t.TempDir()
	count := &countingExtractor{calls: map[string]int{}}
	var apps []*tldw.App
	for range 2 {
		cfg := processingConfig(t.TempDir())
		cfg.DatabaseURL = tldw.DSN(dbURL)
		cfg.MediaStoragePath = mediaDir
		cfg.JWTSecretKey = "replica-shared-secret-0123456789-abcdefghijklmnop"
		app := tldw.New(cfg)
		app.Extractor = count
		if err := app.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer app.Close()
		apps = append(apps, app)
	}
	type ref struct{ uid, id int64 }
	var items []ref
	for u := range 5 {
		uid := mediaUser(t, apps[u%2], fmt.Sprintf("replica%d", u))
		for i := range 10 {
			res := upload(t, apps[i%2], uid, fmt.Sprintf("u%d-doc%d.txt", u, i), fmt.Sprintf("document %d of user %d. %s", i, u, article))
			items = append(items, ref{uid, res.Item.ID})
		}
	}
	for i, it := range items {
		if p := waitProcessed(t, apps[i%2], it.uid, it.id); p.Status != media.StatusProcessed {
			t.Errorf("item %d: %+v", it.id, p)
		}
	}
	count.mu.Lock()
	defer count.mu.Unlock()
	if len(count.calls) != 50 {
		t.Errorf("%d items extracted, want 50", len(count.calls))
	}
	for name, n := range count.calls {
		if n != 1 {
			t.Errorf("%s extracted %d times, want once", name, n)
		}
	}
}

// TestMediaProcessingFairness: while user A's many jobs hold A's two slots, user B's one
// job runs at once instead of waiting behind A's queue.
func TestMediaProcessingFairness(t *testing.T) {
	release := make(chan struct{})
	var running, most atomic.Int32
	app := tldw.New(processingConfig(t.TempDir()))
	app.Extractor = mediatest.ExtractorFunc(func(ctx context.Context, src media.Source) (*media.Extracted, error) {
		if strings.HasPrefix(src.Name, "a-") {
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return mediatest.PlainText(ctx, src)
	})
	if err := app.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	a, b := mediaUser(t, app, "usera"), mediaUser(t, app, "userb")
	var as []int64
	for i := range 20 {
		as = append(as, upload(t, app, a, fmt.Sprintf("a-%d.txt", i), fmt.Sprintf("%d %s", i, article)).Item.ID)
	}
	mediatest.Eventually(t, "two of A's jobs to run", func() bool { return running.Load() == 2 })
	bid := upload(t, app, b, "b.txt", article).Item.ID
	if p := waitProcessed(t, app, b, bid); p.Status != media.StatusProcessed {
		t.Fatalf("B's item: %+v", p)
	}
	if n := running.Load(); n != 2 {
		t.Errorf("A has %d jobs running when B's finished, want 2 (B did not wait for A's queue)", n)
	}
	close(release)
	for _, id := range as {
		waitProcessed(t, app, a, id)
	}
	if m := most.Load(); m != 2 {
		t.Errorf("A had up to %d jobs running at once, want 2 (MEDIA_MAX_ACTIVE_JOBS_PER_USER)", m)
	}
}
