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
