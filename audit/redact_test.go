package audit_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tldw-go/tldw/audit"
)

func TestRedactRemovesSecrets(t *testing.T) {
	secrets := []string{
		"hunter2", "sk-live-1", "rt-secret-2", "cookie-val", "s3cr3t", "otp-123456",
		"argon-hash", "pw-in-struct", "code-ABCDEF", "basic-creds", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
		"qtoken99", "dbpass77",
	}
	type login struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	e := audit.Event{
		Action:    audit.LoginFailed,
		Username:  "alice",
		Error:     "bad token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl for alice",
		Path:      "/api/v1/audio/stream/transcribe?token=qtoken99&lang=en",
		UserAgent: "agent password=hunter2",
		Details: map[string]any{
			"Password":      "hunter2",
			"token_type":    "refresh",
			"key_id":        "k1",
			"password_hash": "argon-hash",
			"mfa_otp":       "otp-123456",
			"nested": map[string]any{
				"API-Key":  "sk-live-1",
				"list":     []any{map[string]any{"refresh_token": "rt-secret-2"}, "plain"},
				"Cookie":   "cookie-val",
				"dsn":      "postgres://tldw:dbpass77@db/tldw",
				"harmless": 5,
			},
			"client_secret":     []any{"s3cr3t"},
			"body":              login{User: "alice", Password: "pw-in-struct"},
			"registration_code": "code-ABCDEF",
			"headers":           map[string]string{"Authorization": "Basic basic-creds", "Accept": "json"},
			"password_changed":  true,
			"reason":            "bad_password",
		},
	}
	orig := fmt.Sprintf("%#v", e)
	r := audit.Redact(e)

	for _, format := range []string{"%v", "%+v", "%#v"} {
		out := fmt.Sprintf(format, r)
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("secret %q survives in %s of the redacted event: %s", s, format, out)
			}
		}
	}
	line, _ := audit.FormatJSON(r)
	text := audit.FormatText(r)
	for _, s := range secrets {
		if strings.Contains(string(line), s) || strings.Contains(text, s) {
			t.Errorf("secret %q survives in a log line", s)
		}
	}
	if got := fmt.Sprintf("%#v", e); got != orig {
		t.Errorf("Redact modified its argument")
	}
	// Harmless detail survives.
	d := r.Details
	for k, want := range map[string]any{
		"token_type": "refresh", "key_id": "k1", "password_changed": true, "reason": "bad_password",
		"Password": audit.Redacted, "password_hash": audit.Redacted, "mfa_otp": audit.Redacted,
	} {
		if d[k] != want {
			t.Errorf("Details[%q] = %#v, want %#v", k, d[k], want)
		}
	}
	nested := d["nested"].(map[string]any)
	if nested["harmless"] != 5 || nested["API-Key"] != audit.Redacted {
		t.Errorf("nested = %#v", nested)
	}
	if got := nested["dsn"]; got != "postgres://tldw:[REDACTED]@db/tldw" {
		t.Errorf("dsn = %q", got)
	}
	if got := d["body"].(map[string]any)["user"]; got != "alice" {
		t.Errorf("struct field user = %#v, want alice", got)
	}
	if got := d["headers"].(map[string]any)["Accept"]; got != "json" {
		t.Errorf("headers.Accept = %#v", got)
	}
	if r.Path != "/api/v1/audio/stream/transcribe?token=[REDACTED]&lang=en" {
		t.Errorf("Path = %q", r.Path)
	}
	if r.Error != "bad token [REDACTED] for alice" {
		t.Errorf("Error = %q", r.Error)
	}
}

func TestScrubFreeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Authorization: Bearer abc.def-ghi", "Authorization: Bearer [REDACTED]"},
		{"basic dXNlcjpwYXNz failed", "basic [REDACTED] failed"},
		{`{"password":"p@ss w0rd","user":"x"}`, `{"password":"[REDACTED]","user":"x"}`},
		{"api_key=abcd1234&x=1", "api_key=[REDACTED]&x=1"},
		{"X-API-KEY: k-123", "X-API-KEY: [REDACTED]"},
		{"redis://:pw@localhost:6379/0", "redis://:[REDACTED]@localhost:6379/0"},
		{`password='a b'`, `password='[REDACTED]'`},
		{"nothing secret here", "nothing secret here"},
		{"keyword=video", "keyword=video"},
	}
	for _, tt := range tests {
		got := audit.Redact(audit.Event{Error: tt.in}).Error
		if got != tt.want {
			t.Errorf("scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSensitiveKey(t *testing.T) {
	for k, want := range map[string]bool{
		"password": true, "NEW_PASSWORD": true, "passwd": true, "X-Api-Key": true, "api_key": true,
		"access_token": true, "refresh-token": true, "id_token": true, "client_secret": true,
		"Authorization": true, "set-cookie": true, "credentials": true, "token_hash": true,
		"key_hash": true, "totp": true, "pin": true, "private_key": true, "csrf": true,
		"registration_code": true, "backup_codes": true,
		"token_type": false, "key_id": false, "key_prefix": false, "session_id": false,
		"password_changed_at": false, "username": false, "keyword": false, "keywords": false,
		"reason": false, "role": false, "token_count": false, "api_key_name": false, "key": false,
	} {
		if got := audit.SensitiveKey(k); got != want {
			t.Errorf("SensitiveKey(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestRedactSanitizes(t *testing.T) {
	deep := map[string]any{}
	cur := deep
	for range 40 {
		next := map[string]any{}
		cur["d"] = next
		cur = next
	}
	zone := time.FixedZone("X", -5*3600)
	e := audit.Redact(audit.Event{
		Time:     time.Date(2026, 1, 2, 3, 4, 5, 999999999, zone),
		Action:   " AUTH.LOGIN.FAILURE ",
		Username: "bad\xff\x00name",
		IP:       "::ffff:203.0.113.7",
		Error:    strings.Repeat("é", audit.MaxFieldLen),
		Details: map[string]any{
			"deep": deep, "nan": math.NaN(), "when": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
			"raw": json.RawMessage(`{"secret":"x","n":1.50}`), "f32": float32(0.5),
		},
	})
	if want := time.Date(2026, 1, 2, 8, 4, 5, 999999000, time.UTC); !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want %v UTC", e.Time, want)
	}
	if e.Action != audit.LoginFailed {
		t.Errorf("Action = %q", e.Action)
	}
	if e.Username != "bad\uFFFD\uFFFDname" {
		t.Errorf("Username = %q", e.Username)
	}
	if e.IP != "203.0.113.7" {
		t.Errorf("IP = %q", e.IP)
	}
	if len(e.Error) > audit.MaxFieldLen || !utf8.ValidString(e.Error) || !strings.HasSuffix(e.Error, "…[truncated]") {
		t.Errorf("Error not capped: len %d, valid %v, suffix %q", len(e.Error), utf8.ValidString(e.Error), e.Error[len(e.Error)-20:])
	}
	if again := audit.Redact(e); again.Error != e.Error {
		t.Errorf("second Redact changed a truncated field")
	}
	if e.Details["nan"] != "NaN" || e.Details["when"] != "2026-01-02T00:00:00Z" || e.Details["f32"] != 0.5 {
		t.Errorf("converted values = %#v %#v %#v", e.Details["nan"], e.Details["when"], e.Details["f32"])
	}
	raw := e.Details["raw"].(map[string]any)
	if raw["secret"] != audit.Redacted || raw["n"] != json.Number("1.50") {
		t.Errorf("raw = %#v", raw)
	}
	if _, err := json.Marshal(e.Details); err != nil {
		t.Errorf("redacted details do not encode as JSON: %v", err)
	}
	depth := 0
	for v := any(e.Details["deep"]); ; depth++ {
		m, ok := v.(map[string]any)
		if !ok {
			if v != "[TRUNCATED]" {
				t.Errorf("deep leaf = %#v", v)
			}
			break
		}
		v = m["d"]
	}
	if depth > 20 {
		t.Errorf("Details kept %d levels", depth)
	}
	if got := audit.Redact(audit.Event{Details: map[string]any{}}).Details; got != nil {
		t.Errorf("empty Details = %#v, want nil", got)
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1":                "'+1",
		"-2+3":              "'-2+3",
		"@SUM(A1)":          "'@SUM(A1)",
		"\tx":               "'\tx",
		"\rx":               "'\rx",
		"alice":             "alice",
		"":                  "",
		"a=b":               "a=b",
	} {
		if got := audit.CSVSafe(in); got != want {
			t.Errorf("CSVSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
