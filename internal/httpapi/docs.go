package httpapi

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"
)

// assets holds the /docs page: its template, the no-script stylesheet, and Swagger UI (from
// npm, pinned in assets/swagger/package-lock.json, refreshed by assets/swagger/sync.sh). The
// page needs no network at all.
//
//go:embed assets/docs.html assets/style.css assets/docs.js assets/swagger/dist
var assets embed.FS

// docsAssets are the files under /docs/assets/ and their content types.
var docsAssets = map[string]struct{ file, contentType string }{
	"style.css":            {"assets/style.css", "text/css; charset=utf-8"},
	"docs.js":              {"assets/docs.js", "text/javascript; charset=utf-8"},
	"swagger-ui.css":       {"assets/swagger/dist/swagger-ui.css", "text/css; charset=utf-8"},
	"swagger-ui-bundle.js": {"assets/swagger/dist/swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
}

// docsCSP lets the /docs page run Swagger UI from this origin and nothing else: scripts and
// styles from 'self', inline style attributes (Swagger UI sets them; no inline scripts),
// requests ("Try it out") to the same origin only.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// routes serve the OpenAPI document and the API reference page (both public).
func (s *docsAPI) routes() []route {
	return []route{
		{Method: http.MethodGet, Path: "/openapi.json", ID: "getOpenAPI", Response: map[string]any{},
			Tag: "meta", Public: true,
			Summary:   "OpenAPI 3.0.3 description of every route",
			Responses: map[int]string{200: "The OpenAPI document"},
			Handler:   s.serveOpenAPI},
		{Method: http.MethodGet, Path: "/docs", ID: "getDocs", Tag: "meta", Public: true,
			Summary:  "API reference page rendered from the OpenAPI document",
			Produces: "text/html", Responses: map[int]string{200: "HTML page"},
			Handler: s.serveDocs},
		{Method: http.MethodGet, Path: "/docs/assets/{name}", ID: "getDocsAsset", Tag: "meta", Public: true,
			Summary:  "Scripts and stylesheets of the API reference page",
			Produces: "text/css, text/javascript", Responses: map[int]string{200: "CSS or JavaScript", 404: "No such asset"},
			Handler: s.serveDocsAsset},
	}
}

func (s *docsAPI) serveDocs(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(s.docsHTML)
	return nil
}

func (s *docsAPI) serveDocsAsset(w http.ResponseWriter, r *http.Request) error {
	a, ok := docsAssets[mux.Vars(r)["name"]]
	if !ok {
		return ErrNotFound
	}
	b, err := assets.ReadFile(a.file)
	if err != nil {
		return fmt.Errorf("read embedded %s: %w", a.file, err)
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
	return nil
}

// docsPage is the view model of assets/docs.html.
type docsPage struct {
	Title, Version, Description string
	Groups                      []docsGroup
}

type docsGroup struct {
	Tag string
	Ops []docsOp
}

type docsOp struct {
	ID, Method, Path, Summary string
	Public                    bool
	Params                    []docsParam
	Body                      []string
	Responses                 []docsResp
}

type docsParam struct {
	Name, In, Type, Description string
	Required                    bool
}

type docsResp struct{ Status, Description string }

// renderDocs renders the reference page once from the OpenAPI document: operations grouped
// by tag (in route-table order), sorted by path and method.
func renderDocs(d *openapi3.T) ([]byte, error) {
	tmpl, err := template.ParseFS(assets, "assets/docs.html")
	if err != nil {
		return nil, fmt.Errorf("httpapi: parse docs template: %w", err)
	}
	page := docsPage{Title: d.Info.Title, Version: d.Info.Version, Description: d.Info.Description}
	groups := map[string]*docsGroup{}
	var order []string
	for path, item := range d.Paths.Map() {
		for method, op := range item.Operations() {
			tag := "other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			g := groups[tag]
			if g == nil {
				g = &docsGroup{Tag: tag}
				groups[tag] = g
				order = append(order, tag)
			}
			g.Ops = append(g.Ops, docsViewOp(method, path, op))
		}
	}
	tagRank := func(tag string) int {
		if i := slices.IndexFunc(d.Tags, func(t *openapi3.Tag) bool { return t.Name == tag }); i >= 0 {
			return i
		}
		return len(d.Tags)
	}
	slices.SortFunc(order, func(a, b string) int { return cmp.Or(cmp.Compare(tagRank(a), tagRank(b)), strings.Compare(a, b)) })
	for _, tag := range order {
		g := groups[tag]
		slices.SortFunc(g.Ops, func(a, b docsOp) int {
			return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(methodRank(a.Method), methodRank(b.Method)))
		})
		page.Groups = append(page.Groups, *g)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return nil, fmt.Errorf("httpapi: render docs: %w", err)
	}
	return buf.Bytes(), nil
}

func docsViewOp(method, path string, op *openapi3.Operation) docsOp {
	v := docsOp{ID: op.OperationID, Method: method, Path: path, Summary: op.Summary,
		Public: op.Security != nil && len(*op.Security) == 0}
	for _, p := range op.Parameters {
		v.Params = append(v.Params, docsParam{Name: p.Value.Name, In: p.Value.In, Type: p.Value.Schema.Value.Type.Slice()[0],
			Required: p.Value.Required, Description: p.Value.Description})
	}
	if op.RequestBody != nil {
		v.Body = slices.Sorted(maps.Keys(op.RequestBody.Value.Content))
	}
	for status, resp := range op.Responses.Map() {
		v.Responses = append(v.Responses, docsResp{Status: status, Description: *resp.Value.Description})
	}
	slices.SortFunc(v.Responses, func(a, b docsResp) int { return strings.Compare(a.Status, b.Status) })
	return v
}

func methodRank(m string) int {
	i := slices.Index([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, m)
	if i < 0 {
		return 99
	}
	return i
}
