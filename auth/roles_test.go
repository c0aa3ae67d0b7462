package auth

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// wantCan is the expected permission table, written out independently of
// rolePermissions: permission → roles that have it.
var wantCan = map[Permission][]Role{
	PermMediaRead:       {RoleAdmin, RoleModerator, RoleUser, RoleService},
	PermMediaWrite:      {RoleAdmin, RoleModerator, RoleUser, RoleService},
	PermAccountRead:     {RoleAdmin, RoleModerator, RoleUser, RoleService},
	PermAccountWrite:    {RoleAdmin, RoleModerator, RoleUser, RoleService},
	PermMediaReadAny:    {RoleAdmin},
	PermUsersRead:       {RoleAdmin, RoleModerator},
	PermUsersWrite:      {RoleAdmin},
	PermUsersRoles:      {RoleAdmin},
	PermUsersDeactivate: {RoleAdmin, RoleModerator},
	PermSessionsRevoke:  {RoleAdmin, RoleModerator},
	PermAuditRead:       {RoleAdmin, RoleModerator},
	PermCodesRead:       {RoleAdmin, RoleModerator},
	PermCodesWrite:      {RoleAdmin, RoleModerator},
	PermSettingsWrite:   {RoleAdmin},
	PermStatsRead:       {RoleAdmin},
	PermQuotasRead:      {RoleAdmin},
	PermQuotasWrite:     {RoleAdmin},
}

func TestRoleCanTable(t *testing.T) {
	if len(wantCan) != len(Permissions()) {
		t.Fatalf("expectation table covers %d permissions, package has %d", len(wantCan), len(Permissions()))
	}
	for _, r := range append(Roles(), "root", "", "Admin") {
		for _, p := range append(Permissions(), "media.delete", "") {
			want := slices.Contains(wantCan[p], r)
			if got := r.Can(p); got != want {
				t.Errorf("%q.Can(%q) = %v, want %v", r, p, got, want)
			}
		}
	}
}

// TestPermissionTableDoc checks that the table rendered in Role.Can's doc
// comment says exactly what rolePermissions does.
func TestPermissionTableDoc(t *testing.T) {
	src, err := os.ReadFile("roles.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "//\tpermission ") })
	if start < 0 {
		t.Fatal("no rendered table in roles.go")
	}
	header := strings.TrimPrefix(lines[start], "//\t")
	cols := map[Role]int{}
	for _, r := range Roles() {
		cols[r] = strings.Index(header, string(r))
	}
	seen := 0
	for _, l := range lines[start+1:] {
		row, ok := strings.CutPrefix(l, "//\t")
		if !ok || strings.TrimSpace(row) == "" {
			break
		}
		p := Permission(strings.Fields(row)[0])
		seen++
		for _, r := range Roles() {
			marked := false // an x somewhere under the role name
			for i := cols[r]; i < cols[r]+len(r) && i < len(row); i++ {
				marked = marked || row[i] == 'x'
			}
			if marked != r.Can(p) {
				t.Errorf("doc table says %s %s = %v, rolePermissions says %v", r, p, marked, r.Can(p))
			}
		}
	}
	if seen != len(Permissions()) {
		t.Fatalf("doc table has %d rows, want %d", seen, len(Permissions()))
	}
}

func TestCanActOn(t *testing.T) {
	cases := []struct {
		actor, target Role
		p             Permission
		want          bool
	}{
		{RoleAdmin, RoleAdmin, PermUsersRoles, true},
		{RoleAdmin, RoleAdmin, PermUsersDeactivate, true},
		{RoleAdmin, RoleUser, PermUsersWrite, true},
		{RoleAdmin, RoleAdmin, PermCodesWrite, true},
		{RoleModerator, RoleUser, PermUsersDeactivate, true},
		{RoleModerator, RoleService, PermUsersDeactivate, true},
		{RoleModerator, RoleModerator, PermSessionsRevoke, true},
		{RoleModerator, RoleUser, PermUsersRead, true},
		{RoleModerator, RoleAdmin, PermUsersRead, false},
		{RoleModerator, RoleAdmin, PermUsersDeactivate, false},
		{RoleModerator, RoleAdmin, PermSessionsRevoke, false},
		{RoleModerator, RoleUser, PermUsersRoles, false},
		{RoleModerator, RoleUser, PermUsersWrite, false},
		{RoleModerator, RoleUser, PermCodesWrite, true},
		{RoleModerator, RoleModerator, PermCodesWrite, true},
		{RoleModerator, RoleAdmin, PermCodesWrite, false}, // cannot mint an admin code
		{RoleModerator, RoleUser, PermMediaRead, false},   // own-data permission
		{RoleAdmin, RoleUser, PermAccountWrite, false},    // own-data permission
		{RoleUser, RoleUser, PermUsersRead, false},
		{RoleUser, RoleUser, PermMediaWrite, false},
		{RoleService, RoleUser, PermSessionsRevoke, false},
		{RoleAdmin, "root", PermUsersRead, false},
		{"root", RoleUser, PermUsersRead, false},
	}
	for _, c := range cases {
		if got := CanActOn(c.actor, c.target, c.p); got != c.want {
			t.Errorf("CanActOn(%s, %s, %s) = %v, want %v", c.actor, c.target, c.p, got, c.want)
		}
	}
	// Exhaustive: no non-admin ever acts on an admin or changes a role.
	for _, a := range Roles() {
		for _, p := range Permissions() {
			for _, tr := range Roles() {
				if a != RoleAdmin && (tr == RoleAdmin || p == PermUsersRoles) && CanActOn(a, tr, p) {
					t.Errorf("%s may %s on %s", a, p, tr)
				}
			}
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Admin", " admin", "root", "viewer", "admin\x00"} {
		if _, err := ParseRole(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRole(%q) err = %v, want ErrInvalid", s, err)
		}
	}
}

func TestScopes(t *testing.T) {
	cases := []struct {
		scopes []Scope
		p      Permission
		want   bool
	}{
		{[]Scope{ScopeRead}, PermMediaRead, true},
		{[]Scope{ScopeRead}, PermAccountRead, true},
		{[]Scope{ScopeRead}, PermMediaWrite, false},
		{[]Scope{ScopeRead}, PermAccountWrite, false},
		{[]Scope{ScopeRead}, PermUsersRead, false},
		{[]Scope{ScopeRead}, PermAuditRead, false},
		{[]Scope{ScopeWrite}, PermMediaRead, true},
		{[]Scope{ScopeWrite}, PermMediaWrite, true},
		{[]Scope{ScopeWrite}, PermAccountWrite, true},
		{[]Scope{ScopeWrite}, PermUsersRead, false},
		{[]Scope{ScopeWrite}, PermCodesWrite, false},
		{[]Scope{ScopeRead, ScopeWrite}, PermMediaWrite, true},
		{[]Scope{ScopeAdmin}, PermUsersRoles, true},
		{[]Scope{ScopeAdmin}, PermMediaRead, true},
		{[]Scope{ScopeAdmin}, "unknown.perm", false},
		{nil, PermMediaRead, false},
		{[]Scope{"superuser"}, PermMediaRead, false},
		{[]Scope{"READ"}, PermMediaRead, false},
	}
	for _, c := range cases {
		if got := ScopeAllows(c.scopes, c.p); got != c.want {
			t.Errorf("ScopeAllows(%v, %s) = %v, want %v", c.scopes, c.p, got, c.want)
		}
	}
	// Every staff permission needs the admin scope.
	for _, p := range Permissions() {
		if isStaffPermission(p) && ScopeAllows([]Scope{ScopeRead, ScopeWrite}, p) {
			t.Errorf("read+write key allows staff permission %s", p)
		}
	}
	for _, s := range []string{"read", "write", "admin"} {
		if got, err := ParseScope(s); err != nil || string(got) != s {
			t.Errorf("ParseScope(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "Read", "all", "*"} {
		if _, err := ParseScope(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseScope(%q) err = %v", s, err)
		}
	}
}
