package mediatest_test

import (
	"testing"

	"github.com/tldw-go/tldw/media/mediatest"
)

func TestMemory(t *testing.T) {
	mediatest.TestStore(t, func(t *testing.T) mediatest.Fixture {
		return mediatest.Fixture{Store: mediatest.NewMemory(), Alice: 1, Bob: 2}
	})
}
