package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tldw-go/tldw/audit"
)

// maxRefreshTokenBytes bounds a presented refresh token before it is hashed; ours are 43.
const maxRefreshTokenBytes = 256

// Session revocation reasons stored with a revoked session.
const (
	ReasonLogout          = "logout"
	ReasonLogoutAll       = "logout_all"
	ReasonTokenReuse      = "token_reuse_detected"
	ReasonSessionLimit    = "session_limit"
	ReasonRevokedByUser   = "revoked_by_user"
	ReasonRevokedByStaff  = "revoked_by_admin"
	ReasonPasswordChanged = "password_changed"
	ReasonPasswordReset   = "password_reset"
	ReasonDeactivated     = "deactivated"
)

func badCredentials() error {
	return fmt.Errorf("%w: incorrect username or password", ErrUnauthenticated)
}

func invalidRefresh() error {
	return fmt.Errorf("%w: invalid or expired refresh token", ErrUnauthenticated)
}

// Login checks a username-or-email and password and starts a session. Errors:
// ErrUnauthenticated (unknown user or wrong password — indistinguishable), *LockedError,
// ErrInactive, ErrBusy.
//
// The lockout (see lockKeys) is checked before the password; a success resets only the
// username's counters, never the client's. A hash made with old parameters is replaced. In
// single-user mode the password may also be SingleUserAPIKey, and the pair returned carries
// the API key as both tokens (no session is created); a client outside SingleUserIPs gets
// ErrClientNotAllowed.
func (s *Service) Login(ctx context.Context, login, password string, m Meta) (*TokenPair, error) {
	u, err := s.checkPassword(ctx, login, password, m)
	if err != nil {
		return nil, err
	}
	if s.o.SingleUser {
		s.audit(ctx, m, audit.Event{UserID: u.ID, Username: u.Username, Action: audit.LoginSuccess,
			TargetType: "user", TargetID: idString(u.ID), Success: true, Details: map[string]any{"mode": "single_user"}})
		return s.singlePair(u), nil
	}
	pair, err := s.startSession(ctx, u, m)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, m, audit.Event{UserID: u.ID, Username: u.Username, Action: audit.LoginSuccess,
		TargetType: "session", TargetID: idString(pair.SessionID), Success: true})
	return pair, nil
}

// canonicalLogin canonicalises a login that is an email (contains '@') or a username.
func canonicalLogin(login string) (string, error) {
	if strings.Contains(login, "@") {
		return CanonicalEmail(login)
	}
	return CanonicalUsername(login)
}

// checkPassword is Login's credential check: lockout, lookup, verification (against a dummy
// hash for unknown users, in the same hashing slot, so a busy server answers both alike),
// failure counting and auditing of failures, rehash and last-login.
func (s *Service) checkPassword(ctx context.Context, login, password string, m Meta) (*User, error) {
	now := s.now()
	var u *User
	canon, canonErr := canonicalLogin(login)
	if canonErr == nil {
		found, err := s.o.Users.UserByLogin(ctx, canon)
		switch {
		case err == nil:
			u = found
		case !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("auth: looking up user: %w", err)
		}
	}
	var user string
	if u != nil {
		user = userLockKey(u.Username)
	} else if canonErr == nil {
		user = "user:" + canon
	}
	k := newLockKeys(user, m.IP)

	if s.o.SingleUser {
		if err := s.singleUserClient(m); err != nil {
			return nil, err
		}
	}
	if err := s.checkLock(ctx, now, m, u, login, k); err != nil {
		return nil, err
	}
	if s.o.SingleUser && s.singleKeyMatches(password) {
		s.resetLockout(ctx, k.user, k.userIP)
		return s.singleUser(ctx), nil
	}
	if u == nil {
		if password != "" {
			if err := s.o.Hasher.VerifyDummy(ctx, password); err != nil {
				return nil, fmt.Errorf("auth: verifying password: %w", err)
			}
		}
		return nil, s.loginFailure(ctx, now, m, nil, login, k)
	}
	ok, rehash, err := s.o.Hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("auth: verifying password of user %d: %w", u.ID, err)
	}
	if !ok {
		return nil, s.loginFailure(ctx, now, m, u, login, k)
	}
	if !u.IsActive {
		s.auditLoginFailed(ctx, m, u, login, "inactive")
		return nil, fmt.Errorf("%w: account is inactive", ErrInactive)
	}
	s.resetLockout(ctx, k.user, k.userIP)

	s.recordLogin(ctx, u, password, rehash, now)
	return u, nil
}

// recordLogin stores the last-login time and, when asked, a hash with the current
// parameters. Each is a patch of its own columns; the rehash applies only while the stored
// hash is still the one verified, so neither undoes a concurrent change. Failures are
// logged: the login itself succeeded.
func (s *Service) recordLogin(ctx context.Context, u *User, password string, rehash bool, now time.Time) {
	res, err := s.o.Users.UpdateUser(ctx, u.ID, UserPatch{LastLogin: &now})
	if err != nil {
		s.log.WarnContext(ctx, "auth: recording login failed", slog.Int64("user_id", u.ID), slog.Any("error", err))
		return
	}
	u.LastLogin = res.User.LastLogin
	if !rehash {
		return
	}
	h, err := s.o.Hasher.Hash(ctx, password)
	if err == nil {
		res, err = s.o.Users.UpdateUser(ctx, u.ID, UserPatch{PasswordHash: &h, IfPasswordHash: u.PasswordHash})
	}
	if err != nil {
		s.log.WarnContext(ctx, "auth: rehashing password failed", slog.Int64("user_id", u.ID), slog.Any("error", err))
		return
	}
	u.PasswordHash = res.User.PasswordHash
}

// userLockKey is the lockout key of an account: "user:" and its canonical username (a
// stored name the canonicaliser rejects, e.g. an imported one, is trimmed and lower-cased).
func userLockKey(username string) string {
	if c, err := CanonicalUsername(username); err == nil {
		return "user:" + c
	}
	return "user:" + strings.ToLower(strings.TrimSpace(username))
}

// ClientBucket returns the form of a client IP that rate limits and the lockout count
// under: an IPv4 address as it is, an IPv6 address as its /64 ("2001:db8:1:2::/64"), since
// one host or customer usually holds a whole /64. A value that does not parse is returned
// unchanged.
func ClientBucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// lockKeys are the LockoutStore keys one login attempt counts against ("" = none):
//
//   - ip ("ip:<bucket>"): every login from the client. MaxLoginAttempts failures lock the
//     client out of every account; a success does not reset it, so logging in to one's own
//     account does not buy more guesses.
//   - userIP ("user:<name>|ip:<bucket>"): the username from this client. MaxLoginAttempts
//     failures lock this client out of this account (the hard lock).
//   - user ("user:<name>"): the username from anywhere. MaxLoginAttempts failures lock it
//     only softly (the slowdown): while it is locked, one more failure from any client
//     locks that client out of the account, but a client that does not fail — the owner
//     with the right password — still gets in, so nobody can lock an account forever.
//
// A success resets userIP and user.
type lockKeys struct{ ip, userIP, user string }

// newLockKeys returns the keys of a login as user (a "user:" key, or "") from ip.
func newLockKeys(user, ip string) lockKeys {
	var k lockKeys
	if ip != "" {
		k.ip = "ip:" + ClientBucket(ip)
	}
	k.user = user
	if user != "" && k.ip != "" {
		k.userIP = user + "|" + k.ip
	}
	return k
}

// checkLock returns *LockedError (audited) when the client is locked out of the account
// (k.ip or k.userIP); the soft k.user lock never refuses on its own.
func (s *Service) checkLock(ctx context.Context, now time.Time, m Meta, u *User, login string, k lockKeys) error {
	until, err := s.lockedUntil(ctx, now, k.ip, k.userIP)
	if err != nil {
		return err
	}
	if !until.IsZero() {
		s.auditLoginFailed(ctx, m, u, login, "locked")
		return &LockedError{Until: until}
	}
	return nil
}

// lockedUntil returns the latest lock end among keys ("" keys are skipped), or zero.
func (s *Service) lockedUntil(ctx context.Context, now time.Time, keys ...string) (time.Time, error) {
	var until time.Time
	for _, k := range keys {
		if k == "" {
			continue
		}
		t, err := s.o.Lockout.LockedUntil(ctx, k, now)
		if err != nil {
			return time.Time{}, fmt.Errorf("auth: reading lockout: %w", err)
		}
		if t.After(until) {
			until = t
		}
	}
	return until, nil
}

// loginFailure counts a failed login against k (see countFailure), audits it and returns
// the error for the client: *LockedError when this failure locked the client out, else
// ErrUnauthenticated.
func (s *Service) loginFailure(ctx context.Context, now time.Time, m Meta, u *User, login string, k lockKeys) error {
	until, err := s.countFailure(ctx, now, m, u, login, k)
	s.auditLoginFailed(ctx, m, u, login, "invalid_credentials")
	return failureError(until, err, badCredentials())
}

// failureError is what a client gets for a wrong password: a store failure, *LockedError
// when the failure locked it out (until is set), else wrong.
func failureError(until time.Time, err, wrong error) error {
	if err != nil {
		return fmt.Errorf("auth: recording failed login: %w", err)
	}
	if !until.IsZero() {
		return &LockedError{Until: until}
	}
	return wrong
}

// countFailure counts a wrong password against k (see lockKeys) and audits any lock it
// caused. It returns the end of the lock the client is now under (k.ip or k.userIP), or zero.
func (s *Service) countFailure(ctx context.Context, now time.Time, m Meta, u *User, login string, k lockKeys) (time.Time, error) {
	userLocked, err := s.lockedUntil(ctx, now, k.user)
	if err != nil {
		return time.Time{}, err
	}
	var until time.Time
	var storeErr error
	for _, c := range []struct {
		key, kind string
		max       int
	}{
		{k.ip, "ip", s.o.MaxLoginAttempts},
		{k.userIP, "user_ip", s.o.MaxLoginAttempts},
		{k.user, "user", s.o.MaxLoginAttempts},
	} {
		if c.key == "" {
			continue
		}
		if c.kind == "user_ip" && !userLocked.IsZero() {
			c.max = 1 // the username is under attack: one failure locks this client out
		}
		t, err := s.o.Lockout.Fail(ctx, c.key, now, s.o.LockoutWindow, c.max, s.o.LockoutDuration)
		if err != nil {
			storeErr = errors.Join(storeErr, err)
			continue
		}
		if t.IsZero() || c.kind == "user" && !userLocked.IsZero() {
			continue // not locked, or the soft lock was already there
		}
		e := audit.Event{Action: audit.AccountLocked, Username: truncate(login, 100), Success: true,
			Details: map[string]any{"key": c.kind, "until": t.UTC().Format(time.RFC3339)}}
		if u != nil {
			e.UserID, e.Username, e.TargetType, e.TargetID = u.ID, u.Username, "user", idString(u.ID)
		}
		s.audit(ctx, m, e)
		if c.kind != "user" && t.After(until) {
			until = t
		}
	}
	return until, storeErr
}

// verifyCurrentPassword checks the current password p gave for a sensitive change to its
// own account u (action names the change for the audit log). It goes through the lockout
// like a login from m.IP: a locked-out client gets *LockedError before any check; a wrong
// password is audited (action, success false) and counted like a failed login, and gives
// ErrUnauthenticated, or *LockedError when it locked the client out. Other errors: ErrBusy,
// store errors.
func (s *Service) verifyCurrentPassword(ctx context.Context, p *Principal, u *User, password string, m Meta, action string) error {
	now := s.now()
	k := newLockKeys(userLockKey(u.Username), m.IP)
	until, err := s.lockedUntil(ctx, now, k.ip, k.userIP)
	if err != nil {
		return err
	}
	if !until.IsZero() {
		return &LockedError{Until: until}
	}
	ok, _, err := s.o.Hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return fmt.Errorf("auth: verifying password: %w", err)
	}
	if ok {
		return nil
	}
	until, err = s.countFailure(ctx, now, m, u, u.Username, k)
	s.audit(ctx, m, actor(p, audit.Event{Action: action, TargetType: "user", TargetID: idString(u.ID),
		Success: false, Error: "current password is incorrect", Details: map[string]any{"reason": "invalid_current_password"}}))
	return failureError(until, err, fmt.Errorf("%w: current password is incorrect", ErrUnauthenticated))
}

func (s *Service) resetLockout(ctx context.Context, keys ...string) {
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := s.o.Lockout.Reset(ctx, k); err != nil {
			s.log.WarnContext(ctx, "auth: resetting lockout failed", slog.String("key", k), slog.Any("error", err))
		}
	}
}

func (s *Service) auditLoginFailed(ctx context.Context, m Meta, u *User, login, reason string) {
	e := audit.Event{Action: audit.LoginFailed, Username: truncate(login, 100), Success: false,
		Error: reason, Details: map[string]any{"reason": reason}}
	if u != nil {
		e.UserID, e.Username, e.TargetType, e.TargetID = u.ID, u.Username, "user", idString(u.ID)
	}
	s.audit(ctx, m, e)
}

// startSession creates a session for u and returns its first token pair.
func (s *Service) startSession(ctx context.Context, u *User, m Meta) (*TokenPair, error) {
	now := s.now()
	jti := uuid.NewString()
	refresh, refreshHash, err := NewRefreshToken()
	if err != nil {
		return nil, err
	}
	sess := &Session{
		UserID: u.ID, TokenHash: HashToken(jti), RefreshHash: refreshHash,
		IPAddress: truncate(m.IP, 64), UserAgent: truncate(m.UserAgent, 512),
		CreatedAt: now, LastActivity: now,
		ExpiresAt: now.Add(s.o.AccessTTL), RefreshExpiresAt: now.Add(s.o.RefreshTTL),
	}
	if err := s.o.Sessions.CreateSession(ctx, sess); err != nil {
		return nil, fmt.Errorf("auth: creating session: %w", err)
	}
	access, err := s.issueAccess(u, sess.ID, jti)
	if err != nil {
		return nil, err
	}
	s.enforceSessionCap(ctx, u, now, m)
	return s.pair(access, refresh, sess.ID, u), nil
}

// issueAccess signs an access token for u in session sid with the given jti.
func (s *Service) issueAccess(u *User, sid int64, jti string) (string, error) {
	tok, _, err := s.o.Tokens.Issue(Claims{UserID: u.ID, Username: u.Username, Role: string(u.Role),
		SessionID: sid, ID: jti, Type: AccessToken}, s.o.AccessTTL)
	if err != nil {
		return "", fmt.Errorf("auth: issuing access token: %w", err)
	}
	return tok, nil
}

func (s *Service) pair(access, refresh string, sid int64, u *User) *TokenPair {
	return &TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "bearer",
		ExpiresIn: int(s.o.AccessTTL / time.Second), SessionID: sid, User: public(u)}
}

// enforceSessionCap revokes u's oldest live sessions beyond MaxSessionsPerUser. Failures
// are logged: the login itself succeeded.
func (s *Service) enforceSessionCap(ctx context.Context, u *User, now time.Time, m Meta) {
	live, err := s.o.Sessions.ListSessions(ctx, u.ID, true, now)
	if err != nil {
		s.log.WarnContext(ctx, "auth: listing sessions for the cap failed", slog.Int64("user_id", u.ID), slog.Any("error", err))
		return
	}
	if len(live) <= s.o.MaxSessionsPerUser {
		return
	}
	for _, old := range live[s.o.MaxSessionsPerUser:] { // newest first: the tail is the oldest
		if err := s.o.Sessions.RevokeSession(ctx, old.ID, ReasonSessionLimit, now); err != nil {
			s.log.WarnContext(ctx, "auth: revoking session over the cap failed", slog.Int64("session_id", old.ID), slog.Any("error", err))
			continue
		}
		s.invalidateSessions(old.ID)
		s.audit(ctx, m, audit.Event{UserID: u.ID, Username: u.Username, Action: audit.SessionRevoked,
			TargetType: "session", TargetID: idString(old.ID), Success: true,
			Details: map[string]any{"reason": ReasonSessionLimit}})
	}
}

// Refresh rotates a refresh token. Reuse of an already rotated token outside the grace
// window revokes the session (ErrUnauthenticated, audited token_reuse_detected).
//
// Inside the grace window (RefreshGrace after the rotation) the immediately previous token
// gets the same successor refresh token back, with a new access token, so two tabs racing
// to refresh both succeed. The consume step is the store's compare-and-swap, so concurrent
// refreshes with one token yield at most one successor. With RotateRefresh false the refresh
// token stays the same and only the access token is renewed. In single-user mode the API key
// is accepted as the refresh token and returned unchanged.
func (s *Service) Refresh(ctx context.Context, refreshToken string, m Meta) (*TokenPair, error) {
	if s.o.SingleUser {
		if err := s.singleUserClient(m); err != nil {
			return nil, err
		}
		if !s.singleKeyMatches(refreshToken) {
			return nil, invalidRefresh()
		}
		return s.singlePair(s.singleUser(ctx)), nil
	}
	if refreshToken == "" || len(refreshToken) > maxRefreshTokenBytes {
		return nil, invalidRefresh()
	}
	now := s.now()
	h := HashToken(refreshToken)
	sess, err := s.o.Sessions.SessionByRefreshHash(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return nil, invalidRefresh()
	}
	if err != nil {
		return nil, fmt.Errorf("auth: looking up refresh token: %w", err)
	}
	if sess.RevokedAt != nil {
		return nil, invalidRefresh()
	}
	if !now.Before(sess.RefreshExpiresAt) {
		return nil, fmt.Errorf("%w: %w: refresh token expired", ErrUnauthenticated, ErrExpired)
	}
	u, err := s.o.Users.UserByID(ctx, sess.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, invalidRefresh()
	}
	if err != nil {
		return nil, fmt.Errorf("auth: looking up user: %w", err)
	}
	if !u.IsActive {
		return nil, invalidRefresh()
	}
	switch {
	case CompareHash(sess.RefreshHash, h):
		return s.rotate(ctx, sess, u, refreshToken, h, now, m)
	case CompareHash(sess.PrevRefreshHash, h):
		return s.replay(ctx, sess, u, refreshToken, now, m)
	}
	return nil, invalidRefresh()
}

// rotate exchanges the session's current refresh token.
func (s *Service) rotate(ctx context.Context, sess *Session, u *User, token, h string, now time.Time, m Meta) (*TokenPair, error) {
	jti := uuid.NewString()
	access, err := s.issueAccess(u, sess.ID, jti)
	if err != nil {
		return nil, err
	}
	accessExp := now.Add(s.o.AccessTTL)
	next := token
	if !s.o.RotateRefresh {
		err = s.o.Sessions.UpdateAccess(ctx, sess.ID, HashToken(jti), accessExp, now)
	} else {
		next = s.successor(sess.ID, token)
		err = s.o.Sessions.RotateRefresh(ctx, sess.ID, h, HashToken(next), HashToken(jti), accessExp, now.Add(s.o.RefreshTTL), now)
		if errors.Is(err, ErrConflict) {
			// A concurrent refresh won the swap, or the session was revoked meanwhile.
			cur, rerr := s.o.Sessions.SessionByID(ctx, sess.ID)
			if rerr == nil && cur.RevokedAt == nil && CompareHash(cur.PrevRefreshHash, h) {
				return s.replay(ctx, cur, u, token, now, m)
			}
			return nil, invalidRefresh()
		}
	}
	if errors.Is(err, ErrNotFound) {
		return nil, invalidRefresh()
	}
	if err != nil {
		return nil, fmt.Errorf("auth: rotating refresh token: %w", err)
	}
	s.audit(ctx, m, audit.Event{UserID: u.ID, Username: u.Username, Action: audit.TokenRefresh,
		TargetType: "session", TargetID: idString(sess.ID), Success: true})
	return s.pair(access, next, sess.ID, u), nil
}

// replay handles the session's previous refresh token: inside the grace window it gets the
// same successor again; outside it is reuse, which revokes the session.
func (s *Service) replay(ctx context.Context, sess *Session, u *User, token string, now time.Time, m Meta) (*TokenPair, error) {
	if sess.RotatedAt == nil || now.Sub(*sess.RotatedAt) > s.o.RefreshGrace {
		if err := s.o.Sessions.RevokeSession(ctx, sess.ID, ReasonTokenReuse, now); err != nil {
			s.log.ErrorContext(ctx, "auth: revoking session after token reuse failed", slog.Int64("session_id", sess.ID), slog.Any("error", err))
		}
		s.invalidateSessions(sess.ID)
		s.audit(ctx, m, audit.Event{UserID: u.ID, Username: u.Username, Action: audit.TokenReuseDetected,
			TargetType: "session", TargetID: idString(sess.ID), Success: false,
			Error: "rotated refresh token presented again; session revoked"})
		return nil, fmt.Errorf("%w: refresh token was already used", ErrUnauthenticated)
	}
	next := s.successor(sess.ID, token)
	if !CompareHash(sess.RefreshHash, HashToken(next)) {
		// Only possible when replicas derive successors with different keys.
		s.log.WarnContext(ctx, "auth: grace refresh does not match the stored successor; check RefreshSecret", slog.Int64("session_id", sess.ID))
		return nil, invalidRefresh()
	}
	jti := uuid.NewString()
	access, err := s.issueAccess(u, sess.ID, jti)
	if err != nil {
		return nil, err
	}
	if err := s.o.Sessions.UpdateAccess(ctx, sess.ID, HashToken(jti), now.Add(s.o.AccessTTL), now); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, invalidRefresh()
		}
		return nil, fmt.Errorf("auth: recording access token: %w", err)
	}
	s.audit(ctx, m, audit.Event{UserID: u.ID, Username: u.Username, Action: audit.TokenRefresh,
		TargetType: "session", TargetID: idString(sess.ID), Success: true, Details: map[string]any{"grace": true}})
	return s.pair(access, next, sess.ID, u), nil
}

// successor derives the refresh token that replaces token in session sid. It is
// deterministic so a grace-window replay returns the identical token, and unpredictable
// without refreshKey so a stolen old token does not reveal its successors.
func (s *Service) successor(sid int64, token string) string {
	mac := hmac.New(sha256.New, s.refreshKey)
	mac.Write([]byte("refresh-successor|" + strconv.FormatInt(sid, 10) + "|" + token))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Logout revokes the principal's session, or all the user's sessions (allDevices, or a
// principal without a session such as an API key, which then needs account.write).
// Errors: ErrUnauthenticated for a nil principal, ErrForbidden, store errors. In
// single-user mode there is nothing to end and it returns nil.
func (s *Service) Logout(ctx context.Context, p *Principal, allDevices bool, m Meta) error {
	if p == nil {
		return fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	if s.o.SingleUser || p.Via == "single_user" {
		return nil
	}
	now := s.now()
	if p.SessionID != 0 && !allDevices {
		if err := s.o.Sessions.RevokeSession(ctx, p.SessionID, ReasonLogout, now); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("auth: revoking session: %w", err)
		}
		s.invalidateSessions(p.SessionID)
		s.audit(ctx, m, actor(p, audit.Event{Action: audit.Logout, TargetType: "session",
			TargetID: idString(p.SessionID), Success: true}))
		return nil
	}
	if p.SessionID == 0 {
		if err := require(p, PermAccountWrite); err != nil {
			return err
		}
	}
	ids, err := s.o.Sessions.RevokeUserSessions(ctx, p.UserID, 0, ReasonLogoutAll, now)
	if err != nil {
		return fmt.Errorf("auth: revoking sessions: %w", err)
	}
	s.invalidateUser(p.UserID)
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.LogoutAll, TargetType: "user",
		TargetID: idString(p.UserID), Success: true, Details: map[string]any{"sessions_revoked": len(ids)}}))
	return nil
}

// singleUserClient returns ErrClientNotAllowed unless SingleUserIPs is empty or holds the
// client address m.IP (the resolved client, behind trusted proxies); an unknown address is
// refused when the list is set. Single-user mode has one credential for everything, so
// every transport authenticates through Authenticate, Login or Refresh and meets this check.
func (s *Service) singleUserClient(m Meta) error {
	if len(s.o.SingleUserIPs) == 0 {
		return nil
	}
	if a, err := netip.ParseAddr(m.IP); err == nil {
		a = a.Unmap().WithZone("")
		for _, p := range s.o.SingleUserIPs {
			if p.Contains(a) {
				return nil
			}
		}
	}
	return ErrClientNotAllowed
}

// singleKeyMatches compares v with SingleUserAPIKey in constant time (lengths included:
// both sides are hashed first).
func (s *Service) singleKeyMatches(v string) bool {
	if v == "" || s.o.SingleUserAPIKey == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(v)), sha256.Sum256([]byte(s.o.SingleUserAPIKey))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// singleUser returns the single-user account: the stored user SingleUserID when there is
// one, else a synthetic active admin.
func (s *Service) singleUser(ctx context.Context) *User {
	if u, err := s.o.Users.UserByID(ctx, s.o.SingleUserID); err == nil {
		u.Role, u.IsActive = RoleAdmin, true
		return u
	}
	return &User{ID: s.o.SingleUserID, Username: "single_user", Role: RoleAdmin, IsActive: true, IsVerified: true}
}

// singlePair is single-user mode's token object: the API key as both tokens.
func (s *Service) singlePair(u *User) *TokenPair {
	return s.pair(s.o.SingleUserAPIKey, s.o.SingleUserAPIKey, 0, u)
}
