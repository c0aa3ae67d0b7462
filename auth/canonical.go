package auth

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Input bounds, applied before normalisation so NFKC expansion stays cheap.
const (
	maxIdentifierInput = 1024
	maxEmailLen        = 254 // RFC 5321 path limit
)

// CanonicalUsername returns the form of a username used for uniqueness and
// login: surrounding spaces trimmed, Unicode NFKC, then case-folded. After
// NFKC the name must be 3–50 characters from [A-Za-z0-9_.-] (so "ＡＤＭＩＮ"
// and "Admin" both become "admin"). Errors wrap ErrInvalid with the reason.
// Pure; safe for concurrent use.
func CanonicalUsername(s string) (string, error) {
	if len(s) > maxIdentifierInput {
		return "", fmt.Errorf("%w: username is too long", ErrInvalid)
	}
	u := norm.NFKC.String(strings.TrimSpace(s))
	if n := utf8.RuneCountInString(u); n < 3 || n > 50 {
		return "", fmt.Errorf("%w: username must be 3 to 50 characters", ErrInvalid)
	}
	for _, r := range u {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return "", fmt.Errorf("%w: username may contain only letters A-Z, digits, '_', '.' and '-'", ErrInvalid)
		}
	}
	return cases.Fold().String(u), nil
}

// CanonicalEmail returns the form of an email address used for uniqueness
// and login: surrounding spaces trimmed, Unicode NFKC, then case-folded
// (local part included, deliberately: two accounts must not differ only by
// case). The address must be a bare addr-spec that net/mail accepts (no
// display name or angle brackets), at most 254 bytes, with no spaces or
// control characters and a dotted domain. Errors wrap ErrInvalid with the
// reason. Pure; safe for concurrent use.
func CanonicalEmail(s string) (string, error) {
	if len(s) > maxIdentifierInput {
		return "", fmt.Errorf("%w: email is too long", ErrInvalid)
	}
	e := norm.NFKC.String(strings.TrimSpace(s))
	if e == "" {
		return "", fmt.Errorf("%w: email is required", ErrInvalid)
	}
	if len(e) > maxEmailLen {
		return "", fmt.Errorf("%w: email is too long", ErrInvalid)
	}
	if strings.IndexFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", fmt.Errorf("%w: email must not contain spaces or control characters", ErrInvalid)
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", fmt.Errorf("%w: email is not a valid address", ErrInvalid)
	}
	at := strings.LastIndexByte(e, '@')
	local, domain := e[:at], e[at+1:]
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") || strings.HasPrefix(domain, "[") {
		return "", fmt.Errorf("%w: email is not a valid address", ErrInvalid)
	}
	return cases.Fold().String(e), nil
}
