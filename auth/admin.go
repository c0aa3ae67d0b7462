package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/tldw-go/tldw/audit"
)

// LiveSessionCounter is an optional SessionStore extension: Stats uses it when the store has
// it and otherwise counts per user.
type LiveSessionCounter interface {
	// CountLiveSessions counts sessions that are not revoked and not expired at now.
	CountLiveSessions(ctx context.Context, now time.Time) (int, error)
}

// ListUsers lists users (users.read). Limit is clamped to 1..100 (default 20); an unknown
// Role filter is ErrInvalid. Password hashes are blanked.
func (s *Service) ListUsers(ctx context.Context, p *Principal, f UserFilter) ([]User, int, error) {
	if err := require(p, PermUsersRead); err != nil {
		return nil, 0, err
	}
	if f.Role != "" {
		if _, err := ParseRole(string(f.Role)); err != nil {
			return nil, 0, err
		}
	}
	switch {
	case f.Limit <= 0:
		f.Limit = 20
	case f.Limit > 100:
		f.Limit = 100
	}
	f.Offset = max(f.Offset, 0)
	f.Search = truncate(strings.TrimSpace(f.Search), 100)
	users, total, err := s.o.Users.ListUsers(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("auth: listing users: %w", err)
	}
	for i := range users {
		users[i].PasswordHash = ""
	}
	return users, total, nil
}

// User returns one user (users.read, or the principal itself with account.read), without
// its password hash. Errors: ErrNotFound, ErrForbidden, ErrUnauthenticated.
func (s *Service) User(ctx context.Context, p *Principal, id int64) (*User, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	perm := PermUsersRead
	if id == p.UserID && id != 0 {
		perm = PermAccountRead
	}
	if err := require(p, perm); err != nil {
		return nil, err
	}
	u, err := s.o.Users.UserByID(ctx, id)
	if err != nil {
		return nil, storeErr("loading user", err)
	}
	return public(u), nil
}

// CreateUser creates an account (users.write). Role "" means DefaultRole; the password must
// satisfy the policy; StorageQuotaMB nil means DefaultQuotaMB. Errors: ErrInvalid,
// *PolicyError, ErrConflict, ErrForbidden, ErrBusy, store errors.
func (s *Service) CreateUser(ctx context.Context, p *Principal, n NewUser, m Meta) (*User, error) {
	if err := require(p, PermUsersWrite); err != nil {
		return nil, err
	}
	role := n.Role
	if role == "" {
		role = s.o.DefaultRole
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, err
	}
	if !CanActOn(p.Role, role, PermUsersWrite) {
		return nil, fmt.Errorf("%w: a %s may not create a %s account", ErrForbidden, p.Role, role)
	}
	username, email, _, err := identity(n.Username, n.Email)
	if err != nil {
		return nil, err
	}
	if err := s.o.Policy.Check(n.Password, username); err != nil {
		return nil, err
	}
	quota := n.StorageQuotaMB
	if quota == nil {
		quota = s.o.DefaultQuotaMB
	}
	if quota != nil && *quota < 0 {
		return nil, fmt.Errorf("%w: storage quota must not be negative", ErrInvalid)
	}
	hash, err := s.o.Hasher.Hash(ctx, n.Password)
	if err != nil {
		return nil, err
	}
	u := &User{Username: username, Email: email, PasswordHash: hash, Role: role, IsActive: true,
		IsVerified: n.IsVerified, MustChangePassword: n.MustChangePassword, StorageQuotaMB: cloneQuota(quota),
		UpdatedAt: s.now()}
	if p.UserID > 0 {
		by := p.UserID
		u.CreatedBy = &by
	}
	if err := s.o.Users.CreateUser(ctx, u); err != nil {
		return nil, storeErr("creating user", err)
	}
	s.addHistory(ctx, u.ID, hash)
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.UserCreated, TargetType: "user", TargetID: idString(u.ID),
		Success: true, Details: map[string]any{"username": u.Username, "role": string(u.Role)}}))
	return public(u), nil
}

// UpdateUser applies an admin's change. Role changes need users.roles; deactivation
// users.deactivate; moderators never touch admins; the last active admin cannot be demoted
// or deactivated (ErrConflict). Deactivation and role changes take effect on the next
// request.
//
// Email and IsVerified need users.write, StorageQuotaMB quotas.write. Deactivation also
// revokes all the user's sessions; nobody deactivates their own account (ErrInvalid). An
// update with no fields is ErrInvalid. Each change is audited (role_changed,
// user_deactivated/user_activated, quota_changed, user_updated) with u.Reason.
func (s *Service) UpdateUser(ctx context.Context, p *Principal, id int64, u UserUpdate, m Meta) (*User, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	if u.Email == nil && u.Role == nil && u.IsActive == nil && u.IsVerified == nil && u.StorageQuotaMB == nil {
		return nil, fmt.Errorf("%w: no fields to update", ErrInvalid)
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	old, err := s.o.Users.UserByID(ctx, id)
	if err != nil {
		return nil, storeErr("loading user", err)
	}
	next := *old
	var changed []any
	if u.Email != nil || u.IsVerified != nil {
		if err := requireOn(p, old, PermUsersWrite); err != nil {
			return nil, err
		}
	}
	if u.Email != nil {
		if _, err := CanonicalEmail(*u.Email); err != nil {
			return nil, err
		}
		email := norm.NFKC.String(strings.TrimSpace(*u.Email))
		if email != old.Email {
			next.Email = email
			changed = append(changed, "email")
		}
	}
	if u.IsVerified != nil && *u.IsVerified != old.IsVerified {
		next.IsVerified = *u.IsVerified
		changed = append(changed, "is_verified")
	}
	if u.StorageQuotaMB != nil {
		if err := requireOn(p, old, PermQuotasWrite); err != nil {
			return nil, err
		}
		q := *u.StorageQuotaMB
		if q != nil && *q < 0 {
			return nil, fmt.Errorf("%w: storage quota must not be negative", ErrInvalid)
		}
		next.StorageQuotaMB = cloneQuota(q)
	}
	if u.Role != nil {
		role, err := ParseRole(string(*u.Role))
		if err != nil {
			return nil, err
		}
		if err := requireOn(p, old, PermUsersRoles); err != nil {
			return nil, err
		}
		if !CanActOn(p.Role, role, PermUsersRoles) {
			return nil, fmt.Errorf("%w: a %s may not grant %s", ErrForbidden, p.Role, role)
		}
		next.Role = role
	}
	if u.IsActive != nil {
		if err := requireOn(p, old, PermUsersDeactivate); err != nil {
			return nil, err
		}
		if !*u.IsActive && id == p.UserID {
			return nil, fmt.Errorf("%w: cannot deactivate your own account", ErrInvalid)
		}
		next.IsActive = *u.IsActive
	}
	if old.Role == RoleAdmin && old.IsActive && !(next.Role == RoleAdmin && next.IsActive) {
		n, err := s.o.Users.CountActiveAdmins(ctx)
		if err != nil {
			return nil, fmt.Errorf("auth: counting admins: %w", err)
		}
		if n <= 1 {
			return nil, fmt.Errorf("%w: cannot remove the last active admin", ErrConflict)
		}
	}
	now := s.now()
	next.UpdatedAt = now
	if err := s.o.Users.UpdateUser(ctx, &next); err != nil {
		return nil, storeErr("updating user", err)
	}

	details := func(d map[string]any) map[string]any {
		if u.Reason != "" {
			d["reason"] = truncate(u.Reason, 500)
		}
		return d
	}
	target := idString(id)
	if next.Role != old.Role || next.IsActive != old.IsActive {
		s.invalidateUser(id)
	}
	if next.Role != old.Role {
		s.audit(ctx, m, actor(p, audit.Event{Action: audit.RoleChanged, TargetType: "user", TargetID: target, Success: true,
			Details: details(map[string]any{"old_role": string(old.Role), "new_role": string(next.Role)})}))
	}
	if next.IsActive != old.IsActive {
		if next.IsActive {
			s.audit(ctx, m, actor(p, audit.Event{Action: audit.UserActivated, TargetType: "user", TargetID: target,
				Success: true, Details: details(map[string]any{})}))
		} else {
			ids, err := s.o.Sessions.RevokeUserSessions(ctx, id, 0, ReasonDeactivated, now)
			s.invalidateSessions(ids...)
			if err != nil {
				return nil, fmt.Errorf("auth: revoking sessions of deactivated user: %w", err)
			}
			s.audit(ctx, m, actor(p, audit.Event{Action: audit.UserDeactivated, TargetType: "user", TargetID: target,
				Success: true, Details: details(map[string]any{"sessions_revoked": len(ids)})}))
		}
	}
	if u.StorageQuotaMB != nil && !sameQuota(old.StorageQuotaMB, next.StorageQuotaMB) {
		s.audit(ctx, m, actor(p, audit.Event{Action: audit.QuotaChanged, TargetType: "user", TargetID: target, Success: true,
			Details: details(map[string]any{"old_storage_quota_mb": quotaValue(old.StorageQuotaMB),
				"new_storage_quota_mb": quotaValue(next.StorageQuotaMB)})}))
	}
	if len(changed) > 0 {
		s.audit(ctx, m, actor(p, audit.Event{Action: audit.UserUpdated, TargetType: "user", TargetID: target, Success: true,
			Details: details(map[string]any{"fields": changed})}))
	}
	return public(&next), nil
}

func sameQuota(a, b *int64) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// quotaValue renders a quota for audit details: nil (unlimited) or the number.
func quotaValue(q *int64) any {
	if q == nil {
		return nil
	}
	return *q
}

// ResetPassword sets a user's password (users.write), marks it must-change and revokes
// their sessions.
//
// The password must satisfy the policy (*PolicyError). Errors: ErrNotFound, ErrForbidden,
// ErrBusy, store errors.
func (s *Service) ResetPassword(ctx context.Context, p *Principal, id int64, password string, m Meta) error {
	if p == nil {
		return fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	u, err := s.o.Users.UserByID(ctx, id)
	if err != nil {
		return storeErr("loading user", err)
	}
	if err := requireOn(p, u, PermUsersWrite); err != nil {
		return err
	}
	if err := s.o.Policy.Check(password, u.Username); err != nil {
		return err
	}
	hash, err := s.o.Hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	now := s.now()
	u.PasswordHash, u.MustChangePassword, u.UpdatedAt = hash, true, now
	if err := s.o.Users.UpdateUser(ctx, u); err != nil {
		return storeErr("resetting password", err)
	}
	s.invalidateUser(id) // must_change_password is cached with the user
	s.addHistory(ctx, id, hash)
	ids, err := s.o.Sessions.RevokeUserSessions(ctx, id, 0, ReasonPasswordReset, now)
	s.invalidateSessions(ids...)
	if err != nil {
		return fmt.Errorf("auth: revoking sessions after password reset: %w", err)
	}
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.PasswordReset, TargetType: "user", TargetID: idString(id),
		Success: true, Details: map[string]any{"sessions_revoked": len(ids)}}))
	return nil
}

// Unlock clears lockout for a user (users.deactivate): the username's failure count and
// lock. Errors: ErrNotFound, ErrForbidden, store errors.
func (s *Service) Unlock(ctx context.Context, p *Principal, id int64, m Meta) error {
	if p == nil {
		return fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	u, err := s.o.Users.UserByID(ctx, id)
	if err != nil {
		return storeErr("loading user", err)
	}
	if err := requireOn(p, u, PermUsersDeactivate); err != nil {
		return err
	}
	if err := s.o.Lockout.ResetTree(ctx, userLockKey(u.Username)); err != nil {
		return fmt.Errorf("auth: clearing lockout: %w", err)
	}
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.AccountUnlocked, TargetType: "user", TargetID: idString(id), Success: true}))
	return nil
}

// CreateCodes makes registration codes (codes.write; only admins may grant admin or
// moderator roles).
//
// Zero fields take CodeDefaultMaxUses, CodeDefaultExpiry, DefaultRole and a count of 1;
// Count above MaxBatchCodes, negative values, an unknown role or a malformed email domain
// are ErrInvalid. Each code is audited without its text.
func (s *Service) CreateCodes(ctx context.Context, p *Principal, r CodeRequest, m Meta) ([]RegistrationCode, error) {
	if err := require(p, PermCodesWrite); err != nil {
		return nil, err
	}
	if r.Count == 0 {
		r.Count = 1
	}
	if r.MaxUses == 0 {
		r.MaxUses = s.o.CodeDefaultMaxUses
	}
	if r.Expiry == 0 {
		r.Expiry = s.o.CodeDefaultExpiry
	}
	if r.RoleToGrant == "" {
		r.RoleToGrant = s.o.DefaultRole
	}
	switch {
	case r.Count < 0 || r.Count > s.o.MaxBatchCodes:
		return nil, fmt.Errorf("%w: count must be between 1 and %d", ErrInvalid, s.o.MaxBatchCodes)
	case r.MaxUses < 0:
		return nil, fmt.Errorf("%w: max uses must be positive", ErrInvalid)
	case r.Expiry < 0:
		return nil, fmt.Errorf("%w: expiry must be positive", ErrInvalid)
	}
	role, err := ParseRole(string(r.RoleToGrant))
	if err != nil {
		return nil, err
	}
	if err := mayGrant(p, role); err != nil {
		return nil, err
	}
	domain := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(r.AllowedEmailDomain), "@"))
	if domain != "" {
		if _, err := CanonicalEmail("x@" + domain); err != nil || strings.Contains(domain, "@") {
			return nil, fmt.Errorf("%w: allowed email domain is not a valid domain", ErrInvalid)
		}
	}
	now := s.now()
	out := make([]RegistrationCode, 0, r.Count)
	for range r.Count {
		text, err := NewRegistrationCode()
		if err != nil {
			return out, err
		}
		c := RegistrationCode{Code: text, MaxUses: r.MaxUses, ExpiresAt: now.Add(r.Expiry), RoleToGrant: role,
			AllowedEmailDomain: domain, IsActive: true, CreatedBy: p.UserID, CreatedAt: now}
		if err := s.o.Codes.CreateCode(ctx, &c); err != nil {
			return out, fmt.Errorf("auth: creating registration code: %w", err)
		}
		s.audit(ctx, m, actor(p, audit.Event{Action: audit.RegistrationCodeCreated, TargetType: "registration_code",
			TargetID: idString(c.ID), Success: true, Details: map[string]any{"max_uses": c.MaxUses,
				"expires_at": c.ExpiresAt.Format(time.RFC3339), "role_to_grant": string(role),
				"allowed_email_domain": domain}}))
		out = append(out, c)
	}
	return out, nil
}

// mayGrant checks that p may mint or revoke a code granting role: only admins handle admin
// and moderator codes.
func mayGrant(p *Principal, role Role) error {
	if p.Role != RoleAdmin && (role == RoleAdmin || role == RoleModerator) {
		return fmt.Errorf("%w: only admins may grant the %s role", ErrForbidden, role)
	}
	if !CanActOn(p.Role, role, PermCodesWrite) {
		return fmt.Errorf("%w: a %s may not grant %s", ErrForbidden, p.Role, role)
	}
	return nil
}

// ListCodes lists registration codes (codes.read), newest first; includeInactive adds
// revoked ones.
func (s *Service) ListCodes(ctx context.Context, p *Principal, includeInactive bool) ([]RegistrationCode, error) {
	if err := require(p, PermCodesRead); err != nil {
		return nil, err
	}
	codes, err := s.o.Codes.ListCodes(ctx, includeInactive)
	if err != nil {
		return nil, fmt.Errorf("auth: listing registration codes: %w", err)
	}
	return codes, nil
}

// RevokeCode deactivates a registration code (codes.write). Moderators cannot revoke admin
// or moderator codes. Errors: ErrNotFound, ErrForbidden, store errors.
func (s *Service) RevokeCode(ctx context.Context, p *Principal, id int64, m Meta) error {
	if err := require(p, PermCodesWrite); err != nil {
		return err
	}
	c, err := s.o.Codes.CodeByID(ctx, id)
	if err != nil {
		return storeErr("loading registration code", err)
	}
	if err := mayGrant(p, c.RoleToGrant); err != nil {
		return err
	}
	if err := s.o.Codes.RevokeCode(ctx, id); err != nil {
		return storeErr("revoking registration code", err)
	}
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.RegistrationCodeRevoked, TargetType: "registration_code",
		TargetID: idString(id), Success: true}))
	return nil
}

// Stats summarises accounts (stats.read). LiveSessions uses LiveSessionCounter when the
// session store has it and otherwise walks the active users. ActiveCodes counts codes that
// can still be redeemed.
func (s *Service) Stats(ctx context.Context, p *Principal) (Stats, error) {
	if err := require(p, PermStatsRead); err != nil {
		return Stats{}, err
	}
	var st Stats
	var err error
	if st.TotalUsers, err = s.o.Users.CountUsers(ctx); err != nil {
		return Stats{}, fmt.Errorf("auth: counting users: %w", err)
	}
	active := true
	count := func(f UserFilter) int {
		if err != nil {
			return 0
		}
		f.Limit = 1
		var n int
		_, n, err = s.o.Users.ListUsers(ctx, f)
		return n
	}
	st.ActiveUsers = count(UserFilter{IsActive: &active})
	st.Admins = count(UserFilter{Role: RoleAdmin})
	st.Moderators = count(UserFilter{Role: RoleModerator})
	if err != nil {
		return Stats{}, fmt.Errorf("auth: counting users: %w", err)
	}
	now := s.now()
	if st.LiveSessions, err = s.countLiveSessions(ctx, now); err != nil {
		return Stats{}, err
	}
	codes, err := s.o.Codes.ListCodes(ctx, false)
	if err != nil {
		return Stats{}, fmt.Errorf("auth: listing registration codes: %w", err)
	}
	for i := range codes {
		if codeUsable(&codes[i], now) {
			st.ActiveCodes++
		}
	}
	return st, nil
}

func (s *Service) countLiveSessions(ctx context.Context, now time.Time) (int, error) {
	if c, ok := s.o.Sessions.(LiveSessionCounter); ok {
		n, err := c.CountLiveSessions(ctx, now)
		if err != nil {
			return 0, fmt.Errorf("auth: counting sessions: %w", err)
		}
		return n, nil
	}
	active, total := true, 0
	for off := 0; ; off += 100 {
		users, _, err := s.o.Users.ListUsers(ctx, UserFilter{IsActive: &active, Limit: 100, Offset: off})
		if err != nil {
			return 0, fmt.Errorf("auth: listing users: %w", err)
		}
		for _, u := range users {
			list, err := s.o.Sessions.ListSessions(ctx, u.ID, true, now)
			if err != nil {
				return 0, fmt.Errorf("auth: listing sessions: %w", err)
			}
			total += len(list)
		}
		if len(users) < 100 {
			return total, nil
		}
	}
}

// Bootstrap creates the first admin when there are no users. An empty password generates
// one, returned so the host can print it once. created=false when users already exist.
//
// A given password must satisfy the policy (*PolicyError); a generated one does, and the
// account is then marked must-change. A concurrent bootstrap that loses the race reports
// created=false. Errors: ErrInvalid (identifiers), ErrBusy, store errors.
func (s *Service) Bootstrap(ctx context.Context, username, email, password string) (created bool, generated string, err error) {
	n, err := s.o.Users.CountUsers(ctx)
	if err != nil {
		return false, "", fmt.Errorf("auth: counting users: %w", err)
	}
	if n > 0 {
		return false, "", nil
	}
	name, mail, _, err := identity(username, email)
	if err != nil {
		return false, "", err
	}
	if password == "" {
		if generated, err = s.generatePassword(name); err != nil {
			return false, "", err
		}
		password = generated
	} else if err := s.o.Policy.Check(password, name); err != nil {
		return false, "", err
	}
	hash, err := s.o.Hasher.Hash(ctx, password)
	if err != nil {
		return false, "", err
	}
	u := &User{Username: name, Email: mail, PasswordHash: hash, Role: RoleAdmin, IsActive: true, IsVerified: true,
		MustChangePassword: generated != "", StorageQuotaMB: cloneQuota(s.o.DefaultQuotaMB), UpdatedAt: s.now()}
	if err := s.o.Users.CreateUser(ctx, u); err != nil {
		if errors.Is(err, ErrConflict) {
			if n, cerr := s.o.Users.CountUsers(ctx); cerr == nil && n > 0 {
				return false, "", nil
			}
		}
		return false, "", storeErr("creating first admin", err)
	}
	s.addHistory(ctx, u.ID, hash)
	s.audit(ctx, Meta{}, actor(SystemPrincipal(), audit.Event{Action: audit.UserCreated, TargetType: "user",
		TargetID: idString(u.ID), Success: true, Details: map[string]any{"username": u.Username, "role": string(u.Role), "bootstrap": true}}))
	return true, generated, nil
}

// generatePassword returns a random password (24 characters, 144 bits) that satisfies the
// policy for username.
func (s *Service) generatePassword(username string) (string, error) {
	for range 1000 {
		pw, err := RandomToken(18)
		if err != nil {
			return "", err
		}
		if s.o.Policy.Check(pw, username) == nil {
			return pw, nil
		}
	}
	return "", errors.New("auth: could not generate a password that satisfies the policy")
}
