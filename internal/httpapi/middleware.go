package httpapi

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
)

// reqState is the per-request state shared between ServeHTTP and the route handlers. Only
// the goroutine serving the request touches it.
type reqState struct {
	id    string
	route string // route template for metrics and logs; "unmatched" until a route runs
	log   *slog.Logger
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// RequestID returns the request id of a request served by a Server ("" outside one).
// Audit events and log lines carry it.
func RequestID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

const maxRequestIDLen = 128

// requestID returns the client's id when it is short and printable ASCII without spaces,
// and a new random one otherwise (so a hostile id cannot forge log lines or headers).
func requestID(client string) string {
	if client != "" && len(client) <= maxRequestIDLen {
		ok := true
		for i := 0; i < len(client); i++ {
			if c := client[i]; c < 0x21 || c > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return client
		}
	}
	return uuid.NewString()
}

// recorder remembers the status and the number of body bytes written. It passes Flush and
// Hijack through (WebSockets need the latter) and unwraps for http.ResponseController.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// guard sets the security headers on every response, refuses TRACE (405) and enforces
// TrustedHosts (400) before the request reaches CORS and the router.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", s.csp)
		h.Set("Cache-Control", "no-store")
		if s.o.HSTS {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if r.Method == http.MethodTrace {
			s.writeError(w, r, ErrMethodNotAllowed)
			return
		}
		if !s.anyHost[r.URL.Path] && !hostAllowed(s.o.TrustedHosts, r.Host) {
			s.writeError(w, r, Errorf(http.StatusBadRequest, "invalid_host", "invalid host header"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether the Host header matches one of the trusted patterns: an exact
// name, "*.example.com" (any subdomain) or "*". An empty list allows every host.
func hostAllowed(trusted []string, host string) bool {
	if len(trusted) == 0 {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return false
	}
	for _, t := range trusted {
		t = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(t)), ".")
		switch {
		case t == "*":
			return true
		case strings.HasPrefix(t, "*."):
			if strings.HasSuffix(host, t[1:]) {
				return true
			}
		case t == host:
			return true
		}
	}
	return false
}

// allowedMethods lists the methods the router answers for r's path, for the Allow header.
func (s *Server) allowedMethods(r *http.Request) string {
	var allow []string
	for _, m := range s.methods {
		probe := r.WithContext(r.Context())
		probe.Method = m
		var match mux.RouteMatch
		if s.router.Match(probe, &match) && match.MatchErr == nil {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

// metricMethod bounds the method label to the standard methods.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// stack returns the current goroutine's stack for panic logs.
func stack() []byte { return debug.Stack() }
