package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
)

// testExtractor returns a file's bytes as its text. A file named hold.txt blocks until
// release is closed (it keeps its user's only job slot busy, so their next job stays
// queued); flaky.txt fails permanently while failing is set.
type testExtractor struct {
	release chan struct{}
	failing atomic.Bool
}

func (x *testExtractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	switch src.Name {
	case "hold.txt":
		select {
		case <-x.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "flaky.txt":
		if x.failing.Load() {
			return nil, fmt.Errorf("%w: flaky input", media.ErrInvalid)
		}
	}
	rc, err := src.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return &media.Extracted{Text: string(b)}, nil
}

// TestMediaCommands drives `tldwd media` against a database that another App (standing in
// for the running server) shares, on SQLite and PostgreSQL.
func TestMediaCommands(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testMediaCommands(t, "") })
	t.Run("postgres", func(t *testing.T) { testMediaCommands(t, postgresURL(t)) })
}

func testMediaCommands(t *testing.T, dbURL string) {
	env := map[string]string{"TLDW_DATA_DIR": t.TempDir(), "LOG_LEVEL": "ERROR", "MEDIA_MAX_ACTIVE_JOBS_PER_USER": "1"}
	if dbURL != "" {
		env["DATABASE_URL"] = dbURL
	}
	run := func(args ...string) (int, string, string) {
		return runCLI(t, env, append([]string{"media"}, args...)...)
	}
	ctx := context.Background()

	cfg, err := tldw.FromEnv(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	x := &testExtractor{release: make(chan struct{})}
	x.failing.Store(true)
	server := tldw.New(cfg)
	server.Extractor = x
	if err := server.Open(ctx); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			close(x.release)
		}
	}
	t.Cleanup(func() { release(); server.Close() })
	user := func(name string) int64 {
		u, err := server.Accounts().CreateUser(ctx, auth.SystemPrincipal(), auth.NewUser{
			Username: name, Email: name + "@example.com", Password: "Brave-Falcon-92!", Role: auth.RoleUser}, auth.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	upload := func(uid int64, name, body string) *media.Result {
		res, err := server.Media().Upload(ctx, media.Upload{Actor: media.Actor{UserID: uid}, Filename: name,
			MediaType: media.TypeDocument, Body: strings.NewReader(body), DeclaredSize: int64(len(body))})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	waitState := func(uid, id int64, st media.JobState) {
		mediatest.Eventually(t, fmt.Sprintf("job %d %s", id, st), func() bool {
			j, err := server.Media().JobOf(ctx, media.Actor{UserID: uid}, id)
			if err != nil {
				t.Fatal(err)
			}
			return j.State == st
		})
	}
	alice, bob := user("alice"), user("bob")
	hold := upload(alice, "hold.txt", "held")
	waitState(alice, hold.Job.ID, media.JobRunning)
	queued := upload(alice, "queued.txt", "waits behind hold")
	doc := upload(bob, "doc.txt", strings.Repeat("lorem ipsum dolor sit amet ", 200))
	flaky := upload(bob, "flaky.txt", "works the second time")
	waitState(bob, doc.Job.ID, media.JobCompleted)
	waitState(bob, flaky.Job.ID, media.JobFailed)

	// jobs: table, filters by user and state, JSON.
	code, out, errs := run("jobs")
	if code != 0 || !strings.HasPrefix(out, "ID") || !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Fatalf("media jobs = %d %q %q", code, out, errs)
	}
	// The queued job shows as running while a worker checks its user's slot, then snoozes.
	mediatest.Eventually(t, "alice's queued job listed alone", func() bool {
		code, out, errs = run("jobs", "--user", "alice", "--state", "queued")
		if code != 0 {
			t.Fatalf("jobs --user alice --state queued = %d %q", code, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return len(lines) == 2 && strings.HasPrefix(lines[1], strconv.FormatInt(queued.Job.ID, 10)+" ")
	})
	code, out, _ = run("jobs", "--user", strconv.FormatInt(bob, 10), "--json")
	var rows []jobRow
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 2 {
		t.Fatalf("jobs --json = %d %v %q", code, err, out)
	}
	for _, r := range rows {
		if r.UserID != bob || r.User != "bob" {
			t.Errorf("bob's listing has %+v", r)
		}
		if r.ID == flaky.Job.ID && (r.State != "failed" || !strings.Contains(r.Error, "flaky input") || r.Stage != "extract") {
			t.Errorf("failed job row = %+v", r)
		}
	}
	if code, out, _ = run("jobs", "--state", "completed", "--json"); code != 0 || !strings.Contains(out, `"state": "completed"`) || strings.Contains(out, `"state": "queued"`) {
		t.Errorf("jobs --state completed = %d %q", code, out)
	}

	// cancel a queued job; unknown jobs and bad flags.
	// (A worker may be checking the job's slot at that moment: it is then running briefly.)
	if code, out, errs = run("cancel", strconv.FormatInt(queued.Job.ID, 10)); code != 0 || !(strings.Contains(out, "cancelled") || strings.Contains(out, "told to stop")) {
		t.Errorf("cancel = %d %q %q", code, out, errs)
	}
	waitState(alice, queued.Job.ID, media.JobCancelled)
	if code, _, errs = run("cancel", "999999"); code != 1 || !strings.Contains(errs, "no job 999999") {
		t.Errorf("cancel unknown = %d %q", code, errs)
	}
	for _, args := range [][]string{{"cancel"}, {"cancel", "x"}, {"jobs", "--state", "sleeping"}, {"reprocess"}, {"reprocess", "--id", "1", "--ocr-mode", "sometimes"}, {"frobnicate"}, {"jobs", "--nope"}, {"jobs", "--limit", "500"}} {
		if code, _, errs = run(args...); code != 2 {
			t.Errorf("media %v = %d %q; want 2", args, code, errs)
		}
	}

	// retry the failed job, waiting: plain lines, no \r (stdout is not a terminal).
	x.failing.Store(false)
	code, out, errs = run("retry", strconv.FormatInt(flaky.Job.ID, 10), "--wait")
	if code != 0 || !strings.Contains(out, "queued again") || !strings.Contains(out, "processed:") || strings.Contains(out, "\r") {
		t.Errorf("retry --wait = %d %q %q", code, out, errs)
	}
	if code, _, errs = run("retry", strconv.FormatInt(doc.Job.ID, 10)); code != 1 || !strings.Contains(errs, "completed") {
		t.Errorf("retry of a completed job = %d %q", code, errs)
	}

	// reprocess with smaller chunks changes the chunk count.
	before, err := server.Media().ProcessingOf(ctx, media.Actor{UserID: bob}, doc.Item.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs = run("reprocess", "--id", strconv.FormatInt(doc.Item.ID, 10), "--chunk-method", "words", "--chunk-size", "50", "--chunk-overlap", "0", "--wait", "--json")
	var res struct {
		Job  jobRow
		Item itemRow
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.Item.Status != "processed" || res.Job.State != "completed" || res.Item.ChunkCount == before.ChunkCount || res.Item.ChunkCount != 20 {
		t.Errorf("reprocess = %d %v %q %q (chunks before %d)", code, err, out, errs, before.ChunkCount)
	}
	code, out, errs = run("reprocess", "--id", strconv.FormatInt(doc.Item.ID, 10), "--ocr-mode", "off", "--wait")
	if code != 0 || !strings.Contains(out, "from probe") || !strings.Contains(out, "item "+strconv.FormatInt(doc.Item.ID, 10)+" 6/6 processed") {
		t.Errorf("reprocess --ocr-mode = %d %q %q", code, out, errs)
	}
	if code, _, errs = run("reprocess", "--id", "999999"); code != 1 || !strings.Contains(errs, "no media item 999999") {
		t.Errorf("reprocess unknown = %d %q", code, errs)
	}
	if code, _, errs = run("reprocess", "--id", strconv.FormatInt(doc.Item.ID, 10), "--chunk-method", "haiku"); code != 1 {
		t.Errorf("reprocess bad method = %d %q", code, errs)
	}
	release()
	waitState(alice, hold.Job.ID, media.JobCompleted)
}

// TestProgress checks the bar on a terminal redraws one line and plain output has none.
func TestProgress(t *testing.T) {
	states := []*media.Processing{
		{ItemID: 7, Status: media.StatusQueued},
		{ItemID: 7, Status: media.StatusProcessing, Stages: []media.StageState{{Stage: media.StageProbe, Status: media.StageDone}, {Stage: media.StageExtract, Status: media.StageRunning}}},
		{ItemID: 7, Status: media.StatusProcessing, Stages: []media.StageState{{Stage: media.StageProbe, Status: media.StageDone}, {Stage: media.StageExtract, Status: media.StageRunning}}},
		{ItemID: 7, Status: media.StatusProcessed, Stages: []media.StageState{{Stage: media.StageProbe, Status: media.StageDone}, {Stage: media.StageExtract, Status: media.StageDone},
			{Stage: media.StageTranscribe, Status: media.StageSkipped}, {Stage: media.StageChunk, Status: media.StageDone}, {Stage: media.StageIndex, Status: media.StageSkipped}, {Stage: media.StageAnalyze, Status: media.StageSkipped}}},
	}
	var tty, plain bytes.Buffer
	pt, pp := newProgress(&tty, true, true), newProgress(&plain, true, false)
	for _, p := range states {
		pt.show(p)
		pp.show(p)
	}
	pt.done()
	pp.done()
	if got := strings.Count(tty.String(), "\r"); got != 3 || !strings.Contains(tty.String(), "[########################] item 7 6/6 processed") || strings.Count(tty.String(), "\n") != 1 {
		t.Errorf("terminal output %q", tty.String())
	}
	want := "item 7 0/6 queued\nitem 7 1/6 extract\nitem 7 6/6 processed\n"
	if plain.String() != want || strings.Contains(plain.String(), "\r") {
		t.Errorf("plain output %q; want %q", plain.String(), want)
	}
	if isTerminal(&plain) {
		t.Error("a buffer is not a terminal")
	}
}

// TestMediaREADMEExamples runs the README's `tldwd media` examples: each parses (exit 0, or 1
// for the absent user, job or item of a fresh database; never 2).
func TestMediaREADMEExamples(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "### Processing jobs from the command line")
	if !ok {
		t.Fatal("README has no media command section")
	}
	env := map[string]string{"TLDW_DATA_DIR": t.TempDir(), "LOG_LEVEL": "ERROR"}
	n := 0
	for _, line := range strings.Split(sec, "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		args, ok := strings.CutPrefix(strings.TrimSpace(cmd), "tldwd media ")
		if !ok {
			continue
		}
		n++
		code, out, errs := runCLI(t, env, append([]string{"media"}, strings.Fields(args)...)...)
		if code == 2 || (code != 0 && !strings.Contains(errs, "no ") && !strings.Contains(errs, "not found")) {
			t.Errorf("%s = %d %q %q", line, code, out, errs)
		}
	}
	if n < 5 {
		t.Errorf("found %d examples", n)
	}
}
