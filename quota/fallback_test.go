package quota_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tldw-go/tldw/quota"
)

// limiterFunc adapts a function to quota.Limiter.
type limiterFunc func(ctx context.Context, key string, l quota.Limit) (quota.Decision, error)

func (f limiterFunc) Allow(ctx context.Context, key string, l quota.Limit) (quota.Decision, error) {
	return f(ctx, key, l)
}

func TestFallback(t *testing.T) {
	down := errors.New("redis: connection refused")
	var primaryErr error // what the primary returns; nil = healthy
	primaryCalls := 0
	primary := limiterFunc(func(ctx context.Context, key string, l quota.Limit) (quota.Decision, error) {
		primaryCalls++
		if primaryErr != nil {
			return quota.Decision{}, fmt.Errorf("redisstore: rate limit: %w", primaryErr)
		}
		return quota.Decision{Allowed: true, Limit: l.N, Remaining: 42}, nil
	})
	local := quota.NewLocalLimiter(func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })
	var reported []error
	f := quota.Fallback(primary, local, func(err error) { reported = append(reported, err) })
	lim := quota.Limit{N: 2, Per: time.Minute}
	ctx := t.Context()

	d, err := f.Allow(ctx, "k", lim)
	if err != nil || d.Remaining != 42 || len(reported) != 0 {
		t.Fatalf("healthy primary: %+v, %v, reported %v; want the primary's decision", d, err, reported)
	}

	primaryErr = down // Redis goes away: the local limiter enforces the limit on its own
	for i, want := range []bool{true, true, false} {
		d, err := f.Allow(ctx, "k", lim)
		if err != nil || d.Allowed != want || d.Remaining == 42 {
			t.Errorf("primary down, request %d: %+v, %v; want local decision Allowed=%v", i+1, d, err, want)
		}
	}
	if len(reported) != 3 || !errors.Is(reported[0], down) {
		t.Errorf("onErr got %v, want the primary's error once per request", reported)
	}

	primaryErr = nil // Redis is back: used again from the next request, no restart
	if d, err := f.Allow(ctx, "k", lim); err != nil || d.Remaining != 42 {
		t.Errorf("primary back: %+v, %v; want the primary's decision", d, err)
	}

	primaryErr = quota.ErrInvalid // a bad limit is not a backend failure
	before := len(reported)
	if _, err := f.Allow(ctx, "k", lim); !errors.Is(err, quota.ErrInvalid) || len(reported) != before {
		t.Errorf("invalid limit: err %v, reported %d new errors; want ErrInvalid and none", err, len(reported)-before)
	}
	if primaryCalls != 6 {
		t.Errorf("primary asked %d times, want 6 (every request tries it first)", primaryCalls)
	}
}

func TestFallbackNilOnErr(t *testing.T) {
	primary := limiterFunc(func(context.Context, string, quota.Limit) (quota.Decision, error) {
		return quota.Decision{}, errors.New("down")
	})
	f := quota.Fallback(primary, quota.NewLocalLimiter(nil), nil)
	if d, err := f.Allow(t.Context(), "k", quota.Limit{N: 1, Per: time.Hour}); err != nil || !d.Allowed {
		t.Errorf("Allow = %+v, %v; want the secondary's admission", d, err)
	}
}

func TestFallbackCallerGone(t *testing.T) {
	primary := limiterFunc(func(ctx context.Context, _ string, _ quota.Limit) (quota.Decision, error) {
		return quota.Decision{}, ctx.Err()
	})
	reported := 0
	f := quota.Fallback(primary, quota.NewLocalLimiter(nil), func(error) { reported++ })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if d, err := f.Allow(ctx, "k", quota.Limit{N: 1, Per: time.Hour}); err != nil || !d.Allowed || reported != 0 {
		t.Errorf("Allow with a cancelled ctx = %+v, %v, reported %d; want the local decision and no report", d, err, reported)
	}
}
