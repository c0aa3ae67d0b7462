package httpapi

// routeRule says which callers pass the authorization gate of one route, for the test that
// walks every registered route. Method and Path are as in the OpenAPI document.
// Allow holds any of "anonymous", "user", "moderator", "service", "admin"; a caller not listed
// must get 401 (anonymous) or 403, a listed one anything but 401/403 for a minimal request
// (per-object rules such as "moderators never touch admins" are tested separately).
type routeRule struct {
	Method, Path string
	Allow        []string
}

// allRouteRules merges the rules of every domain's test file.
func allRouteRules() []routeRule {
	var rs []routeRule
	rs = append(rs, baseRouteRules()...)
	rs = append(rs, accountRouteRules()...)
	rs = append(rs, adminRouteRules()...)
	rs = append(rs, auditRouteRules()...)
	rs = append(rs, mediaRouteRules()...)
	rs = append(rs, audioRouteRules()...)
	return rs
}
