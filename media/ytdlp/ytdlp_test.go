package ytdlp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/httpfetch"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/quota/quotatest"
	"github.com/tldw-go/tldw/storage/storagetest"
)

// talkMP4 is a short spoken MP4 (espeak-ng speech over an ffmpeg test pattern), made once.
var talkMP4 = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "ytdlp-fixture-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	wav, mp4 := filepath.Join(dir, "speech.wav"), filepath.Join(dir, "talk.mp4")
	for _, cmd := range [][]string{
		{"espeak-ng", "-w", wav, "hello, this is a short talk about video sites"},
		{"ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-i", wav,
			"-shortest", "-c:v", "mpeg4", "-c:a", "aac", "-movflags", "+faststart", mp4},
	} {
		var stderr bytes.Buffer
		if err := media.Run(context.Background(), media.Command{Path: cmd[0], Args: cmd[1:], Stderr: &stderr, Timeout: time.Minute}); err != nil {
			return nil, fmt.Errorf("%v: %w", cmd, err)
		}
	}
	return os.ReadFile(mp4)
})

func fixture(t *testing.T) []byte {
	t.Helper()
	mediatest.NeedTools(t, "yt-dlp", "ffmpeg", "espeak-ng")
	b, err := talkMP4()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// site is a local video site: /video.html embeds talk.mp4 in an HTML5 <video>, /ld.html
// describes it with schema.org JSON-LD (title, uploader, duration, upload date), /big.html
// embeds a copy served without Content-Length, /two.html both, /none.html has no video, /slow.html's
// video stalls after its first bytes until the request ends, /moved.html redirects to a
// private address and /metadata.html embeds a video on the cloud metadata address.
type site struct {
	*httptest.Server
	hits      atomic.Int32
	slowStart chan struct{} // closed when the slow video's first bytes are out
}

func newSite(t *testing.T, mp4 []byte) *site {
	t.Helper()
	s := &site{slowStart: make(chan struct{})}
	var once sync.Once
	page := func(head, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<!doctype html><html><head><title>A Talk</title>"+head+"</head><body>"+body+"</body></html>")
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/video.html", page("", `<video src="talk.mp4" controls></video>`))
	mux.HandleFunc("/ld.html", func(w http.ResponseWriter, r *http.Request) {
		page(`<script type="application/ld+json">{"@context":"https://schema.org","@type":"VideoObject",
			"name":"A Spoken Talk","contentUrl":"http://`+r.Host+`/talk.mp4","duration":"PT3S",
			"uploadDate":"2024-01-02","author":{"@type":"Person","name":"Alice Speaker"}}</script>`, "<p>A talk.</p>")(w, r)
	})
	mux.HandleFunc("/two.html", page("", `<video src="talk.mp4"></video><video src="chunked.mp4"></video>`))
	mux.HandleFunc("/big.html", page("", `<video src="chunked.mp4"></video>`))
	mux.HandleFunc("/none.html", page("", `<p>Just words, no video.</p>`))
	mux.HandleFunc("/slow.html", page("", `<video src="slow.mp4"></video>`))
	mux.HandleFunc("/moved.html", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.255.255.1/video.html", http.StatusFound)
	})
	mux.HandleFunc("/metadata.html", page("", `<video src="http://169.254.169.254/latest/meta-data/talk.mp4"></video>`))
	mux.HandleFunc("/talk.mp4", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "talk.mp4", time.Time{}, bytes.NewReader(mp4))
	})
	mux.HandleFunc("/chunked.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		w.(http.Flusher).Flush() // no Content-Length
		w.Write(mp4)
	})
	mux.HandleFunc("/slow.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", fmt.Sprint(100*len(mp4)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(mp4)
		w.(http.Flusher).Flush()
		once.Do(func() { close(s.slowStart) })
		<-r.Context().Done()
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// downloader returns a Downloader whose guard allows allow, with its temporary
// directories under a fresh root (also returned).
func downloader(t *testing.T, c Config, allow ...string) (*Downloader, string) {
	t.Helper()
	c.TempRoot = t.TempDir()
	c.Guard = guard(t, nil, allow...)
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Minute
	}
	d, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return d, c.TempRoot
}

// wantEmpty fails unless dir has nothing in it.
func wantEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", filepath.Join(dir, e.Name()))
	}
}

// TestFetchVideo: an allowlisted page's video is downloaded with the site's metadata; the
// file is the served one and goes away when closed.
func TestFetchVideo(t *testing.T) {
	mp4 := fixture(t)
	s := newSite(t, mp4)
	d, root := downloader(t, Config{}, "127.0.0.1")

	f, err := d.FetchVideo(t.Context(), s.URL+"/ld.html", -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f.Body)
	if err != nil || !bytes.Equal(got, mp4) || f.Size != int64(len(mp4)) {
		t.Errorf("body: %d bytes (%v), size %d; want the %d served", len(got), err, f.Size, len(mp4))
	}
	md := f.Metadata
	for k, want := range map[string]string{"title": "A Spoken Talk", "uploader": "Alice Speaker", "duration": "3",
		"upload_date": "20240102", "webpage_url": s.URL + "/ld.html", "extractor": "generic", "ext": "mp4"} {
		if md[k] != want {
			t.Errorf("metadata %s = %q, want %q (all: %v)", k, md[k], want, md)
		}
	}
	if f.URL != s.URL+"/ld.html" || f.Filename != "A Spoken Talk.mp4" || f.ContentType != "video/mp4" {
		t.Errorf("fetched = %+v", f)
	}
	if err := f.Body.Close(); err != nil {
		t.Error(err)
	}
	wantEmpty(t, root)

	// The plain HTML5 <video> of a page: yt-dlp's generic extractor finds it.
	f, err = d.FetchVideo(t.Context(), s.URL+"/video.html", -1)
	if err != nil {
		t.Fatal(err)
	}
	f.Body.Close()
	if f.Size != int64(len(mp4)) || !strings.Contains(f.Metadata["title"], "A Talk") {
		t.Errorf("html5 video: size %d, metadata %v", f.Size, f.Metadata)
	}
	wantEmpty(t, root)

	// A page with two videos is a playlist: only its first video is downloaded.
	before := s.hits.Load()
	f, err = d.FetchVideo(t.Context(), s.URL+"/two.html", -1)
	if err != nil {
		t.Fatal(err)
	}
	f.Body.Close()
	if n := s.hits.Load() - before; f.Size != int64(len(mp4)) || n != 2 {
		t.Errorf("two videos: size %d after %d requests, want the first video (%d bytes) after 2", f.Size, n, len(mp4))
	}
	wantEmpty(t, root)
}

// TestFetchVideoBlocked: without the allowlist, the proxy refuses loopback, the site is
// never reached and the error is media.ErrBlocked.
func TestFetchVideoBlocked(t *testing.T) {
	s := newSite(t, fixture(t))
	d, root := downloader(t, Config{})
	_, err := d.FetchVideo(t.Context(), s.URL+"/video.html", -1)
	if !errors.Is(err, media.ErrBlocked) || !errors.Is(err, media.ErrInvalid) {
		t.Errorf("err = %v, want media.ErrBlocked (and media.ErrInvalid)", err)
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("the site was reached %d times", n)
	}
	wantEmpty(t, root)

	// The site allowed: what it points yt-dlp at is still checked.
	d, root = downloader(t, Config{}, "127.0.0.1")
	for _, page := range []string{"/moved.html", "/metadata.html"} {
		if _, err := d.FetchVideo(t.Context(), s.URL+page, -1); !errors.Is(err, media.ErrBlocked) {
			t.Errorf("%s: %v, want media.ErrBlocked", page, err)
		}
	}
	wantEmpty(t, root)
}

// TestFetchVideoLimits: over the size cap (declared or not), over the caller's byte limit,
// over the duration cap, no video, not http(s).
func TestFetchVideoLimits(t *testing.T) {
	mp4 := fixture(t)
	s := newSite(t, mp4)
	small, smallRoot := downloader(t, Config{MaxBytes: int64(len(mp4)) / 2}, "127.0.0.1")
	for _, page := range []string{"/video.html", "/big.html"} {
		if _, err := small.FetchVideo(t.Context(), s.URL+page, -1); !errors.Is(err, media.ErrTooLarge) {
			t.Errorf("%s over MaxBytes: %v, want media.ErrTooLarge", page, err)
		}
	}
	wantEmpty(t, smallRoot)

	d, root := downloader(t, Config{MaxDuration: 2 * time.Second}, "127.0.0.1")
	_, err := d.FetchVideo(t.Context(), s.URL+"/video.html", int64(len(mp4))-1)
	if !errors.Is(err, media.ErrBudgetExceeded) || errors.Is(err, media.ErrTooLarge) {
		t.Errorf("over the caller's limit: %v, want media.ErrBudgetExceeded", err)
	}
	if _, err := d.FetchVideo(t.Context(), s.URL+"/ld.html", -1); !errors.Is(err, media.ErrTooLarge) || !strings.Contains(err.Error(), "longer") {
		t.Errorf("a 3 s video over a 2 s cap: %v, want media.ErrTooLarge", err)
	}
	if _, err := d.FetchVideo(t.Context(), s.URL+"/none.html", -1); !errors.Is(err, media.ErrUnsupported) {
		t.Errorf("a page without video: %v, want media.ErrUnsupported", err)
	}
	if _, err := d.FetchVideo(t.Context(), s.URL+"/missing.html", -1); !errors.Is(err, media.ErrInvalid) || errors.Is(err, media.ErrFetchFailed) {
		t.Errorf("HTTP 404: %v, want a permanent media.ErrInvalid", err)
	}
	for _, u := range []string{"file:///etc/passwd", "ftp://example.com/", "http://user:pw@example.com/"} {
		if _, err := d.FetchVideo(t.Context(), u, -1); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("%s: %v, want media.ErrInvalid", u, err)
		}
	}
	wantEmpty(t, root)
}

// TestFetchVideoCancel: cancelling mid-download kills yt-dlp's process group and removes
// the temporary directories.
func TestFetchVideoCancel(t *testing.T) {
	s := newSite(t, fixture(t))
	d, root := downloader(t, Config{}, "127.0.0.1")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	token := fmt.Sprintf("cancel-%d", time.Now().UnixNano())
	pageURL := s.URL + "/slow.html?" + token
	done := make(chan error, 1)
	go func() {
		_, err := d.FetchVideo(ctx, pageURL, -1)
		done <- err
	}()
	select {
	case <-s.slowStart:
	case err := <-done:
		t.Fatalf("FetchVideo ended before the download stalled: %v", err)
	}
	if n := processesWith(t, token); n == 0 {
		t.Fatal("no yt-dlp process found while downloading")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := processesWith(t, token); n != 0 {
		t.Errorf("%d processes of the run still alive", n)
	}
	wantEmpty(t, root)
}

// processesWith counts the live processes whose command line contains s.
func processesWith(t *testing.T, s string) int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil || len(dirs) == 0 {
		t.Skip("no /proc to inspect processes")
	}
	n := 0
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(s)) {
			stat, _ := os.ReadFile(strings.TrimSuffix(p, "cmdline") + "stat")
			if !bytes.Contains(stat, []byte(") Z ")) { // a zombie is already dead
				n++
			}
		}
	}
	return n
}

// TestUploadURLVideoSite: /media/add's path for media_type=video and a video page — URL
// ingest with httpfetch and this adapter composed by media.WithVideo, on one guard — stores
// the page's video as the item's original with the site's title, uploader and page URL.
func TestUploadURLVideoSite(t *testing.T) {
	mp4 := fixture(t)
	s := newSite(t, mp4)
	hf, err := httpfetch.New(httpfetch.Options{Allow: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Guard: hf.DialContext, TempRoot: t.TempDir(), Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	blobs := storagetest.Memory()
	svc := &media.Service{Store: mediatest.NewMemory(), Blobs: blobs, Ledger: quotatest.NewMemory(),
		Fetcher: media.WithVideo(hf, d), URLFetchBytesPerDay: 1 << 20}
	res, err := svc.UploadURL(t.Context(), media.URLUpload{Actor: media.Actor{UserID: 1}, URL: s.URL + "/ld.html", MediaType: media.TypeVideo})
	if err != nil {
		t.Fatal(err)
	}
	it := res.Item
	if it.Title != "A Spoken Talk" || it.Author != "Alice Speaker" || it.URL != s.URL+"/ld.html" || it.Size != int64(len(mp4)) {
		t.Errorf("item = %+v", it)
	}
	r, _, err := blobs.Get(t.Context(), it.BlobKey)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := io.ReadAll(r); !bytes.Equal(got, mp4) {
		t.Errorf("stored original: %d bytes, want the %d-byte video", len(got), len(mp4))
	}
	// As a document, the same URL is the web page itself.
	res, err = svc.UploadURL(t.Context(), media.URLUpload{Actor: media.Actor{UserID: 1}, URL: s.URL + "/ld.html", MediaType: media.TypeDocument})
	if err != nil || res.Item.Size >= int64(len(mp4)) || !strings.HasSuffix(res.Item.Filename, ".html") {
		t.Errorf("as a document: %+v, %v", res, err)
	}
	wantEmpty(t, d.c.TempRoot)
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{{"héllo", 3, "hél"}, {"ok", 5, "ok"}, {"a\xffb", 5, "ab"}} {
		if got := clip(tc.in, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
