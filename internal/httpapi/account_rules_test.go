package httpapi

// baseRouteRules covers the foundation routes: probes, metrics (the walk's server allows
// its peer in MetricsAllowed), the OpenAPI document and /docs — all public.
func baseRouteRules() []routeRule {
	everyone := callerKinds
	return []routeRule{
		{"GET", "/api/v1/health", everyone},
		{"GET", "/api/v1/health/live", everyone},
		{"GET", "/api/v1/health/ready", everyone},
		{"GET", "/health", everyone},
		{"HEAD", "/health", everyone},
		{"GET", "/ready", everyone},
		{"HEAD", "/ready", everyone},
		{"GET", "/metrics", everyone},
		{"GET", "/api/v1/health/metrics", everyone},
		{"GET", "/openapi.json", everyone},
		{"GET", "/docs", everyone},
		{"GET", "/docs/assets/{name}", everyone},
	}
}

// accountRouteRules covers auth_routes.go: login, refresh, register and the JWKS are public;
// everything else needs a principal, and every role (the service caller with a read+write
// API key) may manage its own account.
func accountRouteRules() []routeRule {
	everyone := callerKinds
	authenticated := []string{callerUser, callerModerator, callerService, callerAdmin}
	return []routeRule{
		{"POST", "/api/v1/auth/login", everyone},
		{"POST", "/api/v1/auth/refresh", everyone},
		{"POST", "/api/v1/auth/register", everyone},
		{"GET", "/.well-known/jwks.json", everyone},
		{"POST", "/api/v1/auth/logout", authenticated},
		{"GET", "/api/v1/auth/me", authenticated},
		{"GET", "/api/v1/auth/sessions", authenticated},
		{"DELETE", "/api/v1/auth/sessions/{session_id}", authenticated},
		{"POST", "/api/v1/auth/sessions/revoke-all", authenticated},
		{"GET", "/api/v1/auth/verify", authenticated},
		{"HEAD", "/api/v1/auth/verify", authenticated},
		{"GET", "/api/v1/users/me", authenticated},
		{"PUT", "/api/v1/users/me", authenticated},
		{"POST", "/api/v1/users/change-password", authenticated},
		{"GET", "/api/v1/users/sessions", authenticated},
		{"DELETE", "/api/v1/users/sessions/{session_id}", authenticated},
		{"POST", "/api/v1/users/sessions/revoke-all", authenticated},
		{"GET", "/api/v1/users/api-keys", authenticated},
		// The service caller uses a read/write API key, which may not mint keys.
		{"POST", "/api/v1/users/api-keys", []string{callerUser, callerModerator, callerAdmin}},
		{"POST", "/api/v1/users/api-keys/{key_id}/rotate", authenticated},
		{"DELETE", "/api/v1/users/api-keys/{key_id}", authenticated},
	}
}
