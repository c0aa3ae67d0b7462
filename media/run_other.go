//go:build !unix

package media

import "os/exec"

// setProcessGroup: without Unix process groups, cancellation kills the program alone.
func setProcessGroup(*exec.Cmd) {}
