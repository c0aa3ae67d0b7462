package openaistt

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

func TestWAVHeaderIsWriteWAVs(t *testing.T) {
	p := tones(1)[7900:8300]
	var want bytes.Buffer
	if err := media.WriteWAV(&want, p); err != nil {
		t.Fatal(err)
	}
	if got := wavHeader(int64(len(p))); !bytes.Equal(got, want.Bytes()[:wavHeaderSize]) {
		t.Errorf("wavHeader differs from media.WriteWAV's")
	}
}

func TestWAVData(t *testing.T) {
	p := tones(1)
	var b bytes.Buffer
	media.WriteWAV(&b, p)
	canonical := b.Bytes()
	// A LIST chunk before the data, as ffmpeg writes, and a streamed size (0xFFFFFFFF).
	withList := append(append(append([]byte{}, canonical[:36]...), "LIST\x05\x00\x00\x00abcde\x00"...), canonical[36:]...)
	streamed := append([]byte{}, canonical...)
	copy(streamed[40:], "\xff\xff\xff\xff")
	for name, tc := range map[string]struct {
		file []byte
		data int64
	}{"canonical": {canonical, 44}, "LIST chunk": {withList, 44 + 14}, "streamed": {streamed, 44}} {
		data, n, err := wavData(bytes.NewReader(tc.file), int64(len(tc.file)))
		if err != nil || data != tc.data || n != int64(len(p)) {
			t.Errorf("%s: data at %d, %d samples, %v; want %d, %d", name, data, n, err, tc.data, len(p))
		}
	}
	stereo := append([]byte{}, canonical...)
	stereo[22] = 2
	for name, bad := range map[string][]byte{"text": []byte("This is a text file, not a WAV file.\n"),
		"stereo": stereo, "no data": canonical[:36], "empty": nil} {
		if _, _, err := wavData(bytes.NewReader(bad), int64(len(bad))); err == nil || !media.Permanent(err) {
			t.Errorf("%s: %v, want media.ErrInvalid", name, err)
		}
	}
}

func inMemory(p media.PCM) func(lo, hi int) (media.PCM, error) {
	return func(lo, hi int) (media.PCM, error) { return p[lo:hi], nil }
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
	b, _ := cutPoints(len(p), 8*media.SampleRate, inMemory(p))
	if len(b) != 3 || b[0] != 0 || b[2] != len(p) {
		t.Fatalf("bounds %v", b)
	}
	if at := samples(int64(b[1])); at < 7575*time.Millisecond || at > 7625*time.Millisecond {
		t.Errorf("cut at %v, want the middle of the pause (7.6 s)", at)
	}
	// No pause: every window is as loud, the cut is in the searched stretch, no piece over.
	p = loud(20 * media.SampleRate)
	b, _ = cutPoints(len(p), 8*media.SampleRate, inMemory(p))
	for i := 1; i < len(b); i++ {
		if n := b[i] - b[i-1]; n > 8*media.SampleRate || (i < len(b)-1 && n < 8*media.SampleRate*4/5) {
			t.Errorf("piece %d has %d samples: bounds %v", i, n, b)
		}
	}
	// Short audio is one piece; a limit shorter than a window cuts at the limit.
	if b, _ := cutPoints(100, 8*media.SampleRate, inMemory(p)); len(b) != 2 || b[1] != 100 {
		t.Errorf("short: %v", b)
	}
	if b, _ := cutPoints(1000, 300, inMemory(p)); len(b) != 5 || b[1] != 300 || b[4] != 1000 {
		t.Errorf("tiny limit: %v", b)
	}
}

// BenchmarkSplitRetime is the work a long file adds over one request: planning the pieces
// of a 10-minute WAV file (speech-like tones and pauses) at 1 MB, reading each piece as it
// is sent, and re-timing and joining the pieces' segments (one per second of audio).
func BenchmarkSplitRetime(b *testing.B) {
	p := tones(600)
	path := filepath.Join(b.TempDir(), "talk.wav")
	if err := media.WriteWAVFile(path, p); err != nil {
		b.Fatal(err)
	}
	a := media.Audio{Path: path, Duration: p.Duration()}
	const limit = 1 << 20
	pieces, err := plan(a, limit)
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]*verbose, len(pieces))
	for i, pc := range pieces {
		r := &verbose{Language: "english", Text: "x"}
		for s := 0.0; s < pc.length.Seconds(); s++ {
			r.Segments = append(r.Segments, segment{Start: s, End: s + 0.5, Text: " tone"})
		}
		rs[i] = r
	}
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(p)))
	for b.Loop() {
		pieces, err := plan(a, limit)
		if err != nil {
			b.Fatal(err)
		}
		for _, pc := range pieces {
			r, n, err := pc.open()
			if err != nil {
				b.Fatal(err)
			}
			if k, _ := io.Copy(io.Discard, r); k != n || n > limit {
				b.Fatalf("piece of %d bytes (%d read)", n, k)
			}
			r.Close()
		}
		if t := join(pieces, rs); len(t.Segments) < 590 {
			b.Fatalf("%d segments", len(t.Segments))
		}
	}
}

// BenchmarkCutPoints is the cut search alone over the same 10 minutes, in memory.
func BenchmarkCutPoints(b *testing.B) {
	p := tones(600)
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(p)))
	for b.Loop() {
		if bounds, _ := cutPoints(len(p), (1<<20-wavHeaderSize)/2, inMemory(p)); len(bounds) < 10 {
			b.Fatal("no cuts")
		}
	}
}
