package httpapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// document is the OpenAPI 3.1 description of the route table. Encoding/json sorts map keys,
// so the served bytes are deterministic.
type document struct {
	OpenAPI    string                           `json:"openapi"`
	Info       docInfo                          `json:"info"`
	Tags       []docTag                         `json:"tags,omitempty"`
	Paths      map[string]map[string]*operation `json:"paths"`
	Components docComponents                    `json:"components"`
	Security   []map[string][]string            `json:"security"`
}

type docInfo struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

type docTag struct {
	Name string `json:"name"`
}

type docComponents struct {
	Schemas         map[string]schema         `json:"schemas"`
	SecuritySchemes map[string]securityScheme `json:"securitySchemes"`
}

type securityScheme struct {
	Type         string `json:"type"`
	Scheme       string `json:"scheme,omitempty"`
	BearerFormat string `json:"bearerFormat,omitempty"`
	In           string `json:"in,omitempty"`
	Name         string `json:"name,omitempty"`
	Description  string `json:"description,omitempty"`
}

// schema is the small JSON Schema subset the document uses.
type schema struct {
	Ref        string            `json:"$ref,omitempty"`
	Type       string            `json:"type,omitempty"`
	Required   []string          `json:"required,omitempty"`
	Properties map[string]schema `json:"properties,omitempty"`
}

type operation struct {
	OperationID string                 `json:"operationId"`
	Summary     string                 `json:"summary,omitempty"`
	Tags        []string               `json:"tags,omitempty"`
	Parameters  []parameter            `json:"parameters,omitempty"`
	RequestBody *requestBody           `json:"requestBody,omitempty"`
	Responses   map[string]response    `json:"responses"`
	Security    *[]map[string][]string `json:"security,omitempty"` // &[] for public routes
	method      string                 // upper-case HTTP method, for /docs
	path        string                 // OpenAPI path, for /docs
	public      bool                   // no credential needed, for /docs
}

type parameter struct {
	Name        string `json:"name"`
	In          string `json:"in"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required"`
	Schema      schema `json:"schema"`
}

type requestBody struct {
	Required bool                 `json:"required"`
	Content  map[string]mediaType `json:"content"`
}

type response struct {
	Description string               `json:"description"`
	Content     map[string]mediaType `json:"content,omitempty"`
}

type mediaType struct {
	Schema schema `json:"schema"`
}

// buildDocument describes every route (and trailing-slash twin) of the table.
func buildDocument(routes []route, version string) (*document, error) {
	if version == "" {
		version = "dev"
	}
	d := &document{
		OpenAPI: "3.1.0",
		Info: docInfo{
			Title:   "tldw API",
			Version: version,
			Description: "Multi-user media-knowledge server (too long; didn't watch), " +
				"compatible with the tldw_server /api/v1 contract.",
		},
		Paths: map[string]map[string]*operation{},
		Components: docComponents{
			Schemas: map[string]schema{
				"Error": {Type: "object", Required: []string{"detail", "code"}, Properties: map[string]schema{
					"detail":     {Type: "string"},
					"code":       {Type: "string"},
					"request_id": {Type: "string"},
				}},
			},
			SecuritySchemes: map[string]securityScheme{
				"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
					Description: "Access token from /api/v1/auth/login, or an API key"},
				"apiKey": {Type: "apiKey", In: "header", Name: "X-API-KEY",
					Description: "Single-user key or personal API key"},
			},
		},
		Security: []map[string][]string{{"bearer": {}}, {"apiKey": {}}},
	}
	ids := map[string]bool{}
	for _, rt := range routes {
		if rt.Tag != "" && !slices.ContainsFunc(d.Tags, func(t docTag) bool { return t.Name == rt.Tag }) {
			d.Tags = append(d.Tags, docTag{Name: rt.Tag})
		}
		for _, tpl := range rt.templates() {
			p, vars := docPath(tpl)
			op := newOperation(rt, p, vars)
			if ids[op.OperationID] {
				return nil, fmt.Errorf("httpapi: duplicate operationId %q", op.OperationID)
			}
			ids[op.OperationID] = true
			item := d.Paths[p]
			if item == nil {
				item = map[string]*operation{}
				d.Paths[p] = item
			}
			item[strings.ToLower(rt.Method)] = op
		}
	}
	return d, nil
}

func newOperation(rt route, path string, vars []pathVar) *operation {
	op := &operation{
		OperationID: operationID(rt.Method, path),
		Summary:     rt.Summary,
		Responses:   map[string]response{},
		method:      rt.Method,
		path:        path,
		public:      rt.Public,
	}
	if rt.Tag != "" {
		op.Tags = []string{rt.Tag}
	}
	if rt.Public {
		op.Security = &[]map[string][]string{}
	}
	for _, v := range vars {
		typ := "string"
		if v.Pattern == "[0-9]+" || v.Pattern == `\d+` {
			typ = "integer"
		}
		op.Parameters = append(op.Parameters, parameter{Name: v.Name, In: "path", Required: true,
			Schema: schema{Type: typ}})
	}
	for _, q := range rt.Query {
		typ := q.Type
		if typ == "" {
			typ = "string"
		}
		op.Parameters = append(op.Parameters, parameter{Name: q.Name, In: "query",
			Description: q.Description, Required: q.Required, Schema: schema{Type: typ}})
	}
	if rt.Body != "" {
		op.RequestBody = &requestBody{Required: true,
			Content: map[string]mediaType{rt.Body: {Schema: schema{Type: "object"}}}}
	}
	produces := rt.Produces
	if produces == "" {
		produces = "application/json"
	}
	success := schema{Type: "object"}
	if !strings.Contains(produces, "json") {
		success = schema{Type: "string"}
	}
	responses := rt.Responses
	if rt.AuthLimited || !rt.Public {
		responses = maps.Clone(rt.Responses)
		if responses == nil {
			responses = map[int]string{}
		}
		if _, ok := responses[http.StatusTooManyRequests]; !ok {
			responses[http.StatusTooManyRequests] = "Rate limited (AUTH_RATE_LIMIT / API_RATE_LIMIT); see Retry-After"
		}
	}
	for status, desc := range responses {
		resp := response{Description: desc}
		switch {
		case rt.Method == http.MethodHead || status == http.StatusNoContent:
		case status >= 500: // an Error, or a probe's status body
			resp.Content = map[string]mediaType{"application/json": {Schema: schema{Type: "object"}}}
		case status >= 400:
			resp.Content = map[string]mediaType{"application/json": {Schema: schema{Ref: "#/components/schemas/Error"}}}
		default:
			resp.Content = map[string]mediaType{produces: {Schema: success}}
		}
		op.Responses[strconv.Itoa(status)] = resp
	}
	op.Responses["default"] = response{Description: "Error",
		Content: map[string]mediaType{"application/json": {Schema: schema{Ref: "#/components/schemas/Error"}}}}
	return op
}

// operationID derives a unique id from method and path: GET /api/v1/media/{id} →
// get_api_v1_media_id; a trailing slash adds "_slash".
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	word := false
	for _, c := range path {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if ok {
			if !word {
				b.WriteByte('_')
			}
			b.WriteRune(c)
		}
		word = ok
	}
	if len(path) > 1 && strings.HasSuffix(path, "/") {
		b.WriteString("_slash")
	}
	return b.String()
}

func (d *document) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("httpapi: encode OpenAPI document: %w", err)
	}
	return append(b, '\n'), nil
}

// serveOpenAPI serves the document (public: clients pick features from its paths).
func (s *docsAPI) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi)
	return nil
}
