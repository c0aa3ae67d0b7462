package ffmpeg

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
)

// newAV returns an AV whose runs make their temporary directories in a directory of the
// test (checked empty at the end).
func newAV(t testing.TB, c Config) *AV {
	t.Helper()
	mediatest.NeedTools(t, "ffmpeg", "ffprobe")
	if c.TempRoot == "" {
		c.TempRoot = t.TempDir()
		t.Cleanup(func() {
			if left, _ := os.ReadDir(c.TempRoot); len(left) > 0 {
				t.Errorf("temporary directories left behind: %v", left)
			}
		})
	}
	av, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return av
}

// gen writes a fixture made by ffmpeg (lavfi sources) to name in dir and returns its path.
func gen(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	mediatest.NeedTools(t, "ffmpeg")
	out := filepath.Join(dir, name)
	mediatest.Command(t, "ffmpeg", append(append([]string{"-nostdin", "-v", "error", "-y"}, args...), out)...)
	return out
}

// speech writes text spoken by espeak-ng to dir/name.wav (22,050 Hz) and returns its path.
func speech(t testing.TB, dir, name, text string) string {
	t.Helper()
	mediatest.NeedTools(t, "espeak-ng")
	out := filepath.Join(dir, name+".wav")
	mediatest.Command(t, "espeak-ng", "-w", out, text)
	return out
}

// fixtures are the inputs of the tool tests.
type fixtures struct {
	sine, video, talk, tone, text, truncated, cutShort, playlist string
}

var (
	fixturesOnce sync.Once
	fixturesDir  string
	shared       fixtures
)

// TestMain removes the shared fixtures.
func TestMain(m *testing.M) {
	code := m.Run()
	if fixturesDir != "" {
		os.RemoveAll(fixturesDir)
	}
	os.Exit(code)
}

// makeFixtures returns the fixtures, made once for the package's tests.
func makeFixtures(t *testing.T) fixtures {
	t.Helper()
	mediatest.NeedTools(t, "ffmpeg", "espeak-ng")
	fixturesOnce.Do(func() {
		var err error
		if fixturesDir, err = os.MkdirTemp("", "ffmpeg-fixtures-"); err != nil {
			t.Fatal(err)
		}
		shared = buildFixtures(t, fixturesDir)
	})
	if shared.sine == "" {
		t.Fatal("making the fixtures failed")
	}
	return shared
}

func buildFixtures(t *testing.T, dir string) fixtures {
	f := fixtures{
		sine:  gen(t, dir, "sine.wav", "-f", "lavfi", "-i", "sine=frequency=440:duration=3"),
		video: gen(t, dir, "video.mp4", "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=10", "-pix_fmt", "yuv420p"),
		// 1 s silence, 1 s tone, 1 s silence, 1 s tone, 1 s silence (at 16 kHz).
		tone: gen(t, dir, "tone.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
			"-filter_complex", "[0]atrim=0:1[s0];[1]atrim=0:1[t0];[0]atrim=0:1[s1];[1]atrim=0:1[t1];[0]atrim=0:1[s2];[s0][t0][s1][t1][s2]concat=n=5:v=0:a=1"),
	}
	words := speech(t, dir, "words", "Hello world. This is a test of the transcription system.")
	f.talk = gen(t, dir, "talk.mp4", "-f", "lavfi", "-i", "testsrc=duration=4:size=320x240:rate=10", "-i", words,
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-metadata", "title=A talk")
	faststart := gen(t, dir, "faststart.mp4", "-f", "lavfi", "-i", "testsrc=duration=4:size=320x240:rate=10", "-i", words,
		"-t", "3.5", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart")
	f.text = filepath.Join(dir, "notes.mp4")
	os.WriteFile(f.text, []byte("These are notes, not a video.\n"), 0o600)
	// moov at the end: cut, the file has no index; with faststart, the index survives and
	// the media data ends early.
	f.truncated = cut(t, f.talk, dir, "truncated.mp4")
	f.cutShort = cut(t, faststart, dir, "cutshort.mp4")
	// An HLS playlist named .mp4 that would read another local file.
	f.playlist = filepath.Join(dir, "playlist.mp4")
	os.WriteFile(f.playlist, []byte("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:3.0,\nfile://"+f.sine+"\n#EXT-X-ENDLIST\n"), 0o600)
	return f
}

// cut writes the first 60 % of src's bytes to dir/name.
func cut(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	os.WriteFile(out, b[:len(b)*6/10], 0o600)
	return out
}

func TestProbe(t *testing.T) {
	av := newAV(t, Config{})
	f := makeFixtures(t)
	t.Run("audio", func(t *testing.T) {
		info, err := av.Probe(t.Context(), f.sine)
		if err != nil {
			t.Fatal(err)
		}
		if info.Duration != 3*time.Second || info.Format != "wav" || !info.HasAudio || info.HasVideo || len(info.Streams) != 1 {
			t.Fatalf("%+v", info)
		}
		if s := info.Streams[0]; s.Type != "audio" || s.Codec != "pcm_s16le" || s.SampleRate != 44100 || s.Channels != 1 {
			t.Errorf("%+v", s)
		}
	})
	t.Run("video without audio", func(t *testing.T) {
		info, err := av.Probe(t.Context(), f.video)
		if err != nil {
			t.Fatal(err)
		}
		if info.Duration != 2*time.Second || info.HasAudio || !info.HasVideo || len(info.Streams) != 1 {
			t.Fatalf("%+v", info)
		}
		if s := info.Streams[0]; s.Type != "video" || s.Codec != "h264" || s.Width != 320 || s.Height != 240 {
			t.Errorf("%+v", s)
		}
	})
	t.Run("spoken mp4", func(t *testing.T) {
		info, err := av.Probe(t.Context(), f.talk)
		if err != nil {
			t.Fatal(err)
		}
		if info.Duration != 4*time.Second || !strings.Contains(info.Format, "mp4") || !info.HasAudio || !info.HasVideo || len(info.Streams) != 2 {
			t.Fatalf("%+v", info)
		}
		if a := info.Streams[1]; a.Type != "audio" || a.Codec != "aac" || a.SampleRate != 22050 || a.Channels != 1 {
			t.Errorf("%+v", a)
		}
		if info.Tags["title"] != "A talk" {
			t.Errorf("tags %v", info.Tags)
		}
	})
	t.Run("truncated with its index", func(t *testing.T) {
		info, err := av.Probe(t.Context(), f.cutShort)
		if err != nil || info.Duration != 3500*time.Millisecond || !info.HasAudio {
			t.Errorf("%+v, %v", info, err)
		}
	})
	for name, path := range map[string]string{"text named .mp4": f.text, "truncated": f.truncated, "HLS playlist": f.playlist,
		"missing": filepath.Join(t.TempDir(), "none.mp4"), "empty name": ""} {
		t.Run(name, func(t *testing.T) {
			_, err := av.Probe(t.Context(), path)
			wantDetail(t, err, media.ErrInvalid, "")
		})
	}
	t.Run("longer than MaxDuration", func(t *testing.T) {
		_, err := newAV(t, Config{MaxDuration: 2 * time.Second}).Probe(t.Context(), f.sine)
		wantDetail(t, err, media.ErrTooLarge, "longer than")
	})
}

// wantDetail fails unless err wraps kind and carries a client detail containing sub.
func wantDetail(t *testing.T, err, kind error, sub string) {
	t.Helper()
	var d interface{ ClientDetail() string }
	if !errors.Is(err, kind) || !errors.As(err, &d) || !strings.Contains(d.ClientDetail(), sub) {
		t.Fatalf("err = %v, want %v with a client detail containing %q", err, kind, sub)
	}
	if strings.Contains(d.ClientDetail(), os.TempDir()) {
		t.Errorf("the client detail shows a path: %q", d.ClientDetail())
	}
}

func TestDecode(t *testing.T) {
	av := newAV(t, Config{})
	f := makeFixtures(t)
	dst := filepath.Join(t.TempDir(), "out.wav")
	decode := func(t *testing.T, path string, o media.DecodeOptions) media.PCM {
		t.Helper()
		if err := av.Decode(t.Context(), path, dst, o); err != nil {
			t.Fatal(err)
		}
		pcm, err := media.ReadWAVFile(dst, 0) // checks 16 kHz mono s16le
		if err != nil {
			t.Fatal(err)
		}
		return pcm
	}
	t.Run("whole", func(t *testing.T) {
		if pcm := decode(t, f.sine, media.DecodeOptions{}); len(pcm) != 3*media.SampleRate || rms(pcm) < 1000 {
			t.Errorf("%d samples, rms %.0f", len(pcm), rms(pcm))
		}
	})
	t.Run("window is exact", func(t *testing.T) {
		// The second tone of tone.wav is from 3 s to 4 s.
		pcm := decode(t, f.tone, media.DecodeOptions{Start: 3 * time.Second, End: 4 * time.Second})
		if len(pcm) != media.SampleRate {
			t.Fatalf("%d samples, want %d", len(pcm), media.SampleRate)
		}
		for _, part := range []media.PCM{pcm[:800], pcm[len(pcm)-800:]} { // its first and last 50 ms
			if rms(part) < 1000 {
				t.Errorf("rms %.0f at an edge of the window: the cut is not where asked", rms(part))
			}
		}
		if pcm := decode(t, f.tone, media.DecodeOptions{Start: 2050 * time.Millisecond, End: 2950 * time.Millisecond}); rms(pcm) > 10 {
			t.Errorf("rms %.0f in the silence between the tones", rms(pcm))
		}
	})
	t.Run("end past the end", func(t *testing.T) {
		if pcm := decode(t, f.sine, media.DecodeOptions{Start: 2 * time.Second, End: time.Hour}); len(pcm) != media.SampleRate {
			t.Errorf("%d samples", len(pcm))
		}
	})
	t.Run("spoken mp4", func(t *testing.T) {
		if pcm := decode(t, f.talk, media.DecodeOptions{}); pcm.Duration() < 3*time.Second || rms(pcm) < 100 {
			t.Errorf("%v, rms %.0f", pcm.Duration(), rms(pcm))
		}
	})
	t.Run("relative path starting with a dash", func(t *testing.T) {
		dir := t.TempDir()
		os.Link(f.sine, filepath.Join(dir, "-i.wav"))
		t.Chdir(dir)
		if err := av.Decode(t.Context(), "-i.wav", "-o.wav", media.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
		if pcm, err := media.ReadWAVFile(filepath.Join(dir, "-o.wav"), 0); err != nil || len(pcm) != 3*media.SampleRate {
			t.Errorf("%d samples, %v", len(pcm), err)
		}
	})
	for _, c := range []struct {
		name, path string
		o          media.DecodeOptions
		kind       error
		detail     string
	}{
		{"video without audio", f.video, media.DecodeOptions{}, media.ErrInvalid, "no audio stream"},
		{"start past the end", f.sine, media.DecodeOptions{Start: 5 * time.Second}, media.ErrInvalid, "past the end"},
		{"end before start", f.sine, media.DecodeOptions{Start: 2 * time.Second, End: time.Second}, media.ErrInvalid, "start_time must be before end_time"},
		{"negative start", f.sine, media.DecodeOptions{Start: -time.Second}, media.ErrInvalid, "negative"},
		{"text named .mp4", f.text, media.DecodeOptions{}, media.ErrInvalid, "not audio or video"},
		{"truncated", f.truncated, media.DecodeOptions{}, media.ErrInvalid, "not audio or video"},
		{"truncated with its index", f.cutShort, media.DecodeOptions{}, media.ErrInvalid, "truncated"},
		{"HLS playlist", f.playlist, media.DecodeOptions{}, media.ErrInvalid, "not one of the audio and video containers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.WriteFile(dst, []byte("old"), 0o600)
			wantDetail(t, av.Decode(t.Context(), c.path, dst, c.o), c.kind, c.detail)
			if _, err := os.Stat(dst); err == nil && c.detail == "truncated" {
				t.Error("a failed decode left its output")
			}
		})
	}
	t.Run("longer than MaxDuration", func(t *testing.T) {
		err := newAV(t, Config{MaxDuration: time.Second}).Decode(t.Context(), f.sine, dst, media.DecodeOptions{})
		wantDetail(t, err, media.ErrTooLarge, "")
	})
}

// TestDecodeCancel: cancelling mid-decode returns ctx's error, and leaves no ffmpeg
// running, no output and no temporary directory.
func TestDecodeCancel(t *testing.T) {
	av := newAV(t, Config{})
	dir := t.TempDir()
	// An hour of 8 kHz audio takes ffmpeg about a second to resample.
	long := gen(t, dir, "long.wav", "-f", "lavfi", "-i", "sine=duration=3600:sample_rate=8000", "-c:a", "pcm_u8")
	dst := filepath.Join(dir, "out.wav")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- av.Decode(ctx, long, dst, media.DecodeOptions{}) }()
	deadline := time.Now().Add(30 * time.Second)
	for { // poll until ffmpeg (not only ffprobe) runs: it has made dst
		if _, err := os.Stat(dst); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ffmpeg did not start")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if running(long) {
		t.Error("ffmpeg still runs after Decode returned")
	}
	if _, err := os.Stat(dst); err == nil {
		t.Error("a cancelled decode left its output")
	}
}

// running reports whether a process has arg in its command line.
func running(arg string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(arg)) {
			return true
		}
	}
	return false
}

func TestThumbnail(t *testing.T) {
	av := newAV(t, Config{})
	f := makeFixtures(t)
	dir := t.TempDir()
	wide := gen(t, dir, "wide.mkv", "-f", "lavfi", "-i", "testsrc=duration=3:size=1280x720:rate=10", "-pix_fmt", "yuv420p")
	for _, c := range []struct {
		name, path string
		at         time.Duration
		w, h       int
	}{
		{"video", f.video, time.Second, 320, 240},
		{"past the end", f.video, time.Hour, 320, 240},
		{"spoken mp4", f.talk, 2 * time.Second, 320, 240},
		{"scaled down", wide, 0, 640, 360},
	} {
		t.Run(c.name, func(t *testing.T) {
			img, err := av.Thumbnail(t.Context(), c.path, c.at)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(img))
			if err != nil || cfg.Width != c.w || cfg.Height != c.h {
				t.Errorf("%dx%d, %v; want a %dx%d JPEG", cfg.Width, cfg.Height, err, c.w, c.h)
			}
		})
	}
	t.Run("at is honoured", func(t *testing.T) {
		// testsrc draws a counter that changes every second.
		a, err1 := av.Thumbnail(t.Context(), wide, 0)
		b, err2 := av.Thumbnail(t.Context(), wide, 1500*time.Millisecond)
		if err1 != nil || err2 != nil || bytes.Equal(a, b) {
			t.Errorf("the frames at 0 and 1.5 s are the same (%v, %v)", err1, err2)
		}
	})
	t.Run("audio only", func(t *testing.T) {
		_, err := av.Thumbnail(t.Context(), f.sine, 0)
		wantDetail(t, err, media.ErrInvalid, "no video stream")
	})
	t.Run("text named .mp4", func(t *testing.T) {
		_, err := av.Thumbnail(t.Context(), f.text, 0)
		wantDetail(t, err, media.ErrInvalid, "")
	})
}

func TestSilences(t *testing.T) {
	av := newAV(t, Config{})
	f := makeFixtures(t)
	got, err := av.Silences(t.Context(), f.tone, media.SilenceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := time.Second
	want := []media.Interval{{Start: 0, End: s}, {Start: 2 * s, End: 3 * s}, {Start: 4 * s, End: 5 * s}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if d := got[i].Start - want[i].Start; d < -20*time.Millisecond || d > 20*time.Millisecond {
			t.Errorf("silence %d: %v, want %v", i, got[i], want[i])
		}
		if d := got[i].End - want[i].End; d < -20*time.Millisecond || d > 20*time.Millisecond {
			t.Errorf("silence %d: %v, want %v", i, got[i], want[i])
		}
	}
	// Only silences of 1.5 s or more: none in tone.wav.
	if got, err := av.Silences(t.Context(), f.tone, media.SilenceOptions{MinDuration: 1500 * time.Millisecond}); err != nil || len(got) != 0 {
		t.Errorf("MinDuration 1.5 s: %v, %v", got, err)
	}
	// A tone at -48 dBFS (sine's -18 less 30) over a -60 dB threshold is not silence.
	quiet := gen(t, t.TempDir(), "quiet.wav", "-f", "lavfi", "-i", "sine=duration=2", "-af", "volume=-30dB")
	if got, err := av.Silences(t.Context(), quiet, media.SilenceOptions{NoiseDB: -60}); err != nil || len(got) != 0 {
		t.Errorf("NoiseDB -60: %v, %v", got, err)
	}
	if got, err := av.Silences(t.Context(), quiet, media.SilenceOptions{}); err != nil || len(got) != 1 || got[0].End != 2*s {
		t.Errorf("NoiseDB -35: %v, %v", got, err)
	}
	for name, o := range map[string]media.SilenceOptions{"positive dB": {NoiseDB: 3}, "negative duration": {MinDuration: -s}} {
		if _, err := av.Silences(t.Context(), f.tone, o); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	_, err = av.Silences(t.Context(), f.video, media.SilenceOptions{})
	wantDetail(t, err, media.ErrInvalid, "no audio stream")
	_, err = av.Silences(t.Context(), f.text, media.SilenceOptions{})
	wantDetail(t, err, media.ErrInvalid, "")
}

// TestMissingProgram: without ffmpeg, New names the package.
func TestMissingProgram(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, c := range []Config{{}, {FFmpeg: "/nonexistent/ffmpeg"}} {
		if _, err := New(c); !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), "package ffmpeg") {
			t.Errorf("New(%+v) = %v", c, err)
		}
	}
}

func TestCancelled(t *testing.T) {
	av := newAV(t, Config{})
	f := makeFixtures(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := av.Probe(ctx, f.sine); !errors.Is(err, context.Canceled) {
		t.Errorf("Probe: %v", err)
	}
	if err := av.Decode(ctx, f.sine, filepath.Join(t.TempDir(), "x.wav"), media.DecodeOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Decode: %v", err)
	}
}

func rms(p media.PCM) float64 {
	var s float64
	for _, v := range p {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(max(len(p), 1)))
}
