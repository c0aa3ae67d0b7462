package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Event is one audited action: who did what to which target, from where, and whether it
// worked. The zero value of an optional field means "not known" (UserID 0 is "no user", for
// example a failed login with an unknown username, whose attempted name is still kept in
// Username).
//
// Events reach sinks through [Multi], which fills a zero Time and runs [Redact] first, so a
// sink stores exactly what [Canonical] hashes. The JSON field names are those of the JSON log
// line format (see the package documentation).
type Event struct {
	Time       time.Time      `json:"time"`                  // when it happened; stored as UTC with microsecond precision
	UserID     int64          `json:"user_id,omitempty"`     // the acting user, 0 = none or unknown
	Username   string         `json:"username,omitempty"`    // the acting (or attempted) user name
	Action     string         `json:"action"`                // a catalogue name such as LoginFailed; see Actions
	TargetType string         `json:"target_type,omitempty"` // what was acted on: "user", "session", "api_key", "media", ...
	TargetID   string         `json:"target_id,omitempty"`   // its id
	Success    bool           `json:"success"`               // the outcome
	IP         string         `json:"ip,omitempty"`          // the real client address (after trusted-proxy handling)
	UserAgent  string         `json:"user_agent,omitempty"`  // the client's User-Agent
	RequestID  string         `json:"request_id,omitempty"`  // correlates with the application log
	Method     string         `json:"method,omitempty"`      // HTTP method
	Path       string         `json:"path,omitempty"`        // request path
	Error      string         `json:"error,omitempty"`       // why it failed, for Success == false
	Details    map[string]any `json:"details,omitempty"`     // extra JSON-compatible detail; secrets are removed by Redact
}

// Sink receives audit events: the database table, the log file, a test recorder.
//
// Write stores e and returns an error if it could not. Implementations must be safe for
// concurrent use and must not modify e.Details, which [Multi] shares between sinks. Sinks may
// give up when ctx is done; Multi hands them a context detached from the request with its own
// deadline.
type Sink interface {
	Write(ctx context.Context, e Event) error
}

// SinkFunc adapts a function to [Sink]. It is as safe for concurrent use as the function.
type SinkFunc func(ctx context.Context, e Event) error

// Write calls f(ctx, e) and returns its error.
func (f SinkFunc) Write(ctx context.Context, e Event) error { return f(ctx, e) }

// Discard is a [Sink] that drops every event and never fails. It is safe for concurrent use.
var Discard Sink = discard{}

type discard struct{}

func (discard) Write(context.Context, Event) error { return nil }

// DefaultTimeout bounds one [Multi] write when MultiOptions.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// MultiOptions configures [Multi]. The zero value is ready to use.
type MultiOptions struct {
	// Timeout bounds one Write across all sinks; zero means DefaultTimeout.
	Timeout time.Duration
	// Logger receives one error record per failed sink write; nil discards them.
	Logger *slog.Logger
	// Now fills a zero Event.Time; nil means time.Now.
	Now func() time.Time
}

// Multi returns a Sink that fans each event out to every sink, in the style of Vault's
// audit broker:
//
//   - a zero Event.Time is set from o.Now, then [Redact] runs, so no sink sees a secret;
//   - the write runs under a context detached from the caller's (a cancelled or finished
//     request still gets audited) with its own o.Timeout deadline;
//   - all sinks are written concurrently, and every failure is logged;
//   - Write returns nil when at least one sink succeeded, and otherwise the errors.Join of
//     every sink's error (a sink still running at the deadline counts as failed with the
//     context's error). A Multi without sinks behaves like Discard.
//
// Nil sinks are skipped. The returned Sink is safe for concurrent use if the sinks are.
func Multi(o MultiOptions, sinks ...Sink) Sink {
	m := &multi{timeout: o.Timeout, log: o.Logger, now: o.Now}
	for _, s := range sinks {
		if s != nil {
			m.sinks = append(m.sinks, s)
		}
	}
	if m.timeout <= 0 {
		m.timeout = DefaultTimeout
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

type multi struct {
	sinks   []Sink
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
}

type sinkResult struct {
	i   int
	err error
}

func (m *multi) Write(ctx context.Context, e Event) error {
	if len(m.sinks) == 0 {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = m.now()
	}
	e = Redact(e)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.timeout)
	defer cancel()

	results := make(chan sinkResult, len(m.sinks)) // buffered: late sinks never block
	for i, s := range m.sinks {
		go func() { results <- sinkResult{i, writeOne(wctx, s, e)} }()
	}
	errs := make([]error, len(m.sinks))
	done := make([]bool, len(m.sinks))
	ok := 0
wait:
	for range m.sinks {
		select {
		case r := <-results:
			done[r.i] = true
			if r.err == nil {
				ok++
			} else {
				errs[r.i] = r.err
			}
		case <-wctx.Done():
			for i := range done {
				if !done[i] {
					errs[i] = fmt.Errorf("no answer before the audit deadline: %w", wctx.Err())
				}
			}
			break wait
		}
	}
	var failed []error
	for i, err := range errs {
		if err == nil {
			continue
		}
		err = fmt.Errorf("audit sink %d (%T): %w", i, m.sinks[i], err)
		m.log.LogAttrs(ctx, slog.LevelError, "audit sink write failed",
			slog.String("action", e.Action), slog.String("request_id", e.RequestID),
			slog.Any("error", err))
		failed = append(failed, err)
	}
	if ok > 0 {
		return nil
	}
	return errors.Join(failed...)
}

// writeOne calls s.Write, turning a panic into an error so one broken sink cannot take the
// server down.
func writeOne(ctx context.Context, s Sink, e Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sink panicked: %v", p)
		}
	}()
	return s.Write(ctx, e)
}
