package httpapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
)

// memLog is a tiny audit.Log over a slice for the audit route tests: hash-chained like the
// real store, filtered and ordered (newest first) as audit.Log documents. ScanErrAfter >= 0
// makes Scan fail after that many rows. The zero value is ready; safe for concurrent use.
type memLog struct {
	mu           sync.Mutex
	recs         []audit.Record
	filters      []audit.Filter // every filter passed to Query or Scan, in order
	ScanErrAfter int            // -1 (set by newMemLog) = never
	Report       *audit.Report  // when set, Verify returns it instead of verifying
	lastArg      *audit.Checkpoint
}

var _ audit.Log = (*memLog)(nil)

func newMemLog() *memLog { return &memLog{ScanErrAfter: -1} }

func (m *memLog) Write(_ context.Context, e audit.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e = audit.Redact(e)
	prev := audit.Genesis
	if n := len(m.recs); n > 0 {
		prev = m.recs[n-1].Hash
	}
	m.recs = append(m.recs, audit.Record{Seq: int64(len(m.recs) + 1), Event: e, PrevHash: prev, Hash: audit.Hash(prev, e)})
	return nil
}

func (m *memLog) match(f audit.Filter, e audit.Event) bool {
	if len(f.Actions) > 0 || f.ActionPrefix != "" {
		if !slices.Contains(f.Actions, e.Action) && (f.ActionPrefix == "" || !strings.HasPrefix(e.Action, f.ActionPrefix)) {
			return false
		}
	}
	return (f.UserID == 0 || e.UserID == f.UserID) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Until.IsZero() || e.Time.Before(f.Until)) &&
		(f.TargetType == "" || e.TargetType == f.TargetType) &&
		(f.TargetID == "" || e.TargetID == f.TargetID) &&
		(f.Success == nil || e.Success == *f.Success)
}

// selected returns the matching entries, newest first, and records f.
func (m *memLog) selected(f audit.Filter) []audit.Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.filters = append(m.filters, f)
	var out []audit.Entry
	for _, r := range m.recs {
		if m.match(f, r.Event) {
			out = append(out, audit.Entry{ID: r.Seq, Record: r})
		}
	}
	slices.SortFunc(out, func(a, b audit.Entry) int {
		if c := b.Event.Time.Compare(a.Event.Time); c != 0 {
			return c
		}
		return int(b.Seq - a.Seq)
	})
	return out
}

func (m *memLog) lastFilter() audit.Filter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.filters[len(m.filters)-1]
}

func (m *memLog) Query(_ context.Context, f audit.Filter) ([]audit.Entry, int, error) {
	if f.Limit < 0 || f.Limit > 1000 || f.Offset < 0 {
		return nil, 0, audit.ErrInvalid
	}
	all := m.selected(f)
	if f.Limit == 0 {
		f.Limit = 100
	}
	lo := min(f.Offset, len(all))
	hi := min(lo+f.Limit, len(all))
	return all[lo:hi], len(all), nil
}

func (m *memLog) Scan(ctx context.Context, f audit.Filter) iter.Seq2[audit.Entry, error] {
	return func(yield func(audit.Entry, error) bool) {
		all := m.selected(f)
		m.mu.Lock()
		errAfter := m.ScanErrAfter
		m.mu.Unlock()
		all = all[min(f.Offset, len(all)):]
		if f.Limit > 0 && len(all) > f.Limit {
			all = all[:f.Limit]
		}
		for i, e := range all {
			if i == errAfter {
				yield(audit.Entry{}, errors.New("disk on fire"))
				return
			}
			if err := ctx.Err(); err != nil {
				yield(audit.Entry{}, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if errAfter >= len(all) {
			yield(audit.Entry{}, errors.New("disk on fire"))
		}
	}
}

func (m *memLog) Head(context.Context) (int64, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.recs) == 0 {
		return 0, audit.Genesis, nil
	}
	r := m.recs[len(m.recs)-1]
	return r.Seq, r.Hash, nil
}

func (m *memLog) Verify(ctx context.Context, last *audit.Checkpoint) (audit.Report, error) {
	m.mu.Lock()
	m.lastArg = last
	recs := slices.Clone(m.recs)
	rep := m.Report
	m.mu.Unlock()
	if rep != nil {
		return *rep, nil
	}
	return audit.Verify(ctx, func(yield func(audit.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}, nil, last)
}

func (m *memLog) Purge(context.Context, time.Time, []byte) (int64, error) { return 0, nil }
func (m *memLog) SaveCheckpoint(context.Context, audit.Checkpoint) error  { return nil }
func (m *memLog) LastCheckpoint(context.Context, string) (*audit.Checkpoint, error) {
	return nil, nil
}

// seedAudit writes a fixed set of events around fixedNow.
func seedAudit(t *testing.T, l *memLog) {
	t.Helper()
	ctx := context.Background()
	evs := []audit.Event{
		{Time: fixedNow.Add(-30 * 24 * time.Hour), UserID: 2, Username: "old", Action: audit.LoginSuccess, Success: true},
		{Time: fixedNow.Add(-3 * time.Hour), UserID: 2, Username: "bob", Action: audit.LoginFailed, IP: "10.0.0.1",
			Error: "wrong password"},
		{Time: fixedNow.Add(-2 * time.Hour), UserID: 1, Username: "root", Action: audit.UserUpdated, TargetType: "user",
			TargetID: "2", Success: true, Details: map[string]any{"fields": []any{"email"}}},
		{Time: fixedNow.Add(-time.Hour), UserID: 1, Username: "=cmd|' /C calc'!A0", Action: audit.APIKeyCreated,
			TargetType: "api_key", TargetID: "9", Success: true, UserAgent: "+evil", Details: map[string]any{"note": "@SUM(1)"}},
		{Time: fixedNow.Add(-time.Minute), Action: "custom_thing", Success: true, IP: "-1+1"},
	}
	for _, e := range evs {
		if err := l.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseAuditFilter(t *testing.T) {
	tests := []struct {
		name, query string
		check       func(t *testing.T, f audit.Filter)
		bad         string // substring of the 400 detail
	}{
		{name: "default window", query: "", check: func(t *testing.T, f audit.Filter) {
			if want := fixedNow.Add(-7 * 24 * time.Hour); !f.Since.Equal(want) || !f.Until.IsZero() {
				t.Errorf("since %v until %v, want since %v", f.Since, f.Until, want)
			}
		}},
		{name: "days", query: "days=2", check: func(t *testing.T, f audit.Filter) {
			if want := fixedNow.Add(-48 * time.Hour); !f.Since.Equal(want) {
				t.Errorf("since %v, want %v", f.Since, want)
			}
		}},
		{name: "start and end override days", query: "days=1&start=2026-01-01&end=2026-01-31", check: func(t *testing.T, f audit.Filter) {
			if !f.Since.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !f.Until.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("since %v until %v", f.Since, f.Until)
			}
		}},
		{name: "rfc3339 end exclusive", query: "end=2026-03-04T01:00:00%2B01:00", check: func(t *testing.T, f audit.Filter) {
			if !f.Until.Equal(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)) || !f.Since.IsZero() {
				t.Errorf("since %v until %v", f.Since, f.Until)
			}
		}},
		{name: "exact action normalised", query: "action=AUTH.LOGIN.FAILURE", check: func(t *testing.T, f audit.Filter) {
			if !slices.Equal(f.Actions, []string{"login_failed"}) || f.ActionPrefix != "" {
				t.Errorf("actions %v prefix %q", f.Actions, f.ActionPrefix)
			}
		}},
		{name: "prefix action", query: "action=API_KEY_*", check: func(t *testing.T, f audit.Filter) {
			if f.ActionPrefix != "api_key_" || !slices.Contains(f.Actions, "api_key_created") {
				t.Errorf("actions %v prefix %q", f.Actions, f.ActionPrefix)
			}
		}},
		{name: "star alone is no filter", query: "action=*", check: func(t *testing.T, f audit.Filter) {
			if f.Actions != nil || f.ActionPrefix != "" {
				t.Errorf("actions %v prefix %q", f.Actions, f.ActionPrefix)
			}
		}},
		{name: "legacy names", query: "event_type=login_success&start_time=2026-03-01&end_time=2026-03-02", check: func(t *testing.T, f audit.Filter) {
			if !slices.Equal(f.Actions, []string{"login_success"}) || f.Since.Day() != 1 || f.Until.Day() != 3 {
				t.Errorf("filter %+v", f)
			}
		}},
		{name: "resource type:id", query: "resource=user:7&user_id=3&success=false", check: func(t *testing.T, f audit.Filter) {
			if f.TargetType != "user" || f.TargetID != "7" || f.UserID != 3 || f.Success == nil || *f.Success {
				t.Errorf("filter %+v", f)
			}
		}},
		{name: "bad user", query: "user_id=abc", bad: "user_id"},
		{name: "zero user", query: "user_id=0", bad: "user_id"},
		{name: "bad days", query: "days=0", bad: "days"},
		{name: "huge days", query: "days=99999", bad: "days"},
		{name: "bad start", query: "start=yesterday", bad: "start"},
		{name: "bad end", query: "end=2026-13-01", bad: "end"},
		{name: "start after end", query: "start=2026-03-02&end=2026-03-01", bad: "before"},
		{name: "bad resource", query: "resource=:7", bad: "resource"},
		{name: "bad success", query: "success=maybe", bad: "success"},
		{name: "control in action", query: "action=a%0Ab", bad: "action"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parseAuditFilter(q, fixedNow, auditDefaultDays)
			if tc.bad != "" {
				var he *Error
				if !errors.As(err, &he) || he.Status != http.StatusBadRequest || !strings.Contains(he.Detail, tc.bad) {
					t.Fatalf("err = %v, want a 400 mentioning %q", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, f)
		})
	}
}

func TestExportFilename(t *testing.T) {
	tests := []struct{ raw, ext, want string }{
		{"", "csv", "audit-log-20260304.csv"},
		{"report", "jsonl", "report.jsonl"},
		{"report.csv", "csv", "report.csv"},
		{"report.JSON", "json", "report.json"},
		{"../../etc/passwd", "csv", "passwd.csv"},
		{`C:\Windows\evil`, "csv", "evil.csv"},
		{"a\"b\r\nSet-Cookie: x=1", "csv", "a_bSet-Cookie_ x=1.csv"},
		{"...", "csv", "audit-log-20260304.csv"},
		{".hidden", "csv", "hidden.csv"},
		{"naïve résumé", "csv", "naïve résumé.csv"},
		{"evil\u202etxt.exe", "csv", "eviltxt.exe.csv"},
		{"\xff\xfe", "csv", "_.csv"},
		{strings.Repeat("x", 300), "csv", strings.Repeat("x", 100) + ".csv"},
	}
	for _, tc := range tests {
		if got := exportFilename(tc.raw, tc.ext, fixedNow); got != tc.want {
			t.Errorf("exportFilename(%q, %q) = %q, want %q", tc.raw, tc.ext, got, tc.want)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	for _, name := range []string{"report.csv", "naïve résumé.csv", "a;b=c.csv", "a_b x.jsonl"} {
		cd := contentDisposition(name)
		if strings.ContainsAny(cd, "\r\n") {
			t.Fatalf("%q: header has a line break", cd)
		}
		typ, params, err := mime.ParseMediaType(cd)
		if err != nil {
			t.Fatalf("%q does not parse: %v", cd, err)
		}
		// mime decodes filename* (RFC 2231) over filename, giving the exact UTF-8 name.
		if typ != "attachment" || params["filename"] != name {
			t.Errorf("%q parsed as %q %v, want filename %q", cd, typ, params, name)
		}
		if !strings.Contains(cd, `filename="`) {
			t.Errorf("%q lacks the plain filename fallback", cd)
		}
	}
	if cd := contentDisposition("naïve.csv"); !strings.Contains(cd, `filename="na_ve.csv"`) || !strings.Contains(cd, "filename*=UTF-8''na%C3%AFve.csv") {
		t.Errorf("non-ASCII name: %s", cd)
	}
}

func TestCSVRecordNeutralisesFormulas(t *testing.T) {
	l := newMemLog()
	seedAudit(t, l)
	for _, e := range l.selected(audit.Filter{}) {
		for i, cell := range audit.CSVRecord(e) {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("entry %d column %s = %q starts with a formula character", e.Seq, audit.CSVHeader[i], cell)
			}
		}
	}
}

// parseCSV parses an export body and returns its rows keyed by header.
func parseCSV(t *testing.T, body string) []map[string]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, body)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], audit.CSVHeader) {
		t.Fatalf("CSV header = %v", rows)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, h := range rows[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// parseJSONL parses a JSON Lines body into objects, failing on any bad line.
func parseJSONL(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %q", i+1, err, line)
		}
		out = append(out, m)
	}
	return out
}

// auditServer is a test server whose AuditLog is a seeded memLog.
func auditServer(t *testing.T) (*testServer, *memLog) {
	t.Helper()
	l := newMemLog()
	seedAudit(t, l)
	return newTestServer(t, withHTTP(func(o *Options) { o.AuditLog = l })), l
}

func TestAuditQuery(t *testing.T) {
	ts, l := auditServer(t)
	ts.run(t, []adminScenario{
		{name: "moderator reads", caller: callerModerator, method: "GET", path: "/api/v1/admin/audit-log", status: 200,
			contains: []string{`"total":4`, `"limit":100`, `"offset":0`, `"action":"login_failed"`, `"ip_address":"10.0.0.1"`,
				`"hash":"`, `"seq":2`, `"resource":"user:2"`, `"details":{"fields":["email"]}`, `"user_id":null`},
			absent: []string{`"username":"old"`}},
		{name: "days widen the window", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?days=31", status: 200,
			contains: []string{`"total":5`, `"username":"old"`}},
		{name: "exact action any case", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?action=LOGIN_FAILED", status: 200,
			contains: []string{`"total":1`, `"action":"login_failed"`}},
		{name: "tldw alias", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?action=auth.login.failure", status: 200,
			contains: []string{`"total":1`}},
		{name: "prefix", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?action=custom_*", status: 200,
			contains: []string{`"total":1`, `"action":"custom_thing"`}},
		{name: "user", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?user_id=1", status: 200,
			contains: []string{`"total":2`}, absent: []string{"login_failed"}},
		{name: "resource", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?resource=api_key:9", status: 200,
			contains: []string{`"total":1`, `"action":"api_key_created"`}},
		{name: "resource type only", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?resource=user", status: 200,
			contains: []string{`"total":1`}},
		{name: "start and end", caller: callerAdmin, method: "GET",
			path: "/api/v1/admin/audit-log?start=2026-02-01&end=2026-03-04T03:00:00Z", status: 200,
			contains: []string{`"total":2`, `"username":"old"`, `"action":"login_failed"`}},
		{name: "success", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?success=false", status: 200,
			contains: []string{`"total":1`}},
		{name: "paging", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?limit=2&offset=1", status: 200,
			contains: []string{`"total":4`, `"limit":2`, `"offset":1`}},
		{name: "limit 0", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?limit=0", status: 400, contains: []string{"limit"}},
		{name: "limit 1001", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?limit=1001", status: 400},
		{name: "negative offset", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?offset=-1", status: 400, contains: []string{"offset"}},
		{name: "bad days", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?days=x", status: 400, contains: []string{"days"}},
		{name: "bad start", caller: callerAdmin, method: "GET", path: "/api/v1/admin/audit-log?start=03/04/2026", status: 400},
	})

	// Newest first, and the page is the requested slice of that order.
	rec := ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log?limit=2&offset=1", "", nil)
	var page struct{ Entries []audit.View }
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 2 || page.Entries[0].Action != audit.APIKeyCreated || page.Entries[1].Action != audit.UserUpdated {
		t.Errorf("page = %+v, want api_key_created then user_updated", page.Entries)
	}
	if f := l.lastFilter(); f.Limit != 2 || f.Offset != 1 || !f.Since.Equal(fixedNow.Add(-7*24*time.Hour)) {
		t.Errorf("filter passed to Query = %+v", f)
	}
}

func TestAuditRoutesWithoutLog(t *testing.T) {
	ts := newTestServer(t)
	for _, rule := range auditRouteRules() {
		rec := ts.call(t, callerAdmin, rule.Method, rule.Path, "", nil)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "not configured") {
			t.Errorf("%s %s without AuditLog = %d %s, want 503", rule.Method, rule.Path, rec.Code, rec.Body)
		}
	}
}

func TestAuditExportCSV(t *testing.T) {
	ts, _ := auditServer(t)
	rec := ts.call(t, callerModerator, "GET", "/api/v1/admin/audit-log/export?days=60", "", nil)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	h := rec.Header()
	if ct := h.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cd := h.Get("Content-Disposition"); cd != `attachment; filename="audit-log-20260304.csv"; filename*=UTF-8''audit-log-20260304.csv` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("export lacks nosniff")
	}
	rows := parseCSV(t, rec.Body.String())
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5", len(rows))
	}
	if rows[0]["action"] != "custom_thing" || rows[4]["username"] != "old" {
		t.Errorf("rows not newest first: %v ... %v", rows[0], rows[4])
	}
	apiKey := rows[1]
	for col, want := range map[string]string{
		"username": "'=cmd|' /C calc'!A0", "user_agent": "'+evil", "action": "api_key_created",
		"user_id": "1", "target_id": "9", "success": "true",
	} {
		if apiKey[col] != want {
			t.Errorf("column %s = %q, want %q", col, apiKey[col], want)
		}
	}
	if rows[0]["ip_address"] != "'-1+1" || rows[0]["user_id"] != "" {
		t.Errorf("row 0 = %v", rows[0])
	}
	if !strings.Contains(apiKey["details"], `"@SUM(1)"`) || strings.HasPrefix(apiKey["details"], "@") {
		t.Errorf("details = %q", apiKey["details"])
	}

	// max_rows caps the rows; the filters apply.
	rec = ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/export?format=csv&max_rows=2&days=60", "", nil)
	if rows := parseCSV(t, rec.Body.String()); len(rows) != 2 {
		t.Errorf("max_rows=2 gave %d rows", len(rows))
	}
	rec = ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/export?action=login_*&days=60", "", nil)
	if rows := parseCSV(t, rec.Body.String()); len(rows) != 2 {
		t.Errorf("action=login_* gave %d rows", len(rows))
	}
	// No match: a header row only.
	rec = ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/export?user_id=77", "", nil)
	if rec.Code != 200 || len(parseCSV(t, rec.Body.String())) != 0 {
		t.Errorf("empty export: %d %q", rec.Code, rec.Body)
	}
}

func TestAuditExportFilenameHeader(t *testing.T) {
	ts, _ := auditServer(t)
	for _, tc := range []struct{ raw, want string }{
		{"my report", "my report.jsonl"},
		{"../../etc/cron.d/x", "x.jsonl"},
		{"a\"b\r\nX-Evil: 1", "a_bX-Evil_ 1.jsonl"},
		{"x.jsonl", "x.jsonl"},
		{"", "audit-log-20260304.jsonl"},
	} {
		rec := ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/export?format=jsonl&filename="+url.QueryEscape(tc.raw), "", nil)
		cd := rec.Header().Get("Content-Disposition")
		_, params, err := mime.ParseMediaType(cd)
		if rec.Code != 200 || err != nil || params["filename"] != tc.want {
			t.Errorf("filename=%q: %d %q (%v), want %q", tc.raw, rec.Code, cd, err, tc.want)
		}
		if rec.Header().Get("X-Evil") != "" || strings.ContainsAny(cd, "\r\n") {
			t.Errorf("filename=%q injected a header: %q", tc.raw, cd)
		}
	}
}

func TestAuditExportJSON(t *testing.T) {
	ts, _ := auditServer(t)
	rec := ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/export?format=jsonl&days=60", "", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("jsonl: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	lines := parseJSONL(t, rec.Body.String())
	if len(lines) != 5 || lines[1]["username"] != "=cmd|' /C calc'!A0" || lines[0]["seq"] != float64(5) {
		t.Errorf("jsonl lines = %v", lines)
	}
	if strings.Count(rec.Body.String(), "\n") != 5 {
		t.Errorf("jsonl is not one object per line: %q", rec.Body)
	}

	for _, q := range []string{"format=json&days=60", "format=json&user_id=77"} {
		rec = ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/export?"+q, "", nil)
		var arr []audit.View
		if err := json.Unmarshal(rec.Body.Bytes(), &arr); err != nil || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: not a JSON array (%v): %q", q, err, rec.Body)
		}
		if want := map[string]int{"format=json&days=60": 5, "format=json&user_id=77": 0}[q]; len(arr) != want {
			t.Errorf("%s: %d entries, want %d", q, len(arr), want)
		}
	}
	if rec := ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/export?format=xml", "", nil); rec.Code != 400 {
		t.Errorf("format=xml: %d, want 400", rec.Code)
	}
	if rec := ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/export?max_rows=0", "", nil); rec.Code != 400 {
		t.Errorf("max_rows=0: %d, want 400", rec.Code)
	}
}

func TestAuditExportLegacyAlias(t *testing.T) {
	ts, _ := auditServer(t)
	// Default json, no default time window, the old page's parameter names.
	rec := ts.call(t, callerAdmin, "GET", "/api/v1/audit/export", "", nil)
	var arr []audit.View
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &arr) != nil || len(arr) != 5 {
		t.Fatalf("alias default: %d %s", rec.Code, rec.Body)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, `filename="audit-log-20260304.json"`) {
		t.Errorf("Content-Disposition = %q", cd)
	}
	rec = ts.call(t, callerModerator, "GET",
		"/api/v1/audit/export?format=jsonl&event_type=login_failed&user_id=2&start_time=2026-03-04&end_time=2026-03-04&max_rows=10&filename=weekly", "", nil)
	lines := parseJSONL(t, rec.Body.String())
	if rec.Code != 200 || len(lines) != 1 || lines[0]["action"] != "login_failed" {
		t.Errorf("alias filters: %d %v", rec.Code, lines)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, `filename="weekly.jsonl"`) {
		t.Errorf("Content-Disposition = %q", cd)
	}
	rec = ts.call(t, callerAdmin, "GET", "/api/v1/audit/export?format=csv&max_rows=3", "", nil)
	if rows := parseCSV(t, rec.Body.String()); len(rows) != 3 {
		t.Errorf("alias csv: %d rows", len(rows))
	}
	if rec := ts.call(t, callerUser, "GET", "/api/v1/audit/export", "", nil); rec.Code != 403 {
		t.Errorf("user on the alias: %d, want 403", rec.Code)
	}
}

// flushCounter counts the flushes reaching the underlying writer.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushCounter) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

func TestAuditExportStreams(t *testing.T) {
	l := newMemLog()
	for i := range 250 {
		_ = l.Write(context.Background(), audit.Event{Time: fixedNow.Add(-time.Duration(i) * time.Second), Action: audit.LoginSuccess, UserID: 1})
	}
	ts := newTestServer(t, withHTTP(func(o *Options) { o.AuditLog = l }))
	req := httptest.NewRequest("GET", "/api/v1/admin/audit-log/export?format=jsonl", nil)
	req.Header.Set("Authorization", "Bearer "+ts.Accounts[callerAdmin].Access)
	w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
	checkedHandler(t, ts.Server).ServeHTTP(w, req)
	if w.Code != 200 || len(parseJSONL(t, w.Body.String())) != 250 {
		t.Fatalf("status %d, body %d bytes", w.Code, w.Body.Len())
	}
	if w.flushes < 3 {
		t.Errorf("%d flushes for 250 rows: the export is not streamed", w.flushes)
	}
}

func TestAuditExportStoreErrors(t *testing.T) {
	ts, l := auditServer(t)
	// A failure before the first row is still a JSON error.
	l.ScanErrAfter = 0
	rec := ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/export?days=60", "", nil)
	if rec.Code != 500 || rec.Header().Get("Content-Disposition") != "" || strings.Contains(rec.Body.String(), "disk on fire") {
		t.Errorf("early failure: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	// A failure mid-stream cuts the connection: the client must not get a complete-looking
	// file, whether the failure comes before the first flush (no response at all) or after
	// (a truncated body).
	srv := httptest.NewServer(ts)
	defer srv.Close()
	for i := range exportFlushEvery + 60 {
		_ = l.Write(context.Background(), audit.Event{Time: fixedNow.Add(-time.Duration(i) * time.Second), Action: "filler"})
	}
	for _, after := range []int{2, exportFlushEvery + 50} {
		l.mu.Lock()
		l.ScanErrAfter = after
		l.mu.Unlock()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/admin/audit-log/export?format=json&days=60", nil)
		req.Header.Set("Authorization", "Bearer "+ts.Accounts[callerAdmin].Access)
		resp, err := srv.Client().Do(req)
		if err != nil {
			if after > exportFlushEvery {
				t.Errorf("failure after %d rows: no response (%v), want a started, truncated one", after, err)
			}
			continue // cut before the status line
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil || json.Valid(body) {
			t.Errorf("failure after %d rows: status %d, read error %v, body %d bytes valid=%v",
				after, resp.StatusCode, err, len(body), json.Valid(body))
		}
	}
}

func TestAuditVerify(t *testing.T) {
	ts, l := auditServer(t)
	rec := ts.call(t, callerModerator, "GET", "/api/v1/admin/audit-log/verify", "", nil)
	m := decodeJSON(t, rec)
	if rec.Code != 200 || m["ok"] != true || m["checked"] != float64(5) || m["from"] != float64(1) || m["head"] != float64(5) {
		t.Errorf("verify: %d %v", rec.Code, m)
	}
	if b, ok := m["break"]; !ok || b != nil {
		t.Errorf("break = %v (present %v), want null", b, ok)
	}
	if h, _ := m["head_hash"].(string); len(h) != 64 {
		t.Errorf("head_hash = %v", m["head_hash"])
	}

	l.Report = &audit.Report{Checked: 2, From: 1, Head: 2, HeadHash: "ab",
		Break: &audit.Break{Seq: 3, Kind: audit.BreakModified, Detail: "row 3 does not match its stored hash"}}
	rec = ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/verify", "", nil)
	if !strings.Contains(rec.Body.String(), `"ok":false`) ||
		!strings.Contains(rec.Body.String(), `"break":{"seq":3,"kind":"modified","detail":"row 3 does not match its stored hash"}`) {
		t.Errorf("broken chain: %s", rec.Body)
	}
}

func TestAuditVerifyUsesHeadCheckpoint(t *testing.T) {
	l := newMemLog()
	seedAudit(t, l)
	head := &audit.Checkpoint{Seq: 9, Hash: "ff", Kind: "head", Time: fixedNow}
	var headErr error
	ts := newTestServer(t, withHTTP(func(o *Options) {
		o.AuditLog = l
		o.AuditHead = func(context.Context) (*audit.Checkpoint, error) { return head, headErr }
	}))
	rec := ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/verify", "", nil)
	if l.lastArg != head {
		t.Errorf("Verify got checkpoint %v, want the AuditHead one", l.lastArg)
	}
	if !strings.Contains(rec.Body.String(), `"kind":"truncated"`) {
		t.Errorf("a log shorter than the head checkpoint verified: %s", rec.Body)
	}
	headErr = errors.New("audit file unreadable")
	if rec := ts.call(t, callerAdmin, "GET", "/api/v1/admin/audit-log/verify", "", nil); rec.Code != 500 ||
		strings.Contains(rec.Body.String(), "unreadable") {
		t.Errorf("AuditHead failure: %d %s", rec.Code, rec.Body)
	}
}
