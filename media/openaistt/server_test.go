package openaistt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

// request is what the fake server read from one POST /v1/audio/transcriptions.
type request struct {
	auth          string
	contentLength int64
	fields        map[string][]string // form fields other than file
	fileName      string
	fileType      string
	wav           []byte
	pcm           media.PCM
}

// fakeServer speaks the OpenAI audio/transcriptions protocol: it checks the request as
// OpenAI documents it (multipart/form-data with a file part and fields) and answers with
// what answer writes. n counts requests from 1.
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	answer func(w http.ResponseWriter, r *http.Request, req *request, n int)

	mu       sync.Mutex
	requests []*request
}

func newFakeServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, req *request, n int)) *fakeServer {
	f := &fakeServer{t: t, answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		http.Error(w, `{"error":{"message":"Invalid URL","type":"invalid_request_error","param":null,"code":null}}`, http.StatusNotFound)
		return
	}
	req, err := readRequest(r)
	if err != nil {
		f.t.Errorf("bad request: %v", err)
		writeError(w, http.StatusBadRequest, err.Error(), "invalid_request_error", nil)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	n := len(f.requests)
	f.mu.Unlock()
	f.answer(w, r, req, n)
}

func (f *fakeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// readRequest parses the multipart body strictly: a boundary, a Content-Length (no chunked
// upload), the file part named "file" with a filename and a content type, and a WAV in it.
func readRequest(r *http.Request) (*request, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, fmt.Errorf("Content-Type %q is not multipart/form-data with a boundary", r.Header.Get("Content-Type"))
	}
	if r.ContentLength <= 0 {
		return nil, fmt.Errorf("no Content-Length")
	}
	req := &request{auth: r.Header.Get("Authorization"), contentLength: r.ContentLength, fields: map[string][]string{}}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("multipart: %v", err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		if p.FormName() == "file" {
			req.fileName, req.fileType, req.wav = p.FileName(), p.Header.Get("Content-Type"), data
			continue
		}
		if p.FileName() != "" {
			return nil, fmt.Errorf("field %q sent as a file", p.FormName())
		}
		req.fields[p.FormName()] = append(req.fields[p.FormName()], string(data))
	}
	if req.wav == nil {
		return nil, fmt.Errorf("no file part")
	}
	if len(req.fields["model"]) != 1 {
		return nil, fmt.Errorf("model is required")
	}
	req.pcm, err = parseWAV(req.wav)
	return req, err
}

// parseWAV reads a canonical 16 kHz mono s16le WAV.
func parseWAV(b []byte) (media.PCM, error) {
	le := binary.LittleEndian
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" || string(b[12:16]) != "fmt " ||
		le.Uint16(b[20:]) != 1 || le.Uint16(b[22:]) != 1 || le.Uint32(b[24:]) != media.SampleRate ||
		le.Uint16(b[34:]) != 16 || string(b[36:40]) != "data" || int(le.Uint32(b[40:])) != len(b)-44 ||
		int(le.Uint32(b[4:])) != len(b)-8 {
		return nil, fmt.Errorf("the file is not a canonical 16 kHz mono s16le WAV")
	}
	p := make(media.PCM, (len(b)-44)/2)
	for i := range p {
		p[i] = int16(le.Uint16(b[44+2*i:]))
	}
	return p, nil
}

// writeError answers like OpenAI: {"error": {"message", "type", "param", "code"}}.
func writeError(w http.ResponseWriter, status int, msg, typ string, code any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}

// verboseSegment is a segment of verbose_json with every documented field.
type verboseSegment struct {
	ID               int     `json:"id"`
	Seek             int     `json:"seek"`
	Start            float64 `json:"start"`
	End              float64 `json:"end"`
	Text             string  `json:"text"`
	Tokens           []int   `json:"tokens"`
	Temperature      float64 `json:"temperature"`
	AvgLogprob       float64 `json:"avg_logprob"`
	CompressionRatio float64 `json:"compression_ratio"`
	NoSpeechProb     float64 `json:"no_speech_prob"`
}

// writeVerbose answers verbose_json as OpenAI does for timestamp_granularities[]=segment.
func writeVerbose(w http.ResponseWriter, language string, duration float64, segs []verboseSegment) {
	texts := make([]string, len(segs))
	for i, s := range segs {
		texts[i] = strings.TrimSpace(s.Text)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"task": "transcribe", "language": language, "duration": duration,
		"text": strings.Join(texts, " "), "segments": segs})
}

// toneSegments "transcribes" synthetic audio: each burst of tone (10 ms frames louder than
// 1000) is a segment whose text names its frequency, "tone300", rounded to 100 Hz.
func toneSegments(p media.PCM) []verboseSegment {
	const frame = media.SampleRate / 100
	var segs []verboseSegment
	loud := func(i int) bool {
		for _, s := range p[i*frame : min(len(p), (i+1)*frame)] {
			if s > 1000 || s < -1000 {
				return true
			}
		}
		return false
	}
	frames := (len(p) + frame - 1) / frame
	for i := 0; i < frames; {
		if !loud(i) {
			i++
			continue
		}
		j := i
		for j < frames && loud(j) {
			j++
		}
		burst := p[i*frame : min(len(p), j*frame)]
		var ups []int // upward crossings of +1000: one per cycle, none in the noise
		for k := 1; k < len(burst); k++ {
			if burst[k-1] < 1000 && burst[k] >= 1000 {
				ups = append(ups, k)
			}
		}
		freq := 0.0
		if len(ups) > 1 {
			freq = math.Round(float64(len(ups)-1)*media.SampleRate/float64(ups[len(ups)-1]-ups[0])/100) * 100
		}
		segs = append(segs, verboseSegment{ID: len(segs), Seek: 0, Start: float64(i*frame) / media.SampleRate,
			End: float64(j*frame) / media.SampleRate, Text: fmt.Sprintf(" tone%.0f", freq), Tokens: []int{50364, 1234, 50414},
			AvgLogprob: -0.2, CompressionRatio: 0.8, NoSpeechProb: 0.01})
		i = j
	}
	return segs
}

// tones makes n bursts of tone, burst k at k seconds for 500 ms at 300+100k Hz, with
// low noise (under 100) in the pauses between.
func tones(n int) media.PCM {
	p := make(media.PCM, n*media.SampleRate)
	seed := uint32(1)
	for i := range p {
		t := float64(i) / media.SampleRate
		k := int(t)
		if t-float64(k) < 0.5 {
			p[i] = int16(8000 * math.Sin(2*math.Pi*float64(300+100*k)*t))
			continue
		}
		seed = seed*1664525 + 1013904223
		p[i] = int16(int(seed>>24)%80 - 40)
	}
	return p
}

func writeWAV(t testing.TB, p media.PCM) media.Audio {
	path := filepath.Join(t.TempDir(), "in.wav")
	if err := media.WriteWAVFile(path, p); err != nil {
		t.Fatal(err)
	}
	return media.Audio{Path: path, Duration: p.Duration()}
}

// sleeps records the waits of a Client instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) install(c *Client) {
	c.sleep = func(ctx context.Context, d time.Duration) error {
		s.mu.Lock()
		s.d = append(s.d, d)
		s.mu.Unlock()
		return ctx.Err()
	}
}
