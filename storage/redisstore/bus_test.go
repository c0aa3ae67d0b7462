package redisstore_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tldw-go/tldw/storage/redisstore"
)

// waitFor is how long a test waits for a message before failing; messages normally arrive in
// well under a millisecond.
const waitFor = 10 * time.Second

// subscribe starts b.Subscribe and returns the invalidations it delivers, after the first
// Resync (the subscription is then confirmed).
func subscribe(t *testing.T, b *redisstore.Bus) <-chan redisstore.Invalidation {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan redisstore.Invalidation, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Subscribe(ctx, func(inv redisstore.Invalidation) { ch <- inv })
	}()
	t.Cleanup(func() {
		cancel()
		<-done // Subscribe returns once ctx is done
		if b.Live() {
			t.Error("Live() = true after Subscribe returned")
		}
	})
	if inv := receive(t, ch); !inv.Resync {
		t.Fatalf("first delivery %+v, want the Resync of the confirmed subscription", inv)
	}
	if !b.Live() {
		t.Error("Live() = false after the subscription was confirmed")
	}
	return ch
}

func receive(t *testing.T, ch <-chan redisstore.Invalidation) redisstore.Invalidation {
	t.Helper()
	select {
	case inv := <-ch:
		return inv
	case <-time.After(waitFor):
		t.Fatalf("no invalidation within %v", waitFor)
		return redisstore.Invalidation{}
	}
}

func TestBusDeliversToOtherReplicas(t *testing.T) {
	a, prefix := openRedis(t)
	b, _ := openRedis(t)
	channel := prefix + "invalidate"
	got := subscribe(t, b.Bus(channel))
	own := subscribe(t, a.Bus(channel))

	sent := []redisstore.Invalidation{
		{SessionIDs: []int64{7}},
		{UserID: 42},
		{SessionIDs: []int64{1, 2, 3}, UserID: 9},
	}
	for _, inv := range sent {
		if err := a.Bus(channel).Publish(t.Context(), inv); err != nil {
			t.Fatalf("Publish(%+v): %v", inv, err)
		}
	}
	for i, want := range sent {
		if inv := receive(t, got); !reflect.DeepEqual(inv, want) {
			t.Errorf("other replica, message %d = %+v, want %+v", i, inv, want)
		}
		if inv := receive(t, own); !reflect.DeepEqual(inv, want) {
			t.Errorf("publishing replica, message %d = %+v, want %+v", i, inv, want)
		}
	}
}

func TestBusSkipsMalformedAndOtherChannels(t *testing.T) {
	a, prefix := openRedis(t)
	channel := prefix + "invalidate"
	got := subscribe(t, a.Bus(channel))
	ctx := t.Context()
	for _, args := range [][]string{
		{"PUBLISH", channel, "not json"},
		{"PUBLISH", channel, `{"user_id": "x"}`},
		{"PUBLISH", prefix + "elsewhere", `{"user_id": 1}`},
		{"PUBLISH", channel, `{"resync": true, "user_id": 5}`}, // Resync cannot be forged
	} {
		if err := a.Raw(ctx, args...); err != nil {
			t.Fatal(err)
		}
	}
	if inv := receive(t, got); !reflect.DeepEqual(inv, redisstore.Invalidation{UserID: 5}) {
		t.Errorf("first delivery %+v, want only the well-formed message on the channel", inv)
	}
}

func TestBusPublishJSON(t *testing.T) {
	a, prefix := openRedis(t)
	channel := prefix + "invalidate"
	got := subscribe(t, a.Bus(channel))
	// What another implementation (or an older replica) publishes is understood.
	if err := a.Raw(t.Context(), "PUBLISH", channel, fmt.Sprintf(`{"session_ids":[%d],"user_id":%d}`, 11, 3)); err != nil {
		t.Fatal(err)
	}
	if inv := receive(t, got); !reflect.DeepEqual(inv, redisstore.Invalidation{SessionIDs: []int64{11}, UserID: 3}) {
		t.Errorf("got %+v", inv)
	}
}
