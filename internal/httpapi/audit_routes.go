package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

// Bounds of the audit API's query parameters.
const (
	auditDefaultDays  = 7
	auditMaxDays      = 3650
	auditDefaultLimit = 100
	auditMaxLimit     = 1000
	exportDefaultRows = 10_000
	exportMaxRows     = 1_000_000
	exportFlushEvery  = 100 // rows between flushes of a streamed export
	maxFilenameRunes  = 100
	maxActionLen      = 200
)

// routes serve the audit log to admins and moderators (audit.read): a filtered query,
// a streamed export (also under the old web page's /api/v1/audit/export) and chain
// verification. Without Options.AuditLog they answer 503, so the route table and the
// OpenAPI document do not depend on the configuration.
func (s *auditAPI) routes() []route {
	filters := []param{
		{Name: "action", Description: "Action name, case-insensitive; tldw_server aliases accepted; a trailing * matches a prefix", Type: "string"},
		{Name: "user_id", Description: "Acting user id", Type: "integer"},
		{Name: "days", Description: "Entries from the last N days (default 7; ignored when start or end is given)", Type: "integer",
			Range: []int64{1, auditMaxDays}},
		{Name: "start", Description: "Earliest time, RFC 3339 or YYYY-MM-DD (inclusive)", Type: "string"},
		{Name: "end", Description: "Latest time, RFC 3339 (exclusive) or YYYY-MM-DD (the whole day)", Type: "string"},
		{Name: "resource", Description: "Target as type or type:id, e.g. user:7", Type: "string"},
		{Name: "success", Description: "Only successful (true) or failed (false) actions", Type: "boolean"},
	}
	export := append([]param{
		{Name: "format", Description: "csv (default), jsonl or json", Type: "string", Enum: []string{"csv", "jsonl", "json"}},
		{Name: "max_rows", Description: "At most this many rows (default 10000, at most 1000000)", Type: "integer", Range: []int64{1, exportMaxRows}},
		{Name: "filename", Description: "Download file name without extension (sanitised)", Type: "string"},
	}, filters...)
	alias := []param{
		{Name: "format", Description: "json (default), jsonl or csv", Type: "string", Enum: []string{"json", "jsonl", "csv"}},
		{Name: "max_rows", Description: "At most this many rows (default 10000, at most 1000000)", Type: "integer", Range: []int64{1, exportMaxRows}},
		{Name: "user_id", Description: "Acting user id", Type: "integer"},
		{Name: "event_type", Description: "Action name or prefix* (as action)", Type: "string"},
		{Name: "start_time", Description: "Earliest time, RFC 3339 or YYYY-MM-DD", Type: "string"},
		{Name: "end_time", Description: "Latest time, RFC 3339 or YYYY-MM-DD", Type: "string"},
		{Name: "filename", Description: "Download file name without extension (sanitised)", Type: "string"},
	}
	return []route{
		{Method: http.MethodGet, Path: "/api/v1/admin/audit-log", Tag: "audit", Perm: auth.PermAuditRead,
			ID: "queryAuditLog", Response: auditPage{},
			Summary: "Query the audit log, newest first",
			Query: append(filters,
				param{Name: "limit", Description: "Page size, 1-1000 (default 100)", Type: "integer", Range: []int64{1, auditMaxLimit}},
				param{Name: "offset", Description: "Entries to skip (default 0)", Type: "integer", Range: []int64{0}}),
			Responses: map[int]string{200: "Entries with total, limit and offset", 400: "Invalid filter",
				401: "Not authenticated", 403: "Not allowed", 503: "No audit store configured"},
			Handler: s.handleAuditQuery},
		{Method: http.MethodGet, Path: "/api/v1/admin/audit-log/export", Tag: "audit", Perm: auth.PermAuditRead,
			ID: "exportAuditLog", Response: []audit.View{}, Headers: map[int][]string{200: {"Content-Disposition"}},
			Summary: "Export the audit log as CSV, JSON Lines or JSON (streamed attachment)",
			Query:   export, Produces: exportTypes,
			Responses: map[int]string{200: "The export file", 400: "Invalid filter or format",
				401: "Not authenticated", 403: "Not allowed", 503: "No audit store configured"},
			Handler: s.handleAuditExport(false)},
		{Method: http.MethodGet, Path: "/api/v1/audit/export", Tag: "audit", Perm: auth.PermAuditRead,
			ID: "exportAuditLogLegacy", Response: []audit.View{}, Produces: exportTypes, Headers: map[int][]string{200: {"Content-Disposition"}},
			Summary: "Export the audit log (alias of /admin/audit-log/export for older clients)",
			Query:   alias,
			Responses: map[int]string{200: "The export file", 400: "Invalid filter or format",
				401: "Not authenticated", 403: "Not allowed", 503: "No audit store configured"},
			Handler: s.handleAuditExport(true)},
		{Method: http.MethodGet, Path: "/api/v1/admin/audit-log/verify", Tag: "audit", Perm: auth.PermAuditRead,
			ID: "verifyAuditLog", Response: auditVerifyJSON{},
			Summary: "Verify the audit hash chain against the newest signed head checkpoint",
			Responses: map[int]string{200: "Verification report (ok=false with the first break)",
				401: "Not authenticated", 403: "Not allowed", 503: "No audit store configured"},
			Handler: s.handleAuditVerify},
	}
}

// auditLog returns the configured audit.Log or a 503 error.
func (s *auditAPI) auditLog() (audit.Log, error) {
	if s.o.AuditLog == nil {
		return nil, Errorf(http.StatusServiceUnavailable, "service_unavailable", "the audit log is not configured")
	}
	return s.o.AuditLog, nil
}

// formatTime renders t in RFC 3339 UTC (fractional seconds only when present).
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// auditFilterParams names the query parameters of the audit filters. The admin routes and
// the old web page's export use different names; every route accepts both.
var auditFilterParams = struct {
	action, start, end []string
}{
	action: []string{"action", "event_type"},
	start:  []string{"start", "start_time"},
	end:    []string{"end", "end_time"},
}

// firstParam returns the first non-empty value of the named query parameters.
func firstParam(q url.Values, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(q.Get(n)); v != "" {
			return v
		}
	}
	return ""
}

// badParam is a 400 naming the query parameter at fault.
func badParam(format string, args ...any) error {
	return Errorf(http.StatusBadRequest, "invalid_parameter", format, args...)
}

// parseAuditFilter reads the filters shared by query and export. defaultDays (0 = none)
// limits the window when neither start nor end is given. Errors are 400s naming the
// parameter.
func parseAuditFilter(q url.Values, now time.Time, defaultDays int) (audit.Filter, error) {
	var f audit.Filter
	if a := firstParam(q, auditFilterParams.action...); a != "" {
		if len(a) > maxActionLen || strings.ContainsFunc(a, unicode.IsControl) {
			return f, badParam("action must be a short action name")
		}
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			if prefix = strings.ToLower(strings.TrimSpace(prefix)); prefix != "" {
				f.Actions, f.ActionPrefix = audit.Expand(a), prefix
			}
		} else {
			f.Actions = []string{audit.Normalize(a)}
		}
	}
	if v := q.Get("user_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 {
			return f, badParam("user_id must be a positive integer")
		}
		f.UserID = id
	}
	start, end := firstParam(q, auditFilterParams.start...), firstParam(q, auditFilterParams.end...)
	if start != "" {
		t, _, err := parseTimeParam(start)
		if err != nil {
			return f, badParam("start must be an RFC 3339 time or a date (YYYY-MM-DD)")
		}
		f.Since = t
	}
	if end != "" {
		t, dateOnly, err := parseTimeParam(end)
		if err != nil {
			return f, badParam("end must be an RFC 3339 time or a date (YYYY-MM-DD)")
		}
		if dateOnly {
			t = t.AddDate(0, 0, 1) // the whole day
		}
		f.Until = t
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, badParam("start must be before end")
	}
	days := defaultDays
	if v := q.Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > auditMaxDays {
			return f, badParam("days must be an integer from 1 to %d", auditMaxDays)
		}
		days = n
	}
	if start == "" && end == "" && days > 0 {
		f.Since = now.Add(-time.Duration(days) * 24 * time.Hour)
	}
	if v := strings.TrimSpace(q.Get("resource")); v != "" {
		typ, id, _ := strings.Cut(v, ":")
		if typ == "" || len(v) > maxActionLen || strings.ContainsFunc(v, unicode.IsControl) {
			return f, badParam("resource must be type or type:id")
		}
		f.TargetType, f.TargetID = typ, id
	}
	if v := q.Get("success"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, badParam("success must be true or false")
		}
		f.Success = &b
	}
	return f, nil
}

// parseTimeParam accepts RFC 3339 (a missing zone means UTC) or a bare date. dateOnly
// reports the latter.
func parseTimeParam(v string) (t time.Time, dateOnly bool, err error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), false, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", v); err == nil {
		return t, false, nil
	}
	t, err = time.Parse(time.DateOnly, v)
	return t, err == nil, err
}

// intParam parses an optional integer query parameter within [lo, hi], returning def when
// absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badParam("%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// auditPage is the response of GET /admin/audit-log.
type auditPage struct {
	Entries []audit.View `json:"entries"`
	Total   int          `json:"total"`
	Limit   int          `json:"limit"`
	Offset  int          `json:"offset"`
}

func (s *auditAPI) handleAuditQuery(w http.ResponseWriter, r *http.Request) error {
	log, err := s.auditLog()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f, err := parseAuditFilter(q, s.now(), auditDefaultDays)
	if err != nil {
		return err
	}
	if f.Limit, err = intParam(q, "limit", auditDefaultLimit, 1, auditMaxLimit); err != nil {
		return err
	}
	if f.Offset, err = intParam(q, "offset", 0, 0, int(^uint32(0)>>1)); err != nil {
		return err
	}
	entries, total, err := log.Query(r.Context(), f)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	page := auditPage{Entries: make([]audit.View, 0, len(entries)), Total: total, Limit: f.Limit, Offset: f.Offset}
	for _, e := range entries {
		page.Entries = append(page.Entries, audit.ViewOf(e))
	}
	s.writeJSON(w, r, http.StatusOK, page)
	return nil
}

// exportFormat describes one export file type.
type exportFormat struct {
	ext, contentType string
}

// exportTypes are the media types of the export formats, for the OpenAPI document.
const exportTypes = "text/csv, application/x-ndjson, application/json"

var exportFormats = map[string]exportFormat{
	"csv":   {"csv", "text/csv; charset=utf-8"},
	"jsonl": {"jsonl", "application/x-ndjson"},
	"json":  {"json", "application/json"},
}

// handleAuditExport streams matching entries, newest first, in constant memory. legacy is
// the old web page's alias, whose default format is json and which has no default window.
func (s *auditAPI) handleAuditExport(legacy bool) handlerFunc {
	defFormat, defDays := "csv", auditDefaultDays
	if legacy {
		defFormat, defDays = "json", 0
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		log, err := s.auditLog()
		if err != nil {
			return err
		}
		q := r.URL.Query()
		name := strings.ToLower(strings.TrimSpace(q.Get("format")))
		if name == "" {
			name = defFormat
		}
		format, ok := exportFormats[name]
		if !ok {
			return badParam("format must be csv, jsonl or json")
		}
		now := s.now()
		f, err := parseAuditFilter(q, now, defDays)
		if err != nil {
			return err
		}
		if f.Limit, err = intParam(q, "max_rows", exportDefaultRows, 1, exportMaxRows); err != nil {
			return err
		}
		filename := exportFilename(q.Get("filename"), format.ext, now)
		ex := &exporter{w: w, format: format, filename: filename}
		for e, err := range log.Scan(r.Context(), f) {
			if err != nil {
				if !ex.started {
					return fmt.Errorf("audit log: %w", err)
				}
				// The status line is gone: cut the connection so the client sees a
				// truncated download instead of a complete-looking file.
				s.logger(r).LogAttrs(r.Context(), slog.LevelError, "audit export failed mid-stream",
					slog.Int("rows", ex.enc.Rows()), slog.String("error", err.Error()))
				panic(http.ErrAbortHandler)
			}
			if err := ex.row(e); err != nil {
				return nil // the client went away; nothing more to do
			}
		}
		_ = ex.finish()
		return nil
	}
}

// exporter writes one export response. It starts the response at the first row (or at
// finish), so a store error before any row is still answered as a JSON error.
type exporter struct {
	w        http.ResponseWriter
	format   exportFormat
	filename string
	started  bool
	enc      *audit.Encoder
}

func (x *exporter) start() {
	x.started = true
	h := x.w.Header()
	h.Set("Content-Type", x.format.contentType)
	h.Set("Content-Disposition", contentDisposition(x.filename))
	h.Set("X-Content-Type-Options", "nosniff")
	x.w.WriteHeader(http.StatusOK)
	x.enc, _ = audit.NewEncoder(x.w, x.format.ext) // formats are validated by exportFormats
}

func (x *exporter) row(e audit.Entry) error {
	if !x.started {
		x.start()
	}
	if err := x.enc.Row(e); err != nil {
		return err
	}
	if x.enc.Rows()%exportFlushEvery == 0 {
		return http.NewResponseController(x.w).Flush()
	}
	return nil
}

func (x *exporter) finish() error {
	if !x.started {
		x.start()
	}
	if err := x.enc.Close(); err != nil {
		return err
	}
	return http.NewResponseController(x.w).Flush()
}

// exportFilename returns the download name: the client's name reduced to a safe base name
// (no directories, quotes, control or format characters, leading dots, or an extension of
// its own; at most 100 characters), or audit-log-YYYYMMDD, plus "."+ext.
func exportFilename(raw, ext string, now time.Time) string {
	name := strings.ToValidUTF8(raw, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError:
			return -1
		case strings.ContainsRune(`"'<>:*?|;%`, r):
			return '_'
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	for _, e := range []string{"csv", "jsonl", "json"} {
		if len(name) > len(e)+1 && strings.EqualFold(name[len(name)-len(e)-1:], "."+e) {
			name = strings.TrimRight(name[:len(name)-len(e)-1], " .")
			break
		}
	}
	if rs := []rune(name); len(rs) > maxFilenameRunes {
		name = strings.TrimRight(string(rs[:maxFilenameRunes]), " .")
	}
	if name == "" {
		name = "audit-log-" + now.UTC().Format("20060102")
	}
	return name + "." + ext
}

// contentDisposition renders an attachment header for a sanitised name (RFC 6266): an
// ASCII fallback in filename and the exact UTF-8 name in filename*.
func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	var enc strings.Builder
	for _, b := range []byte(name) {
		if isAttrChar(b) {
			enc.WriteByte(b)
		} else {
			fmt.Fprintf(&enc, "%%%02X", b)
		}
	}
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + enc.String()
}

// isAttrChar reports RFC 8187 attr-char bytes, which filename* carries unencoded.
func isAttrChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}

// auditVerifyJSON is the response of GET /admin/audit-log/verify; break is null when ok.
type auditVerifyJSON struct {
	OK       bool         `json:"ok"`
	Checked  int64        `json:"checked"`
	From     int64        `json:"from"`
	Head     int64        `json:"head"`
	HeadHash string       `json:"head_hash"`
	Break    *audit.Break `json:"break"`
}

func (s *auditAPI) handleAuditVerify(w http.ResponseWriter, r *http.Request) error {
	log, err := s.auditLog()
	if err != nil {
		return err
	}
	var last *audit.Checkpoint
	if s.o.AuditHead != nil {
		if last, err = s.o.AuditHead(r.Context()); err != nil {
			return fmt.Errorf("audit head checkpoint: %w", err)
		}
	}
	rep, err := log.Verify(r.Context(), last)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, auditVerifyJSON{OK: rep.OK, Checked: rep.Checked, From: rep.From,
		Head: rep.Head, HeadHash: rep.HeadHash, Break: rep.Break})
	return nil
}
