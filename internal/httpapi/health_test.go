package httpapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func okCheck(context.Context) error { return nil }

func failCheck(msg string) func(context.Context) error {
	return func(context.Context) error { return errors.New(msg) }
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name       string
		checks     []Check
		wantStatus int
		wantState  string
		wantChecks map[string]string
	}{
		{"no checks", nil, 200, "healthy", map[string]string{}},
		{"all ok", []Check{{Name: "database", Critical: true, Run: okCheck}, {Name: "redis", Run: okCheck}},
			200, "healthy", map[string]string{"database": "ok", "redis": "ok"}},
		{"non-critical failure degrades",
			[]Check{{Name: "database", Critical: true, Run: okCheck}, {Name: "redis", Run: failCheck("dial tcp 10.0.0.5:6379: refused")}},
			206, "degraded", map[string]string{"database": "ok", "redis": "error"}},
		{"critical failure is unhealthy",
			[]Check{{Name: "database", Critical: true, Run: failCheck("pq: password authentication failed")}, {Name: "redis", Run: okCheck}},
			503, "unhealthy", map[string]string{"database": "error", "redis": "ok"}},
		{"ErrDegraded on a critical check degrades",
			[]Check{{Name: "disk", Critical: true, Run: func(context.Context) error { return fmt.Errorf("%w: 95%% used", ErrDegraded) }}},
			206, "degraded", map[string]string{"disk": "degraded"}},
		{"unhealthy wins over degraded",
			[]Check{{Name: "disk", Run: failCheck("full")}, {Name: "database", Critical: true, Run: failCheck("down")}},
			503, "unhealthy", map[string]string{"disk": "error", "database": "error"}},
		{"panicking check fails",
			[]Check{{Name: "media_dir", Critical: true, Run: func(context.Context) error { panic("boom") }}},
			503, "unhealthy", map[string]string{"media_dir": "error"}},
		{"nil Run is ok", []Check{{Name: "database", Critical: true}}, 200, "healthy", map[string]string{"database": "ok"}},
		{"informational failure warns only",
			[]Check{{Name: "database", Critical: true, Run: okCheck}, {Name: "media_tools", Info: true, Run: failCheck("missing pandoc")}},
			200, "healthy", map[string]string{"database": "ok", "media_tools": "warning"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := newTest(t, Options{Checks: tc.checks, AuthMode: "multi_user"})
			rec := request{path: "/api/v1/health"}.do(t, s)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; %s", rec.Code, tc.wantStatus, rec.Body)
			}
			body := decodeJSON(t, rec)
			if body["status"] != tc.wantState {
				t.Errorf("status field = %v, want %s", body["status"], tc.wantState)
			}
			if body["timestamp"] != "2026-03-04T05:06:07Z" {
				t.Errorf("timestamp = %v", body["timestamp"])
			}
			if body["auth_mode"] != "multi_user" {
				t.Errorf("auth_mode = %v", body["auth_mode"])
			}
			checks, _ := body["checks"].(map[string]any)
			if len(checks) != len(tc.wantChecks) {
				t.Errorf("checks = %v, want %v", checks, tc.wantChecks)
			}
			for k, v := range tc.wantChecks {
				if checks[k] != v {
					t.Errorf("checks[%s] = %v, want %s", k, checks[k], v)
				}
			}
			for _, secret := range []string{"10.0.0.5", "password", "full", "boom", "down"} {
				if strings.Contains(rec.Body.String(), secret) {
					t.Errorf("body leaks check error %q: %s", secret, rec.Body)
				}
			}
			for _, c := range tc.checks {
				if c.Run != nil && body["checks"].(map[string]any)[c.Name] == "error" &&
					!strings.Contains(logs.String(), `"check":"`+c.Name+`"`) {
					t.Errorf("failed check %s not logged", c.Name)
				}
			}
		})
	}
}

func TestHealthCheckTimeout(t *testing.T) {
	s, _ := newTest(t, Options{Checks: []Check{
		{Name: "database", Critical: true, Run: func(ctx context.Context) error {
			<-ctx.Done() // a hung backend that at least honours its context
			return ctx.Err()
		}},
		{Name: "stuck", Run: func(context.Context) error {
			select {} // ignores its context entirely
		}},
	}})
	s.health.checkTimeout = time.Millisecond
	rec := request{path: "/api/v1/health"}.do(t, s)
	if rec.Code != 503 {
		t.Fatalf("status = %d, want 503", rec.Code)
	}
	checks := decodeJSON(t, rec)["checks"].(map[string]any)
	if checks["database"] != "error" || checks["stuck"] != "error" {
		t.Errorf("checks = %v", checks)
	}
}

func TestChecksRunConcurrently(t *testing.T) {
	// Each check waits for the other to start; run one after the other they would time out.
	a, b := make(chan struct{}), make(chan struct{})
	meet := func(mine, other chan struct{}) func(context.Context) error {
		return func(ctx context.Context) error {
			close(mine)
			select {
			case <-other:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	s, _ := newTest(t, Options{Checks: []Check{{Name: "a", Critical: true, Run: meet(a, b)}, {Name: "b", Critical: true, Run: meet(b, a)}}})
	if rec := (request{path: "/api/v1/health"}).do(t, s); rec.Code != 200 {
		t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
	}
}

func TestProbes(t *testing.T) {
	type opts struct {
		draining bool
		ready    error
	}
	tests := []struct {
		name       string
		o          opts
		method     string
		path       string
		wantStatus int
		want       map[string]any
	}{
		{"live", opts{}, "GET", "/api/v1/health/live", 200,
			map[string]any{"status": "alive", "timestamp": "2026-03-04T05:06:07Z"}},
		{"live while draining", opts{draining: true}, "GET", "/api/v1/health/live", 200, map[string]any{"status": "alive"}},
		{"ready", opts{}, "GET", "/api/v1/health/ready", 200,
			map[string]any{"status": "ready", "timestamp": "2026-03-04T05:06:07Z"}},
		{"draining", opts{draining: true}, "GET", "/api/v1/health/ready", 503,
			map[string]any{"status": "not ready", "error": "shutdown_in_progress"}},
		{"database down", opts{ready: errors.New("dial tcp: secret-host refused")}, "GET", "/api/v1/health/ready", 503,
			map[string]any{"status": "not ready", "error": "database unreachable"}},
		{"migrations pending", opts{ready: fmt.Errorf("%w: at 3, want 5", ErrMigrationsPending)}, "GET", "/api/v1/health/ready", 503,
			map[string]any{"status": "not ready", "error": "migrations pending"}},
		{"root health", opts{}, "GET", "/health", 200, map[string]any{"status": "healthy"}},
		{"root health HEAD", opts{}, "HEAD", "/health", 200, nil},
		{"root ready", opts{}, "GET", "/ready", 200, map[string]any{"status": "ready"}},
		{"root ready draining", opts{draining: true}, "GET", "/ready", 503,
			map[string]any{"status": "not_ready", "reason": "shutdown_in_progress"}},
		{"root ready HEAD draining", opts{draining: true}, "HEAD", "/ready", 503, nil},
		{"root ready is cheap", opts{ready: errors.New("down")}, "GET", "/ready", 200, map[string]any{"status": "ready"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			readyCalls := 0
			o := Options{
				Draining: func() bool { return tc.o.draining },
				Ready:    func(context.Context) error { readyCalls++; return tc.o.ready },
			}
			s, _ := newTest(t, o)
			rec := request{method: tc.method, path: tc.path}.do(t, s)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.want == nil {
				return
			}
			body := decodeJSON(t, rec)
			for k, v := range tc.want {
				if body[k] != v {
					t.Errorf("%s = %v, want %v", k, body[k], v)
				}
			}
			if strings.Contains(rec.Body.String(), "secret-host") {
				t.Errorf("ready leaks the error: %s", rec.Body)
			}
			if tc.o.draining && readyCalls != 0 {
				t.Errorf("Ready called %d times while draining", readyCalls)
			}
		})
	}
}

// TestHealthCached: /api/v1/health reuses one run of the checks for healthTTL, and a failing
// check is logged when its state changes, not on every run.
func TestHealthCached(t *testing.T) {
	now := fixedNow
	var runs int
	var fail bool
	check := func(context.Context) error {
		runs++
		if fail {
			return errors.New("refused")
		}
		return nil
	}
	s, logs := newTest(t, Options{Now: func() time.Time { return now }, Checks: []Check{{Name: "redis", Run: check}}})
	get := func() int { return request{path: "/api/v1/health"}.do(t, s).Code }

	for range 2 {
		if code := get(); code != 200 {
			t.Fatalf("status %d, want 200", code)
		}
	}
	if runs != 1 {
		t.Fatalf("two requests within the TTL ran the checks %d times, want 1", runs)
	}
	fail = true
	if code := get(); code != 200 || runs != 1 {
		t.Errorf("within the TTL: status %d after %d runs; want the cached 200", code, runs)
	}
	for i := range 3 {
		now = now.Add(healthTTL)
		if code := get(); code != 206 || runs != 2+i {
			t.Fatalf("after the TTL: status %d, %d runs; want 206 from a fresh run", code, runs)
		}
	}
	if n := strings.Count(logs.String(), "health check failed"); n != 1 {
		t.Errorf("a check failing on 3 runs logged %d times, want once (on the change)", n)
	}
	fail = false
	now = now.Add(healthTTL)
	if code := get(); code != 200 || !strings.Contains(logs.String(), "health check recovered") {
		t.Errorf("after recovery: status %d, logs %s", code, logs)
	}
}
