package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tldw-go/tldw/audit"
)

// maxAPIKeyName bounds an API key's display name in bytes.
const maxAPIKeyName = 200

// scopeRank orders the cumulative scopes (read < write < admin); 0 for unknown ones.
func scopeRank(s Scope) int {
	switch s {
	case ScopeRead:
		return 1
	case ScopeWrite:
		return 2
	case ScopeAdmin:
		return 3
	}
	return 0
}

// maxScope is the highest rank among scopes.
func maxScope(scopes []Scope) int {
	r := 0
	for _, s := range scopes {
		r = max(r, scopeRank(s))
	}
	return r
}

// keyScopesAllowed checks that p may hold a key with scopes: admin scope only for admins,
// and an API-key principal never beyond its own key's scopes.
func keyScopesAllowed(p *Principal, scopes []Scope) error {
	want := maxScope(scopes)
	if want == scopeRank(ScopeAdmin) && p.Role != RoleAdmin {
		return Detailf(ErrForbidden, "only admins may hold admin-scoped API keys")
	}
	if p.Scopes != nil && want > maxScope(p.Scopes) {
		return Detailf(ErrForbidden, "an API key cannot create or rotate a key broader than itself")
	}
	return nil
}

// CreateAPIKey makes a personal API key and returns it with the full secret (shown once).
//
// scopes default to [read]; unknown scopes are ErrInvalid. The new key's scopes must lie
// within the creator's: admin scope only for admins, and an API-key principal cannot mint
// a broader key (ErrForbidden). A request authenticated by an API key without the admin
// scope cannot create keys at all (ErrKeyCannotMint), and a user holds at most
// MaxAPIKeysPerUser live keys (ErrAPIKeyLimit), so keys cannot multiply a user's access or
// rate budget. expiresIn 0 means DefaultAPIKeyExpiry; negative is ErrInvalid. Needs
// account.write. Not available in single-user mode (ErrForbidden).
func (s *Service) CreateAPIKey(ctx context.Context, p *Principal, name string, scopes []Scope, expiresIn time.Duration, m Meta) (*APIKey, string, error) {
	return s.CreateAPIKeyWith(ctx, p, name, scopes, expiresIn, KeyOptions{}, m)
}

// KeyOptions are the optional settings of a new API key.
type KeyOptions struct {
	// RateLimitPerMinute, when above 0, limits the key below its user's shared budget;
	// 0..MaxKeyRateLimit, else ErrInvalid.
	RateLimitPerMinute int
}

// MaxKeyRateLimit bounds KeyOptions.RateLimitPerMinute.
const MaxKeyRateLimit = 1_000_000

// CreateAPIKeyWith is CreateAPIKey with KeyOptions.
func (s *Service) CreateAPIKeyWith(ctx context.Context, p *Principal, name string, scopes []Scope, expiresIn time.Duration, o KeyOptions, m Meta) (*APIKey, string, error) {
	if err := require(p, PermAccountWrite); err != nil {
		return nil, "", err
	}
	if s.o.SingleUser || p.UserID <= 0 {
		return nil, "", Detailf(ErrForbidden, "personal API keys need a user account")
	}
	if p.APIKeyID != 0 && !slices.Contains(p.Scopes, ScopeAdmin) {
		return nil, "", Detailf(ErrKeyCannotMint, "only an admin-scoped API key may create API keys; sign in to create one")
	}
	name = strings.TrimSpace(name)
	if len(name) > maxAPIKeyName {
		return nil, "", Detailf(ErrInvalid, "API key name is longer than %d bytes", maxAPIKeyName)
	}
	if expiresIn < 0 {
		return nil, "", Detailf(ErrInvalid, "API key expiry must not be negative")
	}
	if o.RateLimitPerMinute < 0 || o.RateLimitPerMinute > MaxKeyRateLimit {
		return nil, "", Detailf(ErrInvalid, "rate_limit_per_minute must be between 0 and %d", MaxKeyRateLimit)
	}
	if expiresIn == 0 {
		expiresIn = DefaultAPIKeyExpiry
	}
	if len(scopes) == 0 {
		scopes = []Scope{ScopeRead}
	}
	clean := make([]Scope, 0, len(scopes))
	for _, sc := range scopes {
		v, err := ParseScope(string(sc))
		if err != nil {
			return nil, "", err
		}
		if !slices.Contains(clean, v) {
			clean = append(clean, v)
		}
	}
	if err := keyScopesAllowed(p, clean); err != nil {
		return nil, "", err
	}
	id, secret, full, err := NewAPIKey()
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	// keyMu makes the count and the insert one step on this replica; across replicas
	// the cap can be overshot by at most the creations racing in one store round trip.
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if err := s.checkKeyCap(ctx, p.UserID, now); err != nil {
		return nil, "", err
	}
	exp := now.Add(expiresIn)
	k := &APIKey{KeyID: id, UserID: p.UserID, Name: name, Prefix: APIKeyPrefix + id,
		Hash: HashAPIKeySecret(s.o.APIKeyPepper, secret), Scopes: clean, RateLimitPerMinute: o.RateLimitPerMinute,
		ExpiresAt: &exp, CreatedAt: now}
	if err := s.o.APIKeys.CreateAPIKey(ctx, k); err != nil {
		return nil, "", storeErr("creating API key", err)
	}
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.APIKeyCreated, TargetType: "api_key", TargetID: idString(k.ID),
		Success: true, Details: map[string]any{"key_prefix": k.Prefix, "scopes": scopeStrings(clean),
			"expires_at": exp.Format(time.RFC3339)}}))
	return publicKey(k), full, nil
}

// checkKeyCap returns ErrAPIKeyLimit when userID already holds MaxAPIKeysPerUser live
// (not revoked, not expired at now) keys.
func (s *Service) checkKeyCap(ctx context.Context, userID int64, now time.Time) error {
	keys, err := s.o.APIKeys.ListAPIKeys(ctx, userID)
	if err != nil {
		return fmt.Errorf("auth: listing API keys: %w", err)
	}
	live := 0
	for _, k := range keys {
		if k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt)) {
			live++
		}
	}
	if live >= s.o.MaxAPIKeysPerUser {
		return Detailf(ErrAPIKeyLimit, "at most %d live API keys per user; revoke one first", s.o.MaxAPIKeysPerUser)
	}
	return nil
}

func scopeStrings(scopes []Scope) []any {
	out := make([]any, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

// publicKey returns a copy of k without its hash.
func publicKey(k *APIKey) *APIKey {
	c := *k
	c.Hash = ""
	c.Scopes = slices.Clone(k.Scopes)
	return &c
}

// ListAPIKeys lists the principal's keys (no secrets, no hashes). Needs account.read.
func (s *Service) ListAPIKeys(ctx context.Context, p *Principal) ([]APIKey, error) {
	if err := require(p, PermAccountRead); err != nil {
		return nil, err
	}
	keys, err := s.o.APIKeys.ListAPIKeys(ctx, p.UserID)
	if err != nil {
		return nil, fmt.Errorf("auth: listing API keys: %w", err)
	}
	for i := range keys {
		keys[i].Hash = ""
	}
	return keys, nil
}

// RotateAPIKey replaces a key's secret and returns the new full key; the old secret stops
// working at once. Needs account.write; an API-key principal may only rotate keys no
// broader than its own (ErrForbidden). Errors: ErrNotFound (unknown, another user's or
// revoked key), store errors.
func (s *Service) RotateAPIKey(ctx context.Context, p *Principal, id int64, m Meta) (*APIKey, string, error) {
	if err := require(p, PermAccountWrite); err != nil {
		return nil, "", err
	}
	old, err := s.ownKey(ctx, p, id)
	if err != nil {
		return nil, "", err
	}
	if err := keyScopesAllowed(p, old.Scopes); err != nil {
		return nil, "", err
	}
	keyID, secret, full, err := NewAPIKey()
	if err != nil {
		return nil, "", err
	}
	prefix := APIKeyPrefix + keyID
	if err := s.o.APIKeys.ReplaceAPIKeySecret(ctx, p.UserID, id, keyID, prefix, HashAPIKeySecret(s.o.APIKeyPepper, secret)); err != nil {
		return nil, "", storeErr("rotating API key", err)
	}
	k, err := s.o.APIKeys.APIKeyByKeyID(ctx, keyID)
	if err != nil {
		return nil, "", fmt.Errorf("auth: reading rotated API key: %w", err)
	}
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.APIKeyRotated, TargetType: "api_key", TargetID: idString(id),
		Success: true, Details: map[string]any{"old_key_prefix": old.Prefix, "key_prefix": prefix}}))
	return publicKey(k), full, nil
}

// ownKey returns the principal's live (not revoked) key id, or ErrNotFound.
func (s *Service) ownKey(ctx context.Context, p *Principal, id int64) (*APIKey, error) {
	keys, err := s.o.APIKeys.ListAPIKeys(ctx, p.UserID)
	if err != nil {
		return nil, fmt.Errorf("auth: listing API keys: %w", err)
	}
	for i := range keys {
		if keys[i].ID == id && keys[i].UserID == p.UserID && keys[i].RevokedAt == nil {
			return &keys[i], nil
		}
	}
	return nil, Detailf(ErrNotFound, "API key %d not found", id)
}

// RevokeAPIKey revokes one of the principal's keys; it is refused from the next request on.
// Needs account.write. Errors: ErrNotFound (unknown or another user's key), store errors.
func (s *Service) RevokeAPIKey(ctx context.Context, p *Principal, id int64, m Meta) error {
	if err := require(p, PermAccountWrite); err != nil {
		return err
	}
	if err := s.o.APIKeys.RevokeAPIKey(ctx, p.UserID, id, s.now()); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Detailf(ErrNotFound, "API key %d not found", id)
		}
		return fmt.Errorf("auth: revoking API key: %w", err)
	}
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.APIKeyRevoked, TargetType: "api_key", TargetID: idString(id), Success: true}))
	return nil
}
