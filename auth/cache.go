package auth

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// maxCacheEntries bounds each liveness cache; beyond it the least recently used entry goes
// (the cache is only an optimisation).
const maxCacheEntries = 100_000

// liveness caches what every authenticated request must know — is the session still live,
// is its user still active, and with which role — so the store is asked at most once per
// ttl per session and user. Revocations call the invalidate methods, which take effect on
// the very next request on this replica.
//
// The entries live in LRUs with expiry (hashicorp/golang-lru's expirable.LRU), which bound
// memory by count and by age on the wall clock; freshness is judged on the Service's clock
// (cachedAt), which tests move. A load that started before an invalidation must not
// re-insert what it read: every invalidation bumps gen, and put* stores only when gen is
// still what the loader saw. Safe for concurrent use.
type liveness struct {
	ttl       time.Duration
	mu        sync.Mutex // orders gen and untrusted against the puts
	gen       uint64
	untrusted bool // SetCacheTrusted(false): neither read nor fill the caches
	sessions  *expirable.LRU[int64, sessionEntry]
	users     *expirable.LRU[int64, userEntry]
}

// sessionEntry is the cached state of one session.
type sessionEntry struct {
	userID     int64
	live       bool // not revoked when loaded
	refreshExp time.Time
	touchedAt  time.Time // last activity known to be stored
	cachedAt   time.Time
}

// userEntry is the cached state of one user.
type userEntry struct {
	username           string
	role               Role
	active             bool
	mustChangePassword bool
	cachedAt           time.Time
}

func newLiveness(ttl time.Duration) *liveness {
	return &liveness{ttl: ttl,
		sessions: expirable.NewLRU[int64, sessionEntry](maxCacheEntries, nil, ttl),
		users:    expirable.NewLRU[int64, userEntry](maxCacheEntries, nil, ttl)}
}

// generation returns the current invalidation generation; pass it to put*.
func (c *liveness) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *liveness) fresh(cachedAt, now time.Time) bool {
	return now.Sub(cachedAt) < c.ttl && !now.Before(cachedAt)
}

// session returns the fresh cached entry of id.
func (c *liveness) session(id int64, now time.Time) (sessionEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.sessions.Get(id)
	if !ok || c.untrusted || !c.fresh(e.cachedAt, now) {
		return sessionEntry{}, false
	}
	return e, true
}

// user returns the fresh cached entry of id.
func (c *liveness) user(id int64, now time.Time) (userEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.users.Get(id)
	if !ok || c.untrusted || !c.fresh(e.cachedAt, now) {
		return userEntry{}, false
	}
	return e, true
}

// putSession stores e unless an invalidation happened since gen was read.
func (c *liveness) putSession(gen uint64, id int64, e sessionEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen && !c.untrusted {
		c.sessions.Add(id, e)
	}
}

// putUser stores e unless an invalidation happened since gen was read.
func (c *liveness) putUser(gen uint64, id int64, e userEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen && !c.untrusted {
		c.users.Add(id, e)
	}
}

// touched records that the session's last activity was stored at t.
func (c *liveness) touched(id int64, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.sessions.Peek(id); ok {
		e.touchedAt = t
		c.sessions.Add(id, e)
	}
}

// invalidateSessions drops the entries of the given sessions.
func (c *liveness) invalidateSessions(ids ...int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range ids {
		c.sessions.Remove(id)
	}
}

// invalidateUser drops the user's entry and the entries of all of their sessions.
func (c *liveness) invalidateUser(userID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.users.Remove(userID)
	for _, id := range c.sessions.Keys() {
		if e, ok := c.sessions.Peek(id); ok && e.userID == userID {
			c.sessions.Remove(id)
		}
	}
}

// InvalidateSession makes the next request presenting session id re-read it from the store.
// Revocations through the Service call it themselves; a scale-out layer calls it when
// another replica revoked a session. Safe for concurrent use.
func (s *Service) InvalidateSession(id int64) { s.cache.invalidateSessions(id) }

// InvalidateUser makes the next request of userID re-read the user (role, active) and all of
// their sessions from the store. Safe for concurrent use.
func (s *Service) InvalidateUser(userID int64) { s.cache.invalidateUser(userID) }

// maxVerifiedTokens bounds the verified-token memo.
const maxVerifiedTokens = 10_000

// verifiedTokens memoises successful access-token verifications, keyed by the SHA-256 of
// the token, until the token's expiry. Signature checking and JSON decoding dominate the
// cost of authenticating a request; the result is a pure function of the token while it
// has not expired, so it is safe to reuse. Liveness (session, user, role) is still checked
// on every request. An expirable.LRU bounds it by count and, on the wall clock, by the
// access-token lifetime. Safe for concurrent use.
type verifiedTokens struct {
	m *expirable.LRU[[32]byte, verifiedToken]
}

// verifiedToken is what authJWT needs from a verified access token.
type verifiedToken struct {
	userID, sessionID int64
	exp               time.Time
}

// newVerifiedTokens returns an empty memo whose entries go after ttl at the latest.
func newVerifiedTokens(ttl time.Duration) *verifiedTokens {
	return &verifiedTokens{m: expirable.NewLRU[[32]byte, verifiedToken](maxVerifiedTokens, nil, ttl)}
}

// get returns the memoised verification of key while it has not expired at now.
func (v *verifiedTokens) get(key [32]byte, now time.Time) (verifiedToken, bool) {
	t, ok := v.m.Get(key)
	if !ok || !now.Before(t.exp) {
		return verifiedToken{}, false
	}
	return t, true
}

// put memoises a verification.
func (v *verifiedTokens) put(key [32]byte, t verifiedToken) { v.m.Add(key, t) }
