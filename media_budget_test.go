package tldw_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
)

// page is a web page whose article readability finds (long enough), among navigation.
var page = `<!doctype html><html><head><title>Fox report</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>Fox report</h1>` + strings.Repeat(`<p>The quick brown fox jumps over the lazy dog. The fox was seen again at dawn,
crossing the meadow near the old mill, and the dog did not wake. Witnesses agree that the fox was
quick and brown, and that it jumped twice, once over the dog and once over the fence.</p>
`, 6) + `</article><footer>Copyright</footer></body></html>`

// pageServer serves the article at /articles/fox (no extension), redirects /hop/N N+1 times
// before it, redirects /to-loopback to loopback, serves /sized/N (N bytes with their length)
// and streams /big (big bytes, no length).
func pageServer(t *testing.T, loopback string, big int) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/articles/fox", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	mux.HandleFunc("/hop/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
		if n == 0 {
			http.Redirect(w, r, "/articles/fox", http.StatusFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/to-loopback", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, loopback, http.StatusFound)
	})
	mux.HandleFunc("/sized/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/sized/"))
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		io.WriteString(w, strings.Repeat("y", n))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.(http.Flusher).Flush()
		chunk := strings.Repeat("x", 64<<10)
		for n := 0; n < big; n += len(chunk) {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// noUsage fails unless the user has nothing stored and nothing reserved.
func noUsage(t *testing.T, app *tldw.App, uid int64) {
	t.Helper()
	u, err := app.Media().Usage(context.Background(), uid)
	if err != nil || u.Used != 0 || u.Reserved != 0 {
		t.Errorf("usage = %+v, %v; want nothing used or reserved", u, err)
	}
	page, err := app.Media().List(context.Background(), uid, media.ListOptions{Page: 1, PerPage: 10})
	if err != nil || page.Total != 0 {
		t.Errorf("items = %+v, %v; want none", page, err)
	}
}

// TestMediaURLIngest: an allowlisted local web page is fetched, recorded with its URL and
// processed to its article text; loopback, private, metadata and IPv4-mapped addresses, a
// redirect to loopback, more than 5 redirects and an oversize body are refused with nothing
// stored and nothing reserved; the daily fetch budget refuses the fetch past it.
func TestMediaURLIngest(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn tldw.DSN) {
		ctx := context.Background()
		protected := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Errorf("the protected server was reached: %s", r.URL)
		}))
		defer protected.Close()
		pu, _ := url.Parse(protected.URL)
		srv := pageServer(t, protected.URL+"/secret", 2<<20)
		su, _ := url.Parse(srv.URL)
		allowed := "http://localhost:" + su.Port() // allowlisted by name; 127.0.0.1 itself is not

		cfg := processingConfig(t.TempDir())
		cfg.DatabaseURL = dsn
		cfg.MediaURLAllowlist = []string{"localhost"}
		cfg.MaxUploadSizeMB = 1
		cfg.MediaURLFetchBytesPerDay = 4 << 20
		app := openApp(t, cfg)
		defer app.Close()
		uid := mediaUser(t, app, "fetcher")
		me := media.Actor{UserID: uid}

		for _, u := range []string{
			"http://127.0.0.1:" + pu.Port() + "/secret",
			"http://[::ffff:127.0.0.1]:" + pu.Port() + "/secret",
			"http://10.0.0.1/",
			"http://169.254.169.254/latest/meta-data/",
			allowed + "/to-loopback",
		} {
			_, err := app.Media().UploadURL(ctx, media.URLUpload{Actor: me, URL: u, MediaType: media.TypeDocument})
			if !errors.Is(err, media.ErrBlocked) || !errors.Is(err, media.ErrInvalid) ||
				!strings.Contains(err.Error(), "address not allowed") {
				t.Errorf("UploadURL(%s) = %v, want ErrBlocked", u, err)
			}
		}
		if _, err := app.Media().UploadURL(ctx, media.URLUpload{Actor: me, URL: allowed + "/hop/6", MediaType: media.TypeDocument}); !errors.Is(err, media.ErrInvalid) ||
			!strings.Contains(err.Error(), "redirects") {
			t.Errorf("6 redirects: %v, want ErrInvalid about redirects", err)
		}
		if _, err := app.Media().UploadURL(ctx, media.URLUpload{Actor: me, URL: allowed + "/big", MediaType: media.TypeDocument}); !errors.Is(err, media.ErrTooLarge) {
			t.Errorf("2 MiB body over a 1 MB limit: %v, want ErrTooLarge", err)
		}
		noUsage(t, app, uid)

		res, err := app.Media().UploadURL(ctx, media.URLUpload{Actor: me, URL: allowed + "/hop/4", MediaType: media.TypeDocument})
		if err != nil {
			t.Fatal(err)
		}
		if res.Item.URL != allowed+"/articles/fox" || res.Item.Filename != "fox.html" || res.Job == nil {
			t.Errorf("item = %+v, want the URL after redirects and fox.html", res.Item)
		}
		if got, err := app.Media().Get(ctx, me, res.Item.ID); err != nil || got.URL != res.Item.URL {
			t.Errorf("stored item URL = %q, %v", got.URL, err)
		}
		if p := waitProcessed(t, app, uid, res.Item.ID); p.Status != media.StatusProcessed {
			t.Fatalf("processing = %+v", p)
		}
		c, err := app.Media().ContentOf(ctx, me, res.Item.ID)
		if err != nil || !strings.Contains(c.Text, "The fox was seen again at dawn") || strings.Contains(c.Text, "Copyright") {
			t.Errorf("content = %+v, %v; want the article text only", c, err)
		}

		// The bytes fetched count against the 4 MiB daily budget (the oversize body's too): a
		// body declaring more than is left is refused before it is read.
		for i := 0; ; i++ {
			_, err = app.Media().UploadURL(ctx, media.URLUpload{Actor: me, URL: allowed + "/sized/900000", MediaType: media.TypeDocument})
			if err != nil || i == 5 {
				break
			}
		}
		if !errors.Is(err, media.ErrBudgetExceeded) || !errors.Is(err, quota.ErrExceeded) ||
			!strings.Contains(err.Error(), media.CodeURLFetchBytesPerDay) {
			t.Errorf("past the fetch budget: %v, want ErrBudgetExceeded with %s", err, media.CodeURLFetchBytesPerDay)
		}
	})
}

// usage returns the user's storage usage.
func usage(t *testing.T, app *tldw.App, uid int64) quota.Usage {
	t.Helper()
	u, err := app.Media().Usage(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// derived is the bytes of an item's text and chunks.
func derived(t *testing.T, app *tldw.App, me media.Actor, id int64) int64 {
	t.Helper()
	c, err := app.Media().ContentOf(context.Background(), me, id)
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := app.Media().ChunksOf(context.Background(), me, id, 0, -1)
	if err != nil || len(chunks) == 0 {
		t.Fatalf("chunks: %d, %v", len(chunks), err)
	}
	n := int64(len(c.Text))
	for _, ch := range chunks {
		n += int64(len(ch.Text))
	}
	return n
}

// TestMediaDerivedQuota: an item's text and chunks count against its owner's storage quota
// (reprocessing charges the difference, deleting frees them, reconciliation agrees), and an
// item whose text does not fit fails for good with no content, no chunks and nothing reserved.
func TestMediaDerivedQuota(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn tldw.DSN) {
		ctx := context.Background()
		cfg := processingConfig(t.TempDir())
		cfg.DatabaseURL = dsn
		app := openApp(t, cfg)
		defer app.Close()
		uid := mediaUser(t, app, "quotaed")
		me := media.Actor{UserID: uid}
		if err := app.Media().SetLimit(ctx, uid, 1<<20); err != nil {
			t.Fatal(err)
		}

		small := upload(t, app, uid, "notes.txt", article)
		if p := waitProcessed(t, app, uid, small.Item.ID); p.Status != media.StatusProcessed {
			t.Fatalf("processing = %+v", p)
		}
		d1 := derived(t, app, me, small.Item.ID)
		if u := usage(t, app, uid); u.Used != small.Item.Size+d1 || u.Reserved != 0 || d1 <= int64(len(article)) {
			t.Errorf("usage = %+v, want the file (%d) plus text and chunks (%d)", u, small.Item.Size, d1)
		}

		// Reprocessing with smaller chunks and more overlap stores more chunk bytes.
		waitJob(t, app, uid, small.Job.ID, media.JobCompleted)
		job, err := app.Media().Reprocess(ctx, me, small.Item.ID, media.ProcessOptions{Chunk: media.ChunkOptions{Size: 50, Overlap: 40}})
		if err != nil {
			t.Fatal(err)
		}
		waitJob(t, app, uid, job.ID, media.JobCompleted)
		d2 := derived(t, app, me, small.Item.ID)
		if u := usage(t, app, uid); d2 <= d1 || u.Used != small.Item.Size+d2 || u.Reserved != 0 {
			t.Errorf("after reprocessing: usage %+v, derived %d (was %d)", u, d2, d1)
		}
		if d, err := app.Media().Reconcile(ctx, uid, false); err != nil || d.Delta != 0 || d.Derived != d2 {
			t.Errorf("Reconcile = %+v, %v; want no drift and %d derived bytes", d, err, d2)
		}

		// 400 KB of text: the file fits, its text and chunks (about 1.7 times more) do not.
		big := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 7000)
		res := upload(t, app, uid, "big.txt", big)
		p := waitProcessed(t, app, uid, res.Item.ID)
		if p.Status != media.StatusFailed || !strings.Contains(p.Error, "storage quota") {
			t.Errorf("over-quota item = %+v, want failed with a storage quota error", p)
		}
		if _, err := app.Media().ContentOf(ctx, me, res.Item.ID); !errors.Is(err, media.ErrNotFound) {
			t.Errorf("over-quota item content: %v, want none", err)
		}
		if chunks, err := app.Media().ChunksOf(ctx, me, res.Item.ID, 0, -1); err != nil || len(chunks) != 0 {
			t.Errorf("over-quota item chunks: %d, %v; want none", len(chunks), err)
		}
		if u := usage(t, app, uid); u.Used != small.Item.Size+d2+res.Item.Size || u.Reserved != 0 {
			t.Errorf("usage = %+v, want only the files and the first item's text", u)
		}

		for _, id := range []int64{small.Item.ID, res.Item.ID} {
			if err := app.Media().DeletePermanent(ctx, me, id); err != nil {
				t.Fatal(err)
			}
		}
		noUsage(t, app, uid)
	})
}

// ocrExtractor reports every item as pages read by OCR, one page per line of its text, and
// honours the OCR page cap as the OCR extractors do.
type ocrExtractor struct{}

func (ocrExtractor) Extract(ctx context.Context, src media.Source) (*media.Extracted, error) {
	raw, err := media.ReadSource(ctx, src, 1)
	if err != nil {
		return nil, err
	}
	pages := strings.Count(string(raw), "\n")
	if pages > src.Options.OCRPageCap() {
		return nil, fmt.Errorf("%w: %d pages need OCR, more than %d", media.ErrTooLarge, pages, src.Options.OCRPageCap())
	}
	return &media.Extracted{Text: string(raw), Metadata: map[string]string{media.MetaOCRPages: strconv.Itoa(pages)}}, nil
}

// TestMediaOCRBudget: OCR pages count against the user's daily budget; an item needing
// more than is left fails for good with the budget's code, while one needing no OCR still
// goes through; another user's budget is their own.
func TestMediaOCRBudget(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn tldw.DSN) {
		cfg := processingConfig(t.TempDir())
		cfg.DatabaseURL = dsn
		cfg.MediaOCRPagesPerDay = 5
		app := tldw.New(cfg)
		app.Extractor = ocrExtractor{}
		if err := app.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer app.Close()
		alice, bob := mediaUser(t, app, "alice"), mediaUser(t, app, "bob")

		steps := []struct {
			uid  int64
			text string
			ok   bool
		}{
			{alice, "one\ntwo\nthree\n", true},     // 3 of 5
			{alice, "four\nfive\nsix\n", false},    // 3 more: over
			{alice, "no pages at all", true},       // needs no OCR
			{alice, "four\nfive\n", true},          // exactly the last 2
			{alice, "six\n", false},                // none left
			{bob, "one\ntwo\nthree\nfour\n", true}, // bob's own budget
		}
		for i, s := range steps {
			res := upload(t, app, s.uid, fmt.Sprintf("scan%d.txt", i), s.text)
			p := waitProcessed(t, app, s.uid, res.Item.ID)
			switch {
			case s.ok && p.Status != media.StatusProcessed:
				t.Errorf("step %d: %+v, want processed", i, p)
			case !s.ok && (p.Status != media.StatusFailed || !strings.Contains(p.Error, media.CodeOCRPagesPerDay)):
				t.Errorf("step %d: %+v, want failed with %s", i, p, media.CodeOCRPagesPerDay)
			}
		}
	})
}
