package quota

import (
	"context"
	"errors"
)

// Fallback returns a Limiter that asks primary (a shared limiter, such as Redis) and, when
// primary fails, reports the error to onErr (nil to ignore it) and asks secondary (a
// LocalLimiter) instead: while the shared backend is down each replica enforces the limits
// on its own, and once it answers again primary is used from the next request on. primary
// must bound its own calls with a short timeout. An ErrInvalid limit is returned as is,
// without falling back, and a failure while ctx is done is not reported (the caller went
// away, not the backend). The result is safe for concurrent use when primary, secondary and
// onErr are.
func Fallback(primary, secondary Limiter, onErr func(error)) Limiter {
	return fallback{primary: primary, secondary: secondary, onErr: onErr}
}

type fallback struct {
	primary, secondary Limiter
	onErr              func(error)
}

func (f fallback) Allow(ctx context.Context, key string, l Limit) (Decision, error) {
	d, err := f.primary.Allow(ctx, key, l)
	if err == nil || errors.Is(err, ErrInvalid) {
		return d, err
	}
	if f.onErr != nil && ctx.Err() == nil {
		f.onErr(err)
	}
	return f.secondary.Allow(ctx, key, l)
}
