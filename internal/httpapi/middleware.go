package httpapi

import (
	"bufio"
	"context"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/gorilla/mux"
	"github.com/tldw-go/tldw/audit"
)

// reqState is the per-request state shared between ServeHTTP and the route handlers. Only
// the goroutine serving the request touches it.
type reqState struct {
	id          string // the server's own id: logs, audit request_id, error bodies
	clientID    string // the client's X-Request-ID when acceptable (clientRequestID), else ""
	route       string // route template for metrics and logs; "unmatched" until a route runs
	log         *slog.Logger
	bodyTimeout bool // the request body stalled longer than the idle timeout (408)
	stream      bool // a streaming route (stream.go): timed in the stream histogram
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// RequestID returns the server's id of a request served by a Server ("" outside one).
// Audit events and log lines carry it; the client's X-Request-ID never replaces it.
func RequestID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// ClientRequestID returns the X-Request-ID the client sent, when it was acceptable
// (clientRequestID), for a request served by a Server; "" otherwise.
func ClientRequestID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.clientID
	}
	return ""
}

// ClientRequestIDs wraps an audit sink: an event written while a Server serves a request
// whose client sent an acceptable X-Request-ID gets it as details.client_request_id. The
// event's request_id stays the server's own id, so a client cannot forge or collide it.
func ClientRequestIDs(next audit.Sink) audit.Sink { return clientIDSink{next} }

type clientIDSink struct{ next audit.Sink }

func (s clientIDSink) Write(ctx context.Context, e audit.Event) error {
	if id := ClientRequestID(ctx); id != "" {
		d := make(map[string]any, len(e.Details)+1)
		maps.Copy(d, e.Details)
		d["client_request_id"] = id
		e.Details = d
	}
	return s.next.Write(ctx, e)
}

const maxRequestIDLen = 128

// clientRequestID returns the client's id when it is at most maxRequestIDLen bytes of
// printable ASCII without spaces, and "" otherwise (so a hostile id cannot forge log lines
// or headers).
func clientRequestID(client string) string {
	if len(client) > maxRequestIDLen {
		return ""
	}
	for i := 0; i < len(client); i++ {
		if c := client[i]; c < 0x21 || c > 0x7e {
			return ""
		}
	}
	return client
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

// guard sets the security headers on every response, refuses TRACE (405), enforces
// TrustedHosts (400) and refuses a path or query that is not valid text (400) before the request reaches CORS and the router.
func (s *core) guard(next http.Handler) http.Handler {
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
		if err := checkURL(r); err != nil {
			s.writeError(w, r, err)
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
func (s *core) allowedMethods(r *http.Request) string {
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
