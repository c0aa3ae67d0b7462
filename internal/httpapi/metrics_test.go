package httpapi

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"net/netip"
)

func metricsOptions() Options {
	return Options{
		EnableMetrics:  true,
		MetricsAllowed: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
		MetricsToken:   "scrape-token-123",
		DBStats: func() sql.DBStats {
			return sql.DBStats{MaxOpenConnections: 20, OpenConnections: 3, InUse: 1, Idle: 2, WaitDuration: time.Second}
		},
	}
}

func TestMetricsAccess(t *testing.T) {
	s, _ := newTest(t, metricsOptions())
	tests := []struct {
		name   string
		path   string
		remote string
		header map[string]string
		want   int
	}{
		{"loopback v4", "/metrics", "127.0.0.1:5555", nil, 200},
		{"loopback v6", "/api/v1/health/metrics", "[::1]:5555", nil, 200},
		{"loopback v4-mapped", "/metrics", "[::ffff:127.0.0.1]:5555", nil, 200},
		{"remote refused", "/metrics", "192.0.2.10:5555", nil, 403},
		{"remote refused on health alias", "/api/v1/health/metrics", "192.0.2.10:5555", nil, 403},
		{"allowed CIDR", "/metrics", "10.1.2.3:5555", nil, 200},
		{"outside CIDR", "/metrics", "10.2.2.3:5555", nil, 403},
		{"token", "/metrics", "192.0.2.10:5555", map[string]string{"Authorization": "Bearer scrape-token-123"}, 200},
		{"token scheme case-insensitive", "/metrics", "192.0.2.10:5555", map[string]string{"Authorization": "bearer scrape-token-123"}, 200},
		{"wrong token", "/metrics", "192.0.2.10:5555", map[string]string{"Authorization": "Bearer scrape-token-124"}, 403},
		{"token prefix", "/metrics", "192.0.2.10:5555", map[string]string{"Authorization": "Bearer scrape"}, 403},
		{"proxied through loopback", "/metrics", "127.0.0.1:5555", map[string]string{"X-Forwarded-For": "198.51.100.7"}, 403},
		{"unparseable peer", "/metrics", "pipe", nil, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := request{path: tc.path, remote: tc.remote, header: tc.header}.do(t, s)
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d", rec.Code, tc.want)
			}
			if tc.want == 403 {
				if body := decodeJSON(t, rec); body["code"] != "forbidden" || body["detail"] == "" {
					t.Errorf("403 body = %v", body)
				}
				return
			}
			if !strings.Contains(rec.Body.String(), "tldw_http_requests_in_flight") {
				t.Errorf("exposition lacks tldw_http_requests_in_flight")
			}
		})
	}
}

func TestMetricsDisabled(t *testing.T) {
	s, _ := newTest(t, Options{})
	if rec := (request{path: "/metrics", remote: "127.0.0.1:1"}).do(t, s); rec.Code != 404 {
		t.Errorf("/metrics status = %d, want 404 when disabled", rec.Code)
	}
	if strings.Contains(string(s.OpenAPI()), `"/metrics"`) {
		t.Error("disabled /metrics is still documented")
	}
}

// scrape serves some traffic and returns the exposition text.
func scrape(t *testing.T) string {
	t.Helper()
	s, _ := newTest(t, metricsOptions())
	request{path: "/api/v1/items/42"}.do(t, s)
	request{path: "/api/v1/items/43"}.do(t, s)
	request{path: "/api/v1/does-not-exist/7"}.do(t, s)
	request{method: "BREW", path: "/api/v1/items"}.do(t, s)
	rec := request{path: "/metrics", remote: "127.0.0.1:9"}.do(t, s)
	if rec.Code != 200 {
		t.Fatalf("scrape status %d", rec.Code)
	}
	return rec.Body.String()
}

func TestMetricsContent(t *testing.T) {
	body := scrape(t)
	for _, want := range []string{
		`tldw_http_requests_total{code="200",method="GET",route="/api/v1/items/{id}"} 2`,
		`tldw_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`tldw_http_requests_total{code="405",method="OTHER",route="unmatched"} 1`,
		`tldw_http_request_duration_seconds_bucket{method="GET",route="/api/v1/items/{id}",le="+Inf"} 2`,
		"tldw_http_requests_in_flight 1", // the scrape itself
		"tldw_db_open_connections 3",
		"tldw_db_max_open_connections 20",
		"tldw_db_wait_duration_seconds_total 1",
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	for _, raw := range []string{"/api/v1/items/42", "/api/v1/items/43", "does-not-exist"} {
		if strings.Contains(body, raw) {
			t.Errorf("exposition carries a raw path %q", raw)
		}
	}
}

// TestPromtool checks the exposition with `promtool check metrics`.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
			t.Fatal("promtool not found and TLDW_REQUIRE_TOOLS=1")
		}
		t.Skip("promtool not installed")
	}
	body := scrape(t)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("promtool check metrics failed (%v):\n%s", err, out.String())
		}
		t.Fatalf("run promtool: %v", err)
	}
}
