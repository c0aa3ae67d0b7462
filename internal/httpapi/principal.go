package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

// maxCredentialBytes bounds the Authorization and X-API-KEY headers: anything longer is
// refused before it is parsed (a JWT of ours is well under 1 KiB).
const maxCredentialBytes = 8 << 10

// defaultBodyBytes caps JSON and form bodies when Options.MaxJSONBytes is 0.
const defaultBodyBytes = 1 << 20

// principalKey keys the authenticated principal in a request context.
type principalKey struct{}

// principalFrom returns the principal the gate authenticated for this request, or nil on a
// public route (and outside a Server). Handlers of non-public routes can rely on it being
// set.
func principalFrom(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey{}).(*auth.Principal)
	return p
}

// withPrincipal returns ctx carrying p.
func withPrincipal(ctx context.Context, p *auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// meta returns what the auth service and audit events record about r: the real client IP
// (see clientIP), user agent, request id, method and path. User agent and path are cut to bounded lengths.
func (s *core) meta(r *http.Request) auth.Meta {
	return auth.Meta{
		IP:        s.clientIP(r),
		UserAgent: truncateUTF8(r.UserAgent(), 512),
		RequestID: RequestID(r.Context()),
		Method:    truncateUTF8(r.Method, 16),
		Path:      truncateUTF8(r.URL.Path, 2048),
	}
}

// truncateUTF8 shortens v to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(v string, n int) string {
	if len(v) <= n {
		return v
	}
	return strings.ToValidUTF8(v[:n], "")
}

// credentials are what a request presents. Query parameters are never read: tokens in
// URLs are for WebSocket upgrades only.
type credentials struct {
	bearer string // Authorization: Bearer value, or the access cookie
	apiKey string // X-API-KEY value
	cookie bool   // bearer came from the access cookie (unsafe methods then need CSRF proof)
}

// none reports whether nothing was presented.
func (c credentials) none() bool { return c.bearer == "" && c.apiKey == "" }

// errNotAuthenticated and errBadCredentials are the gate's 401s.
var (
	errNotAuthenticated = &Error{Status: http.StatusUnauthorized, Code: "not_authenticated", Detail: "Not authenticated"}
	errBadCredentials   = &Error{Status: http.StatusUnauthorized, Code: "not_authenticated", Detail: "Could not validate credentials"}
	errPermission       = &Error{Status: http.StatusForbidden, Code: "forbidden", Detail: "Not enough permissions"}
	errPasswordChange   = &Error{Status: http.StatusForbidden, Code: "password_change_required",
		Detail: "Password change required: change the password first (POST /api/v1/users/change-password)"}
)

// credentialsFrom reads r's credentials: an Authorization Bearer value (other schemes are
// ignored), X-API-KEY, and with AuthCookies the access cookie when neither header is
// present. A repeated or oversized header is errBadCredentials.
func (s *core) credentialsFrom(r *http.Request) (credentials, error) {
	var c credentials
	authz, key := r.Header.Values("Authorization"), r.Header.Values("X-Api-Key")
	if len(authz) > 1 || len(key) > 1 {
		return c, errBadCredentials
	}
	if len(authz) == 1 {
		if len(authz[0]) > maxCredentialBytes {
			return c, errBadCredentials
		}
		if scheme, v, ok := strings.Cut(strings.TrimSpace(authz[0]), " "); ok && strings.EqualFold(scheme, "Bearer") {
			c.bearer = strings.TrimSpace(v)
		}
	}
	if len(key) == 1 {
		if len(key[0]) > maxCredentialBytes {
			return c, errBadCredentials
		}
		c.apiKey = strings.TrimSpace(key[0])
	}
	if c.none() && s.o.AuthCookies {
		if ck, err := r.Cookie(s.cookieName(accessCookie)); err == nil && ck.Value != "" {
			if len(ck.Value) > maxCredentialBytes {
				return c, errBadCredentials
			}
			c.bearer, c.cookie = ck.Value, true
		}
	}
	return c, nil
}

// authenticate resolves r's principal through Options.Auth. A missing or rejected credential
// is a 401 *Error; any other error is a backend failure (500).
func (s *core) authenticate(r *http.Request) (*auth.Principal, credentials, error) {
	c, err := s.credentialsFrom(r)
	if err != nil {
		return nil, c, err
	}
	p, err := s.principal(r, c)
	return p, c, err
}

// principal resolves the credentials c that r presented, as authenticate does.
func (s *core) principal(r *http.Request, c credentials) (*auth.Principal, error) {
	if c.none() {
		return nil, errNotAuthenticated
	}
	if s.o.Auth == nil {
		return nil, errBadCredentials
	}
	p, err := s.o.Auth.Authenticate(r.Context(), c.bearer, c.apiKey, s.meta(r))
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return nil, &Error{Status: http.StatusUnauthorized, Code: "not_authenticated",
			Detail: errBadCredentials.Detail, Err: err}
	case err != nil:
		return nil, err
	case p == nil:
		return nil, errBadCredentials
	}
	return p, nil
}

// gate returns rt's handler behind the authentication gate. Public routes pass through.
// Every other route needs a principal (401 with WWW-Authenticate: Bearer otherwise) that
// holds rt.Perm (403 otherwise, audited as access_denied); a principal authenticated by
// cookie must also prove an unsafe request is not cross-site (403 csrf_failed). A principal
// that must change its password reaches only the routes marked PendingOK (403
// password_change_required otherwise), whatever its credential. The principal is put in
// the request context for principalFrom. label is the route template.
//
// A WebSocket route (streamWebSocket) also takes ?token=; an upgrade without any
// credential reaches the handler without a principal, and acceptWebSocket authenticates
// the first message through the same checks (websocket.go).
func (s *core) gate(rt route, label string) handlerFunc {
	if rt.Public {
		return rt.Handler
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-store")
		c, err := s.credentialsFrom(r)
		if err != nil {
			return err
		}
		if rt.Stream == streamWebSocket && c.none() {
			if c.bearer, err = queryToken(r); err != nil {
				return err
			}
			if c.none() {
				return rt.Handler(w, r.WithContext(withLateAuth(r.Context(), s.lateAuth(r, rt, label))))
			}
		}
		p, err := s.principal(r, c)
		if err == nil {
			err = s.admit(r, rt, label, p, c)
		}
		var e *Error
		if err != nil && rt.InBandAuth && errors.As(err, &e) && e.Status < 500 && headerHasToken(r.Header, "Upgrade", "websocket") {
			return rt.Handler(w, r.WithContext(context.WithValue(r.Context(), authRefusalKey{}, err)))
		}
		if err != nil {
			return err
		}
		return rt.Handler(w, r.WithContext(withPrincipal(r.Context(), p)))
	}
}

type authRefusalKey struct{}

// authRefusalFrom returns the gate's refusal (a 401 or 403 *Error) of the credential a
// WebSocket upgrade presented on a route with InBandAuth, or nil: the handler answers it
// after the upgrade, where browsers can read it.
func authRefusalFrom(ctx context.Context) error {
	err, _ := ctx.Value(authRefusalKey{}).(error)
	return err
}

// admit applies rt's checks to the authenticated principal p: the pending password change,
// the permission (a denial is audited) and, for a cookie credential on an unsafe method,
// the CSRF proof.
func (s *core) admit(r *http.Request, rt route, label string, p *auth.Principal, c credentials) error {
	if p.MustChangePassword && !rt.PendingOK {
		return errPasswordChange
	}
	if rt.Perm != "" && !p.Can(rt.Perm) {
		s.auditDenied(r, p, label, rt.Perm)
		return errPermission
	}
	if c.cookie && !safeMethod(r.Method) {
		return s.checkCSRF(r)
	}
	return nil
}

// safeMethod reports methods that must not change state.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// auditDenied records an authorisation denial in Options.Audit (if set). A failing sink is
// logged; the request is denied either way.
func (s *core) auditDenied(r *http.Request, p *auth.Principal, label string, perm auth.Permission) {
	if s.o.Audit == nil {
		return
	}
	m := s.meta(r)
	e := audit.Event{Time: s.now().UTC(), UserID: p.UserID, Username: p.Username, Action: audit.AccessDenied,
		TargetType: "route", TargetID: label, Success: false, Error: "missing permission " + string(perm),
		IP: m.IP, UserAgent: m.UserAgent, RequestID: m.RequestID, Method: m.Method, Path: m.Path,
		Details: map[string]any{"permission": string(perm), "role": string(p.Role), "via": p.Via}}
	if err := s.o.Audit.Write(context.WithoutCancel(r.Context()), e); err != nil {
		s.logger(r).ErrorContext(r.Context(), "audit write failed", "action", e.Action, "error", err)
	}
}

// Request bodies. Handlers of JSON routes decode with readJSON and report missing fields
// with missingFields, so every route answers malformed input the same way.

// maxBody is the cap on JSON and form bodies.
func (s *core) maxBody() int64 {
	if s.o.MaxJSONBytes > 0 {
		return s.o.MaxJSONBytes
	}
	return defaultBodyBytes
}

// errUnsupportedMedia refuses bodies that are not JSON on JSON routes.
var errUnsupportedMedia = &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
	Detail: "Content-Type must be application/json"}

// isJSON reports whether a Content-Type names JSON.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// readJSON decodes r's JSON object body into dst, a pointer to a struct; unknown fields are
// ignored (a struct without role or is_active fields cannot be smuggled one, even with
// duplicate keys). An empty body leaves dst unchanged; handlers that need fields check them
// with missingFields. Errors, all *Error: 415 when a Content-Type other than JSON is given
// (a cross-site text/plain form post cannot reach a JSON route), 413 over the body cap, 400
// for malformed JSON, 422 (FastAPI-style list) for a value of the wrong type.
func (s *core) readJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return errUnsupportedMedia
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody()))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Detail: "Request body is too large"}
	}
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "Could not read the request body", Err: err}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := checkJSONText(body); err != nil {
		return err
	}
	err = json.Unmarshal(body, dst)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		loc := []string{"body"}
		if typeErr.Field != "" {
			loc = append(loc, strings.Split(typeErr.Field, ".")...)
		}
		kind := jsonTypeName(typeErr.Type)
		return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_error",
			Detail: "Invalid value for " + strings.Join(loc, "."),
			Fields: []FieldError{{Loc: loc, Msg: "value is not a valid " + kind, Type: "type_error." + kind}}}
	case err != nil:
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Detail: "Request body is not valid JSON"}
	}
	return nil
}

// jsonTypeName names the JSON type a Go type decodes from, FastAPI style.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "str"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Slice, reflect.Array:
		return "list"
	}
	return "dict"
}

// missingFields is the 422 for required body fields that are absent, as tldw_server (FastAPI)
// reports them: {"detail": [{"loc": ["body", name], "msg": "field required", "type":
// "value_error.missing"}, ...]}. It returns nil when names is empty.
func missingFields(names ...string) error {
	if len(names) == 0 {
		return nil
	}
	e := &Error{Status: http.StatusUnprocessableEntity, Code: "validation_error",
		Detail: "Missing required field: " + strings.Join(names, ", ")}
	for _, n := range names {
		e.Fields = append(e.Fields, FieldError{Loc: []string{"body", n}, Msg: "field required", Type: "value_error.missing"})
	}
	return e
}

// RequireAuth guards an embedder's handler with the gate tldw's own routes use: a missing or
// invalid credential is a 401 JSON error; otherwise next runs with the principal in the
// request context (PrincipalFrom).
func (s *Server) RequireAuth(next http.Handler) http.Handler {
	h := s.gate(route{Handler: func(w http.ResponseWriter, r *http.Request) error {
		next.ServeHTTP(w, r)
		return nil
	}}, "embedded")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// PrincipalFrom returns the principal authenticated for the request, or nil.
func PrincipalFrom(ctx context.Context) *auth.Principal { return principalFrom(ctx) }
