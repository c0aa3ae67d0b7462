package auth

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestRandomToken(t *testing.T) {
	for _, n := range []int{16, 32, 64, 1024} {
		tok, err := RandomToken(n)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != n || strings.ContainsAny(tok, "+/=") {
			t.Fatalf("RandomToken(%d) = %q", n, tok)
		}
	}
	for _, n := range []int{-1, 0, 8, 15, 1025} {
		if _, err := RandomToken(n); !errors.Is(err, ErrInvalid) {
			t.Errorf("RandomToken(%d) err = %v, want ErrInvalid", n, err)
		}
	}
	a, _ := RandomToken(32)
	b, _ := RandomToken(32)
	if a == b {
		t.Fatal("two random tokens are equal")
	}
}

func TestHashTokenAndRefresh(t *testing.T) {
	if got := HashToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashToken(abc) = %s", got)
	}
	tok, hash, err := NewRefreshToken()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("refresh token %q is not 256 random bits", tok)
	}
	if hash != HashToken(tok) || strings.Contains(hash, tok) {
		t.Fatalf("refresh hash %q", hash)
	}
}

func TestNewRegistrationCode(t *testing.T) {
	re := regexp.MustCompile(`^[A-Z0-9]{24}$`)
	counts := map[rune]int{}
	const codes = 10000
	seen := map[string]bool{}
	for range codes {
		c, err := NewRegistrationCode()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(c) {
			t.Fatalf("code %q not 24 chars of A-Z0-9", c)
		}
		if seen[c] {
			t.Fatalf("duplicate code %q", c)
		}
		seen[c] = true
		for _, r := range c {
			counts[r]++
		}
	}
	if len(counts) != 36 {
		t.Fatalf("only %d distinct characters used", len(counts))
	}
	// Chi-square against the uniform distribution, 35 degrees of freedom.
	// Uniform output gives about 35 (P(χ² > 100) ≈ 1e-8); a modulo-biased
	// generator (8/256 vs 7/256) gives about 470.
	exp := float64(codes*RegistrationCodeLen) / 36
	chi := 0.0
	for _, n := range counts {
		d := float64(n) - exp
		chi += d * d / exp
	}
	if chi > 100 {
		t.Fatalf("character distribution is not uniform: chi-square %.1f (counts %v)", chi, counts)
	}
}
