package media

import "errors"

// Sentinel errors of package media. Functions wrap them with detail
// (fmt.Errorf("%w: ...", ErrInvalid)); callers test with errors.Is. The HTTP layer maps each
// to one status and stable code.
var (
	// ErrNotFound: the item does not exist or belongs to another user (never told apart, so
	// existence does not leak). Maps to 404.
	ErrNotFound = errors.New("media: not found")
	// ErrInvalid: the input was rejected (unknown media type, empty file, overlong title,
	// bad page). Maps to 400.
	ErrInvalid = errors.New("media: invalid input")
	// ErrTooLarge: the upload exceeds the per-upload size limit (MAX_UPLOAD_SIZE_MB); nothing
	// was stored. Maps to 413.
	ErrTooLarge = errors.New("media: upload too large")
	// ErrQuotaExceeded: the upload does not fit in the user's storage quota; nothing was
	// stored. Errors carrying it also match quota.ErrExceeded. Maps to 413
	// storage_quota_exceeded.
	ErrQuotaExceeded = errors.New("media: storage quota exceeded")
	// ErrIncomplete: the upload body failed or ended early (client abort, truncated
	// multipart); nothing was stored. Maps to 400.
	ErrIncomplete = errors.New("media: upload incomplete")
	// ErrConflict: a uniqueness rule was violated (the user already has an item with this
	// content hash, or the blob key is taken). Maps to 409.
	ErrConflict = errors.New("media: conflict")
)
