package media_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

func sampleTranscript() *media.Transcript {
	return &media.Transcript{Text: "hello there general kenobi", Language: "en", Segments: []media.Segment{
		{Start: 0, End: 1500 * time.Millisecond, Text: "hello there"},
		{Start: 1500 * time.Millisecond, End: time.Hour + 2*time.Minute + 3*time.Second + 45*time.Millisecond, Text: " general\n\nkenobi --> "},
	}}
}

func TestFormatTranscript(t *testing.T) {
	tr := sampleTranscript()
	for _, tc := range []struct {
		format, ctype, want string
	}{
		{"json", "application/json", `{"text":"hello there general kenobi"}` + "\n"},
		{"text", "text/plain; charset=utf-8", "hello there general kenobi\n"},
		{"srt", "text/plain; charset=utf-8", "1\n00:00:00,000 --> 00:00:01,500\nhello there\n\n2\n00:00:01,500 --> 01:02:03,045\ngeneral\nkenobi ->\n\n"},
		{"vtt", "text/plain; charset=utf-8", "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nhello there\n\n00:00:01.500 --> 01:02:03.045\ngeneral\nkenobi ->\n\n"},
	} {
		body, ct, err := media.FormatTranscript(tr, 2*time.Second, tc.format)
		if err != nil || ct != tc.ctype || string(body) != tc.want {
			t.Errorf("%s = %q %q %v, want %q %q", tc.format, body, ct, err, tc.want, tc.ctype)
		}
	}
	if _, _, err := media.FormatTranscript(tr, 0, "xml"); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("unknown format: %v", err)
	}
}

func TestFormatVerboseJSON(t *testing.T) {
	body, ct, err := media.FormatTranscript(sampleTranscript(), 3723045*time.Millisecond, "verbose_json")
	if err != nil || ct != "application/json" {
		t.Fatal(ct, err)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if v["task"] != "transcribe" || v["language"] != "en" || v["duration"] != 3723.045 || v["text"] != "hello there general kenobi" {
		t.Errorf("verbose = %s", body)
	}
	segs := v["segments"].([]any)
	if len(segs) != 2 {
		t.Fatalf("segments = %v", segs)
	}
	s := segs[1].(map[string]any)
	for _, k := range []string{"id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio", "no_speech_prob"} {
		if _, ok := s[k]; !ok {
			t.Errorf("segment lacks %s: %v", k, s)
		}
	}
	if s["id"] != 1.0 || s["start"] != 1.5 || s["end"] != 3723.045 || s["seek"] != 150.0 {
		t.Errorf("segment 1 = %v", s)
	}
	if toks, ok := s["tokens"].([]any); !ok || len(toks) != 0 {
		t.Errorf("tokens = %v, want []", s["tokens"])
	}
}

func TestSubtitlesWithoutSegments(t *testing.T) {
	tr := &media.Transcript{Text: "just text"}
	if got := media.SRT(tr); got != "1\n00:00:00,000 --> 00:00:00,000\njust text\n\n" {
		t.Errorf("srt = %q", got)
	}
	if got := media.WebVTT(&media.Transcript{}); got != "WEBVTT\n\n" {
		t.Errorf("empty vtt = %q", got)
	}
	if !strings.Contains(string(must(media.FormatTranscript(&media.Transcript{}, 0, "verbose_json"))), `"segments":[]`) {
		t.Error("verbose_json of an empty transcript lacks segments: []")
	}
}

func must(b []byte, _ string, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
