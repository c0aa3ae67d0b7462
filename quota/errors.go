package quota

import "errors"

var (
	// ErrExceeded: the reservation would take usage past the limit; nothing was reserved.
	ErrExceeded = errors.New("quota: exceeded")
	// ErrNotFound: the reservation is unknown (already committed, released or expired).
	ErrNotFound = errors.New("quota: reservation not found")
	// ErrInvalid: a negative amount, an empty subject or a malformed limit.
	ErrInvalid = errors.New("quota: invalid")
)
