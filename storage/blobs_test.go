package storage_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/storage"
)

func TestValidKey(t *testing.T) {
	good := []string{
		"a",
		"42/2026/11/abc.mp4",
		".hidden",
		"a/.b/c",
		"a/..b",
		"a/b..",
		"...",
		"name with spaces.txt",
		"ünïcode/ファイル",
		strings.Repeat("a", storage.MaxKeyLen),
	}
	for _, k := range good {
		if err := storage.ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v, want nil", k, err)
		}
	}

	bad := map[string]string{
		"empty":          "",
		"absolute":       "/abs",
		"dotdot":         "..",
		"dot":            ".",
		"inner dotdot":   "a/../b",
		"leading dotdot": "../a",
		"trailing dot":   "a/.",
		"inner dot":      "a/./b",
		"double slash":   "a//b",
		"trailing slash": "a/",
		"only slash":     "/",
		"NUL":            "a\x00b",
		"backslash":      `a\b`,
		"backslash up":   `..\etc`,
		"too long":       strings.Repeat("a", storage.MaxKeyLen+1),
	}
	for name, k := range bad {
		err := storage.ValidKey(k)
		if !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("%s: ValidKey(%q) = %v, want ErrInvalidKey", name, k, err)
		}
		if errors.Is(err, storage.ErrNotExist) {
			t.Errorf("%s: error also matches ErrNotExist", name)
		}
	}
}

func TestValidKeyMessage(t *testing.T) {
	err := storage.ValidKey("a\x00\"b/../c")
	if err == nil {
		t.Fatal("want error")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\x00") || strings.Count(msg, `"`) != 2 {
		t.Errorf("message not sanitised: %q", msg)
	}
	long := storage.ValidKey(strings.Repeat("x", 2000))
	if long == nil || len(long.Error()) > 200 {
		t.Errorf("long key message not truncated: %v", long)
	}
}
