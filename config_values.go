package tldw

// Value types of the configuration: secrets and URLs that never print, and request rates.

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const redacted = "REDACTED"

// Secret is a string that never prints: String, GoString, Format (every fmt verb),
// MarshalText, MarshalJSON and LogValue show "REDACTED", or "" when it is empty. Call Reveal
// to use the value.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "REDACTED", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns the quoted redacted form, for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format prints the redacted form for every verb, so %d or %x cannot reveal the value.
func (s Secret) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String()) }

// MarshalText returns the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON returns the redacted form as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue returns the redacted form for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// DSN is a connection URL that may carry a password (in the userinfo or a password query
// parameter). String, GoString, Format, MarshalText, MarshalJSON and LogValue show it with the
// password replaced by REDACTED ("redis://:REDACTED@host:6379/0"); a value that is not a URL
// shows as REDACTED entirely. Call Reveal to use the value.
type DSN string

// Reveal returns the URL with its password.
func (d DSN) Reveal() string { return string(d) }

// String returns the URL with its password replaced by REDACTED.
func (d DSN) String() string { return redactURL(string(d)) }

// GoString returns the quoted redacted form, for %#v.
func (d DSN) GoString() string { return strconv.Quote(d.String()) }

// Format prints the redacted form for every verb.
func (d DSN) Format(f fmt.State, verb rune) { formatRedacted(f, verb, d.String()) }

// MarshalText returns the redacted form.
func (d DSN) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalJSON returns the redacted form as a JSON string.
func (d DSN) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// LogValue returns the redacted form for log/slog.
func (d DSN) LogValue() slog.Value { return slog.StringValue(d.String()) }

// formatRedacted writes s for a fmt verb: quoted for %q and %#v, plain otherwise.
func formatRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// redactURL replaces the password of a URL by REDACTED: the userinfo password (found by
// hand, so unescaped "@", "#" or "/" in it cannot leak) and password-like query parameters.
// Values that are not URLs are redacted entirely: they may be key=value DSNs.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	head, rest, ok := strings.Cut(s, "://")
	if !ok {
		if u, err := url.Parse(s); err == nil && u.Scheme != "" && !strings.Contains(s, "@") && !isSecretParam(s) {
			return s // sqlite:PATH, sqlite::memory:
		}
		return redacted
	}
	head += "://"
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if colon := strings.Index(rest[:at], ":"); colon >= 0 {
			rest = rest[:colon+1] + redacted + rest[at:]
		}
	}
	_, query, hasQuery := strings.Cut(rest, "?")
	if !hasQuery || !isSecretParam(query) {
		return head + rest
	}
	u, err := url.Parse(head + rest)
	if err != nil {
		return head + redacted
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return head + redacted
	}
	for k := range q {
		if isSecretParam(k) {
			q.Set(k, redacted)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redactUserinfo is redactURL for values that are usually not URLs (origins, host names):
// only a value with userinfo ("@") is redacted.
func redactUserinfo(s string) string {
	if strings.Contains(s, "@") {
		return redactURL(s)
	}
	return s
}

// isSecretParam reports whether a query parameter name (or text) looks like it holds a secret.
func isSecretParam(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "pass") || strings.Contains(s, "secret") || strings.Contains(s, "token")
}

// Rate is a request budget of N requests per Per, as in AUTH_RATE_LIMIT=5/minute.
type Rate struct {
	N   int
	Per time.Duration
}

// String formats r as FromEnv reads it: "5/minute"; "" for the zero Rate.
func (r Rate) String() string {
	if r == (Rate{}) {
		return ""
	}
	for _, u := range rateUnits() {
		if r.Per == u.d {
			return strconv.Itoa(r.N) + "/" + u.names[0]
		}
	}
	return strconv.Itoa(r.N) + "/" + r.Per.String()
}

type rateUnit struct {
	d     time.Duration
	names []string // the first is the canonical name
}

func rateUnits() []rateUnit {
	return []rateUnit{
		{time.Second, []string{"second", "seconds", "sec", "s"}},
		{time.Minute, []string{"minute", "minutes", "min", "m"}},
		{time.Hour, []string{"hour", "hours", "hr", "h"}},
		{24 * time.Hour, []string{"day", "days", "d"}},
	}
}

// ParseRate parses "N/unit" with unit second, minute, hour or day (also s, sec, min, m, h,
// hr, d and plurals; case-insensitive). It returns an error naming s when N is not a
// positive integer or the unit is unknown.
func ParseRate(s string) (Rate, error) {
	bad := fmt.Errorf("%q is not a rate (want N/second|minute|hour|day)", s)
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, bad
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return Rate{}, bad
	}
	unit = strings.ToLower(strings.TrimSpace(unit))
	for _, u := range rateUnits() {
		for _, name := range u.names {
			if unit == name {
				return Rate{N: count, Per: u.d}, nil
			}
		}
	}
	return Rate{}, bad
}
