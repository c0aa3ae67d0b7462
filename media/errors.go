package media

import (
	"errors"
	"fmt"
)

// Sentinel errors of package media. Functions wrap them with detail, for the client with
// Detailf (Detailf(ErrInvalid, "...")), for logs only with fmt.Errorf("%w: ...", ErrInvalid);
// callers test with errors.Is. The HTTP layer maps each to one status and stable code.
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

// Detailf returns an error of kind (a sentinel of this package) whose formatted text the
// client may see: the HTTP layer shows it as the response's detail (ClientDetail), never
// err.Error(). Adapters use it for reasons a user can act on ("a keyword must be at most
// 100 characters"); internals (paths, library errors) go in fmt.Errorf wrapping instead.
func Detailf(kind error, format string, args ...any) error {
	return &detailError{kind: kind, text: fmt.Sprintf(format, args...)}
}

// detailError is what Detailf returns: errors.Is(err, kind) holds.
type detailError struct {
	kind error
	text string
}

func (e *detailError) Error() string { return e.kind.Error() + ": " + e.text }

// Unwrap returns the sentinel.
func (e *detailError) Unwrap() error { return e.kind }

// ClientDetail returns the client-visible text.
func (e *detailError) ClientDetail() string { return e.text }
