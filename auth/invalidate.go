package auth

import "slices"

// Scale-out hooks. With several replicas, each one's liveness cache must learn of the
// revocations the others make: the Service reports its own invalidations through
// Options.Notify, a scale-out layer carries them to the other replicas, which apply them with
// InvalidateSession / InvalidateUser (these never call Notify, so nothing echoes), and while
// that channel is down the layer calls SetCacheTrusted(false) so every request reads the
// store.

// invalidateSessions drops the cached state of sessions ids on this replica and reports it
// through Options.Notify.
func (s *Service) invalidateSessions(ids ...int64) {
	s.cache.invalidateSessions(ids...)
	if s.o.Notify != nil && len(ids) > 0 {
		s.o.Notify(slices.Clone(ids), 0)
	}
}

// invalidateUser drops the cached state of userID and its sessions on this replica and
// reports it through Options.Notify.
func (s *Service) invalidateUser(userID int64) {
	s.cache.invalidateUser(userID)
	if s.o.Notify != nil {
		s.o.Notify(nil, userID)
	}
}

// InvalidateAll drops every cached session and user, so each is read from the store again.
// A scale-out layer calls it when it may have missed invalidations from other replicas (its
// subscription was re-established). It does not call Options.Notify. Safe for concurrent use.
func (s *Service) InvalidateAll() { s.cache.invalidateAll() }

// SetCacheTrusted switches the liveness cache on (true, the default) or off. While it is off
// every authenticated request reads its session and user from the store, and nothing is
// cached; switching it off also drops what was cached, so switching it on again starts from
// an empty cache. A scale-out layer switches it off while it cannot hear other replicas'
// revocations. Safe for concurrent use.
func (s *Service) SetCacheTrusted(ok bool) { s.cache.setTrusted(ok) }

// invalidateAll drops every entry; loads in flight will not re-insert what they read.
func (c *liveness) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.sessions.Purge()
	c.users.Purge()
}

// setTrusted turns the cache on or off; turning it off empties it.
func (c *liveness) setTrusted(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ok && !c.untrusted {
		c.gen++
		c.sessions.Purge()
		c.users.Purge()
	}
	c.untrusted = !ok
}
