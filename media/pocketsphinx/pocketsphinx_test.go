package pocketsphinx

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/ffmpeg"
	"github.com/tldw-go/tldw/media/mediatest"
)

// output is pocketsphinx_continuous -time yes output of two utterances (the second's
// times are from the start of the file, as 0.8 prints them) and an empty one.
const output = `we are evil soda
<s> 0.000 0.220 0.999400
we 0.230 0.350 0.230739
<sil> 0.360 0.510 0.849320
are 0.520 0.680 0.517484
[NOISE] 0.690 0.900 0.012957
evil 0.910 1.400 0.999800
<sil> 1.410 1.830 0.013712
soda(2) 1.840 2.220 0.009771
</s> 2.450 2.940 1.000000
the quick
<s> 5.700 5.800 0.999600
the 5.810 5.960 0.431841
quick 5.970 6.230 1.000400

<s> 9.000 9.100 0.999900
</s> 9.110 9.630 1.000000
`

func TestParseWords(t *testing.T) {
	got := parseWords(output)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	want := []word{
		{"we", ms(230), ms(350), true}, {"are", ms(520), ms(680), false}, {"evil", ms(910), ms(1400), false},
		{"soda", ms(1840), ms(2220), false}, {"the", ms(5810), ms(5960), true}, {"quick", ms(5970), ms(6230), false},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if w := parseWords(""); len(w) != 0 {
		t.Errorf("no output: %v", w)
	}
}

func TestSegments(t *testing.T) {
	s := time.Second
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	t.Run("pauses and utterances", func(t *testing.T) {
		got := segments(parseWords(output), 0)
		want := []media.Segment{
			{Start: ms(230), End: ms(1400), Text: "we are evil"}, // the gaps up to 0.23 s do not split
			{Start: ms(1840), End: ms(2220), Text: "soda"},       // the 0.44 s one does
			{Start: ms(5810), End: ms(6230), Text: "the quick"},
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %v\nwant %v", got, want)
		}
	})
	t.Run("at most MaxSegment", func(t *testing.T) {
		var words []word
		for i := range 25 { // a word a second, without pauses
			words = append(words, word{text: "w", start: time.Duration(i) * s, end: time.Duration(i+1)*s - ms(100)})
		}
		got := segments(words, 0)
		if len(got) != 3 || got[0].End-got[0].Start > MaxSegment || got[1].Start != 10*s || got[2].End != 25*s-ms(100) {
			t.Errorf("%v", got)
		}
		if n := len(strings.Fields(got[0].Text)); n != 10 {
			t.Errorf("first segment has %d words", n)
		}
	})
	t.Run("in order and inside the duration", func(t *testing.T) {
		got := segments([]word{{text: "a", start: s, end: 2 * s}, {text: "b", start: ms(1500), end: ms(1800), first: true},
			{text: "c", start: 3 * s, end: 5 * s, first: true}}, 4*s)
		want := []media.Segment{{Start: s, End: 2 * s, Text: "a"}, {Start: 2 * s, End: 2 * s, Text: "b"}, {Start: 3 * s, End: 4 * s, Text: "c"}}
		if !slices.Equal(got, want) {
			t.Errorf("got %v\nwant %v", got, want)
		}
	})
}

func TestEnglish(t *testing.T) {
	for _, l := range []string{"", "en", "EN", "en-US", "en_GB", "english", "eng"} {
		if !english(l) {
			t.Errorf("english(%q) = false", l)
		}
	}
	for _, l := range []string{"fr", "de-DE", "zh", "auto", "e"} {
		if english(l) {
			t.Errorf("english(%q) = true", l)
		}
	}
}

func newTranscriber(t testing.TB, c Config) *Transcriber {
	t.Helper()
	mediatest.NeedTools(t, "pocketsphinx_continuous")
	if c.TempRoot == "" {
		c.TempRoot = t.TempDir()
		t.Cleanup(func() {
			if left, _ := os.ReadDir(c.TempRoot); len(left) > 0 {
				t.Errorf("temporary directories left behind: %v", left)
			}
		})
	}
	tr, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// voice is the espeak-ng voice pocketsphinx hears best (of the few tried).
var voice = []string{"-v", "en-us+m3", "-s", "140"}

// sentence is short speech for the conformance suite, and the words pocketsphinx may
// get right.
const sentence = "Hello world. This is a test. One two three four five."

var sentenceWords = strings.Fields("hello world this is a test one two three four five")

// talk is about 20 seconds of speech in four sentences with two-second pauses (SSML
// breaks).
const talk = `<speak>Hello world, this is a test of the transcription system. <break time="2s"/>
The quick brown fox jumps over the lazy dog. <break time="2s"/>
Every morning the baker opened his shop before the sun rose. <break time="2s"/>
One two three four five, the children walked to school.</speak>`

// fixture is a spoken file: the espeak-ng WAV (22,050 Hz), the same in an MP4 with a test
// pattern video, and its 16 kHz WAV decoded by media/ffmpeg.
type fixture struct {
	espeak, mp4 string
	audio       media.Audio
}

var (
	fixtureMu  sync.Mutex
	fixtureDir string
	fixtures   = map[string]fixture{}
)

// TestMain removes the fixtures.
func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// spoken returns the fixture of text (SSML when ssml), made once per test binary.
func spoken(tb testing.TB, name, text string, ssml bool) fixture {
	tb.Helper()
	mediatest.NeedTools(tb, "espeak-ng", "ffmpeg", "ffprobe")
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if f, ok := fixtures[name]; ok {
		return f
	}
	if fixtureDir == "" {
		var err error
		if fixtureDir, err = os.MkdirTemp("", "pocketsphinx-fixtures-"); err != nil {
			tb.Fatal(err)
		}
	}
	f := fixture{espeak: filepath.Join(fixtureDir, name+".espeak.wav"), mp4: filepath.Join(fixtureDir, name+".mp4")}
	args := append(slices.Clone(voice), "-w", f.espeak)
	if ssml {
		args = append(args, "-m")
	}
	mediatest.Command(tb, "espeak-ng", append(args, text)...)
	mediatest.Command(tb, "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-i", f.espeak,
		"-shortest", "-pix_fmt", "yuv420p", "-c:a", "aac", f.mp4)
	av, err := ffmpeg.New(ffmpeg.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	f.audio.Path = filepath.Join(fixtureDir, name+".wav")
	if err := av.Decode(context.Background(), f.espeak, f.audio.Path, media.DecodeOptions{}); err != nil {
		tb.Fatal(err)
	}
	pcm, err := media.ReadWAVFile(f.audio.Path, 0)
	if err != nil {
		tb.Fatal(err)
	}
	f.audio.Duration = pcm.Duration()
	fixtures[name] = f
	return f
}

func TestConformance(t *testing.T) {
	tr := newTranscriber(t, Config{})
	f := spoken(t, "sentence", sentence, false)
	mediatest.TestTranscriber(t, tr, f.audio, sentenceWords)
}

// TestTimesFromFileStart: in a file of several utterances, each segment lies in speech
// (not in the pauses ffmpeg's silencedetect finds), and every stretch of speech has one —
// so the times of later utterances are from the start of the file, not of the utterance.
func TestTimesFromFileStart(t *testing.T) {
	tr := newTranscriber(t, Config{})
	f := spoken(t, "talk", talk, true)
	av, err := ffmpeg.New(ffmpeg.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pauses, err := av.Silences(t.Context(), f.audio.Path, media.SilenceOptions{MinDuration: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(pauses) != 3 {
		t.Fatalf("silencedetect found %v, want the 3 breaks", pauses)
	}
	got, err := tr.Transcribe(t.Context(), f.audio, media.TranscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%.1fs: %q", f.audio.Duration.Seconds(), got.Text)
	for _, s := range got.Segments {
		for _, p := range pauses {
			if mid := (s.Start + s.End) / 2; mid > p.Start+Pause && mid < p.End-Pause {
				t.Errorf("segment %v %q is in the pause %v", s, s.Text, p)
			}
		}
	}
	speech := []media.Interval{{Start: 0, End: pauses[0].Start}}
	for i, p := range pauses {
		end := f.audio.Duration
		if i+1 < len(pauses) {
			end = pauses[i+1].Start
		}
		speech = append(speech, media.Interval{Start: p.End, End: end})
	}
	for _, sp := range speech {
		if !slices.ContainsFunc(got.Segments, func(s media.Segment) bool { return s.Start < sp.End && s.End > sp.Start }) {
			t.Errorf("no segment in the speech %v: %v", sp, got.Segments)
		}
	}
}

// TestCancelMidRun: cancelling while pocketsphinx runs returns ctx's error and leaves no
// process and no temporary directory (newTranscriber checks).
func TestCancelMidRun(t *testing.T) {
	tr := newTranscriber(t, Config{})
	f := spoken(t, "talk", talk, true)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := tr.Transcribe(ctx, f.audio, media.TranscribeOptions{})
		done <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); !running(f.audio.Path); {
		if time.Now().After(deadline) {
			t.Fatal("pocketsphinx did not start")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if running(f.audio.Path) {
		t.Error("pocketsphinx still runs after Transcribe returned")
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

func TestOptions(t *testing.T) {
	tr := newTranscriber(t, Config{})
	f := spoken(t, "sentence", sentence, false)
	_, err := tr.Transcribe(t.Context(), f.audio, media.TranscribeOptions{Language: "fr"})
	var d interface{ ClientDetail() string }
	if !errors.Is(err, media.ErrUnsupported) || !errors.As(err, &d) || !strings.Contains(d.ClientDetail(), "English only") {
		t.Errorf("French: %v", err)
	}
	got, err := tr.Transcribe(t.Context(), f.audio, media.TranscribeOptions{Language: "en-US", Diarize: true, Model: "whisper-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Language != "en" || got.Model != Model || len(got.Warnings) != 2 {
		t.Errorf("language %q model %q warnings %q", got.Language, got.Model, got.Warnings)
	}
	// A WAV at another rate is refused before pocketsphinx runs.
	other := filepath.Join(t.TempDir(), "44k.wav")
	mediatest.Command(t, "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", other)
	if _, err := tr.Transcribe(t.Context(), media.Audio{Path: other, Duration: time.Second}, media.TranscribeOptions{}); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("44.1 kHz WAV: %v", err)
	}
}

func TestMissing(t *testing.T) {
	for name, c := range map[string]Config{"program": {Path: "/nonexistent/pocketsphinx_continuous"}, "model": {ModelDir: t.TempDir()}} {
		if name == "model" {
			mediatest.NeedTools(t, "pocketsphinx_continuous")
		}
		_, err := New(c)
		if !errors.Is(err, media.ErrUnsupported) || !strings.Contains(err.Error(), Packages) {
			t.Errorf("%s missing: %v, want ErrUnsupported naming %q", name, err, Packages)
		}
	}
}
