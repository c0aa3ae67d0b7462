package auth

import (
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
		return "", Detailf(ErrInvalid, "username is too long")
	}
	u := norm.NFKC.String(strings.TrimSpace(s))
	if n := utf8.RuneCountInString(u); n < 3 || n > 50 {
		return "", Detailf(ErrInvalid, "username must be 3 to 50 characters")
	}
	for _, r := range u {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return "", Detailf(ErrInvalid, "username may contain only letters A-Z, digits, '_', '.' and '-'")
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
		return "", Detailf(ErrInvalid, "email is too long")
	}
	e := norm.NFKC.String(strings.TrimSpace(s))
	if e == "" {
		return "", Detailf(ErrInvalid, "email is required")
	}
	if len(e) > maxEmailLen {
		return "", Detailf(ErrInvalid, "email is too long")
	}
	if strings.IndexFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", Detailf(ErrInvalid, "email must not contain spaces or control characters")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", Detailf(ErrInvalid, "email is not a valid address")
	}
	at := strings.LastIndexByte(e, '@')
	local, domain := e[:at], e[at+1:]
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") || strings.HasPrefix(domain, "[") {
		return "", Detailf(ErrInvalid, "email is not a valid address")
	}
	return cases.Fold().String(e), nil
}
