package httpapi

// audioRouteRules lists who passes the gate of every route in audio_routes.go: every role
// transcribes (the service caller with a read+write API key), as it processes media.
func audioRouteRules() []routeRule {
	everyone := []string{"user", "moderator", "service", "admin"}
	return []routeRule{
		{"POST", "/api/v1/audio/transcriptions", everyone},
		{"GET", "/api/v1/audio/stream/transcribe", everyone},
		{"GET", "/api/v1/audio/stream/status", everyone},
		{"GET", "/api/v1/audio/stream/limits", everyone},
	}
}
