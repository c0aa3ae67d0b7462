package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/internal/testenv"
)

// clientFrom returns an HTTP client whose connections come from the loopback address ip
// (any 127.x.y.z works on Linux), so one test can be many clients.
func clientFrom(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// rcall sends one request with c and decodes a JSON answer into out (if not nil).
func rcall(t *testing.T, c *http.Client, method, u, token string, header map[string]string, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, u, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// rlogin logs user in on base from c, with extra headers; it returns the status, the
// access token and the error code of a refusal.
func rlogin(t *testing.T, c *http.Client, base, user, pw string, header map[string]string) (int, string, string) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range header {
		h[k] = v
	}
	var out struct {
		AccessToken string `json:"access_token"`
		Code        string `json:"code"`
	}
	code := rcall(t, c, "POST", base+"/api/v1/auth/login", "", h, url.Values{"username": {user}, "password": {pw}}.Encode(), &out)
	return code, out.AccessToken, out.Code
}

// waitStatus polls GET base+path (with token) until it answers want. limit only guards
// against a hang (it is not a latency bound: those belong to the load harness). It returns
// how long that took, or fails the test.
const hangGuard = 30 * time.Second

func waitStatus(t *testing.T, c *http.Client, base, path, token string, want int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		code := rcall(t, c, "GET", base+path, token, nil, "", nil)
		if code == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("GET %s%s still %d after %v, want %d", base, path, code, limit, want)
		}
		time.Sleep(2 * time.Millisecond) // a poll interval, not a wait for time to pass
	}
}

// TestReplicas runs three tldwd replicas on loopback sharing one PostgreSQL database and one
// Redis, and checks that limits, lockout and revocations hold across them, and that the
// replicas degrade and recover with Redis.
func TestReplicas(t *testing.T) {
	redis := testenv.StartRedisServer(t)
	db := postgresURL(t)
	const userPassword = "Replica-Us3r-Passphrase"
	var bases []string
	for i := range 3 {
		s := startServer(t, map[string]string{
			"TLDW_DATA_DIR":       filepath.Join(t.TempDir(), fmt.Sprint("replica", i)),
			"DATABASE_URL":        db,
			"REDIS_URL":           redis.URL(),
			"JWT_SECRET_KEY":      "replica-test-jwt-secret-0123456789abcdef",
			"AUDIT_HMAC_KEY":      "replica-test-audit-hmac-0123456789abcdef",
			"API_KEY_PEPPER":      "replica-test-api-key-pepper-0123456789ab",
			"TLDW_ADMIN_USERNAME": "admin", "TLDW_ADMIN_EMAIL": "admin@example.com",
			"TLDW_ADMIN_PASSWORD": testAdminPassword,
			"AUTH_RATE_LIMIT":     "5/minute",
			"API_RATE_LIMIT":      "1000/minute",
			"ARGON2_MEMORY_COST":  "8192", "ARGON2_TIME_COST": "1",
			"LOG_LEVEL": "WARNING",
			// Cached sessions outlive the test, so only the invalidation event can make a
			// logout visible on another replica: the test checks the mechanism.
			"SESSION_CACHE_TTL": "3600",
			// Redis decides the shared limits even when the loaded test machine is slow to
			// answer (a timeout would let each replica decide alone).
			"REDIS_TIMEOUT_MS": "5000",
		})
		bases = append(bases, s.url)
	}
	// Each part uses its own client addresses, so their rate-limit buckets are independent.
	admin := clientFrom(t, "127.0.9.1")
	code, adminToken, _ := rlogin(t, admin, bases[0], "admin", testAdminPassword, nil)
	if code != 200 {
		t.Fatalf("admin login = %d", code)
	}
	for _, name := range []string{"alice", "carol"} {
		body := fmt.Sprintf(`{"username":%q,"email":"%s@example.com","password":%q}`, name, name, userPassword)
		if code := rcall(t, admin, "POST", bases[1]+"/api/v1/admin/users", adminToken, map[string]string{"Content-Type": "application/json"}, body, nil); code != 200 && code != 201 {
			t.Fatalf("create %s = %d", name, code)
		}
	}
	for _, b := range bases {
		if code := rcall(t, admin, "GET", b+"/api/v1/health", "", nil, "", nil); code != 200 {
			t.Fatalf("health of %s = %d, want 200 with Redis up", b, code)
		}
	}

	// sharedAuthLimit logs alice in 5 times from ip, round robin over the replicas, with a
	// spoofed X-Forwarded-For / X-Real-IP on each (the loopback peer is not a trusted proxy),
	// and expects the 6th to be refused wherever it lands.
	sharedAuthLimit := func(t *testing.T, ip string) {
		t.Helper()
		c := clientFrom(t, ip)
		for i := range 5 {
			spoof := map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1), "X-Real-IP": fmt.Sprintf("198.51.100.%d", i+1)}
			if code, _, _ := rlogin(t, c, bases[i%3], "alice", userPassword, spoof); code != 200 {
				t.Fatalf("login %d from %s on replica %d = %d, want 200", i+1, ip, i%3+1, code)
			}
		}
		for i, b := range bases {
			spoof := map[string]string{"X-Forwarded-For": "192.0.2.77"}
			if code, _, errCode := rlogin(t, c, b, "alice", userPassword, spoof); code != 429 || errCode != "rate_limited" {
				t.Errorf("6th login from %s on replica %d = %d %q, want 429 rate_limited", ip, i+1, code, errCode)
			}
		}
	}

	t.Run("a shared auth limit and spoofed X-Forwarded-For", func(t *testing.T) {
		sharedAuthLimit(t, "127.0.1.1")
		// The audit log has the real peer, never the forged addresses.
		var log struct {
			Entries []map[string]any `json:"entries"`
		}
		if code := rcall(t, admin, "GET", bases[2]+"/api/v1/admin/audit-log?action=login_success&days=1&limit=100", adminToken, nil, "", &log); code != 200 {
			t.Fatalf("audit query = %d", code)
		}
		n := 0
		for _, e := range log.Entries {
			ip, _ := e["ip_address"].(string)
			if strings.HasPrefix(ip, "203.0.113.") || strings.HasPrefix(ip, "198.51.100.") {
				t.Errorf("audit entry with a forged IP: %v", e)
			}
			if ip == "127.0.1.1" {
				n++
			}
		}
		if n != 5 {
			t.Errorf("%d login_success entries from 127.0.1.1, want 5", n)
		}
	})

	t.Run("b logout reaches the other replicas", func(t *testing.T) {
		var lat []time.Duration
		for trial := range 20 {
			c := clientFrom(t, fmt.Sprintf("127.0.2.%d", trial+1))
			code, tok, _ := rlogin(t, c, bases[0], "alice", userPassword, nil)
			if code != 200 {
				t.Fatalf("trial %d: login = %d", trial, code)
			}
			for _, b := range bases[1:] { // cache the session as live on replicas 2 and 3
				if code := rcall(t, c, "GET", b+"/api/v1/auth/me", tok, nil, "", nil); code != 200 {
					t.Fatalf("trial %d: me on %s = %d", trial, b, code)
				}
			}
			if code := rcall(t, c, "POST", bases[0]+"/api/v1/auth/logout", tok, nil, "", nil); code != 200 {
				t.Fatalf("trial %d: logout = %d", trial, code)
			}
			for _, b := range bases[1:] {
				lat = append(lat, waitStatus(t, c, b, "/api/v1/auth/me", tok, 401, hangGuard))
			}
		}
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
		t.Logf("logout on replica 1 → 401 on replicas 2 and 3 (%d observations): min %v  p50 %v  p90 %v  max %v",
			len(lat), lat[0], q(0.5), q(0.9), lat[len(lat)-1])
	})

	t.Run("c lockout is shared", func(t *testing.T) {
		// Five wrong passwords for carol from five addresses, spread over the replicas, put
		// the username (its counter in Redis) under attack: a sixth failure, from a new
		// address on another replica, locks that client out of carol at once, on every
		// replica — while a client that has not failed still logs in.
		for i := range 5 {
			c := clientFrom(t, fmt.Sprintf("127.0.3.%d", i+1))
			if code, _, errCode := rlogin(t, c, bases[i%3], "carol", "wrong-password", nil); code != 401 {
				t.Fatalf("wrong password %d on replica %d = %d %q, want 401", i+1, i%3+1, code, errCode)
			}
		}
		attacker := clientFrom(t, "127.0.3.6")
		if code, _, errCode := rlogin(t, attacker, bases[2], "carol", "wrong-password", nil); code != 429 || errCode != "account_locked" {
			t.Fatalf("wrong password 6 on replica 3 = %d %q, want 429 account_locked", code, errCode)
		}
		for i, b := range bases {
			if code, _, errCode := rlogin(t, attacker, b, "carol", userPassword, nil); code != 429 || errCode != "account_locked" {
				t.Errorf("locked-out client, right password on replica %d = %d %q, want 429 account_locked", i+1, code, errCode)
			}
		}
		if code, _, errCode := rlogin(t, clientFrom(t, "127.0.3.10"), bases[1], "carol", userPassword, nil); code != 200 {
			t.Errorf("clean client, right password = %d %q, want 200", code, errCode)
		}
	})

	t.Run("d Redis outage and recovery", func(t *testing.T) {
		redis.Stop()
		for _, b := range bases {
			waitStatus(t, admin, b, "/api/v1/health", "", http.StatusPartialContent, hangGuard)
		}
		// Limits are per replica now: 5 per replica from one address, 15 in all.
		c := clientFrom(t, "127.0.4.1")
		var tok string
		for i := range 10 {
			code, access, _ := rlogin(t, c, bases[i%3], "alice", userPassword, nil)
			if code != 200 {
				t.Fatalf("login %d on replica %d with Redis down = %d, want 200 (per-replica limits)", i+1, i%3+1, code)
			}
			tok = access
		}
		// ... but each replica still enforces them.
		c2 := clientFrom(t, "127.0.4.2")
		for i := range 5 {
			if code, _, _ := rlogin(t, c2, bases[0], "alice", userPassword, nil); code != 200 {
				t.Fatalf("login %d on replica 1 with Redis down = %d", i+1, code)
			}
		}
		if code, _, errCode := rlogin(t, c2, bases[0], "alice", userPassword, nil); code != 429 || errCode != "rate_limited" {
			t.Errorf("6th login on one replica with Redis down = %d %q, want 429 rate_limited", code, errCode)
		}
		// Revocation falls back to the database.
		if code := rcall(t, c, "GET", bases[1]+"/api/v1/auth/me", tok, nil, "", nil); code != 200 {
			t.Fatalf("me on replica 2 with Redis down = %d", code)
		}
		if code := rcall(t, c, "POST", bases[2]+"/api/v1/auth/logout", tok, nil, "", nil); code != 200 {
			t.Fatalf("logout with Redis down = %d", code)
		}
		waitStatus(t, c, bases[1], "/api/v1/auth/me", tok, 401, hangGuard)

		redis.Start()
		for _, b := range bases {
			waitStatus(t, admin, b, "/api/v1/health", "", http.StatusOK, hangGuard)
		}
		sharedAuthLimit(t, "127.0.5.1")
	})
}
