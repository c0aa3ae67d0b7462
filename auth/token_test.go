package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef-current")
	testSecret2 = []byte("0123456789abcdef0123456789abcdef-previous")
	testSecret3 = []byte("0123456789abcdef0123456789abcdef-unrelated")
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func pemPriv(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pemPub(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// testKey is one signing key of some algorithm, with its KeyConfig.
type testKey struct {
	alg  string
	priv any // []byte for HS256
	pub  any
}

func newTestKey(t testing.TB, alg string) testKey {
	t.Helper()
	switch alg {
	case "HS256":
		b := make([]byte, 32)
		rand.Read(b)
		return testKey{alg: alg, priv: b, pub: b}
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return testKey{alg: alg, priv: k, pub: &k.PublicKey}
	case "ES256":
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return testKey{alg: alg, priv: k, pub: &k.PublicKey}
	case "EdDSA":
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		return testKey{alg: alg, priv: priv, pub: pub}
	}
	t.Fatalf("unknown alg %s", alg)
	return testKey{}
}

func (k testKey) config(t testing.TB) KeyConfig {
	if k.alg == "HS256" {
		return KeyConfig{Algorithm: k.alg, Secret: k.priv.([]byte)}
	}
	return KeyConfig{Algorithm: k.alg, PrivateKeyPEM: pemPriv(t, k.priv), PublicKeyPEM: pemPub(t, k.pub)}
}

func (k testKey) pubPEM(t testing.TB) []byte {
	if k.alg == "HS256" {
		return k.priv.([]byte)
	}
	return pemPub(t, k.pub)
}

func mustTokens(t testing.TB, k KeyConfig, c *clock) *Tokens {
	t.Helper()
	if c != nil {
		k.Now = c.Now
	}
	tk, err := NewTokens(k)
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	return tk
}

var b64url = base64.RawURLEncoding

// forge builds a compact JWS by hand, so tests control every header and
// claim. alg is the header alg; key signs it with the algorithm named by
// signAs ("" for no signature).
func forge(t testing.TB, header, claims map[string]any, signAs string, key any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := b64url.EncodeToString(hb) + "." + b64url.EncodeToString(cb)
	var sig []byte
	switch signAs {
	case "":
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "HS384":
		m := hmac.New(sha512.New384, key.([]byte))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "RS256":
		d := sha256.Sum256([]byte(input))
		s, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = s
	case "ES256":
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "EdDSA":
		sig = ed25519.Sign(key.(ed25519.PrivateKey), []byte(input))
	default:
		t.Fatalf("forge: unknown alg %s", signAs)
	}
	return input + "." + b64url.EncodeToString(sig)
}

func baseClaims() map[string]any {
	return map[string]any{
		"sub": "42", "username": "alice", "role": "user", "session_id": 7, "sid": 7,
		"jti": "6f1c0a34-1d8e-4c1b-9d8e-0f0e1d2c3b4a", "type": "access",
		"iat": testNow.Unix(), "nbf": testNow.Unix(), "exp": testNow.Add(15 * time.Minute).Unix(),
		"iss": DefaultIssuer, "aud": DefaultAudience,
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestTokensRoundTrip(t *testing.T) {
	for _, alg := range []string{"HS256", "RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			clk := &clock{testNow}
			tk := mustTokens(t, newTestKey(t, alg).config(t), clk)
			tok, issued, err := tk.Issue(Claims{UserID: 42, Username: "alice", Role: "user", SessionID: 7, Type: AccessToken}, 30*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if issued.Subject != "42" || issued.ID == "" || !issued.IssuedAt.Equal(testNow) || !issued.Expiry.Equal(testNow.Add(30*time.Minute)) ||
				issued.Issuer != DefaultIssuer || len(issued.Audience) != 1 || issued.Audience[0] != DefaultAudience {
				t.Fatalf("issued claims %+v", issued)
			}
			got, err := tk.Verify(tok, AccessToken)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != issued.Subject || got.UserID != 42 || got.Username != "alice" || got.Role != "user" ||
				got.SessionID != 7 || got.ID != issued.ID || got.Type != AccessToken || !got.Expiry.Equal(issued.Expiry) ||
				!got.IssuedAt.Equal(issued.IssuedAt) || !got.NotBefore.Equal(issued.NotBefore) || got.Issuer != issued.Issuer ||
				strings.Join(got.Audience, ",") != DefaultAudience {
				t.Fatalf("Verify claims %+v, issued %+v", got, issued)
			}
			// Header: pinned alg, our kid, distinct typ.
			parts := strings.Split(tok, ".")
			hb, _ := b64url.DecodeString(parts[0])
			var hdr map[string]any
			json.Unmarshal(hb, &hdr)
			if hdr["alg"] != alg || hdr["typ"] != "at+jwt" || hdr["kid"] != tk.keys[0].kid || len(tk.keys[0].kid) != 16 {
				t.Fatalf("header %v", hdr)
			}
			// Wire claims are tldw_server-compatible.
			cb, _ := b64url.DecodeString(parts[1])
			var wire map[string]any
			json.Unmarshal(cb, &wire)
			for _, k := range []string{"sub", "username", "role", "session_id", "sid", "jti", "type", "iat", "nbf", "exp", "iss", "aud"} {
				if _, ok := wire[k]; !ok {
					t.Errorf("claim %q missing from %s", k, cb)
				}
			}
			if wire["sub"] != "42" || wire["type"] != "access" || wire["session_id"] != float64(7) {
				t.Errorf("wire claims %s", cb)
			}
		})
	}
}

func TestTokenKindsAreDistinct(t *testing.T) {
	tk := mustTokens(t, KeyConfig{Secret: testSecret}, &clock{testNow})
	kinds := []TokenType{AccessToken, RefreshToken, ServiceToken, ResetToken, VerifyToken}
	typ := map[TokenType]string{AccessToken: "at+jwt", RefreshToken: "refresh+jwt", ServiceToken: "service+jwt", ResetToken: "reset+jwt", VerifyToken: "verification+jwt"}
	for _, issued := range kinds {
		tok, _, err := tk.Issue(Claims{Subject: "service:indexer", Type: issued}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := b64url.DecodeString(strings.Split(tok, ".")[0])
		if !strings.Contains(string(hb), `"typ":"`+typ[issued]+`"`) {
			t.Errorf("%s token header %s lacks typ %s", issued, hb, typ[issued])
		}
		for _, want := range kinds {
			c, err := tk.Verify(tok, want)
			if issued == want {
				if err != nil || c.Type != want || c.UserID != 0 || c.Subject != "service:indexer" {
					t.Errorf("%s token as %s: %+v, %v", issued, want, c, err)
				}
			} else if !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("%s token accepted as %s", issued, want)
			}
		}
	}
}

// TestVerifyRejects feeds hand-made tokens to an HS256 verifier.
func TestVerifyRejects(t *testing.T) {
	clk := &clock{testNow}
	tk := mustTokens(t, KeyConfig{Secret: testSecret, Previous: [][]byte{testSecret2}}, clk)
	kid, prevKid := hsKid(testSecret), hsKid(testSecret2)
	hdr := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}
	c := baseClaims()
	valid := forge(t, hdr, c, "HS256", testSecret)
	vparts := strings.Split(valid, ".")
	tampered := forge(t, hdr, with(c, "role", "admin"), "HS256", testSecret)
	tparts := strings.Split(tampered, ".")

	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid (sanity)", valid, true},
		{"no kid uses current key", forge(t, with(hdr, "kid", nil), c, "HS256", testSecret), true},
		{"previous key by kid", forge(t, with(hdr, "kid", prevKid), c, "HS256", testSecret2), true},
		{"previous key without kid", forge(t, with(hdr, "kid", nil), c, "HS256", testSecret2), true},
		{"unrelated key", forge(t, with(hdr, "kid", nil), c, "HS256", testSecret3), false},
		{"unrelated key with our kid", forge(t, hdr, c, "HS256", testSecret3), false},
		{"previous kid, current key", forge(t, with(hdr, "kid", prevKid), c, "HS256", testSecret), false},
		{"alg none", forge(t, with(hdr, "alg", "none"), c, "", nil), false},
		{"alg None", forge(t, with(hdr, "alg", "None"), c, "", nil), false},
		{"alg none with hmac", forge(t, with(hdr, "alg", "none"), c, "HS256", testSecret), false},
		{"alg missing", forge(t, with(hdr, "alg", nil), c, "HS256", testSecret), false},
		{"alg HS384", forge(t, with(hdr, "alg", "HS384"), c, "HS384", append(append([]byte{}, testSecret...), testSecret...)), false},
		{"empty signature", forge(t, hdr, c, "", nil), false},
		{"unknown kid", forge(t, with(hdr, "kid", "deadbeefdeadbeef"), c, "HS256", testSecret), false},
		{"kid path traversal", forge(t, with(hdr, "kid", "../../../../dev/null"), c, "HS256", testSecret), false},
		{"kid sql", forge(t, with(hdr, "kid", "x' UNION SELECT 'secret"), c, "HS256", testSecret), false},
		{"kid not a string", forge(t, with(hdr, "kid", 5), c, "HS256", testSecret), false},
		{"tampered payload", vparts[0] + "." + tparts[1] + "." + vparts[2], false},
		{"tampered signature", vparts[0] + "." + vparts[1] + "." + flip(vparts[2]), false},
		{"tampered header", b64url.EncodeToString([]byte(`{"alg":"HS256","typ":"at+jwt","kid":"`+kid+`","x":1}`)) + "." + vparts[1] + "." + vparts[2], false},
		{"expired beyond leeway", forge(t, hdr, with(c, "exp", testNow.Add(-31*time.Second).Unix()), "HS256", testSecret), false},
		{"expired within leeway", forge(t, hdr, with(c, "exp", testNow.Add(-29*time.Second).Unix()), "HS256", testSecret), true},
		{"exp missing", forge(t, hdr, with(c, "exp", nil), "HS256", testSecret), false},
		{"exp string", forge(t, hdr, with(c, "exp", "9999999999"), "HS256", testSecret), false},
		{"exp negative", forge(t, hdr, with(c, "exp", -1), "HS256", testSecret), false},
		{"exp absurd", forge(t, hdr, with(c, "exp", 1e300), "HS256", testSecret), false},
		{"exp fractional", forge(t, hdr, with(c, "exp", float64(testNow.Unix())+600.5), "HS256", testSecret), true},
		{"nbf future", forge(t, hdr, with(c, "nbf", testNow.Add(time.Minute).Unix()), "HS256", testSecret), false},
		{"nbf within leeway", forge(t, hdr, with(c, "nbf", testNow.Add(20*time.Second).Unix()), "HS256", testSecret), true},
		{"nbf missing", forge(t, hdr, with(c, "nbf", nil), "HS256", testSecret), true},
		{"iat future", forge(t, hdr, with(c, "iat", testNow.Add(time.Minute).Unix()), "HS256", testSecret), false},
		{"iat within leeway", forge(t, hdr, with(c, "iat", testNow.Add(20*time.Second).Unix()), "HS256", testSecret), true},
		{"iss wrong", forge(t, hdr, with(c, "iss", "evil"), "HS256", testSecret), false},
		{"iss case", forge(t, hdr, with(c, "iss", "TLDW"), "HS256", testSecret), false},
		{"iss missing", forge(t, hdr, with(c, "iss", nil), "HS256", testSecret), false},
		{"iss number", forge(t, hdr, with(c, "iss", 1), "HS256", testSecret), false},
		{"aud wrong", forge(t, hdr, with(c, "aud", "other-api"), "HS256", testSecret), false},
		{"aud missing", forge(t, hdr, with(c, "aud", nil), "HS256", testSecret), false},
		{"aud empty string", forge(t, hdr, with(c, "aud", ""), "HS256", testSecret), false},
		{"aud empty array", forge(t, hdr, with(c, "aud", []string{}), "HS256", testSecret), false},
		{"aud array without ours", forge(t, hdr, with(c, "aud", []string{"a", "b"}), "HS256", testSecret), false},
		{"aud array with ours", forge(t, hdr, with(c, "aud", []string{"a", DefaultAudience}), "HS256", testSecret), true},
		{"aud number", forge(t, hdr, with(c, "aud", 5), "HS256", testSecret), false},
		{"aud object", forge(t, hdr, with(c, "aud", map[string]any{DefaultAudience: true}), "HS256", testSecret), false},
		{"aud mixed array", forge(t, hdr, with(c, "aud", []any{DefaultAudience, 5}), "HS256", testSecret), false},
		{"aud prefix", forge(t, hdr, with(c, "aud", DefaultAudience+"x"), "HS256", testSecret), false},
		{"type refresh", forge(t, hdr, with(c, "type", "refresh"), "HS256", testSecret), false},
		{"type missing", forge(t, hdr, with(c, "type", nil), "HS256", testSecret), false},
		{"typ refresh", forge(t, with(hdr, "typ", "refresh+jwt"), c, "HS256", testSecret), false},
		{"typ JWT", forge(t, with(hdr, "typ", "JWT"), c, "HS256", testSecret), false},
		{"typ missing", forge(t, with(hdr, "typ", nil), c, "HS256", testSecret), false},
		{"typ application/at+jwt", forge(t, with(hdr, "typ", "application/at+jwt"), c, "HS256", testSecret), true},
		{"sub missing", forge(t, hdr, with(c, "sub", nil), "HS256", testSecret), false},
		{"sub number", forge(t, hdr, with(c, "sub", 42), "HS256", testSecret), false},
		{"jti missing", forge(t, hdr, with(c, "jti", nil), "HS256", testSecret), false},
		{"session ids disagree", forge(t, hdr, with(c, "sid", 8), "HS256", testSecret), false},
		{"claims not JSON", vparts[0] + "." + b64url.EncodeToString([]byte("not json")) + "." + vparts[2], false},
		{"empty", "", false},
		{"two parts", vparts[0] + "." + vparts[1], false},
		{"four parts", valid + ".x", false},
		{"bad base64", "!!!." + vparts[1] + "." + vparts[2], false},
		{"JSON serialisation", `{"payload":"` + vparts[1] + `","protected":"` + vparts[0] + `","signature":"` + vparts[2] + `"}`, false},
		{"whitespace", " " + valid, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tk.Verify(tc.token, AccessToken)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.Subject != "42" || got.UserID != 42 {
					t.Fatalf("claims %+v", got)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Verify = %+v, %v; want ErrUnauthenticated", got, err)
			}
			if got.Subject != "" || got.ID != "" {
				t.Fatalf("rejected token returned claims %+v", got)
			}
		})
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestVerifyExpiredIsErrExpired(t *testing.T) {
	clk := &clock{testNow}
	tk := mustTokens(t, KeyConfig{Secret: testSecret, Leeway: 10 * time.Second}, clk)
	tok, _, _ := tk.Issue(Claims{UserID: 1, Type: AccessToken}, time.Minute)
	clk.t = testNow.Add(time.Minute + 9*time.Second)
	if _, err := tk.Verify(tok, AccessToken); err != nil {
		t.Fatalf("within configured leeway: %v", err)
	}
	clk.t = testNow.Add(time.Minute + 10*time.Second)
	_, err := tk.Verify(tok, AccessToken)
	if !errors.Is(err, ErrUnauthenticated) || !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: err = %v, want ErrUnauthenticated and ErrExpired", err)
	}
	// Issued "in the future" relative to a verifier whose clock lags.
	clk.t = testNow.Add(-11 * time.Second)
	if _, err := tk.Verify(tok, AccessToken); !errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrExpired) {
		t.Fatalf("nbf/iat in the future: err = %v", err)
	}
}

func TestVerifyOversize(t *testing.T) {
	tk := mustTokens(t, KeyConfig{Secret: testSecret}, &clock{testNow})
	huge := strings.Repeat("A", 4<<20) + "." + strings.Repeat("A", 10) + ".A"
	_, err := tk.Verify(huge, AccessToken)
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("oversize token: err = %v, want a 'too large' refusal before parsing", err)
	}
	// A token padded just over the limit with a valid structure is refused too.
	big := forge(t, map[string]any{"alg": "HS256", "typ": "at+jwt"}, with(baseClaims(), "pad", strings.Repeat("x", MaxTokenBytes)), "HS256", testSecret)
	if _, err := tk.Verify(big, AccessToken); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("big signed token: err = %v", err)
	}
}

func TestVerifyAsymmetricConfusion(t *testing.T) {
	rsKey := newTestKey(t, "RS256")
	esKey := newTestKey(t, "ES256")
	edKey := newTestKey(t, "EdDSA")
	clk := &clock{testNow}
	rs := mustTokens(t, rsKey.config(t), clk)
	hdr := map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": rs.keys[0].kid}
	c := baseClaims()

	if _, err := rs.Verify(forge(t, hdr, c, "RS256", rsKey.priv), AccessToken); err != nil {
		t.Fatalf("sanity: hand-made RS256 token refused: %v", err)
	}
	pubPEM := pemPub(t, rsKey.pub)
	der, _ := x509.MarshalPKIXPublicKey(rsKey.pub)
	attacks := map[string]string{
		// The classic: HS256 keyed with the public key the server publishes.
		"HS256 with public PEM":    forge(t, with(hdr, "alg", "HS256"), c, "HS256", pubPEM),
		"HS256 with public DER":    forge(t, with(hdr, "alg", "HS256"), c, "HS256", der),
		"HS256 no kid":             forge(t, map[string]any{"alg": "HS256", "typ": "at+jwt"}, c, "HS256", pubPEM),
		"alg none":                 forge(t, with(hdr, "alg", "none"), c, "", nil),
		"ES256 key":                forge(t, with(hdr, "alg", "ES256"), c, "ES256", esKey.priv),
		"EdDSA key":                forge(t, with(hdr, "alg", "EdDSA"), c, "EdDSA", edKey.priv),
		"RS256 by another key":     forge(t, with(hdr, "kid", nil), c, "RS256", newTestKey(t, "RS256").priv),
		"RS256 other key, our kid": forge(t, hdr, c, "RS256", newTestKey(t, "RS256").priv),
	}
	// Embedded attacker key: the verifier must not use it.
	attacker := newTestKey(t, "RS256")
	jwk := jose.JSONWebKey{Key: attacker.pub, Algorithm: "RS256"}
	jwkJSON, _ := jwk.MarshalJSON()
	var jwkMap map[string]any
	json.Unmarshal(jwkJSON, &jwkMap)
	attacks["embedded jwk"] = forge(t, with(hdr, "kid", nil, "jwk", jwkMap), c, "RS256", attacker.priv)
	for name, tok := range attacks {
		if _, err := rs.Verify(tok, AccessToken); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: accepted (err = %v)", name, err)
		}
	}

	// And an HS256 verifier refuses asymmetric algorithms.
	hs := mustTokens(t, KeyConfig{Secret: testSecret}, clk)
	if _, err := hs.Verify(forge(t, with(hdr, "kid", nil), c, "RS256", rsKey.priv), AccessToken); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("HS256 verifier accepted RS256 token")
	}
}

func TestVerifyIgnoresKeyURLHeaders(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer srv.Close()

	key := newTestKey(t, "ES256")
	attacker := newTestKey(t, "ES256")
	tk := mustTokens(t, key.config(t), &clock{testNow})
	c := baseClaims()
	for _, h := range []string{"jku", "x5u"} {
		hdr := map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": tk.keys[0].kid, h: srv.URL + "/jwks.json"}
		if _, err := tk.Verify(forge(t, hdr, c, "ES256", key.priv), AccessToken); err != nil {
			t.Errorf("%s header on a token signed by our key: %v (should be ignored)", h, err)
		}
		noKid := with(hdr, "kid", nil)
		if _, err := tk.Verify(forge(t, noKid, c, "ES256", attacker.priv), AccessToken); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s header with attacker key accepted", h)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("verifier fetched a key URL %d times", n)
	}
}

func TestPreviousKeys(t *testing.T) {
	clk := &clock{testNow}
	for _, alg := range []string{"HS256", "RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			oldKey, newKey, otherKey := newTestKey(t, alg), newTestKey(t, alg), newTestKey(t, alg)
			old := mustTokens(t, oldKey.config(t), clk)
			other := mustTokens(t, otherKey.config(t), clk)
			cfg := newKey.config(t)
			cfg.Previous = [][]byte{oldKey.pubPEM(t)}
			cur := mustTokens(t, cfg, clk)

			oldTok, _, _ := old.Issue(Claims{UserID: 5, Type: AccessToken}, time.Hour)
			if c, err := cur.Verify(oldTok, AccessToken); err != nil || c.UserID != 5 {
				t.Fatalf("token from previous key: %+v, %v", c, err)
			}
			newTok, _, _ := cur.Issue(Claims{UserID: 6, Type: AccessToken}, time.Hour)
			if _, err := cur.Verify(newTok, AccessToken); err != nil {
				t.Fatalf("token from current key: %v", err)
			}
			otherTok, _, _ := other.Issue(Claims{UserID: 7, Type: AccessToken}, time.Hour)
			if _, err := cur.Verify(otherTok, AccessToken); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("token from unrelated key accepted")
			}
			// New tokens are signed with the current key, not a previous one.
			if _, err := old.Verify(newTok, AccessToken); err == nil {
				t.Fatal("new token verifies under the old key alone")
			}
			if alg != "HS256" {
				set, _ := cur.JWKS()
				if strings.Count(string(set), `"kid"`) != 2 {
					t.Fatalf("JWKS should list current and previous key: %s", set)
				}
			}
		})
	}
}

func TestJWKS(t *testing.T) {
	hs := mustTokens(t, KeyConfig{Secret: testSecret}, nil)
	if b, ok := hs.JWKS(); ok || b != nil {
		t.Fatalf("HS256 JWKS = %s, %v; want nil, false", b, ok)
	}
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			clk := &clock{testNow}
			tk := mustTokens(t, newTestKey(t, alg).config(t), clk)
			b, ok := tk.JWKS()
			if !ok {
				t.Fatal("no JWKS")
			}
			var raw struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(b, &raw); err != nil || len(raw.Keys) != 1 {
				t.Fatalf("JWKS %s: %v", b, err)
			}
			k := raw.Keys[0]
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
				if _, ok := k[private]; ok {
					t.Fatalf("JWKS leaks private member %q: %s", private, b)
				}
			}
			if k["kid"] != tk.keys[0].kid || k["alg"] != alg || k["use"] != "sig" {
				t.Fatalf("JWKS key metadata: %s", b)
			}
			// A third party can verify our token with the published set.
			var set jose.JSONWebKeySet
			json.Unmarshal(b, &set)
			tok, _, _ := tk.Issue(Claims{UserID: 1, Type: AccessToken}, time.Minute)
			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify(&set); err != nil {
				t.Fatalf("token does not verify with published JWKS: %v", err)
			}
			b[0] = 'X' // JWKS returns a copy
			if b2, _ := tk.JWKS(); b2[0] != '{' {
				t.Fatal("JWKS returned internal buffer")
			}
		})
	}
}

func TestNewTokensErrors(t *testing.T) {
	rsKey := newTestKey(t, "RS256")
	esKey := newTestKey(t, "ES256")
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cases := map[string]KeyConfig{
		"no secret":           {},
		"short secret":        {Secret: []byte(strings.Repeat("x", 31))},
		"short previous":      {Secret: testSecret, Previous: [][]byte{[]byte("short")}},
		"alg none":            {Algorithm: "none", Secret: testSecret},
		"alg HS512":           {Algorithm: "HS512", Secret: testSecret},
		"alg lower":           {Algorithm: "hs256", Secret: testSecret},
		"leeway too big":      {Secret: testSecret, Leeway: 61 * time.Second},
		"leeway negative":     {Secret: testSecret, Leeway: -time.Second},
		"RS256 no key":        {Algorithm: "RS256"},
		"RS256 garbage":       {Algorithm: "RS256", PrivateKeyPEM: []byte("not pem")},
		"RS256 small key":     {Algorithm: "RS256", PrivateKeyPEM: pemPriv(t, small)},
		"RS256 with EC key":   {Algorithm: "RS256", PrivateKeyPEM: pemPriv(t, esKey.priv)},
		"ES256 with RSA key":  {Algorithm: "ES256", PrivateKeyPEM: pemPriv(t, rsKey.priv)},
		"ES256 with P-384":    {Algorithm: "ES256", PrivateKeyPEM: pemPriv(t, p384)},
		"EdDSA with EC key":   {Algorithm: "EdDSA", PrivateKeyPEM: pemPriv(t, esKey.priv)},
		"public mismatch":     {Algorithm: "RS256", PrivateKeyPEM: pemPriv(t, rsKey.priv), PublicKeyPEM: pemPub(t, &small.PublicKey)},
		"public garbage":      {Algorithm: "RS256", PrivateKeyPEM: pemPriv(t, rsKey.priv), PublicKeyPEM: []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")},
		"previous wrong type": {Algorithm: "RS256", PrivateKeyPEM: pemPriv(t, rsKey.priv), Previous: [][]byte{pemPub(t, esKey.pub)}},
		"previous not PEM":    {Algorithm: "RS256", PrivateKeyPEM: pemPriv(t, rsKey.priv), Previous: [][]byte{testSecret}},
		"cert block":          {Algorithm: "RS256", PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})},
	}
	for name, k := range cases {
		if _, err := NewTokens(k); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: NewTokens err = %v, want ErrInvalid", name, err)
		}
	}
	// PKCS#1 and SEC 1 private keys and a private key as "previous" work.
	pk1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsKey.priv.(*rsa.PrivateKey))})
	ecDER, _ := x509.MarshalECPrivateKey(esKey.priv.(*ecdsa.PrivateKey))
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})
	okCases := map[string]KeyConfig{
		"PKCS1":            {Algorithm: "RS256", PrivateKeyPEM: pk1},
		"SEC1":             {Algorithm: "ES256", PrivateKeyPEM: sec1},
		"private previous": {Algorithm: "RS256", PrivateKeyPEM: pk1, Previous: [][]byte{pemPriv(t, newTestKey(t, "RS256").priv)}},
		"default alg":      {Secret: testSecret},
	}
	for name, k := range okCases {
		if _, err := NewTokens(k); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestIssueErrorsAndOptions(t *testing.T) {
	clk := &clock{testNow}
	tk := mustTokens(t, KeyConfig{Secret: testSecret, Issuer: "https://tldw.example", Audience: "tldw-clients"}, clk)
	bad := map[string]struct {
		c   Claims
		ttl time.Duration
	}{
		"no type":        {Claims{UserID: 1}, time.Minute},
		"unknown type":   {Claims{UserID: 1, Type: "admin"}, time.Minute},
		"zero ttl":       {Claims{UserID: 1, Type: AccessToken}, 0},
		"no subject":     {Claims{Type: AccessToken}, time.Minute},
		"subject vs uid": {Claims{UserID: 1, Subject: "2", Type: AccessToken}, time.Minute},
	}
	for name, c := range bad {
		if _, _, err := tk.Issue(c.c, c.ttl); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Issue err = %v, want ErrInvalid", name, err)
		}
	}
	tok, c, err := tk.Issue(Claims{UserID: 3, Type: RefreshToken, ID: "fixed-jti"}, time.Hour)
	if err != nil || c.ID != "fixed-jti" || c.Issuer != "https://tldw.example" || c.Audience[0] != "tldw-clients" {
		t.Fatalf("Issue = %+v, %v", c, err)
	}
	if _, err := tk.Verify(tok, RefreshToken); err != nil {
		t.Fatal(err)
	}
	// Another deployment with the same secret but a different audience refuses it.
	other := mustTokens(t, KeyConfig{Secret: testSecret, Issuer: "https://tldw.example"}, clk)
	if _, err := other.Verify(tok, RefreshToken); !errors.Is(err, ErrUnauthenticated) {
		t.Fatal("token for another audience accepted")
	}
	// Generated jtis are unique UUIDs.
	_, c1, _ := tk.Issue(Claims{UserID: 3, Type: AccessToken}, time.Hour)
	_, c2, _ := tk.Issue(Claims{UserID: 3, Type: AccessToken}, time.Hour)
	if c1.ID == c2.ID || len(c1.ID) != 36 {
		t.Fatalf("jti %q %q", c1.ID, c2.ID)
	}
	if _, err := tk.Verify(tok, "bogus"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Verify with unknown kind: %v", err)
	}
}

// TestVerifyClaimsLeeway: the registered claims are checked by go-jose's
// ValidateWithLeeway with the configured leeway as an open bound on exp, nbf and iat, and each
// refusal keeps its reason (and ErrExpired for an expired token only).
func TestVerifyClaimsLeeway(t *testing.T) {
	clk := &clock{testNow}
	tk := mustTokens(t, KeyConfig{Secret: testSecret, Leeway: 10 * time.Second}, clk)
	hdr := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": hsKid(testSecret)}
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	cases := []struct {
		name    string
		claims  map[string]any
		reason  string // "" = accepted
		expired bool
	}{
		{"exp one second inside the leeway", with(baseClaims(), "exp", at(-9*time.Second)), "", false},
		{"exp exactly at the leeway", with(baseClaims(), "exp", at(-10*time.Second)), "token expired", true},
		{"exp past the leeway", with(baseClaims(), "exp", at(-time.Hour)), "token expired", true},
		{"nbf inside the leeway", with(baseClaims(), "nbf", at(9*time.Second)), "", false},
		{"nbf at the leeway", with(baseClaims(), "nbf", at(10*time.Second)), "not yet valid", false},
		{"iat inside the leeway", with(baseClaims(), "iat", at(9*time.Second)), "", false},
		{"iat at the leeway", with(baseClaims(), "iat", at(10*time.Second)), "issued in the future", false},
		{"aud among others", with(baseClaims(), "aud", []string{"x", DefaultAudience, "y"}), "", false},
		{"aud of another service", with(baseClaims(), "aud", []string{"x", "y"}), "wrong audience", false},
		{"aud missing", with(baseClaims(), "aud", nil), "wrong audience", false},
		{"iss of another issuer", with(baseClaims(), "iss", "other"), "wrong issuer", false},
		{"exp missing", with(baseClaims(), "exp", nil), "no expiry", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tk.Verify(forge(t, hdr, tc.claims, "HS256", testSecret), AccessToken)
			if tc.reason == "" {
				if err != nil || c.Subject != "42" || c.Expiry.Unix() != tc.claims["exp"] {
					t.Fatalf("Verify = %+v, %v; want accepted", c, err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tc.reason) ||
				errors.Is(err, ErrExpired) != tc.expired {
				t.Fatalf("Verify: %v; want ErrUnauthenticated %q (ErrExpired %v)", err, tc.reason, tc.expired)
			}
		})
	}
}

func BenchmarkVerifyJWT(b *testing.B) {
	for _, alg := range []string{"HS256", "ES256", "EdDSA", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			tk := mustTokens(b, newTestKey(b, alg).config(b), nil)
			tok, _, err := tk.Issue(Claims{UserID: 42, Username: "alice", Role: "user", SessionID: 7, Type: AccessToken}, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := tk.Verify(tok, AccessToken); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
