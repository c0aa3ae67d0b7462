package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/rueidis"
)

var (
	// ErrInvalid reports a malformed Redis URL.
	ErrInvalid = errors.New("redisstore: invalid")
	// ErrUnavailable reports that Redis did not answer in time or failed: the caller should
	// fall back (to per-replica limits, to the database). The wrapped text says why.
	ErrUnavailable = errors.New("redisstore: unavailable")
)

// unavailable wraps a driver error as ErrUnavailable, so no rueidis type leaves the package;
// a deadline or cancellation stays visible to errors.Is.
func unavailable(op string, err error) error {
	for _, ctxErr := range []error{context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, ctxErr) {
			return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, ctxErr)
		}
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
}

// Client is a connection to Redis shared by every Redis-backed store. Safe for concurrent use.
type Client struct {
	c       rueidis.Client
	timeout time.Duration
	log     *slog.Logger
}

// Options tune a Client. The zero value is usable.
type Options struct {
	// MaxConnections bounds the blocking-command pool (REDIS_MAX_CONNECTIONS).
	MaxConnections int
	// DialTimeout bounds connecting; requests never wait on a dead Redis longer than this.
	DialTimeout time.Duration
	// Timeout bounds each call of the stores built on the Client (a rate-limit decision, a
	// lockout update, a publish) so a request never waits long on an unreachable Redis: the
	// call fails and the caller falls back. Default 100 ms.
	Timeout time.Duration
	// Logger receives the Bus's subscription losses and recoveries. Default: discard.
	Logger *slog.Logger
}

// Open connects to the Redis server at url (redis://, rediss:// or unix://). It returns an
// ErrInvalid-wrapped error for a malformed URL and the connection error when Redis does not
// answer.
func Open(url string, o Options) (*Client, error) {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("%w: REDIS_URL: %v", ErrInvalid, err)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 2 * time.Second
	}
	opt.Dialer.Timeout = o.DialTimeout
	opt.ConnWriteTimeout = o.DialTimeout
	if o.Timeout <= 0 {
		o.Timeout = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxConnections > 0 {
		opt.BlockingPoolSize = o.MaxConnections
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redisstore: connect: %w", err)
	}
	return &Client{c: c, timeout: o.Timeout, log: o.Logger}, nil
}

// Ping checks that Redis answers within ctx.
func (c *Client) Ping(ctx context.Context) error {
	return c.c.Do(ctx, c.c.B().Ping().Build()).Error()
}

// Close releases the connections.
func (c *Client) Close() error {
	c.c.Close()
	return nil
}
