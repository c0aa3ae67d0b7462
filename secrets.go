package tldw

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// jwtSecretFile holds the JWT signing key generated when JWT_SECRET_KEY is not set.
const jwtSecretFile = "jwt_secret.key"

// GenerateSecret returns a random 64-byte secret, base64-encoded like
// `openssl rand -base64 64`.
func GenerateSecret() (string, error) {
	b := make([]byte, 64)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("tldw: random secret: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// loadOrCreateSecret returns the secret stored in dir/name, creating it with mode 0600 on
// first use. Concurrent first starts agree on one value: the file is created exclusively.
func loadOrCreateSecret(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	if b, err := os.ReadFile(path); err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return "", fmt.Errorf("tldw: %s holds a secret shorter than 32 characters; delete it to generate a new one", path)
		}
		return s, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("tldw: read secret: %w", err)
	}
	s, err := GenerateSecret()
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreateSecret(dir, name)
	}
	if err != nil {
		return "", fmt.Errorf("tldw: create secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("tldw: write secret: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("tldw: write secret: %w", err)
	}
	return s, f.Close()
}
