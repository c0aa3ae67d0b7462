package auth

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// commonPasswordsText is the built-in list of common passwords, one per line,
// lower case.
//
//go:embed common-passwords.txt
var commonPasswordsText string

// commonPasswords is built once from commonPasswordsText and never written
// afterwards, so it is safe to read concurrently.
var commonPasswords = func() map[string]struct{} {
	m := make(map[string]struct{}, 2048)
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		if w := strings.TrimSpace(line); w != "" {
			m[strings.ToLower(w)] = struct{}{}
		}
	}
	return m
}()

// Policy is the password policy of tldw_server (PASSWORD_MIN_LENGTH,
// PASSWORD_HISTORY_RETENTION_COUNT). The zero value means the defaults.
type Policy struct {
	MinLength    int // minimum length in characters; 0 means 10, values below 8 are raised to 8
	HistoryCount int // how many previous hashes a new password may not match; 0 means 5, negative disables
}

// DefaultPolicy returns MinLength 10 and HistoryCount 5.
func DefaultPolicy() Policy { return Policy{MinLength: 10, HistoryCount: 5} }

func (p Policy) minLength() int {
	switch {
	case p.MinLength == 0:
		return 10
	case p.MinLength < 8:
		return 8
	}
	return p.MinLength
}

func (p Policy) historyCount() int {
	switch {
	case p.HistoryCount == 0:
		return 5
	case p.HistoryCount < 0:
		return 0
	}
	return p.HistoryCount
}

// Check returns nil when password satisfies the policy and otherwise a
// *PolicyError (matching ErrInvalid) listing every violation:
//   - shorter than MinLength characters, or longer than MaxPasswordBytes bytes;
//   - no upper-case letter, lower-case letter, digit, or special character
//     (Unicode punctuation or symbol);
//   - in the built-in common-password list (case-insensitive), also after
//     removing all digits and symbols ("Password123!" → "password");
//   - contains the username (case-insensitive);
//   - three sequential letters or digits ("abc", "123", "cba", "321"), except
//     inside a year 2000–2099, or three identical characters ("aaa").
//
// Check is a pure function; it is safe for concurrent use.
func (p Policy) Check(password, username string) error {
	var problems []string
	add := func(s string) { problems = append(problems, s) }

	if n := utf8.RuneCountInString(password); n < p.minLength() {
		add(fmt.Sprintf("Password must be at least %d characters long", p.minLength()))
	}
	if len(password) > MaxPasswordBytes {
		add(fmt.Sprintf("Password must be at most %d bytes long", MaxPasswordBytes))
	}
	var upper, lower, digit, special bool
	for _, r := range password {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			special = true
		}
	}
	if !upper {
		add("Password must contain at least one uppercase letter")
	}
	if !lower {
		add("Password must contain at least one lowercase letter")
	}
	if !digit {
		add("Password must contain at least one digit")
	}
	if !special {
		add("Password must contain at least one special character")
	}
	if isCommonPassword(password) {
		add("Password is too common")
	}
	if u := strings.TrimSpace(username); u != "" && strings.Contains(strings.ToLower(password), strings.ToLower(u)) {
		add("Password must not contain the username")
	}
	if hasSequentialRun(password) {
		add("Password must not contain sequential characters (like abc or 123)")
	}
	if hasRepeatedRun(password) {
		add("Password must not contain three identical characters in a row")
	}
	if len(problems) > 0 {
		return &PolicyError{Problems: problems}
	}
	return nil
}

// CheckHistory returns a *PolicyError when password matches one of the
// first HistoryCount hashes in previous (newest first, as stored in
// password_history). It verifies with h, so it can also return ErrBusy,
// ctx.Err() or a malformed-hash error. Safe for concurrent use.
func (p Policy) CheckHistory(ctx context.Context, h *Hasher, password string, previous []string) error {
	n := min(p.historyCount(), len(previous))
	for _, enc := range previous[:n] {
		ok, _, err := h.Verify(ctx, password, enc)
		if err != nil {
			return err
		}
		if ok {
			return &PolicyError{Problems: []string{
				fmt.Sprintf("Password must not match any of the last %d passwords", p.historyCount()),
			}}
		}
	}
	return nil
}

// isCommonPassword reports whether password, lower-cased, or its letters
// alone (at least four), lower-cased, are in the common-password list.
func isCommonPassword(password string) bool {
	lower := strings.ToLower(password)
	if _, ok := commonPasswords[lower]; ok {
		return true
	}
	letters := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return r
		}
		return -1
	}, lower)
	if utf8.RuneCountInString(letters) < 4 {
		return false
	}
	_, ok := commonPasswords[letters]
	return ok
}

// hasSequentialRun reports a run of three ascending or descending letters
// (case-insensitive) or digits, ignoring runs that lie within a year
// 2000–2099 ("2012" is allowed, "0123" is not).
func hasSequentialRun(password string) bool {
	rs := []rune(strings.ToLower(password))
	for i := 0; i+2 < len(rs); i++ {
		a, b, c := rs[i], rs[i+1], rs[i+2]
		if !sameClass(a, b, c) {
			continue
		}
		if !(b == a+1 && c == b+1) && !(b == a-1 && c == b-1) {
			continue
		}
		if inYear(rs, i) {
			continue
		}
		return true
	}
	return false
}

func sameClass(rs ...rune) bool {
	letters, digits := true, true
	for _, r := range rs {
		letters = letters && r >= 'a' && r <= 'z'
		digits = digits && r >= '0' && r <= '9'
	}
	return letters || digits
}

// inYear reports whether rs[i:i+3] lies inside a four-digit "20dd" window.
func inYear(rs []rune, i int) bool {
	for start := i - 1; start <= i; start++ {
		if start < 0 || start+4 > len(rs) {
			continue
		}
		w := rs[start : start+4]
		if w[0] == '2' && w[1] == '0' && isDigit(w[2]) && isDigit(w[3]) {
			return true
		}
	}
	return false
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// hasRepeatedRun reports three identical characters in a row.
func hasRepeatedRun(password string) bool {
	var prev1, prev2 rune = -1, -1
	for _, r := range password {
		if r == prev1 && r == prev2 {
			return true
		}
		prev2, prev1 = prev1, r
	}
	return false
}
