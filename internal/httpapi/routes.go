package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tldw-go/tldw/auth"
)

// handlerFunc is a route handler. A returned error is answered through writeError (the
// error table), unless the handler already started the response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one entry of the route table: it is registered with the router and described
// in the OpenAPI document by the same call, so the two cannot drift apart.
type route struct {
	Method        string           // one HTTP method; GET routes also answer HEAD unless HEAD has its own route
	Path          string           // mux template, e.g. "/api/v1/media/{id:[0-9]+}"
	Summary       string           // one line for the OpenAPI document and /docs
	Tag           string           // OpenAPI tag grouping routes on /docs
	Public        bool             // needs no credential
	Perm          auth.Permission  // non-public routes: the permission the principal must hold ("" = any principal)
	TrailingSlash bool             // also serve Path+"/" (clients call collections both ways)
	AnyHost       bool             // exempt from TrustedHosts (probes and scrapers use IPs)
	AuthLimited   bool             // AUTH_RATE_LIMIT per client IP instead of API_RATE_LIMIT (ratelimit.go)
	PendingOK     bool             // open to a principal that must change its password (principal.go)
	Stream        streamKind       // streamSSE or streamWebSocket: a long-lived response (stream.go)
	InBandAuth    bool             // WebSocket: a rejected credential reaches the handler (authRefusalFrom) to be refused after the upgrade
	ID            string           // OpenAPI operationId: tldw_server's FastAPI name where one exists (loginForAccessToken)
	Query         []param          // documented query parameters
	Body          string           // request media types, comma-separated ("" = no body)
	BodyOptional  bool             // the body may be left out
	Request       any              // Go type of the request body (a zero value); its schema describes every Body type
	Produces      string           // media types of successful responses, comma-separated; "" = application/json
	Response      any              // Go type of successful (2xx) JSON bodies, as a zero value
	ByStatus      map[int]any      // body types of statuses that differ from Response / errorBody (noBody{}: empty)
	Headers       map[int][]string // documented response headers per status (names from docHeaders)
	Responses     map[int]string   // status → description
	Handler       handlerFunc
}

// param documents one query parameter.
type param struct {
	Name        string
	Description string
	Type        string // JSON Schema type: "string", "integer", "boolean"
	Required    bool
	Enum        []string
	Range       []int64 // {minimum} or {minimum, maximum}
}

// area is one group of routes with their handlers: a type embedding *core (handlers call
// s.writeJSON, s.readJSON, s.meta, ... and read s.o) plus any state of its own. A new area
// (media jobs, WebSocket, MCP) is a new type in its own file and one line in routeTable.
type area interface{ routes() []route }

// The areas of this package; their routes and handlers are in the files named.
type (
	metricsAPI  struct{ *core } // metrics.go: /metrics
	accountsAPI struct{ *core } // auth_routes.go, cookies: /auth, /users, /.well-known
	adminAPI    struct{ *core } // admin_routes.go: /admin users, codes, settings, stats
	auditAPI    struct{ *core } // audit_routes.go: /admin/audit-log, /audit/export
	mediaAPI    struct{ *core } // media_routes.go, quota_routes.go: /media, storage quotas
	ingestAPI   struct{ *core } // ingest_routes.go: /media/ingest/jobs, /media/{id}/reprocess
	// healthAPI (health.go: the probes) caches check results.
	healthAPI struct {
		*core
		checkTimeout time.Duration
		healthState  healthState
	}
	// docsAPI (docs.go, openapi.go: /openapi.json, /docs) serves what New rendered from the table.
	docsAPI struct {
		*core
		openapi, docsHTML []byte
	}
)

// routeTable lists every route, area by area.
func (s *Server) routeTable() []route {
	var rs []route
	for _, a := range []area{
		s.health,
		&metricsAPI{s.core},
		s.docs,
		&accountsAPI{s.core},
		&adminAPI{s.core},
		&auditAPI{s.core},
		&mediaAPI{s.core},
		&ingestAPI{s.core},
		&audioAPI{core: s.core},
	} {
		rs = append(rs, a.routes()...)
	}
	return rs
}

// register adds every route (and its trailing-slash twin) to the router. It fails on a
// duplicate (method, path) or an inconsistent entry.
func (s *Server) register(routes []route) error {
	seen := map[string]bool{}
	s.anyHost = map[string]bool{}
	// No 301 to a cleaned path: "//api/v1/admin/..." or "/api/v1/./auth/verify" are simply not
	// routes (404), and nginx auth_request never sees a redirect.
	s.router.SkipClean(true)
	// Every GET route answers HEAD too (net/http drops the body, the headers are the GET's),
	// unless the table gives HEAD a handler of its own.
	explicitHead := map[string]bool{}
	for _, rt := range routes {
		if rt.Method == http.MethodHead {
			for _, tpl := range rt.templates() {
				explicitHead[tpl] = true
			}
		}
	}
	for _, rt := range routes {
		if rt.Method == "" || rt.Handler == nil || !strings.HasPrefix(rt.Path, "/") {
			return fmt.Errorf("httpapi: route %s %q: method, path and handler are required", rt.Method, rt.Path)
		}
		if rt.Stream == streamWebSocket && rt.Public {
			return fmt.Errorf("httpapi: route %s %q: a WebSocket route cannot be public", rt.Method, rt.Path)
		}
		for _, tpl := range rt.templates() {
			p, _ := docPath(tpl)
			key := rt.Method + " " + p
			if seen[key] {
				return fmt.Errorf("httpapi: route %s registered twice", key)
			}
			seen[key] = true
			if rt.AnyHost {
				if strings.Contains(tpl, "{") {
					return fmt.Errorf("httpapi: route %s: AnyHost needs a fixed path", key)
				}
				s.anyHost[tpl] = true
			}
			methods := []string{rt.Method}
			if rt.Method == http.MethodGet && !explicitHead[tpl] {
				methods = append(methods, http.MethodHead)
			}
			s.router.Handle(tpl, s.wrap(p, s.limited(s.streaming(rt), p))).Methods(methods...)
			for _, m := range methods {
				if !slices.Contains(s.methods, m) {
					s.methods = append(s.methods, m)
				}
			}
		}
	}
	slices.Sort(s.methods)
	return nil
}

// templates returns the mux templates the route is served on.
func (rt route) templates() []string {
	if rt.TrailingSlash && !strings.HasSuffix(rt.Path, "/") {
		return []string{rt.Path, rt.Path + "/"}
	}
	return []string{rt.Path}
}

// wrap adapts a handlerFunc: it labels the request with its route template (for metrics and
// the access log) and answers a returned error through the error table. register puts the
// rate limits and the authentication gate (limited, ratelimit.go; gate, principal.go)
// between wrap and every route's handler.
func (s *core) wrap(label string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateFrom(r.Context()); st != nil {
			st.route = label
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// docPath turns a mux template into an OpenAPI path ("{id:[0-9]+}" → "{id}") and returns
// the names of its path variables with their regular expressions ("" when none).
func docPath(tpl string) (string, []pathVar) {
	var b strings.Builder
	var vars []pathVar
	for i := 0; i < len(tpl); i++ {
		if tpl[i] != '{' {
			b.WriteByte(tpl[i])
			continue
		}
		depth, j := 1, i+1
		for ; j < len(tpl) && depth > 0; j++ {
			switch tpl[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		inner := tpl[i+1 : j-1]
		name, pattern, _ := strings.Cut(inner, ":")
		vars = append(vars, pathVar{Name: name, Pattern: pattern})
		b.WriteString("{" + name + "}")
		i = j - 1
	}
	return b.String(), vars
}

// pathVar is one path variable of a mux template.
type pathVar struct {
	Name    string
	Pattern string
}

// writeJSON writes v as a JSON response with the given status. An encoding failure (a
// programming error) is answered as a 500.
func (s *core) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
