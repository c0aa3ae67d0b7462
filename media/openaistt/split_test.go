package openaistt

import (
	"bytes"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

func TestEncodeWAVIsWriteWAV(t *testing.T) {
	p := tones(1)[7900:8300]
	var want bytes.Buffer
	if err := media.WriteWAV(&want, p); err != nil {
		t.Fatal(err)
	}
	if got := encodeWAV(p); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("encodeWAV differs from media.WriteWAV")
	}
}

func TestCutPoints(t *testing.T) {
	loud := func(n int) media.PCM {
		p := make(media.PCM, n)
		for i := range p {
			p[i] = int16(5000 - 10000*(i%2))
		}
		return p
	}
	// 10 s of sound with a digital-silence pause at [7.5 s, 7.7 s): the one cut (limit 8 s,
	// searched from 6.4 s) is in the middle of the pause.
	p := loud(10 * media.SampleRate)
	clear(p[7500*16 : 7700*16])
	b := cutPoints(p, 8*media.SampleRate)
	if len(b) != 3 || b[0] != 0 || b[2] != len(p) {
		t.Fatalf("bounds %v", b)
	}
	if at := media.PCM(p[:b[1]]).Duration(); at < 7575*time.Millisecond || at > 7625*time.Millisecond {
		t.Errorf("cut at %v, want the middle of the pause (7.6 s)", at)
	}
	// No pause: every window is as loud, the cut is in the searched stretch, no piece over.
	p = loud(20 * media.SampleRate)
	b = cutPoints(p, 8*media.SampleRate)
	for i := 1; i < len(b); i++ {
		if n := b[i] - b[i-1]; n > 8*media.SampleRate || (i < len(b)-1 && n < 8*media.SampleRate*4/5) {
			t.Errorf("piece %d has %d samples: bounds %v", i, n, b)
		}
	}
	// Short audio is one piece; a limit shorter than a window cuts at the limit.
	if b := cutPoints(p[:100], 8*media.SampleRate); len(b) != 2 || b[1] != 100 {
		t.Errorf("short: %v", b)
	}
	if b := cutPoints(p[:1000], 300); len(b) != 5 || b[1] != 300 || b[4] != 1000 {
		t.Errorf("tiny limit: %v", b)
	}
}

// BenchmarkSplitRetime is the work a long file adds over one request: cutting 10 minutes
// of speech-like audio (tones and pauses) at 1 MB pieces, encoding each piece as a WAV, and
// re-timing and joining the pieces' segments (one per second of audio).
func BenchmarkSplitRetime(b *testing.B) {
	p := tones(600)
	const max = (1<<20 - wavHeaderSize) / 2
	results := func(pieces []piece) []*verbose {
		rs := make([]*verbose, len(pieces))
		for i, pc := range pieces {
			r := &verbose{Language: "english", Text: "x"}
			for s := 0.0; s < pc.length.Seconds(); s++ {
				r.Segments = append(r.Segments, segment{Start: s, End: s + 0.5, Text: " tone"})
			}
			rs[i] = r
		}
		return rs
	}
	rs := results(splitPieces(p, max))
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(p)))
	for b.Loop() {
		pieces := splitPieces(p, max)
		for _, pc := range pieces {
			_ = encodeWAV(pc.pcm)
		}
		if t := join(pieces, rs); len(t.Segments) < 590 {
			b.Fatalf("%d segments", len(t.Segments))
		}
	}
}

// BenchmarkCutPoints is the cut search alone over the same 10 minutes.
func BenchmarkCutPoints(b *testing.B) {
	p := tones(600)
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(p)))
	for b.Loop() {
		if len(cutPoints(p, (1<<20-wavHeaderSize)/2)) < 10 {
			b.Fatal("no cuts")
		}
	}
}
