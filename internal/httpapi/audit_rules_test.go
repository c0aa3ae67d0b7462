package httpapi

// auditRouteRules lists who passes the gate of every route in audit_routes.go: admins and
// moderators read the audit log (audit.read); nobody can change it through the API.
func auditRouteRules() []routeRule {
	staff := []string{"moderator", "admin"}
	return []routeRule{
		{"GET", "/api/v1/admin/audit-log", staff},
		{"GET", "/api/v1/admin/audit-log/export", staff},
		{"GET", "/api/v1/admin/audit-log/verify", staff},
		{"GET", "/api/v1/audit/export", staff},
	}
}
