package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// FileSink appends one line per event to a file (AUDIT_LOG_FILE) in the text or JSON
// format described in the package documentation. It is safe for concurrent use; each line
// is written with a single write call on a file opened with O_APPEND, so lines stay whole.
// It writes events as given: put it behind [Multi] so that they are redacted first.
type FileSink struct {
	path string
	json bool

	mu sync.Mutex
	f  *os.File // nil once closed
}

var _ Sink = (*FileSink)(nil)

// Log file formats accepted by [OpenFile].
const (
	TextFormat = "text" // the default: fail2ban-friendly key=value lines
	JSONFormat = "json" // one JSON object per line
)

// OpenFile opens (creating it and its directories if needed) the audit log file at path
// for appending. format is "text" (the default when empty) or "json". A new file gets mode
// 0600 and new directories 0750. It returns an error wrapping ErrInvalid for an empty path
// or unknown format, or the error from the file system.
func OpenFile(path, format string) (*FileSink, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty audit log path", ErrInvalid)
	}
	fs := &FileSink{path: path}
	switch strings.ToLower(format) {
	case "", TextFormat:
	case JSONFormat:
		fs.json = true
	default:
		return nil, fmt.Errorf("%w: audit log format %q (want text or json)", ErrInvalid, format)
	}
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	fs.f = f
	return fs, nil
}

func openAppend(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("audit log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log file: %w", err)
	}
	return f, nil
}

// Write appends e as one line. It returns ctx's error if ctx is already done, an error
// wrapping ErrInvalid if e cannot be encoded (JSON format only), ErrClosed after Close, or
// the write error.
func (s *FileSink) Write(ctx context.Context, e Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var line []byte
	if s.json {
		b, err := FormatJSON(e)
		if err != nil {
			return err
		}
		line = append(b, '\n')
	} else {
		line = []byte(FormatText(e) + "\n")
	}
	return s.writeLine(line)
}

// WriteCheckpoint appends c as one line: in the text format
// "<time> AUDIT_CHECKPOINT kind=<kind> seq=<n> hash=<hex> mac=<hex>", in the JSON format
// {"checkpoint":{...}}. [ParseCheckpoints] reads both back. It returns ErrClosed after Close
// or the write error.
func (s *FileSink) WriteCheckpoint(c Checkpoint) error {
	var line []byte
	if s.json {
		b, err := json.Marshal(struct {
			Checkpoint Checkpoint `json:"checkpoint"`
		}{c})
		if err != nil {
			return fmt.Errorf("%w: checkpoint: %v", ErrInvalid, err)
		}
		line = append(b, '\n')
	} else {
		line = []byte(formatCheckpointText(c) + "\n")
	}
	return s.writeLine(line)
}

func (s *FileSink) writeLine(line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ErrClosed
	}
	if _, err := s.f.Write(line); err != nil {
		return fmt.Errorf("audit log write: %w", err)
	}
	return nil
}

// Reopen opens the path again and switches to the new file, so that a log rotated by
// renaming (logrotate without copytruncate) continues in a fresh file; hosts call it on
// SIGHUP. When opening fails the old file stays in use and the error is returned; after
// Close it returns ErrClosed.
func (s *FileSink) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ErrClosed
	}
	f, err := openAppend(s.path)
	if err != nil {
		return err
	}
	old := s.f
	s.f = f
	if err := old.Close(); err != nil {
		return fmt.Errorf("audit log close old file: %w", err)
	}
	return nil
}

// Close flushes the file to disk and closes it. Later writes return ErrClosed; closing
// again returns nil.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	f := s.f
	s.f = nil
	return errors.Join(f.Sync(), f.Close())
}

// textFields are the field names FormatText writes itself; Details keys that collide get a
// "detail." prefix.
var textFields = []string{
	"IP", "user", "user_id", "outcome", "target_type", "target_id", "method", "path", "error",
	"request_id", "user_agent",
}

// FormatText returns e as one line of the text log format, without the trailing newline:
//
//	2026-11-28T10:00:00.000000Z LOGIN_FAILED IP: 203.0.113.7 user=alice outcome=failure reason=bad_password request_id=r1
//
// The time is UTC with microseconds; the action is upper-cased; "IP: <addr>" follows it
// directly, before any field a client controls, and only when Event.IP parses as an IP
// address, so the deployment guide's fail2ban filter ^.*LOGIN_FAILED.*IP:\s+<HOST>.*$
// matches exactly the failed logins with a known address. Then come, when set: user,
// user_id, outcome (always), target_type, target_id, method, path, error, each Details
// entry in key order (non-string values as canonical JSON), request_id and user_agent.
//
// No value contains whitespace or a control character: a value made only of letters,
// digits and ._@+/~%,- is written bare; anything else is double-quoted with '"' and '\\'
// backslash-escaped and every space, control, format or other non-printing character
// written as \xNN, \uNNNN or \UNNNNNNNN. So a hostile field can neither start a new line
// nor contain "IP:" followed by whitespace, and splitting a line on spaces yields its
// fields exactly. It is safe for concurrent use.
func FormatText(e Event) string {
	var b strings.Builder
	b.Grow(256)
	b.WriteString(e.Time.UTC().Format(timeLayout))
	b.WriteByte(' ')
	action := strings.ToUpper(e.Action)
	if action == "" {
		action = "UNKNOWN"
	}
	b.WriteString(textValue(action))
	if a, err := netip.ParseAddr(e.IP); err == nil {
		b.WriteString(" IP: ")
		b.WriteString(a.Unmap().WithZone("").String())
	}
	field := func(name, v string) {
		if v != "" {
			b.WriteByte(' ')
			b.WriteString(name)
			b.WriteByte('=')
			b.WriteString(textValue(v))
		}
	}
	field("user", e.Username)
	if e.UserID != 0 {
		field("user_id", strconv.FormatInt(e.UserID, 10))
	}
	if e.Success {
		field("outcome", "success")
	} else {
		field("outcome", "failure")
	}
	field("target_type", e.TargetType)
	field("target_id", e.TargetID)
	field("method", e.Method)
	field("path", e.Path)
	field("error", e.Error)
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, ok := e.Details[k].(string)
		if !ok {
			v = string(appendValue(nil, e.Details[k], 0))
		}
		b.WriteByte(' ')
		b.WriteString(textKey(k))
		b.WriteByte('=')
		b.WriteString(textValue(v))
	}
	field("request_id", e.RequestID)
	field("user_agent", e.UserAgent)
	return b.String()
}

// textKey makes a Details key safe as a field name: characters outside [A-Za-z0-9_.-]
// become '_', and a name FormatText uses itself gets a "detail." prefix.
func textKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		if r < utf8.RuneSelf && (isAlnum(byte(r)) || r == '_' || r == '.' || r == '-') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || slices.Contains(textFields, s) {
		s = "detail." + s
	}
	return s
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isBare(c byte) bool {
	return isAlnum(c) || strings.IndexByte("._@+/~%,-", c) >= 0
}

// textValue writes v bare when it is made of safe characters only, and quoted and escaped
// otherwise (see FormatText).
func textValue(v string) string {
	bare := v != ""
	for i := 0; i < len(v) && bare; i++ {
		bare = isBare(v[i])
	}
	if bare {
		return v
	}
	const hexDigits = "0123456789abcdef"
	b := make([]byte, 0, len(v)+8)
	b = append(b, '"')
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, '\\', 'x', hexDigits[v[i]>>4], hexDigits[v[i]&0xf])
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < utf8.RuneSelf:
			if r > ' ' && r < 0x7f {
				b = append(b, byte(r))
			} else {
				b = append(b, '\\', 'x', hexDigits[r>>4], hexDigits[r&0xf])
			}
		case unicode.IsPrint(r) && !unicode.IsSpace(r):
			b = append(b, v[i:i+size]...)
		case r <= 0xffff:
			b = fmt.Appendf(b, `\u%04x`, r)
		default:
			b = fmt.Appendf(b, `\U%08x`, r)
		}
		i += size
	}
	return string(append(b, '"'))
}

// jsonLine is the JSON log line: the event with its time in the fixed microsecond layout.
type jsonLine struct {
	Time string `json:"time"`
	Event
}

// FormatJSON returns e as one line of the JSON log format, without the trailing newline: a
// JSON object with the field names of Event's JSON tags and "time" in UTC with six
// fractional digits. encoding/json escapes control characters (and U+2028, U+2029, <, >, &),
// so the line never contains a raw newline. It returns an error wrapping ErrInvalid when
// Details cannot be encoded (for example a NaN, which Redact would have replaced). It is
// safe for concurrent use.
func FormatJSON(e Event) ([]byte, error) {
	b, err := json.Marshal(jsonLine{Time: e.Time.UTC().Format(timeLayout), Event: e})
	if err != nil {
		return nil, fmt.Errorf("%w: event: %v", ErrInvalid, err)
	}
	return b, nil
}

func formatCheckpointText(c Checkpoint) string {
	return fmt.Sprintf("%s AUDIT_CHECKPOINT kind=%s seq=%d hash=%s mac=%s",
		c.Time.UTC().Format(timeLayout), textValue(c.Kind), c.Seq, textValue(c.Hash), textValue(c.MAC))
}

// maxLine bounds the lines ParseCheckpoints looks at; longer lines are skipped.
const maxLine = 1 << 20

// ParseCheckpoints reads an audit log file in either format and returns the newest
// checkpoint (highest Seq; the later line on a tie) whose MAC is valid under key, or nil
// when there is none. Lines that are not checkpoints, malformed or forged are skipped, so a
// hostile line cannot hide a genuine checkpoint. It returns only read errors.
func ParseCheckpoints(r io.Reader, key []byte) (*Checkpoint, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var best *Checkpoint
	var long bool // inside a line longer than the buffer
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !long {
				line = append(line, chunk...)
				if len(line) > maxLine {
					long, line = true, line[:0]
				}
			}
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return best, fmt.Errorf("audit log read: %w", err)
		}
		if !long {
			line = append(line, chunk...)
			if c, ok := parseCheckpoint(bytes.TrimRight(line, "\r\n")); ok && c.Valid(key) &&
				(best == nil || c.Seq >= best.Seq) {
				best = &c
			}
		}
		long, line = false, line[:0]
		if err != nil { // io.EOF
			return best, nil
		}
	}
}

// parseCheckpoint parses one text or JSON checkpoint line.
func parseCheckpoint(line []byte) (Checkpoint, bool) {
	if len(line) > 0 && line[0] == '{' {
		var v struct {
			Checkpoint *Checkpoint `json:"checkpoint"`
		}
		if json.Unmarshal(line, &v) != nil || v.Checkpoint == nil {
			return Checkpoint{}, false
		}
		return *v.Checkpoint, true
	}
	f := strings.Split(string(line), " ")
	if len(f) != 6 || f[1] != "AUDIT_CHECKPOINT" {
		return Checkpoint{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, f[0])
	if err != nil {
		return Checkpoint{}, false
	}
	c := Checkpoint{Time: t}
	for _, kv := range f[2:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "kind":
			c.Kind = v
		case "seq":
			if c.Seq, err = strconv.ParseInt(v, 10, 64); err != nil {
				return Checkpoint{}, false
			}
		case "hash":
			c.Hash = v
		case "mac":
			c.MAC = v
		default:
			return Checkpoint{}, false
		}
	}
	return c, true
}
