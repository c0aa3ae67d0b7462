package media_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/quota/quotatest"
)

// tickAudio is d of audio whose every 100 ms block holds one value: its block number from
// the start of the stream (first + i), so a transcriber can "hear" when it is.
func tickAudio(first int, d time.Duration) media.PCM {
	n := int(d * media.SampleRate / time.Second)
	p := make(media.PCM, n)
	for i := range p {
		p[i] = int16(first + i/(media.SampleRate/10))
	}
	return p
}

// tickTranscriber says "wN" for every whole 100 ms block it hears, N being the block's value.
func tickTranscriber(calls *int) media.Transcriber {
	return mediatest.TranscriberFunc(func(ctx context.Context, a media.Audio, o media.TranscribeOptions) (*media.Transcript, error) {
		*calls++
		p, err := media.ReadWAVFile(a.Path, 0)
		if err != nil {
			return nil, err
		}
		if p.Duration() != a.Duration {
			return nil, fmt.Errorf("duration %s, file %s", a.Duration, p.Duration())
		}
		var words []string
		for i := 0; i+media.SampleRate/10 <= len(p); i += media.SampleRate / 10 {
			words = append(words, fmt.Sprintf("w%d", p[i]))
		}
		return &media.Transcript{Text: strings.Join(words, " "), Language: "en"}, nil
	})
}

func tickWords(from, to int) string {
	var w []string
	for i := from; i < to; i++ {
		w = append(w, fmt.Sprintf("w%d", i))
	}
	return strings.Join(w, " ")
}

func TestLiveSessionWindows(t *testing.T) {
	calls := 0
	s, err := media.NewLiveSession(media.LiveOptions{Transcriber: tickTranscriber(&calls), ChunkDuration: time.Second,
		Overlap: 300 * time.Millisecond, Partial: true, KeepAudio: true, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var all []media.LiveResult
	// 2.4 s in frames of 200 ms: windows at 1 s and 2 s, a partial half-way through each.
	for i := range 12 {
		rs, err := s.Write(ctx, tickAudio(i*2, 200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rs...)
	}
	var finals []media.LiveResult
	partials := 0
	for _, r := range all {
		if r.Final {
			finals = append(finals, r)
		} else {
			partials++
		}
	}
	if len(finals) != 2 || partials != 2 {
		t.Fatalf("results = %+v", all)
	}
	if p := all[0]; p.Final || p.Text != tickWords(0, 6) || p.SegmentID != 0 || p.Buffered != 600*time.Millisecond {
		t.Errorf("partial 0 = %+v", p)
	}
	if f := finals[0]; f.Text != tickWords(0, 10) || f.Start != 0 || f.End != time.Second || f.ChunkStart != 0 || f.SegmentID != 0 {
		t.Errorf("final 0 = %+v", f)
	}
	// The second window hears 0.7..2 s: the overlap's words are merged away.
	if f := finals[1]; f.Text != tickWords(10, 20) || f.Start != time.Second || f.End != 2*time.Second ||
		f.ChunkStart != 700*time.Millisecond || f.SegmentID != 1 {
		t.Errorf("final 1 = %+v", f)
	}
	rs, err := s.Commit(ctx)
	if err != nil || len(rs) != 1 || rs[0].Text != tickWords(20, 24) || rs[0].End != 2400*time.Millisecond || !rs[0].Final {
		t.Fatalf("commit = %+v, %v", rs, err)
	}
	tr := s.Transcript()
	if tr.Text != tickWords(0, 24) || len(tr.Segments) != 3 || tr.Language != "en" {
		t.Errorf("transcript = %+v", tr)
	}
	wav := t.TempDir() + "/s.wav"
	if err := s.SaveWAV(wav); err != nil {
		t.Fatal(err)
	}
	if p, err := media.ReadWAVFile(wav, 0); err != nil || p.Duration() != 2400*time.Millisecond || p[len(p)-1] != 23 ||
		s.Received() != 2400*time.Millisecond {
		t.Errorf("audio kept %s (%v), received %s", p.Duration(), err, s.Received())
	}
	// Nothing buffered: a second commit transcribes nothing.
	if rs, err := s.Commit(ctx); err != nil || len(rs) != 0 {
		t.Errorf("empty commit = %+v, %v", rs, err)
	}
	// After reset, buffered audio is dropped and times go on.
	if _, err := s.Write(ctx, tickAudio(24, 400*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	if _, err := s.Write(ctx, tickAudio(28, time.Second)); err != nil {
		t.Fatal(err)
	}
	tr = s.Transcript()
	if last := tr.Segments[len(tr.Segments)-1]; last.Start != 2800*time.Millisecond || last.Text != tickWords(28, 38) {
		t.Errorf("after reset: %+v", last)
	}
	dir := t.TempDir()
	s2, _ := media.NewLiveSession(media.LiveOptions{Transcriber: tickTranscriber(&calls), TempDir: dir})
	_, _ = s2.Write(ctx, tickAudio(0, 3*time.Second))
	s2.Close()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

func TestLiveSessionBounds(t *testing.T) {
	calls := 0
	tr := tickTranscriber(&calls)
	for _, o := range []media.LiveOptions{
		{Transcriber: tr, ChunkDuration: 50 * time.Millisecond},
		{Transcriber: tr, ChunkDuration: time.Minute},
		{Transcriber: tr, ChunkDuration: time.Second, Overlap: time.Second},
	} {
		if _, err := media.NewLiveSession(o); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if _, err := media.NewLiveSession(media.LiveOptions{}); !errors.Is(err, media.ErrUnsupported) {
		t.Errorf("no transcriber: %v", err)
	}
	ctx := context.Background()
	s, _ := media.NewLiveSession(media.LiveOptions{Transcriber: tr, MaxSession: 3 * time.Second, MaxBuffered: 2 * time.Second, TempDir: t.TempDir()})
	defer s.Close()
	if _, err := s.Write(ctx, tickAudio(0, 2100*time.Millisecond)); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("over the buffer: %v", err)
	}
	if _, err := s.Write(ctx, tickAudio(0, 2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, tickAudio(0, 1100*time.Millisecond)); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("over the session: %v", err)
	}
}

func TestLiveSessionBudget(t *testing.T) {
	calls := 0
	ledger := quotatest.NewMemory()
	b := &media.AudioBudget{Ledger: ledger, Tiers: map[string]media.AudioTier{"free": {MinutesPerDay: 1, Streams: 1}}}
	s, _ := media.NewLiveSession(media.LiveOptions{Transcriber: tickTranscriber(&calls), Budget: b, UserID: 7,
		ChunkDuration: 20 * time.Second, Overlap: -1, MaxBuffered: time.Minute, TempDir: t.TempDir()})
	defer s.Close()
	ctx := context.Background()
	for range 3 {
		if _, err := s.Write(ctx, tickAudio(0, 20*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := b.Remaining(ctx, 7); left != 0 {
		t.Errorf("remaining after 60 s = %s", left)
	}
	rs, err := s.Write(ctx, tickAudio(0, 20*time.Second))
	var be *media.BudgetError
	if !errors.As(err, &be) || be.Code != media.CodeTranscriptionMinutes || len(rs) != 0 {
		t.Errorf("over budget: %v %v", rs, err)
	}
	if calls != 3 {
		t.Errorf("transcribed %d windows, want 3 (none past the budget)", calls)
	}
}

func TestMergeOverlap(t *testing.T) {
	for _, c := range []struct{ prev, next, want string }{
		{"the quick brown fox", "Brown fox, jumps over", "jumps over"},
		{"a b c", "d e", "d e"},
		{"", "x y", "x y"},
		{"x y", "x y", ""},
	} {
		if got := media.MergeOverlap(c.prev, c.next); got != c.want {
			t.Errorf("MergeOverlap(%q, %q) = %q, want %q", c.prev, c.next, got, c.want)
		}
	}
}

func TestPCMDecoding(t *testing.T) {
	if p, err := media.PCMFromInt16LE([]byte{1, 0, 0xff, 0xff}); err != nil || len(p) != 2 || p[0] != 1 || p[1] != -1 {
		t.Errorf("int16 = %v %v", p, err)
	}
	if _, err := media.PCMFromInt16LE([]byte{1}); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("odd bytes: %v", err)
	}
	f32 := func(vs ...float32) []byte {
		var b []byte
		for _, v := range vs {
			u := math.Float32bits(v)
			b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
		}
		return b
	}
	p, err := media.PCMFromFloat32LE(f32(0, 0.5, -1, 2), 16000)
	if err != nil || len(p) != 4 || p[1] != 16384 || p[2] != -32767 || p[3] != 32767 {
		t.Errorf("float32 = %v %v", p, err)
	}
	in := make([]float32, 48000) // 1 s at 48 kHz
	p = media.Resample(in, 48000)
	if len(p) != 16000 {
		t.Errorf("48 kHz → %d samples", len(p))
	}
	if _, err := media.PCMFromFloat32LE(f32(float32(math.NaN())), 16000); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("NaN: %v", err)
	}
	if _, err := media.PCMFromFloat32LE(f32(0), 100); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("rate 100: %v", err)
	}
	if _, err := media.PCMFromFloat32LE([]byte{1, 2, 3}, 16000); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("3 bytes: %v", err)
	}
}
