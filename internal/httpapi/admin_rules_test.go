package httpapi

// adminRouteRules lists who passes the gate of every route in admin_routes.go. Staff routes
// that moderators may use pass the gate for them; which accounts they may act on is the
// auth.Service's per-object rule, tested in admin_routes_test.go.
func adminRouteRules() []routeRule {
	staff := []string{"moderator", "admin"}
	admin := []string{"admin"}
	return []routeRule{
		{"GET", "/api/v1/admin/users", staff},
		{"GET", "/api/v1/admin/users/", staff},
		{"POST", "/api/v1/admin/users", admin},
		{"POST", "/api/v1/admin/users/", admin},
		{"GET", "/api/v1/admin/users/{id}", staff},
		{"PUT", "/api/v1/admin/users/{id}", staff},
		{"DELETE", "/api/v1/admin/users/{id}", staff},
		{"POST", "/api/v1/admin/users/{id}/reset-password", admin},
		{"POST", "/api/v1/admin/users/{id}/unlock", staff},
		{"GET", "/api/v1/admin/users/{id}/sessions", staff},
		{"DELETE", "/api/v1/admin/users/{id}/sessions/{sid}", staff},
		{"POST", "/api/v1/admin/users/{id}/sessions/revoke-all", staff},
		{"POST", "/api/v1/admin/registration-codes", staff},
		{"POST", "/api/v1/admin/registration-codes/", staff},
		{"GET", "/api/v1/admin/registration-codes", staff},
		{"GET", "/api/v1/admin/registration-codes/", staff},
		{"DELETE", "/api/v1/admin/registration-codes/{id}", staff},
		{"GET", "/api/v1/admin/registration-settings", admin},
		{"POST", "/api/v1/admin/registration-settings", admin},
		{"GET", "/api/v1/admin/stats", admin},
	}
}
