package redisstore_test

import (
	"testing"

	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/storage/redisstore"
)

// openRedis connects to the test Redis and returns the client and this test's key prefix.
func openRedis(t testing.TB) (*redisstore.Client, string) {
	t.Helper()
	url, prefix := testenv.Redis(t)
	c, err := redisstore.Open(url, redisstore.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, prefix
}
