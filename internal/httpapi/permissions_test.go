package httpapi

import (
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// walkServer configures a test server on which every route is registered and reachable:
// metrics on, with the test peer (192.0.2.1) allowed.
func walkServer(c *testServerConfig) {
	c.HTTP.EnableMetrics = true
	c.HTTP.MetricsAllowed = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
}

// pathVarRE matches an OpenAPI path variable.
var pathVarRE = regexp.MustCompile(`\{[^}]+\}`)

// TestEveryRoutePermission walks the router: every registered (method, path) needs exactly
// one routeRule (a missing, duplicate or stale rule fails), and every caller kind gets the
// gate's answer for a minimal request: 401 for anonymous and 403 for other callers the rule
// does not list; anything but 401/403 (and no 500) for listed callers. Path variables are
// filled with the plain user's id; bodies are "{}" (none for GET and HEAD).
func TestEveryRoutePermission(t *testing.T) {
	probe := newTestServer(t, walkServer)
	ops := routerOps(t, probe.router)
	rules := map[string]routeRule{}
	for _, r := range allRouteRules() {
		key := r.Method + " " + r.Path
		if _, dup := rules[key]; dup {
			t.Errorf("two rules for %s", key)
		}
		for _, c := range r.Allow {
			if !slices.Contains(callerKinds, c) {
				t.Errorf("rule %s: unknown caller %q", key, c)
			}
		}
		rules[key] = r
	}
	for key := range rules {
		if !slices.Contains(ops, key) {
			t.Errorf("rule for %s, which is not registered", key)
		}
	}
	for _, op := range ops {
		rule, ok := rules[op]
		if !ok {
			t.Errorf("route %s has no routeRule: add one to the rules file of its domain", op)
			continue
		}
		method, path, _ := strings.Cut(op, " ")
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			// One server per route. Callers go in callerKinds order and path variables name
			// the plain user, so no minimal request can end a later caller's credential (staff
			// acting on the user's account come after the user).
			ts := newTestServer(t, walkServer)
			target := pathVarRE.ReplaceAllString(path, ts.id(callerUser))
			body := ""
			if method != http.MethodGet && method != http.MethodHead {
				body = "{}"
			}
			for _, kind := range callerKinds {
				rec := ts.call(t, kind, method, target, body, nil)
				got := rec.Code
				switch {
				case slices.Contains(rule.Allow, kind):
					if got == http.StatusUnauthorized || got == http.StatusForbidden || got == http.StatusInternalServerError {
						t.Errorf("%s %s as %s = %d, want the gate to let it through\n%s", method, target, kind, got, rec.Body)
					}
				case kind == callerAnonymous:
					if got != http.StatusUnauthorized {
						t.Errorf("%s %s as anonymous = %d, want 401\n%s", method, target, got, rec.Body)
					}
					if rec.Header().Get("WWW-Authenticate") != "Bearer" {
						t.Errorf("401 without WWW-Authenticate: Bearer")
					}
				default:
					if got != http.StatusForbidden {
						t.Errorf("%s %s as %s = %d, want 403\n%s", method, target, kind, got, rec.Body)
					}
				}
			}
		})
	}
}

// TestAdminGateVariants: method-override headers and path spellings (doubled slashes, dot
// segments, percent-encoding, upper case) never get a non-admin into an admin handler.
// Unrouted spellings are 404 (never a redirect); a spelling the router decodes to the real
// path meets the gate (403).
func TestAdminGateVariants(t *testing.T) {
	ts := newTestServer(t)
	if rec := ts.call(t, callerAdmin, http.MethodGet, "/api/v1/admin/users", "", nil); rec.Code != http.StatusOK {
		t.Fatalf("admin GET /api/v1/admin/users = %d, want 200 (the variants below would prove nothing)\n%s", rec.Code, rec.Body)
	}
	uid := ts.id(callerUser)
	type variant struct {
		method, path string
		header       map[string]string
	}
	var vs []variant
	for _, p := range []string{
		"//api/v1/admin/users", "/api/v1//admin/users", "/api/v1/./admin/users",
		"/api/v1/admin/./users", "/api/v1/x/../admin/users", "/api/v1/%61dmin/users",
		"/api/v1/admin%2Fusers", "/API/V1/ADMIN/USERS", "/api/v1/Admin/Users", "/api/v1/admin/users/",
		"/api/v1/admin/users;x", "/api/v1/admin/users/" + uid + "/",
	} {
		vs = append(vs, variant{http.MethodGet, p, nil})
	}
	for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
		vs = append(vs,
			variant{http.MethodPost, "/api/v1/users/me", map[string]string{h: "GET"}},
			variant{http.MethodGet, "/api/v1/admin/users", map[string]string{h: "POST"}},
			variant{http.MethodPost, "/api/v1/admin/users", map[string]string{h: "GET"}},
			variant{http.MethodGet, "/api/v1/admin/users/" + uid, map[string]string{h: "DELETE"}},
			variant{http.MethodGet, "/api/v1/users/me", map[string]string{h: "DELETE", "X-Original-URL": "/api/v1/admin/users",
				"X-Rewrite-URL": "/api/v1/admin/users"}},
		)
	}
	for _, v := range vs {
		for _, kind := range []string{callerUser, callerService} {
			rec := ts.call(t, kind, v.method, v.path, "", v.header)
			switch c := rec.Code; {
			case c >= 300 && c < 400:
				t.Errorf("%s %s %v as %s = %d: a redirect", v.method, v.path, v.header, kind, c)
			case strings.Contains(v.path, "admin") || strings.Contains(v.path, "ADMIN") || strings.Contains(v.path, "Admin") ||
				strings.Contains(v.path, "%61dmin"):
				if c != http.StatusForbidden && c != http.StatusNotFound && c != http.StatusMethodNotAllowed {
					t.Errorf("%s %s %v as %s = %d, want 403 or 404\n%s", v.method, v.path, v.header, kind, c, rec.Body)
				}
			case c >= 500:
				t.Errorf("%s %s %v as %s = %d\n%s", v.method, v.path, v.header, kind, c, rec.Body)
			}
			if strings.Contains(rec.Body.String(), `"users"`) {
				t.Errorf("%s %s as %s reached the admin user list:\n%s", v.method, v.path, kind, rec.Body)
			}
		}
	}
	// The percent-encoded spelling reaches the gate (the router decodes it) and is refused.
	if rec := ts.call(t, callerUser, http.MethodGet, "/api/v1/%61dmin/users", "", nil); rec.Code != http.StatusForbidden {
		t.Errorf("user GET /api/v1/%%61dmin/users = %d, want 403 from the gate", rec.Code)
	}
}
