package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// Request bodies: a read-progress deadline (a body that stalls is a 408, not a connection
// held for SERVER_READ_TIMEOUT_SECONDS) and, after an error answer, a bounded drain of the
// unread rest so the client reads the answer instead of a connection reset.

// DefaultBodyIdleTimeout is Options.BodyIdleTimeout's default.
const DefaultBodyIdleTimeout = 30 * time.Second

// maxDrainBytes bounds what is read and discarded of a body after an error answer. A larger
// rest is not read: net/http then closes the connection (the client may see a reset).
const maxDrainBytes = 16 << 20

// errBodyIdle answers a request whose body stalled (see idleBody).
var errBodyIdle = &Error{Status: http.StatusRequestTimeout, Code: "request_timeout",
	Detail: "The request body stalled: no data within the idle timeout",
	Header: http.Header{"Connection": {"close"}}}

// idleBody moves the connection's read deadline to idle from now before every read, so the
// body must keep making progress; at EOF it clears the deadline (net/http's background read
// must not time out while the handler works). A read that hits the deadline marks the
// request (st.bodyTimeout) so whatever error the handler makes of it is answered 408.
// The deadline is the network's, so it runs on the wall clock.
type idleBody struct {
	io.ReadCloser
	ctl   *http.ResponseController
	idle  time.Duration
	until time.Time // the whole request's deadline (Options.ReadTimeout), zero = none
	st    *reqState
	read  bool // some read was attempted (for Expect: 100-continue, that sent the 100)
	eof   bool
}

// newIdleBody wraps r's body, or returns nil when there is none or the ResponseWriter
// cannot set read deadlines (httptest.ResponseRecorder).
func newIdleBody(w http.ResponseWriter, r *http.Request, idle, whole time.Duration, st *reqState) *idleBody {
	if r.Body == nil || r.Body == http.NoBody || idle <= 0 {
		return nil
	}
	b := &idleBody{ReadCloser: r.Body, ctl: http.NewResponseController(w), idle: idle, st: st}
	if whole > 0 {
		b.until = time.Now().Add(whole)
	}
	if err := b.ctl.SetReadDeadline(b.deadline()); err != nil {
		return nil
	}
	return b
}

// deadline is idle from now, or the whole request's deadline when that comes first.
func (b *idleBody) deadline() time.Time {
	d := time.Now().Add(b.idle)
	if !b.until.IsZero() && b.until.Before(d) {
		return b.until
	}
	return d
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.read = true
	if !b.eof {
		_ = b.ctl.SetReadDeadline(b.deadline())
	}
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF) && !b.eof:
		b.eof = true
		_ = b.ctl.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.st.bodyTimeout = true
		return n, errBodyIdle
	}
	return n, err
}

// drain reads and discards up to maxDrainBytes of what the handler left unread, after the
// answer has been flushed. A client that sent Expect: 100-continue and whose body was never
// read has not sent it: nothing is drained (reading would ask for it).
func (b *idleBody) drain(r *http.Request) {
	if b.eof || b.st.bodyTimeout || (!b.read && r.Header.Get("Expect") != "") {
		return
	}
	_, _ = io.CopyN(io.Discard, b, maxDrainBytes)
}
