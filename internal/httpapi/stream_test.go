package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// streamFixture is a test server on a real listener with test-only streaming routes:
//
//	/test/sse        SSE: a "hello" event naming the principal, then every event of events
//	/test/sse-plain  a hand-written event stream on a route that does not declare itself streaming
//	/test/ws         WebSocket: a hello message naming the principal, then echoes every message
//
// served receives each request's path after ServeHTTP returned (access log written).
type streamFixture struct {
	*testServer
	hs                  *httptest.Server
	events, plainEvents chan sseEvent // for /test/sse and /test/sse-plain
	served              chan string
}

// newStreamFixture starts the fixture with the http.Server's ReadTimeout and WriteTimeout
// set to timeout (0 = none); adjust changes the core before the server starts.
func newStreamFixture(t *testing.T, timeout time.Duration, adjust ...func(*core)) *streamFixture {
	t.Helper()
	f := &streamFixture{events: make(chan sseEvent, 1), plainEvents: make(chan sseEvent, 1), served: make(chan string, 16)}
	sse := func(events chan sseEvent) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			ch := make(chan sseEvent)
			go func() {
				defer close(ch)
				select {
				case ch <- sseEvent{Name: "hello", Data: map[string]string{"user": principalFrom(r.Context()).Username}}:
				case <-r.Context().Done():
					return
				}
				for {
					select {
					case ev := <-events:
						select {
						case ch <- ev:
						case <-r.Context().Done():
							return
						}
					case <-r.Context().Done():
						return
					}
				}
			}()
			return f.Server.serveSSE(w, r, ch)
		}
	}
	plain := func(w http.ResponseWriter, r *http.Request) error { // writes events without serveSSE
		fl := w.(http.Flusher)
		_, _ = io.WriteString(w, "event: hello\ndata: {}\n\n")
		fl.Flush()
		for {
			select {
			case ev := <-f.plainEvents:
				if _, err := io.WriteString(w, "event: "+ev.Name+"\ndata: {}\n\n"); err != nil {
					return nil
				}
				fl.Flush()
			case <-r.Context().Done():
				return nil
			}
		}
	}
	ws := func(w http.ResponseWriter, r *http.Request) error {
		conn, ctx, err := f.Server.acceptWebSocket(w, r)
		if conn == nil {
			return err
		}
		defer conn.CloseNow()
		hello, _ := json.Marshal(map[string]string{"user": principalFrom(ctx).Username})
		if err := conn.Write(ctx, websocket.MessageText, hello); err != nil {
			return nil
		}
		for {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				return nil
			}
			if err := conn.Write(ctx, typ, msg); err != nil {
				return nil
			}
		}
	}
	f.testServer = newTestServer(t, func(c *testServerConfig) {
		c.Extra = []route{
			{Method: http.MethodGet, Path: "/test/sse", Stream: streamSSE, Produces: "text/event-stream", Handler: sse(f.events)},
			{Method: http.MethodGet, Path: "/test/sse-plain", Produces: "text/event-stream", Handler: plain},
			{Method: http.MethodGet, Path: "/test/ws", Stream: streamWebSocket, Handler: ws},
		}
	})
	for _, a := range adjust {
		a(f.core)
	}
	f.hs = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.ServeHTTP(w, r)
		f.served <- r.URL.Path
	}))
	f.hs.Config.WriteTimeout, f.hs.Config.ReadTimeout = timeout, timeout
	f.hs.Config.RegisterOnShutdown(f.CloseStreams)
	f.hs.Start()
	t.Cleanup(f.hs.Close)
	return f
}

// openSSE starts a GET of path with header and returns the response (status checked by the
// caller) and a reader of its body.
func (f *streamFixture) openSSE(t *testing.T, path string, header map[string]string) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.hs.URL+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := f.hs.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body)
}

// readEvent reads one event (or comment) block: its lines without the blank separator.
func readEvent(br *bufio.Reader) ([]string, error) {
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return lines, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return lines, nil
		}
		lines = append(lines, line)
	}
}

// dialWS opens /test/ws (with query) sending header; it returns the connection or the
// handshake's HTTP response on failure.
func (f *streamFixture) dialWS(t *testing.T, query string, header map[string]string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	u := "ws" + strings.TrimPrefix(f.hs.URL, "http") + "/test/ws" + query
	c, resp, err := websocket.Dial(context.Background(), u, &websocket.DialOptions{HTTPHeader: h, HTTPClient: f.hs.Client()})
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// wsHello reads the hello message and returns the user it names.
func wsHello(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_, msg, err := c.Read(context.Background())
	if err != nil {
		t.Fatalf("read hello: %v", err)
	}
	var m map[string]string
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatalf("hello %q: %v", msg, err)
	}
	return m["user"]
}

func TestSSECredentials(t *testing.T) {
	f := newStreamFixture(t, 0)
	svc := f.Accounts[callerService]
	for _, c := range []struct {
		name   string
		header map[string]string
		path   string
		want   string // user in the hello event; "" → 401
	}{
		{"bearer", map[string]string{"Authorization": "Bearer " + f.Accounts[callerUser].Access}, "/test/sse", "alice"},
		{"api key header", map[string]string{"X-API-KEY": svc.APIKey}, "/test/sse", "svcbot"},
		{"api key as bearer", map[string]string{"Authorization": "Bearer " + svc.APIKey}, "/test/sse", "svcbot"},
		{"none", nil, "/test/sse", ""},
		{"bad bearer", map[string]string{"Authorization": "Bearer nope"}, "/test/sse", ""},
		{"query token is for WebSockets only", nil, "/test/sse?token=" + url.QueryEscape(f.Accounts[callerUser].Access), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, br := f.openSSE(t, c.path, c.header)
			if c.want == "" {
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status = %d, want 401", resp.StatusCode)
				}
				return
			}
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status = %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			ev, err := readEvent(br)
			want := []string{"event: hello", `data: {"user":"` + c.want + `"}`}
			if err != nil || strings.Join(ev, "|") != strings.Join(want, "|") {
				t.Fatalf("event = %q (%v), want %q", ev, err, want)
			}
		})
	}
}

func TestSSEHeartbeatAndEvents(t *testing.T) {
	f := newStreamFixture(t, 0, func(c *core) { c.heartbeat = time.Millisecond })
	_, br := f.openSSE(t, "/test/sse", f.credential(callerUser))
	if ev, err := readEvent(br); err != nil || ev[0] != "event: hello" {
		t.Fatalf("first event = %q, %v", ev, err)
	}
	if ev, err := readEvent(br); err != nil || len(ev) != 1 || ev[0] != ": ping" {
		t.Fatalf("idle stream sent %q, %v; want the heartbeat comment", ev, err)
	}
	f.events <- sseEvent{Data: []int{1, 2}}
	for {
		ev, err := readEvent(br)
		if err != nil {
			t.Fatal(err)
		}
		if ev[0] == ": ping" {
			continue
		}
		if len(ev) != 1 || ev[0] != "data: [1,2]" {
			t.Fatalf("event = %q, want a default event with data [1,2]", ev)
		}
		break
	}
}

func TestWebSocketCredentials(t *testing.T) {
	f := newStreamFixture(t, 0)
	user, svc := f.Accounts[callerUser], f.Accounts[callerService]
	for _, c := range []struct {
		name, query string
		header      map[string]string
		want        string
	}{
		{"bearer", "", map[string]string{"Authorization": "Bearer " + user.Access}, "alice"},
		{"api key header", "", map[string]string{"X-API-KEY": svc.APIKey}, "svcbot"},
		{"query access token", "?token=" + url.QueryEscape(user.Access), nil, "alice"},
		{"query api key", "?token=" + url.QueryEscape(svc.APIKey), nil, "svcbot"},
		{"header wins over query", "?token=bogus", map[string]string{"Authorization": "Bearer " + user.Access}, "alice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, resp, err := f.dialWS(t, c.query, c.header)
			if err != nil {
				t.Fatalf("dial: %v (%v)", err, resp)
			}
			if got := wsHello(t, conn); got != c.want {
				t.Fatalf("principal = %q, want %q", got, c.want)
			}
			if err := conn.Write(context.Background(), websocket.MessageText, []byte("ping")); err != nil {
				t.Fatal(err)
			}
			if _, msg, err := conn.Read(context.Background()); err != nil || string(msg) != "ping" {
				t.Fatalf("echo = %q, %v", msg, err)
			}
		})
	}
	for _, c := range []struct {
		name, query string
		header      map[string]string
	}{
		{"bad bearer", "", map[string]string{"Authorization": "Bearer nope"}},
		{"bad api key", "", map[string]string{"X-API-KEY": "tldw_1.nope"}},
		{"bad query token", "?token=secret-bad-query-token", nil},
		{"repeated query token", "?token=a&token=b", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, resp, err := f.dialWS(t, c.query, c.header)
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("dial = %v, %v; want a 401 before the upgrade", err, resp)
			}
		})
	}
}

func TestWebSocketFirstMessageAuth(t *testing.T) {
	f := newStreamFixture(t, 0)
	auth := func(token string) []byte { b, _ := json.Marshal(wsAuthMessage{Type: "auth", Token: token}); return b }
	for _, c := range []struct {
		name  string
		first []byte
		want  string // "" → closed with 1008
	}{
		{"access token", auth(f.Accounts[callerUser].Access), "alice"},
		{"api key", auth(f.Accounts[callerService].APIKey), "svcbot"},
		{"bad token", auth("nope"), ""},
		{"wrong type", []byte(`{"type":"hello","token":"x"}`), ""},
		{"not json", []byte("token"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, resp, err := f.dialWS(t, "", nil)
			if err != nil {
				t.Fatalf("dial: %v (%v)", err, resp)
			}
			if err := conn.Write(context.Background(), websocket.MessageText, c.first); err != nil {
				t.Fatal(err)
			}
			if c.want != "" {
				if got := wsHello(t, conn); got != c.want {
					t.Fatalf("principal = %q, want %q", got, c.want)
				}
				return
			}
			_, _, err = conn.Read(context.Background())
			if s := websocket.CloseStatus(err); s != websocket.StatusPolicyViolation {
				t.Fatalf("read = %v (status %d), want a close with 1008", err, s)
			}
		})
	}
	t.Run("silence", func(t *testing.T) {
		f := newStreamFixture(t, 0, func(c *core) { c.authWait = time.Millisecond })
		conn, _, err := f.dialWS(t, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = conn.Read(context.Background())
		if s := websocket.CloseStatus(err); s != websocket.StatusPolicyViolation {
			t.Fatalf("read = %v (status %d), want a close with 1008", err, s)
		}
	})
}

func TestWebSocketRefusals(t *testing.T) {
	f := newStreamFixture(t, 0)
	resp, _ := f.openSSE(t, "/test/ws", f.credential(callerUser))
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: status = %d, want 426", resp.StatusCode)
	}
	h := f.credential(callerUser)
	h["Origin"] = "https://evil.example"
	if _, resp, err := f.dialWS(t, "", h); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin dial = %v, %v; want 403", err, resp)
	}
}

func TestQueryTokenNeverLogged(t *testing.T) {
	f := newStreamFixture(t, 0)
	token := f.Accounts[callerUser].Access
	conn, _, err := f.dialWS(t, "?token="+url.QueryEscape(token), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := wsHello(t, conn); got != "alice" {
		t.Fatalf("principal = %q", got)
	}
	conn.Close(websocket.StatusNormalClosure, "")
	_, _, _ = f.dialWS(t, "?token=secret-bad-query-token", nil)
	_, _ = f.openSSE(t, "/test/sse?token=secret-sse-query-token", nil)
	for range 3 {
		<-f.served
	}
	logs := f.Logs.String()
	if !strings.Contains(logs, `"path":"/test/ws"`) {
		t.Fatalf("no access log line for the WebSocket:\n%s", logs)
	}
	for _, secret := range []string{token, "secret-bad-query-token", "secret-sse-query-token", "token="} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q:\n%s", secret, logs)
		}
	}
}

// A stream outlives the server's WriteTimeout and ReadTimeout; the same handler on a route
// that is not declared streaming is cut off by them. The test drives both by messages for
// well past the timeouts.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	const timeout = 200 * time.Millisecond
	f := newStreamFixture(t, timeout)
	drive := func(path string, events chan sseEvent) error {
		req, _ := http.NewRequest(http.MethodGet, f.hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+f.Accounts[callerUser].Access)
		resp, err := f.hs.Client().Do(req)
		if err != nil {
			return err // the control route may be cut off before its headers
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		br := bufio.NewReader(resp.Body)
		if _, err := readEvent(br); err != nil {
			return err
		}
		for start := time.Now(); time.Since(start) < 4*timeout; {
			select {
			case events <- sseEvent{Name: "tick"}:
			default: // the handler is gone; the read below reports how the stream ended
			}
			if ev, err := readEvent(br); err != nil || ev[0] != "event: tick" {
				return errors.Join(err, errors.New(strings.Join(ev, "|")))
			}
		}
		return nil
	}
	if err := drive("/test/sse", f.events); err != nil {
		t.Fatalf("streaming route cut off: %v", err)
	}
	if err := drive("/test/sse-plain", f.plainEvents); err == nil {
		t.Fatal("the non-streaming control route outlived the timeouts: the test proves nothing")
	}
	conn, _, err := f.dialWS(t, "", f.credential(callerUser))
	if err != nil {
		t.Fatal(err)
	}
	wsHello(t, conn)
	for start := time.Now(); time.Since(start) < 4*timeout; {
		if err := conn.Write(context.Background(), websocket.MessageText, []byte("x")); err != nil {
			t.Fatalf("WebSocket write: %v", err)
		}
		if _, _, err := conn.Read(context.Background()); err != nil {
			t.Fatalf("WebSocket cut off: %v", err)
		}
	}
}

// Shutdown ends open streams cleanly (CloseStreams via RegisterOnShutdown): the SSE
// response ends without a truncated chunk, the WebSocket closes with 1001, and Shutdown
// itself returns without hitting its deadline. Streams are timed in their own histogram.
func TestShutdownEndsStreams(t *testing.T) {
	f := newStreamFixture(t, 0)
	_, br := f.openSSE(t, "/test/sse", f.credential(callerUser))
	if _, err := readEvent(br); err != nil {
		t.Fatal(err)
	}
	conn, _, err := f.dialWS(t, "", f.credential(callerUser))
	if err != nil {
		t.Fatal(err)
	}
	wsHello(t, conn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.hs.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if ev, err := readEvent(br); err != io.EOF || len(ev) != 0 {
		t.Fatalf("SSE after shutdown: %q, %v; want a clean end (io.EOF)", ev, err)
	}
	if _, _, err := conn.Read(context.Background()); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("WebSocket after shutdown: %v; want a close with 1001", err)
	}
	for range 2 {
		<-f.served
	}
	rec := httptest.NewRecorder()
	f.metrics.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	exposition := rec.Body.String()
	for _, want := range []string{
		`tldw_http_stream_duration_seconds_count{method="GET",route="/test/sse"} 1`,
		`tldw_http_stream_duration_seconds_count{method="GET",route="/test/ws"} 1`,
		`tldw_http_requests_total{code="200",method="GET",route="/test/sse"} 1`,
		`tldw_http_requests_total{code="101",method="GET",route="/test/ws"} 1`,
	} {
		if !strings.Contains(exposition, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(exposition, `tldw_http_request_duration_seconds_count{method="GET",route="/test/`) {
		t.Errorf("streams are in the latency histogram:\n%s", exposition)
	}
}

func TestPublicWebSocketRouteRefused(t *testing.T) {
	_, err := newServer(Options{}, route{Method: http.MethodGet, Path: "/test/ws", Public: true, Stream: streamWebSocket,
		Handler: func(http.ResponseWriter, *http.Request) error { return nil }})
	if err == nil {
		t.Fatal("a public WebSocket route was accepted: acceptWebSocket could never authenticate it")
	}
}
