package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage"
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
// The client sees err's text as detail, unless render is set: then render builds the whole
// response (domain errors carry internal-ish text, so their rows make safe details).
type errorRow struct {
	err    error
	status int
	code   string
	render func(err error, now time.Time) *Error
}

// errorTable is the one table from sentinel to HTTP status and code: this package's and
// every domain's (auth, media, quota, storage, audit). Handlers return domain errors as they
// are. The first matching row wins, so put specific rows before general ones.
func errorTable() []errorRow {
	return []errorRow{
		{err: ErrNotFound, status: http.StatusNotFound, code: "not_found"},
		{err: ErrMethodNotAllowed, status: http.StatusMethodNotAllowed, code: "method_not_allowed"},
		{err: ErrBadRequest, status: http.StatusBadRequest, code: "bad_request"},
		{err: ErrPayloadTooLarge, status: http.StatusRequestEntityTooLarge, code: "payload_too_large"},
		{err: ErrUnauthorized, status: http.StatusUnauthorized, code: "not_authenticated"},
		{err: ErrForbidden, status: http.StatusForbidden, code: "forbidden"},
		{err: ErrUnavailable, status: http.StatusServiceUnavailable, code: "service_unavailable"},

		// Package auth. Rows with a reason show the client detail the package gave (see
		// clientDetail) or the fallback; 401s get fixed texts (handlers choose more precise ones).
		{err: auth.ErrLocked, render: lockedError},
		{err: auth.ErrBusy, render: func(error, time.Time) *Error {
			return &Error{Status: http.StatusServiceUnavailable, Code: "busy", Detail: "Server busy, please retry",
				Header: http.Header{"Retry-After": {"1"}}}
		}},
		{err: auth.ErrInactive, render: fixed(http.StatusForbidden, "account_inactive", "Account is inactive")},
		{err: auth.ErrUnauthenticated, render: fixed(http.StatusUnauthorized, "invalid_credentials", "Could not validate credentials")},
		{err: auth.ErrClientNotAllowed, render: fixed(http.StatusForbidden, "ip_not_allowed", "Client address not allowed")},
		{err: auth.ErrAPIKeyLimit, render: reason(auth.ErrAPIKeyLimit, http.StatusConflict, "api_key_limit", "Too many API keys")},
		{err: auth.ErrKeyCannotMint, render: reason(auth.ErrKeyCannotMint, http.StatusForbidden, "api_key_cannot_mint", "An API key cannot create API keys")},
		{err: auth.ErrForbidden, render: reason(auth.ErrForbidden, http.StatusForbidden, "forbidden", "Forbidden")},
		{err: auth.ErrNotFound, render: reason(auth.ErrNotFound, http.StatusNotFound, "not_found", "Not found")},
		{err: auth.ErrConflict, render: reason(auth.ErrConflict, http.StatusConflict, "conflict", "Already exists")},
		{err: auth.ErrInvalid, render: invalidError},

		// Package media. ErrQuotaExceeded before quota.ErrExceeded, which it also matches.
		{err: media.ErrNotFound, render: fixed(http.StatusNotFound, "not_found", "Media not found")},
		{err: media.ErrQuotaExceeded, render: fixed(http.StatusRequestEntityTooLarge, "storage_quota_exceeded", "Storage quota exceeded")},
		{err: media.ErrTooLarge, render: fixed(http.StatusRequestEntityTooLarge, "payload_too_large", "The file exceeds the maximum upload size")},
		{err: media.ErrIncomplete, render: fixed(http.StatusBadRequest, "upload_incomplete", "The upload ended early or could not be read")},
		{err: media.ErrBlocked, render: reason(media.ErrBlocked, http.StatusBadRequest, "url_not_allowed", "The URL's address may not be fetched")},
		{err: media.ErrBudgetExceeded, render: budgetError},
		{err: media.ErrTooManyJobs, render: func(err error, _ time.Time) *Error {
			return &Error{Status: http.StatusTooManyRequests, Code: "too_many_active_jobs",
				Detail: detailFor(err, media.ErrTooManyJobs, "Too many inputs processing at once"), Header: http.Header{"Retry-After": {"1"}}}
		}},
		{err: media.ErrFetchFailed, render: fixed(http.StatusBadGateway, "url_fetch_failed", "The URL could not be fetched; try again later")},
		{err: media.ErrInvalid, render: reason(media.ErrInvalid, http.StatusBadRequest, "invalid_request", "Invalid request")},
		{err: media.ErrConflict, render: fixed(http.StatusConflict, "conflict", "Conflict")},
		{err: media.ErrUnsupported, render: reason(media.ErrUnsupported, http.StatusUnsupportedMediaType, "unsupported_media_type", "This kind of input cannot be processed")},
		{err: media.ErrTimeout, render: fixed(http.StatusUnprocessableEntity, "processing_timeout", "Processing this input took too long")},

		// Package quota: only storage quotas reach a handler as errors (rate limits are
		// answered by ratelimit.go); a missing reservation or a bad limit is the server's fault.
		{err: quota.ErrExceeded, render: fixed(http.StatusRequestEntityTooLarge, "storage_quota_exceeded", "Storage quota exceeded")},
		{err: quota.ErrNotFound, render: fixed(http.StatusInternalServerError, "internal_error", "internal error")},
		{err: quota.ErrInvalid, render: fixed(http.StatusInternalServerError, "internal_error", "internal error")},

		// Package storage: keys are the server's, so a bad one is the server's fault.
		{err: storage.ErrNotExist, render: fixed(http.StatusNotFound, "not_found", "Not found")},
		{err: storage.ErrTooLarge, render: fixed(http.StatusRequestEntityTooLarge, "payload_too_large", "Payload too large")},
		{err: storage.ErrInvalidKey, render: fixed(http.StatusInternalServerError, "internal_error", "internal error")},

		// Package audit.
		{err: audit.ErrInvalid, render: fixed(http.StatusBadRequest, "invalid_parameter", "invalid audit query")},
		{err: audit.ErrClosed, render: fixed(http.StatusServiceUnavailable, "service_unavailable", "Audit log unavailable")},
	}
}

// fixed renders a row with a constant detail.
func fixed(status int, code, detail string) func(error, time.Time) *Error {
	return func(error, time.Time) *Error { return &Error{Status: status, Code: code, Detail: detail} }
}

// reason renders a row whose detail is the client detail the domain package gave for
// sentinel (clientDetails), or fallback.
func reason(sentinel error, status int, code, fallback string) func(error, time.Time) *Error {
	return func(err error, _ time.Time) *Error {
		return &Error{Status: status, Code: code, Detail: detailFor(err, sentinel, fallback)}
	}
}

// budgetError is 429 with the used-up budget's code (*media.BudgetError) and Retry-After: the
// seconds until the next UTC day, when the budgets start again.
func budgetError(err error, now time.Time) *Error {
	code := "daily_budget_exceeded"
	var be *media.BudgetError
	if errors.As(err, &be) && be.Code != "" {
		code = be.Code
	}
	next := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	return &Error{Status: http.StatusTooManyRequests, Code: code, Detail: "Daily processing budget used up; it renews at 00:00 UTC",
		Header: http.Header{"Retry-After": {strconv.FormatInt(max(1, int64(next.Sub(now)/time.Second)), 10)}}}
}

// lockedError is 429 with Retry-After: the seconds until *auth.LockedError ends (at least 1).
func lockedError(err error, now time.Time) *Error {
	secs := int64(auth.DefaultLockoutDuration / time.Second)
	var le *auth.LockedError
	if errors.As(err, &le) && !le.Until.IsZero() {
		secs = max(1, int64((le.Until.Sub(now)+time.Second-1)/time.Second))
	}
	return &Error{Status: http.StatusTooManyRequests, Code: "account_locked",
		Detail: "Too many failed login attempts. Account temporarily locked.",
		Header: http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}}
}

// invalidError is 400 invalid_request; a password-policy failure lists every problem in
// "errors" as well as in the detail.
func invalidError(err error, _ time.Time) *Error {
	var pe *auth.PolicyError
	if errors.As(err, &pe) && len(pe.Problems) > 0 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request",
			Detail:   "Password does not meet requirements: " + strings.Join(pe.Problems, "; "),
			Problems: append([]string(nil), pe.Problems...)}
	}
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request",
		Detail: detailFor(err, auth.ErrInvalid, "Invalid request")}
}

// clientDetail is the one way a domain error carries text for the client: the domain
// package wraps its sentinel in a small error type of its own with this method
// (auth.detailf, media.Detailf), and the table's reason rows find it with errors.As. The
// text of err.Error() is never shown: it is for logs.
type clientDetail interface {
	error
	ClientDetail() string
}

// detailFor returns the client detail err carries for sentinel, capitalised: for
// auth.ErrConflict with "username is taken", "Username is taken". A joined error gives one
// detail per branch, joined with "; ". A detail that is empty, long, or not plain
// printable text (or none at all) yields fallback.
func detailFor(err, sentinel error, fallback string) string {
	var details []string
	for _, d := range clientDetails(err) {
		if !errors.Is(d, sentinel) {
			continue
		}
		r := strings.TrimSpace(d.ClientDetail())
		if r == "" || len(r) > 300 || strings.IndexFunc(r, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0 {
			return fallback
		}
		c, n := utf8.DecodeRuneInString(r)
		details = append(details, string(unicode.ToUpper(c))+r[n:])
	}
	if len(details) == 0 {
		return fallback
	}
	return strings.Join(details, "; ")
}

// clientDetails returns the outermost clientDetail of every branch of err's tree: like
// errors.As, but through every branch of an errors.Join, not only the first.
func clientDetails(err error) []clientDetail {
	for err != nil {
		if d, ok := err.(clientDetail); ok {
			return []clientDetail{d}
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			var ds []clientDetail
			for _, e := range u.Unwrap() {
				ds = append(ds, clientDetails(e)...)
			}
			return ds
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// Error is an error made by a handler for one response: its Detail is shown to the client,
// its Err (optional) only logged. Header entries are added to the response (e.g. Retry-After).
// An Error is immutable once returned; it is safe to share between goroutines.
type Error struct {
	Status   int          // HTTP status, e.g. 400
	Code     string       // stable machine-readable code, e.g. "invalid_host"
	Detail   string       // human-readable message shown to the client
	Header   http.Header  // optional extra response headers
	Err      error        // optional cause, logged, never shown
	Problems []string     // optional list shown as "errors" (e.g. every password-policy problem)
	Fields   []FieldError // when set, "detail" is this FastAPI-style list instead of Detail (422)
}

// FieldError is one entry of a FastAPI-style validation error list, which tldw clients get
// as "detail" of a 422: {"loc": ["body", "username"], "msg": "field required",
// "type": "value_error.missing"}.
type FieldError struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
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
	Detail    any      `json:"detail"` // a string; a list of FieldError for validation errors
	Code      string   `json:"code"`
	Errors    []string `json:"errors,omitempty"`
	RequestID string   `json:"request_id,omitempty"`
}

// classify returns the response for err: status, code, client-visible detail, extra headers
// and lists. Anything unknown is a 500 with a generic detail. now dates Retry-After values.
func classify(err error, now time.Time) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Detail: ErrPayloadTooLarge.Error()}
	}
	for _, row := range errorTable() {
		if errors.Is(err, row.err) {
			if row.render != nil {
				return row.render(err, now)
			}
			return &Error{Status: row.status, Code: row.code, Detail: err.Error()}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal_error", Detail: "internal error"}
}

// writeError answers the request with err mapped through the error table. A 500 shows only
// "internal error" and the request id; the full chain goes to the log. If the handler has
// already started the response, writeError only logs.
func (s *core) writeError(w http.ResponseWriter, r *http.Request, err error) {
	log := s.logger(r)
	e := classify(err, s.now())
	if st := stateFrom(r.Context()); st != nil && st.bodyTimeout {
		e = errBodyIdle // the handler saw the stalled body as some read error
	}
	status, code, detail, header := e.Status, e.Code, e.Detail, e.Header
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
	eb := errorBody{Detail: detail, Code: code, Errors: e.Problems, RequestID: RequestID(r.Context())}
	if len(e.Fields) > 0 && status < 500 {
		eb.Detail = e.Fields
	}
	body, _ := json.Marshal(eb)
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
