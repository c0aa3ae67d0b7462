package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage/redisstore"
)

func TestOpenUnreachable(t *testing.T) {
	c, err := redisstore.Open("redis://127.0.0.1:1/0", redisstore.Options{})
	if err == nil {
		c.Close()
		t.Fatal("Open(127.0.0.1:1) succeeded, want a connection error")
	}
	if errors.Is(err, redisstore.ErrInvalid) {
		t.Errorf("Open(127.0.0.1:1) = %v, want a connection error, not ErrInvalid", err)
	}
	if _, err := redisstore.Open("http://nope", redisstore.Options{}); !errors.Is(err, redisstore.ErrInvalid) {
		t.Errorf("Open(http://nope) = %v, want ErrInvalid", err)
	}
}

// TestRedisOutageAndRecovery: while Redis is down every call fails fast with ErrUnavailable
// (the limiter falls back to the local one), the bus resubscribes by itself when Redis is
// back, and everything works again without a new Client.
func TestRedisOutageAndRecovery(t *testing.T) {
	srv := testenv.StartRedisServer(t)
	c, err := redisstore.Open(srv.URL(), redisstore.Options{Timeout: 100 * time.Millisecond, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	lim := quota.Limit{N: 1, Per: time.Hour}
	rl := c.Limiter("t:")
	var fellBack []error
	limiter := quota.Fallback(rl, quota.NewLocalLimiter(nil), func(err error) { fellBack = append(fellBack, err) })
	lockout := c.Lockout("t:")
	bus := c.Bus("t:invalidate")
	got := subscribe(t, bus)

	if d, err := limiter.Allow(ctx, "a", lim); err != nil || !d.Allowed || len(fellBack) != 0 {
		t.Fatalf("Redis up: %+v, %v, fell back %v", d, err, fellBack)
	}

	srv.Stop()
	// Each call gives up by its own 100 ms timeout (a hang would stop the test); how fast is
	// the load harness's business, not an assertion here.
	if _, err := rl.Allow(ctx, "b", lim); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Errorf("limiter with Redis down: err %v, want ErrUnavailable", err)
	}
	if _, err := lockout.Fail(ctx, "user:x", time.Now(), time.Minute, 3, time.Minute); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Errorf("lockout with Redis down: err %v, want ErrUnavailable", err)
	}
	if err := bus.Publish(ctx, redisstore.Invalidation{UserID: 1}); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Errorf("publish with Redis down: err %v, want ErrUnavailable", err)
	}
	// The fallback decides locally: key "a" is fresh there.
	if d, err := limiter.Allow(ctx, "a", lim); err != nil || !d.Allowed || len(fellBack) != 1 {
		t.Errorf("fallback with Redis down: %+v, %v, fell back %d times; want a local admission", d, err, len(fellBack))
	}

	srv.Start()
	// The subscription comes back by itself and says so.
	if inv := receive(t, got); !inv.Resync {
		t.Errorf("first delivery after the restart %+v, want Resync", inv)
	}
	if err := bus.Publish(ctx, redisstore.Invalidation{SessionIDs: []int64{5}}); err != nil {
		t.Fatalf("publish after the restart: %v", err)
	}
	if inv := receive(t, got); len(inv.SessionIDs) != 1 || inv.SessionIDs[0] != 5 {
		t.Errorf("after the restart got %+v, want sessions [5]", inv)
	}
	// Each connection notices the restart on its next use (one EOF), then redials; warm up
	// the script path the limiter uses.
	for i := 0; ; i++ {
		if _, err := rl.Allow(ctx, "warm-up", lim); err == nil {
			break
		}
		if i == 50 {
			t.Fatal("Redis commands did not recover after the restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fellBack = nil
	if d, err := limiter.Allow(ctx, "a", lim); err != nil || !d.Allowed || len(fellBack) != 0 {
		t.Errorf("Redis back (it restarted empty): %+v, %v, fell back %v; want Redis's admission", d, err, fellBack)
	}
	if d, err := limiter.Allow(ctx, "a", lim); err != nil || d.Allowed {
		t.Errorf("Redis back, second request: %+v, %v; want refused", d, err)
	}
}
