package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
)

// GET /api/v1/audio/stream/transcribe is tldw's streaming transcription socket
// (tldw-server-api-facts.md §5.1), served with a media.LiveSession:
//
//   - Credentials: a header (Authorization, X-API-KEY, the cookie), ?token=, or a first text
//     message {"type":"auth","token":...} within AuthTimeout (5 s). A rejected credential is
//     answered after the upgrade, where browsers can read it: an error message, then close
//     4401 (not authenticated, or no auth message in time) or 4403 (not permitted).
//   - A config message {"type":"config","sample_rate","chunk_duration","overlap_duration",
//     "language","enable_partial","model"} within ConfigTimeout (15 s). A first binary frame
//     (or audio message) instead starts the defaults: that is what the browser extension
//     does, sending raw Int16 LE 16 kHz mono PCM.
//   - Then audio: {"type":"audio","data":base64 float32 LE mono at sample_rate} or binary
//     frames of Int16 LE at sample_rate (other rates are resampled linearly to 16 kHz);
//     commit, reset, stop, ping.
//   - Replies: status (ready, configured, reset), partial, final, full_transcript (after
//     commit and stop), pong, error {code, error_type (the same), message}, done (after
//     stop, with media_id when persist=true stored the session).
//   - Closes: 4401, 4403, 4003 quota exceeded (transcription minutes or concurrent streams;
//     the error's quota says which), 1013 when the server drains (CloseStreams), 1009 for a
//     message over MaxFrameBytes, 1008 for an idle or unconfigured stream or one past its
//     bounds, 1011 when the transcriber fails, 1000 after stop.
//
// Windows are transcribed in the reading goroutine: a client that sends faster than the
// transcriber hears is slowed by TCP back-pressure, and MaxBuffered bounds what waits.

// AudioStreamLimits bound streaming transcription sessions; zero fields take the defaults.
type AudioStreamLimits struct {
	MaxFrameBytes int64         // one WebSocket message; 0 → 1 MiB; larger closes with 1009
	MaxBuffered   time.Duration // audio waiting to be transcribed; 0 → media.DefaultLiveMaxBuffered
	MaxSession    time.Duration // audio of one session; 0 → media.DefaultLiveMaxSession
	IdleTimeout   time.Duration // no message for this long closes the stream; 0 → 60 s
	AuthTimeout   time.Duration // for the first-message auth; 0 → 5 s
	ConfigTimeout time.Duration // for the config message or first audio; 0 → 15 s
}

// Defaults of AudioStreamLimits.
const (
	DefaultStreamFrameBytes    = 1 << 20
	DefaultStreamIdleTimeout   = 60 * time.Second
	DefaultStreamAuthTimeout   = 5 * time.Second
	DefaultStreamConfigTimeout = 15 * time.Second
)

// The socket's own close codes (tldw's).
const (
	wsCloseAuth      websocket.StatusCode = 4401
	wsCloseForbidden websocket.StatusCode = 4403
	wsCloseQuota     websocket.StatusCode = 4003
)

// streamQuery documents the socket's query parameters.
var streamQuery = []param{
	{Name: "token", Description: "An access token or API key (browsers cannot set headers on a WebSocket)"},
	{Name: "persist", Type: "boolean", Description: "On stop, store the session's audio as an audio media item with its transcript"},
	{Name: "persist_transcript", Type: "boolean", Description: "Alias of persist"},
	{Name: "transcription_model", Description: "Model for the transcriber (config's model wins)"},
}

// streamLimits is Options.AudioStream with the defaults filled in.
func (s *audioAPI) streamLimits() AudioStreamLimits {
	l := s.o.AudioStream
	if l.MaxFrameBytes <= 0 {
		l.MaxFrameBytes = DefaultStreamFrameBytes
	}
	if l.MaxBuffered <= 0 {
		l.MaxBuffered = media.DefaultLiveMaxBuffered
	}
	if l.MaxSession <= 0 {
		l.MaxSession = media.DefaultLiveMaxSession
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultStreamIdleTimeout
	}
	if l.AuthTimeout <= 0 {
		l.AuthTimeout = DefaultStreamAuthTimeout
	}
	if l.ConfigTimeout <= 0 {
		l.ConfigTimeout = DefaultStreamConfigTimeout
	}
	return l
}

// wsOriginAllowed reports whether a WebSocket may be opened from r's Origin: none (not a
// browser), the server's own host, or one listed in ALLOWED_ORIGINS (exactly, or
// scheme://*.domain). "*" does not count: a cookie-authenticated page elsewhere must not
// open the socket.
func (s *audioAPI) wsOriginAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	if u, err := url.Parse(o); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	lo := strings.ToLower(o)
	for _, a := range s.o.AllowedOrigins {
		a = strings.ToLower(a)
		if a == lo {
			return true
		}
		if scheme, domain, ok := strings.Cut(a, "://*."); ok && strings.HasPrefix(lo, scheme+"://") &&
			strings.HasSuffix(lo, "."+domain) && !strings.ContainsAny(strings.TrimPrefix(lo, scheme+"://"), "/:@") {
			return true
		}
	}
	return false
}

// wsMessage is any client message.
type wsMessage struct {
	Type          string   `json:"type"`
	Token         string   `json:"token"`
	Data          *string  `json:"data"`
	SampleRate    int      `json:"sample_rate"`
	ChunkDuration float64  `json:"chunk_duration"`
	Overlap       *float64 `json:"overlap_duration"`
	Language      string   `json:"language"`
	EnablePartial *bool    `json:"enable_partial"`
	Model         string   `json:"model"`
}

// wsErrorMessage is the error reply; ErrorType repeats Code for older clients.
type wsErrorMessage struct {
	Type      string `json:"type"`
	Code      string `json:"code"`
	ErrorType string `json:"error_type"`
	Message   string `json:"message"`
	Quota     string `json:"quota,omitempty"`
}

// handleStream serves the socket (see above).
func (s *audioAPI) handleStream(w http.ResponseWriter, r *http.Request) error {
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		if err := authRefusalFrom(r.Context()); err != nil {
			return err
		}
		if principalFrom(r.Context()) == nil {
			return errNotAuthenticated
		}
		return errUpgradeRequired
	}
	if !s.wsOriginAllowed(r) {
		return errCrossOrigin
	}
	if s.o.Transcriber == nil {
		return errTranscriptionUnavailable
	}
	q := r.URL.Query()
	persist := queryBool(q, "persist") || queryBool(q, "persist_transcript")
	if persist && s.o.Media == nil {
		return Errorf(http.StatusServiceUnavailable, "service_unavailable", "media storage is not configured: persist is not available")
	}
	lim := s.streamLimits()
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // origin checked above
	if err != nil {
		s.logger(r).DebugContext(r.Context(), "websocket handshake failed", "error", err)
		return nil
	}
	defer conn.CloseNow()
	conn.SetReadLimit(lim.MaxFrameBytes)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	st := &wsStream{api: s, conn: conn, cancel: cancel, r: r, lim: lim, persist: persist,
		model: q.Get("transcription_model")}
	drain := func() {
		st.fail(websocket.StatusTryAgainLater, "server_draining", "The server is shutting down; reconnect later", "")
	}
	if s.streams.Err() != nil {
		drain()
		return nil
	}
	defer context.AfterFunc(s.streams, drain)()
	p, ok := st.authenticate(ctx)
	if !ok {
		return nil
	}
	st.p = p
	release, err := s.o.AudioBudget.OpenStream(ctx, p.UserID)
	if err != nil {
		st.failErr(err)
		return nil
	}
	defer release()
	s.active.Add(1)
	defer s.active.Add(-1)
	defer st.close()
	st.send(ctx, map[string]string{"type": "status", "state": "ready"})
	st.serve(ctx)
	return nil
}

// queryBool reads a boolean query parameter (absent or unparsable: false).
func queryBool(q url.Values, name string) bool {
	b, _ := strconv.ParseBool(q.Get(name))
	return b
}

// wsStream is one open socket.
type wsStream struct {
	api     *audioAPI
	conn    *websocket.Conn
	cancel  context.CancelFunc
	r       *http.Request
	lim     AudioStreamLimits
	persist bool
	model   string
	p       *auth.Principal
	sess    *media.LiveSession
	rate    int // of the client's audio

	once sync.Once // the first fail closes
}

// send writes one JSON message, bounded by streamWriteTimeout.
func (st *wsStream) send(ctx context.Context, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, streamWriteTimeout)
	defer cancel()
	return st.conn.Write(wctx, websocket.MessageText, b) == nil
}

// fail sends an error message and closes with code; only the first call does anything.
// It stops a running transcription (the stream's context is cancelled).
func (st *wsStream) fail(code websocket.StatusCode, errCode, msg, quota string) {
	st.once.Do(func() {
		st.send(context.Background(), wsErrorMessage{Type: "error", Code: errCode, ErrorType: errCode, Message: msg, Quota: quota})
		st.cancel()
		_ = st.conn.Close(code, truncateUTF8(msg, 120))
	})
}

// failErr fails the stream for err: a used-up budget is 4003, a refused credential
// 4401/4403, a stream past its bounds 1008, anything else 1011 (logged).
func (st *wsStream) failErr(err error) {
	var be *media.BudgetError
	var e *Error
	switch {
	case errors.As(err, &be):
		quota := "daily_minutes"
		if be.Code == media.CodeAudioStreams {
			quota = "concurrent_streams"
		}
		st.fail(wsCloseQuota, "quota_exceeded", budgetMessage(be.Code), quota)
	case errors.As(err, &e) && e.Status == http.StatusForbidden:
		st.fail(wsCloseForbidden, e.Code, e.Detail, "")
	case errors.As(err, &e) && e.Status == http.StatusUnauthorized:
		st.fail(wsCloseAuth, e.Code, e.Detail, "")
	case errors.Is(err, media.ErrTooLarge):
		st.fail(websocket.StatusPolicyViolation, "limit_exceeded", detailFor(err, media.ErrTooLarge, "Stream limit exceeded"), "")
	case errors.Is(err, context.Canceled):
		// closed by fail already (drain, idle)
	default:
		st.api.logger(st.r).ErrorContext(st.r.Context(), "audio stream failed", "error", err)
		st.fail(websocket.StatusInternalError, "transcription_failed", "Transcription failed", "")
	}
}

func budgetMessage(code string) string {
	if code == media.CodeAudioStreams {
		return "Too many concurrent audio streams for your tier"
	}
	return "Daily transcription minutes used up; they renew at 00:00 UTC"
}

// authenticate returns the stream's principal: the gate's, or the first message's. On
// failure it has closed the socket (4401/4403).
func (st *wsStream) authenticate(ctx context.Context) (*auth.Principal, bool) {
	if err := authRefusalFrom(st.r.Context()); err != nil {
		st.failErr(err)
		return nil, false
	}
	if p := principalFrom(st.r.Context()); p != nil {
		return p, true
	}
	authFn, _ := st.r.Context().Value(lateAuthKey{}).(lateAuthFunc)
	timer := time.AfterFunc(st.lim.AuthTimeout, func() {
		st.fail(wsCloseAuth, "auth_timeout", "No auth message in time", "")
	})
	typ, data, err := st.conn.Read(ctx)
	if !timer.Stop() || err != nil {
		st.fail(wsCloseAuth, "not_authenticated", wsReasonAuthRequired, "")
		return nil, false
	}
	var m wsMessage
	if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil || m.Type != "auth" || strings.TrimSpace(m.Token) == "" || authFn == nil {
		st.fail(wsCloseAuth, "not_authenticated", "The first message must be {\"type\":\"auth\",\"token\":...}", "")
		return nil, false
	}
	p, err := authFn(ctx, strings.TrimSpace(m.Token))
	if err != nil {
		st.failErr(err)
		return nil, false
	}
	return p, true
}

// serve reads messages until stop, a failure or the client leaves.
func (st *wsStream) serve(ctx context.Context) {
	idle := time.AfterFunc(st.lim.IdleTimeout, func() {
		st.fail(websocket.StatusPolicyViolation, "idle_timeout", "No message for "+st.lim.IdleTimeout.String(), "")
	})
	defer idle.Stop()
	unconfigured := time.AfterFunc(st.lim.ConfigTimeout, func() {
		st.fail(websocket.StatusPolicyViolation, "config_timeout", "No config message in time", "")
	})
	defer unconfigured.Stop()
	for {
		typ, data, err := st.conn.Read(ctx)
		if err != nil {
			return // the client left, a frame was too large (1009), or fail closed the socket
		}
		if !idle.Stop() {
			return
		}
		if done := st.handle(ctx, typ, data, unconfigured); done {
			return
		}
		idle.Reset(st.lim.IdleTimeout)
	}
}

// handle answers one message; it reports whether the stream is over.
func (st *wsStream) handle(ctx context.Context, typ websocket.MessageType, data []byte, unconfigured *time.Timer) bool {
	if typ == websocket.MessageBinary {
		if !st.start(ctx, wsMessage{}, unconfigured) {
			return true
		}
		p, err := media.PCMFromInt16LE(data)
		if err == nil && st.rate != media.SampleRate {
			p = resampleInt16(p, st.rate)
		}
		return st.write(ctx, p, err)
	}
	var m wsMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return !st.sendError(ctx, "invalid_json", "Invalid JSON")
	}
	switch m.Type {
	case "auth": // a credential already given another way
		return false
	case "ping":
		return !st.send(ctx, map[string]string{"type": "pong"})
	case "config":
		if st.sess != nil {
			return !st.sendError(ctx, "invalid_config", "The stream is configured already")
		}
		return !st.start(ctx, m, unconfigured)
	case "audio":
		if m.Data == nil || *m.Data == "" {
			return !st.sendError(ctx, "invalid_audio", "Missing audio payload")
		}
		if !st.start(ctx, wsMessage{}, unconfigured) {
			return true
		}
		raw, err := base64.StdEncoding.DecodeString(*m.Data)
		if err != nil {
			return !st.sendError(ctx, "invalid_audio", "Audio data is not base64")
		}
		p, err := media.PCMFromFloat32LE(raw, st.rate)
		return st.write(ctx, p, err)
	case "commit":
		if st.sess == nil {
			return !st.send(ctx, map[string]string{"type": "full_transcript", "text": ""})
		}
		rs, err := st.sess.Commit(ctx)
		if !st.results(ctx, rs, err) {
			return true
		}
		return !st.send(ctx, map[string]string{"type": "full_transcript", "text": st.sess.Transcript().Text})
	case "reset":
		if st.sess != nil {
			st.sess.Reset()
		}
		return !st.send(ctx, map[string]string{"type": "status", "state": "reset"})
	case "stop":
		st.stop(ctx)
		return true
	}
	return !st.sendError(ctx, "invalid_message", "Unknown message type")
}

// sendError sends a non-fatal error message.
func (st *wsStream) sendError(ctx context.Context, code, msg string) bool {
	return st.send(ctx, wsErrorMessage{Type: "error", Code: code, ErrorType: code, Message: msg})
}

// start begins the session with config m (zero: the defaults) unless it has begun. It
// reports whether the stream goes on: an invalid config is answered and waits for another.
func (st *wsStream) start(ctx context.Context, m wsMessage, unconfigured *time.Timer) bool {
	if st.sess != nil {
		return true
	}
	model := m.Model
	if model == "" {
		model = st.model
	}
	o := media.LiveOptions{Transcriber: st.api.o.Transcriber, Budget: st.api.o.AudioBudget, UserID: st.p.UserID,
		ChunkDuration: seconds(m.ChunkDuration), Language: m.Language, Model: model, Partial: true,
		MaxBuffered: st.lim.MaxBuffered, MaxSession: st.lim.MaxSession, KeepAudio: st.persist}
	if m.Overlap != nil {
		o.Overlap = seconds(*m.Overlap)
		if *m.Overlap == 0 {
			o.Overlap = -1
		}
	}
	if m.EnablePartial != nil {
		o.Partial = *m.EnablePartial
	}
	rate := cmpOr(m.SampleRate, media.SampleRate)
	if rate < 8000 || rate > 192000 {
		return st.sendError(ctx, "invalid_config", "sample_rate must be between 8000 and 192000")
	}
	if m.ChunkDuration < 0 || (m.Overlap != nil && *m.Overlap < 0) {
		return st.sendError(ctx, "invalid_config", "chunk_duration and overlap_duration must not be negative")
	}
	sess, err := media.NewLiveSession(o)
	if errors.Is(err, media.ErrInvalid) {
		return st.sendError(ctx, "invalid_config", detailFor(err, media.ErrInvalid, "Invalid config"))
	}
	if err != nil {
		st.failErr(err)
		return false
	}
	unconfigured.Stop()
	st.sess, st.rate = sess, rate
	return st.send(ctx, map[string]any{"type": "status", "state": "configured", "sample_rate": rate,
		"chunk_duration": sess.Options().ChunkDuration.Seconds(), "overlap_duration": max(0, sess.Options().Overlap).Seconds(),
		"enable_partial": o.Partial})
}

// write feeds decoded audio to the session and sends its results. Undecodable audio is a
// non-fatal error.
func (st *wsStream) write(ctx context.Context, p media.PCM, decodeErr error) bool {
	if decodeErr != nil {
		return !st.sendError(ctx, "invalid_audio", detailFor(decodeErr, media.ErrInvalid, "Invalid audio"))
	}
	rs, err := st.sess.Write(ctx, p)
	return !st.results(ctx, rs, err)
}

// results sends partial and final results; a session error fails the stream. It reports
// whether the stream goes on.
func (st *wsStream) results(ctx context.Context, rs []media.LiveResult, err error) bool {
	o := st.sess.Options()
	for _, r := range rs {
		var m any
		if r.Final {
			m = wsFinal{Type: "final", Text: r.Text, IsFinal: true, SegmentID: r.SegmentID, SegmentStart: r.Start.Seconds(),
				SegmentEnd: r.End.Seconds(), ChunkDuration: o.ChunkDuration.Seconds(), Overlap: max(0, o.Overlap).Seconds(),
				ChunkStart: r.ChunkStart.Seconds(), ChunkEnd: r.End.Seconds(), NewAudio: (r.End - r.Start).Seconds(),
				Cumulative: r.Cumulative.Seconds()}
		} else {
			m = wsPartial{Type: "partial", Text: r.Text, SegmentID: r.SegmentID, SegmentStart: r.Start.Seconds(),
				SegmentEnd: r.End.Seconds(), Buffered: r.Buffered.Seconds(), Cumulative: r.Cumulative.Seconds()}
		}
		if !st.send(ctx, m) {
			return false
		}
	}
	if err != nil {
		st.failErr(err)
		return false
	}
	return true
}

// wsPartial and wsFinal are the result messages (times in seconds of the session's audio).
type wsPartial struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	IsFinal      bool    `json:"is_final"`
	SegmentID    int     `json:"segment_id"`
	SegmentStart float64 `json:"segment_start"`
	SegmentEnd   float64 `json:"segment_end"`
	Buffered     float64 `json:"buffer_duration"`
	Cumulative   float64 `json:"cumulative_audio"`
}

type wsFinal struct {
	Type          string  `json:"type"`
	Text          string  `json:"text"`
	IsFinal       bool    `json:"is_final"`
	SegmentID     int     `json:"segment_id"`
	SegmentStart  float64 `json:"segment_start"`
	SegmentEnd    float64 `json:"segment_end"`
	ChunkDuration float64 `json:"chunk_duration"`
	Overlap       float64 `json:"overlap"`
	ChunkStart    float64 `json:"chunk_start"`
	ChunkEnd      float64 `json:"chunk_end"`
	NewAudio      float64 `json:"new_audio_duration"`
	Cumulative    float64 `json:"cumulative_audio"`
}

// stop finalises the session: the last results, the full transcript, the stored item
// (persist), done, and a normal close.
func (st *wsStream) stop(ctx context.Context) {
	done := map[string]any{"type": "done"}
	if st.sess != nil {
		rs, err := st.sess.Commit(ctx)
		if !st.results(ctx, rs, err) {
			return
		}
		if !st.send(ctx, map[string]string{"type": "full_transcript", "text": st.sess.Transcript().Text}) {
			return
		}
		if st.persist {
			id, err := st.store(ctx)
			if err != nil {
				st.failErr(err)
				return
			}
			done["media_id"] = id
		}
	}
	st.send(ctx, done)
	st.once.Do(func() { _ = st.conn.Close(websocket.StatusNormalClosure, "") })
}

// store saves the session's audio as an audio item through Media's upload path, with the
// transcript as its content. When Media has processing jobs, the new item's job transcribes
// the stored WAV again with the same transcriber (its content is then the pipeline's); the
// content is set here only for a Media without jobs, so the two never race.
func (st *wsStream) store(ctx context.Context) (int64, error) {
	svc := st.api.o.Media
	f, err := os.CreateTemp("", "tldw-live-*.wav")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := st.sess.SaveWAV(f.Name()); err != nil {
		return 0, err
	}
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	now := st.api.now().UTC()
	r := st.r.WithContext(withPrincipal(st.r.Context(), st.p))
	actor := (&mediaAPI{st.api.core}).mediaActor(r)
	res, err := svc.Upload(ctx, media.Upload{Actor: actor, Filename: "live-" + now.Format("20060102-150405") + ".wav",
		MediaType: "audio", Title: "Live transcription " + now.Format(time.RFC3339), Body: f, DeclaredSize: info.Size()})
	if err != nil {
		return 0, err
	}
	tr := st.sess.Transcript()
	if res.Outcome == media.OutcomeCreated && svc.Jobs == nil && svc.Processing != nil {
		c := &media.Content{ItemID: res.Item.ID, UserID: st.p.UserID, Text: tr.Text, WordCount: media.WordCount(tr.Text),
			Segments: tr.Segments, Metadata: map[string]string{"source": "live_stream"}, UpdatedAt: now}
		if err := svc.Processing.SetContent(ctx, c); err != nil {
			return 0, fmt.Errorf("store live transcript: %w", err)
		}
	}
	return res.Item.ID, nil
}

// close ends the session (its temporary files).
func (st *wsStream) close() {
	if st.sess != nil {
		_ = st.sess.Close()
	}
}

// seconds converts a config value in seconds.
func seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// resampleInt16 resamples Int16 samples at rate Hz to 16 kHz.
func resampleInt16(p media.PCM, rate int) media.PCM {
	f := make([]float32, len(p))
	for i, v := range p {
		f[i] = float32(v) / 32767
	}
	return media.Resample(f, rate)
}
