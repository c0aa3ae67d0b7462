package audit_test

import (
	"regexp"
	"slices"
	"testing"

	"github.com/tldw-go/tldw/audit"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"login_failed":                   audit.LoginFailed,
		"LOGIN_FAILED":                   audit.LoginFailed,
		"auth.login.failure":             audit.LoginFailed,
		"failed_login":                   audit.LoginFailed,
		" User_Login ":                   audit.LoginSuccess,
		"auth.logout":                    audit.Logout,
		"admin.user.update":              audit.UserUpdated,
		"admin.user.deactivate":          audit.UserDeactivated,
		"user_deleted":                   audit.UserDeactivated,
		"admin.user.sessions.revoke_all": audit.SessionRevokedAll,
		"api_key.rotate":                 audit.APIKeyRotated,
		"admin_code_created":             audit.RegistrationCodeCreated,
		"registration_code.redeemed":     audit.RegistrationCodeRedeemed,
		"api.rate_limited":               audit.RateLimitExceeded,
		"permission.denied":              audit.AccessDenied,
		"Custom.Thing":                   "custom.thing",
	} {
		if got := audit.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCatalogue(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, a := range audit.Actions() {
		if !snake.MatchString(a.Name) || a.Description == "" {
			t.Errorf("bad entry %+v", a)
		}
		for _, n := range append([]string{a.Name}, a.Aliases...) {
			if seen[n] {
				t.Errorf("name or alias %q appears twice", n)
			}
			seen[n] = true
			if audit.Normalize(n) != a.Name {
				t.Errorf("Normalize(%q) = %q, want %q", n, audit.Normalize(n), a.Name)
			}
		}
	}
	// Everything the issue and the security requirements name is catalogued.
	for _, n := range []string{
		"login_success", "login_failed", "logout", "token_refresh", "token_reuse_detected",
		"session_revoked", "password_changed", "user_registered", "user_created", "user_updated",
		"user_deactivated", "role_changed", "registration_code_created", "registration_code_redeemed",
		"registration_code_revoked", "api_key_created", "api_key_revoked", "quota_changed",
		"quota_exceeded", "rate_limit_exceeded", "account_locked", "media_uploaded", "media_deleted",
		"config_changed", "api_key_rotated", "password_reset", "account_unlocked", "access_denied",
		"audit_checkpoint", "audit_purged", "websocket_auth_failed", "mcp_auth_failed", "logout_all",
		"session_revoked_all",
	} {
		if a, ok := audit.Lookup(n); !ok || a.Name != n {
			t.Errorf("Lookup(%q) = %+v, %v", n, a, ok)
		}
	}
	if _, ok := audit.Lookup("no_such_action"); ok {
		t.Error("Lookup found an uncatalogued action")
	}
	// Actions hands out copies.
	as := audit.Actions()
	as[0].Name = "changed"
	as[0].Aliases[0] = "changed"
	if again := audit.Actions(); again[0].Name == "changed" || again[0].Aliases[0] == "changed" {
		t.Error("Actions exposes the catalogue")
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"auth.login.*", []string{audit.LoginFailed, audit.LoginSuccess}},
		{"AUTH.LOGIN.FAILURE", []string{audit.LoginFailed}},
		{"api_key*", []string{audit.APIKeyCreated, audit.APIKeyRevoked, audit.APIKeyRotated}},
		{"api_key.*", []string{audit.APIKeyCreated, audit.APIKeyRevoked, audit.APIKeyRotated}},
		{"session_*", []string{audit.SessionRevoked, audit.SessionRevokedAll}},
		{"nothing*", nil},
		{"custom", []string{"custom"}},
	}
	for _, tt := range tests {
		if got := audit.Expand(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Expand(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
