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

// Redis timing: each call gives up after REDIS_TIMEOUT_MS (then the caller falls back), and
// after a failure that took at least redisSlow requests skip Redis for redisBreak, so an
// unresponsive Redis costs at most one timeout per second rather than one per call (a
// refused connection fails at once and costs nothing); the background dial retries from
// dialMinBackoff doubling to dialMaxBackoff; the session cache is switched off within
// trustPoll of the invalidation subscription dropping.
const (
	redisBreak     = time.Second
	redisSlow      = 10 * time.Millisecond
	redisDialLimit = 2 * time.Second
	dialMinBackoff = 50 * time.Millisecond
	dialMaxBackoff = time.Second
	trustPoll      = 100 * time.Millisecond
	redisPingLimit = time.Second
)

// errRedisSkipped is what the Redis-backed parts report when they do not try Redis: before
// the first connection, and for redisBreak after a slow failure.
var errRedisSkipped = errors.New("redis unavailable")

// redisConn is the one owner of the Redis connection. It dials in the background, so a
// Redis that is down at start only degrades the server, and requests never wait for a dial;
// once connected, the client reconnects by itself. It also runs the invalidation
// subscriber. Safe for concurrent use; Close stops everything it started.
type redisConn struct {
	url     string
	maxConn int
	timeout time.Duration // per call
	log     *slog.Logger
	now     func() time.Time

	parts   atomic.Pointer[redisParts] // nil until connected
	ready   chan struct{}              // closed once parts is set
	lastErr atomic.Pointer[string]     // the last dial failure, for health
	down    atomic.Bool                // an outage has been logged and not yet its end
	retryAt atomic.Int64               // while down, Redis is skipped until this UnixNano

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
func newRedisConn(url string, maxConn int, timeout time.Duration, logger *slog.Logger, now func() time.Time) *redisConn {
	ctx, cancel := context.WithCancel(context.Background())
	r := &redisConn{url: url, maxConn: maxConn, timeout: timeout, log: logger, now: now, ready: make(chan struct{}), ctx: ctx, cancel: cancel}
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
			Timeout: r.timeout, Logger: r.log})
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
		r.failed(err, 0)
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

// get returns the connected stores, or nil when requests should not try Redis: before the
// first connection, and within redisBreak of a slow failure.
func (r *redisConn) get() *redisParts {
	p := r.parts.Load()
	if p == nil || r.down.Load() && time.Now().UnixNano() < r.retryAt.Load() {
		return nil
	}
	return p
}

// failed records a Redis failure that lasted took: the start of an outage is logged once, and
// after a slow failure requests skip Redis for redisBreak. errRedisSkipped is not a failure.
func (r *redisConn) failed(err error, took time.Duration) {
	if errors.Is(err, errRedisSkipped) {
		return
	}
	if took >= redisSlow || errors.Is(err, context.DeadlineExceeded) {
		r.retryAt.Store(time.Now().Add(redisBreak).UnixNano())
	}
	if !r.down.Swap(true) {
		r.log.Warn("redis unavailable: using per-replica rate limits, the database for lockout and "+
			"revocation checks until it is back", "err", err)
	}
}

// ok records a Redis success, ending an outage (logged once).
func (r *redisConn) ok() {
	if r.down.Load() && r.down.Swap(false) {
		r.log.Info("redis available again: shared rate limits, lockout and revocations resumed")
	}
}

// do runs op on the connected stores, or returns errRedisSkipped when Redis is being
// skipped (see get). See attempt.
func (r *redisConn) do(ctx context.Context, op func(*redisParts) error) error {
	p := r.get()
	if p == nil {
		return errRedisSkipped
	}
	return r.attempt(ctx, p, op)
}

// attempt runs op and records the outcome (ok / failed). A fast failure (under redisSlow,
// while the caller is still there) is retried once at once: after Redis restarts, the first
// command on a pooled connection fails (EOF) and the repeat goes over a fresh connection.
func (r *redisConn) attempt(ctx context.Context, p *redisParts, op func(*redisParts) error) error {
	start := time.Now()
	err := op(p)
	if err != nil && ctx.Err() == nil && time.Since(start) < redisSlow {
		err = op(p)
	}
	switch {
	case err == nil:
		r.ok()
	case ctx.Err() == nil:
		r.failed(err, time.Since(start))
	}
	return err
}

// Ping checks Redis for /api/v1/health; a failure degrades health, it never makes the server
// unhealthy.
func (r *redisConn) Ping(ctx context.Context) error {
	p := r.parts.Load() // health always tries: it is how a replica notices Redis is back
	if p == nil {
		why := "not connected yet"
		if e := r.lastErr.Load(); e != nil {
			why = *e
		}
		return fmt.Errorf("%w: redis: %s", httpapi.ErrDegraded, why)
	}
	ctx, cancel := context.WithTimeout(ctx, redisPingLimit)
	defer cancel()
	start := time.Now()
	if err := p.client.Ping(ctx); err != nil {
		r.failed(err, time.Since(start))
		return fmt.Errorf("%w: redis: %v", httpapi.ErrDegraded, err)
	}
	r.ok()
	return nil
}

// Close stops the dialler and the subscriber and closes the connection.
func (r *redisConn) Close() error {
	r.cancel()
	r.wg.Wait()
	if p := r.parts.Load(); p != nil {
		return p.client.Close()
	}
	return nil
}

// Allow is the Redis rate limiter (quota.Limiter). While Redis is skipped (see get) it
// fails at once, so quota.Fallback decides locally.
func (r *redisConn) Allow(ctx context.Context, key string, l quota.Limit) (d quota.Decision, err error) {
	err = r.do(ctx, func(p *redisParts) error {
		d, err = p.limiter.Allow(ctx, key, l)
		return err
	})
	return d, err
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
	return quota.Fallback(a.redis, local, nil) // Allow records Redis failures itself
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
// round), so an outage can at most restart a count (and a Fail whose reply was lost and is
// retried may count twice). Safe for concurrent use.
type failoverLockout struct {
	r   *redisConn
	sql auth.LockoutStore
}

var _ auth.LockoutStore = (*failoverLockout)(nil)

func (l *failoverLockout) Fail(ctx context.Context, key string, now time.Time, window time.Duration, max int, lockFor time.Duration) (until time.Time, err error) {
	err = l.r.do(ctx, func(p *redisParts) error {
		until, err = p.lockout.Fail(ctx, key, now, window, max, lockFor)
		return err
	})
	if err != nil {
		return l.sql.Fail(ctx, key, now, window, max, lockFor)
	}
	return until, nil
}

func (l *failoverLockout) LockedUntil(ctx context.Context, key string, now time.Time) (until time.Time, err error) {
	err = l.r.do(ctx, func(p *redisParts) error {
		until, err = p.lockout.LockedUntil(ctx, key, now)
		return err
	})
	if err != nil {
		return l.sql.LockedUntil(ctx, key, now)
	}
	return until, nil
}

func (l *failoverLockout) Reset(ctx context.Context, key string) error {
	if err := l.r.do(ctx, func(p *redisParts) error { return p.lockout.Reset(ctx, key) }); err != nil {
		return l.sql.Reset(ctx, key)
	}
	return nil
}

func (l *failoverLockout) ResetTree(ctx context.Context, key string) error {
	if err := l.r.do(ctx, func(p *redisParts) error { return p.lockout.ResetTree(ctx, key) }); err != nil {
		return l.sql.ResetTree(ctx, key)
	}
	return nil
}

// invalidationHook returns the accounts Service's Notify hook: publishing on Redis, or nil
// without it.
func (a *App) invalidationHook() func(sessionIDs []int64, userID int64) {
	if a.redis == nil {
		return nil
	}
	return a.redis.publish
}

// publish is the accounts Service's Notify hook: it tells the other replicas which cached
// sessions and users to drop, within REDIS_TIMEOUT_MS. A failure is logged: when Redis is down
// the other replicas' subscriptions are down as well, so they read the database anyway.
func (r *redisConn) publish(sessionIDs []int64, userID int64) {
	p := r.parts.Load() // always try: a missed revocation costs more than one timeout
	if p == nil {
		return
	}
	ctx := context.Background()
	inv := redisstore.Invalidation{SessionIDs: sessionIDs, UserID: userID}
	_ = r.attempt(ctx, p, func(p *redisParts) error { return p.bus.Publish(ctx, inv) })
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
		r.parts.Load().bus.Subscribe(r.ctx, func(inv redisstore.Invalidation) {
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
			p := r.parts.Load()
			live := p != nil && p.bus.Live()
			if live != trusted {
				svc.SetCacheTrusted(live)
				trusted = live
				if live {
					r.ok()
				} else {
					r.failed(errors.New("invalidation subscription lost"), 0)
				}
			}
		}
	})
}
