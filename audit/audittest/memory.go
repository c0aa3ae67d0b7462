package audittest

import (
	"context"
	"slices"
	"sync"

	"github.com/tldw-go/tldw/audit"
)

// Memory is an audit.Sink that keeps every event in memory, hash-chained like the database
// sink (Seq from 1, audit.Hash links), so tests can read events back and verify a chain.
// Like a real sink it fails when ctx is already done, which catches code that audits under a
// cancelled request context without audit.Multi. The zero value is ready to use and safe for
// concurrent use.
type Memory struct {
	mu   sync.Mutex
	recs []audit.Record
}

var _ audit.Sink = (*Memory)(nil)

// Write appends e to the chain. It returns ctx.Err() when ctx is done and nil otherwise.
func (m *Memory) Write(ctx context.Context, e audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := audit.Genesis
	if n := len(m.recs); n > 0 {
		prev = m.recs[n-1].Hash
	}
	m.recs = append(m.recs, audit.Record{
		Seq: int64(len(m.recs) + 1), Event: e, PrevHash: prev, Hash: audit.Hash(prev, e),
	})
	return nil
}

// Events returns the events written so far, oldest first. The slice is a copy; the events'
// Details maps are shared and must not be modified.
func (m *Memory) Events() []audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]audit.Event, len(m.recs))
	for i, r := range m.recs {
		out[i] = r.Event
	}
	return out
}

// Records returns the hash chain so far, oldest first, as a copy.
func (m *Memory) Records() []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.recs)
}

// Actions returns the Action of every event written so far, oldest first.
func (m *Memory) Actions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.recs))
	for i, r := range m.recs {
		out[i] = r.Event.Action
	}
	return out
}

// Find returns the events with the given action, oldest first.
func (m *Memory) Find(action string) []audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []audit.Event
	for _, r := range m.recs {
		if r.Event.Action == action {
			out = append(out, r.Event)
		}
	}
	return out
}

// Reset forgets every event; the next one starts a new chain at Seq 1.
func (m *Memory) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = nil
}
