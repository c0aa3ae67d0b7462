package auth

import (
	"testing"
	"time"
)

func TestLivenessStaleLoadIsNotCached(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newLiveness(time.Minute)
	gen := c.generation()   // a loader starts reading the store ...
	c.invalidateSessions(7) // ... a revocation lands meanwhile ...
	c.putSession(gen, 7, sessionEntry{userID: 1, live: true, cachedAt: now})
	if _, ok := c.session(7, now); ok {
		t.Fatal("an entry loaded before an invalidation must not be cached")
	}
	gen = c.generation()
	c.putUser(gen, 1, userEntry{role: RoleUser, active: true, cachedAt: now})
	c.putSession(gen, 7, sessionEntry{userID: 1, live: true, cachedAt: now})
	if _, ok := c.session(7, now.Add(59*time.Second)); !ok {
		t.Fatal("a fresh entry should be served")
	}
	if _, ok := c.session(7, now.Add(time.Minute)); ok {
		t.Fatal("an entry at its TTL must be reloaded")
	}
	c.invalidateUser(1)
	if _, ok := c.session(7, now); ok {
		t.Error("invalidateUser must drop the user's sessions")
	}
	if _, ok := c.user(1, now); ok {
		t.Error("invalidateUser must drop the user")
	}
}

func TestLivenessBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newLiveness(time.Minute)
	for i := range int64(maxCacheEntries + 10) {
		c.putSession(c.generation(), i, sessionEntry{cachedAt: now})
	}
	if n := c.sessions.Len(); n > maxCacheEntries {
		t.Fatalf("cache holds %d entries, bound is %d", n, maxCacheEntries)
	}
	// The least recently used entries went, not the newest.
	if _, ok := c.session(maxCacheEntries+9, now); !ok {
		t.Error("the newest entry was dropped")
	}
	if _, ok := c.session(0, now); ok {
		t.Error("the oldest entry outlived the bound")
	}
}

func TestVerifiedTokensExpireAndBound(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := newVerifiedTokens(time.Hour)
	k := [32]byte{1}
	v.put(k, verifiedToken{userID: 1, sessionID: 2, exp: now.Add(time.Minute)})
	if got, ok := v.get(k, now); !ok || got.sessionID != 2 {
		t.Fatalf("get = %+v, %v", got, ok)
	}
	if _, ok := v.get(k, now.Add(time.Minute)); ok {
		t.Fatal("a memoised token must not outlive its expiry")
	}
	for i := range maxVerifiedTokens + 5 {
		v.put([32]byte{byte(i), byte(i >> 8), byte(i >> 16), 9}, verifiedToken{exp: now.Add(time.Hour)})
	}
	if v.m.Len() > maxVerifiedTokens {
		t.Fatalf("memo holds %d entries", v.m.Len())
	}
}
