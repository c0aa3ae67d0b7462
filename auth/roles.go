package auth

import (
	"slices"
)

// Role is a user's role. Only the four constants are valid.
type Role string

// The roles. tldw_server assigns admin, user and service; moderator is the
// Go port's read-mostly staff role (tldw_server has it only in its schema).
const (
	RoleAdmin     Role = "admin"
	RoleModerator Role = "moderator"
	RoleUser      Role = "user"
	RoleService   Role = "service"
)

var allRoles = []Role{RoleAdmin, RoleModerator, RoleUser, RoleService}

// Roles returns every valid role, most privileged first (a fresh slice).
func Roles() []Role { return slices.Clone(allRoles) }

// ParseRole returns the role named s (exact, lower case). Anything else is
// an error wrapping ErrInvalid.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(allRoles, r) {
		return r, nil
	}
	return "", Detailf(ErrInvalid, "unknown role %q (want admin, moderator, user or service)", s)
}

// Permission names one kind of action. Permissions on the principal's own
// data (media.*, account.*) apply to the principal itself; the others are
// staff permissions that act on other accounts or the whole server.
type Permission string

// The permissions.
const (
	PermMediaRead       Permission = "media.read"       // read own media, transcripts, search
	PermMediaWrite      Permission = "media.write"      // ingest, edit, delete own media
	PermAccountRead     Permission = "account.read"     // own profile, sessions, API keys, quota
	PermAccountWrite    Permission = "account.write"    // change own password, create/revoke own keys and sessions
	PermMediaReadAny    Permission = "media.read_any"   // read any user's media
	PermUsersRead       Permission = "users.read"       // list and read users
	PermUsersWrite      Permission = "users.write"      // create, edit, delete users, reset their passwords
	PermUsersRoles      Permission = "users.roles"      // change a user's role
	PermUsersDeactivate Permission = "users.deactivate" // deactivate, reactivate, unlock users
	PermSessionsRevoke  Permission = "sessions.revoke"  // revoke other users' sessions
	PermAuditRead       Permission = "audit.read"       // read the audit log
	PermCodesRead       Permission = "codes.read"       // list registration codes
	PermCodesWrite      Permission = "codes.write"      // create and revoke registration codes
	PermSettingsWrite   Permission = "settings.write"   // change server settings
	PermStatsRead       Permission = "stats.read"       // server statistics
	PermQuotasRead      Permission = "quotas.read"      // read any user's quotas
	PermQuotasWrite     Permission = "quotas.write"     // change any user's quotas
)

var allPermissions = []Permission{
	PermMediaRead, PermMediaWrite, PermAccountRead, PermAccountWrite,
	PermMediaReadAny, PermUsersRead, PermUsersWrite, PermUsersRoles, PermUsersDeactivate,
	PermSessionsRevoke, PermAuditRead, PermCodesRead, PermCodesWrite, PermSettingsWrite,
	PermStatsRead, PermQuotasRead, PermQuotasWrite,
}

// Permissions returns every permission (a fresh slice).
func Permissions() []Permission { return slices.Clone(allPermissions) }

// ownData are the permissions on the principal's own data.
var ownData = []Permission{PermMediaRead, PermMediaWrite, PermAccountRead, PermAccountWrite}

// rolePermissions is THE permission table; Role.Can reads only this and its
// doc comment renders it (TestPermissionTableDoc keeps the two in sync).
// It is never modified.
var rolePermissions = map[Role][]Permission{
	RoleAdmin: allPermissions,
	RoleModerator: {
		PermMediaRead, PermMediaWrite, PermAccountRead, PermAccountWrite,
		PermUsersRead, PermUsersDeactivate, PermSessionsRevoke, PermAuditRead,
		PermCodesRead, PermCodesWrite,
	},
	RoleUser:    ownData,
	RoleService: ownData,
}

// Can reports whether role r has permission p according to the table below
// (an unknown role has none). A service principal authenticates with an API
// key, so its effective rights are also limited by ScopeAllows; the same
// holds for any principal using a key.
//
//	permission        admin  moderator  user  service
//	media.read          x        x        x      x
//	media.write         x        x        x      x
//	account.read        x        x        x      x
//	account.write       x        x        x      x
//	media.read_any      x
//	users.read          x        x
//	users.write         x
//	users.roles         x
//	users.deactivate    x        x
//	sessions.revoke     x        x
//	audit.read          x        x
//	codes.read          x        x
//	codes.write         x        x
//	settings.write      x
//	stats.read          x
//	quotas.read         x
//	quotas.write        x
//
// Moderators never act on admins nor change roles; see CanActOn. Pure; safe
// for concurrent use.
func (r Role) Can(p Permission) bool {
	return slices.Contains(rolePermissions[r], p)
}

// isStaffPermission reports permissions that may be applied to another account; own-data permissions
// never extend to other accounts.
func isStaffPermission(p Permission) bool {
	return !slices.Contains(ownData, p) && slices.Contains(allPermissions, p)
}

// CanActOn reports whether a principal with role actor may apply staff
// permission p to another account whose role is target (for codes.write:
// mint a code granting target). Admins may do anything they Can. Everyone
// else never acts on admins and never changes roles, whatever the table
// says. Own-data permissions (media.read, account.write, ...) never extend
// to other accounts and always return false. Pure; safe for concurrent use.
func CanActOn(actor, target Role, p Permission) bool {
	if !actor.Can(p) || !isStaffPermission(p) || !slices.Contains(allRoles, target) {
		return false
	}
	if actor == RoleAdmin {
		return true
	}
	return target != RoleAdmin && p != PermUsersRoles
}

// Scope is an API-key scope.
type Scope string

// The API-key scopes. They are cumulative: write includes read, admin
// includes write. Only admins may create admin-scoped keys.
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
	ScopeAdmin Scope = "admin"
)

// ParseScope returns the scope named s (exact, lower case) or an error
// wrapping ErrInvalid.
func ParseScope(s string) (Scope, error) {
	switch sc := Scope(s); sc {
	case ScopeRead, ScopeWrite, ScopeAdmin:
		return sc, nil
	}
	return "", Detailf(ErrInvalid, "unknown scope %q (want read, write or admin)", s)
}

// ScopeAllows reports whether a key with scopes may exercise p (the caller
// also checks the key owner's Role.Can):
//   - read: media.read, account.read
//   - write: read plus media.write, account.write
//   - admin: every permission (staff permissions need it, even read-only
//     ones such as audit.read)
//
// Unknown scopes grant nothing. Pure; safe for concurrent use.
func ScopeAllows(scopes []Scope, p Permission) bool {
	for _, s := range scopes {
		switch s {
		case ScopeAdmin:
			if slices.Contains(allPermissions, p) {
				return true
			}
		case ScopeWrite:
			if slices.Contains(ownData, p) {
				return true
			}
		case ScopeRead:
			if p == PermMediaRead || p == PermAccountRead {
				return true
			}
		}
	}
	return false
}
