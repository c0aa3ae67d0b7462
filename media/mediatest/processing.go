package mediatest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tldw-go/tldw/media"
)

// Processing is an in-memory media.ProcessingStore over the items of a Memory store (whose
// item statuses it updates). Safe for concurrent use.
type Processing struct {
	items *Memory
	mu    sync.Mutex
	state map[int64]*procState
}

type procState struct {
	errMsg    string
	stages    map[media.Stage]media.StageState
	content   *media.Content
	chunks    []media.Chunk
	trans     []media.StoredTranscript // newest first
	updatedAt time.Time
}

var _ media.ProcessingStore = (*Processing)(nil)

// NewProcessing returns an empty ProcessingStore for the items of m.
func NewProcessing(m *Memory) *Processing {
	return &Processing{items: m, state: map[int64]*procState{}}
}

// item checks that id is userID's and returns its state (created on first use); p.mu held.
func (p *Processing) item(userID, id int64) (*procState, error) {
	p.items.mu.Lock()
	it, ok := p.items.items[id]
	p.items.mu.Unlock()
	if !ok || it.UserID != userID {
		return nil, notFound(id)
	}
	st := p.state[id]
	if st == nil {
		st = &procState{stages: map[media.Stage]media.StageState{}}
		p.state[id] = st
	}
	return st, nil
}

func (p *Processing) setItemStatus(id int64, s media.Status) {
	p.items.mu.Lock()
	defer p.items.mu.Unlock()
	it := p.items.items[id]
	it.Status = s
	p.items.items[id] = it
}

// Reset implements media.ProcessingStore.
func (p *Processing) Reset(_ context.Context, userID, itemID int64, from media.Stage, at time.Time) error {
	todo, err := media.StagesFrom(from)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(userID, itemID)
	if err != nil {
		return err
	}
	for _, s := range todo {
		st.stages[s] = media.StageState{Stage: s, Status: media.StagePending}
	}
	st.errMsg, st.updatedAt = "", utc(at)
	p.setItemStatus(itemID, media.StatusQueued)
	return nil
}

// SetStatus implements media.ProcessingStore.
func (p *Processing) SetStatus(_ context.Context, userID, itemID int64, s media.Status, msg string, at time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(userID, itemID)
	if err != nil {
		return err
	}
	st.errMsg, st.updatedAt = msg, utc(at)
	p.setItemStatus(itemID, s)
	return nil
}

// SetStage implements media.ProcessingStore.
func (p *Processing) SetStage(_ context.Context, userID, itemID int64, s media.StageState) error {
	if err := ValidStageState(s); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(userID, itemID)
	if err != nil {
		return err
	}
	s.Warnings = slices.Clone(s.Warnings)
	s.StartedAt, s.FinishedAt = utcPtr(s.StartedAt), utcPtr(s.FinishedAt)
	st.stages[s.Stage] = s
	return nil
}

// ValidStageState returns an ErrInvalid-wrapped error for an unknown stage or status.
func ValidStageState(s media.StageState) error {
	if !slices.Contains(media.Stages(), s.Stage) {
		return fmt.Errorf("%w: unknown stage %q", media.ErrInvalid, s.Stage)
	}
	switch s.Status {
	case media.StagePending, media.StageRunning, media.StageDone, media.StageFailed, media.StageSkipped:
		return nil
	}
	return fmt.Errorf("%w: unknown stage status %q", media.ErrInvalid, s.Status)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}

// Processing implements media.ProcessingStore.
func (p *Processing) Processing(_ context.Context, userID, itemID int64) (*media.Processing, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(userID, itemID)
	if err != nil {
		return nil, err
	}
	p.items.mu.Lock()
	status := p.items.items[itemID].Status
	p.items.mu.Unlock()
	out := &media.Processing{ItemID: itemID, UserID: userID, Status: status, Error: st.errMsg,
		ChunkCount: len(st.chunks), UpdatedAt: st.updatedAt}
	if st.content != nil {
		out.WordCount = st.content.WordCount
	}
	for _, s := range media.Stages() {
		if v, ok := st.stages[s]; ok {
			v.Warnings = slices.Clone(v.Warnings)
			out.Stages = append(out.Stages, v)
		}
	}
	return out, nil
}

// SetContent implements media.ProcessingStore.
func (p *Processing) SetContent(_ context.Context, c *media.Content) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(c.UserID, c.ItemID)
	if err != nil {
		return err
	}
	st.content = cloneContent(c)
	st.content.UpdatedAt = utc(c.UpdatedAt)
	return nil
}

func cloneContent(c *media.Content) *media.Content {
	out := *c
	out.Metadata = maps.Clone(c.Metadata)
	out.Sections = slices.Clone(c.Sections)
	out.Segments = slices.Clone(c.Segments)
	return &out
}

// Content implements media.ProcessingStore.
func (p *Processing) Content(_ context.Context, userID, itemID int64) (*media.Content, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(userID, itemID)
	if err != nil {
		return nil, err
	}
	if st.content == nil {
		return nil, fmt.Errorf("%w: item %d has no content", media.ErrNotFound, itemID)
	}
	return cloneContent(st.content), nil
}

// SetAnalysis implements media.ProcessingStore.
func (p *Processing) SetAnalysis(_ context.Context, userID, itemID int64, text string, at time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(userID, itemID)
	if err != nil {
		return err
	}
	if st.content == nil {
		return fmt.Errorf("%w: item %d has no content", media.ErrNotFound, itemID)
	}
	st.content.Analysis, st.content.UpdatedAt = text, utc(at)
	return nil
}

// SetChunks implements media.ProcessingStore.
func (p *Processing) SetChunks(_ context.Context, userID, itemID int64, chunks []media.Chunk) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(userID, itemID)
	if err != nil {
		return err
	}
	st.chunks = slices.Clone(chunks)
	return nil
}

// DeleteContent implements media.ProcessingStore.
func (p *Processing) DeleteContent(_ context.Context, userID, itemID int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(userID, itemID)
	if err != nil {
		return err
	}
	st.content, st.chunks = nil, nil
	return nil
}

// Chunks implements media.ProcessingStore.
func (p *Processing) Chunks(_ context.Context, userID, itemID int64, first, n int) ([]media.Chunk, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(userID, itemID)
	if err != nil {
		return nil, err
	}
	first = max(first, 0)
	if first >= len(st.chunks) {
		return nil, nil
	}
	end := len(st.chunks)
	if n >= 0 {
		end = min(end, first+n)
	}
	return slices.Clone(st.chunks[first:end]), nil
}

// SetTranscript implements media.ProcessingStore.
func (p *Processing) SetTranscript(_ context.Context, t *media.StoredTranscript) error {
	if t.Model == "" {
		return fmt.Errorf("%w: a transcript needs its model", media.ErrInvalid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(t.UserID, t.ItemID)
	if err != nil {
		return err
	}
	c := *t
	c.Segments, c.CreatedAt = slices.Clone(t.Segments), utc(t.CreatedAt)
	st.trans = slices.DeleteFunc(st.trans, func(o media.StoredTranscript) bool { return o.Model == t.Model })
	st.trans = append([]media.StoredTranscript{c}, st.trans...)
	slices.SortStableFunc(st.trans, func(a, b media.StoredTranscript) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return nil
}

// Transcripts implements media.ProcessingStore.
func (p *Processing) Transcripts(_ context.Context, userID, itemID int64) ([]media.StoredTranscript, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.item(userID, itemID)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(st.trans)
	for i := range out {
		out[i].Segments = slices.Clone(out[i].Segments)
	}
	return out, nil
}
