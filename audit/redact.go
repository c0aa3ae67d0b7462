package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Redacted replaces every secret value that [Redact] removes.
const Redacted = "[REDACTED]"

// MaxFieldLen caps, in bytes, each string field of a redacted event and each string inside
// its Details; longer strings are cut on a rune boundary and end in "…[truncated]".
const MaxFieldLen = 2048

const (
	truncMark   = "…[truncated]"
	maxKeyLen   = 256
	maxDepth    = 16
	depthMark   = "[TRUNCATED]"
	replacement = "\uFFFD"
	unencodable = "[UNENCODABLE]"
)

// Redact returns a copy of e that is safe to store and hash. It is what [Multi] hands to
// sinks, and it never modifies e (Details is deep-copied).
//
//   - Details values whose key names a credential are replaced with [Redacted], at any depth,
//     in maps and in slices. Keys are compared case-insensitively, ignoring '_', '-', '.' and
//     spaces; they name a credential when they contain password, passwd, passphrase, secret,
//     token, apikey (and accesskey, privatekey, sessionkey, encryptionkey, signingkey,
//     masterkey, hmackey), authorization, cookie, credential, csrf, signature, bearer,
//     registrationcode, backupcode or recoverycode, or end in hash, otp, pwd, pin or salt —
//     unless they end in a harmless suffix (id, ids, type, prefix, count, at, name, kind,
//     length, version, algorithm, expires, expiry, ttl, policy, reason, status). Booleans
//     and nulls under such keys are kept: "password_changed": true reveals nothing.
//   - Strings in Details, Error, Path and UserAgent are scrubbed of JWTs, Authorization
//     credentials ("Bearer …", "Basic …"), name=value pairs whose name is a credential
//     ("?token=…", "password: …") and URL passwords ("postgres://u:pw@h").
//   - Every string is made valid UTF-8 without NUL bytes (PostgreSQL text rejects both) and
//     capped at [MaxFieldLen]; Details nested deeper than 16 levels is cut off.
//   - Details values of other Go types (structs, typed maps, time.Time, ...) are converted to
//     their JSON form first, so a struct's Password field is redacted too, and the result
//     holds only JSON values (map[string]any, []any, string, bool, nil, numbers).
//   - Time becomes UTC truncated to microseconds, Action is [Normalize]d, and an IP that
//     parses is rewritten in canonical form (IPv4-mapped IPv6 unmapped, zone dropped).
//
// Redact is safe for concurrent use.
func Redact(e Event) Event {
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.Action = Normalize(clean(e.Action))
	e.Username = clean(e.Username)
	e.TargetType = clean(e.TargetType)
	e.TargetID = clean(e.TargetID)
	e.IP = canonIP(clean(e.IP))
	e.UserAgent = clean(scrub(e.UserAgent))
	e.RequestID = clean(e.RequestID)
	e.Method = clean(e.Method)
	e.Path = clean(scrub(e.Path))
	e.Error = clean(scrub(e.Error))
	if len(e.Details) == 0 {
		e.Details = nil
	} else {
		e.Details = redactMap(e.Details, 0)
	}
	return e
}

// CSVSafe neutralises spreadsheet formula injection in one CSV cell: a value starting with
// '=', '+', '-', '@', a tab or a carriage return — or with any run of spaces, tabs, CRs and
// LFs followed by one of '=', '+', '-', '@' (spreadsheets skip that whitespace) — gets a
// leading apostrophe, so spreadsheet programs show it as text instead of evaluating it.
// Other values are returned unchanged. CSV quoting itself is left to encoding/csv.
func CSVSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	if t := strings.TrimLeft(s, " \t\r\n"); t != "" && t != s && strings.ContainsRune("=+-@", rune(t[0])) {
		return "'" + s
	}
	return s
}

// canonIP returns the canonical text of an IP address, or s unchanged when it is not one.
func canonIP(s string) string {
	if s == "" {
		return s
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.Unmap().WithZone("").String()
}

// clean makes s valid UTF-8 without NUL bytes and at most MaxFieldLen bytes long.
func clean(s string) string { return truncate(sanitize(s), MaxFieldLen) }

func sanitize(s string) string {
	s = strings.ToValidUTF8(s, replacement)
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", replacement)
	}
	return s
}

func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len(truncMark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncMark
}

// Value patterns for scrub. Compiled regular expressions are immutable and safe to share.
var (
	jwtPattern     = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	schemePattern  = regexp.MustCompile(`(?i)\b(bearer|basic|digest)(\s+)[A-Za-z0-9._~+/=-]{4,}`)
	pairKey        = `(?i)([a-z0-9_.-]*(?:password|passwd|passphrase|secret|token|api[_-]?key|signature)[a-z0-9_.-]*)`
	quotedPattern  = regexp.MustCompile(pairKey + `("?\s*[=:]\s*")[^"]*"`)
	singlePattern  = regexp.MustCompile(pairKey + `(\s*[=:]\s*')[^']*'`)
	pairPattern    = regexp.MustCompile(pairKey + `("?\s*[=:]\s*"?)[^&\s"',;}]+`)
	urlPassPattern = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@`)
)

// scrub removes credential-looking substrings from free text.
func scrub(s string) string {
	if s == "" {
		return s
	}
	// Cheap substring tests skip the regular expressions for ordinary text.
	lower := strings.ToLower(s)
	if strings.Contains(s, "eyJ") {
		s = jwtPattern.ReplaceAllLiteralString(s, Redacted)
	}
	if strings.Contains(lower, "bearer") || strings.Contains(lower, "basic") || strings.Contains(lower, "digest") {
		s = schemePattern.ReplaceAllString(s, "${1}${2}"+Redacted)
	}
	if strings.ContainsAny(s, "=:") && containsAny(lower, pairWords) {
		s = quotedPattern.ReplaceAllString(s, "${1}${2}"+Redacted+`"`)
		s = singlePattern.ReplaceAllString(s, "${1}${2}"+Redacted+`'`)
		s = pairPattern.ReplaceAllString(s, "${1}${2}"+Redacted)
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		s = urlPassPattern.ReplaceAllString(s, "${1}"+Redacted+"@")
	}
	return s
}

// pairWords are the lower-case words that pairKey looks for.
var pairWords = []string{"password", "passwd", "passphrase", "secret", "token", "key", "signature"}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

var (
	secretWords = []string{
		"password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey",
		"privatekey", "sessionkey", "encryptionkey", "signingkey", "masterkey", "hmackey",
		"authorization", "cookie", "credential", "csrf", "signature", "bearer",
		"registrationcode", "backupcode", "recoverycode",
	}
	secretSuffixes = []string{"hash", "otp", "pwd", "pin", "salt"}
	safeSuffixes   = []string{
		"id", "ids", "type", "prefix", "count", "at", "name", "kind", "length", "version",
		"algorithm", "expires", "expiry", "ttl", "policy", "reason", "status",
	}
)

// SensitiveKey reports whether a Details key names a credential, by the rules described at
// [Redact]. It is safe for concurrent use.
func SensitiveKey(key string) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(key) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	k := b.String()
	for _, s := range safeSuffixes {
		if strings.HasSuffix(k, s) {
			return false
		}
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

func redactMap(m map[string]any, depth int) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		k = truncate(sanitize(k), maxKeyLen)
		if SensitiveKey(k) {
			switch v.(type) {
			case nil, bool:
				out[k] = v
			default:
				out[k] = Redacted
			}
			continue
		}
		out[k] = redactValue(v, depth+1)
	}
	return out
}

func redactValue(v any, depth int) any {
	if depth > maxDepth {
		return depthMark
	}
	switch x := v.(type) {
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil && !errors.Is(err, strconv.ErrRange) {
			return clean(string(x)) // not a number: keep it as text
		}
		return x
	case nil, bool,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x) // JSON has no NaN or Inf
		}
		return x
	case float32:
		return redactValue(float64(x), depth)
	case string:
		return clean(scrub(x))
	case map[string]any:
		return redactMap(x, depth)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(e, depth+1)
		}
		return out
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return redactMap(m, depth)
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = clean(scrub(e))
		}
		return out
	case json.RawMessage:
		return redactJSON(x, depth)
	case error:
		return clean(scrub(x.Error()))
	}
	// Anything else (structs, typed maps and slices, time.Time): use its JSON form.
	b, err := json.Marshal(v)
	if err != nil {
		return unencodable
	}
	return redactJSON(b, depth)
}

func redactJSON(b []byte, depth int) any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return unencodable
	}
	return redactValue(v, depth)
}
