package httpapi

import (
	"encoding/json"
	"html"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

// fullServer has every optional route enabled, plus the test routes.
func fullServer(t *testing.T) *Server {
	t.Helper()
	o := metricsOptions()
	o.Version = "1.2.3"
	s, _ := newTest(t, o)
	return s
}

// routerOps walks the mux router and returns "METHOD /openapi/path" for every route.
func routerOps(t *testing.T, r *mux.Router) []string {
	t.Helper()
	var ops []string
	err := r.Walk(func(rt *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := rt.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := rt.GetMethods()
		if err != nil {
			return err
		}
		p, _ := docPath(tpl)
		for _, m := range methods {
			if m == http.MethodHead && slices.Contains(methods, http.MethodGet) {
				continue // a GET route's implicit HEAD: the same route (TestHeadOnEveryGetRoute)
			}
			ops = append(ops, m+" "+p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	slices.Sort(ops)
	return ops
}

// documentOps returns "METHOD /path" for every operation of an OpenAPI JSON document.
func documentOps(t *testing.T, doc []byte) []string {
	t.Helper()
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("decode document: %v", err)
	}
	var ops []string
	for p, item := range d.Paths {
		for m := range item {
			ops = append(ops, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(ops)
	return ops
}

// TestOpenAPICoversRouter fails when a registered route is missing from the document or
// the document lists a route that does not exist.
func TestOpenAPICoversRouter(t *testing.T) {
	for _, s := range []*Server{fullServer(t), mustNew(t, Options{})} {
		routes, doc := routerOps(t, s.router), documentOps(t, s.OpenAPI())
		if len(routes) == 0 {
			t.Fatal("router has no routes")
		}
		for _, op := range routes {
			if !slices.Contains(doc, op) {
				t.Errorf("route %s is missing from the OpenAPI document", op)
			}
		}
		for _, op := range doc {
			if !slices.Contains(routes, op) {
				t.Errorf("OpenAPI document lists %s, which is not registered", op)
			}
		}
	}
}

func mustNew(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenAPIValid loads the document with kin-openapi, validates it, and checks what
// generators rely on: path parameters, named schemas, no body on 204/304, the Error schema.
func TestOpenAPIValid(t *testing.T) {
	for _, s := range []*Server{fullServer(t), newTestServer(t).Server} {
		doc, err := loadContract(s)
		if err != nil {
			t.Fatalf("document invalid: %v", err)
		}
		if doc.OpenAPI != "3.0.3" {
			t.Errorf("version = %q", doc.OpenAPI)
		}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				if op.OperationID == "" || strings.Contains(op.OperationID, "_") && op.Tags[0] != "test" {
					t.Errorf("%s %s: operationId %q is not a readable name", method, path, op.OperationID)
				}
				for code, resp := range op.Responses.Map() {
					if (code == "204" || code == "304" || method == "HEAD") && len(resp.Value.Content) > 0 {
						t.Errorf("%s %s %s documents a body", method, path, code)
					}
				}
			}
		}
	}
	full, _ := loadContract(fullServer(t))
	item := full.Paths.Value("/api/v1/items/{id}")
	if item == nil || item.Get == nil || len(item.Get.Parameters) != 1 || item.Get.Parameters[0].Value.Name != "id" {
		t.Errorf("path parameter of /api/v1/items/{id} not modelled: %+v", item)
	}
	doc, _ := loadContract(newTestServer(t).Server)
	errSchema := doc.Components.Schemas["Error"].Value
	if !slices.Equal(errSchema.Required, []string{"detail", "code"}) || len(errSchema.Properties["detail"].Value.OneOf) != 2 {
		t.Errorf("Error schema: required %v, detail %+v", errSchema.Required, errSchema.Properties["detail"].Value)
	}
	login := doc.Paths.Value("/api/v1/auth/login").Post
	for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data", "application/json"} {
		mt := login.RequestBody.Value.Content.Get(ct)
		if mt == nil || mt.Schema.Ref != "#/components/schemas/LoginRequest" {
			t.Errorf("login body %s = %+v", ct, mt)
		}
	}
	if login.OperationID != "loginForAccessToken" {
		t.Errorf("login operationId = %q", login.OperationID)
	}
	add := doc.Paths.Value("/api/v1/media/add").Post
	form := doc.Components.Schemas["MediaAddForm"].Value
	files := form.Properties["files"].Value
	if add.OperationID != "addMedia" || add.RequestBody.Value.Content.Get("multipart/form-data") == nil ||
		!files.Type.Is("array") || files.Items.Value.Format != "binary" || !slices.Contains(form.Required, "media_type") ||
		len(form.Properties["media_type"].Value.Enum) != 7 {
		t.Errorf("/media/add form: %s, files %+v, required %v", add.OperationID, files, form.Required)
	}
	if add.Extensions["x-required-permission"] != "media.write" || !strings.Contains(add.Description, "media.write") {
		t.Errorf("/media/add permission: %v %q", add.Extensions, add.Description)
	}
	list := doc.Paths.Value("/api/v1/media").Get
	if h := list.Responses.Status(200).Value.Headers["ETag"]; h == nil {
		t.Error("GET /media does not document ETag")
	}
	if h := list.Responses.Status(429).Value.Headers["Retry-After"]; h == nil {
		t.Error("429 does not document Retry-After")
	}
	if p := list.Parameters.GetByInAndName("query", "results_per_page"); p == nil || *p.Schema.Value.Max != 100 {
		t.Errorf("results_per_page = %+v", p)
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := fullServer(t)
	rec := request{path: "/openapi.json"}.do(t, s)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec.Body.String() != string(s.OpenAPI()) {
		t.Error("/openapi.json differs from OpenAPI()")
	}
	body := decodeJSON(t, rec)
	if body["openapi"] != "3.0.3" || body["info"].(map[string]any)["version"] != "1.2.3" {
		t.Errorf("header fields: openapi %v, info %v", body["openapi"], body["info"])
	}
	paths := body["paths"].(map[string]any)
	health := paths["/api/v1/health"].(map[string]any)["get"].(map[string]any)
	if sec, ok := health["security"].([]any); !ok || len(sec) != 0 {
		t.Errorf("public route security = %v, want []", health["security"])
	}
	item := paths["/api/v1/items/{id}/secret"].(map[string]any)["get"].(map[string]any)
	if _, ok := item["security"]; ok {
		t.Errorf("protected route overrides global security: %v", item["security"])
	}
	for _, p := range []string{"/api/v1/items", "/api/v1/items/"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("collection form %s not documented", p)
		}
	}
}

func TestDocsPage(t *testing.T) {
	s := fullServer(t)
	rec := request{path: "/docs"}.do(t, s)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	page := html.UnescapeString(rec.Body.String())
	for _, op := range documentOps(t, s.OpenAPI()) {
		method, path, _ := strings.Cut(op, " ")
		if !strings.Contains(page, `<code class="path">`+path+`</code>`) {
			t.Errorf("/docs does not list %s", path)
		}
		if !strings.Contains(page, ">"+method+"<") {
			t.Errorf("/docs does not show method %s", method)
		}
	}
	for _, want := range []string{"Get an item", "Page number", "application/json", "Prometheus text exposition", "1.2.3"} {
		if !strings.Contains(page, want) {
			t.Errorf("/docs lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "<script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("/docs contains %q: it loads nothing from elsewhere and runs no inline script", bad)
		}
	}
	for _, a := range []struct{ ref, path, ctype string }{
		{`href="docs/assets/style.css"`, "/docs/assets/style.css", "text/css"},
		{`href="docs/assets/swagger-ui.css"`, "/docs/assets/swagger-ui.css", "text/css"},
		{`src="docs/assets/swagger-ui-bundle.js"`, "/docs/assets/swagger-ui-bundle.js", "text/javascript"},
		{`src="docs/assets/docs.js"`, "/docs/assets/docs.js", "text/javascript"},
	} {
		if !strings.Contains(page, a.ref) {
			t.Errorf("/docs does not reference %s", a.path)
		}
		rec := request{path: a.path}.do(t, s)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), a.ctype) || rec.Body.Len() == 0 {
			t.Errorf("%s: status %d, type %q, %d bytes", a.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
		}
	}
	if rec := (request{path: "/docs/assets/docs.html"}).do(t, s); rec.Code != 404 {
		t.Errorf("/docs/assets/docs.html = %d, want 404 (only the listed assets are served)", rec.Code)
	}
}

func TestDocPath(t *testing.T) {
	tests := []struct{ tpl, want, vars string }{
		{"/api/v1/health", "/api/v1/health", ""},
		{"/api/v1/media/{id:[0-9]+}", "/api/v1/media/{id}", "id=[0-9]+"},
		{"/api/v1/media/{id}/versions/{v:[0-9]{1,3}}", "/api/v1/media/{id}/versions/{v}", "id= v=[0-9]{1,3}"},
	}
	for _, tc := range tests {
		got, vars := docPath(tc.tpl)
		var vs []string
		for _, v := range vars {
			vs = append(vs, v.Name+"="+v.Pattern)
		}
		if got != tc.want || strings.Join(vs, " ") != tc.vars {
			t.Errorf("docPath(%q) = %q %v, want %q %q", tc.tpl, got, vs, tc.want, tc.vars)
		}
	}
	if id := operationID("GET", "/api/v1/media/{id}"); id != "get_api_v1_media_id" {
		t.Errorf("operation id %q", id)
	}
}
