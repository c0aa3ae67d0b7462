package httpapi

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestScenarios drives the real ServeHTTP through the error table, routing and middleware.
func TestScenarios(t *testing.T) {
	s, _ := newTest(t, Options{})
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantCode   string // error code; "" = not an error body
		wantDetail string // substring of detail
		wantHeader map[string]string
		notInBody  []string
	}{
		{name: "route ok", req: request{path: "/api/v1/items/42"}, wantStatus: 200},
		{name: "collection without slash", req: request{path: "/api/v1/items"}, wantStatus: 200},
		{name: "collection with slash", req: request{path: "/api/v1/items/"}, wantStatus: 200},
		{name: "path regex mismatch is 404", req: request{path: "/api/v1/items/abc"}, wantStatus: 404,
			wantCode: "not_found"},
		{name: "unknown path", req: request{path: "/api/v1/nope"}, wantStatus: 404, wantCode: "not_found",
			wantDetail: "not found"},
		{name: "unknown method", req: request{method: "DELETE", path: "/api/v1/health"}, wantStatus: 405,
			wantCode: "method_not_allowed", wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "405 lists every method", req: request{method: "PUT", path: "/api/v1/items"}, wantStatus: 405,
			wantCode: "method_not_allowed", wantHeader: map[string]string{"Allow": "GET, HEAD, POST"}},
		{name: "TRACE on a route", req: request{method: "TRACE", path: "/api/v1/health"}, wantStatus: 405,
			wantCode: "method_not_allowed"},
		{name: "TRACE anywhere", req: request{method: "TRACE", path: "/whatever"}, wantStatus: 405,
			wantCode: "method_not_allowed"},
		{name: "handler Errorf", req: request{method: "POST", path: "/api/v1/items", body: "{}"}, wantStatus: 409,
			wantCode: "item_exists", wantDetail: `item "x" already exists`},
		{name: "wrapped forbidden", req: request{path: "/api/v1/fail?e=forbidden"}, wantStatus: 403,
			wantCode: "forbidden", wantDetail: "not your item"},
		{name: "bad request", req: request{path: "/api/v1/fail?e=bad"}, wantStatus: 400,
			wantCode: "bad_request", wantDetail: "page must be positive"},
		{name: "unauthorized carries WWW-Authenticate", req: request{path: "/api/v1/fail?e=unauthorized"},
			wantStatus: 401, wantCode: "not_authenticated",
			wantHeader: map[string]string{"WWW-Authenticate": "Bearer"}},
		{name: "unavailable", req: request{path: "/api/v1/fail?e=unavailable"}, wantStatus: 503,
			wantCode: "service_unavailable"},
		{name: "max bytes is 413", req: request{path: "/api/v1/fail?e=toolarge"}, wantStatus: 413,
			wantCode: "payload_too_large"},
		{name: "error headers", req: request{path: "/api/v1/fail?e=retry"}, wantStatus: 429,
			wantCode: "rate_limited", wantHeader: map[string]string{"Retry-After": "30"}},
		{name: "unknown error is a generic 500", req: request{path: "/api/v1/fail"}, wantStatus: 500,
			wantCode: "internal_error", wantDetail: "internal error",
			notInBody: []string{"hunter2", "SELECT", "unexpected EOF"}},
		{name: "panic is a generic 500", req: request{path: "/api/v1/panic"}, wantStatus: 500,
			wantCode: "internal_error", wantDetail: "internal error",
			notInBody: []string{"secret", "passwd", "goroutine", "panic"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.req.do(t, s)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			for k, v := range tc.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, bad := range tc.notInBody {
				if strings.Contains(rec.Body.String(), bad) {
					t.Errorf("body leaks %q: %s", bad, rec.Body)
				}
			}
			body := decodeJSON(t, rec) // every response here has a JSON body
			if tc.wantCode == "" {
				if _, ok := body["detail"]; ok {
					t.Errorf("unexpected error body %v", body)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if body["code"] != tc.wantCode {
				t.Errorf("code = %v, want %s", body["code"], tc.wantCode)
			}
			detail, ok := body["detail"].(string)
			if !ok || detail == "" {
				t.Fatalf("detail is not a non-empty string: %v", body)
			}
			if !strings.Contains(detail, tc.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", detail, tc.wantDetail)
			}
			if body["request_id"] != rec.Header().Get("X-Request-ID") || body["request_id"] == "" {
				t.Errorf("request_id = %v, header %q", body["request_id"], rec.Header().Get("X-Request-ID"))
			}
		})
	}
}

func TestPanicLoggedWithStack(t *testing.T) {
	s, logs := newTest(t, Options{})
	rec := request{path: "/api/v1/panic", header: map[string]string{"X-Request-ID": "panic-1"}}.do(t, s)
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "panic serving request" {
			found = true
			if m["client_request_id"] != "panic-1" || !uuidRE.MatchString(m["request_id"].(string)) || !strings.Contains(m["stack"].(string), "goroutine") ||
				!strings.Contains(m["panic"].(string), "secret panic text") {
				t.Errorf("panic log line lacks request id, panic or stack: %v", m)
			}
		}
	}
	if !found {
		t.Fatalf("no panic log line in:\n%s", logs)
	}
}

func TestRequestID(t *testing.T) {
	s, _ := newTest(t, Options{})
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"generated when absent", "", false},
		{"client id echoed", "client-id_123:abc", true},
		{"over-long id replaced", strings.Repeat("a", 129), false},
		{"max length kept", strings.Repeat("b", 128), true},
		{"control character replaced", "abc\x01def", false},
		{"space replaced", "abc def", false},
		{"non-ASCII replaced", "abcé", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := request{path: "/api/v1/nope"}
			if tc.sent != "" {
				q.header = map[string]string{"X-Request-ID": tc.sent}
			}
			rec := q.do(t, s)
			got := rec.Header().Get("X-Request-ID")
			if tc.echoed && got != tc.sent {
				t.Errorf("X-Request-ID = %q, want echo of %q", got, tc.sent)
			}
			if !tc.echoed && !uuidRE.MatchString(got) {
				t.Errorf("X-Request-ID = %q, want a generated UUID", got)
			}
			// The body (like logs and audit) carries the server's own id, never the client's.
			body := decodeJSON(t, rec)
			if id, _ := body["request_id"].(string); !uuidRE.MatchString(id) || (!tc.echoed && id != got) {
				t.Errorf("body request_id %v, header %q: want the server's UUID", body["request_id"], got)
			}
		})
	}
	a := request{path: "/health"}.do(t, s).Header().Get("X-Request-ID")
	b := request{path: "/health"}.do(t, s).Header().Get("X-Request-ID")
	if a == b {
		t.Errorf("two requests got the same generated id %q", a)
	}
}

func TestSecurityHeaders(t *testing.T) {
	tests := []struct {
		name     string
		o        Options
		path     string
		wantCSP  string
		wantHSTS string
	}{
		{"defaults on a route", Options{}, "/api/v1/health/live", defaultCSP, ""},
		{"defaults on a 404", Options{}, "/api/v1/nope", defaultCSP, ""},
		{"custom CSP", Options{CSP: "default-src 'self'"}, "/api/v1/health/live", "default-src 'self'", ""},
		{"HSTS when set", Options{HSTS: true}, "/api/v1/nope", defaultCSP, "max-age=31536000; includeSubDomains"},
		{"docs gets its own CSP", Options{CSP: "default-src 'self'"}, "/docs", docsCSP, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTest(t, tc.o)
			rec := request{path: tc.path}.do(t, s)
			h := rec.Header()
			want := map[string]string{
				"X-Content-Type-Options":    "nosniff",
				"X-Frame-Options":           "DENY",
				"Referrer-Policy":           "no-referrer",
				"Content-Security-Policy":   tc.wantCSP,
				"Strict-Transport-Security": tc.wantHSTS,
			}
			for k, v := range want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.path != "/docs" && h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", h.Get("Cache-Control"))
			}
		})
	}
}

func TestTrustedHosts(t *testing.T) {
	s, _ := newTest(t, Options{TrustedHosts: []string{"example.com", "*.example.org"}})
	tests := []struct {
		host, path string
		want       int
	}{
		{"example.com", "/api/v1/items", 200},
		{"EXAMPLE.com:8443", "/api/v1/items", 200},
		{"api.example.org", "/api/v1/items", 200},
		{"example.org", "/api/v1/items", 400},
		{"evil.com", "/api/v1/items", 400},
		{"example.com.evil.com", "/api/v1/items", 400},
		{"evil.com", "/api/v1/nope", 400},
		{"10.0.0.7:8000", "/api/v1/health/live", 200}, // probes use pod IPs
		{"10.0.0.7:8000", "/api/v1/health/ready", 200},
		{"10.0.0.7:8000", "/ready", 200},
	}
	for _, tc := range tests {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			rec := request{path: tc.path, host: tc.host}.do(t, s)
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d; %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == 400 {
				if body := decodeJSON(t, rec); body["code"] != "invalid_host" {
					t.Errorf("body = %v", body)
				}
			}
		})
	}
	if hostAllowed([]string{"example.com"}, "") || hostAllowed([]string{"example.com"}, ":443") {
		t.Error("empty host allowed")
	}
	open, _ := newTest(t, Options{})
	if rec := (request{path: "/api/v1/items", host: "anything.test"}).do(t, open); rec.Code != 200 {
		t.Errorf("no TrustedHosts: status %d, want 200", rec.Code)
	}
}

func TestCORS(t *testing.T) {
	const good, bad = "https://app.example.com", "https://evil.example.net"
	tests := []struct {
		name       string
		o          Options
		method     string
		origin     string
		wantOrigin string
		wantCreds  string
		wantStatus int
	}{
		{"allowed origin", Options{AllowedOrigins: []string{good}}, "GET", good, good, "", 200},
		{"disallowed origin", Options{AllowedOrigins: []string{good}}, "GET", bad, "", "", 200},
		{"credentials", Options{AllowedOrigins: []string{good}, CORSAllowCredentials: true}, "GET", good, good, "true", 200},
		{"no credentials for disallowed", Options{AllowedOrigins: []string{good}, CORSAllowCredentials: true}, "GET", bad, "", "", 200},
		{"wildcard subdomain", Options{AllowedOrigins: []string{"https://*.example.com"}, CORSAllowCredentials: true}, "GET", good, good, "true", 200},
		{"no allowlist, no CORS", Options{}, "GET", good, "", "", 200},
		{"disabled", Options{AllowedOrigins: []string{good}, DisableCORS: true}, "GET", good, "", "", 200},
		{"preflight allowed", Options{AllowedOrigins: []string{good}, CORSAllowCredentials: true}, "OPTIONS", good, good, "true", 204},
		{"preflight disallowed", Options{AllowedOrigins: []string{good}}, "OPTIONS", bad, "", "", 204},
		{"star without credentials", Options{AllowedOrigins: []string{"*"}}, "GET", bad, "*", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTest(t, tc.o)
			hdr := map[string]string{"Origin": tc.origin}
			if tc.method == "OPTIONS" {
				hdr["Access-Control-Request-Method"] = "POST"
				hdr["Access-Control-Request-Headers"] = "authorization,content-type"
			}
			rec := request{method: tc.method, path: "/api/v1/items", header: hdr}.do(t, s)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tc.wantOrigin {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.wantOrigin)
			}
			if got := rec.Header().Get("Access-Control-Allow-Credentials"); got != tc.wantCreds {
				t.Errorf("Access-Control-Allow-Credentials = %q, want %q", got, tc.wantCreds)
			}
			if tc.wantOrigin != "" && tc.method == "GET" &&
				!strings.Contains(rec.Header().Get("Access-Control-Expose-Headers"), "X-Request-Id") {
				t.Errorf("X-Request-ID not exposed: %q", rec.Header().Get("Access-Control-Expose-Headers"))
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"star with credentials", Options{AllowedOrigins: []string{"*"}, CORSAllowCredentials: true}},
		{"open wildcard origin", Options{AllowedOrigins: []string{"https://*"}}},
		{"wildcard in the middle", Options{AllowedOrigins: []string{"https://a*b.example.com"}}},
		{"CSP header injection", Options{CSP: "default-src 'none'\r\nX-Evil: 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.o); err == nil {
				t.Fatal("New succeeded, want an error")
			}
		})
	}
	if _, err := newServer(Options{}, testRoutes()[0], testRoutes()[0]); err == nil {
		t.Error("duplicate route accepted")
	}
}

func TestTwoServersInOneProcess(t *testing.T) {
	o := Options{EnableMetrics: true, MetricsAllowed: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(o)
	if err != nil {
		t.Fatalf("second New: %v", err)
	}
	request{path: "/api/v1/health/live"}.do(t, a)
	body := request{path: "/metrics"}.do(t, b).Body.String()
	if strings.Contains(body, `route="/api/v1/health/live"`) {
		t.Error("server b counts server a's request: registries are shared")
	}
}

func TestAccessLog(t *testing.T) {
	s, logs := newTest(t, Options{})
	rec := request{path: "/api/v1/items/42", header: map[string]string{"X-Request-ID": "log-test-1"}}.do(t, s)
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err == nil && m["msg"] == "http request" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no access log line in:\n%s", logs)
	}
	if id, _ := line["request_id"].(string); !uuidRE.MatchString(id) {
		t.Errorf("request_id = %v, want the server's own UUID", line["request_id"])
	}
	want := map[string]any{
		"client_request_id": "log-test-1",
		"route":             "/api/v1/items/{id}",
		"path":              "/api/v1/items/42",
		"method":            "GET",
		"status":            float64(200),
		"bytes":             float64(rec.Body.Len()),
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, line[k], line[k], v)
		}
	}
	if _, ok := line["duration"]; !ok {
		t.Errorf("no duration in %v", line)
	}
}
