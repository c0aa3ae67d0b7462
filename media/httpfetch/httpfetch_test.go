package httpfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tldw-go/tldw/media"
)

// fakeResolver answers fixed addresses per host name.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range r[host] {
		out = append(out, netip.MustParseAddr(s))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no such host %s", host)
	}
	return out, nil
}

// local starts a server on loopback; its port is the test's.
func local(t *testing.T, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return srv, u.Port()
}

func newFetcher(t *testing.T, o Options) *Fetcher {
	t.Helper()
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"93.184.216.34", true}, {"2606:4700::1111", true}, {"8.8.8.8", true},
		{"127.0.0.1", false}, {"127.8.9.10", false}, {"::1", false}, {"0.0.0.0", false}, {"::", false},
		{"10.0.0.1", false}, {"172.16.5.4", false}, {"192.168.1.1", false}, {"fd00:ec2::254", false},
		{"169.254.169.254", false}, {"fe80::1", false}, {"224.0.0.1", false}, {"ff02::1", false},
		{"100.100.100.200", false}, {"192.0.0.192", false}, {"255.255.255.255", false},
		{"::ffff:127.0.0.1", false}, {"::ffff:169.254.169.254", false}, {"::ffff:8.8.8.8", true},
		{"64:ff9b::a9fe:a9fe", false}, {"2002:7f00:1::", false}, {"198.18.0.1", false},
	} {
		if got := Public(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("Public(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// TestRefusals: every way of reaching a non-public address is refused before a connection
// is made, as a permanent error that says why.
func TestRefusals(t *testing.T) {
	var hits atomic.Int32
	_, port := local(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1); io.WriteString(w, "secret") })
	redirector, _ := local(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:"+port+"/", http.StatusFound)
	})
	resolver := fakeResolver{
		"loopback.test": {"127.0.0.1"}, "private.test": {"10.0.0.7"}, "metadata.test": {"169.254.169.254"},
		"mixed.test": {"8.8.8.8", "127.0.0.1"}, "mapped.test": {"::ffff:127.0.0.1"},
	}
	// The redirector is reachable by name only: its redirect target (a loopback literal) is not.
	redirectorURL, _ := url.Parse(redirector.URL)
	resolver["redirector.test"] = []string{"127.0.0.1"}
	f := newFetcher(t, Options{Resolver: resolver, Allow: []string{"redirector.test"}})
	for _, u := range []string{
		"http://127.0.0.1:" + port + "/",
		"http://[::1]:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://0.0.0.0:" + port + "/",
		"http://169.254.169.254/latest/meta-data/",
		"http://10.1.2.3/",
		"http://loopback.test:" + port + "/",
		"http://private.test/",
		"http://metadata.test/",
		"http://mapped.test:" + port + "/",
		"http://mixed.test:" + port + "/",
		"http://redirector.test:" + redirectorURL.Port() + "/",
	} {
		_, err := f.Fetch(t.Context(), u)
		if !errors.Is(err, ErrBlocked) || !errors.Is(err, media.ErrInvalid) {
			t.Errorf("Fetch(%s) = %v, want ErrBlocked (and media.ErrInvalid)", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the protected server was reached %d times", n)
	}
}

func TestInvalidURLs(t *testing.T) {
	f := newFetcher(t, Options{})
	for _, u := range []string{"file:///etc/passwd", "ftp://example.com/x", "gopher://x/", "http://", "not a url\x7f",
		"http://user:pw@example.com/", "javascript:alert(1)"} {
		if _, err := f.Fetch(t.Context(), u); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("Fetch(%q) = %v, want media.ErrInvalid", u, err)
		}
	}
	if _, err := New(Options{Allow: []string{"10.0.0.0/33"}}); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("bad allowlist entry: %v", err)
	}
}

// TestAllowlistedFetch: an allowlisted CIDR is fetched, redirects are followed up to the
// limit, and the name and type come through.
func TestAllowlistedFetch(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/doc", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="../../report.html"`)
		io.WriteString(w, "<p>hello</p>")
	})
	mux.HandleFunc("/hop/", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/hop/"), "%d", &n)
		if n == 0 {
			http.Redirect(w, r, "/doc", http.StatusFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) })
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := newFetcher(t, Options{Allow: []string{"127.0.0.1/32"}})

	resp, err := f.Fetch(t.Context(), srv.URL+"/hop/4") // 5 redirects: the limit
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "<p>hello</p>" || resp.Filename != "report.html" ||
		resp.ContentType != "text/html; charset=utf-8" || !strings.HasSuffix(resp.URL, "/doc") {
		t.Errorf("got %q %v, response %+v", body, err, resp)
	}
	if _, err := f.Fetch(t.Context(), srv.URL+"/hop/5"); !errors.Is(err, media.ErrInvalid) || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("6 redirects: %v, want a permanent error about redirects", err)
	}
	if _, err := f.Fetch(t.Context(), srv.URL+"/gone"); !errors.Is(err, media.ErrInvalid) || errors.Is(err, ErrTransient) {
		t.Errorf("HTTP 410: %v, want permanent", err)
	}
	if _, err := f.Fetch(t.Context(), srv.URL+"/busy"); !errors.Is(err, ErrTransient) {
		t.Errorf("HTTP 503: %v, want ErrTransient", err)
	}
}

func TestSizeLimit(t *testing.T) {
	big := strings.Repeat("x", 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		} else {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		}
		io.WriteString(w, big)
	}))
	defer srv.Close()
	f := newFetcher(t, Options{Allow: []string{"127.0.0.0/8"}, MaxBytes: 1000})
	if _, err := f.Fetch(t.Context(), srv.URL+"/declared"); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("declared 4096 bytes over a 1000 limit: %v", err)
	}
	resp, err := f.Fetch(t.Context(), srv.URL+"/chunked")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if !errors.Is(err, media.ErrTooLarge) || n != 1000 {
		t.Errorf("undeclared body: read %d, %v; want 1000 then ErrTooLarge", n, err)
	}
}

// TestAllowBareAddress: an allowlist entry may be a bare address (its /32 or /128).
func TestAllowBareAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	resp, err := newFetcher(t, Options{Allow: []string{"127.0.0.1"}}).Fetch(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := newFetcher(t, Options{Allow: []string{"127.0.0.2"}}).Fetch(t.Context(), srv.URL); !errors.Is(err, ErrBlocked) {
		t.Errorf("another address allowed: %v, want ErrBlocked", err)
	}
}

// TestDialContext: the exported guard refuses what Fetch refuses (a name resolving to
// loopback, a private literal) with ErrBlocked, and connects to what the allowlist allows.
func TestDialContext(t *testing.T) {
	_, port := local(t, func(w http.ResponseWriter, r *http.Request) {})
	f := newFetcher(t, Options{Resolver: fakeResolver{"loopback.test": {"127.0.0.1"}, "ok.test": {"127.0.0.1"}}, Allow: []string{"ok.test"}})
	for _, addr := range []string{"loopback.test:" + port, "127.0.0.1:" + port, "10.0.0.1:443", "[fe80::1]:80"} {
		if c, err := f.DialContext(t.Context(), "tcp", addr); !errors.Is(err, ErrBlocked) || !errors.Is(err, media.ErrInvalid) {
			if c != nil {
				c.Close()
			}
			t.Errorf("DialContext(%s) = %v, want ErrBlocked", addr, err)
		}
	}
	c, err := f.DialContext(t.Context(), "tcp", "ok.test:"+port)
	if err != nil {
		t.Fatalf("allowlisted host: %v", err)
	}
	c.Close()
}
