package media_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

func TestWAVRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.wav")
	p := make(media.PCM, media.SampleRate*3/2)
	for i := range p {
		p[i] = int16(i*7 - 3000)
	}
	if err := media.WriteWAVFile(path, p); err != nil {
		t.Fatal(err)
	}
	got, err := media.ReadWAVFile(path, 0)
	if err != nil || len(got) != len(p) || got[100] != p[100] || got.Duration() != 1500*time.Millisecond {
		t.Fatalf("read %d samples (%v), err %v", len(got), got.Duration(), err)
	}
	if s := got.Slice(time.Second, 2*time.Second); len(s) != media.SampleRate/2 || s[0] != p[media.SampleRate] {
		t.Errorf("slice = %d samples", len(s))
	}
	if _, err := media.ReadWAVFile(path, media.SampleRate); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("over the cap: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "b.wav")
	os.WriteFile(bad, []byte("RIFF\x00\x00\x00\x00WAVEjunk"), 0o600)
	if _, err := media.ReadWAVFile(bad, 0); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("truncated: %v", err)
	}
}
