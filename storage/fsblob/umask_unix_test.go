//go:build unix

package fsblob

import (
	"syscall"
	"testing"
)

// TestModesIgnoreUmask: a restrictive umask must not hide media from nginx's group. The umask
// is process-wide, so this test must not run in parallel.
func TestModesIgnoreUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	s := open(t)
	put(t, s, "u1/a/b.txt", "x")
	checkModes(t, s.Root())
}
