package openaistt

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tldw-go/tldw/media"
)

// Defaults for the zero fields of Config.
const (
	DefaultModel          = "whisper-1"
	DefaultMaxUploadBytes = 25 << 20 // OpenAI's limit on the uploaded file
	DefaultConcurrency    = 2
	DefaultMaxAttempts    = 4
	DefaultTimeout        = 10 * time.Minute // per request
)

// MinUploadBytes is the smallest MaxUploadBytes New accepts: one second of audio.
const MinUploadBytes = wavHeaderSize + 2*media.SampleRate

const (
	wavHeaderSize = 44
	maxResponse   = 32 << 20    // bytes of a response body read
	maxRetryWait  = time.Minute // a longer Retry-After ends the retries (a job retries later)
	baseBackoff   = 500 * time.Millisecond
	maxBackoff    = 30 * time.Second
)

// Config configures a Client. BaseURL is required; zero fields take the defaults above.
type Config struct {
	// BaseURL is the server, with or without a trailing /v1: http://host:8000,
	// https://api.openai.com, https://api.groq.com/openai/v1 (STT_BASE_URL).
	BaseURL string
	APIKey  string // sent as "Authorization: Bearer KEY"; "" sends none (STT_API_KEY)
	Model   string // the default model (STT_MODEL); DefaultModel when ""
	// Provider names the server in messages (STT_PROVIDER); "" uses BaseURL's host.
	Provider string
	// MaxUploadBytes is the largest WAV file sent in one request; longer audio is split.
	MaxUploadBytes int64
	Concurrency    int           // requests in flight per Transcribe call
	MaxAttempts    int           // tries per request, the first included
	HTTPClient     *http.Client  // nil uses a new http.Client
	Timeout        time.Duration // per request attempt
}

// Client transcribes with an OpenAI-compatible server. Safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	http     *http.Client
	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

var _ media.Transcriber = (*Client)(nil)

// New returns a Client for c. An error says what in c is wrong (a BaseURL that is not an
// http or https URL, a MaxUploadBytes under MinUploadBytes).
func New(c Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(c.BaseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("openaistt: the STT base URL must be an http:// or https:// URL")
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1") + "/v1/audio/transcriptions"
	u.RawPath, u.RawQuery, u.Fragment, u.User = "", "", "", nil
	c.Model = cmp.Or(c.Model, DefaultModel)
	c.Provider = cmp.Or(c.Provider, u.Host)
	c.MaxUploadBytes = cmp.Or(c.MaxUploadBytes, DefaultMaxUploadBytes)
	if c.MaxUploadBytes < MinUploadBytes {
		return nil, fmt.Errorf("openaistt: the upload limit must be at least %d bytes", MinUploadBytes)
	}
	c.Concurrency = max(1, cmp.Or(c.Concurrency, DefaultConcurrency))
	c.MaxAttempts = max(1, cmp.Or(c.MaxAttempts, DefaultMaxAttempts))
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{cfg: c, endpoint: u.String(), http: hc, sleep: sleepCtx}, nil
}

// Endpoint is the URL requests go to.
func (c *Client) Endpoint() string { return c.endpoint }

// piece is one request's audio: the whole file, or n samples from byte data of it.
type piece struct {
	path    string
	whole   bool
	data, n int64
	offset  time.Duration // of its first sample in the file
	length  time.Duration
}

// Transcribe sends a (a WAV file of media.SampleRate Hz mono s16le) to the server, split
// into pieces when it is over MaxUploadBytes, and returns the joined transcript. o.Model
// overrides the configured model; o.Language (a code or an English name) and o.Prompt are
// passed on. Errors wrap media.ErrInvalid (the provider rejected the audio or a field, or
// the WAV is unreadable), media.ErrTooLarge (the provider's 413), media.ErrUnsupported (the
// API key was rejected, or the endpoint or model does not exist), ctx's error; any other
// error is transient (the provider kept failing, or was unreachable, through MaxAttempts
// tries).
func (c *Client) Transcribe(ctx context.Context, a media.Audio, o media.TranscribeOptions) (*media.Transcript, error) {
	model := cmp.Or(o.Model, c.cfg.Model)
	pieces, err := plan(a, c.cfg.MaxUploadBytes)
	if err != nil {
		return nil, err
	}
	f := newForm(model, requestLanguage(o.Language), o.Prompt)
	results, err := c.sendAll(ctx, f, pieces)
	if err != nil {
		return nil, err
	}
	t := join(pieces, results)
	t.Model = model
	if t.Language == "" {
		t.Language = requestLanguage(o.Language)
	}
	if o.Diarize && !hasSpeakers(t.Segments) {
		t.Warnings = append(t.Warnings, "diarization is not available from "+c.cfg.Provider)
	}
	return t, nil
}

// sendAll sends the pieces, at most Concurrency at once, and returns their responses in
// order. The first failure stops the rest.
func (c *Client) sendAll(ctx context.Context, f form, pieces []piece) ([]*verbose, error) {
	results := make([]*verbose, len(pieces))
	if len(pieces) == 1 {
		r, err := c.send(ctx, f, pieces[0])
		results[0] = r
		return results, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, c.cfg.Concurrency)
loop:
	for i := range pieces {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r, err := c.send(ctx, f, pieces[i])
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("piece %d of %d: %w", i+1, len(pieces), err)
					cancel()
				}
				mu.Unlock()
				return
			}
			results[i] = r
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return results, nil
}

// join re-times each piece's segments by its offset (clamped to the piece, and to start
// no earlier than the segment before ends) and joins them and their texts, in order, into
// one transcript.
func join(pieces []piece, results []*verbose) *media.Transcript {
	t := &media.Transcript{}
	var texts []string
	for i, r := range results {
		p := pieces[i]
		if t.Language == "" {
			t.Language = Language(r.Language)
		}
		text := strings.TrimSpace(r.Text)
		unit := 1.0 // seconds, but LocalAI sends Go's time.Duration: nanoseconds
		for _, s := range r.Segments {
			if s.End > localAINanos {
				unit = 1e-9
			}
		}
		clamp := func(s float64) time.Duration {
			d := seconds(s * unit)
			if p.length > 0 {
				d = min(d, p.length)
			}
			return d
		}
		var segTexts []string
		for _, s := range r.Segments {
			st := strings.TrimSpace(s.Text)
			if st == "" {
				continue
			}
			start, end := p.offset+clamp(s.Start), p.offset+clamp(s.End)
			if k := len(t.Segments); k > 0 { // no overlap, even when the provider's segments do
				start = max(start, t.Segments[k-1].End)
			}
			t.Segments = append(t.Segments, media.Segment{Start: start, End: max(start, end), Text: st, Speaker: s.Speaker})
			segTexts = append(segTexts, st)
		}
		if text == "" {
			text = strings.Join(segTexts, " ")
		}
		if len(segTexts) == 0 && text != "" { // a server that ignored verbose_json
			length := cmp.Or(p.length, seconds(r.Duration))
			t.Segments = append(t.Segments, media.Segment{Start: p.offset, End: p.offset + length, Text: text})
		}
		if text != "" {
			texts = append(texts, text)
		}
	}
	t.Text = strings.Join(texts, " ")
	return t
}

// localAINanos is a segment end no piece reaches in seconds (28 h, 3 GB of audio) but every
// segment over 0.1 ms reaches in nanoseconds.
const localAINanos = 1e5

func hasSpeakers(segs []media.Segment) bool {
	for _, s := range segs {
		if s.Speaker != "" {
			return true
		}
	}
	return false
}

// seconds converts a provider's time in seconds to a Duration (negative or NaN: 0).
func seconds(s float64) time.Duration {
	if !(s > 0) {
		return 0
	}
	return time.Duration(s*1e6+0.5) * time.Microsecond
}

// open returns the piece's WAV file, and its size.
func (p piece) open() (io.ReadCloser, int64, error) {
	f, err := os.Open(p.path)
	if err != nil {
		return nil, 0, fmt.Errorf("openaistt: %w", err)
	}
	if !p.whole {
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(wavHeader(p.n)), io.NewSectionReader(f, p.data, 2*p.n)), f}, wavHeaderSize + 2*p.n, nil
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("openaistt: %w", err)
	}
	return f, info.Size(), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
