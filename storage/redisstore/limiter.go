package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/tldw-go/tldw/quota"
)

// gcraScript is one GCRA step (the same arithmetic as quota.LocalLimiter, in microseconds)
// done atomically on the server. KEYS[1] holds the key's theoretical arrival time (TAT);
// ARGV: now, the emission interval t, the burst n. An admitted request stores the new TAT
// with an expiry at the moment the allowance is full again (an absent key is a full one).
// Reply: {allowed 0/1, remaining, retry after µs, reset after µs}. Numbers are formatted with
// %.0f because Lua's default formatting keeps only 14 digits.
const gcraScript = `
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local tolerance = t * n
local tat = tonumber(redis.call('GET', KEYS[1])) or 0
if tat < now then tat = now end
local new = tat + t
local diff = new - now
if diff > tolerance then
  return {0, 0, diff - tolerance, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', string.format('%.0f', math.ceil(diff / 1000)))
return {1, math.floor((tolerance - diff) / t), 0, diff}
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
	now := l.Now().UnixMicro()
	v, err := l.script.Exec(ctx, l.c.c, []string{l.prefix + "rl:" + key}, []string{
		strconv.FormatInt(now, 10),
		strconv.FormatInt(lim.Interval().Microseconds(), 10),
		strconv.Itoa(lim.N),
	}).AsIntSlice()
	if err != nil {
		return quota.Decision{}, unavailable("rate limit", err)
	}
	if len(v) != 4 {
		return quota.Decision{}, fmt.Errorf("%w: rate limit: script replied %v", ErrUnavailable, v)
	}
	return quota.Decision{
		Allowed:    v[0] == 1,
		Limit:      lim.N,
		Remaining:  int(v[1]),
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
		ResetAfter: time.Duration(v[3]) * time.Microsecond,
	}, nil
}
