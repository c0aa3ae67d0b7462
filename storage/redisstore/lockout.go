package redisstore

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/tldw-go/tldw/auth"
)

// failScript records one failed login atomically, with the SQL store's semantics: failures
// count from the first one of the current window; when they reach max the key is locked
// until now+lockFor and the count starts afresh; a failure during a lock changes nothing.
// KEYS[1] is a hash {failures, start, until} (times in µs); ARGV: now, window, max, lockFor.
// The key expires once neither its window nor its lock matters any more. Reply: the lock's
// end, or 0.
const failScript = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local lockfor = tonumber(ARGV[4])
local v = redis.call('HMGET', KEYS[1], 'failures', 'start', 'until')
local failures = tonumber(v[1]) or 0
local start = tonumber(v[2]) or now
local locked = tonumber(v[3]) or 0
if locked > now then return locked end
if failures == 0 or now >= start + window then
  failures = 0
  start = now
end
failures = failures + 1
locked = 0
if failures >= max then
  locked = now + lockfor
  failures = 0
end
local expires = locked
if failures > 0 and start + window > expires then expires = start + window end
local ttl = math.max(1, math.ceil((expires - now) / 1000))
redis.call('HSET', KEYS[1], 'failures', string.format('%.0f', failures),
  'start', string.format('%.0f', start), 'until', string.format('%.0f', locked))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))
if locked > now then return locked end
return 0
`

// Lockout is the Redis auth.LockoutStore: failed-login counters shared by every replica
// without a database write per failure. Keys are <prefix>lock:<key>. Times are kept to the
// microsecond. Every call is bounded by the Client's Timeout. Safe for concurrent use: Fail
// is one server-side script.
type Lockout struct {
	c      *Client
	prefix string
	fail   *rueidis.Lua
}

var _ auth.LockoutStore = (*Lockout)(nil)

// Lockout returns the lockout store keeping its keys under prefix.
func (c *Client) Lockout(prefix string) *Lockout {
	return &Lockout{c: c, prefix: prefix, fail: rueidis.NewLuaScript(failScript)}
}

func (l *Lockout) key(k string) string { return l.prefix + "lock:" + k }

// Fail records a failure of key at now. Failures count from the first one in the current
// window; once window has passed since it, counting restarts. When the count reaches max the
// key is locked until now+lockFor, which is returned, and the count starts afresh; otherwise
// it returns the zero time. A failure while the key is locked changes nothing and returns the
// current lock's end. It returns ErrUnavailable-wrapped errors only.
func (l *Lockout) Fail(ctx context.Context, key string, now time.Time, window time.Duration, max int, lockFor time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, l.c.timeout)
	defer cancel()
	until, err := l.fail.Exec(ctx, l.c.c, []string{l.key(key)}, []string{
		strconv.FormatInt(now.UnixMicro(), 10),
		strconv.FormatInt(window.Microseconds(), 10),
		strconv.Itoa(max),
		strconv.FormatInt(lockFor.Microseconds(), 10),
	}).AsInt64()
	if err != nil {
		return time.Time{}, unavailable("record failed login", err)
	}
	return micros(until), nil
}

// LockedUntil returns the end of key's lock, or the zero time when key is not locked at now.
// It returns ErrUnavailable-wrapped errors only.
func (l *Lockout) LockedUntil(ctx context.Context, key string, now time.Time) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, l.c.timeout)
	defer cancel()
	s, err := l.c.c.Do(ctx, l.c.c.B().Hget().Key(l.key(key)).Field("until").Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, unavailable("lockout status", err)
	}
	until, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, unavailable("lockout status", err)
	}
	if until <= now.UnixMicro() {
		return time.Time{}, nil
	}
	return micros(until), nil
}

// Reset clears key's failures and any lock. It returns ErrUnavailable-wrapped errors only.
func (l *Lockout) Reset(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, l.c.timeout)
	defer cancel()
	if err := l.c.c.Do(ctx, l.c.c.B().Del().Key(l.key(key)).Build()).Error(); err != nil {
		return unavailable("reset lockout", err)
	}
	return nil
}

// ResetTree clears key and every key that starts with key+"|" (found with SCAN; it is an
// admin's unlock, not a per-login call). It returns ErrUnavailable-wrapped errors only.
func (l *Lockout) ResetTree(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, l.c.timeout)
	defer cancel()
	keys := []string{l.key(key)}
	match := globEscape(l.key(key)+"|") + "*"
	for cursor := uint64(0); ; {
		e, err := l.c.c.Do(ctx, l.c.c.B().Scan().Cursor(cursor).Match(match).Count(1000).Build()).AsScanEntry()
		if err != nil {
			return unavailable("reset lockout", err)
		}
		keys = append(keys, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			break
		}
	}
	for ks := range slices.Chunk(keys, 500) {
		if err := l.c.c.Do(ctx, l.c.c.B().Del().Key(ks...).Build()).Error(); err != nil {
			return unavailable("reset lockout", err)
		}
	}
	return nil
}

// globEscape quotes the SCAN MATCH metacharacters of s.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\*?[]^`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// micros turns a script's microsecond time into a UTC time; 0 is the zero time.
func micros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
