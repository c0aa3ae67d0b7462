package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// Invalidation tells the replicas that cached authentication state is stale: the listed
// sessions (logout, revocation) and, when UserID is set, the user and all of its sessions
// (password change, deactivation, role change). It travels as JSON.
type Invalidation struct {
	SessionIDs []int64 `json:"session_ids,omitempty"`
	UserID     int64   `json:"user_id,omitempty"`
	// Resync is never published: Subscribe sets it, alone, each time the subscription is
	// (re)established. Invalidations published while it was down are lost, so the
	// receiver must drop everything it caches.
	Resync bool `json:"-"`
}

// Reconnection backoff of Subscribe: doubling from minBackoff up to maxBackoff, so a replica
// hears again within about a second of Redis coming back.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// Bus carries Invalidations between replicas over one Redis pub/sub channel. A replica that
// changes a session or user publishes; every replica, itself included, receives. Redis
// pub/sub is at-most-once: while a replica's subscription is down it misses messages, which
// is why Subscribe reports each resubscription (Resync) and Live reports the state, so the
// caller can drop its cache and read the database meanwhile. Safe for concurrent use.
type Bus struct {
	c       *Client
	channel string
	live    atomic.Bool
}

// Bus returns the invalidation bus on channel.
func (c *Client) Bus(channel string) *Bus { return &Bus{c: c, channel: channel} }

// Publish sends inv to every subscribed replica, within the Client's Timeout. It returns an
// ErrUnavailable-wrapped error when Redis fails or does not answer in time.
func (b *Bus) Publish(ctx context.Context, inv Invalidation) error {
	data, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("redisstore: encode invalidation: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, b.c.timeout)
	defer cancel()
	if err := b.c.c.Do(ctx, b.c.c.B().Publish().Channel(b.channel).Message(string(data)).Build()).Error(); err != nil {
		return unavailable("publish invalidation", err)
	}
	return nil
}

// Live reports whether a Subscribe call currently holds a confirmed subscription: while it is
// false, invalidations from other replicas may be missed.
func (b *Bus) Live() bool { return b.live.Load() }

// Subscribe calls fn with every Invalidation published on the bus until ctx is done or the
// Client is closed; run it in its own goroutine, once per Bus. Each time the subscription is
// confirmed (first at start, then after every reconnection) fn first gets
// Invalidation{Resync: true}. When Redis is unreachable Subscribe retries with a backoff of up
// to a second, without returning. fn is called from one goroutine at a time, in order; it must
// be quick and must not use the Client (it runs on the connection's reader). Malformed
// messages are logged and skipped.
func (b *Bus) Subscribe(ctx context.Context, fn func(Invalidation)) {
	log := b.c.log.With("channel", b.channel)
	backoff := minBackoff
	for {
		subscribed, err := b.subscribeOnce(ctx, fn)
		b.live.Store(false)
		if ctx.Err() != nil || errors.Is(err, rueidis.ErrClosing) {
			return
		}
		if subscribed {
			log.Warn("redis invalidation subscription lost; resubscribing", "err", err)
			backoff = minBackoff
		} else {
			log.Debug("redis invalidation subscription failed", "err", err, "retry_in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// subscribeOnce holds one subscription on a dedicated connection until the connection breaks
// or ctx is done, and reports whether the subscription was ever confirmed. No hook runs after
// it returns.
func (b *Bus) subscribeOnce(ctx context.Context, fn func(Invalidation)) (subscribed bool, err error) {
	log := b.c.log.With("channel", b.channel)
	dc, release := b.c.c.Dedicate()
	defer release()
	var confirmed atomic.Bool
	wait := dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) {
			var inv Invalidation
			if err := json.Unmarshal([]byte(m.Message), &inv); err != nil {
				log.Error("malformed invalidation skipped", "err", err, "message", m.Message)
				return
			}
			inv.Resync = false
			fn(inv)
		},
		OnSubscription: func(s rueidis.PubSubSubscription) {
			if s.Kind == "subscribe" && s.Channel == b.channel {
				if !confirmed.Swap(true) {
					log.Info("redis invalidation subscription live")
				}
				b.live.Store(true)
				fn(Invalidation{Resync: true})
			}
		},
	})
	// A subscribed connection must never go back to the pool: Close discards it, and
	// draining wait makes sure no hook is still running.
	defer func() {
		dc.Close()
		for range wait {
		}
	}()
	if err := dc.Do(ctx, dc.B().Subscribe().Channel(b.channel).Build()).Error(); err != nil {
		return confirmed.Load(), err
	}
	select {
	case <-ctx.Done():
		return confirmed.Load(), ctx.Err()
	case err, ok := <-wait:
		if !ok || err == nil {
			err = errors.New("subscription ended")
		}
		return confirmed.Load(), err
	}
}
