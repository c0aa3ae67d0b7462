package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Personal API keys look like "tldw_<id>.<secret>": id is 12 lower-case hex
// characters (stored in clear, used for lookup and display), secret is the
// unpadded URL-safe base64 of 32 random bytes (43 characters, shown once).
const (
	APIKeyPrefix    = "tldw_"
	apiKeyIDLen     = 12
	apiKeySecretLen = 43
	apiKeyLen       = len(APIKeyPrefix) + apiKeyIDLen + 1 + apiKeySecretLen
)

// NewAPIKey returns a fresh key id, secret and the full key the user is
// shown once. Store the id and HashAPIKeySecret(pepper, secret), never the
// secret. It returns errors from the random source. Safe for concurrent use.
func NewAPIKey() (id, secret, full string, err error) {
	var b [6 + 32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", "", fmt.Errorf("auth: reading random bytes: %w", err)
	}
	id = hex.EncodeToString(b[:6])
	secret = base64.RawURLEncoding.EncodeToString(b[6:])
	return id, secret, APIKeyPrefix + id + "." + secret, nil
}

// ParseAPIKey splits a full key into id and secret. It accepts exactly the
// format NewAPIKey produces (fixed length, lower-case hex id, base64url
// secret of 32 bytes) and reports ok=false for anything else, checking the
// length first so hostile input costs nothing. Pure; safe for concurrent use.
func ParseAPIKey(s string) (id, secret string, ok bool) {
	if len(s) != apiKeyLen || !strings.HasPrefix(s, APIKeyPrefix) {
		return "", "", false
	}
	rest := s[len(APIKeyPrefix):]
	id, secret = rest[:apiKeyIDLen], rest[apiKeyIDLen+1:]
	if rest[apiKeyIDLen] != '.' {
		return "", "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", "", false
		}
	}
	// Strict decoding rejects padding, foreign characters and non-canonical
	// trailing bits, so each key has exactly one spelling.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(secret)
	if err != nil || len(raw) != 32 {
		return "", "", false
	}
	return id, secret, true
}

// HashAPIKeySecret returns the hex HMAC-SHA256 of secret keyed with pepper
// (API_KEY_PEPPER; may be empty). A fast keyed hash is right here: the
// secret is 256 random bits, so unlike a password it cannot be guessed and a
// slow KDF (tldw_server's PBKDF2) would only cost CPU on every request. The
// pepper means a leaked database alone does not even allow offline
// verification of a candidate key. Pure; safe for concurrent use.
func HashAPIKeySecret(pepper []byte, secret string) string {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))
}

// CompareHash reports whether two hashes are equal, in time independent of
// their contents. Empty hashes never match. Safe for concurrent use.
func CompareHash(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
