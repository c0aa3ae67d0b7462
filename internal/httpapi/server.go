package httpapi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/rs/cors"
	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
)

// Options configures a Server. The zero value is usable: no checks, no CORS, metrics off.
type Options struct {
	Logger               *slog.Logger
	Version              string                          // shown in the OpenAPI document
	AuthMode             string                          // "single_user" or "multi_user", shown by /api/v1/health
	Now                  func() time.Time                // nil → time.Now
	Checks               []Check                         // run concurrently by /api/v1/health, 2 s timeout each
	Ready                func(ctx context.Context) error // nil → ready; used by /api/v1/health/ready
	Draining             func() bool                     // true → /ready answers 503 "shutdown_in_progress" at once
	DBStats              func() sql.DBStats              // optional; exported as tldw_db_* metrics
	TrustedHosts         []string                        // empty → any Host; "*.example.com" matches subdomains
	AllowedOrigins       []string                        // CORS allowlist; empty → no CORS headers
	CORSAllowCredentials bool
	DisableCORS          bool
	CSP                  string // API responses' Content-Security-Policy; "" → default-src 'none'; frame-ancestors 'none'
	HSTS                 bool   // send Strict-Transport-Security (set when SECURE_COOKIES=true)
	EnableMetrics        bool   // serve /metrics and /api/v1/health/metrics
	MetricsAllowed       []netip.Prefix
	MetricsToken         string // optional bearer token for the metrics endpoints

	// Accounts and audit. A nil Auth serves no account routes and treats every non-public
	// route as 401; a nil AuditLog serves no audit routes.
	Auth           *auth.Service
	Audit          audit.Sink                                           // for events the HTTP layer emits (denials, rate limits); nil = discard
	AuditLog       audit.Log                                            // query, export and verify
	AuditHead      func(ctx context.Context) (*audit.Checkpoint, error) // newest valid head checkpoint kept outside the database (the audit file); may be nil
	TrustedProxies []netip.Prefix                                       // peers whose X-Forwarded-For / X-Real-IP are believed
	AuthCookies    bool                                                 // also accept/set HttpOnly session cookies (AUTH_COOKIES)
	SecureCookies  bool
	CookieSameSite string // "strict", "lax" or "none"
	MaxJSONBytes   int64  // cap on JSON and form bodies; 0 → 1 MiB

	// BodyIdleTimeout is how long a request body may send nothing before the request is
	// answered 408 (REQUEST_BODY_IDLE_TIMEOUT_SECONDS); 0 → DefaultBodyIdleTimeout.
	BodyIdleTimeout time.Duration
	// ReadTimeout is the http.Server's ReadTimeout (SERVER_READ_TIMEOUT_SECONDS), which the
	// body idle deadline must not extend; 0 → none.
	ReadTimeout time.Duration

	// Media serves media items (/media/...) and storage quotas (/users/storage,
	// /admin/storage-quotas); nil → those routes answer 503. Its MaxUploadBytes also caps
	// /media/add requests.
	Media *media.Service
	// MediaAddMaxItems caps the inputs (files plus urls) of one /media/add request
	// (MEDIA_ADD_MAX_ITEMS); more are a 400 too_many_inputs. 0 → DefaultMediaAddMaxItems.
	MediaAddMaxItems int

	// Audio (audio_routes.go, audio_ws.go): POST /audio/transcriptions and the streaming
	// socket /audio/stream/transcribe. A nil Transcriber answers both 503
	// transcription_unavailable; /audio/transcriptions also needs AV to decode uploads.
	// Streams with persist=true store their audio through Media.
	Transcriber      media.Transcriber
	TranscriberName  string             // shown by /audio/stream/status ("pocketsphinx", "openai", ...)
	TranscriberModel string             // the default model, shown by /audio/stream/status
	AV               media.AV           // probes and decodes uploads to the WAV the Transcriber hears
	AudioBudget      *media.AudioBudget // transcription minutes and concurrent streams by tier; nil → unlimited
	// AudioUploadBytes caps one /audio/transcriptions upload; 0 → Media.MaxUploadBytes when
	// set, else DefaultAudioUploadBytes (OpenAI's 25 MB).
	AudioUploadBytes int64
	AudioStream      AudioStreamLimits // bounds of streaming sessions; zero fields take the defaults

	// Rate limits (ratelimit.go). A nil Limiter limits nothing.
	Limiter    quota.Limiter
	RateLimits RateLimits
}

// Check is one health check run by /api/v1/health.
type Check struct {
	Name     string                          // "database", "redis", "media_dir", "disk"
	Critical bool                            // failure → unhealthy (503); non-critical failure → degraded (206)
	Info     bool                            // failure shows as "warning" and changes no status
	Run      func(ctx context.Context) error // nil = ok; errors.Is(err, ErrDegraded) → degraded even if Critical
}

const (
	defaultCSP   = "default-src 'none'; frame-ancestors 'none'"
	checkTimeout = 2 * time.Second
)

// Server is tldw's HTTP handler. Build it with New; it is immutable afterwards and safe for
// concurrent use. Its routes live in areas (routeTable) over a shared core.
type Server struct {
	*core
	handler http.Handler // middleware chain around router
	doc     *openapi3.T
	health  *healthAPI
	docs    *docsAPI
}

// core is what every area shares: the options, logging and clock, routing, the
// authentication gate (principal.go, cookies.go), error and JSON writing (errors.go,
// routes.go), rate limits (ratelimit.go), metrics and the streams' shutdown signal
// (stream.go). Areas embed *core, so their handlers call s.writeJSON, s.readJSON, s.meta and
// read s.o directly.
type core struct {
	o            Options
	log          *slog.Logger
	now          func() time.Time
	csp          string
	router       *mux.Router
	anyHost      map[string]bool // paths exempt from the TrustedHosts check (probes, metrics)
	methods      []string        // every method some route answers, for Allow headers
	metrics      *metrics        // private registry: two Servers in one process never collide
	bodyIdle     time.Duration
	rateAudit    rateAudit          // rate_limit_exceeded events written, per key and window
	streams      context.Context    // cancelled by CloseStreams: streaming routes end
	closeStreams context.CancelFunc // cancels streams
	heartbeat    time.Duration      // SSE keep-alive comment interval (sseHeartbeat)
	authWait     time.Duration      // how long a WebSocket may take to send its auth message
}

// New builds the router, the metrics registry and the OpenAPI document. It returns an error
// when the options are inconsistent (e.g. a wildcard CORS origin with credentials) or a route
// is registered twice.
func New(o Options) (*Server, error) { return newServer(o) }

// newServer is New with extra routes appended to the table (tests use it).
func newServer(o Options, extra ...route) (*Server, error) {
	// Copy the slices so later changes by the caller cannot reach a running Server.
	o.Checks = slices.Clone(o.Checks)
	o.TrustedHosts = slices.Clone(o.TrustedHosts)
	o.AllowedOrigins = slices.Clone(o.AllowedOrigins)
	o.MetricsAllowed = slices.Clone(o.MetricsAllowed)
	c := &core{o: o, log: o.Logger, now: o.Now, csp: o.CSP, bodyIdle: o.BodyIdleTimeout,
		heartbeat: sseHeartbeat, authWait: wsAuthWait}
	c.streams, c.closeStreams = context.WithCancel(context.Background())
	if c.bodyIdle == 0 {
		c.bodyIdle = DefaultBodyIdleTimeout
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.csp == "" {
		c.csp = defaultCSP
	}
	s := &Server{core: c, health: &healthAPI{core: c, checkTimeout: checkTimeout}, docs: &docsAPI{core: c}}
	if strings.ContainsAny(s.csp, "\r\n") {
		return nil, errors.New("httpapi: CSP contains a line break")
	}
	var err error
	if s.metrics, err = newMetrics(o.DBStats); err != nil {
		return nil, err
	}
	s.router = mux.NewRouter()
	s.router.NotFoundHandler = s.wrap("unmatched", func(http.ResponseWriter, *http.Request) error { return ErrNotFound })
	s.router.MethodNotAllowedHandler = s.wrap("unmatched", func(http.ResponseWriter, *http.Request) error { return ErrMethodNotAllowed })
	routes := append(s.routeTable(), extra...)
	if err := s.register(routes); err != nil {
		return nil, err
	}
	if s.doc, err = buildDocument(routes, s.docOptions()); err != nil {
		return nil, err
	}
	if s.docs.openapi, err = marshalDocument(s.doc); err != nil {
		return nil, err
	}
	if s.docs.docsHTML, err = renderDocs(s.doc); err != nil {
		return nil, err
	}
	var h http.Handler = s.router
	if !o.DisableCORS && len(o.AllowedOrigins) > 0 {
		c, err := newCORS(o.AllowedOrigins, o.CORSAllowCredentials)
		if err != nil {
			return nil, err
		}
		h = c.Handler(h)
	}
	s.handler = s.guard(h)
	return s, nil
}

// ServeHTTP serves one request: it assigns the request id, recovers panics, records metrics
// and writes the access log line around the middleware chain and router.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	id, client := uuid.NewString(), clientRequestID(r.Header.Get("X-Request-ID"))
	st := &reqState{id: id, clientID: client, route: "unmatched", log: s.log.With("request_id", id)}
	echo := id
	if client != "" {
		st.log = st.log.With("client_request_id", client)
		echo = client // documented: a client's id is echoed
	}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	rec := &recorder{ResponseWriter: w}
	rec.Header().Set("X-Request-ID", echo)
	body := newIdleBody(w, r, s.bodyIdle, s.o.ReadTimeout, st)
	if body != nil {
		r.Body = body
	}

	s.metrics.inFlight.Inc()
	aborted := false
	if s.overflowRefused(r) {
		s.writeError(rec, r, errTooManyConnections)
	} else {
		aborted = s.serve(rec, r)
	}
	if body != nil && !aborted && rec.status >= 400 {
		rec.Flush() // the answer first, so the client can read it while the rest is drained
		body.drain(r)
	}
	s.metrics.inFlight.Dec()

	d := s.now().Sub(start)
	status := rec.status
	if status == 0 {
		status = http.StatusOK // net/http sends 200 for a handler that wrote nothing
	}
	method := metricMethod(r.Method)
	s.metrics.requests.WithLabelValues(method, st.route, fmt.Sprint(status)).Inc()
	hist := s.metrics.duration
	if st.stream {
		hist = s.metrics.streamDuration // hours-long streams would swamp the latency buckets
	}
	hist.WithLabelValues(method, st.route).Observe(d.Seconds())
	st.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
		slog.String("method", r.Method),
		slog.String("route", st.route),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", d),
		slog.String("remote", r.RemoteAddr),
	)
	if aborted {
		panic(http.ErrAbortHandler)
	}
}

// serve runs the chain and turns a panic into a logged 500. It reports whether the handler
// aborted with http.ErrAbortHandler, which the caller re-raises after logging.
func (s *Server) serve(w *recorder, r *http.Request) (aborted bool) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			aborted = true
			return
		}
		s.logger(r).LogAttrs(r.Context(), slog.LevelError, "panic serving request",
			slog.Any("panic", v), slog.String("stack", string(stack())))
		if w.status == 0 {
			s.writeError(w, r, errors.New("panic recovered"))
		}
	}()
	s.handler.ServeHTTP(w, r)
	return false
}

// OpenAPI returns the OpenAPI 3.0.3 document served at /openapi.json. The caller must not
// modify the returned slice.
func (s *Server) OpenAPI() []byte { return s.docs.openapi }

// logger returns the request's logger (carrying request_id), or the server's logger.
func (s *core) logger(r *http.Request) *slog.Logger {
	if st := stateFrom(r.Context()); st != nil {
		return st.log
	}
	return s.log
}

// newCORS builds the CORS middleware. Only explicit origins (or "scheme://*.domain"
// patterns) are accepted with credentials; "*" with credentials would let any site read
// users' data, so it is refused.
func newCORS(origins []string, credentials bool) (*cors.Cors, error) {
	for _, o := range origins {
		if !strings.Contains(o, "*") {
			continue
		}
		if o == "*" {
			if credentials {
				return nil, errors.New("httpapi: CORS origin \"*\" cannot be combined with credentials")
			}
			continue
		}
		scheme, host, ok := strings.Cut(o, "://")
		if !ok || scheme == "" || !strings.HasPrefix(host, "*.") || strings.Count(o, "*") != 1 || len(host) < 4 {
			return nil, fmt.Errorf("httpapi: CORS origin %q: a wildcard is only allowed as scheme://*.domain", o)
		}
	}
	return cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowCredentials: credentials,
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
			http.MethodPatch, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "X-API-KEY", "X-Request-ID",
			"X-CSRF-Token"},
		ExposedHeaders: []string{"X-Request-ID", "Content-Disposition", "Retry-After",
			"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		MaxAge: 600,
	}), nil
}
