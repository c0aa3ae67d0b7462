package quota_test

import (
	"testing"
	"time"

	"github.com/tldw-go/tldw/quota"
)

func TestLimitInterval(t *testing.T) {
	tests := []struct {
		l    quota.Limit
		want time.Duration
	}{
		{quota.Limit{N: 5, Per: time.Minute}, 12 * time.Second},
		{quota.Limit{N: 1, Per: time.Second}, time.Second},
		{quota.Limit{N: 1000, Per: time.Hour}, 3600 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := tt.l.Interval(); got != tt.want {
			t.Errorf("%+v.Interval() = %v, want %v", tt.l, got, tt.want)
		}
	}
}
