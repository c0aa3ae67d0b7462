package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/tldw-go/tldw/audit"
)

// Register creates an account by self-registration per the registration mode (facts §1.6):
// closed (ErrInvalid "registration is currently disabled"), open (role DefaultRole,
// unverified) or invite-only (a valid registration code is required; the user gets the
// code's role and is verified; the code's email domain, if any, must match). A code given in
// open mode is honoured too. Redemption and insertion are one atomic store step. New users
// get DefaultQuotaMB. Clients cannot choose role, status or quota. Errors: ErrInvalid
// (bad identifiers, invalid code), *PolicyError (weak password), ErrConflict (username or
// email taken), ErrForbidden in single-user mode, ErrBusy, store errors.
func (s *Service) Register(ctx context.Context, r RegisterRequest, m Meta) (*User, error) {
	if s.o.SingleUser {
		return nil, Detailf(ErrForbidden, "registration is not available in single-user mode")
	}
	rs, err := s.Registration(ctx)
	if err != nil {
		return nil, err
	}
	if !rs.EnableRegistration {
		return nil, Detailf(ErrInvalid, "registration is currently disabled")
	}
	username, email, canonEmail, err := identity(r.Username, r.Email)
	if err != nil {
		return nil, err
	}
	if err := s.o.Policy.Check(r.Password, username); err != nil {
		return nil, err
	}
	now := s.now()
	codeText := strings.ToUpper(strings.TrimSpace(r.Code))
	if rs.RequireRegistrationCode && codeText == "" {
		return nil, Detailf(ErrInvalid, "registration code required")
	}
	role := s.o.DefaultRole
	var code *RegistrationCode
	if codeText != "" {
		if code, err = s.findCode(ctx, codeText, now); err != nil {
			return nil, err
		}
		if code.AllowedEmailDomain != "" && !emailInDomain(canonEmail, code.AllowedEmailDomain) {
			return nil, Detailf(ErrInvalid, "this registration code is not valid for that email domain")
		}
		if code.RoleToGrant != "" {
			role = code.RoleToGrant
		}
	}
	hash, err := s.o.Hasher.Hash(ctx, r.Password)
	if err != nil {
		return nil, err
	}
	u := &User{Username: username, Email: email, PasswordHash: hash, Role: role, IsActive: true,
		IsVerified: code != nil, StorageQuotaMB: cloneQuota(s.o.DefaultQuotaMB), UpdatedAt: now}
	if code != nil {
		if code, err = s.o.Users.CreateUserWithCode(ctx, u, code.Code, now); err != nil {
			return nil, storeErr("registering user", err)
		}
	} else if err := s.o.Users.CreateUser(ctx, u); err != nil {
		return nil, storeErr("registering user", err)
	}
	s.addHistory(ctx, u.ID, hash)
	e := audit.Event{UserID: u.ID, Username: u.Username, Action: audit.UserRegistered, TargetType: "user",
		TargetID: idString(u.ID), Success: true, Details: map[string]any{"role": string(u.Role)}}
	if code != nil {
		e.Details["registration_code_id"] = code.ID
	}
	s.audit(ctx, m, e)
	if code != nil {
		s.audit(ctx, m, audit.Event{UserID: u.ID, Username: u.Username, Action: audit.RegistrationCodeRedeemed,
			TargetType: "registration_code", TargetID: idString(code.ID), Success: true})
	}
	return public(u), nil
}

// storeErr passes client-facing store errors (ErrConflict, ErrInvalid, ErrNotFound) through
// unchanged and adds context to the others.
func storeErr(what string, err error) error {
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("auth: %s: %w", what, err)
}

// identity validates a username and email and returns the forms to store (trimmed, NFKC)
// and the canonical email. Both problems are reported together (ErrInvalid).
func identity(username, email string) (string, string, string, error) {
	_, uerr := CanonicalUsername(username)
	ce, eerr := CanonicalEmail(email)
	if err := errors.Join(uerr, eerr); err != nil {
		return "", "", "", err
	}
	return norm.NFKC.String(strings.TrimSpace(username)), norm.NFKC.String(strings.TrimSpace(email)), ce, nil
}

// findCode returns the usable registration code whose text is code (compared in constant
// time), or ErrInvalid.
func (s *Service) findCode(ctx context.Context, code string, now time.Time) (*RegistrationCode, error) {
	codes, err := s.o.Codes.ListCodes(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("auth: listing registration codes: %w", err)
	}
	var found *RegistrationCode
	for i := range codes {
		if subtle.ConstantTimeCompare([]byte(codes[i].Code), []byte(code)) == 1 {
			found = &codes[i]
		}
	}
	if found == nil || !codeUsable(found, now) {
		return nil, Detailf(ErrInvalid, "invalid registration code")
	}
	return found, nil
}

// codeUsable reports whether c can still be redeemed at now.
func codeUsable(c *RegistrationCode, now time.Time) bool {
	return c.IsActive && now.Before(c.ExpiresAt) && c.TimesUsed < c.MaxUses
}

// emailInDomain reports whether the canonical email's domain is exactly domain.
func emailInDomain(canonEmail, domain string) bool {
	d := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(domain), "@"))
	at := strings.LastIndexByte(canonEmail, '@')
	return d != "" && at >= 0 && canonEmail[at+1:] == d
}

func cloneQuota(q *int64) *int64 {
	if q == nil {
		return nil
	}
	v := *q
	return &v
}

// addHistory records hash in the user's password history; failures are logged.
func (s *Service) addHistory(ctx context.Context, userID int64, hash string) {
	keep := s.historyKeep()
	if keep == 0 {
		return
	}
	if err := s.o.Users.AddPasswordHistory(ctx, userID, hash, keep); err != nil {
		s.log.WarnContext(ctx, "auth: recording password history failed", slog.Int64("user_id", userID), slog.Any("error", err))
	}
}

// Me returns the principal's account (without its password hash). In single-user mode it
// is the stored user SingleUserID or a synthetic admin. Errors: ErrUnauthenticated,
// ErrForbidden, ErrNotFound, store errors.
func (s *Service) Me(ctx context.Context, p *Principal) (*User, error) {
	if err := require(p, PermAccountRead); err != nil {
		return nil, err
	}
	if p.Via == "single_user" {
		return public(s.singleUser(ctx)), nil
	}
	u, err := s.o.Users.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, storeErr("loading user", err)
	}
	return public(u), nil
}

// ErrCurrentPasswordRequired is the ErrInvalid of a sensitive change made without the
// current password.
var ErrCurrentPasswordRequired = Detailf(ErrInvalid, "current password is required")

// UpdateMe changes the principal's own email (account.write); nil leaves it unchanged. A
// change needs the current password, checked like ChangePassword's. Errors: ErrInvalid (bad
// email; ErrCurrentPasswordRequired), ErrUnauthenticated (wrong current password),
// *LockedError, ErrConflict (taken), ErrForbidden, ErrNotFound, ErrBusy.
func (s *Service) UpdateMe(ctx context.Context, p *Principal, email *string, currentPassword string, m Meta) (*User, error) {
	if err := require(p, PermAccountWrite); err != nil {
		return nil, err
	}
	u, err := s.o.Users.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, storeErr("loading user", err)
	}
	if email == nil {
		return public(u), nil
	}
	ce, err := CanonicalEmail(*email)
	if err != nil {
		return nil, err
	}
	if old, _ := CanonicalEmail(u.Email); old == ce && u.Email == norm.NFKC.String(strings.TrimSpace(*email)) {
		return public(u), nil
	}
	if p.Via != "single_user" {
		if currentPassword == "" {
			return nil, ErrCurrentPasswordRequired
		}
		if err := s.verifyCurrentPassword(ctx, p, u, currentPassword, m, audit.UserUpdated); err != nil {
			return nil, err
		}
	}
	next := norm.NFKC.String(strings.TrimSpace(*email))
	res, err := s.o.Users.UpdateUser(ctx, u.ID, UserPatch{Email: &next, UpdatedAt: s.now()})
	if err != nil {
		return nil, storeErr("updating user", err)
	}
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.UserUpdated, TargetType: "user", TargetID: idString(u.ID),
		Success: true, Details: map[string]any{"fields": []any{"email"}}}))
	return public(res.User), nil
}

// PasswordChangeOptions adjust ChangePasswordWith; the zero value is the default.
type PasswordChangeOptions struct {
	// KeepAPIKeys leaves the user's API keys valid (by default they are revoked).
	KeepAPIKeys bool
}

// ChangePassword is ChangePasswordWith the default options: the user's other sessions and
// API keys are revoked.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, current, next string, m Meta) error {
	return s.ChangePasswordWith(ctx, p, current, next, PasswordChangeOptions{}, m)
}

// ChangePasswordWith checks current, applies policy and history, and revokes the user's
// other sessions and, unless o.KeepAPIKeys, their API keys (but the one making the
// request), in the same store transaction as the new password: either all of it happens or
// none.
//
// Every policy problem and a history match are reported together in one *PolicyError. The
// new password may not equal the current one nor any remembered one. Errors:
// ErrUnauthenticated (wrong current password), *PolicyError, ErrForbidden (e.g. a
// read-only API key), ErrConflict (the password changed meanwhile), ErrBusy, store errors.
func (s *Service) ChangePasswordWith(ctx context.Context, p *Principal, current, next string, o PasswordChangeOptions, m Meta) error {
	if err := require(p, PermAccountWrite); err != nil {
		return err
	}
	u, err := s.o.Users.UserByID(ctx, p.UserID)
	if err != nil {
		return storeErr("loading user", err)
	}
	if err := s.verifyCurrentPassword(ctx, p, u, current, m, audit.PasswordChanged); err != nil {
		return err
	}
	if err := s.checkNewPassword(ctx, u, next); err != nil {
		return err
	}
	hash, err := s.o.Hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	// Only the password columns are written, and only over the hash just verified: a
	// concurrent admin change (deactivation, demotion) is kept, a concurrent password
	// change wins.
	must := false
	res, err := s.o.Users.UpdateUser(ctx, u.ID, UserPatch{PasswordHash: &hash, MustChangePassword: &must,
		UpdatedAt: s.now(), IfPasswordHash: u.PasswordHash, Revoke: &Revocation{Reason: ReasonPasswordChanged,
			ExceptSession: p.SessionID, APIKeys: !o.KeepAPIKeys, ExceptAPIKey: p.APIKeyID}})
	if err != nil {
		return storeErr("updating password", err)
	}
	s.invalidateUser(u.ID) // must_change_password is cached with the user
	s.invalidateSessions(res.Sessions...)
	s.addHistory(ctx, u.ID, hash)
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.PasswordChanged, TargetType: "user", TargetID: idString(u.ID),
		Success: true, Details: map[string]any{"sessions_revoked": len(res.Sessions), "api_keys_revoked": res.APIKeys}}))
	return nil
}

// checkNewPassword applies the policy and the history (current password included) to a
// user's new password, reporting every problem in one *PolicyError.
func (s *Service) checkNewPassword(ctx context.Context, u *User, next string) error {
	var problems []string
	var pe *PolicyError
	if err := s.o.Policy.Check(next, u.Username); errors.As(err, &pe) {
		problems = append(problems, pe.Problems...)
	} else if err != nil {
		return err
	}
	if keep := s.historyKeep(); keep > 0 && len(next) <= MaxPasswordBytes {
		same, _, err := s.o.Hasher.Verify(ctx, next, u.PasswordHash)
		if err != nil {
			return fmt.Errorf("auth: checking password history: %w", err)
		}
		if same {
			problems = append(problems, fmt.Sprintf("Password must not match any of the last %d passwords", keep))
		} else {
			prev, err := s.o.Users.PasswordHistory(ctx, u.ID, keep)
			if err != nil {
				return fmt.Errorf("auth: reading password history: %w", err)
			}
			if err := s.o.Policy.CheckHistory(ctx, s.o.Hasher, next, prev); errors.As(err, &pe) {
				problems = append(problems, pe.Problems...)
			} else if err != nil {
				return fmt.Errorf("auth: checking password history: %w", err)
			}
		}
	}
	if len(problems) > 0 {
		return &PolicyError{Problems: problems}
	}
	return nil
}

// sessionsTarget authorises p to manage userID's sessions: its own with own, another
// user's with one of staff (which must also pass CanActOn). It returns the target user
// (nil for the principal itself).
func (s *Service) sessionsTarget(ctx context.Context, p *Principal, userID int64, own Permission, staff ...Permission) (*User, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
	}
	if userID == p.UserID && userID != 0 {
		return nil, require(p, own)
	}
	target, err := s.o.Users.UserByID(ctx, userID)
	if err != nil {
		return nil, storeErr("loading user", err)
	}
	var last error
	for _, perm := range staff {
		if last = requireOn(p, target, perm); last == nil {
			return target, nil
		}
	}
	return nil, last
}

// Sessions lists userID's live sessions (the principal's own, or any for staff with
// sessions.revoke/users.read), newest first. Token hashes are blanked. Errors:
// ErrUnauthenticated, ErrForbidden, ErrNotFound (unknown user), store errors.
func (s *Service) Sessions(ctx context.Context, p *Principal, userID int64) ([]Session, error) {
	if _, err := s.sessionsTarget(ctx, p, userID, PermAccountRead, PermSessionsRevoke, PermUsersRead); err != nil {
		return nil, err
	}
	list, err := s.o.Sessions.ListSessions(ctx, userID, true, s.now())
	if err != nil {
		return nil, fmt.Errorf("auth: listing sessions: %w", err)
	}
	for i := range list {
		list[i].TokenHash, list[i].RefreshHash, list[i].PrevRefreshHash = "", "", ""
	}
	return list, nil
}

// RevokeSession revokes one session of userID: the principal's own (account.write) or, for
// staff, another user's (sessions.revoke). It ends on the next request. Errors:
// ErrNotFound (no such session of that user), ErrForbidden, ErrUnauthenticated.
func (s *Service) RevokeSession(ctx context.Context, p *Principal, userID, sessionID int64, m Meta) (err error) {
	defer s.auditDenial(ctx, m, p, "revoke_session", "user", userID, &err)
	if _, err := s.sessionsTarget(ctx, p, userID, PermAccountWrite, PermSessionsRevoke); err != nil {
		return err
	}
	sess, err := s.o.Sessions.SessionByID(ctx, sessionID)
	if errors.Is(err, ErrNotFound) || err == nil && sess.UserID != userID {
		return Detailf(ErrNotFound, "session %d not found", sessionID)
	}
	if err != nil {
		return fmt.Errorf("auth: loading session: %w", err)
	}
	reason := ReasonRevokedByUser
	if userID != p.UserID {
		reason = ReasonRevokedByStaff
	}
	if err := s.o.Sessions.RevokeSession(ctx, sessionID, reason, s.now()); err != nil {
		return storeErr("revoking session", err)
	}
	s.invalidateSessions(sessionID)
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.SessionRevoked, TargetType: "session",
		TargetID: idString(sessionID), Success: true,
		Details: map[string]any{"session_user_id": userID, "reason": reason}}))
	return nil
}

// RevokeAllSessions revokes every session of userID, except the caller's own when
// keepCurrent. Staff revoking another user's sessions (account recovery) also revoke that
// user's API keys, in the same store transaction. It returns how many sessions were
// revoked. Permissions as RevokeSession.
func (s *Service) RevokeAllSessions(ctx context.Context, p *Principal, userID int64, keepCurrent bool, m Meta) (_ int, err error) {
	defer s.auditDenial(ctx, m, p, "revoke_sessions", "user", userID, &err)
	if _, err := s.sessionsTarget(ctx, p, userID, PermAccountWrite, PermSessionsRevoke); err != nil {
		return 0, err
	}
	details := map[string]any{}
	var ids []int64
	if userID == p.UserID {
		var except int64
		if keepCurrent {
			except = p.SessionID
		}
		ids, err = s.o.Sessions.RevokeUserSessions(ctx, userID, except, ReasonRevokedByUser, s.now())
		s.invalidateSessions(ids...)
		if err != nil {
			return 0, fmt.Errorf("auth: revoking sessions: %w", err)
		}
		details["reason"] = ReasonRevokedByUser
	} else {
		res, err := s.o.Users.UpdateUser(ctx, userID, UserPatch{UpdatedAt: s.now(),
			Revoke: &Revocation{Reason: ReasonRevokedByStaff, APIKeys: true}})
		if err != nil {
			return 0, storeErr("revoking sessions", err)
		}
		ids = res.Sessions
		s.invalidateSessions(ids...)
		details["reason"], details["api_keys_revoked"] = ReasonRevokedByStaff, res.APIKeys
	}
	details["sessions_revoked"] = len(ids)
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.SessionRevokedAll, TargetType: "user",
		TargetID: idString(userID), Success: true, Details: details}))
	return len(ids), nil
}

// Registration returns the effective registration settings: the SettingsStore's values
// where set, else EnableRegistration and RequireRegistrationCode. Errors are store errors.
func (s *Service) Registration(ctx context.Context) (RegistrationSettings, error) {
	rs := RegistrationSettings{EnableRegistration: s.o.EnableRegistration, RequireRegistrationCode: s.o.RequireRegistrationCode}
	for _, f := range []struct {
		key string
		dst *bool
	}{
		{SettingEnableRegistration, &rs.EnableRegistration},
		{SettingRequireRegistrationCode, &rs.RequireRegistrationCode},
	} {
		v, ok, err := s.o.Settings.Setting(ctx, f.key)
		if err != nil {
			return RegistrationSettings{}, fmt.Errorf("auth: reading setting %s: %w", f.key, err)
		}
		if !ok {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.log.WarnContext(ctx, "auth: ignoring malformed setting", slog.String("key", f.key), slog.String("value", v))
			continue
		}
		*f.dst = b
	}
	return rs, nil
}

// SetRegistration changes the registration settings at run time (settings.write), audited
// as config_changed. Errors: ErrUnauthenticated, ErrForbidden, store errors.
func (s *Service) SetRegistration(ctx context.Context, p *Principal, r RegistrationSettings, m Meta) error {
	if err := require(p, PermSettingsWrite); err != nil {
		return err
	}
	if err := s.o.Settings.SetSetting(ctx, SettingEnableRegistration, strconv.FormatBool(r.EnableRegistration)); err != nil {
		return fmt.Errorf("auth: writing setting: %w", err)
	}
	if err := s.o.Settings.SetSetting(ctx, SettingRequireRegistrationCode, strconv.FormatBool(r.RequireRegistrationCode)); err != nil {
		return fmt.Errorf("auth: writing setting: %w", err)
	}
	s.audit(ctx, m, actor(p, audit.Event{Action: audit.ConfigChanged, TargetType: "settings", TargetID: "registration",
		Success: true, Details: map[string]any{
			SettingEnableRegistration: r.EnableRegistration, SettingRequireRegistrationCode: r.RequireRegistrationCode,
		}}))
	return nil
}
