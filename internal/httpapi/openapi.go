package httpapi

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
	"github.com/tldw-go/tldw/audit"
)

// The OpenAPI document is OpenAPI 3.0.3, the version kin-openapi validates and code
// generators (oapi-codegen among them) support fully. It is built from the route table with
// kin-openapi's model; every body schema is generated from the Go type the route names
// (openapi3gen), so the document describes exactly what the handlers encode.

// docOptions are the server settings the document shows.
type docOptions struct {
	Version string
	Cookie  string // name of the access-token cookie when cookie authentication is on, else ""
}

// noBody marks a status answered with an empty body (route.ByStatus).
type noBody struct{}

// oneOf is a body that is one of several Go types (route.Response, route.ByStatus).
type oneOf []any

// Struct tags read by the schema generator, beside json:
//
//	oapi:"required"            request field the client must send (responses: every field
//	                           without omitempty is required)
//	oapi:"binary"              a file part of a multipart form (string, format binary)
//	oapi:"nullable"            a slice or map the server may send as null
//	oapi:"enum=a|b,min=1,max=9,maxLength=500"
//	doc:"..."                  the field's description

// docHeaders describes the response headers routes name in route.Headers (and those every
// rate-limited route sends); the document lists them under components.headers.
var docHeaders = map[string]struct {
	desc, typ string
}{
	"Retry-After":           {"Seconds to wait before retrying", "integer"},
	"X-RateLimit-Limit":     {"Requests allowed in the current window", "integer"},
	"X-RateLimit-Remaining": {"Requests left in the current window", "integer"},
	"X-RateLimit-Reset":     {"Seconds until the window resets", "integer"},
	"ETag":                  {"Entity tag of the representation (send it back in If-None-Match)", "string"},
	"Content-Range":         {"Byte range of a partial response, or bytes */size for an unsatisfiable one", "string"},
	"Content-Disposition":   {"attachment; filename=...", "string"},
	"WWW-Authenticate":      {"Bearer", "string"},
	"X-User-Id":             {"The caller's user id", "integer"},
	"X-User-Name":           {"The caller's username (absent when it is not header-safe)", "string"},
	"X-User-Role":           {"The caller's role", "string"},
}

// schemaNames renames Go types whose derived component name would collide or read badly.
var schemaNames = map[reflect.Type]string{
	reflect.TypeFor[errorBody]():         "Error",
	reflect.TypeFor[FieldError]():        "ValidationError",
	reflect.TypeFor[statusBody]():        "ProbeStatus",
	reflect.TypeFor[mediaJSON]():         "MediaDetail",
	reflect.TypeFor[codeList]():          "RegistrationCodeList",
	reflect.TypeFor[codeJSON]():          "RegistrationCode",
	reflect.TypeFor[storageJSON]():       "StorageUsage",
	reflect.TypeFor[mediaResult]():       "MediaItemProcessResult",
	reflect.TypeFor[registeredBody]():    "RegistrationResponse",
	reflect.TypeFor[registrationJSON]():  "RegistrationSettings",
	reflect.TypeFor[registrationBody]():  "RegistrationSettingsRequest",
	reflect.TypeFor[pageJSON]():          "QuotaPagination",
	reflect.TypeFor[resetPasswordJSON](): "PasswordReset",
	reflect.TypeFor[revokeAllJSON]():     "SessionsRevoked",
	reflect.TypeFor[newKeyBody]():        "NewApiKey",
	reflect.TypeFor[audit.View]():        "AuditEntry",
	reflect.TypeFor[audit.Break]():       "AuditBreak",
}

// schemaName is the component name of a Go type: schemaNames, else the type name with a
// leading capital and without a Body/JSON suffix (userBody → User); request types end in
// Request or Form (createUserBody → CreateUserRequest). A type that shapes its own schema
// (schemaTyper) is inlined ("").
func schemaName(t reflect.Type, request bool) string {
	if n, ok := schemaNames[t]; ok {
		return n
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[schemaTyper]()) || t.Name() == "" {
		return ""
	}
	n := t.Name()
	for _, suffix := range []string{"JSON", "Body"} {
		if s, ok := strings.CutSuffix(n, suffix); ok && s != "" {
			n = s
		}
	}
	if request && !strings.HasSuffix(n, "Request") && !strings.HasSuffix(n, "Form") {
		n += "Request"
	}
	r := []rune(n)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// schemaTyper is a type whose JSON form is not its fields (a custom MarshalJSON or
// UnmarshalJSON); it names its JSON Schema type.
type schemaTyper interface {
	schemaType() (typ, format string, nullable bool)
}

// schemaGen generates component schemas from Go types. Requests and responses differ only in
// which fields are required.
type schemaGen struct {
	schemas openapi3.Schemas
	names   map[string]reflect.Type // component name → type, to catch collisions
	req     *openapi3gen.Generator
	resp    *openapi3gen.Generator
	err     error
}

func newSchemaGen() *schemaGen {
	g := &schemaGen{schemas: openapi3.Schemas{}, names: map[string]reflect.Type{}}
	opts := func(request bool) []openapi3gen.Option {
		return []openapi3gen.Option{
			openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{
				ExportComponentSchemas: true, ExportTopLevelSchema: true}),
			openapi3gen.CreateTypeNameGenerator(func(t reflect.Type) string { return g.typeName(t, request) }),
			openapi3gen.SchemaCustomizer(func(_ string, t reflect.Type, tag reflect.StructTag, s *openapi3.Schema) error {
				return customize(t, tag, s, request)
			}),
		}
	}
	g.req, g.resp = openapi3gen.NewGenerator(opts(true)...), openapi3gen.NewGenerator(opts(false)...)
	return g
}

// typeName is schemaName, recording the first collision in g.err.
func (g *schemaGen) typeName(t reflect.Type, request bool) string {
	n := schemaName(t, request)
	if prev, ok := g.names[n]; n != "" && ok && prev != t && g.err == nil {
		g.err = fmt.Errorf("httpapi: OpenAPI schema name %q used by %v and %v (add one to schemaNames)", n, prev, t)
	}
	if n != "" {
		g.names[n] = t
	}
	return n
}

// ref returns the schema of v's type (a component reference for a named struct).
func (g *schemaGen) ref(v any, request bool) (*openapi3.SchemaRef, error) {
	gen := g.resp
	if request {
		gen = g.req
	}
	ref, err := gen.NewSchemaRefForValue(v, g.schemas)
	if err == nil {
		err = g.err
	}
	if err != nil {
		return nil, fmt.Errorf("httpapi: schema of %T: %w", v, err)
	}
	return ref, nil
}

// customize applies the oapi and doc tags to a field's schema and computes a struct's
// required list.
func customize(t reflect.Type, tag reflect.StructTag, s *openapi3.Schema, request bool) error {
	if st, ok := reflect.New(t).Interface().(schemaTyper); ok {
		typ, format, nullable := st.schemaType()
		*s = openapi3.Schema{Type: &openapi3.Types{typ}, Format: format, Nullable: nullable}
		return nil
	}
	scalar := !s.Type.Is("array") && !s.Type.Is("object")
	for opt := range strings.SplitSeq(tag.Get("oapi"), ",") {
		key, val, _ := strings.Cut(opt, "=")
		switch {
		case key == "nullable":
			s.Nullable = true
		case !scalar || key == "" || key == "required":
		case key == "binary":
			s.Format = "binary"
		case key == "enum":
			for v := range strings.SplitSeq(val, "|") {
				s.Enum = append(s.Enum, v)
			}
		case key == "min" || key == "max" || key == "maxLength":
			n, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return fmt.Errorf("oapi tag %q: %w", opt, err)
			}
			switch key {
			case "min":
				s.Min = &n
			case "max":
				s.Max = &n
			default:
				s.MaxLength = new(uint64(n))
			}
		default:
			return fmt.Errorf("unknown oapi tag option %q", opt)
		}
	}
	if t.Kind() != reflect.Struct || s.Properties == nil {
		return nil
	}
	s.Required = nil
	for _, f := range reflect.VisibleFields(t) {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || f.Anonymous || name == "-" || name == "" {
			continue
		}
		if _, ok := s.Properties[name]; !ok {
			continue
		}
		need := !slices.Contains(strings.Split(opts, ","), "omitempty")
		if request {
			need = slices.Contains(strings.Split(f.Tag.Get("oapi"), ","), "required")
		}
		if need {
			s.Required = append(s.Required, name)
		}
		if d := f.Tag.Get("doc"); d != "" && !strings.HasPrefix(s.Properties[name].Ref, "#/") {
			s.Properties[name].Value.Description = d
		}
		// A pointer to a struct is a $ref, which OpenAPI 3.0 cannot mark nullable itself.
		if ref := s.Properties[name]; f.Type.Kind() == reflect.Pointer && strings.HasPrefix(ref.Ref, "#/") {
			s.Properties[name] = &openapi3.SchemaRef{Value: &openapi3.Schema{Nullable: true, AllOf: openapi3.SchemaRefs{ref}}}
		}
	}
	return nil
}

// buildDocument describes every route (and trailing-slash twin) of the table.
func buildDocument(routes []route, o docOptions) (*openapi3.T, error) {
	if o.Version == "" {
		o.Version = "dev"
	}
	g := newSchemaGen()
	d := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{
			Title:   "tldw API",
			Version: o.Version,
			Description: "Multi-user media-knowledge server (too long; didn't watch), " +
				"compatible with the tldw_server /api/v1 contract.",
		},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas: g.schemas,
			SecuritySchemes: openapi3.SecuritySchemes{
				"bearer": {Value: &openapi3.SecurityScheme{Type: "http", Scheme: "bearer", BearerFormat: "JWT",
					Description: "Access token from /api/v1/auth/login, or an API key"}},
				"apiKey": {Value: &openapi3.SecurityScheme{Type: "apiKey", In: "header", Name: "X-API-KEY",
					Description: "Single-user key or personal API key"}},
			},
		},
		Security: openapi3.SecurityRequirements{{"bearer": {}}, {"apiKey": {}}},
	}
	if o.Cookie != "" {
		d.Components.SecuritySchemes["cookie"] = &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
			Type: "apiKey", In: "cookie", Name: o.Cookie,
			Description: "Access token set by login in cookie mode; unsafe methods also need the X-CSRF-Token header"}}
		d.Security = append(d.Security, openapi3.SecurityRequirement{"cookie": {}})
	}
	d.Components.Headers = openapi3.Headers{}
	for name, h := range docHeaders {
		d.Components.Headers[name] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: h.desc, Schema: &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{h.typ}}}}}}
	}
	if _, err := g.ref(errorBody{}, false); err != nil {
		return nil, err
	}
	d.Components.Schemas["Error"].Value.Properties["detail"] = &openapi3.SchemaRef{Value: &openapi3.Schema{
		Description: "A message; for validation errors (422) a FastAPI-style list",
		OneOf: openapi3.SchemaRefs{
			{Value: openapi3.NewStringSchema()},
			{Value: openapi3.NewArraySchema().WithItems(nil)},
		},
	}}
	d.Components.Schemas["Error"].Value.Properties["detail"].Value.OneOf[1].Value.Items =
		openapi3.NewSchemaRef("#/components/schemas/ValidationError", nil)
	if _, err := g.ref(FieldError{}, false); err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, rt := range routes {
		if rt.Tag != "" && d.Tags.Get(rt.Tag) == nil {
			d.Tags = append(d.Tags, &openapi3.Tag{Name: rt.Tag})
		}
		for i, tpl := range rt.templates() {
			p, vars := docPath(tpl)
			op, err := newOperation(g, rt, vars)
			if err != nil {
				return nil, fmt.Errorf("httpapi: route %s %s: %w", rt.Method, p, err)
			}
			if i > 0 {
				op.OperationID += "Slash"
			}
			if ids[op.OperationID] {
				return nil, fmt.Errorf("httpapi: duplicate operationId %q", op.OperationID)
			}
			ids[op.OperationID] = true
			item := d.Paths.Value(p)
			if item == nil {
				item = &openapi3.PathItem{}
				d.Paths.Set(p, item)
			}
			item.SetOperation(rt.Method, op)
		}
	}
	return d, nil
}

const errorRef = "#/components/schemas/Error"

func newOperation(g *schemaGen, rt route, vars []pathVar) (*openapi3.Operation, error) {
	id := rt.ID
	if id == "" {
		id = operationID(rt.Method, rt.Path)
	}
	op := &openapi3.Operation{OperationID: id, Summary: rt.Summary, Responses: openapi3.NewResponses()}
	if rt.Tag != "" {
		op.Tags = []string{rt.Tag}
	}
	switch {
	case rt.Public:
		op.Security = &openapi3.SecurityRequirements{}
		op.Description = "Public: no credential needed."
	case rt.Perm != "":
		op.Extensions = map[string]any{"x-required-permission": string(rt.Perm)}
		op.Description = fmt.Sprintf("Requires the permission `%s`.", rt.Perm)
	default:
		op.Description = "Requires a credential (any role)."
	}
	for _, v := range vars {
		s := openapi3.NewStringSchema()
		if v.Pattern == "[0-9]+" || v.Pattern == `\d+` {
			s = openapi3.NewInt64Schema().WithMin(0)
		}
		op.AddParameter(openapi3.NewPathParameter(v.Name).WithSchema(s))
	}
	for _, q := range rt.Query {
		op.AddParameter(q.parameter())
	}
	if rt.Body != "" {
		body := openapi3.NewRequestBody().WithRequired(!rt.BodyOptional)
		for _, ct := range mediaTypes(rt.Body) {
			s, err := bodySchema(g, ct, rt.Request, true)
			if err != nil {
				return nil, err
			}
			if body.Content == nil {
				body.Content = openapi3.Content{}
			}
			body.Content[ct] = openapi3.NewMediaType().WithSchemaRef(s)
		}
		op.RequestBody = &openapi3.RequestBodyRef{Value: body}
	}
	produces := rt.Produces
	if produces == "" {
		produces = "application/json"
	}
	responses := maps.Clone(rt.Responses)
	if responses == nil {
		responses = map[int]string{}
	}
	if !rt.Public {
		if _, ok := responses[http.StatusUnauthorized]; !ok {
			responses[http.StatusUnauthorized] = "Not authenticated"
		}
		if _, ok := responses[http.StatusForbidden]; !ok && rt.Perm != "" {
			responses[http.StatusForbidden] = "Not allowed"
		}
	}
	if _, ok := responses[http.StatusTooManyRequests]; !ok && (rt.AuthLimited || !rt.Public) {
		responses[http.StatusTooManyRequests] = "Rate limited (AUTH_RATE_LIMIT / API_RATE_LIMIT); see Retry-After"
	}
	for _, status := range slices.Sorted(maps.Keys(responses)) {
		resp := openapi3.NewResponse().WithDescription(responses[status])
		v, ok := rt.ByStatus[status]
		switch {
		case ok:
		case status >= 400:
			v = errorBody{}
		default:
			v = rt.Response
		}
		if _, empty := v.(noBody); !empty && rt.Method != http.MethodHead && status != http.StatusNoContent &&
			status != http.StatusNotModified {
			cts := mediaTypes(produces)
			if _, isErr := v.(errorBody); isErr || ok {
				cts = []string{"application/json"}
			}
			for _, ct := range cts {
				s, err := bodySchema(g, ct, v, false)
				if err != nil {
					return nil, err
				}
				if resp.Content == nil {
					resp.Content = openapi3.Content{}
				}
				resp.Content[ct] = openapi3.NewMediaType().WithSchemaRef(s)
			}
		}
		names := slices.Clone(rt.Headers[status])
		if status == http.StatusTooManyRequests {
			names = append(names, "Retry-After")
		}
		if limited := rt.AuthLimited || !rt.Public; limited && (status < 400 || status == http.StatusTooManyRequests) {
			names = append(names, "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
		}
		if status == http.StatusUnauthorized && rt.Method != http.MethodHead {
			names = append(names, "WWW-Authenticate")
		}
		for _, name := range names {
			if _, ok := docHeaders[name]; !ok {
				return nil, fmt.Errorf("undocumented response header %q", name)
			}
			if resp.Headers == nil {
				resp.Headers = openapi3.Headers{}
			}
			resp.Headers[name] = &openapi3.HeaderRef{Ref: "#/components/headers/" + name}
		}
		op.Responses.Set(strconv.Itoa(status), &openapi3.ResponseRef{Value: resp})
	}
	def := openapi3.NewResponse().WithDescription("Error")
	if rt.Method != http.MethodHead {
		def.Content = openapi3.NewContentWithJSONSchemaRef(openapi3.NewSchemaRef(errorRef, nil))
	}
	op.Responses.Set("default", &openapi3.ResponseRef{Value: def})
	return op, nil
}

// mediaTypes splits a comma-separated list of media types.
func mediaTypes(list string) []string {
	var out []string
	for ct := range strings.SplitSeq(list, ",") {
		out = append(out, strings.TrimSpace(ct))
	}
	return out
}

// bodySchema is the schema of a body of media type ct: v's type for JSON and forms, text
// for text/*, bytes for anything else.
func bodySchema(g *schemaGen, ct string, v any, request bool) (*openapi3.SchemaRef, error) {
	switch {
	case ct == "application/json" || strings.HasSuffix(ct, "form-urlencoded") || strings.HasPrefix(ct, "multipart/"):
		if v == nil {
			return nil, fmt.Errorf("%s body without a Go type", ct)
		}
		alts, ok := v.(oneOf)
		if !ok {
			return g.ref(v, request)
		}
		s := &openapi3.Schema{}
		for _, a := range alts {
			ref, err := g.ref(a, request)
			if err != nil {
				return nil, err
			}
			s.OneOf = append(s.OneOf, ref)
		}
		return s.NewRef(), nil
	case strings.HasPrefix(ct, "text/"):
		return openapi3.NewStringSchema().NewRef(), nil
	default:
		return openapi3.NewStringSchema().WithFormat("binary").NewRef(), nil
	}
}

// parameter is the OpenAPI form of a query parameter.
func (q param) parameter() *openapi3.Parameter {
	s := &openapi3.Schema{Type: &openapi3.Types{cmp.Or(q.Type, "string")}}
	if q.Type == "integer" {
		s.Format = "int64"
	}
	for _, e := range q.Enum {
		s.Enum = append(s.Enum, e)
	}
	if len(q.Range) > 0 {
		s.Min = new(float64(q.Range[0]))
	}
	if len(q.Range) > 1 {
		s.Max = new(float64(q.Range[1]))
	}
	p := openapi3.NewQueryParameter(q.Name).WithSchema(s).WithDescription(q.Description)
	p.Required = q.Required
	return p
}

// operationID derives an id from method and path for a route without ID: GET
// /api/v1/media/{id} → get_api_v1_media_id.
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
	return b.String()
}

// docOptions returns the settings the document shows.
func (s *Server) docOptions() docOptions {
	o := docOptions{Version: s.o.Version}
	if s.o.AuthCookies {
		o.Cookie = s.cookieName(accessCookie)
	}
	return o
}

// marshalDocument encodes the document; kin-openapi encodes maps with sorted keys, so the
// served bytes are deterministic.
func marshalDocument(d *openapi3.T) ([]byte, error) {
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
