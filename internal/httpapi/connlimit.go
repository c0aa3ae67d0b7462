package httpapi

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// ConnLimits caps the connections a Listener keeps open. A connection over a cap is still
// accepted as long as fewer than ConnReserve such overflow connections are open: it is
// served only for the health and metrics paths (probes and scrapers keep answering while
// the server is saturated) and gets 503 too_many_connections for anything else. Beyond the
// reserve a connection is answered 503 at once and closed. The reserve is kept at the
// application rather than exempting loopback peers, because behind nginx every client is
// a loopback peer.
type ConnLimits struct {
	Total int // open connections in all; 0 = no cap
	PerIP int // open connections per peer address (IPv6 by /64); 0 = no cap
	// Exempt peers are not capped per address: trusted proxies carry many clients (nginx
	// caps those per client with limit_conn). They count toward Total.
	Exempt []netip.Prefix
}

// ConnReserve is how many overflow connections (see ConnLimits) are kept open for the
// health and metrics paths.
const ConnReserve = 16

// Listen wraps ln: it enforces limits (see ConnLimits) and turns net/http's own plain-text
// error answers (malformed requests, oversize headers, unsupported Transfer-Encoding) into
// the JSON error body. Serve the result with an http.Server whose ConnContext is
// ConnContext.
func Listen(ln net.Listener, limits ConnLimits) net.Listener {
	return &limitListener{Listener: ln, l: limits, perIP: map[netip.Addr]int{}}
}

type limitListener struct {
	net.Listener
	l        ConnLimits
	mu       sync.Mutex
	total    int
	overflow int
	perIP    map[netip.Addr]int
}

// tooManyConnections is written to a connection refused beyond the reserve.
var tooManyConnections = func() []byte {
	body := `{"detail":"Too many open connections, retry later","code":"too_many_connections"}` + "\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n" +
		"Retry-After: 1\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

func (ln *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc, ok := ln.admit(c)
		if ok {
			return lc, nil
		}
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(tooManyConnections)
		_ = c.Close()
	}
}

// admit counts c in, or reports false when it is over a cap and the reserve is full.
func (ln *limitListener) admit(c net.Conn) (*limitConn, bool) {
	key, keyed := peerKey(c.RemoteAddr())
	if keyed {
		for _, p := range ln.l.Exempt {
			if p.Contains(key) {
				keyed = false
				break
			}
		}
	}
	ln.mu.Lock()
	defer ln.mu.Unlock()
	over := (ln.l.Total > 0 && ln.total-ln.overflow >= ln.l.Total) ||
		(keyed && ln.l.PerIP > 0 && ln.perIP[key] >= ln.l.PerIP)
	if over && ln.overflow >= ConnReserve {
		return nil, false
	}
	lc := &limitConn{Conn: jsonErrorConn{c}, ln: ln, overflow: over}
	ln.total++
	if over {
		ln.overflow++
	} else if keyed {
		lc.key, lc.keyed = key, true
		ln.perIP[key]++
	}
	return lc, true
}

// peerKey is the address a connection is counted under: the peer's IP, IPv6 by /64.
func peerKey(a net.Addr) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

// limitConn is an admitted connection; Close counts it out once.
type limitConn struct {
	net.Conn
	ln       *limitListener
	key      netip.Addr
	keyed    bool
	overflow bool
	once     sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() {
		ln := c.ln
		ln.mu.Lock()
		ln.total--
		if c.overflow {
			ln.overflow--
		}
		if c.keyed {
			if ln.perIP[c.key]--; ln.perIP[c.key] <= 0 {
				delete(ln.perIP, c.key)
			}
		}
		ln.mu.Unlock()
	})
	return c.Conn.Close()
}

type overflowKey struct{}

// ConnContext is the http.Server ConnContext for connections from Listen: it marks the
// requests of an overflow connection, which the Server serves only on health and metrics
// paths.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*limitConn); ok && lc.overflow {
		return context.WithValue(ctx, overflowKey{}, true)
	}
	return ctx
}

// errTooManyConnections answers a request on an overflow connection.
var errTooManyConnections = &Error{Status: http.StatusServiceUnavailable, Code: "too_many_connections",
	Detail: "Too many open connections, retry later",
	Header: http.Header{"Retry-After": {"1"}, "Connection": {"close"}}}

// overflowRefused reports whether r came on an overflow connection and is not for a health
// or metrics path (the AnyHost routes).
func (s *core) overflowRefused(r *http.Request) bool {
	over, _ := r.Context().Value(overflowKey{}).(bool)
	return over && !s.anyHost[r.URL.Path]
}
