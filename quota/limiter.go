package quota

import (
	"context"
	"time"
)

// Limit admits a burst of N requests and refills at N per Per: 5 per minute allows five at
// once, then one every 12 s (GCRA). Configuration parses it from "5/minute" (tldw.Rate).
type Limit struct {
	N   int
	Per time.Duration
}

// Interval is the time one request's worth of allowance takes to refill.
func (l Limit) Interval() time.Duration { return l.Per / time.Duration(l.N) }

// Decision is a Limiter's answer for one request.
type Decision struct {
	Allowed    bool
	Limit      int           // the burst, for X-RateLimit-Limit
	Remaining  int           // requests still admitted right now, for X-RateLimit-Remaining
	RetryAfter time.Duration // when refused: wait this long (Retry-After)
	ResetAfter time.Duration // until the allowance is full again (X-RateLimit-Reset)
}

// Limiter decides whether a request under key may proceed. Safe for concurrent use.
// Implementations return an error only when their backend fails; callers then fall back.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (Decision, error)
}
