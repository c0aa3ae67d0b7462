package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of package auth. Functions wrap them with client-visible detail
// (Detailf(ErrInvalid, "...")) or log-only detail (fmt.Errorf); callers test with errors.Is. The HTTP
// layer maps each sentinel to one status and stable code.
var (
	// ErrUnauthenticated means a credential (password, token, API key) was
	// missing, malformed or rejected. It maps to 401.
	ErrUnauthenticated = errors.New("auth: unauthenticated")
	// ErrForbidden means the principal is known but may not do this. It maps
	// to 403.
	ErrForbidden = errors.New("auth: forbidden")
	// ErrNotFound means the object does not exist or belongs to someone else.
	// It maps to 404.
	ErrNotFound = errors.New("auth: not found")
	// ErrConflict means a uniqueness rule was violated (duplicate username or
	// email). It maps to 409.
	ErrConflict = errors.New("auth: conflict")
	// ErrInvalid means the input was rejected (bad format, weak password,
	// weak configuration). It maps to 400.
	ErrInvalid = errors.New("auth: invalid input")
	// ErrLocked means the account or client is temporarily locked out after
	// failed logins. It maps to 429 with Retry-After.
	ErrLocked = errors.New("auth: locked")
	// ErrBusy means every password-hashing slot stayed taken for the whole
	// wait. It maps to 503 with Retry-After; the client should try again.
	ErrBusy = errors.New("auth: password hashing busy")
	// ErrExpired refines another sentinel: an expired token is reported as
	// both ErrUnauthenticated and ErrExpired. It never decides the status on
	// its own; it only lets the HTTP layer pick a more precise message.
	ErrExpired = errors.New("auth: expired")
	// ErrInactive means the account is disabled. It maps to 403 ("Account is
	// inactive").
	ErrInactive = errors.New("auth: account inactive")

	// ErrAPIKeyLimit refines ErrConflict: the user already holds MaxAPIKeysPerUser live
	// API keys. It maps to 409 api_key_limit.
	ErrAPIKeyLimit = fmt.Errorf("%w: api key limit", ErrConflict)
	// ErrKeyCannotMint refines ErrForbidden: a request authenticated by an API key without
	// the admin scope tried to create an API key. It maps to 403 api_key_cannot_mint.
	ErrKeyCannotMint = fmt.Errorf("%w: api key cannot mint", ErrForbidden)
)

// ErrClientNotAllowed means single-user mode refused the client's address
// (SingleUserIPs). It is an ErrForbidden.
var ErrClientNotAllowed = fmt.Errorf("%w: client address not allowed", ErrForbidden)

// PolicyError lists every way a password breaks the password policy, so a
// client can show them all at once. It matches ErrInvalid under errors.Is.
type PolicyError struct {
	Problems []string
}

// Error joins the problems with "; ", as tldw_server does.
func (e *PolicyError) Error() string {
	return "password does not meet requirements: " + strings.Join(e.Problems, "; ")
}

// Is reports whether target is ErrInvalid, so a PolicyError maps to 400.
func (e *PolicyError) Is(target error) bool { return target == ErrInvalid }

// Detailf returns an error of kind (a sentinel of this package) whose formatted text the
// client may see: the HTTP layer shows it as the response's detail (ClientDetail), never
// err.Error(). Use it for reasons a user can act on ("username is taken"); internals go in
// fmt.Errorf wrapping instead. errors.Is(err, kind) holds.
func Detailf(kind error, format string, args ...any) error {
	return &detailError{kind: kind, text: fmt.Sprintf(format, args...)}
}

// detailError is what Detailf returns.
type detailError struct {
	kind error
	text string
}

func (e *detailError) Error() string { return e.kind.Error() + ": " + e.text }

// Unwrap returns the sentinel.
func (e *detailError) Unwrap() error { return e.kind }

// ClientDetail returns the client-visible text.
func (e *detailError) ClientDetail() string { return e.text }
