package auth

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

var apiKeyRE = regexp.MustCompile(`^tldw_[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$`)

func TestNewAPIKey(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		id, secret, full, err := NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		if !apiKeyRE.MatchString(full) || full != "tldw_"+id+"."+secret {
			t.Fatalf("key %q (id %q secret %q) has the wrong shape", full, id, secret)
		}
		raw, err := base64.RawURLEncoding.DecodeString(secret)
		if err != nil || len(raw) != 32 {
			t.Fatalf("secret %q is not base64url of 32 bytes", secret)
		}
		pid, psecret, ok := ParseAPIKey(full)
		if !ok || pid != id || psecret != secret {
			t.Fatalf("ParseAPIKey(%q) = %q, %q, %v", full, pid, psecret, ok)
		}
		if seen[id] || seen[secret] {
			t.Fatal("repeated id or secret")
		}
		seen[id], seen[secret] = true, true
	}
}

func TestParseAPIKeyMalformed(t *testing.T) {
	_, secret, good, _ := NewAPIKey()
	id := good[5:17]
	// A secret whose last character carries non-zero padding bits decodes
	// leniently elsewhere; strict parsing refuses it.
	nonCanonical := secret[:42] + "B"
	if secret[42] == 'B' {
		nonCanonical = secret[:42] + "C"
	}
	cases := map[string]string{
		"empty":             "",
		"prefix only":       "tldw_",
		"no prefix":         id + "." + secret,
		"wrong prefix":      "tldx_" + id + "." + secret,
		"upper prefix":      "TLDW_" + id + "." + secret,
		"upper hex id":      "tldw_" + strings.ToUpper(id[:1]) + "ABCDEF12345"[:11] + "." + secret,
		"non-hex id":        "tldw_" + "g" + id[1:] + "." + secret,
		"short id":          "tldw_" + id[:11] + "." + secret + "A",
		"long id":           "tldw_" + id + "a." + secret[:42],
		"no dot":            "tldw_" + id + "_" + secret,
		"two dots":          "tldw_" + id + "." + secret[:20] + "." + secret[21:],
		"short secret":      "tldw_" + id + "." + secret[:42],
		"long secret":       good + "A",
		"padded secret":     "tldw_" + id + "." + secret[:42] + "=",
		"std base64 plus":   "tldw_" + id + "." + "+" + secret[1:],
		"std base64 slash":  "tldw_" + id + "." + "/" + secret[1:],
		"space inside":      "tldw_" + id + "." + " " + secret[1:],
		"leading space":     " " + good[:len(good)-1],
		"trailing newline":  good[:len(good)-1] + "\n",
		"non-canonical":     "tldw_" + id + "." + nonCanonical,
		"huge":              "tldw_" + strings.Repeat("a", 1<<20),
		"jwt-looking":       "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
		"unicode":           "tldw_" + id + "." + "é" + secret[2:],
		"null byte":         "tldw_" + id + "." + "\x00" + secret[1:],
		"single-user style": "CHANGE_ME_TO_SECURE_API_KEY_0123456789abcdef0123456789abcdef",
	}
	for name, s := range cases {
		if gotID, gotSecret, ok := ParseAPIKey(s); ok || gotID != "" || gotSecret != "" {
			t.Errorf("%s: ParseAPIKey(%q) = %q, %q, %v; want rejection", name, s, gotID, gotSecret, ok)
		}
	}
}

func TestHashAPIKeySecret(t *testing.T) {
	// RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?").
	if got := HashAPIKeySecret([]byte("Jefe"), "what do ya want for nothing?"); got != "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Fatalf("HMAC vector mismatch: %s", got)
	}
	a := HashAPIKeySecret([]byte("pepper-1"), "secret")
	if a != HashAPIKeySecret([]byte("pepper-1"), "secret") {
		t.Fatal("not deterministic")
	}
	if a == HashAPIKeySecret([]byte("pepper-2"), "secret") || a == HashAPIKeySecret([]byte("pepper-1"), "secreT") {
		t.Fatal("hash ignores pepper or secret")
	}
}

func TestCompareHash(t *testing.T) {
	h := HashToken("x")
	cases := []struct {
		a, b string
		want bool
	}{
		{h, h, true},
		{h, HashToken("y"), false},
		{h, h[:63], false},
		{h, strings.ToUpper(h), false},
		{"", "", false},
		{h, "", false},
		{"", h, false},
	}
	for _, c := range cases {
		if got := CompareHash(c.a, c.b); got != c.want {
			t.Errorf("CompareHash(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
