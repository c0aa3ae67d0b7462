package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedNow is the injected clock of every test server.
var fixedNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// testRoutes are extra routes that exercise the handler plumbing.
func testRoutes() []route {
	return []route{
		{Method: http.MethodGet, Path: "/api/v1/items", Tag: "test", Public: true, TrailingSlash: true,
			Summary: "List items", Query: []param{{Name: "page", Type: "integer", Description: "Page number"}}, Response: testItems{},
			Responses: map[int]string{200: "Items"},
			Handler: func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"items":[]}`)
				return nil
			}},
		{Method: http.MethodGet, Path: "/api/v1/items/{id:[0-9]+}", Tag: "test", Public: true,
			Summary: "Get an item", Responses: map[int]string{200: "The item", 404: "No such item"}, Response: testItem{},
			Handler: func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"id":1}`)
				return nil
			}},
		{Method: http.MethodPost, Path: "/api/v1/items", Tag: "test", Public: true, Body: "application/json",
			Summary: "Create an item", Responses: map[int]string{201: "Created", 400: "Invalid"},
			Request: testItem{}, Response: testItem{},
			Handler: func(w http.ResponseWriter, r *http.Request) error {
				return Errorf(http.StatusConflict, "item_exists", "item %q already exists", "x")
			}},
		{Method: http.MethodGet, Path: "/api/v1/items/{id:[0-9]+}/secret", Tag: "test",
			Summary: "A protected item (needs a credential)", Responses: map[int]string{200: "The secret"},
			ByStatus: map[int]any{200: noBody{}},
			Handler:  func(w http.ResponseWriter, r *http.Request) error { return nil }},
		{Method: http.MethodGet, Path: "/api/v1/panic", Tag: "test", Public: true, Responses: map[int]string{200: "never"},
			ByStatus: map[int]any{200: noBody{}},
			Handler: func(w http.ResponseWriter, r *http.Request) error {
				panic("secret panic text /etc/passwd")
			}},
		{Method: http.MethodGet, Path: "/api/v1/fail", Tag: "test", Public: true, Responses: map[int]string{200: "never"},
			ByStatus: map[int]any{200: noBody{}},
			Handler: func(w http.ResponseWriter, r *http.Request) error {
				return errFromQuery(r)
			}},
	}
}

// testItems and testItem are the bodies of the test routes.
type testItems struct {
	Items []int `json:"items"`
}

type testItem struct {
	ID int `json:"id"`
}

// errFromQuery returns the error named by ?e= so one route covers the error table.
func errFromQuery(r *http.Request) error {
	switch r.URL.Query().Get("e") {
	case "forbidden":
		return wrapf(ErrForbidden, "not your item")
	case "unauthorized":
		return ErrUnauthorized
	case "unavailable":
		return ErrUnavailable
	case "bad":
		return wrapf(ErrBadRequest, "page must be positive")
	case "toolarge":
		_, err := io.ReadAll(http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader("0123456789")), 4))
		return err
	case "retry":
		return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Detail: "slow down",
			Header: http.Header{"Retry-After": {"30"}}}
	default:
		return wrapf(io.ErrUnexpectedEOF, "db: password=hunter2 SELECT * FROM users")
	}
}

type wrapped struct {
	msg string
	err error
}

func (w wrapped) Error() string { return w.err.Error() + ": " + w.msg }
func (w wrapped) Unwrap() error { return w.err }

func wrapf(err error, msg string) error { return wrapped{msg: msg, err: err} }

// syncBuffer is a log sink safe for the concurrent writes of health checks.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTest builds a server with the test routes and a JSON log captured in the returned buffer.
func newTest(t *testing.T, o Options) (*Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.Now == nil {
		o.Now = func() time.Time { return fixedNow }
	}
	s, err := newServer(o, testRoutes()...)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	return s, logs
}

// request is one scenario request.
type request struct {
	method, path string
	header       map[string]string
	host         string
	remote       string
	body         string
}

func (q request) do(t *testing.T, s http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodGet
	}
	req := httptest.NewRequest(method, q.path, strings.NewReader(q.body))
	for k, v := range q.header {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if q.host != "" {
		req.Host = q.host
	}
	if q.remote != "" {
		req.RemoteAddr = q.remote
	}
	rec := httptest.NewRecorder()
	switch srv := s.(type) {
	case *Server:
		serveChecked(t, srv, rec, req)
	case *testServer:
		serveChecked(t, srv.Server, rec, req)
	default:
		s.ServeHTTP(rec, req)
	}
	return rec
}

// decodeJSON decodes a JSON object body or fails the test.
func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, rec.Body.String())
	}
	return m
}
