package redisstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
	"github.com/tldw-go/tldw/storage/redisstore"
)

func TestLimiterConformance(t *testing.T) {
	quotatest.TestLimiter(t, func(t *testing.T, now func() time.Time) quota.Limiter {
		c, prefix := openRedis(t)
		l := c.Limiter(prefix)
		l.Now = now
		return l
	})
}

// TestLimiterSharedAcrossClients: two replicas (two clients) share one allowance.
func TestLimiterSharedAcrossClients(t *testing.T) {
	a, prefix := openRedis(t)
	b, _ := openRedis(t)
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	la, lb := a.Limiter(prefix), b.Limiter(prefix)
	la.Now, lb.Now = now, now
	lim := quota.Limit{N: 3, Per: time.Minute}
	var got []bool
	for _, l := range []quota.Limiter{la, lb, la, lb} {
		d, err := l.Allow(t.Context(), "login:ip:192.0.2.7", lim)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Allowed)
	}
	if want := []bool{true, true, true, false}; !slices.Equal(got, want) {
		t.Errorf("alternating replicas: allowed %v, want %v", got, want)
	}
}

// TestLimiterKeyExpires: a key lives in Redis only until its allowance is full again.
func TestLimiterKeyExpires(t *testing.T) {
	c, prefix := openRedis(t)
	l := c.Limiter(prefix)
	if _, err := l.Allow(t.Context(), "k", quota.Limit{N: 5, Per: time.Minute}); err != nil {
		t.Fatal(err)
	}
	ttl := pttl(t, c, prefix+"rl:k")
	if ttl <= 11*time.Second || ttl > 12*time.Second {
		t.Errorf("key TTL after one request of 5/minute = %v, want ≈ 12 s (its ResetAfter)", ttl)
	}
}

func pttl(t *testing.T, c *redisstore.Client, key string) time.Duration {
	t.Helper()
	d, err := c.PTTL(t.Context(), key)
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return d
}
