package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalUsername(t *testing.T) {
	ok := map[string]string{
		"alice":                 "alice",
		"Alice":                 "alice",
		"  bob  ":               "bob",
		"carol\n":               "carol", // surrounding whitespace is trimmed
		"a.b-c_d":               "a.b-c_d",
		"ＡＤＭＩＮ":                 "admin",   // full-width letters fold to ASCII under NFKC
		"ﬁnance":                "finance", // ligature
		"abc":                   "abc",
		strings.Repeat("x", 50): strings.Repeat("x", 50),
		"User.Name-42":          "user.name-42",
	}
	for in, want := range ok {
		if got, err := CanonicalUsername(in); err != nil || got != want {
			t.Errorf("CanonicalUsername(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", "ab", "  ab  ", strings.Repeat("x", 51), "al ice", "alice@example.com", "ålice",
		"аdmin", // Cyrillic а: a homoglyph, not ASCII after NFKC
		"admin\x00", "ad\nmin", "ad/min", "ad\\min", "admin'--", "<script>",
		strings.Repeat("ﷺ", 400), // expands enormously under NFKC
		strings.Repeat("a", 2000),
	}
	for _, in := range bad {
		if got, err := CanonicalUsername(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("CanonicalUsername(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
	a, _ := CanonicalUsername("ＡＬＩＣＥ")
	b, _ := CanonicalUsername("alice")
	if a != b {
		t.Fatal("visually equivalent usernames do not collide")
	}
}

func TestCanonicalEmail(t *testing.T) {
	ok := map[string]string{
		"alice@example.com": "alice@example.com",
		"Alice@Example.COM": "alice@example.com",
		" bob@example.org ": "bob@example.org",
		"ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ":        "alice@example.com",
		"first.last+tag@sub.ex.io": "first.last+tag@sub.ex.io",
		"STRASSE@example.de":       "strasse@example.de",
		"straße@example.de":        "strasse@example.de",
		"o'brien@example.ie":       "o'brien@example.ie",
	}
	for in, want := range ok {
		if got, err := CanonicalEmail(in); err != nil || got != want {
			t.Errorf("CanonicalEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", "alice", "alice@", "@example.com", "alice@example", "alice@@example.com",
		"Alice <alice@example.com>", "<alice@example.com>", "alice@example.com (comment)",
		"alice @example.com", "alice\n@example.com", "alice@example.com\r\nBcc: x@y.z",
		"alice@.example.com", "alice@example.com.", "alice@example..com", "alice@[127.0.0.1]",
		"a@b@example.com", "alice,bob@example.com", "alice@exa mple.com",
		strings.Repeat("a", 250) + "@example.com", strings.Repeat("a", 5000),
	}
	for _, in := range bad {
		if got, err := CanonicalEmail(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("CanonicalEmail(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}
