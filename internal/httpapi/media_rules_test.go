package httpapi

// mediaRouteRules lists who passes the gate of every route in media_routes.go and
// quota_routes.go: every role works on its own media and sees its own storage (the service
// caller with a read+write API key); only admins read and set other users' quotas. Which
// item a caller may touch is the media.Service's rule (another user's item is 404), tested
// in media_routes_test.go.
func mediaRouteRules() []routeRule {
	everyone := []string{"user", "moderator", "service", "admin"}
	admin := []string{"admin"}
	return []routeRule{
		{"POST", "/api/v1/media/add", everyone},
		{"GET", "/api/v1/media", everyone},
		{"GET", "/api/v1/media/", everyone},
		{"GET", "/api/v1/media/trash", everyone},
		{"POST", "/api/v1/media/trash/empty", everyone},
		{"GET", "/api/v1/media/{id}", everyone},
		{"GET", "/api/v1/media/{id}/file", everyone},
		{"GET", "/api/v1/media/{id}/thumbnail", everyone},
		{"DELETE", "/api/v1/media/{id}", everyone},
		{"POST", "/api/v1/media/{id}/restore", everyone},
		{"DELETE", "/api/v1/media/{id}/permanent", everyone},
		{"POST", "/api/v1/media/{id}/reprocess", everyone},
		{"POST", "/api/v1/media/process-documents", everyone},
		{"POST", "/api/v1/media/process-pdfs", everyone},
		{"POST", "/api/v1/media/process-ebooks", everyone},
		{"POST", "/api/v1/media/process-emails", everyone},
		{"POST", "/api/v1/media/process-code", everyone},
		{"POST", "/api/v1/media/process-videos", everyone},
		{"POST", "/api/v1/media/process-audios", everyone},
		{"GET", "/api/v1/media/ingest/jobs", everyone},
		{"GET", "/api/v1/media/ingest/jobs/", everyone},
		{"GET", "/api/v1/media/ingest/jobs/{id}", everyone},
		{"DELETE", "/api/v1/media/ingest/jobs/{id}", everyone},
		{"POST", "/api/v1/media/ingest/jobs/{id}/retry", everyone},
		{"GET", "/api/v1/media/ingest/jobs/{id}/events", everyone},
		{"GET", "/api/v1/users/storage", everyone},
		{"POST", "/api/v1/users/storage/recalculate", everyone},
		{"GET", "/api/v1/admin/storage-quotas/summary", admin},
		{"GET", "/api/v1/admin/storage-quotas/users/{id}", admin},
		{"PUT", "/api/v1/admin/storage-quotas/users/{id}", admin},
	}
}
