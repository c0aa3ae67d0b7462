package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gorilla/mux"
	"github.com/tldw-go/tldw/auth"
)

// Every response the tests of this package produce through serveChecked (request.do,
// testServer.call and the other helpers) is validated against the server's own OpenAPI
// document with kin-openapi's openapi3filter: status, headers and body. A response that does
// not match fails the test that made it. TestMain then checks that the whole run exercised
// every documented operation, with at least one success and one error response each.

func init() {
	// Bodies that are not JSON or forms (HTML, CSS, JavaScript, CSV, NDJSON, downloads) are
	// checked as text against their string schemas.
	openapi3filter.RegisterBodyDecoder("*/*", openapi3filter.PlainBodyDecoder)
}

// contractDoc is a server's parsed and validated document.
type contractDoc struct {
	doc *openapi3.T
	err error
}

var contracts sync.Map // sha256 of the document bytes → *contractDoc

// loadContract parses and validates the document of s once per distinct document.
func loadContract(s *Server) (*openapi3.T, error) {
	key := sha256.Sum256(s.OpenAPI())
	if c, ok := contracts.Load(key); ok {
		return c.(*contractDoc).doc, c.(*contractDoc).err
	}
	c := &contractDoc{}
	c.doc, c.err = openapi3.NewLoader().LoadFromData(s.OpenAPI())
	if c.err == nil {
		c.err = c.doc.Validate(context.Background())
	}
	contracts.Store(key, c)
	return c.doc, c.err
}

// exercised records, per operationId, the statuses seen in validated responses.
var exercised = struct {
	sync.Mutex
	ops map[string]map[int]bool
}{ops: map[string]map[int]bool{}}

// serveChecked serves req on s into rec and validates the response against s's document.
func serveChecked(t testing.TB, s *Server, rec *httptest.ResponseRecorder, req *http.Request) {
	t.Helper()
	route, vars, head := matchRoute(s, req)
	// The handler may consume or change the request (body, Range); validation reads a copy.
	vreq := req.Clone(req.Context())
	vreq.Body = http.NoBody
	s.ServeHTTP(rec, req)
	if err := checkResponse(s, route, vars, head, vreq, rec); err != nil {
		t.Errorf("%s %s → %d: response does not match the OpenAPI document: %v\nbody: %.500s",
			req.Method, req.URL.RequestURI(), rec.Code, err, rec.Body.String())
	}
}

// checkedHandler is s for tests that need a real connection (httptest.NewServer) or their
// own ResponseWriter: each response is passed through and also recorded, then validated
// like serveChecked's.
func checkedHandler(t testing.TB, s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		route, vars, head := matchRoute(s, req)
		vreq := req.Clone(req.Context())
		vreq.Body = http.NoBody
		tee := &teeWriter{ResponseWriter: w, rec: httptest.NewRecorder()}
		s.ServeHTTP(tee, req)
		if err := checkResponse(s, route, vars, head, vreq, tee.rec); err != nil {
			t.Errorf("%s %s → %d: response does not match the OpenAPI document: %v\nbody: %.500s",
				req.Method, req.URL.RequestURI(), tee.rec.Code, err, tee.rec.Body.String())
		}
	})
}

// teeWriter writes a response through and records a copy of it.
type teeWriter struct {
	http.ResponseWriter
	rec   *httptest.ResponseRecorder
	wrote bool
}

func (w *teeWriter) WriteHeader(status int) {
	if !w.wrote {
		w.wrote = true
		maps.Copy(w.rec.Header(), w.Header())
		w.rec.WriteHeader(status)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *teeWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_, _ = w.rec.Write(p)
	return w.ResponseWriter.Write(p)
}

// Flush passes a flush on (streamed exports count them).
func (w *teeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// matchRoute finds the documented operation the router will pick for req, as the server's
// own router does (a GET route also answers HEAD); head reports a HEAD request, whose body
// net/http drops.
func matchRoute(s *Server, req *http.Request) (op *routeMatch, vars map[string]string, head bool) {
	var m mux.RouteMatch
	if !s.router.Match(req, &m) || m.MatchErr != nil || m.Route == nil {
		return nil, nil, false
	}
	tpl, err := m.Route.GetPathTemplate()
	if err != nil {
		return nil, nil, false
	}
	p, _ := docPath(tpl)
	method := req.Method
	if methods, _ := m.Route.GetMethods(); method == http.MethodHead && slices.Contains(methods, http.MethodGet) {
		method = http.MethodGet
	}
	return &routeMatch{path: p, method: method}, m.Vars, req.Method == http.MethodHead
}

// routeMatch names a documented operation by path and method.
type routeMatch struct{ path, method string }

// checkResponse validates one recorded response.
func checkResponse(s *Server, rm *routeMatch, vars map[string]string, head bool, req *http.Request,
	rec *httptest.ResponseRecorder) error {
	doc, err := loadContract(s)
	if err != nil {
		return fmt.Errorf("the document itself is invalid: %w", err)
	}
	var op *openapi3.Operation
	if rm != nil {
		if item := doc.Paths.Value(rm.path); item != nil {
			op = item.GetOperation(rm.method)
		}
	}
	if op == nil {
		// No route (404, 405, or a middleware answer before routing): an Error body.
		return checkErrorBody(doc, req, rec)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: vars,
			Route: &routers.Route{Spec: doc, Path: rm.path, PathItem: doc.Paths.Value(rm.path), Method: rm.method, Operation: op}},
		Status:  rec.Code,
		Header:  rec.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: head, MultiError: true},
	}
	input.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return err
	}
	if err := checkNoBody(op, rec); err != nil && !head {
		return err
	}
	exercised.Lock()
	if exercised.ops[op.OperationID] == nil {
		exercised.ops[op.OperationID] = map[int]bool{}
	}
	exercised.ops[op.OperationID][rec.Code] = true
	exercised.Unlock()
	return nil
}

// checkNoBody fails a response with a body where the document promises none (204, 304, or a
// status without content), which openapi3filter does not check.
func checkNoBody(op *openapi3.Operation, rec *httptest.ResponseRecorder) error {
	resp := op.Responses.Status(rec.Code)
	if resp == nil {
		resp = op.Responses.Default()
	}
	if resp != nil && len(resp.Value.Content) == 0 && rec.Body.Len() > 0 {
		return fmt.Errorf("status %d is documented without a body, but has %d bytes", rec.Code, rec.Body.Len())
	}
	return nil
}

// checkErrorBody validates a response that no route produced: an error with the Error
// schema (or the server's empty answer to a HEAD). A CORS preflight (OPTIONS) is answered
// before routing and is no operation of the document.
func checkErrorBody(doc *openapi3.T, req *http.Request, rec *httptest.ResponseRecorder) error {
	if req.Method == http.MethodOptions && rec.Code < 400 {
		return nil
	}
	if rec.Code < 400 {
		return fmt.Errorf("status %d from no documented route", rec.Code)
	}
	if rec.Body.Len() == 0 {
		return nil // HEAD, or net/http's own answer
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("error Content-Type %q", ct)
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	return doc.Components.Schemas["Error"].Value.VisitJSON(v)
}

// TestMain runs the tests, then (for a full run of the package) fails when an operation of
// the full server's document was never answered, or never answered with an error.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && fullRun() {
		if missing := coverageGaps(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "OpenAPI coverage: these operations were not exercised:\n  %s\n",
				strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// fullRun reports whether every test of the package ran (no -run, -skip or -short).
func fullRun() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return !testing.Short()
}

// coverageGaps lists the operations of every document the tests validated against (except
// the plumbing routes tagged "test") that no validated response exercised with a success,
// or, when the operation documents an error status of its own (beyond the 401 and 429 every
// protected route has), with an error.
func coverageGaps() []string {
	type docOp struct {
		where string // "METHOD path"
		fails bool   // documents an error status of its own
	}
	ops := map[string]docOp{}
	contracts.Range(func(_, v any) bool {
		if c := v.(*contractDoc); c.err == nil {
			for path, item := range c.doc.Paths.Map() {
				for method, op := range item.Operations() {
					if slices.Contains(op.Tags, "test") {
						continue
					}
					fails := ops[op.OperationID].fails || slices.ContainsFunc(op.Responses.Keys(), func(k string) bool {
						return k >= "400" && k <= "599" && k != "401" && k != "429"
					})
					ops[op.OperationID] = docOp{where: method + " " + path, fails: fails}
				}
			}
		}
		return true
	})
	exercised.Lock()
	defer exercised.Unlock()
	var gaps []string
	for id, o := range ops {
		where := o.where
		seen := slices.Collect(maps.Keys(exercised.ops[id]))
		if !slices.ContainsFunc(seen, func(c int) bool { return c < 400 }) {
			gaps = append(gaps, fmt.Sprintf("%s (%s): no success response", where, id))
		}
		if o.fails && !slices.ContainsFunc(seen, func(c int) bool { return c >= 400 }) {
			gaps = append(gaps, fmt.Sprintf("%s (%s): no error response", where, id))
		}
	}
	slices.Sort(gaps)
	return gaps
}

// TestContractRejectsMismatch makes sure the validation fails a response that breaks the
// document: a wrong field or header type, a missing field, an undocumented status or
// content type, a body on 204.
func TestContractRejectsMismatch(t *testing.T) {
	ts := newTestServer(t)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/auth/me", nil)
	rm, vars, head := matchRoute(ts.Server, req)
	if rm == nil || rm.path != "/api/v1/auth/me" {
		t.Fatalf("route of /api/v1/auth/me = %+v", rm)
	}
	for _, tc := range []struct {
		name   string
		status int
		ctype  string
		body   string
		header string // a Retry-After value
	}{
		{"bad header", 429, "application/json", `{"detail":"slow","code":"rate_limited"}`, "soon"},
		{"wrong type", 200, "application/json", `{"id":"seven","username":"a"}`, ""},
		{"missing field", 200, "application/json", `{"id":7}`, ""},
		{"undocumented success", 202, "application/json", `{}`, ""},
		{"error without code", 401, "application/json", `{"detail":"no"}`, ""},
		{"wrong content type", 200, "text/plain", `hello`, ""},
	} {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", tc.ctype)
		if tc.header != "" {
			rec.Header().Set("Retry-After", tc.header)
		}
		rec.WriteHeader(tc.status)
		rec.Body = bytes.NewBufferString(tc.body)
		if err := checkResponse(ts.Server, rm, vars, head, req, rec); err == nil {
			t.Errorf("%s: validation passed", tc.name)
		}
	}
	del := httptest.NewRequest(http.MethodDelete, "/api/v1/media/1", nil)
	rm, vars, head = matchRoute(ts.Server, del)
	rec := httptest.NewRecorder()
	rec.WriteHeader(http.StatusNoContent)
	rec.Body = bytes.NewBufferString(`{"x":1}`)
	if err := checkResponse(ts.Server, rm, vars, head, del, rec); err == nil {
		t.Error("a body on 204 passed validation")
	}
}

// TestContractGaps covers the responses no other test produces: a JWKS (it needs an
// asymmetric signing key) and the trailing-slash form of user creation.
func TestContractGaps(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(auth.KeyConfig{Algorithm: "EdDSA", Now: func() time.Time { return fixedNow },
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, withAuth(func(o *auth.Options) { o.Tokens = tokens }))
	if rec := ts.call(t, callerAnonymous, "GET", "/.well-known/jwks.json", "", nil); rec.Code != 200 ||
		!strings.Contains(rec.Body.String(), `"OKP"`) {
		t.Errorf("jwks = %d %s", rec.Code, rec.Body)
	}
	body := `{"username":"slashy","email":"slashy@example.com","password":"` + testPassword + `"}`
	if rec := ts.call(t, callerAdmin, "POST", "/api/v1/admin/users/", body, nil); rec.Code != 201 {
		t.Errorf("create via /users/ = %d %s", rec.Code, rec.Body)
	}
}
