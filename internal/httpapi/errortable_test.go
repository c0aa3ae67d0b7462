package httpapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage"
)

// Every domain sentinel maps through the one table; client detail comes only from the
// domain's typed detail (Detailf), never from the error's text.
func TestDomainErrorTable(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
		detail string
	}{
		{media.ErrNotFound, 404, "not_found", "Media not found"},
		{fmt.Errorf("%w (%w): 5 bytes left", media.ErrQuotaExceeded, quota.ErrExceeded), 413, "storage_quota_exceeded", "Storage quota exceeded"},
		{media.ErrTooLarge, 413, "payload_too_large", "The file exceeds the maximum upload size"},
		{media.ErrIncomplete, 400, "upload_incomplete", "The upload ended early or could not be read"},
		{media.Detailf(media.ErrInvalid, "title must be at most %d characters", 500), 400, "invalid_request", "Title must be at most 500 characters"},
		{fmt.Errorf("%w: /var/lib/tldw/secret.pdf", media.ErrInvalid), 400, "invalid_request", "Invalid request"},
		{media.ErrConflict, 409, "conflict", "Conflict"},
		{fmt.Errorf("%w: %w: evil.test resolves to 127.0.0.1", media.ErrInvalid, media.ErrBlocked), 400, "url_not_allowed", "The URL's address may not be fetched"},
		{fmt.Errorf("%w: fetch http://a.test/: connection refused", media.ErrFetchFailed), 502, "url_fetch_failed", "The URL could not be fetched; try again later"},
		{fmt.Errorf("extract: %w", &media.BudgetError{Code: media.CodeOCRPagesPerDay, PerDay: 5}), 429, media.CodeOCRPagesPerDay, "Daily processing budget used up; it renews at 00:00 UTC"},
		{media.Detailf(media.ErrUnsupported, "a .xyz file cannot be read"), 415, "unsupported_media_type", "A .xyz file cannot be read"},
		{media.ErrTimeout, 422, "processing_timeout", "Processing this input took too long"},
		{quota.ErrExceeded, 413, "storage_quota_exceeded", "Storage quota exceeded"},
		{quota.ErrNotFound, 500, "internal_error", "internal error"},
		{quota.ErrInvalid, 500, "internal_error", "internal error"},
		{storage.ErrNotExist, 404, "not_found", "Not found"},
		{storage.ErrTooLarge, 413, "payload_too_large", "Payload too large"},
		{storage.ErrInvalidKey, 500, "internal_error", "internal error"},
		{fmt.Errorf("%w: unknown format", audit.ErrInvalid), 400, "invalid_parameter", "invalid audit query"},
		{audit.ErrClosed, 503, "service_unavailable", "Audit log unavailable"},
		{auth.Detailf(auth.ErrConflict, "username is taken"), 409, "conflict", "Username is taken"},
		{fmt.Errorf("wrapped: %w", errors.Join(auth.Detailf(auth.ErrInvalid, "a"), fmt.Errorf("%w: not shown", auth.ErrInvalid),
			auth.Detailf(auth.ErrInvalid, "b"))), 400, "invalid_request", "A; B"},
		{auth.Detailf(auth.ErrInvalid, "%s", string(make([]byte, 301))), 400, "invalid_request", "Invalid request"},
	} {
		t.Run(c.err.Error(), func(t *testing.T) {
			e := classify(c.err, fixedNow)
			if e.Status != c.status || e.Code != c.code || (e.Status < 500 && e.Detail != c.detail) ||
				(e.Status == 429 && e.Header.Get("Retry-After") == "") {
				t.Fatalf("classify = %d %q %q, want %d %q %q", e.Status, e.Code, e.Detail, c.status, c.code, c.detail)
			}
		})
	}
}
