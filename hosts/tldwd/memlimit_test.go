package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The memory limit is 75 % of a cgroup v2 or v1 limit, or the default without one.
func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, file, value string
		want              int64
	}{
		{"v2", "memory.max", "1073741824\n", 805306368},
		{"v2 unlimited", "memory.max", "max\n", DefaultMemoryLimit},
		{"v1", "memory/memory.limit_in_bytes", "536870912\n", 402653184},
		{"v1 unlimited", "memory/memory.limit_in_bytes", "9223372036854771712\n", DefaultMemoryLimit},
		{"none", "", "", DefaultMemoryLimit},
	} {
		root := t.TempDir()
		if tc.file != "" {
			p := filepath.Join(root, tc.file)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(tc.value), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if got := memoryLimit(root); got != tc.want {
			t.Errorf("%s: memoryLimit = %d, want %d", tc.name, got, tc.want)
		}
	}
}
