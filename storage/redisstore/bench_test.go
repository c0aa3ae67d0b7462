package redisstore_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tldw-go/tldw/quota"
)

// The limiter benchmarks spread parallel callers over 64 keys; compare BenchmarkLimiterRedis
// with BenchmarkRawIncr (one INCR per operation on the same client and keys) for the cost of
// the script over a bare round trip, and with quota's BenchmarkLocalLimiter.

// parallelism×GOMAXPROCS goroutines call at once, like concurrent requests on a server: this
// lets rueidis pipeline them on its shared connections.
const parallelism = 16

func BenchmarkLimiterRedis(b *testing.B) {
	c, prefix := openRedis(b)
	l := c.Limiter(prefix)
	lim := quota.Limit{N: 1_000_000, Per: time.Second}
	var id atomic.Int64
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		key := "bench:" + strconv.FormatInt(id.Add(1)%64, 10)
		for pb.Next() {
			if _, err := l.Allow(b.Context(), key, lim); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkRawIncr(b *testing.B) {
	c, prefix := openRedis(b)
	var id atomic.Int64
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		key := prefix + "incr:" + strconv.FormatInt(id.Add(1)%64, 10)
		for pb.Next() {
			if err := c.Incr(b.Context(), key); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
