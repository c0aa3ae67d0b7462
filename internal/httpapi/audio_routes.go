package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
)

// audioAPI serves transcription: POST /audio/transcriptions (OpenAI-compatible, nothing
// stored) and live streams (audio_ws.go) with their status and limits. Both draw on
// Options.AudioBudget.
type audioAPI struct {
	*core
	active atomic.Int64 // open streams on this server
}

// DefaultAudioUploadBytes caps /audio/transcriptions uploads when neither AudioUploadBytes
// nor Media.MaxUploadBytes is set: OpenAI's 25 MB.
const DefaultAudioUploadBytes = 25 << 20

// audioFieldBytes caps each text field of the transcription form.
const audioFieldBytes = 64 << 10

// errTranscriptionUnavailable answers audio routes on a server without a transcriber.
var errTranscriptionUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "transcription_unavailable",
	Detail: "Transcription is not configured on this server"}

func (s *audioAPI) routes() []route {
	return []route{
		{Method: http.MethodPost, Path: "/api/v1/audio/transcriptions", Tag: "audio", Perm: auth.PermMediaWrite,
			ID: "createTranscription", Body: "multipart/form-data", Request: transcriptionForm{},
			Produces: "application/json, text/plain", Response: transcriptionResponse{},
			Summary: "Transcribe an audio or video file (OpenAI's POST /v1/audio/transcriptions); nothing is stored, the audio counts against the transcription minutes",
			Responses: map[int]string{200: "The transcript in response_format: json and verbose_json as JSON, text, srt and vtt as text/plain",
				400: "Invalid form or a file without audio", 413: "Upload too large", 415: "Not a multipart form or not a media file",
				422: "No file, or an invalid field (response_format)", 429: "Transcription minutes used up (transcription_minutes_per_day_exceeded) or rate limited",
				503: "Transcription is not configured (transcription_unavailable)"},
			Handler: s.handleTranscription},
		{Method: http.MethodGet, Path: "/api/v1/audio/stream/transcribe", Tag: "audio", Perm: auth.PermMediaWrite,
			Stream: streamWebSocket, InBandAuth: true, ID: "streamTranscribe", Query: streamQuery,
			Summary:  "Live transcription over a WebSocket (tldw's protocol: auth, config, audio, commit, reset, stop, ping)",
			ByStatus: map[int]any{http.StatusSwitchingProtocols: noBody{}},
			Responses: map[int]string{101: "Upgraded; see the description of the protocol in README",
				403: "Origin not in ALLOWED_ORIGINS", 426: "Not a WebSocket upgrade",
				503: "Transcription, or storage for persist=true, is not configured"},
			Handler: s.handleStream},
		{Method: http.MethodGet, Path: "/api/v1/audio/stream/status", Tag: "audio", Perm: auth.PermMediaRead,
			ID: "streamStatus", Response: streamStatusJSON{},
			Summary:   "Whether live transcription is available, with which transcriber, and the streams open on this server",
			Responses: map[int]string{200: "Status"}, Handler: s.handleStreamStatus},
		{Method: http.MethodGet, Path: "/api/v1/audio/stream/limits", Tag: "audio", Perm: auth.PermMediaRead,
			ID: "streamLimits", Response: streamLimitsJSON{},
			Summary:   "The caller's transcription allowance (tier, minutes per day and left today, concurrent streams) and the bounds of a stream",
			Responses: map[int]string{200: "Limits"}, Handler: s.handleStreamLimits},
	}
}

// transcriptionResponse describes both JSON answers of POST /api/v1/audio/transcriptions:
// json has text only, verbose_json (OpenAI's shape, media.VerboseTranscript) all fields.
type transcriptionResponse struct {
	Text     string                 `json:"text"`
	Task     string                 `json:"task,omitempty" doc:"verbose_json: transcribe"`
	Language string                 `json:"language,omitempty" doc:"verbose_json"`
	Duration float64                `json:"duration,omitempty" doc:"verbose_json: seconds of audio"`
	Segments []media.VerboseSegment `json:"segments,omitempty" doc:"verbose_json: timed segments"`
}

// transcriptionOptions are the form's fields.
type transcriptionOptions struct {
	model, language, prompt, format string
}

// handleTranscription answers POST /audio/transcriptions: the upload is spooled to a
// temporary directory (capped), probed, charged to the budget, decoded to the WAV the
// transcriber hears and transcribed; the directory is removed before the answer.
func (s *audioAPI) handleTranscription(w http.ResponseWriter, r *http.Request) error {
	if s.o.Transcriber == nil || s.o.AV == nil {
		return errTranscriptionUnavailable
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Detail: "Content-Type must be multipart/form-data"}
	}
	limit := s.uploadBytes()
	if r.ContentLength > limit+media.DeclaredSlack {
		return errAudioTooLarge(limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+media.DeclaredSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "Malformed multipart form", Err: err}
	}
	dir, err := os.MkdirTemp("", "tldw-transcribe-*")
	if err != nil {
		return fmt.Errorf("transcription temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	upload := filepath.Join(dir, "upload")
	var o transcriptionOptions
	var name string
	got := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return formReadError(err, limit)
		}
		field := part.FormName()
		switch {
		case field == "file" && !got:
			name, got = part.FileName(), true
			if err := spoolTo(upload, part, limit); err != nil {
				return formReadError(err, limit)
			}
		case field == "file":
			return mediaFieldError("file", "only one file may be sent")
		default:
			b, err := io.ReadAll(io.LimitReader(part, audioFieldBytes+1))
			if err != nil {
				return formReadError(err, limit)
			}
			if len(b) > audioFieldBytes {
				return mediaFieldError(field, "the value is too long")
			}
			v := strings.TrimSpace(string(b))
			switch field {
			case "model":
				o.model = v
			case "language":
				o.language = v
			case "prompt":
				o.prompt = v
			case "response_format":
				o.format = v
			}
		}
	}
	if !got {
		return missingFields("file")
	}
	if o.format == "" {
		o.format = media.TranscriptJSON
	}
	if !slices.Contains(media.TranscriptFormats(), o.format) {
		return mediaFieldError("response_format", "must be one of "+strings.Join(media.TranscriptFormats(), ", "))
	}
	tr, d, err := s.transcribeFile(r, dir, upload, name, o)
	if err != nil {
		return err
	}
	body, ct, err := media.FormatTranscript(tr, d, o.format)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(body)
	return nil
}

// transcribeFile probes, charges, decodes and transcribes the spooled upload; it returns
// the transcript and the length of the audio heard.
func (s *audioAPI) transcribeFile(r *http.Request, dir, upload, name string, o transcriptionOptions) (*media.Transcript, time.Duration, error) {
	ctx := r.Context()
	info, err := s.o.AV.Probe(ctx, upload)
	if err != nil {
		return nil, 0, err
	}
	if !info.HasAudio {
		return nil, 0, media.Detailf(media.ErrInvalid, "the file has no audio")
	}
	uid := principalFrom(ctx).UserID
	res, err := s.o.AudioBudget.Reserve(ctx, uid, info.Duration)
	if err != nil {
		return nil, 0, err
	}
	charged := false
	defer func() {
		if !charged {
			_ = s.o.AudioBudget.Release(context.WithoutCancel(ctx), res)
		}
	}()
	wav := filepath.Join(dir, "audio.wav")
	if err := s.o.AV.Decode(ctx, upload, wav, media.DecodeOptions{}); err != nil {
		return nil, 0, err
	}
	st, err := os.Stat(wav)
	if err != nil {
		return nil, 0, fmt.Errorf("decoded audio: %w", err)
	}
	d := time.Duration(max(0, st.Size()-44)/2) * time.Second / media.SampleRate
	tr, err := s.o.Transcriber.Transcribe(ctx, media.Audio{Path: wav, Duration: d},
		media.TranscribeOptions{Name: media.SanitizeFilename(name), Model: o.model, Language: o.language, Prompt: o.prompt})
	if err != nil {
		return nil, 0, err
	}
	if err := s.o.AudioBudget.Commit(ctx, res, d); err != nil {
		return nil, 0, err
	}
	charged = true
	return tr, d, nil
}

// uploadBytes is the cap on one transcription upload.
func (s *audioAPI) uploadBytes() int64 {
	switch {
	case s.o.AudioUploadBytes > 0:
		return s.o.AudioUploadBytes
	case s.o.Media != nil && s.o.Media.MaxUploadBytes > 0:
		return s.o.Media.MaxUploadBytes
	}
	return DefaultAudioUploadBytes
}

func errAudioTooLarge(limit int64) error {
	return Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "The file exceeds the maximum upload size of %d bytes", limit)
}

// spoolTo copies a file part to path, at most limit bytes (more is errOverLimit).
func spoolTo(path string, part io.Reader, limit int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(part, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = errOverLimit
	}
	return err
}

var errOverLimit = errors.New("upload over the limit")

// formReadError classifies a failure reading the form: over the cap (the file or the
// whole body) is a 413, anything else a 400.
func formReadError(err error, limit int64) error {
	var mb *http.MaxBytesError
	if errors.Is(err, errOverLimit) || errors.As(err, &mb) {
		return errAudioTooLarge(limit)
	}
	return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "Malformed or truncated multipart form", Err: err}
}

// streamStatusJSON is the body of GET /audio/stream/status.
type streamStatusJSON struct {
	Status        string `json:"status" oapi:"enum=available|unavailable"`
	Available     bool   `json:"available"`
	ActiveStreams int64  `json:"active_streams" doc:"Streams open on this server"`
	Transcriber   string `json:"transcriber" doc:"The configured transcriber, or empty"`
	Model         string `json:"model" doc:"Its default model, or empty"`
	SampleRate    int    `json:"sample_rate" doc:"The sample rate of Int16 binary frames"`
}

func (s *audioAPI) handleStreamStatus(w http.ResponseWriter, r *http.Request) error {
	st := streamStatusJSON{Status: "unavailable", ActiveStreams: s.active.Load(), Transcriber: s.o.TranscriberName,
		Model: s.o.TranscriberModel, SampleRate: media.SampleRate}
	if s.o.Transcriber != nil {
		st.Status, st.Available = "available", true
	}
	s.writeJSON(w, r, http.StatusOK, st)
	return nil
}

// streamLimitsJSON is the body of GET /audio/stream/limits.
type streamLimitsJSON struct {
	Tier              string  `json:"tier"`
	DailyMinutes      int64   `json:"daily_minutes" doc:"-1: unlimited"`
	RemainingMinutes  float64 `json:"remaining_minutes_today" doc:"-1: unlimited"`
	ConcurrentStreams int     `json:"concurrent_streams"`
	MaxFrameBytes     int64   `json:"max_frame_bytes"`
	MaxBufferSeconds  float64 `json:"max_buffer_seconds"`
	MaxSessionSeconds float64 `json:"max_session_seconds"`
	IdleTimeout       float64 `json:"idle_timeout_seconds"`
	AuthTimeout       float64 `json:"auth_timeout_seconds"`
	ConfigTimeout     float64 `json:"config_timeout_seconds"`
	ChunkDuration     float64 `json:"default_chunk_duration"`
	OverlapDuration   float64 `json:"default_overlap_duration"`
}

func (s *audioAPI) handleStreamLimits(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	uid := principalFrom(ctx).UserID
	name, tier, err := s.o.AudioBudget.Tier(ctx, uid)
	if err != nil {
		return err
	}
	left, err := s.o.AudioBudget.Remaining(ctx, uid)
	if err != nil {
		return err
	}
	daily := tier.MinutesPerDay
	if s.o.AudioBudget == nil || s.o.AudioBudget.Ledger == nil {
		daily = -1
	}
	rem := -1.0
	if left >= 0 {
		rem = left.Minutes()
	}
	l := s.streamLimits()
	s.writeJSON(w, r, http.StatusOK, streamLimitsJSON{Tier: name, DailyMinutes: daily, RemainingMinutes: rem,
		ConcurrentStreams: tier.Streams, MaxFrameBytes: l.MaxFrameBytes, MaxBufferSeconds: l.MaxBuffered.Seconds(),
		MaxSessionSeconds: l.MaxSession.Seconds(), IdleTimeout: l.IdleTimeout.Seconds(), AuthTimeout: l.AuthTimeout.Seconds(),
		ConfigTimeout: l.ConfigTimeout.Seconds(), ChunkDuration: media.DefaultLiveChunk.Seconds(),
		OverlapDuration: media.DefaultLiveOverlap.Seconds()})
	return nil
}
