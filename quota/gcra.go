package quota

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// Validate reports whether l can be enforced: N ≥ 1, Per > 0 and an Interval of at least one
// microsecond (the resolution of the Redis limiter). It returns an ErrInvalid-wrapped error
// otherwise.
func (l Limit) Validate() error {
	if l.N < 1 || l.Per <= 0 {
		return fmt.Errorf("%w: rate limit %d per %v: need at least 1 per positive period", ErrInvalid, l.N, l.Per)
	}
	if l.Interval() < time.Microsecond {
		return fmt.Errorf("%w: rate limit %d per %v: finer than one request per microsecond", ErrInvalid, l.N, l.Per)
	}
	return nil
}

// localShards spreads keys over independently locked maps so parallel requests on different
// keys rarely contend.
const localShards = 64

// minSweep is the key count below which a shard is never swept.
const minSweep = 1024

// LocalLimiter is the in-process Limiter, the embedded default and the fallback when Redis is
// unreachable. It implements GCRA (the generic cell rate algorithm): per key it keeps one
// "theoretical arrival time" (TAT), the instant at which the key's allowance would be full
// again. A request is admitted when pushing the TAT one Interval further keeps it within
// N×Interval of now; so a full key admits a burst of N, then one request per Interval.
//
// Different limits should use different keys: a key's TAT is shared by every Limit it is
// asked with. Memory is bounded by the live keys: keys whose TAT has passed (whose state
// equals a fresh key's) are dropped whenever a shard has doubled since its last sweep.
// Safe for concurrent use.
type LocalLimiter struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [localShards]localShard
}

type localShard struct {
	mu        sync.Mutex
	tat       map[string]int64 // unix nanoseconds
	nextSweep int
}

var _ Limiter = (*LocalLimiter)(nil)

// NewLocalLimiter returns an empty LocalLimiter reading time from now (time.Now when nil;
// tests inject a fake clock).
func NewLocalLimiter(now func() time.Time) *LocalLimiter {
	if now == nil {
		now = time.Now
	}
	l := &LocalLimiter{now: now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].tat = make(map[string]int64)
		l.shards[i].nextSweep = minSweep
	}
	return l
}

// Allow decides one request under key against lim and, when it is admitted, records it. It
// returns an ErrInvalid-wrapped error for a limit that fails Validate, and no other error.
func (l *LocalLimiter) Allow(_ context.Context, key string, lim Limit) (Decision, error) {
	if err := lim.Validate(); err != nil {
		return Decision{}, err
	}
	now := l.now().UnixNano()
	s := &l.shards[maphash.String(l.seed, key)%localShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	d, tat, ok := gcra(s.tat[key], now, int64(lim.Interval()), lim.N)
	if ok {
		s.tat[key] = tat
		if len(s.tat) >= s.nextSweep {
			s.sweep(now)
		}
	}
	return d, nil
}

// sweep drops keys whose TAT has passed. Called with s.mu held.
func (s *localShard) sweep(now int64) {
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
	s.nextSweep = max(2*len(s.tat), minSweep)
}

// gcra is one step of the generic cell rate algorithm in nanoseconds: given a key's stored
// theoretical arrival time tat (zero or in the past for a full allowance), the current time
// now, the emission interval t (> 0) and the burst n (≥ 1), it returns the decision, the TAT
// to store and whether to store it (only admitted requests change state). The Redis limiter
// (storage/redisstore) runs the same arithmetic in Lua, in microseconds.
func gcra(tat, now, t int64, n int) (d Decision, newTAT int64, store bool) {
	tolerance := t * int64(n)
	tat = max(tat, now)
	newTAT = tat + t
	d.Limit = n
	if diff := newTAT - now; diff <= tolerance {
		d.Allowed = true
		d.Remaining = int((tolerance - diff) / t)
		d.ResetAfter = time.Duration(diff)
		return d, newTAT, true
	}
	d.RetryAfter = time.Duration(newTAT - now - tolerance)
	d.ResetAfter = time.Duration(tat - now)
	return d, tat, false
}
