package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Streaming routes hold a response open for minutes or hours: Server-Sent Events and
// WebSockets. A route declares it with route.Stream; then, once the gate has admitted the
// request,
//
//   - the http.Server's ReadTimeout and WriteTimeout no longer apply to it: its deadlines
//     are cleared, and serveSSE bounds each write by streamWriteTimeout instead;
//   - its duration goes to tldw_http_stream_duration_seconds, not to the request latency
//     histogram (metrics.go);
//   - it ends cleanly when shutdown starts (CloseStreams, registered with
//     http.Server.RegisterOnShutdown): an SSE response ends, a WebSocket closes with 1001
//     going away.

// streamKind says whether and how a route streams.
type streamKind int

const (
	notStream       streamKind = iota
	streamSSE                  // Server-Sent Events, written with serveSSE
	streamWebSocket            // a WebSocket upgrade, accepted with acceptWebSocket (websocket.go)
)

const (
	// sseHeartbeat is how often an idle event stream sends a comment line, so proxies and
	// browsers do not drop the connection as dead.
	sseHeartbeat = 15 * time.Second
	// streamWriteTimeout bounds each write of a stream: a client that stops reading is cut
	// off instead of holding the connection.
	streamWriteTimeout = 30 * time.Second
)

// CloseStreams ends every open stream and makes new ones end at once: SSE responses end
// (clients may reconnect elsewhere), WebSockets close with 1001 going away. Register it with
// http.Server.RegisterOnShutdown: Shutdown waits for SSE responses until its deadline and
// does not track WebSockets at all.
func (s *Server) CloseStreams() { s.closeStreams() }

// streaming returns rt with its handler prepared for a long-lived response (see above):
// unchanged for other routes. register puts it inside the gate, so only an admitted request
// loses the server's timeouts. The handler of an SSE route gets a context that is also
// cancelled by CloseStreams; acceptWebSocket closes WebSockets itself.
func (s *core) streaming(rt route) route {
	if rt.Stream == notStream {
		return rt
	}
	h, kind := rt.Handler, rt.Stream
	rt.Handler = func(w http.ResponseWriter, r *http.Request) error {
		if st := stateFrom(r.Context()); st != nil {
			st.stream = true
		}
		// The server's deadlines would cut the stream off (the write one), or cancel its
		// context through net/http's background read (the read one).
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		if kind == streamWebSocket {
			return h(w, r)
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(s.streams, cancel)()
		return h(w, r.WithContext(ctx))
	}
	return rt
}

// sseEvent is one Server-Sent Event: Name is its "event:" field ("" for the default
// "message"), Data is sent as one line of JSON.
type sseEvent struct {
	Name string
	Data any
}

// serveSSE answers an SSE route: a 200 text/event-stream that sends each event from events as
// it comes, and a ": ping" comment every heartbeat while idle. It returns nil when events is
// closed, the client goes away or shutdown starts (r's context is done); the response then
// ends cleanly. An event that does not encode, or a write that fails or takes longer than
// streamWriteTimeout, ends the stream with that error (logged: the response has started).
func (s *core) serveSSE(w http.ResponseWriter, r *http.Request, events <-chan sseEvent) error {
	rc := http.NewResponseController(w)
	send := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) // unsupported by test recorders
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events through unbuffered
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return fmt.Errorf("sse: %w", err)
	}
	beat := time.NewTicker(s.heartbeat)
	defer beat.Stop()
	for {
		var b []byte
		select {
		case <-r.Context().Done():
			return nil
		case <-beat.C:
			b = []byte(": ping\n\n")
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if strings.ContainsAny(ev.Name, "\r\n") {
				return fmt.Errorf("sse: event name %q has a line break", ev.Name)
			}
			data, err := json.Marshal(ev.Data)
			if err != nil {
				return fmt.Errorf("sse: encode event: %w", err)
			}
			if ev.Name != "" {
				b = append(b, "event: "+ev.Name+"\n"...)
			}
			b = append(append(append(b, "data: "...), data...), "\n\n"...)
			beat.Reset(s.heartbeat)
		}
		if err := send(b); err != nil {
			return fmt.Errorf("sse: %w", err)
		}
	}
}
