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
// satisfy the policy; StorageQuotaMB nil means DefaultQuotaMB; AudioTier "" or one of
// AudioTiers (CheckAudioTier), which needs quotas.write unless "". Errors: ErrInvalid,
// *PolicyError, ErrConflict, ErrForbidden, ErrBusy, store errors.
func (s *Service) CreateUser(ctx context.Context, p *Principal, n NewUser, m Meta) (_ *User, err error) {
	if err := require(p, PermUsersWrite); err != nil {
		return nil, err
	}
	defer s.auditDenial(ctx, m, p, "create_user", "user", 0, &err)
	role := n.Role
	if role == "" {
		role = s.o.DefaultRole
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, err
	}
	if !CanActOn(p.Role, role, PermUsersWrite) {
		return nil, Detailf(ErrForbidden, "a %s may not create a %s account", p.Role, role)
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
	if err := CheckQuota(quota); err != nil {
		return nil, err
	}
	if err := s.CheckAudioTier(n.AudioTier); err != nil {
		return nil, err
	}
	if n.AudioTier != "" {
		if err := require(p, PermQuotasWrite); err != nil {
			return nil, err
		}
	}
	hash, err := s.o.Hasher.Hash(ctx, n.Password)
	if err != nil {
		return nil, err
	}
	u := &User{Username: username, Email: email, PasswordHash: hash, Role: role, IsActive: true,
		IsVerified: n.IsVerified, MustChangePassword: n.MustChangePassword, StorageQuotaMB: cloneQuota(quota),
		AudioTier: n.AudioTier, UpdatedAt: s.now()}
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
// or deactivated (ErrLastAdmin, enforced by the store across replicas). Only the fields
// given are written, so a concurrent change to other fields is kept. Deactivation and role
// changes take effect on the next request. Refusals beyond the caller's role are audited
// as access_denied.
//
// Email and IsVerified need users.write, StorageQuotaMB quotas.write (CheckQuota's range),
// AudioTier quotas.write ("" or one of AudioTiers, CheckAudioTier).
// Deactivation also revokes all the user's sessions, in the same store transaction; nobody deactivates their own account (ErrInvalid). An
// update with no fields is ErrInvalid. Each change is audited (role_changed,
// user_deactivated/user_activated, quota_changed for the storage quota and for the audio
// tier, user_updated) with u.Reason.
func (s *Service) UpdateUser(ctx context.Context, p *Principal, id int64, u UserUpdate, m Meta) (_ *User, err error) {
	if p == nil {
		return nil, fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	if u.Email == nil && u.Role == nil && u.IsActive == nil && u.IsVerified == nil && u.StorageQuotaMB == nil &&
		u.AudioTier == nil {
		return nil, Detailf(ErrInvalid, "no fields to update")
	}
	defer s.auditDenial(ctx, m, p, "update_user", "user", id, &err)
	old, err := s.o.Users.UserByID(ctx, id)
	if err != nil {
		return nil, storeErr("loading user", err)
	}
	now := s.now()
	patch := UserPatch{UpdatedAt: now}
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
			patch.Email = &email
			changed = append(changed, "email")
		}
	}
	if u.IsVerified != nil && *u.IsVerified != old.IsVerified {
		patch.IsVerified = u.IsVerified
		changed = append(changed, "is_verified")
	}
	if u.StorageQuotaMB != nil {
		if err := requireOn(p, old, PermQuotasWrite); err != nil {
			return nil, err
		}
		if err := CheckQuota(*u.StorageQuotaMB); err != nil {
			return nil, err
		}
		q := cloneQuota(*u.StorageQuotaMB)
		patch.StorageQuotaMB = &q
	}
	if u.AudioTier != nil {
		if err := requireOn(p, old, PermQuotasWrite); err != nil {
			return nil, err
		}
		if err := s.CheckAudioTier(*u.AudioTier); err != nil {
			return nil, err
		}
		patch.AudioTier = u.AudioTier
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
			return nil, Detailf(ErrForbidden, "a %s may not grant %s", p.Role, role)
		}
		patch.Role = &role
	}
	if u.IsActive != nil {
		if err := requireOn(p, old, PermUsersDeactivate); err != nil {
			return nil, err
		}
		if !*u.IsActive && id == p.UserID {
			return nil, Detailf(ErrInvalid, "cannot deactivate your own account")
		}
		patch.IsActive = u.IsActive
		if !*u.IsActive {
			patch.Revoke = &Revocation{Reason: ReasonDeactivated}
		}
	}
	// The store checks the last-admin rule atomically with the write and revokes a
	// deactivated user's sessions in the same transaction.
	res, err := s.o.Users.UpdateUser(ctx, id, patch)
	if err != nil {
		return nil, storeErr("updating user", err)
	}
	s.invalidateSessions(res.Sessions...)
	next := res.User

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
			s.audit(ctx, m, actor(p, audit.Event{Action: audit.UserDeactivated, TargetType: "user", TargetID: target,
				Success: true, Details: details(map[string]any{"sessions_revoked": len(res.Sessions)})}))
		}
	}
	if u.StorageQuotaMB != nil && !sameQuota(old.StorageQuotaMB, next.StorageQuotaMB) {
		s.audit(ctx, m, actor(p, audit.Event{Action: audit.QuotaChanged, TargetType: "user", TargetID: target, Success: true,
			Details: details(map[string]any{"old_storage_quota_mb": quotaValue(old.StorageQuotaMB),
				"new_storage_quota_mb": quotaValue(next.StorageQuotaMB)})}))
	}
	if u.AudioTier != nil && old.AudioTier != next.AudioTier {
		s.audit(ctx, m, actor(p, audit.Event{Action: audit.QuotaChanged, TargetType: "user", TargetID: target, Success: true,
			Details: details(map[string]any{"old_audio_tier": old.AudioTier, "new_audio_tier": next.AudioTier})}))
	}
	if len(changed) > 0 {
		s.audit(ctx, m, actor(p, audit.Event{Action: audit.UserUpdated, TargetType: "user", TargetID: target, Success: true,
			Details: details(map[string]any{"fields": changed})}))
	}
	return public(next), nil
}

// MaxStorageQuotaMB is the largest storage quota a user may have, in MiB (1 PiB): byte
// counts, and sums of them over many users, stay far inside int64.
const MaxStorageQuotaMB = 1 << 30

// CheckQuota validates a storage quota in MiB (nil = unlimited): 0..MaxStorageQuotaMB, else
// ErrInvalid.
func CheckQuota(q *int64) error {
	if q != nil && (*q < 0 || *q > MaxStorageQuotaMB) {
		return Detailf(ErrInvalid, "storage quota must be between 0 and %d MB", MaxStorageQuotaMB)
	}
	return nil
}

// auditDenial audits *err as access_denied when it is a service-level ErrForbidden: the
// route let p in, but the target or the requested change is beyond p's role. op names the
// operation; targetType and target name what it acted on (target 0 = nothing yet).
func (s *Service) auditDenial(ctx context.Context, m Meta, p *Principal, op, targetType string, target int64, err *error) {
	if p == nil || !errors.Is(*err, ErrForbidden) {
		return
	}
	e := audit.Event{Action: audit.AccessDenied, Success: false, Error: (*err).Error(),
		Details: map[string]any{"operation": op, "role": string(p.Role)}}
	if target != 0 {
		e.TargetType, e.TargetID = targetType, idString(target)
	}
	s.audit(ctx, m, actor(p, e))
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
// their sessions and API keys, all in one store transaction.
//
// The password must satisfy the policy (*PolicyError). Errors: ErrNotFound, ErrForbidden,
// ErrBusy, store errors.
func (s *Service) ResetPassword(ctx context.Context, p *Principal, id int64, password string, m Meta) (err error) {
	if p == nil {
		return fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	defer s.auditDenial(ctx, m, p, "reset_password", "user", id, &err)
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
	must := true
	res, err := s.o.Users.UpdateUser(ctx, id, UserPatch{PasswordHash: &hash, MustChangePassword: &must, UpdatedAt: s.now(),
		Revoke: &Revocation{Reason: ReasonPasswordReset, APIKeys: true}})
	if err != nil {
		return storeErr("resetting password", err)
	}
	s.invalidateUser(id) // must_change_password is cached with the user
	s.invalidateSessions(res.Sessions...)
	s.addHistory(ctx, id, hash)
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.PasswordReset, TargetType: "user", TargetID: idString(id),
		Success: true, Details: map[string]any{"sessions_revoked": len(res.Sessions), "api_keys_revoked": res.APIKeys}}))
	return nil
}

// Unlock clears lockout for a user (users.deactivate): the username's failure count and
// lock. Errors: ErrNotFound, ErrForbidden, store errors.
func (s *Service) Unlock(ctx context.Context, p *Principal, id int64, m Meta) (err error) {
	if p == nil {
		return fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	defer s.auditDenial(ctx, m, p, "unlock_user", "user", id, &err)
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
func (s *Service) CreateCodes(ctx context.Context, p *Principal, r CodeRequest, m Meta) (_ []RegistrationCode, err error) {
	if err := require(p, PermCodesWrite); err != nil {
		return nil, err
	}
	defer s.auditDenial(ctx, m, p, "create_registration_code", "registration_code", 0, &err)
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
		return nil, Detailf(ErrInvalid, "count must be between 1 and %d", s.o.MaxBatchCodes)
	case r.MaxUses < 0:
		return nil, Detailf(ErrInvalid, "max uses must be positive")
	case r.Expiry < 0:
		return nil, Detailf(ErrInvalid, "expiry must be positive")
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
			return nil, Detailf(ErrInvalid, "allowed email domain is not a valid domain")
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
		return Detailf(ErrForbidden, "only admins may grant the %s role", role)
	}
	if !CanActOn(p.Role, role, PermCodesWrite) {
		return Detailf(ErrForbidden, "a %s may not grant %s", p.Role, role)
	}
	return nil
}

// MaskedCode replaces the text of a registration code the reader may not grant.
const MaskedCode = "********"

// ListCodes lists registration codes (codes.read), newest first; includeInactive adds
// revoked ones. A code whose role p may not grant (mayGrant: a moderator and admin or
// moderator codes) is listed with its text replaced by MaskedCode, so reading the list
// never lets p register an account above what p may create.
func (s *Service) ListCodes(ctx context.Context, p *Principal, includeInactive bool) ([]RegistrationCode, error) {
	if err := require(p, PermCodesRead); err != nil {
		return nil, err
	}
	codes, err := s.o.Codes.ListCodes(ctx, includeInactive)
	if err != nil {
		return nil, fmt.Errorf("auth: listing registration codes: %w", err)
	}
	for i := range codes {
		if mayGrant(p, codes[i].RoleToGrant) != nil {
			codes[i].Code = MaskedCode
		}
	}
	return codes, nil
}

// RevokeCode deactivates a registration code (codes.write). Moderators cannot revoke admin
// or moderator codes. Errors: ErrNotFound, ErrForbidden, store errors.
func (s *Service) RevokeCode(ctx context.Context, p *Principal, id int64, m Meta) (err error) {
	if err := require(p, PermCodesWrite); err != nil {
		return err
	}
	defer s.auditDenial(ctx, m, p, "revoke_registration_code", "registration_code", id, &err)
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
