package httpfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tldw-go/tldw/media"
)

// Defaults of Options.
const (
	DefaultMaxBytes     = 512 << 20
	DefaultTimeout      = 5 * time.Minute
	DefaultMaxRedirects = 5
)

var (
	// ErrBlocked: the URL's host resolves to an address that ingest may not reach (loopback,
	// private, link-local, multicast, cloud metadata, ...) and the allowlist does not allow
	// it. Errors carrying it also match media.ErrInvalid: retrying cannot help.
	ErrBlocked = media.ErrBlocked
	// ErrTransient: the server or the network failed in a way a later try may not (HTTP 429
	// or 5xx, a timeout, a refused connection).
	ErrTransient = media.ErrFetchFailed
)

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure a Fetcher. Zero values take the defaults above.
type Options struct {
	// Allow lists MEDIA_URL_ALLOWLIST entries that may be reached although the guard would
	// refuse them: CIDRs ("10.1.0.0/16", "127.0.0.1/32"), addresses ("::1") or host names
	// ("files.internal").
	Allow        []string
	MaxBytes     int64         // largest body accepted
	Timeout      time.Duration // for the whole fetch, redirects and body included
	MaxRedirects int
	UserAgent    string
	Resolver     Resolver // nil: net.DefaultResolver
}

// Fetcher downloads URLs for ingest behind an SSRF guard: HTTP(S) only, every address it
// connects to (after DNS resolution, on every redirect) is checked, never through a proxy.
// The check happens when dialling the address it vetted, so a DNS answer that changes
// between check and connect cannot slip through. Safe for concurrent use.
type Fetcher struct {
	o      Options
	cidrs  []netip.Prefix
	hosts  map[string]bool
	dialer *net.Dialer
	client *http.Client
}

// New returns a Fetcher. It returns an error wrapping media.ErrInvalid for an allowlist
// entry that is neither a CIDR nor a host name.
func New(o Options) (*Fetcher, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	f := &Fetcher{o: o, hosts: map[string]bool{}}
	for _, e := range o.Allow {
		e = strings.TrimSpace(e)
		if ip, err := netip.ParseAddr(e); err == nil {
			e = netip.PrefixFrom(ip, ip.BitLen()).String() // a bare address is its /32 or /128
		}
		switch p, err := netip.ParsePrefix(e); {
		case err == nil:
			f.cidrs = append(f.cidrs, p.Masked())
		case validHost(e):
			f.hosts[strings.ToLower(e)] = true
		default:
			return nil, fmt.Errorf("%w: allowlist entry %q is neither a CIDR nor a host name", media.ErrInvalid, e)
		}
	}
	f.dialer = &net.Dialer{Timeout: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would connect on our behalf, past the guard
		DialContext:           f.DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	}
	f.client = &http.Client{Transport: transport, CheckRedirect: f.checkRedirect}
	return f, nil
}

// Response is a fetched body (media.Fetched: Body is at most Options.MaxBytes, more fails
// with media.ErrTooLarge). Close it.
type Response = media.Fetched

// Fetcher implements media.Fetcher.
var _ media.Fetcher = (*Fetcher)(nil)

// Fetch GETs rawURL. It returns errors wrapping media.ErrInvalid (a URL that is not
// http(s), carries credentials or is refused by the guard — also ErrBlocked — or an HTTP
// 4xx), media.ErrTooLarge (a declared size over the limit), or ErrTransient.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (*Response, error) {
	u, err := media.CheckFetchURL(rawURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %v", media.ErrInvalid, err)
	}
	if f.o.UserAgent != "" {
		req.Header.Set("User-Agent", f.o.UserAgent)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		cancel()
		if errors.Is(err, media.ErrInvalid) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: fetch %s: %v", ErrTransient, u.Redacted(), err)
	}
	if err := checkStatus(resp); err != nil {
		resp.Body.Close()
		cancel()
		return nil, err
	}
	if resp.ContentLength > f.o.MaxBytes {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", media.ErrTooLarge, u.Redacted(), resp.ContentLength, f.o.MaxBytes)
	}
	return &Response{
		Body:        &limitedBody{r: resp.Body, max: f.o.MaxBytes, left: f.o.MaxBytes, cancel: cancel},
		URL:         resp.Request.URL.String(),
		ContentType: resp.Header.Get("Content-Type"),
		Filename:    filename(resp),
		Size:        resp.ContentLength,
	}, nil
}

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.o.MaxRedirects {
		return fmt.Errorf("%w: more than %d redirects", media.ErrInvalid, f.o.MaxRedirects)
	}
	if _, err := media.CheckFetchURL(req.URL.String()); err != nil {
		return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)
	}
	return nil
}

// checkStatus classifies a non-2xx answer: 429 and 5xx are transient, the rest permanent.
func checkStatus(resp *http.Response) error {
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("%w: %s answered HTTP %d", ErrTransient, resp.Request.URL.Redacted(), code)
	}
	return fmt.Errorf("%w: %s answered HTTP %d", media.ErrInvalid, resp.Request.URL.Redacted(), code)
}

// DialContext connects to addr ("host:port") behind the guard Fetch uses: it resolves the
// host, refuses every address the guard does not allow, and connects to the first vetted
// address that answers (never resolving again, so DNS rebinding cannot slip through). A
// refusal wraps ErrBlocked and media.ErrInvalid. Other downloaders (the yt-dlp adapter's
// proxy) use it to reach only what Fetch may reach. Safe for concurrent use.
func (f *Fetcher) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d := f.dialer
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	hostAllowed := f.hosts[strings.ToLower(host)]
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = f.o.Resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	var lastErr error
	for _, ip := range ips {
		ip = ip.Unmap()
		if !hostAllowed && !f.allowedIP(ip) {
			lastErr = fmt.Errorf("%w: %w: %s resolves to %s", media.ErrInvalid, ErrBlocked, host, ip)
			continue
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("resolve %s: no addresses", host)
	}
	return nil, lastErr
}

func (f *Fetcher) allowedIP(ip netip.Addr) bool {
	for _, p := range f.cidrs {
		if p.Contains(ip) {
			return true
		}
	}
	return Public(ip)
}

// special are the ranges beyond Go's IsPrivate/IsLoopback/... that are not the public
// internet: this network, shared address space (carrier NAT; Alibaba's metadata service),
// IETF protocol assignments (Oracle's metadata service), benchmarking, reserved, NAT64 and
// 6to4 (which embed IPv4 addresses), documentation.
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16",
		"2001::/32", "2001:db8::/32", "100::/64"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Public reports whether ip is on the public internet: not loopback, private, link-local
// (169.254.169.254, the usual cloud metadata address, is one), multicast, unspecified, or a
// special-purpose range. IPv4-mapped IPv6 addresses are judged as their IPv4 address.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range special {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// validHost reports whether s looks like a DNS host name.
func validHost(s string) bool {
	if s == "" || len(s) > 253 || strings.ContainsAny(s, "/:@ ") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
	}
	return true
}

// filename picks the name the server suggests, else the URL's last path segment.
func filename(resp *http.Response) string {
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		if name := path.Base(strings.ReplaceAll(params["filename"], `\`, "/")); params["filename"] != "" && name != "." && name != "/" {
			return name
		}
	}
	if name := path.Base(resp.Request.URL.Path); name != "." && name != "/" {
		return name
	}
	return ""
}

// limitedBody fails with media.ErrTooLarge once more than left bytes arrive, and ends the
// fetch's deadline when closed.
type limitedBody struct {
	r         io.ReadCloser
	max, left int64
	cancel    context.CancelFunc
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if int64(n) > b.left {
		return int(b.left), fmt.Errorf("%w: the body is over the %s byte limit", media.ErrTooLarge, strconv.FormatInt(b.max, 10))
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error {
	defer b.cancel()
	return b.r.Close()
}
