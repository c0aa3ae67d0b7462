package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/quota/quotatest"
	"github.com/tldw-go/tldw/storage/storagetest"
)

// wavAV is a media.AV for tests that reads WAV files (16 kHz mono s16le) only: Probe gives
// their length, Decode copies them; anything else is ErrUnsupported.
type wavAV struct{}

func (wavAV) Probe(_ context.Context, path string) (*media.AVInfo, error) {
	p, err := media.ReadWAVFile(path, 0)
	if err != nil {
		return nil, media.Detailf(media.ErrUnsupported, "not a WAV file")
	}
	return &media.AVInfo{Duration: p.Duration(), Format: "wav", HasAudio: true}, nil
}

func (wavAV) Decode(_ context.Context, path, dst string, _ media.DecodeOptions) error {
	p, err := media.ReadWAVFile(path, 0)
	if err != nil {
		return media.Detailf(media.ErrUnsupported, "not a WAV file")
	}
	return media.WriteWAVFile(dst, p)
}

func (wavAV) Thumbnail(context.Context, string, time.Duration) ([]byte, error) {
	return nil, media.ErrUnsupported
}

func (wavAV) Silences(context.Context, string, media.SilenceOptions) ([]media.Interval, error) {
	return nil, nil
}

// tickPCM is d of audio whose every 100 ms block holds its block number from first: the
// tick transcriber "hears" when each block is.
func tickPCM(first int, d time.Duration) media.PCM {
	p := make(media.PCM, int(d*media.SampleRate/time.Second))
	for i := range p {
		p[i] = int16(first + i/(media.SampleRate/10))
	}
	return p
}

// tickWords is what the tick transcriber says for blocks from..to-1.
func tickWords(from, to int) string {
	var w []string
	for i := from; i < to; i++ {
		w = append(w, fmt.Sprintf("w%d", i))
	}
	return strings.Join(w, " ")
}

// tickTranscriber says "wN" for every whole 100 ms block of the WAV it hears (N the block's
// value), in one segment spanning the file; delay, if set, is waited first. It checks that
// it hears what media.Transcriber promises.
func tickTranscriber(delay time.Duration) media.Transcriber {
	return mediatest.TranscriberFunc(func(ctx context.Context, a media.Audio, o media.TranscribeOptions) (*media.Transcript, error) {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		p, err := media.ReadWAVFile(a.Path, 0)
		if err != nil {
			return nil, err
		}
		if p.Duration() != a.Duration {
			return nil, fmt.Errorf("audio says %s, file has %s", a.Duration, p.Duration())
		}
		var words []string
		for i := 0; i+media.SampleRate/10 <= len(p); i += media.SampleRate / 10 {
			words = append(words, fmt.Sprintf("w%d", p[i]))
		}
		text := strings.Join(words, " ")
		return &media.Transcript{Text: text, Language: "en", Model: o.Model,
			Segments: []media.Segment{{Start: 0, End: p.Duration(), Text: text}}}, nil
	})
}

// audioServer is a test server with a transcriber, the WAV-only AV, an audio budget on a
// memory ledger and a memory media service (with a processing store, no jobs).
type audioServer struct {
	*testServer
	Ledger *quotatest.MemLedger
	Budget *media.AudioBudget
	Items  *mediatest.Memory
	Proc   *mediatest.Processing
	hs     *httptest.Server
}

func newAudioServer(t testing.TB, opts ...func(*Options)) *audioServer {
	t.Helper()
	as := &audioServer{Ledger: quotatest.NewMemory(), Items: mediatest.NewMemory()}
	as.Proc = mediatest.NewProcessing(as.Items)
	as.Budget = &media.AudioBudget{Ledger: as.Ledger}
	svc := &media.Service{Store: as.Items, Blobs: storagetest.Memory(), Ledger: as.Ledger, Processing: as.Proc,
		MaxUploadBytes: 1 << 20}
	as.testServer = newTestServer(t, withHTTP(func(o *Options) {
		o.Transcriber, o.TranscriberName, o.TranscriberModel = tickTranscriber(0), "tick", "tick-1"
		o.AV, o.AudioBudget, o.Media = wavAV{}, as.Budget, svc
		o.AudioStream = AudioStreamLimits{AuthTimeout: 200 * time.Millisecond}
		for _, f := range opts {
			f(o)
		}
	}))
	as.Budget.Now, as.Ledger.Now = as.Clock.Now, as.Clock.Now
	return as
}

// wavBytes is p as a WAV file.
func wavBytes(t testing.TB, p media.PCM) string {
	t.Helper()
	var b strings.Builder
	if err := media.WriteWAV(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// transcribe posts a transcription form as kind.
func (as *audioServer) transcribe(t *testing.T, kind string, parts ...formPart) *httptest.ResponseRecorder {
	t.Helper()
	body, ct := multipartForm(t, parts...)
	return as.call(t, kind, http.MethodPost, "/api/v1/audio/transcriptions", body, map[string]string{"Content-Type": ct})
}

func TestAudioTranscriptionFormats(t *testing.T) {
	as := newAudioServer(t)
	wav := wavBytes(t, tickPCM(0, 1500*time.Millisecond))
	want := tickWords(0, 15)
	for _, tc := range []struct {
		format, ctype, body string
	}{
		{"", "application/json", `{"text":"` + want + `"}` + "\n"},
		{"json", "application/json", `{"text":"` + want + `"}` + "\n"},
		{"text", "text/plain; charset=utf-8", want + "\n"},
		{"srt", "text/plain; charset=utf-8", "1\n00:00:00,000 --> 00:00:01,500\n" + want + "\n\n"},
		{"vtt", "text/plain; charset=utf-8", "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n" + want + "\n\n"},
	} {
		parts := []formPart{formFile("file", "talk.wav", wav), formField("model", "whisper-1")}
		if tc.format != "" {
			parts = append(parts, formField("response_format", tc.format))
		}
		rec := as.transcribe(t, callerUser, parts...)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != tc.ctype || rec.Body.String() != tc.body {
			t.Errorf("%q: %d %q %q, want %q", tc.format, rec.Code, rec.Header().Get("Content-Type"), rec.Body, tc.body)
		}
	}
	rec := as.transcribe(t, callerService, formFile("file", "talk.wav", wav), formField("response_format", "verbose_json"),
		formField("timestamp_granularities[]", "segment"), formField("language", "en"))
	var v struct {
		Task     string  `json:"task"`
		Language string  `json:"language"`
		Duration float64 `json:"duration"`
		Text     string  `json:"text"`
		Segments []struct {
			ID     int     `json:"id"`
			Start  float64 `json:"start"`
			End    float64 `json:"end"`
			Tokens []int   `json:"tokens"`
		} `json:"segments"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || rec.Code != 200 {
		t.Fatalf("verbose_json: %d %s", rec.Code, rec.Body)
	}
	if v.Task != "transcribe" || v.Language != "en" || v.Duration != 1.5 || v.Text != want || len(v.Segments) != 1 || v.Segments[0].Tokens == nil {
		t.Errorf("verbose_json = %s", rec.Body)
	}
	// Five calls of 1.5 s by alice, each charged 2 s (whole seconds, rounded up).
	if left, _ := as.Budget.Remaining(context.Background(), as.Accounts[callerUser].User.ID); left != 30*time.Minute-10*time.Second {
		t.Errorf("alice's minutes left = %s", left)
	}
	if ents, _ := os.ReadDir(os.TempDir()); hasPrefix(ents, "tldw-transcribe-") {
		t.Error("a transcription temp dir was left behind")
	}
}

func hasPrefix(ents []os.DirEntry, prefix string) bool {
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			return true
		}
	}
	return false
}

func TestAudioTranscriptionErrors(t *testing.T) {
	as := newAudioServer(t, func(o *Options) { o.AudioUploadBytes = 64 << 10 })
	wav := wavBytes(t, tickPCM(0, time.Second))
	for _, tc := range []struct {
		name   string
		parts  []formPart
		status int
		code   string
	}{
		{"no file", []formPart{formField("model", "x")}, 422, "validation_error"},
		{"bad format", []formPart{formFile("file", "a.wav", wav), formField("response_format", "xml")}, 422, "validation_error"},
		{"not audio", []formPart{formFile("file", "a.txt", "hello")}, 415, "unsupported_media_type"},
		{"too large", []formPart{formFile("file", "a.wav", wavBytes(t, tickPCM(0, 3*time.Second)))}, 413, "payload_too_large"},
		{"two files", []formPart{formFile("file", "a.wav", wav), formFile("file", "b.wav", wav)}, 422, "validation_error"},
	} {
		rec := as.transcribe(t, callerUser, tc.parts...)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	if rec := as.call(t, callerUser, "POST", "/api/v1/audio/transcriptions", "{}", nil); rec.Code != 415 {
		t.Errorf("JSON body: %d %s", rec.Code, rec.Body)
	}
	// The budget: a tier of 1 minute a day refuses a 61 s file with the code and Retry-After.
	as.Budget.Tiers = map[string]media.AudioTier{media.TierFree: {MinutesPerDay: 1, Streams: 1}}
	as.o.AudioUploadBytes = 4 << 20
	rec := as.transcribe(t, callerUser, formFile("file", "long.wav", wavBytes(t, tickPCM(0, 61*time.Second))))
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), media.CodeTranscriptionMinutes) || rec.Header().Get("Retry-After") == "" {
		t.Errorf("over budget: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if u, _ := as.Ledger.Usage(context.Background(), as.id(callerUser)); len(u) > 0 {
		for _, x := range u {
			if x.Reserved != 0 {
				t.Errorf("reservation left: %+v", x)
			}
		}
	}
	// No transcriber: 503 transcription_unavailable, on the socket's status too.
	none := newAudioServer(t, func(o *Options) { o.Transcriber = nil })
	rec = none.transcribe(t, callerUser, formFile("file", "a.wav", wav))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"transcription_unavailable"`) {
		t.Errorf("no transcriber: %d %s", rec.Code, rec.Body)
	}
	rec = none.call(t, callerUser, "GET", "/api/v1/audio/stream/status", "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"available":false`) {
		t.Errorf("status without transcriber: %d %s", rec.Code, rec.Body)
	}
}

// TestAudioTranscriptionFailure: a transcriber error is a 500 and charges nothing.
func TestAudioTranscriptionFailure(t *testing.T) {
	as := newAudioServer(t, func(o *Options) {
		o.Transcriber = mediatest.TranscriberFunc(func(context.Context, media.Audio, media.TranscribeOptions) (*media.Transcript, error) {
			return nil, io.ErrUnexpectedEOF
		})
	})
	rec := as.transcribe(t, callerUser, formFile("file", "a.wav", wavBytes(t, tickPCM(0, time.Second))))
	if rec.Code != 500 {
		t.Errorf("failure = %d %s", rec.Code, rec.Body)
	}
	if left, _ := as.Budget.Remaining(context.Background(), as.Accounts[callerUser].User.ID); left != 30*time.Minute {
		t.Errorf("charged for a failure: %s left", left)
	}
}

func TestAudioStreamStatusAndLimits(t *testing.T) {
	as := newAudioServer(t, func(o *Options) { o.AudioStream.IdleTimeout = 42 * time.Second })
	rec := as.call(t, callerUser, "GET", "/api/v1/audio/stream/status", "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"available":true`) || !strings.Contains(rec.Body.String(), `"transcriber":"tick"`) ||
		!strings.Contains(rec.Body.String(), `"active_streams":0`) {
		t.Errorf("status = %d %s", rec.Code, rec.Body)
	}
	rec = as.call(t, callerUser, "GET", "/api/v1/audio/stream/limits", "", nil)
	var l streamLimitsJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil || rec.Code != 200 {
		t.Fatalf("limits = %d %s", rec.Code, rec.Body)
	}
	if l.Tier != "free" || l.DailyMinutes != 30 || l.RemainingMinutes != 30 || l.ConcurrentStreams != 1 ||
		l.IdleTimeout != 42 || l.MaxFrameBytes != DefaultStreamFrameBytes || l.AuthTimeout != 0.2 || l.ConfigTimeout != 15 {
		t.Errorf("limits = %+v", l)
	}
	unlimited := newAudioServer(t, func(o *Options) { o.AudioBudget = nil })
	rec = unlimited.call(t, callerUser, "GET", "/api/v1/audio/stream/limits", "", nil)
	if !strings.Contains(rec.Body.String(), `"daily_minutes":-1`) || !strings.Contains(rec.Body.String(), `"remaining_minutes_today":-1`) {
		t.Errorf("unlimited limits = %s", rec.Body)
	}
	if rec := as.call(t, callerUser, "GET", "/api/v1/audio/stream/transcribe", "", nil); rec.Code != 426 {
		t.Errorf("plain GET of the socket = %d %s", rec.Code, rec.Body)
	}
}
