package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
)

// listen serves the audio server on a real listener (responses contract-checked).
func (as *audioServer) listen(t testing.TB) {
	t.Helper()
	as.hs = httptest.NewServer(checkedHandler(t, as.Server))
	t.Cleanup(as.hs.Close)
}

// dialStream opens the socket with query and header; it fails the test unless it upgrades.
func (as *audioServer) dialStream(t testing.TB, query string, header map[string]string) *websocket.Conn {
	t.Helper()
	c, resp, err := as.tryDial(query, header)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func (as *audioServer) tryDial(query string, header map[string]string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	u := "ws" + strings.TrimPrefix(as.hs.URL, "http") + "/api/v1/audio/stream/transcribe"
	if query != "" {
		u += "?" + query
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h, HTTPClient: as.hs.Client()})
	if c != nil {
		c.SetReadLimit(4 << 20)
	}
	return c, resp, err
}

// wsMsg is any server message.
type wsMsg map[string]any

// next reads the next message (5 s at most); a close fails the test.
func next(t testing.TB, c *websocket.Conn) wsMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m wsMsg
	if typ != websocket.MessageText || json.Unmarshal(b, &m) != nil {
		t.Fatalf("message %q is not JSON text", b)
	}
	return m
}

// until reads messages until one of type typ, returning those before it and it.
func until(t testing.TB, c *websocket.Conn, typ string) ([]wsMsg, wsMsg) {
	t.Helper()
	var before []wsMsg
	for {
		m := next(t, c)
		if m["type"] == typ {
			return before, m
		}
		if m["type"] == "error" {
			t.Fatalf("error while waiting for %s: %v", typ, m)
		}
		before = append(before, m)
	}
}

// wantClose reads until the socket closes and checks the close code; it returns the
// messages read before, the last of which is usually the error.
func wantClose(t testing.TB, c *websocket.Conn, code websocket.StatusCode) []wsMsg {
	t.Helper()
	var msgs []wsMsg
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			if got := websocket.CloseStatus(err); got != code {
				t.Fatalf("closed with %d (%v), want %d; messages %v", got, err, code, msgs)
			}
			return msgs
		}
		var m wsMsg
		_ = json.Unmarshal(b, &m)
		msgs = append(msgs, m)
	}
}

// wantErrorClose checks for an error message with code, then the close code.
func wantErrorClose(t testing.TB, c *websocket.Conn, errCode string, code websocket.StatusCode) wsMsg {
	t.Helper()
	msgs := wantClose(t, c, code)
	if len(msgs) == 0 || msgs[len(msgs)-1]["type"] != "error" || msgs[len(msgs)-1]["code"] != errCode ||
		msgs[len(msgs)-1]["error_type"] != errCode {
		t.Fatalf("messages before close %d = %v, want an error %q last", code, msgs, errCode)
	}
	return msgs[len(msgs)-1]
}

func sendJSON(t testing.TB, c *websocket.Conn, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := c.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// float32Audio is p as base64 float32 LE (what the JSON client sends).
func float32Audio(p media.PCM) string {
	b := make([]byte, 4*len(p))
	for i, v := range p {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(v)/32767))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// int16Audio is p as Int16 LE bytes (the browser extension's binary frames).
func int16Audio(p media.PCM) []byte {
	b := make([]byte, 2*len(p))
	for i, v := range p {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

func streamAuth(as *audioServer, kind string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + as.Accounts[kind].Access}
}

// TestAudioStreamJSONClient: the documented protocol with a config and base64 float32
// audio, header credentials: finals with absolute times and the overlap merged away, ping,
// commit, stop.
func TestAudioStreamJSONClient(t *testing.T) {
	as := newAudioServer(t)
	as.listen(t)
	c := as.dialStream(t, "", streamAuth(as, callerUser))
	if m := next(t, c); m["type"] != "status" || m["state"] != "ready" {
		t.Fatalf("first message = %v", m)
	}
	sendJSON(t, c, map[string]any{"type": "config", "sample_rate": 16000, "chunk_duration": 1.0,
		"overlap_duration": 0.3, "enable_partial": false, "language": "en"})
	if m := next(t, c); m["state"] != "configured" || m["chunk_duration"] != 1.0 || m["overlap_duration"] != 0.3 {
		t.Fatalf("config answer = %v", m)
	}
	for i := range 12 { // 2.4 s in 200 ms messages
		sendJSON(t, c, map[string]any{"type": "audio", "data": float32Audio(tickPCM(2*i, 200*time.Millisecond))})
	}
	sendJSON(t, c, map[string]string{"type": "ping"})
	finals, pong := until(t, c, "pong")
	if len(finals) != 2 || pong["type"] != "pong" {
		t.Fatalf("before pong: %v", finals)
	}
	f := finals[1]
	if f["type"] != "final" || f["is_final"] != true || f["text"] != tickWords(10, 20) || f["segment_id"] != 1.0 ||
		f["segment_start"] != 1.0 || f["segment_end"] != 2.0 || f["chunk_start"] != 0.7 || f["chunk_end"] != 2.0 ||
		f["new_audio_duration"] != 1.0 || f["overlap"] != 0.3 || f["chunk_duration"] != 1.0 || f["cumulative_audio"] != 2.0 {
		t.Errorf("final 1 = %v", f)
	}
	sendJSON(t, c, map[string]string{"type": "commit"})
	last, full := until(t, c, "full_transcript")
	if len(last) != 1 || last[0]["text"] != tickWords(20, 24) || full["text"] != tickWords(0, 24) {
		t.Errorf("commit: %v then %v", last, full)
	}
	// Bad messages are answered and the stream goes on.
	_ = c.Write(context.Background(), websocket.MessageText, []byte("{nope"))
	if m := next(t, c); m["code"] != "invalid_json" || m["message"] != "Invalid JSON" {
		t.Errorf("bad JSON: %v", m)
	}
	sendJSON(t, c, map[string]string{"type": "dance"})
	if m := next(t, c); m["code"] != "invalid_message" {
		t.Errorf("unknown type: %v", m)
	}
	sendJSON(t, c, map[string]string{"type": "audio"})
	if m := next(t, c); m["message"] != "Missing audio payload" {
		t.Errorf("no data: %v", m)
	}
	sendJSON(t, c, map[string]any{"type": "audio", "data": base64.StdEncoding.EncodeToString([]byte{1, 2, 3})})
	if m := next(t, c); m["code"] != "invalid_audio" {
		t.Errorf("3 bytes: %v", m)
	}
	// reset drops what is buffered: stop then finalises nothing new.
	sendJSON(t, c, map[string]any{"type": "audio", "data": float32Audio(tickPCM(24, 500*time.Millisecond))})
	sendJSON(t, c, map[string]string{"type": "reset"})
	if m := next(t, c); m["type"] != "status" || m["state"] != "reset" {
		t.Errorf("reset: %v", m)
	}
	sendJSON(t, c, map[string]string{"type": "stop"})
	before, full := until(t, c, "full_transcript")
	if len(before) != 0 || full["text"] != tickWords(0, 24) {
		t.Errorf("stop: %v then %v", before, full)
	}
	if m := next(t, c); m["type"] != "done" {
		t.Errorf("after the transcript: %v", m)
	}
	wantClose(t, c, websocket.StatusNormalClosure)
	// 2.4 s were transcribed: 1 + 1 + 0.4 s → 1 + 1 + 1 whole seconds.
	if left, _ := as.Budget.Remaining(context.Background(), as.Accounts[callerUser].User.ID); left != 30*time.Minute-3*time.Second {
		t.Errorf("minutes left = %s", left)
	}
}

// TestAudioStreamExtensionClient: the browser extension's raw Int16 16 kHz frames with no
// config (the defaults: 2 s windows, 0.5 s overlap, partials), credential in ?token=.
func TestAudioStreamExtensionClient(t *testing.T) {
	as := newAudioServer(t)
	as.listen(t)
	c := as.dialStream(t, "token="+as.Accounts[callerUser].Access, nil)
	next(t, c)          // ready
	for i := range 21 { // 4.2 s in 200 ms frames
		if err := c.Write(context.Background(), websocket.MessageBinary, int16Audio(tickPCM(2*i, 200*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
	}
	sendJSON(t, c, map[string]string{"type": "stop"})
	msgs, full := until(t, c, "full_transcript")
	var kinds []string
	for _, m := range msgs {
		kinds = append(kinds, m["type"].(string))
	}
	if got := strings.Join(kinds, ","); got != "status,partial,final,partial,final,final" {
		t.Errorf("messages = %s\n%v", got, msgs)
	}
	if msgs[0]["state"] != "configured" || msgs[0]["chunk_duration"] != 2.0 || msgs[0]["overlap_duration"] != 0.5 {
		t.Errorf("implicit config = %v", msgs[0])
	}
	if p := msgs[1]; p["text"] != tickWords(0, 10) || p["is_final"] != false || p["segment_id"] != 0.0 || p["buffer_duration"] != 1.0 {
		t.Errorf("partial = %v", p)
	}
	if f := msgs[4]; f["text"] != tickWords(20, 40) || f["chunk_start"] != 1.5 {
		t.Errorf("final 1 = %v", f)
	}
	if full["text"] != tickWords(0, 42) {
		t.Errorf("full transcript = %v", full["text"])
	}
	if m := next(t, c); m["type"] != "done" || m["media_id"] != nil {
		t.Errorf("done = %v", m)
	}
	wantClose(t, c, websocket.StatusNormalClosure)
}

// TestAudioStreamResample: float32 audio at 48 kHz is resampled to what the transcriber hears.
func TestAudioStreamResample(t *testing.T) {
	as := newAudioServer(t)
	as.listen(t)
	c := as.dialStream(t, "", map[string]string{"X-API-KEY": as.Accounts[callerService].APIKey})
	next(t, c)
	sendJSON(t, c, map[string]any{"type": "config", "sample_rate": 48000, "enable_partial": false})
	next(t, c)
	p := tickPCM(0, 3*time.Second) // 3 s at 16 kHz = 1 s at 48 kHz: send it as 48 kHz audio of 1 s
	sendJSON(t, c, map[string]any{"type": "audio", "data": float32Audio(p)})
	sendJSON(t, c, map[string]string{"type": "commit"})
	_, full := until(t, c, "full_transcript")
	// 1 s at 16 kHz holds every third 16 kHz block value of the 48 kHz stream: w0 w3 w6 ...
	var want []string
	for i := 0; i < 30; i += 3 {
		want = append(want, tickWords(i, i+1))
	}
	if full["text"] != strings.Join(want, " ") {
		t.Errorf("resampled transcript = %v, want %v", full["text"], want)
	}
	sendJSON(t, c, map[string]any{"type": "config"})
	if m := next(t, c); m["code"] != "invalid_config" {
		t.Errorf("second config: %v", m)
	}
}

// TestAudioStreamAuth: ?token=, a first auth message; refusals are an error then 4401 or 4403.
func TestAudioStreamAuth(t *testing.T) {
	as := newAudioServer(t)
	as.listen(t)
	c := as.dialStream(t, "", nil)
	sendJSON(t, c, map[string]string{"type": "auth", "token": as.Accounts[callerModerator].Access})
	if m := next(t, c); m["state"] != "ready" {
		t.Fatalf("after auth message: %v", m)
	}
	c.Close(websocket.StatusNormalClosure, "")

	for _, tc := range []struct {
		name, query string
		header      map[string]string
		first       any
		code        websocket.StatusCode
		errCode     string
	}{
		{"bad header", "", map[string]string{"Authorization": "Bearer nope"}, nil, wsCloseAuth, "not_authenticated"},
		{"bad query token", "token=nope", nil, nil, wsCloseAuth, "not_authenticated"},
		{"bad auth message", "", nil, map[string]string{"type": "auth", "token": "nope"}, wsCloseAuth, "not_authenticated"},
		{"config first", "", nil, map[string]string{"type": "config"}, wsCloseAuth, "not_authenticated"},
		{"no message", "", nil, nil, wsCloseAuth, "auth_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := as.dialStream(t, tc.query, tc.header)
			if tc.first != nil {
				sendJSON(t, c, tc.first)
			}
			wantErrorClose(t, c, tc.errCode, tc.code)
		})
	}
	// A read-only API key may not stream: 4403, after the upgrade or its auth message.
	_, readOnly := as.createKey(t, as.Accounts[callerUser], auth.ScopeRead)
	c = as.dialStream(t, "", map[string]string{"X-API-KEY": readOnly})
	wantErrorClose(t, c, "forbidden", wsCloseForbidden)
	c = as.dialStream(t, "", nil)
	sendJSON(t, c, map[string]string{"type": "auth", "token": readOnly})
	wantErrorClose(t, c, "forbidden", wsCloseForbidden)
	// Without an upgrade the gate answers as on any route.
	if rec := as.call(t, callerAnonymous, "GET", "/api/v1/audio/stream/transcribe", "", nil); rec.Code != 401 {
		t.Errorf("anonymous GET = %d", rec.Code)
	}
	if rec := as.call(t, callerAnonymous, "GET", "/api/v1/audio/stream/transcribe", "", map[string]string{"Authorization": "Bearer nope"}); rec.Code != 401 {
		t.Errorf("bad token GET = %d", rec.Code)
	}
	if rec := as.call(t, callerUser, "GET", "/api/v1/audio/stream/transcribe?token=x&token=y", "", map[string]string{"Authorization": ""}); rec.Code != 401 {
		t.Errorf("two tokens = %d", rec.Code)
	}
}

// TestAudioStreamOrigin: a browser page from an origin outside ALLOWED_ORIGINS is refused
// before the upgrade; listed origins and non-browser clients pass.
func TestAudioStreamOrigin(t *testing.T) {
	as := newAudioServer(t, func(o *Options) {
		o.AllowedOrigins = []string{"chrome-extension://abcdef", "https://*.example.org"}
	})
	as.listen(t)
	for origin, ok := range map[string]bool{
		"https://evil.example.com":  false,
		"chrome-extension://abcdef": true,
		"https://app.example.org":   true,
		"https://example.org.evil":  false,
		"chrome-extension://zzz":    false,
		"":                          true,
		strings.Replace(as.hs.URL, "127", "127", 1): true,
	} {
		h := streamAuth(as, callerUser)
		if origin != "" {
			h["Origin"] = origin
		}
		c, resp, err := as.tryDial("", h)
		if ok != (err == nil) {
			t.Errorf("origin %q: %v (%v)", origin, err, resp)
		}
		if !ok && resp != nil && resp.StatusCode != 403 {
			t.Errorf("origin %q: %d", origin, resp.StatusCode)
		}
		if c != nil {
			c.CloseNow()
		}
	}
}

// TestAudioStreamQuota: concurrent streams past the tier, and minutes used up, close 4003.
func TestAudioStreamQuota(t *testing.T) {
	as := newAudioServer(t)
	as.listen(t)
	first := as.dialStream(t, "", streamAuth(as, callerUser))
	next(t, first)
	second := as.dialStream(t, "", streamAuth(as, callerUser))
	if m := wantErrorClose(t, second, "quota_exceeded", wsCloseQuota); m["quota"] != "concurrent_streams" {
		t.Errorf("streams error = %v", m)
	}
	first.Close(websocket.StatusNormalClosure, "")
	as.Budget.Tiers = map[string]media.AudioTier{media.TierFree: {MinutesPerDay: 0, Streams: 1}}
	// The slot of the first stream is released when its handler returns: retry until then.
	var c *websocket.Conn
	deadline := time.Now().Add(5 * time.Second)
	for {
		c = as.dialStream(t, "", streamAuth(as, callerUser))
		if m := next(t, c); m["type"] == "status" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first stream's slot was never released")
		}
	}
	if err := c.Write(context.Background(), websocket.MessageBinary, int16Audio(tickPCM(0, 2*time.Second))); err != nil {
		t.Fatal(err)
	}
	if m := wantErrorClose(t, c, "quota_exceeded", wsCloseQuota); m["quota"] != "daily_minutes" {
		t.Errorf("minutes error = %v", m)
	}
}

// TestAudioStreamBounds: an oversized frame closes 1009, an idle stream 1008, a stream that
// never configures 1008, one past its session length 1008.
func TestAudioStreamBounds(t *testing.T) {
	as := newAudioServer(t, func(o *Options) {
		o.AudioStream.MaxFrameBytes = 4096
		o.AudioStream.IdleTimeout = 300 * time.Millisecond
		o.AudioStream.ConfigTimeout = 10 * time.Second
		o.AudioStream.MaxSession = 3 * time.Second
	})
	as.Budget.Tiers = map[string]media.AudioTier{media.TierFree: {MinutesPerDay: 10, Streams: 10}}
	as.listen(t)
	c := as.dialStream(t, "", streamAuth(as, callerUser))
	next(t, c)
	_ = c.Write(context.Background(), websocket.MessageBinary, make([]byte, 8192))
	wantClose(t, c, websocket.StatusMessageTooBig)

	c = as.dialStream(t, "", streamAuth(as, callerUser))
	next(t, c)
	wantErrorClose(t, c, "idle_timeout", websocket.StatusPolicyViolation)

	c = as.dialStream(t, "", streamAuth(as, callerUser))
	next(t, c)
	for i := range 40 { // 4 s in 100 ms frames of 3200 bytes: past 3 s the stream ends
		if err := c.Write(context.Background(), websocket.MessageBinary, int16Audio(tickPCM(i, 100*time.Millisecond))); err != nil {
			break
		}
	}
	wantErrorClose(t, c, "limit_exceeded", websocket.StatusPolicyViolation)

	slow := newAudioServer(t, func(o *Options) { o.AudioStream.ConfigTimeout = 200 * time.Millisecond })
	slow.listen(t)
	c = slow.dialStream(t, "", streamAuth(slow, callerUser))
	next(t, c)
	sendJSON(t, c, map[string]string{"type": "ping"}) // keeps it from idling, does not configure
	next(t, c)
	wantErrorClose(t, c, "config_timeout", websocket.StatusPolicyViolation)
}

// TestAudioStreamDrain: CloseStreams ends open streams with an error and 1013, also while a
// window is being transcribed; streams opened afterwards close at once the same way.
func TestAudioStreamDrain(t *testing.T) {
	as := newAudioServer(t, func(o *Options) { o.Transcriber = tickTranscriber(time.Hour) })
	as.listen(t)
	c := as.dialStream(t, "", streamAuth(as, callerUser))
	next(t, c)
	if err := c.Write(context.Background(), websocket.MessageBinary, int16Audio(tickPCM(0, 2*time.Second))); err != nil {
		t.Fatal(err)
	}
	// Wait until the transcription is running: the stream is counted as active.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(as.call(t, callerAdmin, "GET", "/api/v1/audio/stream/status", "", nil).Body.String(), `"active_streams":1`) {
		if time.Now().After(deadline) {
			t.Fatal("the stream never became active")
		}
		time.Sleep(10 * time.Millisecond)
	}
	as.CloseStreams()
	wantErrorClose(t, c, "server_draining", websocket.StatusTryAgainLater)
	c = as.dialStream(t, "", streamAuth(as, callerUser))
	wantErrorClose(t, c, "server_draining", websocket.StatusTryAgainLater)
}

// TestAudioStreamPersist: persist=true stores the session's audio as an audio item whose
// content is the transcript.
func TestAudioStreamPersist(t *testing.T) {
	as := newAudioServer(t)
	as.listen(t)
	c := as.dialStream(t, "persist=true", streamAuth(as, callerUser))
	next(t, c)
	for i := range 5 {
		_ = c.Write(context.Background(), websocket.MessageBinary, int16Audio(tickPCM(2*i, 200*time.Millisecond)))
	}
	sendJSON(t, c, map[string]string{"type": "stop"})
	_, full := until(t, c, "full_transcript")
	done := next(t, c)
	id, ok := done["media_id"].(float64)
	if done["type"] != "done" || !ok || full["text"] != tickWords(0, 10) {
		t.Fatalf("done = %v, transcript %v", done, full)
	}
	uid := as.Accounts[callerUser].User.ID
	ctx := context.Background()
	content, err := as.Proc.Content(ctx, uid, int64(id))
	if err != nil || content.Text != tickWords(0, 10) || len(content.Segments) != 1 || content.Segments[0].End != time.Second {
		t.Fatalf("content = %+v, %v", content, err)
	}
	rec := as.call(t, callerUser, "GET", "/api/v1/media/"+strings.TrimSuffix(strings.TrimSuffix(jsonNum(id), ".0"), ".")+"/file", "", nil)
	if rec.Code != 200 {
		t.Fatalf("file = %d", rec.Code)
	}
	p, err := media.PCMFromInt16LE([]byte(rec.Body.String()[44:]))
	if err != nil || p.Duration() != time.Second || !strings.HasPrefix(rec.Body.String(), "RIFF") {
		t.Errorf("stored audio: %s, %v", p.Duration(), err)
	}
	// persist without media storage is refused before the upgrade.
	bare := newAudioServer(t, func(o *Options) { o.Media = nil })
	bare.listen(t)
	if _, resp, err := bare.tryDial("persist=1", streamAuth(bare, callerUser)); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("persist without media: %v %v", err, resp)
	}
}

func jsonNum(f float64) string { b, _ := json.Marshal(f); return string(b) }
