package ytdlp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tldw-go/tldw/media"
)

// DialFunc connects to addr ("host:port") unless an SSRF guard refuses it; a refusal wraps
// media.ErrBlocked. httpfetch.Fetcher's DialContext is one.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// proxy is the HTTP proxy one yt-dlp run goes through: CONNECT tunnels for https and
// absolute-URI requests for http, every destination connected with dial (the SSRF guard),
// refusals answered 403. It accepts only requests carrying its per-run credentials and
// stops everything once more than max bytes came back from upstream.
type proxy struct {
	dial      DialFunc
	max       int64
	user, key string
	ln        net.Listener
	srv       *http.Server
	transport *http.Transport
	ctx       context.Context // cancelled by close: ends the tunnels
	cancel    context.CancelFunc
	tunnels   sync.WaitGroup

	received atomic.Int64
	over     atomic.Bool
	mu       sync.Mutex
	blocked  error // the first refusal of the guard
}

// startProxy listens on 127.0.0.1 on a free port and serves until close.
func startProxy(dial DialFunc, max int64) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ytdlp: proxy: %w", err)
	}
	secret := make([]byte, 18)
	rand.Read(secret)
	p := &proxy{dial: dial, max: max, user: "tldw", key: base64.RawURLEncoding.EncodeToString(secret), ln: ln}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.transport = &http.Transport{
		Proxy:                 nil,
		DialContext:           p.guardedDial,
		DisableCompression:    true, // pass the client's Accept-Encoding and the body through as they are
		ForceAttemptHTTP2:     false,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		MaxIdleConnsPerHost:   2,
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return p.ctx }}
	go p.srv.Serve(ln)
	return p, nil
}

// URL is the proxy's address with its credentials, for yt-dlp's --proxy.
func (p *proxy) URL() string { return "http://" + p.user + ":" + p.key + "@" + p.ln.Addr().String() }

// close stops the proxy, its requests and tunnels, and waits for the tunnels to end.
func (p *proxy) close() {
	p.cancel()
	p.srv.Close()
	p.transport.CloseIdleConnections()
	p.tunnels.Wait()
}

// refused returns the guard's first refusal during the run, or nil.
func (p *proxy) refused() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blocked
}

// guardedDial dials through the guard and remembers a refusal.
func (p *proxy) guardedDial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := p.dial(ctx, network, addr)
	if errors.Is(err, media.ErrBlocked) {
		p.mu.Lock()
		if p.blocked == nil {
			p.blocked = err
		}
		p.mu.Unlock()
	}
	return c, err
}

// ServeHTTP answers one proxy request.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="tldw"`)
		http.Error(w, "proxy credentials required", http.StatusProxyAuthRequired)
		return
	}
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	p.forward(w, r)
}

func (p *proxy) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Proxy-Authorization"), "Basic ")
	want := base64.StdEncoding.EncodeToString([]byte(p.user + ":" + p.key))
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// fail answers a request the proxy could not pass on: 403 for the guard's refusal.
func (p *proxy) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, media.ErrBlocked):
		http.Error(w, "destination not allowed", http.StatusForbidden)
	case p.over.Load():
		http.Error(w, "download limit reached", http.StatusForbidden)
	default:
		http.Error(w, "upstream failed", http.StatusBadGateway)
	}
}

// tunnel serves CONNECT host:port: a byte pipe to the vetted address.
func (p *proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	if p.over.Load() {
		p.fail(w, nil)
		return
	}
	up, err := p.guardedDial(r.Context(), "tcp", r.Host)
	if err != nil {
		p.fail(w, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "cannot tunnel", http.StatusInternalServerError)
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		up.Close()
		down.Close()
		return
	}
	p.tunnels.Add(1)
	go func() {
		defer p.tunnels.Done()
		stop := context.AfterFunc(p.ctx, func() { up.Close(); down.Close() })
		defer stop()
		done := make(chan struct{})
		go func() {
			io.Copy(up, buf.Reader) // what the client already sent, then the rest
			if tc, ok := up.(interface{ CloseWrite() error }); ok {
				tc.CloseWrite()
			}
			close(done)
		}()
		io.Copy(down, p.count(up))
		up.Close()
		down.Close()
		<-done
	}()
}

// hopHeaders are the headers of one connection, never passed on.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward passes on an absolute-URI http request.
func (p *proxy) forward(w http.ResponseWriter, r *http.Request) {
	if r.URL.Scheme != "http" || r.URL.Host == "" {
		http.Error(w, "only absolute http URLs and CONNECT are proxied", http.StatusBadRequest)
		return
	}
	if p.over.Load() {
		p.fail(w, nil)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		p.fail(w, err)
		return
	}
	defer resp.Body.Close()
	for _, h := range hopHeaders {
		resp.Header.Del(h)
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, p.count(resp.Body))
}

// count returns r counting the bytes it yields against max; past it, reads fail.
func (p *proxy) count(r io.Reader) io.Reader { return &counted{r: r, p: p} }

type counted struct {
	r io.Reader
	p *proxy
}

func (c *counted) Read(b []byte) (int, error) {
	if c.p.over.Load() {
		return 0, errOverCap
	}
	n, err := c.r.Read(b)
	if c.p.received.Add(int64(n)) > c.p.max {
		c.p.over.Store(true)
		return 0, errOverCap
	}
	return n, err
}

var errOverCap = errors.New("ytdlp: proxy byte cap reached")
