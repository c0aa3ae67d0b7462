package sqlstore

import "errors"

// ErrInvalid reports a malformed database URL or invalid Options. Open wraps it
// with detail; callers test for it with errors.Is.
var ErrInvalid = errors.New("sqlstore: invalid argument")
