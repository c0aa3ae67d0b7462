package audit

import (
	"slices"
	"strings"
)

// Action names: the stable, lower snake case values of Event.Action, stored in the
// database and used in the API. [Actions] documents each; [Normalize] maps the names the
// Python tldw_server uses onto them.
const (
	LoginSuccess             = "login_success"
	LoginFailed              = "login_failed"
	Logout                   = "logout"
	LogoutAll                = "logout_all"
	TokenRefresh             = "token_refresh"
	TokenReuseDetected       = "token_reuse_detected"
	SessionRevoked           = "session_revoked"
	SessionRevokedAll        = "session_revoked_all"
	AccountLocked            = "account_locked"
	AccountUnlocked          = "account_unlocked"
	PasswordChanged          = "password_changed"
	PasswordReset            = "password_reset"
	UserRegistered           = "user_registered"
	UserCreated              = "user_created"
	UserUpdated              = "user_updated"
	UserDeactivated          = "user_deactivated"
	UserActivated            = "user_activated"
	RoleChanged              = "role_changed"
	RegistrationCodeCreated  = "registration_code_created"
	RegistrationCodeRedeemed = "registration_code_redeemed"
	RegistrationCodeRevoked  = "registration_code_revoked"
	APIKeyCreated            = "api_key_created"
	APIKeyRotated            = "api_key_rotated"
	APIKeyRevoked            = "api_key_revoked"
	AccessDenied             = "access_denied"
	WebSocketAuthFailed      = "websocket_auth_failed"
	MCPAuthFailed            = "mcp_auth_failed"
	RateLimitExceeded        = "rate_limit_exceeded"
	QuotaChanged             = "quota_changed"
	QuotaExceeded            = "quota_exceeded"
	MediaUploaded            = "media_uploaded"
	MediaDeleted             = "media_deleted"
	ConfigChanged            = "config_changed"
	AuditCheckpoint          = "audit_checkpoint"
	AuditPurged              = "audit_purged"
)

// ActionInfo describes one catalogued action.
type ActionInfo struct {
	Name        string   `json:"name"`              // the stable name, e.g. "login_failed"
	Description string   `json:"description"`       // when it is emitted and what the event carries
	Aliases     []string `json:"aliases,omitempty"` // tldw_server names accepted in queries, lower case
}

// catalogue is read-only; Actions hands out copies.
var catalogue = []ActionInfo{
	{LoginSuccess, "A user logged in and received tokens. Actor is the user.",
		[]string{"user_login", "auth.login.success"}},
	{LoginFailed, "A login attempt was refused: unknown user, wrong password, inactive or locked account. UserID is 0 for an unknown user and Username holds the attempted name; Error or details.reason says why.",
		[]string{"auth.login.failure", "auth.login.failed", "failed_login"}},
	{Logout, "A user ended the current session.",
		[]string{"user_logout", "auth.logout"}},
	{LogoutAll, "A user ended all of their sessions (logout with all_devices).", nil},
	{TokenRefresh, "A refresh token was exchanged for new tokens; the old one was rotated out.",
		[]string{"auth.token.refreshed"}},
	{TokenReuseDetected, "A rotated refresh token was presented again outside the grace window; the whole token family was revoked.", nil},
	{SessionRevoked, "One session was revoked by its user or an admin. Target is the session.",
		[]string{"admin.user.session.revoke", "auth.token.revoked"}},
	{SessionRevokedAll, "All sessions of a user were revoked (admin revoke-all, password change, deactivation). Target is the user.",
		[]string{"admin.user.sessions.revoke_all"}},
	{AccountLocked, "Too many failed logins locked a username or client IP; details say which and until when.", nil},
	{AccountUnlocked, "A lockout was lifted by an admin (or the is_locked flag cleared).", nil},
	{PasswordChanged, "A user changed their own password; their other sessions were revoked.",
		[]string{"user.password.changed"}},
	{PasswordReset, "A password was reset by an admin or through a reset token. Target is the user.",
		[]string{"user.password.reset", "admin.user.password_reset"}},
	{UserRegistered, "A new account was created by self-registration; details carry the registration code id when one was used.", nil},
	{UserCreated, "An admin created an account. Target is the new user.",
		[]string{"user.created"}},
	{UserUpdated, "An account's profile or settings changed (other than role or active status, which have their own actions). Target is the user.",
		[]string{"admin_user_update", "admin.user.update", "user.updated"}},
	{UserDeactivated, "An account was deactivated (the soft delete of DELETE /admin/users/{id}). Target is the user.",
		[]string{"user_deleted", "user.deleted", "user.deactivated", "admin.user.deactivate"}},
	{UserActivated, "A deactivated account was activated again. Target is the user.",
		[]string{"user.activated"}},
	{RoleChanged, "A user's role changed; details carry the old and new role. Target is the user.", nil},
	{RegistrationCodeCreated, "An admin created a registration code; details carry its id, max uses, expiry and role (never the code).",
		[]string{"admin_code_created"}},
	{RegistrationCodeRedeemed, "A registration code was used to register. Target is the code id.",
		[]string{"registration_code.redeemed"}},
	{RegistrationCodeRevoked, "An admin deleted or deactivated a registration code.", nil},
	{APIKeyCreated, "An API key was created; details carry its id and display prefix (never the key).",
		[]string{"api_key.create", "api_key.create_virtual"}},
	{APIKeyRotated, "An API key was replaced by a new one. Target is the old key.",
		[]string{"api_key.rotate"}},
	{APIKeyRevoked, "An API key was revoked. Target is the key.",
		[]string{"api_key.revoke"}},
	{AccessDenied, "An authenticated request was refused for lack of permission (403), or a request carried an invalid or revoked credential.",
		[]string{"permission.denied", "unauthorized_access", "invalid_token"}},
	{WebSocketAuthFailed, "A WebSocket upgrade was refused for a missing or invalid credential.", nil},
	{MCPAuthFailed, "An MCP request or connection was refused for a missing or invalid credential.", nil},
	{RateLimitExceeded, "A request was refused by a rate limit (429); details carry the limit key.",
		[]string{"api.rate_limited"}},
	{QuotaChanged, "An admin changed a storage or processing quota; details carry old and new values.",
		[]string{"admin_quota_changed"}},
	{QuotaExceeded, "An upload or job was refused because it would exceed a quota.", nil},
	{MediaUploaded, "A media item was ingested and stored. Target is the media item.", nil},
	{MediaDeleted, "A media item was deleted. Target is the media item.", nil},
	{ConfigChanged, "Runtime configuration changed (for example the registration settings); details name the keys, never secret values.",
		[]string{"config.changed"}},
	{AuditCheckpoint, "A signed checkpoint of the audit hash chain head was written (periodically and on shutdown).", nil},
	{AuditPurged, "Audit rows older than the retention period were removed; details carry the purge checkpoint (last removed seq and hash).", nil},
}

// Actions returns the action catalogue: every stable action name with its description and
// the tldw_server aliases accepted for it. The result is a fresh copy the caller may keep or
// modify. It is safe for concurrent use.
func Actions() []ActionInfo {
	out := make([]ActionInfo, len(catalogue))
	for i, a := range catalogue {
		a.Aliases = slices.Clone(a.Aliases)
		out[i] = a
	}
	return out
}

// Lookup returns the catalogue entry for name, which may be a stable name or a tldw_server
// alias in any letter case. It reports false for names outside the catalogue. It is safe
// for concurrent use.
func Lookup(name string) (ActionInfo, bool) {
	i := find(strings.ToLower(strings.TrimSpace(name)))
	if i < 0 {
		return ActionInfo{}, false
	}
	a := catalogue[i]
	a.Aliases = slices.Clone(a.Aliases)
	return a, true
}

// find returns the catalogue index of a lower-case name or alias, or -1.
func find(n string) int {
	for i, a := range catalogue {
		if a.Name == n || slices.Contains(a.Aliases, n) {
			return i
		}
	}
	return -1
}

// Normalize maps an action name as written by an emitter or given in a query to the stored
// form: surrounding space trimmed, lower case, and tldw_server aliases replaced by their
// stable name ("LOGIN_FAILED", "auth.login.failure" and "failed_login" all become
// "login_failed"). Names outside the catalogue are returned lower-cased. It is safe for
// concurrent use.
func Normalize(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if i := find(n); i >= 0 {
		return catalogue[i].Name
	}
	return n
}

// Expand resolves an action filter from a query to the catalogue names it selects. A
// pattern ending in '*' is a prefix match against the stable names and their aliases
// ("auth.login.*" selects login_success and login_failed; "api_key_*" the API-key actions);
// any other pattern selects Normalize(pattern) alone. Matching ignores letter case. The
// result is sorted and has no duplicates. Query code that also wants actions outside the
// catalogue should add a prefix match on the normalised prefix itself. It is safe for
// concurrent use.
func Expand(pattern string) []string {
	p := strings.ToLower(strings.TrimSpace(pattern))
	prefix, ok := strings.CutSuffix(p, "*")
	if !ok {
		return []string{Normalize(p)}
	}
	var out []string
	for _, a := range catalogue {
		if strings.HasPrefix(a.Name, prefix) ||
			slices.ContainsFunc(a.Aliases, func(s string) bool { return strings.HasPrefix(s, prefix) }) {
			out = append(out, a.Name)
		}
	}
	slices.Sort(out)
	return out
}
