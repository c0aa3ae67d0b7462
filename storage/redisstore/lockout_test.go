package redisstore_test

import (
	"testing"
	"time"

	"github.com/tldw-go/tldw/auth/authtest"
)

// TestLockoutConformance runs the auth store suite's Lockout subtest against Redis (the
// other stores are the in-memory ones; they only fill the Stores value).
func TestLockoutConformance(t *testing.T) {
	openRedis(t) // skips (or fails under TLDW_REQUIRE_INTEGRATION) when there is no Redis
	var redisRan bool
	authtest.TestStores(t, func(t *testing.T) authtest.Stores {
		m := authtest.NewMemory()
		s := authtest.Stores{Users: m.Users, Sessions: m.Sessions, Codes: m.Codes, APIKeys: m.APIKeys,
			Lockout: m.Lockout, Settings: m.Settings}
		if t.Name() == "TestLockoutConformance/Lockout" {
			c, prefix := openRedis(t)
			s.Lockout = c.Lockout(prefix)
			redisRan = true
		}
		return s
	})
	if !redisRan {
		t.Error("the suite has no Lockout subtest named as expected: Redis was never tested")
	}
}

// TestLockoutSharedAndExpiring: a lock set through one client is seen through another, and
// the key expires once neither window nor lock matters.
func TestLockoutSharedAndExpiring(t *testing.T) {
	a, prefix := openRedis(t)
	b, _ := openRedis(t)
	la, lb := a.Lockout(prefix), b.Lockout(prefix)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const window, lockFor = 10 * time.Minute, 15 * time.Minute

	if until, err := la.Fail(ctx, "user:erin", now, window, 2, lockFor); err != nil || !until.IsZero() {
		t.Fatalf("first Fail = %v, %v; want not locked", until, err)
	}
	if ttl := pttl(t, a, prefix+"lock:user:erin"); ttl <= 9*time.Minute || ttl > window {
		t.Errorf("TTL while counting = %v, want ≈ the window %v", ttl, window)
	}
	want := now.Add(lockFor)
	if until, err := lb.Fail(ctx, "user:erin", now.Add(time.Second), window, 2, lockFor); err != nil || !until.Equal(want.Add(time.Second)) {
		t.Fatalf("second Fail via the other client = %v, %v; want locked until %v", until, err, want.Add(time.Second))
	}
	if until, err := la.LockedUntil(ctx, "user:erin", now.Add(2*time.Second)); err != nil || !until.Equal(want.Add(time.Second)) {
		t.Errorf("LockedUntil via the first client = %v, %v; want %v", until, err, want.Add(time.Second))
	}
	if ttl := pttl(t, a, prefix+"lock:user:erin"); ttl <= 14*time.Minute || ttl > lockFor {
		t.Errorf("TTL while locked = %v, want ≈ the lock %v", ttl, lockFor)
	}
}
