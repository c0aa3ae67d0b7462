package mediatest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

// TestTranscriber is the conformance suite of media.Transcriber; every adapter
// (pocketsphinx, whisper.cpp, the OpenAI-compatible client against its test server) runs
// it. speech is a WAV file (media.SampleRate Hz mono s16le, as media.AV's Decode writes)
// of someone saying words, say espeak-ng's voice decoded to 16 kHz. The suite checks:
//
//   - the transcript of speech has text, containing at least one of words (case and
//     punctuation aside; a floor weak transcribers pass: adapters that hear well should
//     also check their word error rate with WER);
//   - its segments are in order, do not overlap, lie within [0, Duration+0.5s], each has
//     text, and Text contains the segments' texts in order;
//   - two transcriptions at once both succeed (safe for concurrent use);
//   - an already cancelled context gives an error matching context.Canceled, promptly;
//   - a file that is not a WAV (random bytes, text) gives an error wrapping media.ErrInvalid;
//   - three seconds of digital silence give no error and at most a few words.
//
// The suite makes its other inputs itself (in Go, no tools), passes zero
// TranscribeOptions, and runs each check as a subtest.
func TestTranscriber(t *testing.T, tr media.Transcriber, speech media.Audio, words []string) {
	t.Helper()
	if speech.Path == "" || speech.Duration <= 0 {
		t.Fatal("TestTranscriber needs speech with a path and a duration")
	}
	t.Run("Speech", func(t *testing.T) {
		got, err := tr.Transcribe(t.Context(), speech, media.TranscribeOptions{})
		if err != nil {
			t.Fatalf("Transcribe: %v", err)
		}
		checkTranscript(t, got, speech.Duration)
		if strings.TrimSpace(got.Text) == "" {
			t.Fatal("empty text")
		}
		if len(words) > 0 && !containsAny(got.Text, words) {
			t.Errorf("text %q has none of the words %v", got.Text, words)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		var errs [2]error
		var texts [2]string
		for i := range 2 {
			wg.Go(func() {
				got, err := tr.Transcribe(t.Context(), speech, media.TranscribeOptions{})
				if errs[i] = err; err == nil {
					texts[i] = got.Text
				}
			})
		}
		wg.Wait()
		for i := range 2 {
			if errs[i] != nil || strings.TrimSpace(texts[i]) == "" {
				t.Errorf("transcription %d at once: %q, %v", i, texts[i], errs[i])
			}
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		done := make(chan error, 1)
		go func() {
			_, err := tr.Transcribe(ctx, speech, media.TranscribeOptions{})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		case <-time.After(30 * time.Second): // a hang, not a slow machine
			t.Fatal("Transcribe with a cancelled context did not return")
		}
	})
	for name, data := range map[string][]byte{
		"Garbage": pseudoRandom(64 << 10),
		"Text":    []byte("This is a text file, not a WAV file.\n"),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audio.wav")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := tr.Transcribe(t.Context(), media.Audio{Path: path, Duration: time.Second}, media.TranscribeOptions{})
			if !errors.Is(err, media.ErrInvalid) {
				t.Errorf("err = %v, want media.ErrInvalid", err)
			}
		})
	}
	t.Run("Silence", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "silence.wav")
		if err := media.WriteWAVFile(path, make(media.PCM, 3*media.SampleRate)); err != nil {
			t.Fatal(err)
		}
		got, err := tr.Transcribe(t.Context(), media.Audio{Path: path, Duration: 3 * time.Second}, media.TranscribeOptions{})
		if err != nil {
			t.Fatalf("Transcribe: %v", err)
		}
		checkTranscript(t, got, 3*time.Second)
		if n := len(strings.Fields(got.Text)); n > 3 {
			t.Errorf("silence gave %d words: %q", n, got.Text)
		}
	})
}

// checkTranscript checks the segments of a transcript of audio lasting d.
func checkTranscript(t *testing.T, got *media.Transcript, d time.Duration) {
	t.Helper()
	if got == nil {
		t.Fatal("nil transcript")
	}
	rest := got.Text
	for i, s := range got.Segments {
		if s.Start < 0 || s.End < s.Start || s.End > d+500*time.Millisecond {
			t.Errorf("segment %d [%v, %v] is not inside [0, %v]", i, s.Start, s.End, d+500*time.Millisecond)
		}
		if i > 0 && s.Start < got.Segments[i-1].End {
			t.Errorf("segment %d starts at %v, before segment %d ends (%v)", i, s.Start, i-1, got.Segments[i-1].End)
		}
		text := strings.TrimSpace(s.Text)
		if text == "" {
			t.Errorf("segment %d has no text", i)
			continue
		}
		j := strings.Index(rest, text)
		if j < 0 {
			t.Errorf("Text %q does not contain segment %d's %q in order", got.Text, i, text)
			continue
		}
		rest = rest[j+len(text):]
	}
}

// containsAny reports whether text has one of words as a word (case and punctuation
// aside).
func containsAny(text string, words []string) bool {
	norm := func(s string) string {
		return strings.Trim(strings.ToLower(s), ".,;:!?\"'()")
	}
	have := map[string]bool{}
	for _, w := range strings.Fields(text) {
		have[norm(w)] = true
	}
	for _, w := range words {
		if have[norm(w)] {
			return true
		}
	}
	return false
}

// pseudoRandom returns n bytes of a fixed pseudo-random sequence (xorshift), so a failure
// reproduces.
func pseudoRandom(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
