package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// RandomToken returns nbytes from crypto/rand as unpadded URL-safe base64.
// nbytes must be 16–1024 (at least 128 bits); otherwise it returns an error
// wrapping ErrInvalid. It also returns errors from the random source.
// Safe for concurrent use.
func RandomToken(nbytes int) (string, error) {
	if nbytes < 16 || nbytes > 1024 {
		return "", fmt.Errorf("%w: random token size %d not in 16..1024 bytes", ErrInvalid, nbytes)
	}
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewRefreshToken returns an opaque 256-bit refresh token for the client and
// HashToken of it for storage; the token itself is never stored. It returns
// errors from the random source. Safe for concurrent use.
func NewRefreshToken() (token, hash string, err error) {
	token, err = RandomToken(32)
	if err != nil {
		return "", "", err
	}
	return token, HashToken(token), nil
}

// HashToken returns the hex SHA-256 of s. It is how refresh tokens, session
// token hashes and reset tokens are stored: they are high-entropy random
// values, so a fast unsalted hash is enough (no guessing attack is cheaper
// than guessing 128+ random bits) and allows lookup by hash.
func HashToken(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// RegistrationCodeLen and RegistrationCodeAlphabet describe registration
// codes (tldw_server: 24 characters from A–Z and 0–9).
const (
	RegistrationCodeLen      = 24
	RegistrationCodeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// NewRegistrationCode returns a 24-character code drawn uniformly from
// A–Z0–9 with crypto/rand (rejection sampling: bytes ≥ 252 are discarded so
// every character has probability exactly 1/36). It returns errors from the
// random source. Safe for concurrent use.
func NewRegistrationCode() (string, error) {
	const n = len(RegistrationCodeAlphabet) // 36
	const limit = 256 - 256%n               // 252: largest multiple of 36 ≤ 256
	out := make([]byte, 0, RegistrationCodeLen)
	buf := make([]byte, 32)
	for len(out) < RegistrationCodeLen {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("auth: reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, RegistrationCodeAlphabet[int(b)%n])
			if len(out) == RegistrationCodeLen {
				break
			}
		}
	}
	return string(out), nil
}
