package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/tldw-go/tldw/quota"
)

// gcraScript is one GCRA step (the arithmetic of quota.LocalLimiter, in microseconds) done
// atomically on the server. KEYS[1] holds the key's theoretical arrival time (TAT); ARGV: now,
// the emission interval t, the burst n. An admitted request stores the new TAT, expiring when
// the allowance is full again (an absent key is a full one). The reply is one integer, the
// cheapest for the server to build: when admitted, the new TAT minus now (> 0); when refused,
// now minus the TAT (< 0). The TAT is formatted with %.0f because Lua's default number
// formatting keeps only 14 digits.
const gcraScript = `
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or 0
if tat < now then tat = now end
local diff = tat + t - now
if diff > t * tonumber(ARGV[3]) then return now - tat end
redis.call('SET', KEYS[1], string.format('%.0f', tat + t), 'PX', math.ceil(diff / 1000))
return diff
`

// Limiter is the Redis quota.Limiter, shared by every replica: each decision is one
// round trip running a server-side GCRA script (loaded once, then called by its SHA;
// concurrent decisions are pipelined on shared connections). Keys are <prefix>rl:<key>;
// each expires when its allowance is full again, so Redis holds only keys in use.
//
// The time comes from the caller (Now), not from Redis, so tests can inject a clock; the
// replicas' clocks must therefore agree to well under a request interval (NTP-level sync).
// Safe for concurrent use; set Now before the first call.
type Limiter struct {
	// Now is the clock (default time.Now).
	Now func() time.Time

	c      *Client
	prefix string
	script *rueidis.Lua
}

var _ quota.Limiter = (*Limiter)(nil)

// Limiter returns the Redis rate limiter storing its keys under prefix.
func (c *Client) Limiter(prefix string) *Limiter {
	return &Limiter{Now: time.Now, c: c, prefix: prefix, script: rueidis.NewLuaScript(gcraScript)}
}

// Allow decides one request under key against lim and, when it is admitted, records it,
// within the Client's Timeout. It returns a quota.ErrInvalid-wrapped error for a limit that
// fails Validate, and an ErrUnavailable-wrapped error when Redis fails or does not answer in
// time: the caller then decides locally (quota.Fallback).
func (l *Limiter) Allow(ctx context.Context, key string, lim quota.Limit) (quota.Decision, error) {
	if err := lim.Validate(); err != nil {
		return quota.Decision{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, l.c.timeout)
	defer cancel()
	t := lim.Interval().Microseconds()
	r, err := l.script.Exec(ctx, l.c.c, []string{l.prefix + "rl:" + key}, []string{
		strconv.FormatInt(l.Now().UnixMicro(), 10),
		strconv.FormatInt(t, 10),
		strconv.Itoa(lim.N),
	}).AsInt64()
	if err != nil {
		return quota.Decision{}, unavailable("rate limit", err)
	}
	d := quota.Decision{Limit: lim.N}
	tolerance := t * int64(lim.N)
	if r > 0 { // admitted; r is the new TAT minus now
		d.Allowed = true
		d.Remaining = int((tolerance - r) / t)
		d.ResetAfter = time.Duration(r) * time.Microsecond
	} else { // refused; -r is the TAT minus now
		d.ResetAfter = time.Duration(-r) * time.Microsecond
		d.RetryAfter = time.Duration(-r+t-tolerance) * time.Microsecond
	}
	return d, nil
}
