package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const testAdminPassword = "Corr3ct-Horse-Battery"

// call sends one request to the test server and decodes a JSON answer into out (if not nil).
func call(t *testing.T, method, u, token, contentType, body string, out any) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "e2e-test")
	resp, err := http.DefaultClient.Do(req)
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
	return resp.StatusCode, resp.Header
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func formLogin(t *testing.T, base, user, pw string) (int, tokens) {
	t.Helper()
	var tok tokens
	code, _ := call(t, "POST", base+"/api/v1/auth/login", "", "application/x-www-form-urlencoded",
		url.Values{"username": {user}, "password": {pw}}.Encode(), &tok)
	return code, tok
}

// TestAccountsEndToEnd drives the real server on SQLite and PostgreSQL through the account
// life cycle a tldw client goes through, and checks the audit trail it leaves.
func TestAccountsEndToEnd(t *testing.T) {
	for name, dbURL := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "" },
		"postgres": func(t *testing.T) string { return postgresURL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			auditFile := filepath.Join(dir, "audit.log")
			env := map[string]string{
				"TLDW_DATA_DIR": dir, "TLDW_ADMIN_USERNAME": "admin", "TLDW_ADMIN_EMAIL": "admin@example.com",
				"TLDW_ADMIN_PASSWORD": testAdminPassword, "AUDIT_LOG_FILE": auditFile, "ENABLE_REGISTRATION": "true",
				"AUTH_RATE_LIMIT": "60/minute", // the life cycle below makes more than 5 auth calls
			}
			if u := dbURL(t); u != "" {
				env["DATABASE_URL"] = u
			}
			s := startServer(t, env)
			base := s.url

			code, tok := formLogin(t, base, "admin", testAdminPassword)
			if code != 200 || tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "bearer" || tok.ExpiresIn != 1800 {
				t.Fatalf("admin login = %d %+v", code, tok)
			}
			var me map[string]any
			if code, _ := call(t, "GET", base+"/api/v1/auth/me", tok.AccessToken, "", "", &me); code != 200 || me["username"] != "admin" || me["role"] != "admin" {
				t.Fatalf("me = %d %v", code, me)
			}
			if _, ok := me["password_hash"]; ok {
				t.Error("me exposes password_hash")
			}

			// A registration code lets a new user in; the code is single-use.
			var codes any
			code, _ = call(t, "POST", base+"/api/v1/admin/registration-codes", tok.AccessToken, "application/json", `{"max_uses":1,"expiry_days":1,"role_to_grant":"user"}`, &codes)
			if code != 200 && code != 201 {
				t.Fatalf("create code = %d %v", code, codes)
			}
			regCode := findString(codes, "code")
			if len(regCode) != 24 {
				t.Fatalf("code %q from %v", regCode, codes)
			}
			body := `{"username":"alice","email":"alice@example.com","password":"Un1que-Passphrase!","registration_code":"` + regCode + `"}`
			var regErr map[string]any
			if code, _ := call(t, "POST", base+"/api/v1/auth/register", "", "application/json", body, &regErr); code != 200 && code != 201 {
				t.Fatalf("register = %d %v", code, regErr)
			}
			body2 := strings.Replace(strings.Replace(body, "alice", "bob", 2), "alice@", "bob@", 1)
			if code, _ := call(t, "POST", base+"/api/v1/auth/register", "", "application/json", body2, nil); code != 400 && code != 403 {
				t.Errorf("second use of a single-use code = %d", code)
			}

			// Wrong passwords: same answer for an unknown user; both audited for fail2ban.
			var e1, e2 map[string]any
			c1, _ := call(t, "POST", base+"/api/v1/auth/login", "", "application/x-www-form-urlencoded", "username=alice&password=wrong-password", &e1)
			c2, _ := call(t, "POST", base+"/api/v1/auth/login", "", "application/x-www-form-urlencoded", "username=nobody&password=wrong-password", &e2)
			if c1 != 401 || c2 != 401 || e1["detail"] != e2["detail"] {
				t.Errorf("wrong password %d %v vs unknown user %d %v", c1, e1, c2, e2)
			}

			// Refresh rotates; logout ends the session on the next request.
			_, alice := formLogin(t, base, "alice", "Un1que-Passphrase!")
			var next tokens
			if code, _ := call(t, "POST", base+"/api/v1/auth/refresh", "", "application/json", `{"refresh_token":"`+alice.RefreshToken+`"}`, &next); code != 200 || next.RefreshToken == alice.RefreshToken {
				t.Fatalf("refresh = %d %+v", code, next)
			}
			if code, _ := call(t, "POST", base+"/api/v1/auth/logout", next.AccessToken, "", "", nil); code != 200 {
				t.Errorf("logout = %d", code)
			}
			if code, _ := call(t, "GET", base+"/api/v1/auth/me", next.AccessToken, "", "", nil); code != 401 {
				t.Errorf("token after logout = %d", code)
			}
			// A user is not an admin.
			_, alice = formLogin(t, base, "alice", "Un1que-Passphrase!")
			if code, _ := call(t, "GET", base+"/api/v1/admin/users", alice.AccessToken, "", "", nil); code != 403 {
				t.Errorf("user on admin route = %d", code)
			}

			// The audit API sees the failures; the chain verifies.
			var log struct {
				Entries []map[string]any `json:"entries"`
				Total   int              `json:"total"`
			}
			if code, _ := call(t, "GET", base+"/api/v1/admin/audit-log?action=login_failed&days=7", tok.AccessToken, "", "", &log); code != 200 || log.Total != 2 {
				t.Errorf("audit query = %d total %d", code, log.Total)
			}
			var rep map[string]any
			if code, _ := call(t, "GET", base+"/api/v1/admin/audit-log/verify", tok.AccessToken, "", "", &rep); code != 200 || rep["ok"] != true {
				t.Errorf("audit verify = %d %v", code, rep)
			}
			checkFail2ban(t, auditFile, 2)
		})
	}
}

// checkFail2ban runs fail2ban-regex with the deployment guide's filter over the audit file
// and expects exactly want matched lines.
func checkFail2ban(t *testing.T, file string, want int) {
	t.Helper()
	bin, err := exec.LookPath("fail2ban-regex")
	if err != nil {
		if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
			t.Fatal("fail2ban-regex not installed")
		}
		t.Log("fail2ban-regex not installed; skipping the fail2ban check")
		return
	}
	out, err := exec.Command(bin, file, "deploy/fail2ban/tldw-auth.conf").CombinedOutput()
	if err != nil {
		t.Fatalf("fail2ban-regex: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Lines: \d+ lines, \d+ ignored, (\d+) matched`).FindSubmatch(out)
	if m == nil || string(m[1]) != itoa(want) {
		f, _ := os.Open(file)
		defer f.Close()
		sc := bufio.NewScanner(f)
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		t.Errorf("fail2ban matched %s, want %d\n%s\naudit file:\n%s", m, want, out, strings.Join(lines, "\n"))
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// findString returns the first string value stored under key anywhere in v.
func findString(v any, key string) string {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x[key].(string); ok {
			return s
		}
		for _, y := range x {
			if s := findString(y, key); s != "" {
				return s
			}
		}
	case []any:
		for _, y := range x {
			if s := findString(y, key); s != "" {
				return s
			}
		}
	}
	return ""
}
