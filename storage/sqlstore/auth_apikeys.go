package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tldw-go/tldw/auth"
)

// APIKeys is the SQL auth.APIKeyStore, on the api_keys table. Scopes are
// stored comma-separated. Operations given a userID act only on that user's
// keys. Safe for concurrent use.
type APIKeys struct{ db *DB }

var _ auth.APIKeyStore = (*APIKeys)(nil)

// APIKeys returns the API-key store on db.
func (db *DB) APIKeys() *APIKeys { return &APIKeys{db: db} }

const apiKeyCols = `id, key_id, user_id, name, key_prefix, key_hash, scopes, rate_limit_per_minute,
	expires_at, last_used_at, created_at, revoked_at`

type apiKeyRow struct {
	ID         int64      `bun:"id"`
	KeyID      string     `bun:"key_id"`
	UserID     int64      `bun:"user_id"`
	Name       string     `bun:"name"`
	Prefix     string     `bun:"key_prefix"`
	Hash       string     `bun:"key_hash"`
	Scopes     string     `bun:"scopes"`
	RateLimit  int        `bun:"rate_limit_per_minute"`
	ExpiresAt  *time.Time `bun:"expires_at"`
	LastUsedAt *time.Time `bun:"last_used_at"`
	CreatedAt  time.Time  `bun:"created_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
}

func (r *apiKeyRow) key() auth.APIKey {
	return auth.APIKey{
		ID: r.ID, KeyID: r.KeyID, UserID: r.UserID, Name: r.Name, Prefix: r.Prefix,
		Hash: r.Hash, Scopes: parseScopes(r.Scopes), RateLimitPerMinute: r.RateLimit, ExpiresAt: timePtr(r.ExpiresAt),
		LastUsedAt: timePtr(r.LastUsedAt), CreatedAt: r.CreatedAt.UTC(), RevokedAt: timePtr(r.RevokedAt),
	}
}

// parseScopes reads "read,write" or, as tldw_server may have written it, a
// JSON array.
func parseScopes(s string) []auth.Scope {
	var names []string
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		if json.Unmarshal([]byte(s), &names) != nil {
			return nil
		}
	} else {
		names = strings.Split(s, ",")
	}
	var out []auth.Scope
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, auth.Scope(n))
		}
	}
	return out
}

// CreateAPIKey inserts k and sets its ID; a zero CreatedAt becomes the
// current time. It returns auth.ErrInvalid for a missing key id, hash or an
// unknown scope, auth.ErrNotFound for an unknown user and auth.ErrConflict for
// a key id or hash already stored.
func (s *APIKeys) CreateAPIKey(ctx context.Context, k *auth.APIKey) error {
	if k.KeyID == "" || k.Hash == "" {
		return fmt.Errorf("%w: api key needs a key id and hash", auth.ErrInvalid)
	}
	names := make([]string, len(k.Scopes))
	for i, sc := range k.Scopes {
		if _, err := auth.ParseScope(string(sc)); err != nil {
			return err
		}
		names[i] = string(sc)
	}
	created := orNow(k.CreatedAt)
	var id int64
	err := s.db.bun.NewRaw(`INSERT INTO api_keys (key_id, user_id, name, key_prefix, key_hash,
		scopes, rate_limit_per_minute, expires_at, last_used_at, created_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		k.KeyID, k.UserID, k.Name, k.Prefix, k.Hash, strings.Join(names, ","), k.RateLimitPerMinute,
		s.db.nullTimeArg(k.ExpiresAt), s.db.nullTimeArg(k.LastUsedAt), s.db.timeArg(created), s.db.nullTimeArg(k.RevokedAt)).Scan(ctx, &id)
	if err != nil {
		return authErr("create api key", "api key", err)
	}
	k.ID, k.CreatedAt = id, created
	return nil
}

// APIKeyByKeyID returns the key with keyID, revoked or expired ones
// included (the caller checks), or auth.ErrNotFound.
func (s *APIKeys) APIKeyByKeyID(ctx context.Context, keyID string) (*auth.APIKey, error) {
	var row apiKeyRow
	err := s.db.bun.NewRaw(`SELECT `+apiKeyCols+` FROM api_keys WHERE key_id = ?`, keyID).Scan(ctx, &row)
	if err != nil {
		return nil, authErr("api key by key id", "api key", err)
	}
	k := row.key()
	return &k, nil
}

// ListAPIKeys returns every key of userID, revoked ones included, oldest
// first.
func (s *APIKeys) ListAPIKeys(ctx context.Context, userID int64) ([]auth.APIKey, error) {
	var rows []apiKeyRow
	err := s.db.bun.NewRaw(`SELECT `+apiKeyCols+` FROM api_keys WHERE user_id = ? ORDER BY id`, userID).Scan(ctx, &rows)
	if err != nil {
		return nil, authErr("list api keys", "api key", err)
	}
	out := make([]auth.APIKey, len(rows))
	for i := range rows {
		out[i] = rows[i].key()
	}
	return out, nil
}

// ReplaceAPIKeySecret gives key id of userID a new KeyID, Prefix and Hash. It
// returns auth.ErrNotFound when the key is absent or another user's, and
// auth.ErrConflict when keyID or hash is already stored.
func (s *APIKeys) ReplaceAPIKeySecret(ctx context.Context, userID, id int64, keyID, prefix, hash string) error {
	if keyID == "" || hash == "" {
		return fmt.Errorf("%w: api key needs a key id and hash", auth.ErrInvalid)
	}
	res, err := s.db.bun.NewRaw(`UPDATE api_keys SET key_id = ?, key_prefix = ?, key_hash = ?
		WHERE id = ? AND user_id = ?`, keyID, prefix, hash, id, userID).Exec(ctx)
	if err != nil {
		return authErr("rotate api key", "api key", err)
	}
	return affected("rotate api key", "api key", res)
}

// RevokeAPIKey marks key id of userID revoked at now; revoking it again keeps
// the first time. It returns auth.ErrNotFound when the key is absent or
// another user's.
func (s *APIKeys) RevokeAPIKey(ctx context.Context, userID, id int64, now time.Time) error {
	res, err := s.db.bun.NewRaw(`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?)
		WHERE id = ? AND user_id = ?`, s.db.timeArg(now), id, userID).Exec(ctx)
	if err != nil {
		return authErr("revoke api key", "api key", err)
	}
	return affected("revoke api key", "api key", res)
}

// TouchAPIKey sets LastUsedAt of key id to now, or returns auth.ErrNotFound.
func (s *APIKeys) TouchAPIKey(ctx context.Context, id int64, now time.Time) error {
	res, err := s.db.bun.NewRaw(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`, s.db.timeArg(now), id).Exec(ctx)
	if err != nil {
		return authErr("touch api key", "api key", err)
	}
	return affected("touch api key", "api key", res)
}
