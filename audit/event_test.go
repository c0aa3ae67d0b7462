package audit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/audit/audittest"
)

var (
	errDown  = errors.New("sink down")
	errDown2 = errors.New("other sink down")
)

func failing(err error) audit.Sink {
	return audit.SinkFunc(func(context.Context, audit.Event) error { return err })
}

func TestMultiOneSinkDown(t *testing.T) {
	var logs bytes.Buffer
	mem := &audittest.Memory{}
	s := audit.Multi(audit.MultiOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, failing(errDown), mem)
	err := s.Write(t.Context(), audit.Event{
		Time: time.Now(), Action: audit.LoginSuccess, RequestID: "r1",
		Details: map[string]any{"password": "hunter2"},
	})
	if err != nil {
		t.Fatalf("Write = %v, want nil when one sink succeeds", err)
	}
	got := mem.Events()
	if len(got) != 1 || got[0].RequestID != "r1" || got[0].Details["password"] != audit.Redacted {
		t.Errorf("memory sink got %+v, want the redacted event", got)
	}
	if !strings.Contains(logs.String(), "audit sink write failed") || !strings.Contains(logs.String(), "sink down") {
		t.Errorf("failure not logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("log leaks a secret: %q", logs.String())
	}
}

func TestMultiAllDown(t *testing.T) {
	var logs bytes.Buffer
	s := audit.Multi(audit.MultiOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, failing(errDown), failing(errDown2))
	err := s.Write(t.Context(), audit.Event{Action: audit.Logout})
	if !errors.Is(err, errDown) || !errors.Is(err, errDown2) {
		t.Fatalf("Write = %v, want both sink errors joined", err)
	}
	if n := strings.Count(logs.String(), "audit sink write failed"); n != 2 {
		t.Errorf("logged %d failures, want 2", n)
	}
}

func TestMultiDetachesFromRequest(t *testing.T) {
	mem := &audittest.Memory{}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the request is gone
	if err := audit.Multi(audit.MultiOptions{}, mem).Write(ctx, audit.Event{Action: audit.Logout}); err != nil {
		t.Fatalf("Write after cancel = %v", err)
	}
	if got := mem.Actions(); len(got) != 1 || got[0] != audit.Logout {
		t.Errorf("events = %v, want [logout]", got)
	}
}

func TestMultiTimeoutBoundsSlowSinks(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	ignoresCtx := audit.SinkFunc(func(context.Context, audit.Event) error { <-release; return nil })
	honoursCtx := audit.SinkFunc(func(ctx context.Context, _ audit.Event) error { <-ctx.Done(); return ctx.Err() })
	o := audit.MultiOptions{Timeout: 20 * time.Millisecond}

	err := audit.Multi(o, ignoresCtx, honoursCtx).Write(t.Context(), audit.Event{Action: audit.Logout})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("all slow: Write = %v, want DeadlineExceeded", err)
	}

	mem := &audittest.Memory{}
	if err := audit.Multi(o, ignoresCtx, mem).Write(t.Context(), audit.Event{Action: audit.Logout}); err != nil {
		t.Errorf("one slow, one fine: Write = %v, want nil", err)
	}
	if len(mem.Events()) != 1 {
		t.Errorf("fast sink did not get the event")
	}
}

func TestMultiFillsTimeAndRedacts(t *testing.T) {
	mem := &audittest.Memory{}
	now := time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.FixedZone("X", 3600))
	s := audit.Multi(audit.MultiOptions{Now: func() time.Time { return now }}, nil, mem)
	ctx := t.Context()
	given := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Write(ctx, audit.Event{Action: "USER_LOGIN"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, audit.Event{Action: audit.Logout, Time: given}); err != nil {
		t.Fatal(err)
	}
	got := mem.Events()
	if want := time.Date(2026, 11, 28, 9, 0, 0, 123456000, time.UTC); !got[0].Time.Equal(want) || got[0].Time.Location() != time.UTC {
		t.Errorf("filled time = %v, want %v", got[0].Time, want)
	}
	if got[0].Action != audit.LoginSuccess {
		t.Errorf("action = %q, want the normalised alias", got[0].Action)
	}
	if !got[1].Time.Equal(given) {
		t.Errorf("given time replaced: %v", got[1].Time)
	}
}

func TestMultiEdgeCases(t *testing.T) {
	ctx := t.Context()
	if err := audit.Multi(audit.MultiOptions{}).Write(ctx, audit.Event{}); err != nil {
		t.Errorf("no sinks: %v", err)
	}
	panics := audit.SinkFunc(func(context.Context, audit.Event) error { panic("boom") })
	err := audit.Multi(audit.MultiOptions{}, panics).Write(ctx, audit.Event{})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panicking sink: %v, want an error mentioning the panic", err)
	}
	if err := audit.Discard.Write(ctx, audit.Event{}); err != nil {
		t.Errorf("Discard: %v", err)
	}
	mem := &audittest.Memory{}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if err := mem.Write(ctx2, audit.Event{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Memory with a cancelled ctx = %v, want Canceled", err)
	}
}
