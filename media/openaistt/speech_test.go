package openaistt

import (
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tldw-go/tldw/media"
)

// speech makes a WAV of espeak-ng's voice reading text, decoded by ffmpeg to 16 kHz mono.
// It skips without the tools, or fails when TLDW_REQUIRE_TOOLS=1.
func speech(t *testing.T, text string) media.Audio {
	for _, tool := range []string{"espeak-ng", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
				t.Fatalf("%s not installed and TLDW_REQUIRE_TOOLS=1", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	raw, wav := filepath.Join(dir, "voice.wav"), filepath.Join(dir, "speech.wav")
	for _, cmd := range [][]string{{"espeak-ng", "-w", raw, text},
		{"ffmpeg", "-loglevel", "error", "-y", "-i", raw, "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", wav}} {
		if out, err := exec.CommandContext(t.Context(), cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", cmd[0], err, out)
		}
	}
	p, err := media.ReadWAVFile(wav, 0)
	if err != nil {
		t.Fatal(err)
	}
	return media.Audio{Path: wav, Duration: p.Duration()}
}

// On real speech (ffmpeg's WAV, with its LIST chunk) the cuts land between words: the
// 50 ms around each is far quieter than the speech.
func TestSplitSpeechBetweenWords(t *testing.T) {
	a := speech(t, "The beach was a popular spot on a hot summer day. People were swimming in the ocean, "+
		"building sandcastles, and playing beach volleyball. Children ran along the shore while their "+
		"parents watched from under colourful umbrellas. In the afternoon the wind picked up and the "+
		"waves grew taller, so the lifeguards raised a yellow flag.")
	p, err := media.ReadWAVFile(a.Path, 0)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 200 << 10 // about 6.4 s a piece
	pieces, err := plan(a, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(pieces) < 2 {
		t.Fatalf("%d pieces of %v of speech", len(pieces), a.Duration)
	}
	rms := func(q media.PCM) float64 {
		var s float64
		for _, v := range q {
			s += float64(v) * float64(v)
		}
		return math.Sqrt(s / float64(len(q)))
	}
	overall, at := rms(p), 0
	for i, pc := range pieces {
		if wavHeaderSize+2*pc.n > limit || pc.offset != samples(int64(at)) {
			t.Errorf("piece %d: %d samples at %v", i, pc.n, pc.offset)
		}
		// The piece as sent is the file's samples.
		r, n, err := pc.open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAllPCM(r, n)
		r.Close()
		if err != nil || len(got) != int(pc.n) || (len(got) > 0 && got[len(got)/2] != p[at+len(got)/2]) {
			t.Errorf("piece %d as sent: %d samples, %v", i, len(got), err)
		}
		if at > 0 {
			if q := rms(p[at-cutWindow/2 : at+cutWindow/2]); q > overall/10 {
				t.Errorf("cut %d at %v: RMS %.0f around it, the speech's is %.0f", i, pc.offset, q, overall)
			}
		}
		at += int(pc.n)
	}
	if at != len(p) {
		t.Errorf("the pieces hold %d samples of %d", at, len(p))
	}
}

func readAllPCM(r io.Reader, n int64) (media.PCM, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return parseWAV(b)
}
