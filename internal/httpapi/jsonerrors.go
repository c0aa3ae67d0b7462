package httpapi

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Error responses that code outside the handlers writes (http.ServeContent, net/http's own
// connection-level answers) are turned into the JSON error body here.

// statusError is the error for a bare status some library chose: its status text as detail
// and the text in snake case as code (416 → "requested_range_not_satisfiable").
func statusError(status int) *Error {
	text := http.StatusText(status)
	if text == "" {
		text = "Error " + strconv.Itoa(status)
	}
	code := strings.ToLower(strings.NewReplacer(" ", "_", "-", "_", "'", "").Replace(text))
	return &Error{Status: status, Code: code, Detail: text}
}

// jsonErrorWriter passes a response through until the code writing it (http.ServeContent)
// sends a status of 400 or more; that response becomes the JSON error body for the status
// (headers already set, such as Content-Range, are kept) and the library's text is dropped.
type jsonErrorWriter struct {
	http.ResponseWriter
	s      *core
	r      *http.Request
	failed bool
}

func (w *jsonErrorWriter) WriteHeader(status int) {
	switch {
	case w.failed:
	case status >= 400:
		w.failed = true
		w.s.writeError(w.ResponseWriter, w.r, statusError(status))
	default:
		w.ResponseWriter.WriteHeader(status)
	}
}

func (w *jsonErrorWriter) Write(p []byte) (int, error) {
	if w.failed {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *jsonErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// netHTTPError matches the whole of a response that net/http writes straight to the
// connection when it cannot parse a request (400, 431 header too large, 501 unsupported
// Transfer-Encoding): one Write of a status line, exactly these two headers, and a text
// body. A response from a handler never looks like this: net/http writes handler headers
// sorted and always with Date, so "Connection" never follows "Content-Type" there.
var netHTTPError = regexp.MustCompile(`\AHTTP/1\.1 ([45][0-9][0-9]) [^\r\n]*\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n[^\r\n]*\z`)

// jsonErrorConn rewrites net/http's connection-level error responses (netHTTPError) into
// the JSON error body. Everything else is written unchanged.
type jsonErrorConn struct {
	net.Conn
}

func (c jsonErrorConn) Write(p []byte) (int, error) {
	m := netHTTPError.FindSubmatch(p)
	if m == nil {
		return c.Conn.Write(p)
	}
	status, _ := strconv.Atoi(string(m[1]))
	e := statusError(status)
	body, _ := json.Marshal(errorBody{Detail: e.Detail, Code: e.Code})
	body = append(body, '\n')
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n")
	b.WriteString("Connection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	if _, err := c.Conn.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}
