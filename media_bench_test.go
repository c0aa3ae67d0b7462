package tldw_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
)

// The end-to-end media benchmarks of issue 11 item 10: every upload goes through the App's
// durable jobs (Service.Upload → job → extract → chunk → stored) on SQLite, and each
// iteration waits with WaitProcessed (woken when the run ends in this process). Run:
//
//	go test -run '^$' -bench 'BenchmarkIngest' -benchtime 3x .

var (
	pdf1800Once sync.Once
	pdf1800     []byte
)

// pdf1800Pages is a 1,800-page text PDF (mediatest.SamplePages), made once per test binary.
func pdf1800Pages(b *testing.B) []byte {
	pdf1800Once.Do(func() { pdf1800 = mediatest.TextPDF(b, mediatest.SamplePages(1800)...) })
	if pdf1800 == nil {
		b.Fatal("the 1,800-page PDF could not be made")
	}
	return pdf1800
}

// bigDocx is a Word document whose word/document.xml is about mb MiB, its first paragraph
// naming tag (so documents differ and are not deduplicated).
func bigDocx(b *testing.B, tag string, mb int) string {
	b.Helper()
	var body strings.Builder
	body.WriteString(`<w:p><w:r><w:t>` + tag + `</w:t></w:r></w:p>`)
	for i := 0; body.Len() < mb<<20; i++ {
		fmt.Fprintf(&body, `<w:p><w:r><w:t>Paragraph %d has some words in it, and a second clause</w:t></w:r><w:r><w:tab/><w:t>with a tab</w:t></w:r></w:p>`, i)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct{ name, data string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ` +
			`ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
		{"word/document.xml", `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			body.String() + `</w:body></w:document>`},
	} {
		w, err := zw.Create(f.name)
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(w, f.data)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.String()
}

// benchApp opens a quiet SQLite App for a benchmark, closed when it ends.
func benchApp(b *testing.B, workers, perUser int) *tldw.App {
	b.Helper()
	if testing.Short() {
		b.Skip("end-to-end benchmark; not in -short mode")
	}
	cfg := processingConfig(b.TempDir())
	cfg.MediaWorkers, cfg.MediaMaxActiveJobsPerUser = workers, perUser
	app := tldw.New(cfg)
	if err := app.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.Close() })
	return app
}

// users creates n users (outside the timed part: password hashing is slow by design).
func users(b *testing.B, app *tldw.App, prefix string, n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = mediaUser(b, app, prefix+strconv.Itoa(i))
	}
	return ids
}

// ingest uploads one file and waits until it is processed, with an error unless it ends
// processed with at least one chunk. It may run in any goroutine.
func ingest(app *tldw.App, uid int64, name, body string) (*media.Processing, error) {
	res, err := app.Media().Upload(context.Background(), media.Upload{Actor: media.Actor{UserID: uid},
		Filename: name, MediaType: media.TypeDocument, Body: strings.NewReader(body), DeclaredSize: int64(len(body))})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if res.Outcome != media.OutcomeCreated {
		return nil, fmt.Errorf("%s: outcome %s, want created", name, res.Outcome)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := app.Media().WaitProcessed(ctx, uid, res.Item.ID)
	if err != nil || p.Status != media.StatusProcessed || p.ChunkCount == 0 {
		return nil, fmt.Errorf("%s: %+v, %v; want processed with chunks", name, p, err)
	}
	return p, nil
}

// stageTime is how long stage s of a processed item took.
func stageTime(p *media.Processing, s media.Stage) time.Duration {
	st := p.Stage(s)
	if st.StartedAt == nil || st.FinishedAt == nil {
		return 0
	}
	return st.FinishedAt.Sub(*st.StartedAt)
}

// procStatus returns a field of /proc/self/status in bytes (VmRSS, VmHWM).
func procStatus(b *testing.B, field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb * 1024
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// rssBaseline returns the OS memory to the system, resets the process's peak RSS
// (VmHWM) to its current RSS and returns that RSS in bytes, so that VmHWM read later is
// the peak since this call.
func rssBaseline(b *testing.B) float64 {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS: %v", err)
	}
	return procStatus(b, "VmRSS")
}

const mib = 1 << 20

// BenchmarkIngestPDF1800 ingests a 1,800-page text PDF end to end, and runs bare
// `pdftotext file -` on the same file in each iteration (untimed) for comparison. Goal:
// app-ms ≤ goal-ms = 1.2 × pdftotext-ms + 150.
func BenchmarkIngestPDF1800(b *testing.B) {
	mediatest.NeedTools(b, "enscript", "ps2pdf", "pdfinfo", "pdftotext")
	app := benchApp(b, 4, 2)
	data := pdf1800Pages(b)
	file := filepath.Join(b.TempDir(), "big.pdf")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		b.Fatal(err)
	}
	uids := users(b, app, "pdf", b.N) // one user per iteration: the same file twice is a duplicate
	var appT, toolT, extractT, chunkT time.Duration
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		start := time.Now()
		cmd := exec.Command("pdftotext", file, "-")
		cmd.Stdout = io.Discard
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		toolT += time.Since(start)
		b.StartTimer()
		start = time.Now()
		p, err := ingest(app, uids[i], "big.pdf", string(data))
		appT += time.Since(start)
		if err != nil || p.WordCount != 1800*500 {
			b.Fatalf("%+v, %v; want 900,000 words", p, err)
		}
		extractT += stageTime(p, media.StageExtract)
		chunkT += stageTime(p, media.StageChunk)
	}
	b.StopTimer()
	app1, tool1 := appT.Seconds()*1000/float64(b.N), toolT.Seconds()*1000/float64(b.N)
	b.ReportMetric(app1, "app-ms")
	b.ReportMetric(tool1, "pdftotext-ms")
	b.ReportMetric(1.2*tool1+150, "goal-ms")
	b.ReportMetric(app1/tool1, "x-pdftotext")
	b.ReportMetric(extractT.Seconds()*1000/float64(b.N), "extract-ms")
	b.ReportMetric(chunkT.Seconds()*1000/float64(b.N), "chunk-ms")
}

// BenchmarkIngestDocx5MB ingests a DOCX whose document.xml is 5 MiB end to end and reports
// the added peak RSS of the process (the App runs in it). Goals: ≤ 0.5 s, ≤ 64 MiB.
func BenchmarkIngestDocx5MB(b *testing.B) {
	app := benchApp(b, 4, 2)
	uids := users(b, app, "docx", b.N)
	docs := make([]string, b.N)
	for i := range docs {
		docs[i] = bigDocx(b, "document "+strconv.Itoa(i), 5)
	}
	var added float64
	var extractT, chunkT time.Duration
	b.SetBytes(5 << 20)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		base := rssBaseline(b)
		b.StartTimer()
		p, err := ingest(app, uids[i], "big.docx", docs[i])
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		extractT += stageTime(p, media.StageExtract)
		chunkT += stageTime(p, media.StageChunk)
		added = max(added, procStatus(b, "VmHWM")-base)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(added/mib, "added-peak-MiB")
	b.ReportMetric(extractT.Seconds()*1000/float64(b.N), "extract-ms")
	b.ReportMetric(chunkT.Seconds()*1000/float64(b.N), "chunk-ms")
}

// BenchmarkIngest100Small uploads 100 small documents (alternately .txt and .html of about
// 3 KB) from 4 users with the default worker settings, waits until all are processed and
// reports documents per second.
func BenchmarkIngest100Small(b *testing.B) {
	app := benchApp(b, 4, 2)
	uids := users(b, app, "small", 4)
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		names, bodies := make([]string, 100), make([]string, 100)
		for k := range names {
			text := fmt.Sprintf("Document %d of round %d. ", k, i) + strings.Repeat("The quick brown fox jumps over the lazy dog. ", 60)
			names[k], bodies[k] = fmt.Sprintf("doc%d.txt", k), text
			if k%2 == 1 {
				names[k] = fmt.Sprintf("doc%d.html", k)
				bodies[k] = `<!doctype html><html><head><title>Doc</title></head><body><article><h1>Doc</h1><p>` + text + `</p></article></body></html>`
			}
		}
		b.StartTimer()
		start := time.Now()
		ids := make([]int64, 100)
		for k := range ids {
			ids[k] = upload(b, app, uids[k%4], names[k], bodies[k]).Item.ID
		}
		for k, id := range ids {
			if p := waitProcessed(b, app, uids[k%4], id); p.Status != media.StatusProcessed {
				b.Fatalf("%s: %+v", names[k], p)
			}
		}
		total += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(100*b.N)/total.Seconds(), "docs/s")
}

// serverMemoryLimit is tldwd's soft memory limit without GOMEMLIMIT and without a cgroup
// limit (hosts/tldwd.DefaultMemoryLimit, which a test cannot import).
const serverMemoryLimit = 160 << 20

// BenchmarkIngest20Concurrent uploads 20 documents at once (10 DOCX with 5 MiB of XML and
// 10 200-page text PDFs, one user each) to an App with 20 workers, waits until all are
// processed and reports the process's peak RSS while they ran, absolute and above the idle
// App. Goal: ≤ 256 MiB. Like tldwd, it runs under the server's default soft memory limit
// unless GOMEMLIMIT is set (GOMEMLIMIT=off measures without one).
func BenchmarkIngest20Concurrent(b *testing.B) {
	mediatest.NeedTools(b, "enscript", "ps2pdf", "pdfinfo", "pdftotext")
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(serverMemoryLimit))
	}
	app := benchApp(b, 20, 2)
	pdf := string(mediatest.TextPDF(b, mediatest.SamplePages(200)...))
	uids := users(b, app, "conc", 20*b.N) // fresh users: the PDFs are the same file
	var peak, added float64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		names, bodies := make([]string, 20), make([]string, 20)
		for k := range names {
			names[k], bodies[k] = "doc.pdf", pdf
			if k%2 == 0 {
				names[k], bodies[k] = "doc.docx", bigDocx(b, fmt.Sprintf("document %d of round %d", k, i), 5)
			}
		}
		base := rssBaseline(b)
		b.StartTimer()
		errs := make([]error, len(names))
		var wg sync.WaitGroup
		for k := range names {
			wg.Go(func() { _, errs[k] = ingest(app, uids[20*i+k], names[k], bodies[k]) })
		}
		wg.Wait()
		b.StopTimer()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		hwm := procStatus(b, "VmHWM")
		peak, added = max(peak, hwm), max(added, hwm-base)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(peak/mib, "peak-RSS-MiB")
	b.ReportMetric(added/mib, "added-peak-MiB")
	b.ReportMetric(float64(debug.SetMemoryLimit(-1))/mib, "mem-limit-MiB")
}
