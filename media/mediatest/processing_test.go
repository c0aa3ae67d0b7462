package mediatest_test

import (
	"testing"

	"github.com/tldw-go/tldw/media/mediatest"
)

func TestMemoryProcessing(t *testing.T) {
	mediatest.TestProcessingStore(t, func(t *testing.T) mediatest.ProcessingFixture {
		m := mediatest.NewMemory()
		return mediatest.ProcessingFixture{Store: m, Processing: mediatest.NewProcessing(m), Alice: 1, Bob: 2}
	})
}
