package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/quota"
)

// limitedServer is a test server with the local limiter on the test clock, 5/minute on the
// auth routes and 3/minute on the others (admins exempt). opts adjust it further.
func limitedServer(t *testing.T, opts ...func(*testServerConfig)) *testServer {
	t.Helper()
	var ts *testServer
	clock := func() time.Time { return ts.Clock.Now() }
	base := func(c *testServerConfig) {
		c.HTTP.Limiter = quota.NewLocalLimiter(clock)
		c.HTTP.RateLimits = RateLimits{Enabled: true,
			Auth: quota.Limit{N: 5, Per: time.Minute}, API: quota.Limit{N: 3, Per: time.Minute},
			ExemptRoles: []auth.Role{auth.RoleAdmin}}
		c.Extra = testRoutes()
	}
	ts = newTestServer(t, append([]func(*testServerConfig){base}, opts...)...)
	return ts
}

// send serves one request from peer (an "ip:port") with the given headers.
func (ts *testServer) send(method, path, peer, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = peer
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	serveChecked(ts.tb, ts.Server, rec, req)
	return rec
}

// login posts the login form for alice from peer.
func (ts *testServer) loginFrom(peer string, header map[string]string) *httptest.ResponseRecorder {
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range header {
		h[k] = v
	}
	form := url.Values{"username": {"alice"}, "password": {testPassword}}.Encode()
	return ts.send(http.MethodPost, "/api/v1/auth/login", peer, form, h)
}

// want429 checks a rate-limit refusal: body, Retry-After and the X-RateLimit headers.
func want429(t *testing.T, rec *httptest.ResponseRecorder, limit string) {
	t.Helper()
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d %s, want 429", rec.Code, rec.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["detail"] != "Too many requests" || body["code"] != "rate_limited" {
		t.Errorf("429 body %s", rec.Body)
	}
	h := rec.Header()
	if h.Get("Retry-After") == "" || h.Get("Retry-After") == "0" || h.Get("X-RateLimit-Limit") != limit ||
		h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Reset") == "" || len(h.Values("X-RateLimit-Limit")) != 1 {
		t.Errorf("429 headers %v", h)
	}
}

func TestAuthRateLimitPerIP(t *testing.T) {
	ts := limitedServer(t)
	const peer = "198.51.100.7:4000"
	for i := range 5 {
		rec := ts.loginFrom(peer, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("login %d: %d %s", i+1, rec.Code, rec.Body)
		}
		if got, want := rec.Header().Get("X-RateLimit-Remaining"), fmt.Sprint(4-i); got != want || rec.Header().Get("X-RateLimit-Limit") != "5" {
			t.Errorf("login %d: X-RateLimit-Remaining %q, want %s (headers %v)", i+1, got, want, rec.Header())
		}
	}
	rec := ts.loginFrom(peer, nil)
	want429(t, rec, "5")
	if got := rec.Header().Get("Retry-After"); got != "12" {
		t.Errorf("Retry-After = %q, want 12 (one request refills every 12 s)", got)
	}
	// The same client cannot get a fresh bucket by claiming another address.
	for _, h := range []map[string]string{{"X-Forwarded-For": "203.0.113.99"}, {"X-Real-IP": "203.0.113.98"}} {
		if rec := ts.loginFrom(peer, h); rec.Code != http.StatusTooManyRequests {
			t.Errorf("spoofed %v from an untrusted peer: %d, want 429", h, rec.Code)
		}
	}
	// Register, refresh and the password routes share the bucket.
	if rec := ts.send(http.MethodPost, "/api/v1/auth/register", peer, `{}`, map[string]string{"Content-Type": "application/json"}); rec.Code != http.StatusTooManyRequests {
		t.Errorf("register from a limited IP: %d", rec.Code)
	}
	if rec := ts.send(http.MethodPost, "/api/v1/auth/refresh", peer, `{}`, map[string]string{"Content-Type": "application/json"}); rec.Code != http.StatusTooManyRequests {
		t.Errorf("refresh from a limited IP: %d", rec.Code)
	}
	// Before authentication: even a good token does not get through.
	bearer := map[string]string{"Authorization": "Bearer " + ts.Accounts[callerUser].Access, "Content-Type": "application/json"}
	if rec := ts.send(http.MethodPost, "/api/v1/users/change-password", peer, `{}`, bearer); rec.Code != http.StatusTooManyRequests {
		t.Errorf("change-password from a limited IP: %d", rec.Code)
	}
	admin := map[string]string{"Authorization": "Bearer " + ts.Accounts[callerAdmin].Access, "Content-Type": "application/json"}
	if rec := ts.send(http.MethodPost, "/api/v1/admin/users/1/reset-password", peer, `{}`, admin); rec.Code != http.StatusTooManyRequests {
		t.Errorf("reset-password from a limited IP: %d", rec.Code)
	}
	// Another client is unaffected; after 12 s the first gets one more.
	if rec := ts.loginFrom("198.51.100.8:4000", nil); rec.Code != http.StatusOK {
		t.Errorf("other IP: %d", rec.Code)
	}
	ts.Clock.Advance(12 * time.Second)
	if rec := ts.loginFrom(peer, nil); rec.Code != http.StatusOK {
		t.Errorf("after refill: %d %s", rec.Code, rec.Body)
	}
	want429(t, ts.loginFrom(peer, nil), "5")
}

func TestAuthRateLimitBehindTrustedProxy(t *testing.T) {
	ts := limitedServer(t, withHTTP(func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		o.RateLimits.Auth = quota.Limit{N: 1, Per: time.Minute}
	}))
	const proxy = "10.0.0.2:5000"
	xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }
	if rec := ts.loginFrom(proxy, xff("203.0.113.1")); rec.Code != http.StatusOK {
		t.Fatalf("first client: %d", rec.Code)
	}
	// The client's own left-most entry is ignored; the proxy's right-most entry counts.
	want429(t, ts.loginFrom(proxy, xff("192.0.2.50, 203.0.113.1")), "1")
	if rec := ts.loginFrom(proxy, xff("203.0.113.2")); rec.Code != http.StatusOK {
		t.Errorf("second client behind the proxy: %d", rec.Code)
	}
}

func TestAPIRateLimitPerPrincipal(t *testing.T) {
	ts := limitedServer(t)
	get := func(kind string) *httptest.ResponseRecorder {
		return ts.call(t, kind, http.MethodGet, "/api/v1/auth/me", "", nil)
	}
	for i := range 3 {
		rec := get(callerUser)
		if rec.Code != http.StatusOK || rec.Header().Get("X-RateLimit-Remaining") != fmt.Sprint(2-i) {
			t.Fatalf("user request %d: %d %v", i+1, rec.Code, rec.Header())
		}
	}
	want429(t, get(callerUser), "3")
	// Per user: the moderator and the service account (by API key) have their own buckets;
	// the admin is exempt.
	if rec := get(callerModerator); rec.Code != http.StatusOK {
		t.Errorf("moderator: %d", rec.Code)
	}
	for range 3 {
		if rec := get(callerService); rec.Code != http.StatusOK {
			t.Fatalf("service: %d", rec.Code)
		}
	}
	want429(t, get(callerService), "3")
	for range 5 {
		rec := get(callerAdmin)
		if rec.Code != http.StatusOK || rec.Header().Get("X-RateLimit-Limit") != "" {
			t.Fatalf("exempt admin: %d %v", rec.Code, rec.Header())
		}
	}
	// Another session of the same user shares the user's bucket.
	pair, err := ts.Auth.Login(context.Background(), "alice", testPassword, auth.Meta{IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	want429(t, ts.call(t, callerAnonymous, http.MethodGet, "/api/v1/auth/me", "", map[string]string{"Authorization": "Bearer " + pair.AccessToken}), "3")
	// Unauthenticated requests are answered 401 by the gate, not counted.
	if rec := get(callerAnonymous); rec.Code != http.StatusUnauthorized {
		t.Errorf("anonymous on an authenticated route: %d", rec.Code)
	}
}

func TestProbesAndDocsNotLimited(t *testing.T) {
	ts := limitedServer(t, withHTTP(func(o *Options) { o.RateLimits.API = quota.Limit{N: 1, Per: time.Hour} }))
	bearer := map[string]string{"Authorization": "Bearer " + ts.Accounts[callerUser].Access}
	for _, path := range []string{"/api/v1/health", "/api/v1/health/live", "/openapi.json", "/docs", "/api/v1/auth/verify"} {
		for i := range 3 {
			rec := ts.send(http.MethodGet, path, "198.51.100.7:1", "", bearer)
			if rec.Code == http.StatusTooManyRequests || rec.Header().Get("X-RateLimit-Limit") != "" {
				t.Errorf("GET %s #%d: %d %v; probes and docs are not limited", path, i+1, rec.Code, rec.Header())
			}
		}
	}
	// A public API route is limited per IP.
	if rec := ts.send(http.MethodGet, "/api/v1/items", "198.51.100.7:1", "", nil); rec.Code != http.StatusOK || rec.Header().Get("X-RateLimit-Limit") != "1" {
		t.Errorf("anonymous API route: %d %v", rec.Code, rec.Header())
	}
	want429(t, ts.send(http.MethodGet, "/api/v1/items", "198.51.100.7:1", "", nil), "1")
	if rec := ts.send(http.MethodGet, "/api/v1/items", "198.51.100.8:1", "", nil); rec.Code != http.StatusOK {
		t.Errorf("anonymous API route from another IP: %d", rec.Code)
	}
}

func TestRateLimitAuditedOncePerWindow(t *testing.T) {
	ts := limitedServer(t, withHTTP(func(o *Options) { o.RateLimits.API = quota.Limit{N: 1, Per: time.Minute} }))
	me := func() int { return ts.call(t, callerUser, http.MethodGet, "/api/v1/auth/me", "", nil).Code }
	codes := []int{me(), me(), me(), me()}
	if codes[0] != 200 || codes[1] != 429 || codes[3] != 429 {
		t.Fatalf("codes %v", codes)
	}
	evs := ts.Audit.Find(audit.RateLimitExceeded)
	if len(evs) != 1 {
		t.Fatalf("%d rate_limit_exceeded events after 3 refusals, want 1", len(evs))
	}
	e := evs[0]
	if e.UserID != ts.Accounts[callerUser].User.ID || e.Success || e.IP != "192.0.2.1" || e.TargetID != "/api/v1/auth/me" ||
		e.Details["key"] != fmt.Sprintf("user:%d", e.UserID) || e.Details["scope"] != "api" {
		t.Errorf("event %+v", e)
	}
	// A new window: one more event for the next refusal.
	ts.Clock.Advance(time.Minute)
	if c := []int{me(), me(), me()}; c[0] != 200 || c[1] != 429 {
		t.Fatalf("after a minute: %v", c)
	}
	if n := len(ts.Audit.Find(audit.RateLimitExceeded)); n != 2 {
		t.Errorf("%d events after the second window, want 2", n)
	}
}

// failingLimiter always fails, as a broken backend would without a fallback.
type failingLimiter struct{}

func (failingLimiter) Allow(context.Context, string, quota.Limit) (quota.Decision, error) {
	return quota.Decision{}, errors.New("backend down")
}

func TestRateLimiterFailureAdmits(t *testing.T) {
	ts := limitedServer(t, withHTTP(func(o *Options) { o.Limiter = failingLimiter{} }))
	for range 7 {
		if rec := ts.loginFrom("198.51.100.7:1", nil); rec.Code != http.StatusOK {
			t.Fatalf("login with a failing limiter: %d %s", rec.Code, rec.Body)
		}
	}
	if !strings.Contains(ts.Logs.String(), "rate limiter failed") {
		t.Error("limiter failure not logged")
	}
}

func TestRateLimitDisabled(t *testing.T) {
	ts := limitedServer(t, withHTTP(func(o *Options) { o.RateLimits.Enabled = false }))
	for range 7 {
		rec := ts.loginFrom("198.51.100.7:1", nil)
		if rec.Code != http.StatusOK || rec.Header().Get("X-RateLimit-Limit") != "" {
			t.Fatalf("disabled: %d %v", rec.Code, rec.Header())
		}
	}
}

func TestRateAuditBounded(t *testing.T) {
	var a rateAudit
	now := fixedNow
	for i := range maxAuditedKeys {
		if !a.first(fmt.Sprint(i), now, time.Minute) {
			t.Fatalf("key %d not first", i)
		}
	}
	if a.first("0", now, time.Minute) {
		t.Error("repeat within the window audited again")
	}
	if a.first("new", now, time.Minute) {
		t.Error("a key beyond the bound was audited while every window is open")
	}
	later := now.Add(time.Minute)
	if !a.first("new", later, time.Minute) || len(a.until) != 1 {
		t.Errorf("after the windows closed: first=false or %d keys kept, want expired keys dropped", len(a.until))
	}
}

func TestCeilSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{0: 0, -time.Second: 0, time.Nanosecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 12 * time.Second: 12} {
		if got := ceilSeconds(d); got != want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

// TestAPIRateLimitSharedByUsersKeys: every API key and session of one user draws from the
// one per-user budget, so minting keys buys no extra requests.
func TestAPIRateLimitSharedByUsersKeys(t *testing.T) {
	ts := limitedServer(t)
	alice := ts.Accounts[callerUser]
	var keys []string
	for range 3 {
		_, full := ts.createKey(t, alice, auth.ScopeRead)
		keys = append(keys, full)
	}
	for i, k := range keys {
		if rec := ts.call(t, callerAnonymous, http.MethodGet, "/api/v1/auth/me", "", map[string]string{"X-API-KEY": k}); rec.Code != http.StatusOK {
			t.Fatalf("key %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	for _, h := range []map[string]string{{"X-API-KEY": keys[0]}, {"X-API-KEY": keys[2]}, ts.credential(callerUser)} {
		want429(t, ts.call(t, callerAnonymous, http.MethodGet, "/api/v1/auth/me", "", h), "3")
	}
}

// TestAPIKeyOwnRateLimit: a key created with rate_limit_per_minute is held to it, and the
// requests it refuses leave the user's shared budget untouched.
func TestAPIKeyOwnRateLimit(t *testing.T) {
	ts := limitedServer(t)
	rec := ts.call(t, callerUser, http.MethodPost, "/api/v1/users/api-keys", `{"name":"slow","scopes":["read"],"rate_limit_per_minute":1}`, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	body := decodeJSON(t, rec)
	if body["rate_limit_per_minute"] != float64(1) {
		t.Errorf("created key body %v, want rate_limit_per_minute 1", body)
	}
	key := map[string]string{"X-API-KEY": body["key"].(string)}
	if rec := ts.call(t, callerAnonymous, http.MethodGet, "/api/v1/auth/me", "", key); rec.Code != http.StatusOK {
		t.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	for range 3 {
		want429(t, ts.call(t, callerAnonymous, http.MethodGet, "/api/v1/auth/me", "", key), "1")
	}
	// The user's budget (3/minute) lost one request to the key and one to creating it.
	if rec := ts.call(t, callerUser, http.MethodGet, "/api/v1/auth/me", "", nil); rec.Code != http.StatusOK || rec.Header().Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("user after the key's refusals: %d, remaining %q; want 200 with 0 left", rec.Code, rec.Header().Get("X-RateLimit-Remaining"))
	}
	plain := newTestServer(t)
	for _, bad := range []string{`-1`, `1000001`} {
		rec := plain.call(t, callerUser, http.MethodPost, "/api/v1/users/api-keys", `{"name":"x","rate_limit_per_minute":`+bad+`}`, nil)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("rate_limit_per_minute %s: %d %s, want 400", bad, rec.Code, rec.Body)
		}
	}
}
