package media

import (
	"errors"
	"fmt"

	"github.com/tldw-go/tldw/quota"
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
	// ErrBlocked: URL ingest refused to connect to the URL's address (loopback, private,
	// link-local, multicast, unspecified, cloud metadata; after DNS resolution and on every
	// redirect) because MEDIA_URL_ALLOWLIST does not allow it. Errors carrying it also match
	// ErrInvalid. Maps to 400 url_not_allowed.
	ErrBlocked = errors.New("media: address not allowed")
	// ErrFetchFailed: URL ingest could not download the URL for a reason a later try may not
	// have (the remote answered 429 or 5xx, a timeout, a refused connection). Maps to 502
	// url_fetch_failed.
	ErrFetchFailed = errors.New("media: URL fetch failed")
	// ErrBudgetExceeded: a per-user daily budget (MEDIA_OCR_PAGES_PER_DAY,
	// MEDIA_URL_FETCH_BYTES_PER_DAY) is used up. Errors carrying it also match
	// quota.ErrExceeded and are a *BudgetError naming the budget's code (CodeOCRPagesPerDay,
	// CodeURLFetchBytesPerDay). Maps to 429 with that code.
	ErrBudgetExceeded = errors.New("media: daily budget exceeded")
	// ErrTooManyJobs: the user already has as many inputs processing as they may at once
	// (Service.EphemeralPerUser for the process-* endpoints). Maps to 429
	// too_many_active_jobs; retrying later helps.
	ErrTooManyJobs = errors.New("media: too many active jobs")
)

// The stable codes of the daily budgets (BudgetError.Code).
const (
	CodeOCRPagesPerDay      = "ocr_pages_per_day_exceeded"
	CodeURLFetchBytesPerDay = "url_fetch_bytes_per_day_exceeded"
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

// BudgetError is the error of a used-up daily budget: it matches ErrBudgetExceeded and
// quota.ErrExceeded, and Code is the stable code the client sees.
type BudgetError struct {
	Code     string // CodeOCRPagesPerDay or CodeURLFetchBytesPerDay
	Resource string // the quota resource counted
	PerDay   int64  // the daily allowance
	Left     int64  // what was left today when the request was refused
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%v: %s: the daily allowance of %d %s has %d left", ErrBudgetExceeded, e.Code, e.PerDay, e.Resource, e.Left)
}

// Is makes a BudgetError match ErrBudgetExceeded and quota.ErrExceeded.
func (e *BudgetError) Is(target error) bool {
	return target == ErrBudgetExceeded || target == quota.ErrExceeded
}
