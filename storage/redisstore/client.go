package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// ErrInvalid reports a malformed Redis URL.
var ErrInvalid = errors.New("redisstore: invalid")

// Client is a connection to Redis shared by every Redis-backed store. Safe for concurrent use.
type Client struct {
	c rueidis.Client
}

// Options tune a Client. The zero value is usable.
type Options struct {
	// MaxConnections bounds the blocking-command pool (REDIS_MAX_CONNECTIONS).
	MaxConnections int
	// DialTimeout bounds connecting; requests never wait on a dead Redis longer than this.
	DialTimeout time.Duration
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
	if o.MaxConnections > 0 {
		opt.BlockingPoolSize = o.MaxConnections
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redisstore: connect: %w", err)
	}
	return &Client{c: c}, nil
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
