package openaistt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

const testKey = "sk-test-SECRET-0123456789"

// verboseDoc is a verbose_json answer in the shape OpenAI documents for
// response_format=verbose_json with timestamp_granularities[]=segment.
const verboseDoc = `{
  "task": "transcribe",
  "language": "english",
  "duration": 8.470000267028809,
  "text": "The beach was a popular spot on a hot summer day. People were swimming in the ocean.",
  "segments": [
    {
      "id": 0,
      "seek": 0,
      "start": 0.0,
      "end": 3.319999933242798,
      "text": " The beach was a popular spot on a hot summer day.",
      "tokens": [50364, 440, 7534, 390, 257, 3743, 4008, 322, 257, 2368, 4266, 786, 13, 50530],
      "temperature": 0.0,
      "avg_logprob": -0.2860786020755768,
      "compression_ratio": 1.2363636493682861,
      "no_speech_prob": 0.00985979475080967
    },
    {
      "id": 1,
      "seek": 0,
      "start": 3.319999933242798,
      "end": 8.470000267028809,
      "text": " People were swimming in the ocean.",
      "tokens": [50530, 3432, 645, 11989, 294, 264, 7810, 13, 50774],
      "temperature": 0.0,
      "avg_logprob": -0.2860786020755768,
      "compression_ratio": 1.2363636493682861,
      "no_speech_prob": 0.00985979475080967
    }
  ]
}`

func newClient(t *testing.T, srv *fakeServer, c Config) *Client {
	t.Helper()
	c.BaseURL = srv.srv.URL
	c.APIKey = testKey
	cl, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestTranscribeExactTextAndSegments(t *testing.T) {
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(verboseDoc))
	})
	c := newClient(t, srv, Config{})
	a := writeWAV(t, tones(9))
	got, err := c.Transcribe(context.Background(), a, media.TranscribeOptions{Language: "English", Prompt: "Acme, tldw"})
	if err != nil {
		t.Fatal(err)
	}
	want := &media.Transcript{
		Text:     "The beach was a popular spot on a hot summer day. People were swimming in the ocean.",
		Language: "en", Model: "whisper-1",
		Segments: []media.Segment{
			{Start: 0, End: 3320 * time.Millisecond, Text: "The beach was a popular spot on a hot summer day."},
			{Start: 3320 * time.Millisecond, End: 8470 * time.Millisecond, Text: "People were swimming in the ocean."},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("transcript\n got %+v\nwant %+v", got, want)
	}

	if srv.count() != 1 {
		t.Fatalf("%d requests, want 1", srv.count())
	}
	req := srv.requests[0]
	wantFields := map[string][]string{"model": {"whisper-1"}, "language": {"en"}, "prompt": {"Acme, tldw"},
		"response_format": {"verbose_json"}, "timestamp_granularities[]": {"segment"}}
	if !reflect.DeepEqual(req.fields, wantFields) {
		t.Errorf("fields = %v, want %v", req.fields, wantFields)
	}
	if req.fileName != "audio.wav" || req.fileType != "audio/wav" {
		t.Errorf("file part: filename %q, Content-Type %q", req.fileName, req.fileType)
	}
	file, _ := os.ReadFile(a.Path)
	if string(req.wav) != string(file) {
		t.Errorf("uploaded %d bytes, not the %d of the file", len(req.wav), len(file))
	}
	if req.auth != "Bearer "+testKey {
		t.Errorf("Authorization = %q", req.auth)
	}
}

func TestTranscribeModelOverrideAndPlainJSON(t *testing.T) {
	// A server that ignores verbose_json and answers {"text": ...}: one segment for it all.
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"text":" hello there "}`))
	})
	c := newClient(t, srv, Config{Model: "Systran/faster-whisper-small"})
	got, err := c.Transcribe(context.Background(), writeWAV(t, tones(1)), media.TranscribeOptions{Model: "large-v3", Diarize: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "hello there" || got.Model != "large-v3" || got.Language != "" ||
		len(got.Segments) != 1 || got.Segments[0] != (media.Segment{Start: 0, End: time.Second, Text: "hello there"}) {
		t.Errorf("transcript = %+v", got)
	}
	if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "diarization is not available") {
		t.Errorf("warnings = %q", got.Warnings)
	}
	if f := srv.requests[0].fields; f["model"][0] != "large-v3" || f["language"] != nil || f["prompt"] != nil {
		t.Errorf("fields = %v", f)
	}
}

func TestTranscribeRetriesAfter429(t *testing.T) {
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			writeError(w, http.StatusTooManyRequests, "Rate limit reached for whisper-1 on requests per min (RPM): Limit 50.", "requests", "rate_limit_exceeded")
			return
		}
		w.Write([]byte(verboseDoc))
	})
	c := newClient(t, srv, Config{})
	var s sleeps
	s.install(c)
	got, err := c.Transcribe(context.Background(), writeWAV(t, tones(9)), media.TranscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if srv.count() != 2 || !reflect.DeepEqual(s.d, []time.Duration{2 * time.Second}) {
		t.Errorf("%d requests, waits %v; want 2 requests and one wait of Retry-After's 2s", srv.count(), s.d)
	}
	if !strings.HasPrefix(got.Text, "The beach") || len(got.Segments) != 2 {
		t.Errorf("transcript = %+v", got)
	}
}

func TestTranscribeServerErrorsAreTransientAfterMaxAttempts(t *testing.T) {
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
		writeError(w, http.StatusInternalServerError, "The server had an error while processing your request.", "server_error", nil)
	})
	c := newClient(t, srv, Config{})
	var s sleeps
	s.install(c)
	_, err := c.Transcribe(context.Background(), writeWAV(t, tones(1)), media.TranscribeOptions{})
	if err == nil || media.Permanent(err) {
		t.Fatalf("err = %v, want a transient error", err)
	}
	if !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "gave up after 4 attempts") ||
		!strings.Contains(err.Error(), "The server had an error") {
		t.Errorf("err = %v", err)
	}
	if srv.count() != DefaultMaxAttempts || len(s.d) != DefaultMaxAttempts-1 {
		t.Fatalf("%d requests and %d waits, want %d and %d", srv.count(), len(s.d), DefaultMaxAttempts, DefaultMaxAttempts-1)
	}
	for i, d := range s.d { // exponential backoff with jitter: [base/2, base] doubling
		lo, hi := baseBackoff<<i/2, baseBackoff<<i
		if d < lo || d > hi {
			t.Errorf("wait %d = %v, want in [%v, %v]", i+1, d, lo, hi)
		}
	}
}

func TestTranscribeLongRetryAfterStops(t *testing.T) {
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
		w.Header().Set("Retry-After", "3600")
		writeError(w, http.StatusServiceUnavailable, "overloaded", "server_error", nil)
	})
	c := newClient(t, srv, Config{})
	var s sleeps
	s.install(c)
	_, err := c.Transcribe(context.Background(), writeWAV(t, tones(1)), media.TranscribeOptions{})
	if err == nil || media.Permanent(err) || !strings.Contains(err.Error(), "retry after 1h0m0s") || srv.count() != 1 || len(s.d) != 0 {
		t.Errorf("err = %v after %d requests and waits %v; want a transient error at once", err, srv.count(), s.d)
	}
}

func TestTranscribePermanentErrors(t *testing.T) {
	cases := []struct {
		status int
		msg    string
		code   any
		want   error
		text   string
	}{
		{http.StatusUnauthorized, "Incorrect API key provided: " + testKey + ". You can find your API key at https://platform.openai.com/account/api-keys.",
			"invalid_api_key", media.ErrUnsupported, "STT provider rejected the API key"},
		{http.StatusForbidden, "forbidden", nil, media.ErrUnsupported, "STT provider rejected the API key"},
		{http.StatusBadRequest, "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
			nil, media.ErrInvalid, "rejected the request (HTTP 400): Invalid file format."},
		{http.StatusUnprocessableEntity, "language: unknown", nil, media.ErrInvalid, "(HTTP 422): language: unknown"},
		{http.StatusUnsupportedMediaType, "unsupported", nil, media.ErrInvalid, "(HTTP 415)"},
		{http.StatusRequestEntityTooLarge, "Maximum content size limit (26214400) exceeded", nil, media.ErrTooLarge, "too large (HTTP 413): Maximum content size"},
		{http.StatusNotFound, "The model `whisper-9` does not exist", "model_not_found", media.ErrUnsupported, "(HTTP 404): The model `whisper-9` does not exist"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
				writeError(w, tc.status, tc.msg, "invalid_request_error", tc.code)
			})
			c := newClient(t, srv, Config{})
			var s sleeps
			s.install(c)
			_, err := c.Transcribe(context.Background(), writeWAV(t, tones(1)), media.TranscribeOptions{})
			if !errors.Is(err, tc.want) || !media.Permanent(err) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want a permanent %v saying %q", err, tc.want, tc.text)
			}
			if srv.count() != 1 || len(s.d) != 0 {
				t.Errorf("%d requests, waits %v: a permanent error must not be retried", srv.count(), s.d)
			}
			if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the error shows the API key: %v", err)
			}
		})
	}
}

func TestTranscribeInsufficientQuotaIsNotRetried(t *testing.T) {
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
		writeError(w, http.StatusTooManyRequests, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota")
	})
	c := newClient(t, srv, Config{})
	_, err := c.Transcribe(context.Background(), writeWAV(t, tones(1)), media.TranscribeOptions{})
	if err == nil || media.Permanent(err) || srv.count() != 1 || !strings.Contains(err.Error(), "out of quota") {
		t.Errorf("err = %v after %d requests", err, srv.count())
	}
}

func TestTranscribeUnreachableIsTransient(t *testing.T) {
	srv := newFakeServer(t, nil)
	c := newClient(t, srv, Config{MaxAttempts: 3})
	srv.srv.Close() // connections are refused
	var s sleeps
	s.install(c)
	_, err := c.Transcribe(context.Background(), writeWAV(t, tones(1)), media.TranscribeOptions{})
	if err == nil || media.Permanent(err) || !strings.Contains(err.Error(), "unreachable") || len(s.d) != 2 {
		t.Errorf("err = %v, waits %v; want a transient error after 3 attempts", err, s.d)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("the error shows the API key: %v", err)
	}
}

func TestTranscribeRequestTimeoutIsRetried(t *testing.T) {
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
		<-r.Context().Done() // never answers
	})
	c := newClient(t, srv, Config{MaxAttempts: 2, Timeout: 50 * time.Millisecond})
	var s sleeps
	s.install(c)
	_, err := c.Transcribe(context.Background(), writeWAV(t, tones(1)), media.TranscribeOptions{})
	if err == nil || media.Permanent(err) || len(s.d) != 1 || !strings.Contains(err.Error(), "did not answer within 50ms") {
		t.Errorf("err = %v after %d waits; want a transient error after 2 attempts", err, len(s.d))
	}
}

func TestTranscribeCancelStopsInFlightRequests(t *testing.T) {
	started, stopped := make(chan struct{}, 8), make(chan struct{}, 8)
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			stopped <- struct{}{}
		case <-time.After(10 * time.Second): // a deadline, not a wait: the test fails below
		}
	})
	c := newClient(t, srv, Config{MaxUploadBytes: 100 << 10})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Transcribe(ctx, writeWAV(t, tones(12)), media.TranscribeOptions{})
		done <- err
	}()
	for range 2 { // both pieces of the first round in flight
		<-started
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Transcribe did not return after cancel")
	}
	for range 2 {
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Fatal("an in-flight request was not cancelled")
		}
	}
	if n := srv.count(); n != 2 {
		t.Errorf("%d requests, want the 2 in flight only", n)
	}
}

func TestTranscribeSplitsLongAudioAtSilence(t *testing.T) {
	const limit = 100 << 10
	var (
		mu            sync.Mutex
		inflight, top int
	)
	both := make(chan struct{})
	var once sync.Once
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
		mu.Lock()
		inflight++
		top = max(top, inflight)
		if inflight == 2 {
			once.Do(func() { close(both) })
		}
		mu.Unlock()
		select { // hold the first requests until two are in flight
		case <-both:
		case <-time.After(5 * time.Second):
		}
		if len(req.wav) > limit {
			writeError(w, http.StatusRequestEntityTooLarge, "too large", "invalid_request_error", nil)
		} else {
			writeVerbose(w, "english", req.pcm.Duration().Seconds(), toneSegments(req.pcm))
		}
		mu.Lock()
		inflight--
		mu.Unlock()
	})
	c := newClient(t, srv, Config{MaxUploadBytes: limit})
	p := tones(12) // 384 kB: four pieces of at most 3.2 s
	got, err := c.Transcribe(context.Background(), writeWAV(t, p), media.TranscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if srv.count() != 4 || top != 2 {
		t.Errorf("%d requests, at most %d at once; want 4, 2 at once", srv.count(), top)
	}

	// The pieces are in order, under the limit, and each cut lands in a pause.
	var pieces []media.PCM // requests arrive in any order: chain them by content
	for at := 0; at < len(p); {
		var next media.PCM
		for _, req := range srv.requests {
			if isPrefixAt(p, req.pcm, at) {
				next = req.pcm
			}
		}
		if next == nil {
			t.Fatalf("no piece starts at sample %d", at)
		}
		pieces = append(pieces, next)
		at += len(next)
	}
	at := 0
	for i, piece := range pieces {
		at += len(piece)
		if at == len(p) {
			continue
		}
		cut := float64(at) / media.SampleRate
		if frac := cut - float64(int(cut)); frac <= 0.5 {
			t.Errorf("cut %d at %.3fs is inside a tone", i+1, cut)
		}
		for _, s := range p[at-cutWindow/2 : at+cutWindow/2] {
			if s > 100 || s < -100 {
				t.Errorf("cut %d at %.3fs is not in a quiet window", i+1, cut)
				break
			}
		}
	}
	if at != len(p) {
		t.Errorf("the pieces hold %d samples, not %d", at, len(p))
	}

	// One transcript: the texts in order, segments re-timed to absolute time.
	var words []string
	for k := range 12 {
		words = append(words, fmt.Sprintf("tone%d", 300+100*k))
	}
	if got.Text != strings.Join(words, " ") || got.Language != "en" {
		t.Errorf("text %q (%s), want %q", got.Text, got.Language, strings.Join(words, " "))
	}
	if len(got.Segments) != 12 {
		t.Fatalf("%d segments, want 12: %+v", len(got.Segments), got.Segments)
	}
	for k, s := range got.Segments {
		start, end := time.Duration(k)*time.Second, time.Duration(k)*time.Second+500*time.Millisecond
		if s.Text != words[k] || absDur(s.Start-start) > 15*time.Millisecond || absDur(s.End-end) > 15*time.Millisecond {
			t.Errorf("segment %d = %+v, want %s at [%v, %v]", k, s, words[k], start, end)
		}
		if k > 0 && s.Start < got.Segments[k-1].End {
			t.Errorf("segment %d starts before segment %d ends", k, k-1)
		}
	}
}

func isPrefixAt(p, q media.PCM, at int) bool {
	return at+len(q) <= len(p) && len(q) > 0 && reflect.DeepEqual(p[at:at+len(q)], q)
}

func absDur(d time.Duration) time.Duration { return max(d, -d) }

func TestNewEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://host:8000":                "http://host:8000/v1/audio/transcriptions",
		"http://host:8000/":               "http://host:8000/v1/audio/transcriptions",
		"https://api.openai.com/v1":       "https://api.openai.com/v1/audio/transcriptions",
		"https://api.openai.com/v1/":      "https://api.openai.com/v1/audio/transcriptions",
		"https://api.groq.com/openai/v1":  "https://api.groq.com/openai/v1/audio/transcriptions",
		" http://localai:8080/?x=1#frag ": "http://localai:8080/v1/audio/transcriptions",
	} {
		c, err := New(Config{BaseURL: in})
		if err != nil || c.Endpoint() != want {
			t.Errorf("New(%q): endpoint %v, %v; want %s", in, c.Endpoint(), err, want)
		}
	}
	for _, bad := range []string{"", "host:8000", "ftp://host", "http://"} {
		if _, err := New(Config{BaseURL: bad}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := New(Config{BaseURL: "http://h", MaxUploadBytes: 1000}); err == nil {
		t.Error("an upload limit under one second of audio was accepted")
	}
}

func TestLanguage(t *testing.T) {
	for in, want := range map[string]string{"english": "en", "English": "en", "en": "en", "german": "de",
		"cantonese": "yue", "haw": "haw", "klingon": "klingon", "": ""} {
		if got := Language(in); got != want {
			t.Errorf("Language(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"en-US": "en", "pt_BR": "pt", "auto": "", "French": "fr", "yue": "yue"} {
		if got := requestLanguage(in); got != want {
			t.Errorf("requestLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{}, 0},
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{http.Header{"Retry-After": {"0"}}, 1},
		{http.Header{"Retry-After": {"Wed, 02 Dec 2026 12:00:30 GMT"}}, 30 * time.Second},
		{http.Header{"Retry-After": {"Wed, 02 Dec 2026 11:00:00 GMT"}}, 1}, // past: at once
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"1"}}, 250 * time.Millisecond},
	} {
		if got := retryAfter(tc.h, now); got != tc.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestTranscribeNotAWAV(t *testing.T) {
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) { w.Write([]byte(verboseDoc)) })
	c := newClient(t, srv, Config{})
	path := t.TempDir() + "/a.wav"
	os.WriteFile(path, []byte("This is a text file, not a WAV file.\n"), 0o600)
	_, err := c.Transcribe(context.Background(), media.Audio{Path: path, Duration: time.Second}, media.TranscribeOptions{})
	if !errors.Is(err, media.ErrInvalid) || srv.count() != 0 {
		t.Errorf("err = %v after %d requests, want media.ErrInvalid and none sent", err, srv.count())
	}
}

func TestTranscribeFollowsRedirectWithBody(t *testing.T) {
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, req *request, n int) {
		if n == 1 {
			http.Redirect(w, r, "/v1/audio/transcriptions?moved=1", http.StatusTemporaryRedirect)
			return
		}
		w.Write([]byte(verboseDoc))
	})
	c := newClient(t, srv, Config{})
	a := writeWAV(t, tones(9))
	if _, err := c.Transcribe(context.Background(), a, media.TranscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(a.Path)
	if srv.count() != 2 || string(srv.requests[1].wav) != string(file) {
		t.Errorf("%d requests; the redirected one must carry the file again", srv.count())
	}
}

func TestJoinRetimesAndClamps(t *testing.T) {
	pieces := []piece{{offset: 0, length: 3 * time.Second}, {offset: 3 * time.Second, length: 2 * time.Second}}
	results := []*verbose{
		{Language: "English", Text: " one two ", Segments: []segment{{Start: 0, End: 1.5, Text: " one"}, {Start: 1.2, End: 3.4, Text: "two "}}},
		{Language: "french", Text: "three", Segments: []segment{{Start: 0.25, End: 1, Text: "three"}, {Start: 1, End: 2, Text: "  "}}},
	}
	// LocalAI's segments: start and end in nanoseconds, no language.
	results = append(results, &verbose{Text: " four", Segments: []segment{{Start: 0, End: 1.5e9, Text: " four"}}})
	pieces = append(pieces, piece{offset: 5 * time.Second, length: 2 * time.Second})
	got := join(pieces, results)
	want := &media.Transcript{Text: "one two three four", Language: "en", Segments: []media.Segment{
		{Start: 0, End: 1500 * time.Millisecond, Text: "one"},
		{Start: 1500 * time.Millisecond, End: 3 * time.Second, Text: "two"}, // overlap and overrun clamped
		{Start: 3250 * time.Millisecond, End: 4 * time.Second, Text: "three"},
		{Start: 5 * time.Second, End: 6500 * time.Millisecond, Text: "four"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("join\n got %+v\nwant %+v", got, want)
	}
}
