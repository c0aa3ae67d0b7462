//go:build !unix

package tldw

import "errors"

// freeBytes is not implemented off Unix; the disk check then reports degraded.
func freeBytes(string) (uint64, error) {
	return 0, errors.New("free disk space unknown on this platform")
}
