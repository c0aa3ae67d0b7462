package ytdlp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/httpfetch"
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

// guard is httpfetch's SSRF guard with the allowlist and resolver given.
func guard(t *testing.T, r httpfetch.Resolver, allow ...string) DialFunc {
	t.Helper()
	f, err := httpfetch.New(httpfetch.Options{Allow: allow, Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	return f.DialContext
}

func newProxy(t *testing.T, dial DialFunc, max int64) *proxy {
	t.Helper()
	p, err := startProxy(dial, max)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p
}

// client sends requests through p, as yt-dlp does.
func client(t *testing.T, p *proxy, roots *tls.Config) *http.Client {
	t.Helper()
	u, err := url.Parse(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: roots, DisableKeepAlives: true}}
}

// connect sends CONNECT target to p and returns the status of its answer.
func connect(t *testing.T, p *proxy, target string, auth bool) int {
	t.Helper()
	c, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if auth {
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.key)) + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestProxyRefusals: CONNECT to private, loopback and metadata addresses, and requests for a
// name resolving to loopback, are answered 403 without reaching the target, and the
// refusal is remembered as media.ErrBlocked.
func TestProxyRefusals(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := strings.TrimPrefix(srv.URL, "http://127.0.0.1:")
	res := fakeResolver{"loopback.test": {"127.0.0.1"}, "private.test": {"10.1.2.3"}, "public.test": {"8.8.8.8"}}

	for _, target := range []string{"10.0.0.1:443", "192.168.1.1:443", "169.254.169.254:80", "127.0.0.1:" + port,
		"[::1]:" + port, "[::ffff:127.0.0.1]:" + port, "loopback.test:" + port, "private.test:443"} {
		p := newProxy(t, guard(t, res), 1<<20)
		if code := connect(t, p, target, true); code != http.StatusForbidden {
			t.Errorf("CONNECT %s: HTTP %d, want 403", target, code)
		}
		if err := p.refused(); !errors.Is(err, media.ErrBlocked) {
			t.Errorf("CONNECT %s: refusal %v, want media.ErrBlocked", target, err)
		}
	}
	p := newProxy(t, guard(t, res), 1<<20)
	resp, err := client(t, p, nil).Get("http://loopback.test:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !errors.Is(p.refused(), media.ErrBlocked) {
		t.Errorf("GET a name resolving to loopback: HTTP %d, refusal %v; want 403 and ErrBlocked", resp.StatusCode, p.refused())
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the protected server was reached %d times", n)
	}
}

// TestProxyAllowed: allowlisted destinations pass, over http and through a CONNECT tunnel
// (TLS end to end), with the proxy's own headers removed.
func TestProxyAllowed(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s auth=%q", r.URL.Path, r.Header.Get("Proxy-Authorization"))
	})
	plain := httptest.NewServer(h)
	defer plain.Close()
	secure := httptest.NewTLSServer(h)
	defer secure.Close()
	port := strings.TrimPrefix(plain.URL, "http://127.0.0.1:")

	p := newProxy(t, guard(t, fakeResolver{"site.test": {"127.0.0.1"}}, "site.test", "127.0.0.1"), 1<<20)
	c := client(t, p, secure.Client().Transport.(*http.Transport).TLSClientConfig)
	for u, want := range map[string]string{
		"http://site.test:" + port + "/a": `hello /a auth=""`,
		secure.URL + "/b":                 `hello /b auth=""`,
	} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != want {
			t.Errorf("GET %s: HTTP %d %q, want 200 %q", u, resp.StatusCode, b, want)
		}
	}
	if err := p.refused(); err != nil {
		t.Errorf("refusal recorded for allowed hosts: %v", err)
	}
}

// TestProxyCredentials: a request without the run's credentials is refused 407.
func TestProxyCredentials(t *testing.T) {
	p := newProxy(t, guard(t, nil, "127.0.0.1"), 1<<20)
	if code := connect(t, p, "127.0.0.1:1", false); code != http.StatusProxyAuthRequired {
		t.Errorf("CONNECT without credentials: HTTP %d, want 407", code)
	}
}

// TestProxyByteCap: past the cap the body is cut off and the proxy says it was over.
func TestProxyByteCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 64<<10))
	}))
	defer srv.Close()
	p := newProxy(t, guard(t, nil, "127.0.0.1"), 1000)
	resp, err := client(t, p, nil).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n >= 64<<10 || !p.over.Load() {
		t.Errorf("read %d bytes through a 1000-byte cap, over = %v", n, p.over.Load())
	}
	resp, err = client(t, p, nil).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a request after the cap: HTTP %d, want 403", resp.StatusCode)
		}
	}
}
