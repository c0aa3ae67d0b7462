package tldw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/internal/httpapi"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage/redisstore"
)

// Scale-out: with REDIS_URL every replica shares rate limits, lockout counters and session
// revocations through Redis; without it each replica keeps its own limits, the lockout lives
// in the database, and revocations reach other replicas when their session cache expires
// (SESSION_CACHE_TTL). When Redis goes away the server degrades to exactly that, and picks
// Redis up again by itself.

// Names shared by every replica: all keys live under redisPrefix, invalidations travel on
// redisChannel.
const (
	redisPrefix  = "tldw:"
	redisChannel = "tldw:invalidate"
)

// Redis timing: each call gives up after redisTimeout (then the caller falls back); the
// background dial retries from dialMinBackoff doubling to dialMaxBackoff; the session cache
// is switched off within trustPoll of the invalidation subscription dropping.
const (
	redisTimeout   = 100 * time.Millisecond
	redisDialLimit = 2 * time.Second
	dialMinBackoff = 50 * time.Millisecond
	dialMaxBackoff = time.Second
	trustPoll      = 100 * time.Millisecond
	redisPingLimit = time.Second
)

// errRedisNotConnected is what Redis-backed parts report before the first connection.
var errRedisNotConnected = errors.New("redis not connected")

// redisConn is the one owner of the Redis connection. It dials in the background, so a
// Redis that is down at start only degrades the server, and requests never wait for a dial;
// once connected, the client reconnects by itself. It also runs the invalidation
// subscriber. Safe for concurrent use; Close stops everything it started.
type redisConn struct {
	url     string
	maxConn int
	log     *slog.Logger
	now     func() time.Time

	parts   atomic.Pointer[redisParts] // nil until connected
	ready   chan struct{}              // closed once parts is set
	lastErr atomic.Pointer[string]     // the last dial failure, for health
	down    atomic.Bool                // an outage has been logged and not yet its end

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// redisParts are the Redis-backed stores of one connected client.
type redisParts struct {
	client  *redisstore.Client
	limiter *redisstore.Limiter
	lockout *redisstore.Lockout
	bus     *redisstore.Bus
}

// newRedisConn starts dialling url in the background. now is the clock of the rate limiter.
func newRedisConn(url string, maxConn int, logger *slog.Logger, now func() time.Time) *redisConn {
	ctx, cancel := context.WithCancel(context.Background())
	r := &redisConn{url: url, maxConn: maxConn, log: logger, now: now, ready: make(chan struct{}), ctx: ctx, cancel: cancel}
	r.spawn(r.dial)
	return r
}

// spawn runs fn in a goroutine that Close waits for.
func (r *redisConn) spawn(fn func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn()
	}()
}

// dial connects, retrying with a backoff until it succeeds or Close is called.
func (r *redisConn) dial() {
	backoff := dialMinBackoff
	for {
		c, err := redisstore.Open(r.url, redisstore.Options{MaxConnections: r.maxConn, DialTimeout: redisDialLimit,
			Timeout: redisTimeout, Logger: r.log})
		if err == nil {
			l := c.Limiter(redisPrefix)
			l.Now = r.now
			r.parts.Store(&redisParts{client: c, limiter: l, lockout: c.Lockout(redisPrefix), bus: c.Bus(redisChannel)})
			close(r.ready)
			r.log.Info("redis connected: rate limits, lockout and revocations are shared")
			return
		}
		msg := err.Error()
		r.lastErr.Store(&msg)
		r.failed(err)
		t := time.NewTimer(backoff)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, dialMaxBackoff)
	}
}

// get returns the connected stores, or nil before the first connection.
func (r *redisConn) get() *redisParts { return r.parts.Load() }

// failed logs the start of an outage once; recovered logs its end.
func (r *redisConn) failed(err error) {
	if !r.down.Swap(true) {
		r.log.Warn("redis unavailable: using per-replica rate limits, the database for lockout and "+
			"revocation checks until it is back", "err", err)
	}
}

func (r *redisConn) recovered() {
	if r.down.Swap(false) {
		r.log.Info("redis available again: shared rate limits, lockout and revocations resumed")
	}
}

// Ping checks Redis for /api/v1/health; a failure degrades health, it never makes the server
// unhealthy.
func (r *redisConn) Ping(ctx context.Context) error {
	p := r.get()
	if p == nil {
		why := "not connected yet"
		if e := r.lastErr.Load(); e != nil {
			why = *e
		}
		return fmt.Errorf("%w: redis: %s", httpapi.ErrDegraded, why)
	}
	ctx, cancel := context.WithTimeout(ctx, redisPingLimit)
	defer cancel()
	if err := p.client.Ping(ctx); err != nil {
		r.failed(err)
		return fmt.Errorf("%w: redis: %v", httpapi.ErrDegraded, err)
	}
	return nil
}

// Close stops the dialler and the subscriber and closes the connection.
func (r *redisConn) Close() error {
	r.cancel()
	r.wg.Wait()
	if p := r.get(); p != nil {
		return p.client.Close()
	}
	return nil
}

// Allow is the Redis rate limiter (quota.Limiter); before the first connection it fails, so
// quota.Fallback decides locally.
func (r *redisConn) Allow(ctx context.Context, key string, l quota.Limit) (quota.Decision, error) {
	p := r.get()
	if p == nil {
		return quota.Decision{}, errRedisNotConnected
	}
	return p.limiter.Allow(ctx, key, l)
}

// rateLimiter returns the App's Limiter: the configured one, else the per-replica
// LocalLimiter, or with Redis the shared limiter falling back to the local one.
func (a *App) rateLimiter() quota.Limiter {
	if a.Limiter != nil {
		return a.Limiter
	}
	local := quota.NewLocalLimiter(a.Now)
	if a.redis == nil {
		return local
	}
	return local
}

// rateLimits turns the RATE_LIMIT_* keys into the HTTP layer's policy.
func (c Config) rateLimits() httpapi.RateLimits {
	rl := httpapi.RateLimits{Enabled: c.RateLimitEnabled, Auth: quota.Limit(c.AuthRateLimit), API: quota.Limit(c.APIRateLimit)}
	for _, r := range c.RateLimitExempt {
		rl.ExemptRoles = append(rl.ExemptRoles, auth.Role(r))
	}
	return rl
}

// sharedLockout returns sql, or with Redis a lockout store that keeps the counters in Redis
// and uses sql while Redis fails.
func (a *App) sharedLockout(sql auth.LockoutStore) auth.LockoutStore {
	if a.redis == nil {
		return sql
	}
	return &failoverLockout{r: a.redis, sql: sql}
}

// failoverLockout is an auth.LockoutStore on Redis that turns to the database whenever Redis
// fails or is not connected. Each call goes to one of the two: failures counted in the
// database during an outage are not carried over to Redis when it returns (nor the other way
// round), so an outage can at most restart a count. Safe for concurrent use.
type failoverLockout struct {
	r   *redisConn
	sql auth.LockoutStore
}

var _ auth.LockoutStore = (*failoverLockout)(nil)

func (l *failoverLockout) Fail(ctx context.Context, key string, now time.Time, window time.Duration, max int, lockFor time.Duration) (time.Time, error) {
	if p := l.r.get(); p != nil {
		t, err := p.lockout.Fail(ctx, key, now, window, max, lockFor)
		if err == nil {
			return t, nil
		}
		l.r.failed(err)
	}
	return l.sql.Fail(ctx, key, now, window, max, lockFor)
}

func (l *failoverLockout) LockedUntil(ctx context.Context, key string, now time.Time) (time.Time, error) {
	if p := l.r.get(); p != nil {
		t, err := p.lockout.LockedUntil(ctx, key, now)
		if err == nil {
			return t, nil
		}
		l.r.failed(err)
	}
	return l.sql.LockedUntil(ctx, key, now)
}

func (l *failoverLockout) Reset(ctx context.Context, key string) error {
	if p := l.r.get(); p != nil {
		err := p.lockout.Reset(ctx, key)
		if err == nil {
			return nil
		}
		l.r.failed(err)
	}
	return l.sql.Reset(ctx, key)
}

// invalidationHook returns the accounts Service's Notify hook: publishing on Redis, or nil
// without it.
func (a *App) invalidationHook() func(sessionIDs []int64, userID int64) {
	if a.redis == nil {
		return nil
	}
	return nil
}

// publish is the accounts Service's Notify hook: it tells the other replicas which cached
// sessions and users to drop. A failure is logged; the other replicas' subscriptions are
// then down as well, so they are reading the database anyway.
func (r *redisConn) publish(sessionIDs []int64, userID int64) {
	p := r.get()
	if p == nil {
		return
	}
	if err := p.bus.Publish(context.Background(), redisstore.Invalidation{SessionIDs: sessionIDs, UserID: userID}); err != nil {
		r.failed(err)
	}
}

// startInvalidation keeps svc's session cache in step with the other replicas: it applies
// every invalidation received on the bus, drops the whole cache when the subscription is
// (re)established, and keeps the cache switched off while the subscription is not live.
func (r *redisConn) startInvalidation(svc *auth.Service) {
	svc.SetCacheTrusted(false)
	r.spawn(func() {
		select {
		case <-r.ready:
		case <-r.ctx.Done():
			return
		}
		r.get().bus.Subscribe(r.ctx, func(inv redisstore.Invalidation) {
			if inv.Resync {
				svc.InvalidateAll()
				return
			}
			for _, id := range inv.SessionIDs {
				svc.InvalidateSession(id)
			}
			if inv.UserID != 0 {
				svc.InvalidateUser(inv.UserID)
			}
		})
	})
	r.spawn(func() {
		t := time.NewTicker(trustPoll)
		defer t.Stop()
		trusted := false
		for {
			select {
			case <-r.ctx.Done():
				return
			case <-t.C:
			}
			p := r.get()
			live := p != nil && p.bus.Live()
			if live != trusted {
				svc.SetCacheTrusted(live)
				trusted = live
				if live {
					r.recovered()
				} else {
					r.failed(errors.New("invalidation subscription lost"))
				}
			}
		}
	})
}
