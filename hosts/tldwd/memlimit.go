package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT is unset and
// no cgroup (container) memory limit is found. It keeps the heap of a server processing
// many documents at once near its live size (the collector runs more often as the heap
// nears it) instead of letting it double between collections; it is soft: a server that
// needs more memory uses more, and the collector then takes at most about half the CPU.
const DefaultMemoryLimit = 160 << 20

// cgroupShare is the part of a cgroup memory limit given to the Go heap: the rest is for
// what the runtime does not count (SQLite's page cache and allocations, thread stacks,
// the binary) and for the tools the server runs, which share the cgroup.
const cgroupShare = 0.75

// setMemoryLimit applies memoryLimit unless GOMEMLIMIT is set (the runtime honours it).
func setMemoryLimit(lookup func(string) (string, bool)) {
	if v, ok := lookup("GOMEMLIMIT"); ok && v != "" {
		return
	}
	debug.SetMemoryLimit(memoryLimit("/sys/fs/cgroup"))
}

// memoryLimit is cgroupShare of the memory limit of this process's cgroup under root
// (cgroup v2 memory.max, or v1 memory/memory.limit_in_bytes), or DefaultMemoryLimit when
// there is none.
func memoryLimit(root string) int64 {
	for _, f := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<50 { // "max", or v1's "unlimited" (about 2^63)
			continue
		}
		return int64(float64(n) * cgroupShare)
	}
	return DefaultMemoryLimit
}
