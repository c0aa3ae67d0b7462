package redisstore

import (
	"context"
	"time"
)

// PTTL exposes a key's remaining time to live to the external tests (-1: no expiry,
// -2: absent).
func (c *Client) PTTL(ctx context.Context, key string) (time.Duration, error) {
	ms, err := c.c.Do(ctx, c.c.B().Pttl().Key(key).Build()).AsInt64()
	return time.Duration(ms) * time.Millisecond, err
}

// Raw runs one raw command, for tests that write what another replica or a bad publisher
// would.
func (c *Client) Raw(ctx context.Context, args ...string) error {
	return c.c.Do(ctx, c.c.B().Arbitrary(args...).Build()).Error()
}

// Incr runs INCR key: the benchmarks' baseline for one plain round trip on the same client.
func (c *Client) Incr(ctx context.Context, key string) error {
	return c.c.Do(ctx, c.c.B().Incr().Key(key).Build()).Error()
}
