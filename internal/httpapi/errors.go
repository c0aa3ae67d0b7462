package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Sentinel errors of the HTTP layer. Handlers return them (wrapped with %w for detail) and
// writeError maps them through errorTable. Their text is shown to clients as "detail", so
// it must never carry internals.
var (
	// ErrNotFound: the path or object does not exist (404 not_found).
	ErrNotFound = errors.New("not found")
	// ErrMethodNotAllowed: the path exists but not for this method (405 method_not_allowed).
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrBadRequest: the request is malformed (400 bad_request).
	ErrBadRequest = errors.New("bad request")
	// ErrPayloadTooLarge: the body exceeds its cap (413 payload_too_large).
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrUnauthorized: no valid credential (401 not_authenticated, with WWW-Authenticate).
	ErrUnauthorized = errors.New("not authenticated")
	// ErrForbidden: the credential is valid but not allowed here (403 forbidden).
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable: the server cannot serve the request right now (503 service_unavailable).
	ErrUnavailable = errors.New("service unavailable")

	// ErrDegraded, returned (possibly wrapped) by a Check, marks the check "degraded"
	// instead of "error"; the overall health is then degraded (206), even for a critical check.
	ErrDegraded = errors.New("degraded")
	// ErrMigrationsPending, returned (possibly wrapped) by Options.Ready, makes
	// /api/v1/health/ready report "migrations pending" instead of "database unreachable".
	ErrMigrationsPending = errors.New("migrations pending")
)

// errorRow maps one sentinel (matched with errors.Is) to an HTTP status and a stable code.
type errorRow struct {
	err    error
	status int
	code   string
}

// errorTable is the one table from sentinel to HTTP status and code. Later domain packages
// add their rows here (auth.ErrNotFound → 404 not_found, quota.ErrExceeded → 413 ...).
// The first matching row wins, so put specific rows before general ones.
func errorTable() []errorRow {
	return []errorRow{
		{ErrNotFound, http.StatusNotFound, "not_found"},
		{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed"},
		{ErrBadRequest, http.StatusBadRequest, "bad_request"},
		{ErrPayloadTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large"},
		{ErrUnauthorized, http.StatusUnauthorized, "not_authenticated"},
		{ErrForbidden, http.StatusForbidden, "forbidden"},
		{ErrUnavailable, http.StatusServiceUnavailable, "service_unavailable"},
	}
}

// Error is an error made by a handler for one response: its Detail is shown to the client,
// its Err (optional) only logged. Header entries are added to the response (e.g. Retry-After).
// An Error is immutable once returned; it is safe to share between goroutines.
type Error struct {
	Status int         // HTTP status, e.g. 400
	Code   string      // stable machine-readable code, e.g. "invalid_host"
	Detail string      // human-readable message shown to the client
	Header http.Header // optional extra response headers
	Err    error       // optional cause, logged, never shown
}

// Errorf returns an *Error with the given status and code and a detail formatted like
// fmt.Sprintf. Use it for handler-made 4xx errors; %w is not interpreted (set Err for a cause).
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Error returns the detail and, when set, the cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Detail + ": " + e.Err.Error()
	}
	return e.Detail
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// errorBody is the JSON body of every error response, compatible with tldw_server clients
// (which read the string "detail").
type errorBody struct {
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
}

// classify returns the status, code and client-visible detail of err, plus extra headers.
// Anything unknown is a 500 with a generic detail.
func classify(err error) (status int, code, detail string, header http.Header) {
	var e *Error
	if errors.As(err, &e) {
		return e.Status, e.Code, e.Detail, e.Header
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge, "payload_too_large", ErrPayloadTooLarge.Error(), nil
	}
	for _, row := range errorTable() {
		if errors.Is(err, row.err) {
			return row.status, row.code, err.Error(), nil
		}
	}
	return http.StatusInternalServerError, "internal_error", "internal error", nil
}

// writeError answers the request with err mapped through the error table. A 500 shows only
// "internal error" and the request id; the full chain goes to the log. If the handler has
// already started the response, writeError only logs.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	log := s.logger(r)
	status, code, detail, header := classify(err)
	if status == http.StatusInternalServerError {
		detail = "internal error"
	}
	if rec, ok := w.(*recorder); ok && rec.status != 0 {
		log.LogAttrs(r.Context(), slog.LevelError, "handler error after response started",
			slog.Int("status", rec.status), slog.String("error", err.Error()))
		return
	}
	switch {
	case status >= 500:
		log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.Int("status", status), slog.String("code", code), slog.String("error", err.Error()))
	default:
		log.LogAttrs(r.Context(), slog.LevelDebug, "request rejected",
			slog.Int("status", status), slog.String("code", code), slog.String("error", err.Error()))
	}
	h := w.Header()
	for k, vs := range header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", "Bearer")
	}
	if status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
		if allow := s.allowedMethods(r); allow != "" {
			h.Set("Allow", allow)
		}
	}
	body, _ := json.Marshal(errorBody{Detail: detail, Code: code, RequestID: RequestID(r.Context())})
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
