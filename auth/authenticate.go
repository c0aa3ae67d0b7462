package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// MaxAccessURIBytes bounds the URI MayAccessPath looks at.
const MaxAccessURIBytes = 8 << 10

// Authenticate resolves the credentials of one request. bearer is the Authorization Bearer
// value ("" when absent), apiKey the X-API-KEY value. A valid bearer JWT wins over a stale
// API key. It checks that the session is live and the user active, using a short cache that
// revocations invalidate. ErrUnauthenticated when nothing valid was presented.
//
// A bearer value that is not a JWT but a personal API key ("tldw_<id>.<secret>") is
// authenticated as the key. When the bearer value is rejected and an X-API-KEY is present
// too, the key is tried; if both fail the bearer's error is returned. The principal's role
// and username come from the user record, never from the token's claims, so a role change
// applies on the next request. API-key principals carry the key's scopes (never nil). In
// single-user mode either header must hold SingleUserAPIKey (compared in constant time),
// and a client outside SingleUserIPs gets ErrClientNotAllowed.
// Other errors are store failures.
func (s *Service) Authenticate(ctx context.Context, bearer, apiKey string, m Meta) (*Principal, error) {
	if s.o.SingleUser {
		if err := s.singleUserClient(m); err != nil {
			return nil, err
		}
		b, k := s.singleKeyMatches(bearer), s.singleKeyMatches(apiKey)
		if b || k {
			return &Principal{UserID: s.o.SingleUserID, Username: "single_user", Role: RoleAdmin, Via: "single_user"}, nil
		}
		return nil, fmt.Errorf("%w: invalid API key", ErrUnauthenticated)
	}
	if bearer == "" {
		if apiKey == "" {
			return nil, fmt.Errorf("%w: no credentials", ErrUnauthenticated)
		}
		return s.authAPIKey(ctx, apiKey)
	}
	var p *Principal
	var err error
	switch {
	case strings.Count(bearer, ".") == 2:
		p, err = s.authJWT(ctx, bearer)
	case strings.HasPrefix(bearer, APIKeyPrefix):
		p, err = s.authAPIKey(ctx, bearer)
	default:
		err = fmt.Errorf("%w: malformed bearer token", ErrUnauthenticated)
	}
	if err == nil || apiKey == "" || !errors.Is(err, ErrUnauthenticated) {
		return p, err
	}
	if p2, err2 := s.authAPIKey(ctx, apiKey); err2 == nil {
		return p2, nil
	}
	return nil, err
}

// authJWT authenticates an access token and checks its session and user.
func (s *Service) authJWT(ctx context.Context, token string) (*Principal, error) {
	now := s.now()
	key := sha256.Sum256([]byte(token))
	c, ok := s.verified.get(key, now)
	if !ok {
		claims, err := s.o.Tokens.Verify(token, AccessToken)
		if err != nil {
			return nil, err
		}
		c = verifiedToken{userID: claims.UserID, sessionID: claims.SessionID, exp: claims.Expiry}
		if c.userID <= 0 || c.sessionID <= 0 {
			return nil, fmt.Errorf("%w: token lacks user or session", ErrUnauthenticated)
		}
		s.verified.put(key, c)
	}
	se, err := s.sessionState(ctx, c.sessionID, now)
	if err != nil {
		return nil, err
	}
	if !se.live || !now.Before(se.refreshExp) || se.userID != c.userID {
		return nil, fmt.Errorf("%w: session revoked or expired", ErrUnauthenticated)
	}
	ue, err := s.userState(ctx, c.userID, now)
	if err != nil {
		return nil, err
	}
	if !ue.active {
		return nil, fmt.Errorf("%w: account is inactive", ErrUnauthenticated)
	}
	if now.Sub(se.touchedAt) >= touchEvery {
		s.cache.touched(c.sessionID, now)
		if err := s.o.Sessions.TouchSession(ctx, c.sessionID, now); err != nil {
			s.log.WarnContext(ctx, "auth: touching session failed", slog.Int64("session_id", c.sessionID), slog.Any("error", err))
		}
	}
	return &Principal{UserID: c.userID, Username: ue.username, Role: ue.role, SessionID: c.sessionID, Via: "jwt",
		MustChangePassword: ue.mustChangePassword}, nil
}

// sessionState returns the cached state of session id, loading it when absent or stale.
func (s *Service) sessionState(ctx context.Context, id int64, now time.Time) (sessionEntry, error) {
	if e, ok := s.cache.session(id, now); ok {
		return e, nil
	}
	gen := s.cache.generation()
	sess, err := s.o.Sessions.SessionByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return sessionEntry{}, fmt.Errorf("%w: session not found", ErrUnauthenticated)
	}
	if err != nil {
		return sessionEntry{}, fmt.Errorf("auth: loading session: %w", err)
	}
	e := sessionEntry{userID: sess.UserID, live: sess.RevokedAt == nil, refreshExp: sess.RefreshExpiresAt,
		touchedAt: sess.LastActivity, cachedAt: now}
	s.cache.putSession(gen, id, e)
	return e, nil
}

// userState returns the cached state of user id, loading it when absent or stale.
func (s *Service) userState(ctx context.Context, id int64, now time.Time) (userEntry, error) {
	if e, ok := s.cache.user(id, now); ok {
		return e, nil
	}
	gen := s.cache.generation()
	u, err := s.o.Users.UserByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return userEntry{}, fmt.Errorf("%w: user not found", ErrUnauthenticated)
	}
	if err != nil {
		return userEntry{}, fmt.Errorf("auth: loading user: %w", err)
	}
	e := userEntry{username: u.Username, role: u.Role, active: u.IsActive, mustChangePassword: u.MustChangePassword, cachedAt: now}
	s.cache.putUser(gen, id, e)
	return e, nil
}

// authAPIKey authenticates a personal API key: looked up by key id, compared in constant
// time, refused when revoked or expired or its user is inactive; last use is touched at
// most once a minute.
func (s *Service) authAPIKey(ctx context.Context, full string) (*Principal, error) {
	id, secret, ok := ParseAPIKey(full)
	if !ok {
		return nil, fmt.Errorf("%w: malformed API key", ErrUnauthenticated)
	}
	want := HashAPIKeySecret(s.o.APIKeyPepper, secret)
	k, err := s.o.APIKeys.APIKeyByKeyID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: invalid API key", ErrUnauthenticated)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: looking up API key: %w", err)
	}
	if !CompareHash(k.Hash, want) {
		return nil, fmt.Errorf("%w: invalid API key", ErrUnauthenticated)
	}
	now := s.now()
	if k.RevokedAt != nil {
		return nil, fmt.Errorf("%w: API key revoked", ErrUnauthenticated)
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, fmt.Errorf("%w: %w: API key expired", ErrUnauthenticated, ErrExpired)
	}
	ue, err := s.userState(ctx, k.UserID, now)
	if err != nil {
		return nil, err
	}
	if !ue.active {
		return nil, fmt.Errorf("%w: account is inactive", ErrUnauthenticated)
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= touchEvery {
		if err := s.o.APIKeys.TouchAPIKey(ctx, k.ID, now); err != nil {
			s.log.WarnContext(ctx, "auth: touching API key failed", slog.Int64("api_key_id", k.ID), slog.Any("error", err))
		}
	}
	scopes := append(make([]Scope, 0, len(k.Scopes)), k.Scopes...)
	return &Principal{UserID: k.UserID, Username: ue.username, Role: ue.role, APIKeyID: k.ID, Scopes: scopes, Via: "api_key", KeyRateLimit: k.RateLimitPerMinute,
		MustChangePassword: ue.mustChangePassword}, nil
}

// MayAccessPath reports whether p may read the per-user media path uri (nginx auth_request).
//
// uri is the raw request URI (X-Original-URI). It is decoded once and normalised the way
// nginx routes (dot segments resolved, slashes merged); a URI that is too long, badly
// escaped or carries control characters is refused. Under /media/<user id>/ only the owner
// (with media.read) or a principal with media.read_any may read; /media itself and paths
// under it without an owner need media.read_any. Every other path only needs a principal.
// Errors: ErrUnauthenticated for a nil principal, ErrForbidden otherwise. Pure; safe for
// concurrent use.
func (s *Service) MayAccessPath(p *Principal, uri string) error {
	if p == nil {
		return fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	clean, ok := normalisePath(uri)
	if !ok {
		return Detailf(ErrForbidden, "malformed path")
	}
	lower := strings.ToLower(clean)
	if lower != "/media" && !strings.HasPrefix(lower, "/media/") {
		return nil
	}
	if !p.Can(PermMediaRead) {
		return Detailf(ErrForbidden, "media.read required")
	}
	owner, _, _ := strings.Cut(strings.TrimPrefix(clean[len("/media"):], "/"), "/")
	if p.UserID > 0 && owner == strconv.FormatInt(p.UserID, 10) {
		return nil
	}
	if p.Can(PermMediaReadAny) {
		return nil
	}
	return Detailf(ErrForbidden, "not your media")
}

// normalisePath decodes uri's path once and resolves it like nginx; ok is false for input
// that is too long, badly escaped, relative or contains control characters or backslashes.
func normalisePath(uri string) (string, bool) {
	if uri == "" || len(uri) > MaxAccessURIBytes {
		return "", false
	}
	raw, _, _ := strings.Cut(uri, "?")
	raw, _, _ = strings.Cut(raw, "#")
	dec, err := url.PathUnescape(raw)
	if err != nil || !strings.HasPrefix(dec, "/") {
		return "", false
	}
	for i := 0; i < len(dec); i++ {
		if c := dec[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	return path.Clean(dec), true
}
