package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// Problem keys: a short, stable substring of each message.
const (
	pShort    = "characters long"
	pLong     = "bytes long"
	pUpper    = "uppercase"
	pLower    = "lowercase"
	pDigit    = "digit"
	pSpecial  = "special"
	pCommon   = "too common"
	pUsername = "username"
	pSeq      = "sequential"
	pRepeat   = "identical"
)

func problemKeys(err error) []string {
	var pe *PolicyError
	if !errors.As(err, &pe) {
		return nil
	}
	var keys []string
	for _, k := range []string{pShort, pLong, pUpper, pLower, pDigit, pSpecial, pCommon, pUsername, pSeq, pRepeat} {
		for _, p := range pe.Problems {
			if strings.Contains(p, k) && !(k == pDigit && strings.Contains(p, "three")) {
				keys = append(keys, k)
				break
			}
		}
	}
	return keys
}

func TestPolicyCheck(t *testing.T) {
	p := DefaultPolicy()
	cases := []struct {
		name, pw, user string
		want           []string
	}{
		{"strong", "Tr0ub4dor&3x", "alice", nil},
		{"strong unicode", "Ünïcødé#Pä9x", "alice", nil},
		{"year allowed", "Good#2012Year", "alice", nil},
		{"everything wrong", "aaa", "aaa", []string{pShort, pUpper, pDigit, pSpecial, pCommon, pUsername, pRepeat}},
		{"empty", "", "alice", []string{pShort, pUpper, pLower, pDigit, pSpecial}},
		{"too short", "Ab1!xy", "alice", []string{pShort}},
		{"no upper", "tr0ub4dor&3x", "alice", []string{pUpper}},
		{"no lower", "TR0UB4DOR&3X", "alice", []string{pLower}},
		{"no digit", "Troubxdor&zx", "alice", []string{pDigit}},
		{"no special", "Tr0ub4dor3xq", "alice", []string{pSpecial}},
		{"common exact", "iloveyou12", "alice", []string{pUpper, pSpecial, pCommon}},
		{"common stripped", "Password1!", "alice", []string{pCommon}},
		{"common stripped mixed", "L3tmein#!9x", "alice", nil}, // "ltmeinx" is not on the list
		{"common stripped 2", "Letmein#!95", "alice", []string{pCommon}},
		{"contains username", "xxAlice#9Qz", "alice", []string{pUsername}},
		{"username case", "xxALICE#9Qz", "Alice", []string{pUsername}},
		{"seq abc", "Qabcz#9Wxy!", "alice", []string{pSeq}},
		{"seq CBA", "QCBAz#9Wmx!", "alice", []string{pSeq}},
		{"seq mixed case", "QaBcz#9Wmx!", "alice", []string{pSeq}},
		{"seq 123", "Qwz#123Wmx!", "alice", []string{pSeq}},
		{"seq 321", "Qwz#321Wmx!", "alice", []string{pSeq}},
		{"seq 0123 not a year", "Good#0123Yr", "alice", []string{pSeq}},
		{"repeat", "Qwz#9WWWmx!", "alice", []string{pRepeat}},
		{"repeat symbol", "Qwz#9W!!!mx", "alice", []string{pRepeat}},
		{"too long", "Tr0ub4dor&3x" + strings.Repeat("Zq7!", 260), "alice", []string{pLong}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := p.Check(c.pw, c.user)
			if got := problemKeys(err); !slices.Equal(got, c.want) {
				t.Fatalf("Check(%q, %q) problems = %v (%v), want %v", c.pw, c.user, got, err, c.want)
			}
			if (err == nil) != (c.want == nil) {
				t.Fatalf("Check err = %v, want problems %v", err, c.want)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("PolicyError does not match ErrInvalid")
			}
		})
	}
}

func TestPolicyErrorMessage(t *testing.T) {
	err := DefaultPolicy().Check("", "alice")
	var pe *PolicyError
	if !errors.As(err, &pe) || len(pe.Problems) != 5 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "; ") || !strings.Contains(err.Error(), pe.Problems[4]) {
		t.Fatalf("Error() = %q does not join every problem", err.Error())
	}
}

func TestPolicyMinLength(t *testing.T) {
	cases := []struct {
		min, want int
	}{{0, 10}, {4, 8}, {8, 8}, {12, 12}}
	for _, c := range cases {
		p := Policy{MinLength: c.min}
		pw := "Qz9#" + strings.Repeat("x", c.want-5) + "y" // exactly c.want chars, no runs
		pw = strings.ReplaceAll(pw, "xx", "xq")
		if len(pw) != c.want {
			t.Fatalf("test bug: len %d", len(pw))
		}
		if err := p.Check(pw, "alice"); err != nil {
			t.Errorf("MinLength %d: %d-char password refused: %v", c.min, c.want, err)
		}
		if got := problemKeys(p.Check(pw[:len(pw)-1], "alice")); !slices.Contains(got, pShort) {
			t.Errorf("MinLength %d: %d-char password not refused as short", c.min, c.want-1)
		}
	}
}

func TestCommonPasswordList(t *testing.T) {
	if n := len(commonPasswords); n < 1000 {
		t.Fatalf("common-password list has %d entries, want ≥ 1000", n)
	}
	for _, w := range []string{"password", "123456", "qwerty", "letmein", "welcome", "admin", "iloveyou", "monkey", "dragon", "trustno1", "passw0rd"} {
		if _, ok := commonPasswords[w]; !ok {
			t.Errorf("%q missing from the common-password list", w)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(commonPasswordsText), "\n") {
		if line != strings.ToLower(strings.TrimSpace(line)) || line == "" {
			t.Errorf("list line %q is not trimmed lower case", line)
		}
	}
	if !isCommonPassword("QWERTY") || !isCommonPassword("Dragon!!2") || isCommonPassword("zq") {
		t.Fatal("isCommonPassword case folding/stripping broken")
	}
}

func TestPolicyCheckHistory(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(testParams, 2, time.Second)
	var prev []string // newest first
	for i := range 6 {
		enc, err := h.Hash(ctx, "Old#Pass"+string(rune('A'+i))+"9x")
		if err != nil {
			t.Fatal(err)
		}
		prev = append([]string{enc}, prev...)
	}
	// prev[0] is "...F", prev[5] is "...A" (the sixth most recent).
	p := DefaultPolicy()
	if err := p.CheckHistory(ctx, h, "Old#PassF9x", prev); !errors.Is(err, ErrInvalid) {
		t.Fatalf("newest password reuse: err = %v, want PolicyError", err)
	}
	if err := p.CheckHistory(ctx, h, "Old#PassB9x", prev); !errors.Is(err, ErrInvalid) {
		t.Fatalf("5th most recent reuse: err = %v, want PolicyError", err)
	}
	if err := p.CheckHistory(ctx, h, "Old#PassA9x", prev); err != nil {
		t.Fatalf("6th most recent is outside the history: err = %v", err)
	}
	if err := p.CheckHistory(ctx, h, "Brand#New9x", prev); err != nil {
		t.Fatalf("fresh password: err = %v", err)
	}
	if err := (Policy{HistoryCount: -1}).CheckHistory(ctx, h, "Old#PassF9x", prev); err != nil {
		t.Fatalf("history disabled: err = %v", err)
	}
}
