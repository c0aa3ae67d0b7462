package quota_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
)

func TestLocalLimiterConformance(t *testing.T) {
	quotatest.TestLimiter(t, func(t *testing.T, now func() time.Time) quota.Limiter {
		return quota.NewLocalLimiter(now)
	})
}

func TestLimitValidate(t *testing.T) {
	tests := []struct {
		l  quota.Limit
		ok bool
	}{
		{quota.Limit{N: 5, Per: time.Minute}, true},
		{quota.Limit{N: 1, Per: 24 * time.Hour}, true},
		{quota.Limit{N: 1000, Per: time.Millisecond}, true}, // exactly 1 µs
		{quota.Limit{N: 1001, Per: time.Millisecond}, false},
		{quota.Limit{N: 0, Per: time.Minute}, false},
		{quota.Limit{N: 5}, false},
	}
	for _, tt := range tests {
		if err := tt.l.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tt.l, err, tt.ok)
		}
	}
}

func BenchmarkLocalLimiter(b *testing.B) {
	l := quota.NewLocalLimiter(nil)
	lim := quota.Limit{N: 1_000_000, Per: time.Second}
	var id atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		key := "bench:" + strconv.FormatInt(id.Add(1)%64, 10)
		for pb.Next() {
			if _, err := l.Allow(b.Context(), key, lim); err != nil {
				b.Fatal(err)
			}
		}
	})
}
