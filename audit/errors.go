package audit

import "errors"

// Sentinel errors of package audit. Detail is added by wrapping them with %w, so test with
// errors.Is.
var (
	// ErrInvalid reports a bad argument, such as an unknown log format or an event that
	// cannot be encoded.
	ErrInvalid = errors.New("audit: invalid argument")
	// ErrClosed reports a write to a sink that has been closed.
	ErrClosed = errors.New("audit: sink closed")
)
